"""`metainf meta ...`: evaluate, train and query method selectors.

Heavy imports (pandas, scikit-learn, torch) happen inside the commands so that
``metainf --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click


def _split(cols: str) -> list[str]:
    return [c.strip() for c in cols.split(",") if c.strip()]


def _load_table(table, task_cols, method_col, metric, lower_is_better, extra=()):
    from meta.table import PerformanceTable

    return PerformanceTable.from_csv(
        table, _split(task_cols), method_col, metric, lower_is_better, extra_cols=list(extra)
    )


def _featurizer(descriptors: str | None, no_embeddings: bool):
    from meta.features import MetaFeaturizer

    desc = json.loads(Path(descriptors).read_text()) if descriptors else None
    return MetaFeaturizer(descriptors=desc, use_embeddings=not no_embeddings)


_table_options = [
    click.option(
        "--table",
        "table",
        required=True,
        type=click.Path(exists=True, dir_okay=False),
        help="Long-format CSV: one row per (task, method) measurement.",
    ),
    click.option(
        "--task-cols", required=True, help='Comma-separated task columns, e.g. "Model,Hardware".'
    ),
    click.option("--method-col", required=True, help="Column naming the method."),
    click.option("--metric", required=True, help="Metric column (aggregated with the median)."),
    click.option(
        "--lower-is-better", is_flag=True, help="The metric is a latency/cost, not a throughput."
    ),
    click.option(
        "--descriptors",
        type=click.Path(exists=True, dir_okay=False),
        default=None,
        help='Sidecar JSON {"model": {name: {...}}, "hardware": ..., "workload": ..., "method": ...}.',
    ),
    click.option(
        "--no-embeddings", is_flag=True, help="Numeric meta-features only (no sentence model)."
    ),
    click.option("--seed", default=0, show_default=True, help="random_state of every selector."),
]


def table_options(f):
    for opt in reversed(_table_options):
        f = opt(f)
    return f


@click.group()
def meta() -> None:
    """Meta-learning: evaluate, train and query method selectors."""


@meta.command("eval")
@table_options
@click.option(
    "--group-by",
    default="task",
    show_default=True,
    help='Leave-one-group-out column (e.g. Hardware), or "task" (10-fold over tasks).',
)
@click.option(
    "--json",
    "json_out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Write results JSON here.",
)
@click.option(
    "--plots",
    "plots_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Write PNG plots here.",
)
@click.option(
    "--markdown",
    "md_out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the markdown table here.",
)
@click.option(
    "--min-methods",
    default=2,
    show_default=True,
    help="Score only held-out tasks with at least this many measured methods.",
)
@click.option(
    "--selectors", "only", default=None, help="Comma-separated subset of selectors (default: all)."
)
@click.option(
    "--budget-quantile",
    type=float,
    default=None,
    help="Also measure budget feasibility: each task's budget = this quantile of its true method costs.",
)
@click.option("--price-col", default=None, help="Column with price per second (default 1).")
@click.option(
    "--work-col", default=None, help="Column with work per task in metric units (default 1)."
)
@click.option(
    "--bootstrap", default=1000, show_default=True, help="Bootstrap resamples for the CIs."
)
@click.option(
    "--metainf-param",
    "metainf_params",
    multiple=True,
    metavar="KEY=JSON",
    help="Override a MetaInf hyper-parameter, e.g. shrinkage=1.0 or estimator='\"mlp\"' (ablations).",
)
def eval_cmd(
    table,
    task_cols,
    method_col,
    metric,
    lower_is_better,
    descriptors,
    no_embeddings,
    seed,
    group_by,
    json_out,
    plots_dir,
    md_out,
    min_methods,
    only,
    budget_quantile,
    price_col,
    work_col,
    bootstrap,
    metainf_params,
) -> None:
    """Leave-one-group-out evaluation of MetaInf against the baselines."""
    import numpy as np

    from meta.evaluation import Budgets, evaluate
    from meta.selectors import default_selectors

    extra = [c for c in (price_col, work_col) if c]
    perf = _load_table(table, task_cols, method_col, metric, lower_is_better, extra)
    selectors = default_selectors(seed)
    if metainf_params:
        from meta.selectors import MetaInfSelector

        params = selectors["MetaInf"].get_params()
        for item in metainf_params:
            key, _, value = item.partition("=")
            if key not in params:
                raise click.BadParameter(f"MetaInf has no parameter {key!r}; have {sorted(params)}")
            try:
                params[key] = json.loads(value)
            except json.JSONDecodeError:
                params[key] = value  # a bare string such as mlp
        selectors["MetaInf"] = MetaInfSelector(**params)
    if only:
        wanted = _split(only)
        unknown = set(wanted) - set(selectors)
        if unknown:
            raise click.BadParameter(f"unknown selectors {sorted(unknown)}; have {list(selectors)}")
        selectors = {k: v for k, v in selectors.items() if k in wanted}
    budgets = None
    if budget_quantile is not None:
        price = np.nan_to_num(perf.column(price_col), nan=np.inf) if price_col else None
        work = np.nanmedian(perf.column(work_col), axis=1) if work_col else None
        budgets = Budgets.from_quantile(perf, budget_quantile, price=price, work=work)
    result = evaluate(
        perf,
        selectors,
        _featurizer(descriptors, no_embeddings),
        group_by=None if group_by == "task" else group_by,
        min_methods=min_methods,
        budgets=budgets,
        n_bootstrap=bootstrap,
        random_state=seed,
        progress=lambda m: click.echo(m, err=True),
    )
    out = result.to_dict()
    Path(json_out).parent.mkdir(parents=True, exist_ok=True)
    Path(json_out).write_text(json.dumps(out, indent=2, default=float) + "\n")
    md = result.to_markdown()
    if md_out:
        Path(md_out).write_text(md + "\n")
    if plots_dir:
        from meta.plots import write_plots

        for p in write_plots(result, plots_dir):
            click.echo(f"wrote {p}", err=True)
    click.echo(md)


@meta.command("train")
@table_options
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False), help="Model file to write."
)
@click.option(
    "--selector",
    "selector_name",
    default="MetaInf",
    show_default=True,
    help="Which selector to train.",
)
def train_cmd(
    table,
    task_cols,
    method_col,
    metric,
    lower_is_better,
    descriptors,
    no_embeddings,
    seed,
    out,
    selector_name,
) -> None:
    """Fit a selector on a whole table and save it (with schema version and metadata)."""
    from meta.persistence import save_selector
    from meta.selectors import default_selectors

    perf = _load_table(table, task_cols, method_col, metric, lower_is_better)
    selectors = default_selectors(seed)
    if selector_name not in selectors or selector_name == "VBS":
        raise click.BadParameter(
            f"--selector must be one of {[s for s in selectors if s != 'VBS']}"
        )
    sel = selectors[selector_name].fit(perf, _featurizer(descriptors, no_embeddings).fit(perf))
    save_selector(sel, out, metadata={"table": str(table), **perf.summary()})
    click.echo(json.dumps({"model": str(out), "selector": selector_name, **perf.summary()}))


@meta.command("recommend")
@click.option("--model", "model_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--task",
    "task_json",
    required=True,
    help='Task as JSON ({"Model": ..., "Hardware": ..., ...}) or @file.json.',
)
@click.option(
    "--available", default=None, help="Comma-separated methods available (default: all known)."
)
@click.option("--budget", type=float, default=None, help="Maximum cost (needs --price-per-second).")
@click.option(
    "--price-per-second", type=float, default=None, help="Price of the hardware per second."
)
@click.option(
    "--work",
    type=float,
    default=1.0,
    show_default=True,
    help="Work in metric units: tokens for a throughput, requests for a latency.",
)
def recommend_cmd(model_path, task_json, available, budget, price_per_second, work) -> None:
    """Rank the methods for one task with a saved model (JSON on stdout)."""
    import numpy as np

    from meta.persistence import load_selector
    from meta.selectors import Task

    sel, info = load_selector(model_path)
    raw = Path(task_json[1:]).read_text() if task_json.startswith("@") else task_json
    values: dict[str, Any] = json.loads(raw)
    missing = [c for c in sel.task_cols_ if c not in values]
    if missing:
        raise click.BadParameter(f"task lacks columns {missing}", param_hint="--task")
    task = Task(
        values=values,
        available=_split(available) if available else None,
        price_per_second=price_per_second,
        work=work,
    )
    ranking = sel.rank(task)
    out: dict[str, Any] = {
        "ranking": ranking,
        "selected": ranking[0] if ranking else None,
        "metric": info["metadata"]["metric"],
        "lower_is_better": info["metadata"]["lower_is_better"],
    }
    if sel.cost_aware and ranking:
        logp = sel.predict_log_performance([values], ranking)[0]
        perf = np.exp(logp)
        metric_pred = 1.0 / perf if sel.lower_is_better_ else perf
        out["predicted_metric"] = dict(zip(ranking, map(float, metric_pred), strict=True))
        out["predicted_runtime_s"] = dict(zip(ranking, map(float, work / perf), strict=True))
        if price_per_second is not None:
            out["predicted_cost"] = {
                m: float(c) for m, c in zip(ranking, work / perf * price_per_second, strict=True)
            }
    if budget is not None:
        if price_per_second is None:
            raise click.BadParameter("--budget needs --price-per-second")
        out["selected"] = sel.select(task, budget=budget)
        out["budget"] = budget
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
