"""One markdown table from the `metainf meta eval` JSONs of scripts/meta_eval.sh.

    python bench/meta_summary.py out/meta/cpu > out/meta/cpu/summary.md

A row per run (objective, quality constraint, split): normalized performance of the
candidate (MetaInf), of the single best solver and of the best other selector, the share
of the SBS -> oracle gap the candidate closes, the Wilcoxon p-value of candidate vs best
other (per task), and the budgeted view: share of picks within budget and their
performance against the best method within budget.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ORDER = {"throughput": 0, "ttft": 1, "e2e": 2, "all": 0, "exact": 1}
SPLITS = {"model": 0, "workload": 1, "hardware": 2, "task": 3}


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _row(name: str, res: dict[str, Any]) -> str:
    objective, quality, split = name.split("-", 2)
    sel = res["selectors"]
    cand = res.get("candidate") or "MetaInf"
    other = res.get("best_baseline")
    oracle = next((n for n in ("VBS",) if n in sel), None)
    c = sel[cand]
    o = sel.get(other, {})
    verdict = "best" if c["normalized_performance"] >= o.get("normalized_performance", -1) else "–"
    p = c.get("wilcoxon_p")
    cells = [
        objective,
        quality,
        f"{split} ({len(res.get('groups', []))} folds)",
        str(res["n_eval_tasks"]),
        _fmt(c["normalized_performance"]),
        _fmt(sel.get("SBS", {}).get("normalized_performance")),
        f"{other} {_fmt(o.get('normalized_performance'))}",
        _fmt(sel.get(oracle, {}).get("normalized_performance") if oracle else None),
        _fmt(c.get("gap_closed"), 2),
        "–" if p is None else f"{p:.2g}",
        verdict,
        _fmt(c.get("budget_feasibility"), 2),
        _fmt(c.get("budget_performance")),
    ]
    return "| " + " | ".join(cells) + " |"


def summary(folder: Path) -> str:
    runs = {}
    for path in folder.glob("*.json"):
        parts = path.stem.split("-", 2)
        if len(parts) == 3 and parts[0] in ORDER and parts[1] in ORDER and parts[2] in SPLITS:
            runs[path.stem] = json.loads(path.read_text())
    keys = sorted(runs, key=lambda k: [ORDER.get(x, SPLITS.get(x, 9)) for x in k.split("-", 2)])
    head = (
        "| objective | methods | held out | tasks | MetaInf | SBS | best other | oracle "
        "| gap closed | p vs other | MetaInf best? | in budget | perf. in budget |\n"
        "|---|---|---|---:|---:|---:|---|---:|---:|---:|---|---:|---:|"
    )
    return "\n".join([head, *(_row(k, runs[k]) for k in keys)]) + "\n"


if __name__ == "__main__":
    sys.stdout.write(summary(Path(sys.argv[1] if len(sys.argv) > 1 else "out/meta/cpu")))
