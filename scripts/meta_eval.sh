#!/usr/bin/env bash
# Every evaluation of docs/meta.md on a meta-data set, one command:
#
#   scripts/meta_eval.sh                       # data/metadataset/cpu.csv -> out/meta/cpu
#   TABLE=... DESCRIPTORS=... OUT=... scripts/meta_eval.sh
#   SPLITS="model workload" OBJECTIVES=throughput QUALITY=all scripts/meta_eval.sh  # a part
#   MAX_FOLDS=8 scripts/meta_eval.sh     # splits with more values than 8: 8 grouped folds
#   SELECTORS=MetaInf,SBS,VBS METAINF_PARAM='blend="physics"' ...    # fewer selectors, a variant
#
# For each split (leave-one-model-out, leave-one-workload-out, leave-one-hardware-out,
# random 10-fold over tasks), objective (throughput; TTFT p50 and E2E p90, lower is better)
# and quality constraint (all methods; exact methods only) it runs `metainf meta eval` with
# budgets (each task's budget: the median true cost of its methods) and writes
# OUT/<objective>-<quality>-<split>.{json,md}; then OUT/summary.md puts MetaInf, the single
# best solver and the best other selector of every run side by side (bench/meta_summary.py).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/meta_env.sh"
DESCRIPTORS="${DESCRIPTORS:-${TABLE%.csv}.descriptors.json}"
SPLITS="${SPLITS:-model workload hardware task}"
OBJECTIVES="${OBJECTIVES:-throughput ttft e2e}"
QUALITY="${QUALITY:-all exact}"
BOOTSTRAP="${BOOTSTRAP:-1000}"
OPTIONS=()
[[ -n "${MAX_FOLDS:-}" ]] && OPTIONS+=(--max-folds "$MAX_FOLDS")
[[ -n "${SELECTORS:-}" ]] && OPTIONS+=(--selectors "$SELECTORS")
[[ -n "${METAINF_PARAM:-}" ]] && OPTIONS+=(--metainf-param "$METAINF_PARAM")
# methods that must reproduce the reference's greedy tokens (provider_agent.methods: exact)
EXACT="$("$PY" - "$TABLE" <<'PYEOF'
import csv, sys
from provider_agent.methods import get_method
names = sorted({r["method"] for r in csv.DictReader(open(sys.argv[1]))})
print(",".join(n for n in names if get_method(n).exact))
PYEOF
)"
mkdir -p "$OUT"
start=$(date +%s)
for objective in $OBJECTIVES; do
  case "$objective" in
    throughput) metric=(--metric output_tokens_per_s) ;;
    ttft) metric=(--metric ttft_p50_ms --lower-is-better) ;;
    e2e) metric=(--metric e2e_p90_ms --lower-is-better) ;;
    *) echo "unknown objective $objective" >&2; exit 2 ;;
  esac
  for quality in $QUALITY; do
    methods=()
    [[ "$quality" == exact ]] && methods=(--methods "$EXACT")
    for split in $SPLITS; do
      name="$objective-$quality-$split"
      echo "== $name" >&2
      "$PY" -m metainf_cli.main meta eval --table "$TABLE" --descriptors "$DESCRIPTORS" \
        --task-cols model,hardware,workload --method-col method "${metric[@]}" "${methods[@]}" \
        --group-by "$split" "${OPTIONS[@]}" --budget-quantile 0.5 --bootstrap "$BOOTSTRAP" \
        --json "$OUT/$name.json" --markdown "$OUT/$name.md" > /dev/null
    done
  done
done
"$PY" bench/meta_summary.py "$OUT" > "$OUT/summary.md"
cat "$OUT/summary.md"
echo "meta_eval: $(( ($(date +%s) - start) / 60 )) min" >&2
