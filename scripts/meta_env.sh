# Sourced by scripts/meta_eval.sh and scripts/meta_views.sh: the repository root as the
# working directory, the Python, the table and the output folder, defined once so that the
# view runs land next to the evaluation runs they are compared with.
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$HERE"
PY="${PYTHON:-$HERE/.venv/bin/python}"
TABLE="${TABLE:-data/metadataset/cpu.csv}"
OUT="${OUT:-out/meta/$(basename "${TABLE%.csv}")}"
