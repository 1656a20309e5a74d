"""PNG plots of a performance table and an evaluation (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from meta.evaluation import EvaluationResult  # noqa: E402
from meta.table import PerformanceTable  # noqa: E402


def plot_performance_heatmap(
    table: PerformanceTable, path: str | Path, sort_by: str | None = None
) -> Path:
    """Tasks x methods heatmap of normalized performance; unmeasured cells in grey."""
    norm = table.normalized
    order = np.arange(table.n_tasks)
    if sort_by is not None:
        order = np.argsort(table.groups(sort_by).astype(str), kind="stable")
    data = np.ma.masked_invalid(norm[order])
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="lightgrey")
    height = min(12.0, 2.0 + 0.01 * table.n_tasks)
    fig, ax = plt.subplots(figsize=(1.2 + 1.1 * table.n_methods, height))
    im = ax.imshow(data, aspect="auto", cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks(range(table.n_methods), table.methods, rotation=30, ha="right")
    ax.set_ylabel(f"task ({table.n_tasks}" + (f", sorted by {sort_by})" if sort_by else ")"))
    ax.set_yticks([])
    title = f"{table.metric}: performance / best available"
    ax.set_title(title + (" (lower is better → inverted)" if table.lower_is_better else ""))
    fig.colorbar(im, ax=ax, label="normalized performance")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_selector_bars(result: EvaluationResult, path: str | Path) -> Path:
    """Mean normalized performance and top-1 accuracy per selector, with bootstrap CIs."""
    names = list(result.summary)
    rec = result.records
    rng = np.random.default_rng(result.random_state)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for ax, col, label in (
        (axes[0], "normalized", "normalized performance"),
        (axes[1], "top1", "top-1 accuracy"),
    ):
        means, lo, hi = [], [], []
        for n in names:
            v = rec.loc[rec["selector"] == n, col].to_numpy(dtype=float)
            boot = v[rng.integers(0, len(v), (max(result.n_bootstrap, 200), len(v)))].mean(1)
            m = v.mean()
            means.append(m)
            lo.append(m - np.quantile(boot, 0.025))
            hi.append(np.quantile(boot, 0.975) - m)
        colors = [
            "tab:red" if n == "MetaInf" else "tab:grey" if n == "VBS" else "tab:blue" for n in names
        ]
        ax.bar(names, means, yerr=[lo, hi], capsize=3, color=colors)
        ax.set_ylabel(label + " (95% bootstrap CI)")
        ax.set_ylim(max(0.0, min(means) - 0.1), 1.01)
        ax.tick_params(axis="x", rotation=35)
    fig.suptitle(
        f"leave-one-{result.group_by or 'task'}-out, {rec['task'].nunique()} held-out tasks"
    )
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_plots(result: EvaluationResult, out_dir: str | Path) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [
        plot_performance_heatmap(result.table, out / "performance_heatmap.png", result.group_by),
        plot_selector_bars(result, out / "selectors.png"),
    ]
