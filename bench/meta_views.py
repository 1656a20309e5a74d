"""Which of MetaInf's views carried each held-out group, next to the weights the stack's
inner cross-validation gave them (scripts/meta_views.sh writes the runs it reads).

    python bench/meta_views.py out/meta/cpu throughput-exact-hardware

A row per held-out group: the normalized performance of MetaInf restricted to each view
alone (``--metainf-param blend=...``, no inner CV), of the stack itself and of ALORS, and
the stack's largest weights in that fold. A view that scores well alone but gets little
weight (or the reverse) is where the inner CV misjudged what transfers. The last row is
the whole run. Diagnosis on the outer folds: nothing here may choose a setting.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

VIEW_LABELS = {"large-1": "pair model (large)", "small-1": "pair model (small)"}


def _weights(info: dict[str, Any] | None, top: int = 3) -> str:
    if not info or "weights" not in info:
        return "–"
    best = sorted(info["weights"].items(), key=lambda kv: -kv[1])[:top]
    return ", ".join(f"{v.removeprefix('interaction/')} {w:.2f}" for v, w in best)


def view_table(stack: dict[str, Any], views: dict[str, dict[str, Any]]) -> str:
    """Markdown: ``stack`` is the run's own JSON, ``views`` one JSON per view alone."""
    names = list(views)
    head = [
        "held out",
        *(VIEW_LABELS.get(n, n) for n in names),
        "stack",
        "stack's weights",
        "ALORS",
    ]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(names) + 1) + "---|---:|"]
    fit = stack.get("fit_info", {}).get("MetaInf", {})
    for group, scores in stack["per_group"].items():
        cells = [f"{views[n]['per_group'][group]['MetaInf']:.3f}" for n in names]
        cells += [f"{scores['MetaInf']:.3f}", _weights(fit.get(group)), f"{scores['ALORS']:.3f}"]
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    total = [f"{views[n]['selectors']['MetaInf']['normalized_performance']:.3f}" for n in names]
    sel = stack["selectors"]
    total += [
        f"{sel['MetaInf']['normalized_performance']:.3f}",
        "",
        f"{sel['ALORS']['normalized_performance']:.3f}",
    ]
    lines.append("| all | " + " | ".join(total) + " |")
    return "\n".join(lines) + "\n"


def main(folder: Path, run: str) -> str:
    stack = json.loads((folder / f"{run}.json").read_text())
    root = folder / "views"
    runs = sorted(root.iterdir()) if root.is_dir() else []
    views = {
        d.name: json.loads((d / f"{run}.json").read_text())
        for d in runs
        if (d / f"{run}.json").exists()
    }
    if not views:
        raise SystemExit(
            f"no view runs of {run} under {folder / 'views'}: run scripts/meta_views.sh"
        )
    return view_table(stack, views)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: python bench/meta_views.py OUT_DIR OBJECTIVE-QUALITY-SPLIT")
    sys.stdout.write(main(Path(sys.argv[1]), sys.argv[2]))
