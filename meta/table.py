"""Performance tables: long-format measurements turned into a tasks x methods matrix.

A *task* is one combination of the task columns (model, hardware, workload, ...); a
*method* is one value of the method column. Repeated measurements of a (task, method)
cell are aggregated with the median, which is robust to the odd slow run. Cells that
were never measured stay missing: not every method runs everywhere, and a selector
must only ever pick a method that is available for the task.

Internally "performance" is always higher-is-better: for a lower-is-better metric
(latency) performance is ``1 / metric``, so ratios such as chosen / best keep their
meaning ("the chosen method is 0.8x as fast as the best one") for both kinds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TASK_KEY_SEP = " | "


def task_key(values: Sequence[Any]) -> str:
    """Stable string key of a task (its task-column values, in order)."""
    return TASK_KEY_SEP.join(_fmt(v) for v in values)


def _fmt(v: Any) -> str:
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return str(int(v))
    return str(v)


@dataclass
class PerformanceTable:
    """Aggregated long-format table plus its tasks x methods pivot.

    Build with :meth:`from_csv` or :meth:`from_frame`; do not fill fields by hand.
    """

    long: pd.DataFrame
    task_cols: list[str]
    method_col: str
    metric: str
    lower_is_better: bool = False
    extra_cols: list[str] = field(default_factory=list)
    # derived in __post_init__
    tasks: pd.DataFrame = field(init=False, repr=False)
    methods: list[str] = field(init=False)
    matrix: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        long = self.long
        keys = [task_key(row) for row in long[self.task_cols].itertuples(index=False, name=None)]
        long = long.assign(_task=keys)
        tasks = long.drop_duplicates("_task")[["_task", *self.task_cols]].reset_index(drop=True)
        self.methods = sorted(str(m) for m in long[self.method_col].unique())
        pivot = long.pivot(index="_task", columns=self.method_col, values=self.metric)
        pivot.columns = [str(c) for c in pivot.columns]
        pivot = pivot.reindex(index=tasks["_task"], columns=self.methods)
        self.tasks = tasks.rename(columns={"_task": "task"}).set_index("task", drop=False)
        self.tasks.index.name = None
        self.matrix = pivot.to_numpy(dtype=float)
        if np.any(self.matrix[~np.isnan(self.matrix)] <= 0):
            raise ValueError(f"metric {self.metric!r} must be strictly positive")
        self.long = long.drop(columns="_task")

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        task_cols: Sequence[str],
        method_col: str,
        metric: str,
        lower_is_better: bool = False,
        extra_cols: Sequence[str] = (),
        agg: str = "median",
        methods: Sequence[str] | None = None,
    ) -> PerformanceTable:
        """Aggregate repeated (task, method) rows and build the table.

        ``extra_cols`` (e.g. a price or work column) are carried along, aggregated the
        same way, so that budgets can be evaluated later. ``methods`` keeps only those
        methods' rows (e.g. the exact ones, for a quality constraint).
        """
        task_cols = list(task_cols)
        missing = [c for c in [*task_cols, method_col, metric, *extra_cols] if c not in df.columns]
        if missing:
            raise KeyError(f"columns not in table: {missing}; have {list(df.columns)}")
        df = df.dropna(subset=[*task_cols, method_col, metric]).copy()
        df[method_col] = df[method_col].astype(str)
        if methods is not None:
            unknown = sorted(set(methods) - set(df[method_col]))
            if unknown:
                raise ValueError(f"methods not in table: {unknown}")
            df = df[df[method_col].isin(list(methods))]
        values = [metric, *[c for c in extra_cols if c != metric]]
        for c in values:
            df[c] = pd.to_numeric(df[c], errors="coerce")
        df = df.dropna(subset=[metric])
        df = df[df[metric] > 0]
        if df.empty:
            raise ValueError("no usable rows (metric missing or non-positive everywhere)")
        long = (
            df.groupby([*task_cols, method_col], sort=True, dropna=False)[values]
            .agg(agg)
            .reset_index()
        )
        return cls(
            long=long,
            task_cols=task_cols,
            method_col=method_col,
            metric=metric,
            lower_is_better=lower_is_better,
            extra_cols=[c for c in extra_cols if c != metric],
        )

    @classmethod
    def from_csv(
        cls,
        path: str | Path,
        task_cols: Sequence[str],
        method_col: str,
        metric: str,
        lower_is_better: bool = False,
        extra_cols: Sequence[str] = (),
        methods: Sequence[str] | None = None,
    ) -> PerformanceTable:
        """Load any long-format CSV by naming its task columns, method column and metric."""
        return cls.from_frame(
            pd.read_csv(path),
            task_cols,
            method_col,
            metric,
            lower_is_better,
            extra_cols,
            methods=methods,
        )

    # ------------------------------------------------------------------ views
    @property
    def n_tasks(self) -> int:
        return self.matrix.shape[0]

    @property
    def n_methods(self) -> int:
        return self.matrix.shape[1]

    @property
    def task_keys(self) -> list[str]:
        return list(self.tasks["task"])

    @property
    def available(self) -> np.ndarray:
        """Boolean tasks x methods mask of measured cells."""
        return ~np.isnan(self.matrix)

    @property
    def performance(self) -> np.ndarray:
        """Higher-is-better performance (NaN where missing)."""
        return 1.0 / self.matrix if self.lower_is_better else self.matrix.copy()

    @property
    def log_performance(self) -> np.ndarray:
        return np.log(self.performance)

    @property
    def normalized(self) -> np.ndarray:
        """Performance divided by the best available method of each task (in (0, 1])."""
        perf = self.performance
        best = np.nanmax(np.where(self.available, perf, -np.inf), axis=1, keepdims=True)
        return perf / best

    def task_dicts(self) -> list[dict[str, Any]]:
        """Task-column values of every task, as dicts (what featurizers consume)."""
        return self.tasks[self.task_cols].to_dict("records")

    def column(self, name: str) -> np.ndarray:
        """Tasks x methods matrix of an extra column (e.g. price), NaN where missing."""
        keys = [task_key(r) for r in self.long[self.task_cols].itertuples(index=False, name=None)]
        piv = self.long.assign(_task=keys).pivot(
            index="_task", columns=self.method_col, values=name
        )
        piv.columns = [str(c) for c in piv.columns]
        return piv.reindex(index=self.task_keys, columns=self.methods).to_numpy(dtype=float)

    def pivot(self) -> pd.DataFrame:
        """The raw metric as a DataFrame (rows: task keys, columns: methods)."""
        return pd.DataFrame(self.matrix, index=self.task_keys, columns=self.methods)

    def subset(self, task_index: Sequence[int] | np.ndarray) -> PerformanceTable:
        """A new table restricted to some tasks (method list kept as in this table)."""
        idx = np.asarray(task_index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        keep = set(self.tasks["task"].iloc[idx])
        keys = [task_key(r) for r in self.long[self.task_cols].itertuples(index=False, name=None)]
        mask = np.fromiter((k in keep for k in keys), bool, len(keys))
        sub = PerformanceTable(
            long=self.long[mask].reset_index(drop=True),
            task_cols=self.task_cols,
            method_col=self.method_col,
            metric=self.metric,
            lower_is_better=self.lower_is_better,
            extra_cols=list(self.extra_cols),
        )
        sub._align_methods(self.methods)
        # keep the caller's task order
        pos = {k: i for i, k in enumerate(sub.task_keys)}
        order = [pos[k] for k in self.tasks["task"].iloc[idx]]
        sub.tasks = sub.tasks.iloc[order]
        sub.matrix = sub.matrix[order]
        return sub

    def _align_methods(self, methods: list[str]) -> None:
        cols = {m: i for i, m in enumerate(self.methods)}
        new = np.full((self.n_tasks, len(methods)), np.nan)
        for j, m in enumerate(methods):
            if m in cols:
                new[:, j] = self.matrix[:, cols[m]]
        self.methods = list(methods)
        self.matrix = new

    def groups(self, by: str | None) -> np.ndarray:
        """Group label of every task: a task column's value, or the task itself."""
        if by is None or by == "task":
            return np.asarray(self.task_keys, dtype=object)
        if by not in self.task_cols:
            raise KeyError(f"group column {by!r} is not a task column {self.task_cols}")
        return np.asarray([_fmt(v) for v in self.tasks[by]], dtype=object)

    def summary(self) -> Mapping[str, Any]:
        avail = self.available
        return {
            "n_tasks": self.n_tasks,
            "n_methods": self.n_methods,
            "n_cells": int(avail.sum()),
            "density": float(avail.mean()),
            "methods": self.methods,
        }
