"""Side-by-side markdown of a provider bench table: output tokens/s (median over
repetitions) per task and method, the best of each row in bold.

    python bench/provider_markdown.py TABLE.csv OUT.md
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

TASK = ["model", "hardware", "workload"]


def markdown(table: pd.DataFrame, metric: str = "output_tokens_per_s") -> str:
    pivot = table.pivot_table(index=TASK, columns="method", values=metric, aggfunc="median")
    methods = list(pivot.columns)
    lines = [
        f"{metric} (median over repetitions; best per row in bold)",
        "",
        "| " + " | ".join(TASK + methods) + " |",
        "|" + "---|" * len(TASK) + "---:|" * len(methods),
    ]
    for key, row in pivot.iterrows():
        best = row.max()
        cells = ["" if pd.isna(v) else (f"**{v:.1f}**" if v == best else f"{v:.1f}") for v in row]
        lines.append("| " + " | ".join([*map(str, key), *cells]) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    src, out = map(Path, sys.argv[1:3])
    out.write_text(markdown(pd.read_csv(src)))
    print(f"wrote {out}")
