"""PNG plots of a performance table and an evaluation (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from meta.evaluation import EvaluationResult, bootstrap_ci  # noqa: E402
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


def plot_selector_bars(
    result: EvaluationResult, path: str | Path, candidate: str | None = None
) -> Path:
    """Mean normalized performance and top-1 accuracy per selector, with bootstrap CIs.

    ``candidate`` (default: the evaluation's) is drawn in red, oracles in grey. The
    intervals are those of :func:`~meta.evaluation.bootstrap_ci` over held-out tasks
    (at least 200 resamples), so the normalized-performance bars match the table's CI.
    """
    candidate = result.candidate if candidate is None else candidate
    names = list(result.summary)
    n_boot = max(result.n_bootstrap, 200)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for ax, col, label in (
        (axes[0], "normalized", "normalized performance"),
        (axes[1], "top1", "top-1 accuracy"),
    ):
        wide = result.per_task(col).astype(float)
        means = np.array([wide[n].mean() for n in names])
        ci = np.array([bootstrap_ci(wide[n], n_boot, result.random_state) for n in names])
        colors = [_color(n, candidate, result.oracles) for n in names]
        yerr = np.clip([means - ci[:, 0], ci[:, 1] - means], 0.0, None)
        ax.bar(names, means, yerr=yerr, capsize=3, color=colors)
        ax.set_ylabel(label + " (95% bootstrap CI)")
        ax.set_ylim(max(0.0, min(means) - 0.1), 1.01)
        ax.tick_params(axis="x", rotation=35)
    fig.suptitle(f"leave-one-{result.group_by or 'task'}-out, {len(wide)} held-out tasks")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _color(name: str, candidate: str | None, oracles: list[str]) -> str:
    if name == candidate:
        return "tab:red"
    return "tab:grey" if name in oracles else "tab:blue"


def write_plots(
    result: EvaluationResult, out_dir: str | Path, candidate: str | None = None
) -> list[Path]:
    """The performance heatmap and the per-selector bars (``candidate`` highlighted;
    default: the evaluation's candidate)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return [
        plot_performance_heatmap(result.table, out / "performance_heatmap.png", result.group_by),
        plot_selector_bars(result, out / "selectors.png", candidate),
    ]
