#!/usr/bin/env bash
# Measure the committed CPU meta-data set: data/metadataset/cpu.csv and its sidecars.
#
#   scripts/make_metadataset.sh            # the `cpu` grid (12 methods), ~45-60 min on 2 idle cores
#   GRID=cpu-quick scripts/make_metadataset.sh # 8 methods, ~20 min
#   GRID=smoke scripts/make_metadataset.sh # seconds, tiny model, to try the pipeline
#
# Grid `cpu` (provider_agent/bench/presets.py): SmolLM2-135M + a random 48M Llama, hardware profiles
# cpu-1t and cpu-2t, six workloads (chat, prefill-heavy, decode-heavy, shared-prefix,
# summarize, offline-64; concurrency 1..64), 12 methods (transformers eager, int8, bf16 and
# prompt-lookup n-gram; ONNX Runtime fp32 and int8; vLLM baseline/prefix/chunked/batch64/
# n-gram/all); 1 warm-up and 3 measured repetitions per
# cell. Every cell is appended to a checkpoint as it is measured: if the run is interrupted,
# the same command resumes it (delete the checkpoint to start over).
#
# Writes (OUT defaults to data/metadataset, names take the grid name):
#   cpu.csv               long format: model, hardware, workload, method, one column per metric
#   cpu.json              the same rows with modelId/hardwareId/workloadId/methodId/reportHash,
#                         unavailable methods with reasons, failed cells with errors
#   cpu.descriptors.json  name -> descriptor for every model/hardware/workload/method (+ ids)
#   cpu.summary.json      per-task winners and how often the single best method is right
# and one canonical report per cell into the blob store ($METAINF_DATA_DIR/blobs, default
# .metainf/blobs), named by its reportHash.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$HERE/.venv/bin/python}"
GRID="${GRID:-cpu}"
OUT="${OUT:-$HERE/data/metadataset}"
cd "$HERE"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$OUT"
if ! "$PY" -c 'import vllm' 2>/dev/null; then
  echo "note: vLLM is not importable; its methods will be listed as unavailable" >&2
  echo "      (pip install -e '.[vllm]' && pip uninstall -y torchvision torchaudio torchcodec)" >&2
fi
start=$(date +%s)
"$PY" -m metainf_cli.main provider bench --grid "$GRID" \
  --csv "$OUT/$GRID.csv" --json "$OUT/$GRID.json" \
  --descriptors "$OUT/$GRID.descriptors.json" --summary "$OUT/$GRID.summary.json" \
  --log "${LOG:-/tmp/metainf-$GRID-workers.log}" \
  --checkpoint "${CHECKPOINT:-$HERE/.metainf/bench-$GRID.cells.jsonl}" "$@"
echo "grid $GRID took $(( ($(date +%s) - start) / 60 )) min; wrote $OUT/$GRID.csv" >&2
