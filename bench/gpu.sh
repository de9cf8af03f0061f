#!/usr/bin/env bash
# Time-boxed GPU benchmarks, one section per codec, for the device tool (docs/GPU.md).
#
#   bash bench/gpu.sh [SECTION...]        default: every section in SECTIONS below, in order
#
# Environment
#   OUT           where results go (the device tool sets it; default out/gpu)
#   GPU_SMOKE=1   every section runs its tiny CPU setting (CI: tests/bench/test_gpu_smoke.py)
#   GPU_BUDGET_S  wall-clock seconds for the whole run (default 480; 120 for smoke)
#   PY            the Python (default: .venv/bin/python when there, else python3)
#
# A section NAME is `$PY -m bench.gpu_NAME --out DIR --budget-s S [--smoke]`. It writes
# DIR/gpu_NAME.json through bench.common.write_result ("provenance": commit, command, machine, GPU,
# versions) with at least {"status", "environment": {"card"}, "table": [[metric, value, target,
# PASS|FAIL|n/a|""]]}, rewritten after each of its phases so that a kill leaves what was
# measured, and it must finish inside S: `timeout` sends SIGINT at S and SIGKILL 20 s later.
# At the end the sections are merged into gpu_<card>.json in OUT (and in bench/results/ unless
# smoke) and one table is printed. Exit status: 0 when every section reports "ok".
#
# On the device machine, wheels carried in .whl/ (bench/prepare_gpu.sh) are installed first into
# /tmp/site when PyAV is missing; the device image's own torch and numpy are used.
set -uo pipefail
cd "$(dirname "$0")/.."

# name:seconds. Later issues append their sections here; keep the sum inside GPU_BUDGET_S.
SECTIONS=("hnerv:450")

SMOKE=${GPU_SMOKE:-0}
[ "$SMOKE" = 1 ] && DEFAULT_BUDGET=120 || DEFAULT_BUDGET=480
BUDGET=${GPU_BUDGET_S:-$DEFAULT_BUDGET}
OUT_DIR=${OUT:-out/gpu}
if [ -z "${PY:-}" ]; then
    if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
export PYTHONUNBUFFERED=1
mkdir -p "$OUT_DIR"
start=$SECONDS

if ! "$PY" -c "import av, pytorch_msssim" 2>/dev/null; then
    if ls .whl/*.whl >/dev/null 2>&1; then
        echo "gpu.sh: installing carried wheels into /tmp/site"
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/site .whl/*.whl || exit 1
        export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
    else
        echo "gpu.sh: PyAV or pytorch-msssim is missing and no .whl/ was carried (bench/prepare_gpu.sh)" >&2
        exit 1
    fi
fi
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
fi

wanted=("$@")
ran=()
for entry in "${SECTIONS[@]}"; do
    name=${entry%%:*}
    secs=${entry##*:}
    if [ ${#wanted[@]} -gt 0 ] && [[ ! " ${wanted[*]} " =~ " $name " ]]; then
        continue
    fi
    left=$((BUDGET - (SECONDS - start) - 10))  # 10 s for the merge below
    [ "$secs" -gt "$left" ] && secs=$left
    json="$OUT_DIR/gpu_$name.json"
    rm -f "$json"
    if [ "$secs" -lt 20 ]; then
        echo "gpu.sh: no time left for section $name"
        ran+=("$name:skipped")
        continue
    fi
    echo "== section $name: at most ${secs} s =="
    args=(-m "bench.gpu_$name" --out "$OUT_DIR" --budget-s "$secs")
    [ "$SMOKE" = 1 ] && args+=(--smoke)
    if command -v timeout >/dev/null 2>&1; then
        timeout --signal=INT --kill-after=20 "$secs" "$PY" "${args[@]}"
    else
        "$PY" "${args[@]}"
    fi
    ran+=("$name:$?")
done

"$PY" - "$OUT_DIR" "$SMOKE" "${ran[@]}" <<'EOF'
"""Merge the sections' JSON into gpu_<card>.json and print one table."""
import json
import re
import sys
import time
from pathlib import Path

out, smoke, ran = Path(sys.argv[1]), sys.argv[2] == "1", sys.argv[3:]
sections, ok = {}, True
for item in ran:
    name, _, rc = item.partition(":")
    path = out / f"gpu_{name}.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        data = {"section": name, "status": "failed", "error": f"no readable {path.name}: {exc}"}
    if rc == "skipped":
        data = {"section": name, "status": "skipped"}
    elif rc in ("124", "137") and data.get("status") in (None, "running"):
        data["status"] = "timeout"
    data["rc"] = None if rc == "skipped" else int(rc)
    ok = ok and data.get("status") == "ok"
    sections[name] = data
cards = [s.get("environment", {}).get("card") for s in sections.values()]
card = next((c for c in cards if c), "unknown")
slug = re.sub(r"[^a-z0-9]+", "_", card.lower()).strip("_") or "unknown"
merged = {"benchmark": "gpu", "card": card, "smoke": smoke, "ok": ok,
          "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "sections": sections}
text = json.dumps(merged, indent=1)
targets = [out / f"gpu_{slug}.json"] + ([] if smoke else [Path("bench/results") / f"gpu_{slug}.json"])
for t in targets:
    t.parent.mkdir(parents=True, exist_ok=True)
    t.write_text(text)
for name, s in sections.items():
    print(f"\n== {name}: {s.get('status')} (rc {s.get('rc')}, {s.get('elapsed_s', '-')} s) "
          f"{s.get('error', '')}")
    rows = [["metric", "value", "target", ""]] + [[str(c) for c in r] for r in s.get("table", [])]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
print("\nwrote " + ", ".join(str(t) for t in targets))
sys.exit(0 if ok else 1)
EOF
