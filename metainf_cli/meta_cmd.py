"""`metainf meta ...`: evaluate, train and query method selectors.

Heavy imports (pandas, scikit-learn, torch) happen inside the commands so that
``metainf --help`` stays fast. Options that several commands share are grouped in
decorators (``table_options``, ...); the logic (budgets, explanations) lives in ``meta``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

DEFAULT_CANDIDATE = "MetaInf"  # the selector under test unless --candidate says otherwise


def _split(cols: str) -> list[str]:
    return [c.strip() for c in cols.split(",") if c.strip()]


def _options(*decorators: Callable[[Callable], Callable]) -> Callable[[Callable], Callable]:
    """One decorator out of several click options, listed in help order."""

    def apply(f: Callable) -> Callable:
        for d in reversed(decorators):
            f = d(f)
        return f

    return apply


@dataclass(frozen=True)
class TableArgs:
    """What ``table_options`` read: where the table is and how to featurize it."""

    path: str
    task_cols: list[str]
    method_col: str
    metric: str
    lower_is_better: bool
    descriptors: str | None
    no_embeddings: bool
    methods: list[str] | None = None

    def load(self, extra: list[str] | tuple[str, ...] = ()):
        from meta.table import PerformanceTable

        try:
            return PerformanceTable.from_csv(
                self.path,
                self.task_cols,
                self.method_col,
                self.metric,
                self.lower_is_better,
                extra_cols=list(extra),
                methods=self.methods,
            )
        except (KeyError, ValueError) as exc:  # wrong column names, no usable rows
            msg = exc.args[0] if exc.args else exc
            raise click.BadParameter(f"{self.path}: {msg}", param_hint="--table") from exc

    def featurizer(self):
        from meta.features import MetaFeaturizer

        desc = json.loads(Path(self.descriptors).read_text()) if self.descriptors else None
        return MetaFeaturizer(descriptors=desc, use_embeddings=not self.no_embeddings)


_table_option_list = _options(
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
    click.option(
        "--methods",
        "method_names",
        default=None,
        help="Comma-separated methods to keep (e.g. only the exact ones); default: all.",
    ),
    click.option("--seed", default=0, show_default=True, help="random_state of every selector."),
)


def table_options(f: Callable) -> Callable:
    """The table and featurizer options, handed to the command as one ``table: TableArgs``
    (plus ``seed``)."""

    @functools.wraps(f)
    def wrapper(
        *args: Any,
        table: str,
        task_cols: str,
        method_col: str,
        metric: str,
        lower_is_better: bool,
        descriptors: str | None,
        no_embeddings: bool,
        method_names: str | None,
        **kwargs: Any,
    ) -> Any:
        spec = TableArgs(
            table,
            _split(task_cols),
            method_col,
            metric,
            lower_is_better,
            descriptors,
            no_embeddings,
            _split(method_names) if method_names else None,
        )
        return f(*args, table=spec, **kwargs)

    return _table_option_list(wrapper)


eval_output_options = _options(
    click.option(
        "--json",
        "json_out",
        required=True,
        type=click.Path(dir_okay=False),
        help="Write results JSON here.",
    ),
    click.option(
        "--plots",
        "plots_dir",
        type=click.Path(file_okay=False),
        default=None,
        help="Write PNG plots here.",
    ),
    click.option(
        "--markdown",
        "md_out",
        type=click.Path(dir_okay=False),
        default=None,
        help="Write the markdown table here.",
    ),
)

eval_selector_options = _options(
    click.option(
        "--selectors",
        "only",
        default=None,
        help="Comma-separated subset of selectors (default: all).",
    ),
    click.option(
        "--candidate",
        default=DEFAULT_CANDIDATE,
        show_default=True,
        help="The selector under test: left out of the best baseline, highlighted in plots.",
    ),
    click.option(
        "--candidate-param",
        "--metainf-param",
        "candidate_params",
        multiple=True,
        metavar="KEY=JSON",
        help="Override a hyper-parameter of the candidate, e.g. shrinkage=1.0 or "
        "estimator='\"mlp\"' (ablations).",
    ),
)

eval_budget_options = _options(
    click.option(
        "--budget-quantile",
        type=float,
        default=None,
        help="Also measure budget feasibility: each task's budget = this quantile of its "
        "true method costs.",
    ),
    click.option("--price-col", default=None, help="Column with price per second (default 1)."),
    click.option(
        "--work-col", default=None, help="Column with work per task in metric units (default 1)."
    ),
)

task_options = _options(
    click.option(
        "--task",
        "task_json",
        required=True,
        help='Task as JSON ({"Model": ..., "Hardware": ..., ...}) or @file.json.',
    ),
    click.option(
        "--available", default=None, help="Comma-separated methods available (default: all known)."
    ),
    click.option(
        "--budget", type=float, default=None, help="Maximum cost (needs --price-per-second)."
    ),
    click.option(
        "--price-per-second", type=float, default=None, help="Price of the hardware per second."
    ),
    click.option(
        "--work",
        type=float,
        default=1.0,
        show_default=True,
        help="Work in metric units: tokens for a throughput, requests for a latency.",
    ),
)


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
    "--max-folds",
    type=click.IntRange(min=2),
    default=None,
    help="Deal the --group-by values into at most this many held-out folds (seeded).",
)
@eval_output_options
@click.option(
    "--min-methods",
    default=2,
    show_default=True,
    help="Score only held-out tasks with at least this many measured methods.",
)
@eval_selector_options
@eval_budget_options
@click.option(
    "--bootstrap", default=1000, show_default=True, help="Bootstrap resamples for the CIs."
)
def eval_cmd(
    table: TableArgs,
    seed: int,
    group_by: str,
    max_folds: int | None,
    json_out: str,
    plots_dir: str | None,
    md_out: str | None,
    min_methods: int,
    only: str | None,
    candidate: str,
    candidate_params: tuple[str, ...],
    budget_quantile: float | None,
    price_col: str | None,
    work_col: str | None,
    bootstrap: int,
) -> None:
    """Leave-one-group-out evaluation of a candidate (MetaInf) against the baselines."""
    from meta.evaluation import evaluate

    perf = table.load(extra=[c for c in (price_col, work_col) if c])
    selectors = _eval_selectors(seed, only, candidate, candidate_params)
    result = evaluate(
        perf,
        selectors,
        table.featurizer(),
        group_by=None if group_by == "task" else group_by,
        min_methods=min_methods,
        budgets=_budgets(perf, budget_quantile, price_col, work_col),
        n_bootstrap=bootstrap,
        random_state=seed,
        progress=lambda m: click.echo(m, err=True),
        candidate=candidate,
        max_folds=max_folds,
    )
    Path(json_out).parent.mkdir(parents=True, exist_ok=True)
    Path(json_out).write_text(json.dumps(result.to_dict(), indent=2, default=float) + "\n")
    md = result.to_markdown()
    if md_out:
        Path(md_out).write_text(md + "\n")
    if plots_dir:
        from meta.plots import write_plots

        for p in write_plots(result, plots_dir):
            click.echo(f"wrote {p}", err=True)
    click.echo(md)


def _eval_selectors(seed: int, only: str | None, candidate: str, overrides: tuple[str, ...]):
    """The default line-up, the candidate's hyper-parameters overridden, maybe a subset."""
    from meta.selectors import default_selectors

    selectors = default_selectors(seed)
    if overrides:
        if candidate not in selectors:
            raise click.BadParameter(
                f"no selector {candidate!r} to override; have {list(selectors)}",
                param_hint="--candidate",
            )
        selectors[candidate] = _with_params(selectors[candidate], overrides)
    if only:
        wanted = _split(only)
        unknown = set(wanted) - set(selectors)
        if unknown:
            raise click.BadParameter(
                f"unknown selectors {sorted(unknown)}; have {list(selectors)}",
                param_hint="--selectors",
            )
        selectors = {k: v for k, v in selectors.items() if k in wanted}
    return selectors


def _with_params(selector, overrides: tuple[str, ...]):
    """A clone of ``selector`` with KEY=JSON overrides (a bare string is a string)."""
    from sklearn.base import clone

    params = selector.get_params()
    updates: dict[str, Any] = {}
    for item in overrides:
        key, _, value = item.partition("=")
        if key not in params:
            raise click.BadParameter(
                f"{selector.name} has no parameter {key!r}; have {sorted(params)}",
                param_hint="--candidate-param",
            )
        try:
            updates[key] = json.loads(value)
        except json.JSONDecodeError:
            updates[key] = value  # a bare string such as mlp
    return clone(selector).set_params(**updates)


def _budgets(perf, quantile: float | None, price_col: str | None, work_col: str | None):
    """Per-task budgets for feasibility (None without --budget-quantile)."""
    if quantile is None:
        return None
    import numpy as np

    from meta.evaluation import Budgets

    price = np.nan_to_num(perf.column(price_col), nan=np.inf) if price_col else None
    work = np.nanmedian(perf.column(work_col), axis=1) if work_col else None
    return Budgets.from_quantile(perf, quantile, price=price, work=work)


@meta.command("train")
@table_options
@click.option(
    "--out", "out", required=True, type=click.Path(dir_okay=False), help="Model file to write."
)
@click.option(
    "--selector",
    "selector_name",
    default=DEFAULT_CANDIDATE,
    show_default=True,
    help="Which selector to train (any but an oracle).",
)
def train_cmd(table: TableArgs, seed: int, out: str, selector_name: str) -> None:
    """Fit a selector on a whole table and save it (with schema version and metadata)."""
    from meta.persistence import save_selector
    from meta.selectors import default_selectors

    selectors = default_selectors(seed)
    trainable = [name for name, s in selectors.items() if not s.is_oracle]
    if selector_name not in trainable:
        raise click.BadParameter(f"must be one of {trainable}", param_hint="--selector")
    perf = table.load()
    sel = selectors[selector_name].fit(perf, table.featurizer().fit(perf))
    save_selector(sel, out, metadata={"table": str(table.path), **perf.summary()})
    click.echo(json.dumps({"model": str(out), "selector": selector_name, **perf.summary()}))


@meta.command("recommend")
@click.option("--model", "model_path", required=True, type=click.Path(exists=True, dir_okay=False))
@task_options
def recommend_cmd(
    model_path: str,
    task_json: str,
    available: str | None,
    budget: float | None,
    price_per_second: float | None,
    work: float,
) -> None:
    """Rank the methods for one task with a saved model and explain the choice: predicted
    metric, runtime, cost and budget fit per method (JSON on stdout)."""
    from meta.persistence import IncompatibleModelError, load_selector
    from meta.selectors import BudgetNotSupportedError, Task

    if budget is not None and price_per_second is None:
        raise click.BadParameter("--budget needs --price-per-second", param_hint="--budget")
    try:
        sel, _ = load_selector(model_path)
    except IncompatibleModelError as exc:
        raise click.ClickException(f"{exc}; retrain it with `metainf meta train`") from exc
    task = Task(
        values=_task_values(task_json, sel.task_cols_),
        available=_split(available) if available else None,
        price_per_second=price_per_second,
        work=work,
    )
    try:
        explanation = sel.explain(task, budget=budget)
    except BudgetNotSupportedError as exc:
        raise click.BadParameter(str(exc), param_hint="--budget") from exc
    click.echo(json.dumps(explanation.to_dict(), indent=2))


def _task_values(task_json: str, task_cols: list[str]) -> dict[str, Any]:
    """The task's column values from JSON or @file.json; every task column present."""
    try:
        raw = Path(task_json[1:]).read_text() if task_json.startswith("@") else task_json
        values = json.loads(raw)
    except (OSError, json.JSONDecodeError) as exc:
        raise click.BadParameter(
            f"not JSON or a readable @file: {exc}", param_hint="--task"
        ) from exc
    if not isinstance(values, dict):
        raise click.BadParameter("must be a JSON object of task columns", param_hint="--task")
    missing = [c for c in task_cols if c not in values]
    if missing:
        raise click.BadParameter(
            f"task lacks columns {missing} (the model's task columns: {task_cols})",
            param_hint="--task",
        )
    return values
