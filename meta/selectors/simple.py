"""Reference points: Random, single best (SBS) and the oracle (VBS)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from meta.selectors.base import (
    Selector,
    comparative_mask,
    mean_normalized,
    stable_uniform,
    task_keys_of,
)
from meta.table import PerformanceTable


class RandomSelector(Selector):
    """Uniformly random among the available methods, reproducible under ``random_state``.

    The draw is a hash of (seed, task, method), so it does not depend on call order.
    """

    name = "Random"
    needs_features = False

    def __init__(self, random_state: int = 0) -> None:
        self.random_state = random_state

    def _fit(self, table: PerformanceTable) -> None:
        pass

    def _score_known(self, tasks: list[Mapping[str, Any]]) -> np.ndarray:
        keys = task_keys_of(tasks, self.task_cols_)
        return np.array(
            [[stable_uniform(self.random_state, k, m) for m in self.methods_] for k in keys]
        )


class SingleBestSelector(Selector):
    """Always the method with the best mean normalized performance on training tasks.

    Only tasks where at least two methods ran count (one method alone is trivially
    "best"); when that method is unavailable, the next one in the same global order.
    """

    name = "SBS"
    needs_features = False
    is_single_best = True

    def _fit(self, table: PerformanceTable) -> None:
        rows = comparative_mask(table)
        if not rows.any():
            rows = np.ones(table.n_tasks, bool)
        self.method_scores_ = np.nan_to_num(mean_normalized(table, rows), nan=0.0)

    def _score_known(self, tasks: list[Mapping[str, Any]]) -> np.ndarray:
        return np.tile(self.method_scores_, (len(tasks), 1))


class OracleSelector(Selector):
    """Virtual best solver: looks the true performance up. For evaluation only.

    Fit it on a table that contains the test tasks; it raises on any other task.
    """

    name = "VBS"
    needs_features = False
    cost_aware = True
    is_oracle = True

    def _fit(self, table: PerformanceTable) -> None:
        self.log_perf_ = {
            k: row for k, row in zip(table.task_keys, table.log_performance, strict=True)
        }

    def _lookup(self, tasks: list[Mapping[str, Any]]) -> np.ndarray:
        keys = task_keys_of(tasks, self.task_cols_)
        missing = [k for k in keys if k not in self.log_perf_]
        if missing:
            raise KeyError(f"oracle has no measurements for {missing[:3]}")
        return np.array([self.log_perf_[k] for k in keys])

    def _score_known(self, tasks: list[Mapping[str, Any]]) -> np.ndarray:
        return np.nan_to_num(self._lookup(tasks), nan=-np.inf)

    def _predict_log_performance(self, tasks, methods):
        known = self._lookup(tasks)
        index = {m: j for j, m in enumerate(self.methods_)}
        out = np.full((len(known), len(methods)), np.nan)
        for j, m in enumerate(methods):
            if m in index:
                out[:, j] = known[:, index[m]]
        return out
