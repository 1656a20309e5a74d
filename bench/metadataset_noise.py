"""How noisy is a meta-data set? Measure a sample of its tasks again and compare.

    python bench/metadataset_noise.py --tasks 6 --json data/metadataset/cpu.noise.json \\
        --md data/metadataset/cpu.noise.md

Draws ``--tasks`` tasks of the committed table at random (seeded) among those measured on
this host, measures every method on them again with the grid's own settings (a separate
checkpoint, so the committed cells stay as they are), and reports per metric the spread
of the ratio second / first measurement (median and 90th percentile of |log ratio|, as a
percentage), and how often the per-task winner is the same method. Run it, like the grid,
on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
from pathlib import Path
from typing import Any

from meta.summary import selection_summary
from provider_agent.bench.grid import GridSpec, grid_from_options
from provider_agent.bench.runner import run_grid
from provider_agent.hardware import profile_by_name
from provider_agent.models import model_info

METRICS = {"output_tokens_per_s": "max", "ttft_p50_ms": "min", "e2e_p90_ms": "min"}
ROOT = Path(__file__).resolve().parents[1]


def sample_grid(grid: GridSpec, rows: list[dict[str, Any]], n: int, seed: int) -> GridSpec:
    """The grid restricted to ``n`` random tasks of ``rows`` that this host measured."""
    model_spec = {model_info(m).name: m for m in grid.models}
    hw_spec = {profile_by_name(h).name: h for h in grid.hardware}
    tasks = sorted(
        {
            (model_spec[r["model"]], hw_spec[r["hardware"]], r["workload"])
            for r in rows
            if r["model"] in model_spec and r["hardware"] in hw_spec
        }
    )
    if not tasks:
        raise SystemExit("no task of the table was measured on this host")
    chosen = tuple(sorted(random.Random(seed).sample(tasks, min(n, len(tasks)))))
    return GridSpec(
        models=grid.models,
        hardware=grid.hardware,
        workloads=grid.workloads,
        methods=grid.methods,
        config=grid.config,
        tasks=chosen,
    )


def compare(first: list[dict[str, Any]], second: list[dict[str, Any]]) -> dict[str, Any]:
    """Spread of second / first per metric, and agreement of the per-task winners."""
    key = ("model", "hardware", "workload", "method")
    before = {tuple(r[k] for k in key): r for r in first}
    pairs = [(before[k], r) for r in second if (k := tuple(r[c] for c in key)) in before]
    out: dict[str, Any] = {"cells": len(pairs)}
    for metric, sense in METRICS.items():
        logs = [
            abs(math.log(b[metric] / a[metric]))
            for a, b in pairs
            if a.get(metric) and b.get(metric) and a[metric] > 0 and b[metric] > 0
        ]
        if not logs:
            continue
        logs.sort()
        p90 = logs[min(len(logs) - 1, int(0.9 * len(logs)))]
        again = selection_summary([b for _, b in pairs], metric, sense)["best_by_task"]
        then = selection_summary([a for a, _ in pairs], metric, sense)["best_by_task"]
        same = [then[t] == w for t, w in again.items() if t in then]
        out[metric] = {
            "median_abs_change_pct": round(100 * (math.exp(statistics.median(logs)) - 1), 2),
            "p90_abs_change_pct": round(100 * (math.exp(p90) - 1), 2),
            "same_winner": round(sum(same) / len(same), 3) if same else None,
            "tasks": len(same),
        }
    return out


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"{result['comparison']['cells']} cells of {result['tasks']} tasks measured twice "
        f"({result['minutes']} min for the second pass).",
        "",
        "| metric | median change | 90th pct change | same winner |",
        "|---|---:|---:|---:|",
    ]
    for metric in METRICS:
        if metric in result["comparison"]:
            c = result["comparison"][metric]
            lines.append(
                f"| {metric} | {c['median_abs_change_pct']}% | {c['p90_abs_change_pct']}% "
                f"| {c['same_winner']:.0%} of {c['tasks']} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--grid", default="cpu")
    ap.add_argument("--table", type=Path, default=ROOT / "data" / "metadataset" / "cpu.json")
    ap.add_argument("--tasks", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint", type=Path, default=ROOT / ".metainf" / "noise.cells.jsonl")
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--md", type=Path, default=None)
    args = ap.parse_args()
    rows = json.loads(args.table.read_text())["rows"]
    grid = sample_grid(grid_from_options(args.grid), rows, args.tasks, args.seed)
    result = run_grid(grid, progress=False, checkpoint=args.checkpoint)
    out = {
        "grid": args.grid,
        "table": str(args.table.relative_to(ROOT) if args.table.is_absolute() else args.table),
        "tasks": len(grid.tasks or ()),
        "seed": args.seed,
        "minutes": round(result.elapsed_s / 60, 1),
        "comparison": compare(rows, result.rows),
    }
    args.json.write_text(json.dumps(out, indent=1) + "\n")
    if args.md:
        args.md.write_text(markdown(out))
    print(markdown(out))


if __name__ == "__main__":
    main()
