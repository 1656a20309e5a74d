#!/usr/bin/env bash
# MetaInf with each of its views alone on one run of scripts/meta_eval.sh, and a table of
# which view carried each held-out group next to the stack's weights (bench/meta_views.py):
#
#   scripts/meta_views.sh                                  # throughput, exact methods, unseen hardware
#   OBJECTIVE=ttft QUALITY=all SPLIT=model scripts/meta_views.sh
#
# The stacked run itself must be in OUT already (scripts/meta_eval.sh with the same TABLE,
# OUT and MAX_FOLDS). A diagnosis on the outer folds: it may explain, never choose, a setting.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/meta_env.sh"
OBJECTIVE="${OBJECTIVE:-throughput}"
QUALITY="${QUALITY:-exact}"
SPLIT="${SPLIT:-hardware}"
VIEWS="${VIEWS:-large/1 small/1 per_method neighbours physics latent}"
run="$OBJECTIVE-$QUALITY-$SPLIT"
[[ -f "$OUT/$run.json" ]] || { echo "no $OUT/$run.json: run scripts/meta_eval.sh first" >&2; exit 2; }
for view in $VIEWS; do
  TABLE="$TABLE" OUT="$OUT/views/${view//\//-}" SPLITS="$SPLIT" OBJECTIVES="$OBJECTIVE" \
    QUALITY="$QUALITY" SELECTORS=MetaInf,SBS,ALORS,VBS METAINF_PARAM="blend=\"$view\"" \
    BOOTSTRAP="${BOOTSTRAP:-200}" scripts/meta_eval.sh > /dev/null
done
"$PY" bench/meta_views.py "$OUT" "$run" | tee "$OUT/views/$run.md"
