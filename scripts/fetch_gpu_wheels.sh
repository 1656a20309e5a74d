#!/usr/bin/env bash
# Download (here, where PyPI is reachable) the small wheels that scripts/gpu_bench.sh needs
# on an offline GPU host with Python 3.12: click, tqdm, psutil, eth-utils + keccak backend.
#   scripts/fetch_gpu_wheels.sh [DIR]   (default cache/gpu-wheels, ~10 MB, git-ignored)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${1:-$HERE/cache/gpu-wheels}"
PY="${PYTHON:-$HERE/.venv/bin/python}"
[[ -x "$PY" ]] || PY=python3
mkdir -p "$DIR"
"$PY" -m pip download --quiet --only-binary=:all: --dest "$DIR" \
  --python-version 3.12 --implementation cp --abi cp312 --abi abi3 --abi none \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform any \
  click tqdm psutil eth-utils 'eth-hash[pycryptodome]'
du -sh "$DIR"
