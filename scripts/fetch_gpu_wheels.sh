#!/usr/bin/env bash
# Download (here, where PyPI is reachable) the wheels that scripts/gpu_bench.sh needs on an
# offline GPU host with Python 3.12 whose image has torch, transformers, numpy, scipy,
# click, tqdm and psutil but not our protocol layer's dependencies (pydantic, eth-utils
# and a keccak backend). The versions are the ones installed in this checkout's venv.
#   scripts/fetch_gpu_wheels.sh [DIR]   (default cache/gpu-wheels, ~10 MB, git-ignored)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${1:-$HERE/cache/gpu-wheels}"
PY="${PYTHON:-$HERE/.venv/bin/python}"
[[ -x "$PY" ]] || PY=python3
PKGS=(pydantic pydantic-core pydantic-settings annotated-types typing-inspection
      typing-extensions python-dotenv eth-utils eth-hash eth-typing pycryptodome cytoolz toolz)
PINS=()
for p in "${PKGS[@]}"; do
  v="$("$PY" -m pip show "$p" 2>/dev/null | sed -n 's/^Version: //p')"
  PINS+=("$p${v:+==$v}")
done
mkdir -p "$DIR"
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --dest "$DIR" \
  --python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux_2_5_x86_64 --platform any \
  "${PINS[@]}"
du -sh "$DIR"
