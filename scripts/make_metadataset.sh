#!/usr/bin/env bash
# Measure the committed CPU meta-data set: data/metadataset/cpu.csv and its sidecars.
#
#   scripts/make_metadataset.sh --budget-s 5400   # the `cpu` grid, 90 minutes of it
#   GRID=cpu-v1 scripts/make_metadataset.sh      # the first data set (cpu-v1.*), ~45-60 min
#   GRID=smoke scripts/make_metadataset.sh       # seconds, tiny model, to try the pipeline
#   GRID=cpu-more TABLE=cpu scripts/make_metadataset.sh   # later models, into cpu.csv
#
# Grid `cpu` (provider_agent/bench/presets.py): a zoo of 7 Llama-family models (SmolLM2-135M
# and random-weight models of 7M to 362M parameters), this host's 1- and 2-thread profiles
# (named cpu-1t@<host>, cpu-2t@<host>), the 32 workloads of the `qmc` design
# (provider_agent/workload_design.py), 160 sampled (model, profile, workload) tasks, 13
# methods (transformers eager, int8, bf16, n-gram and int8 + n-gram; ONNX Runtime fp32 and
# int8; vLLM baseline/prefix/chunked/batch64/n-gram/all); 1 warm-up and 3 measured
# repetitions per cell. Run it on an otherwise idle machine. Every cell is appended to a
# checkpoint as it is measured: an interrupted or budgeted run is resumed by the same
# command, and each run rewrites the table with every cell measured so far, so the table
# can be committed as it grows; groups already in the committed table are not measured
# again (--update ... --skip-measured), so a later session resumes from the table alone.
# On another host the same command adds that host's profiles (other names, other
# hardware ids) to the committed table.
#
# Grid `cpu-more`: models added to the zoo after that design was dealt (random:19m), each
# `qmc` workload on one of the host's profiles (32 tasks per model), written into the table
# named by TABLE.
#
# Writes (OUT defaults to data/metadataset, names take TABLE, default the grid name):
#   cpu.csv               long format: model, hardware, workload, method, one column per metric
#   cpu.json              the same rows with modelId/hardwareId/workloadId/methodId/reportHash,
#                         unavailable methods with reasons, failed cells with errors
#                         (committed as cpu.json.gz once over 4 MB; `make setup` unpacks it)
#   cpu.descriptors.json  name -> descriptor for every model/hardware/workload/method (+ ids)
#   cpu.summary.json      per-task winners and how often the single best method is right
# and one canonical report per cell into the blob store ($METAINF_DATA_DIR/blobs, default
# .metainf/blobs), named by its reportHash.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$HERE/.venv/bin/python}"
GRID="${GRID:-cpu}"
TABLE="${TABLE:-$GRID}"
OUT="${OUT:-$HERE/data/metadataset}"
cd "$HERE"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$OUT"
if ! "$PY" -c 'import vllm' 2>/dev/null; then
  echo "note: vLLM is not importable; its methods will be listed as unavailable" >&2
  echo "      (pip install -e '.[vllm]' && pip uninstall -y torchvision torchaudio torchcodec)" >&2
fi
# a table committed gzipped (over a few MB) is unpacked by `make setup`; unpack it here too
PACKED="$OUT/$TABLE.json.gz"
[[ -f "$PACKED" && ! -f "$OUT/$TABLE.json" ]] && gunzip -c "$PACKED" > "$OUT/$TABLE.json"
# resume from the committed table too (a new session has no checkpoint) and keep what
# other hosts added to it
UPDATE=()
[[ -f "$OUT/$TABLE.json" ]] && UPDATE=(--update "$OUT/$TABLE.json" --skip-measured)
start=$(date +%s)
"$PY" -m metainf_cli.main provider bench --grid "$GRID" "${UPDATE[@]}" \
  --csv "$OUT/$TABLE.csv" --json "$OUT/$TABLE.json" \
  --descriptors "$OUT/$TABLE.descriptors.json" --summary "$OUT/$TABLE.summary.json" \
  --log "${LOG:-/tmp/metainf-$GRID-workers.log}" \
  --checkpoint "${CHECKPOINT:-$HERE/.metainf/bench-$GRID.cells.jsonl}" "$@"
# what is committed of a big table is its gzip (deterministic: no name, no time stamp)
if [[ -f "$PACKED" ]] || (( $(stat -c %s "$OUT/$TABLE.json") > 4000000 )); then
  gzip -9 -n -c "$OUT/$TABLE.json" > "$PACKED"
fi
echo "grid $GRID took $(( ($(date +%s) - start) / 60 )) min; wrote $OUT/$TABLE.csv" >&2
