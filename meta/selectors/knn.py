"""k nearest neighbours: the methods that did best on the most similar training tasks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.neighbors import NearestNeighbors

from meta.selectors.base import Selector, comparative_mask, mean_normalized
from meta.table import PerformanceTable


class KNNSelector(Selector):
    """Distance-weighted mean normalized performance of each method over the ``k``
    nearest training tasks (only tasks where two or more methods ran). Methods none of
    the neighbours ran fall back below the others, in global (SBS) order."""

    name = "kNN"

    def __init__(self, n_neighbors: int = 5) -> None:
        self.n_neighbors = n_neighbors

    def _fit(self, table: PerformanceTable) -> None:
        comp = comparative_mask(table)
        rows = np.flatnonzero(comp) if comp.any() else np.arange(table.n_tasks)
        dicts = table.task_dicts()
        self.X_ = self.features_.transform_tasks([dicts[i] for i in rows])
        self.norm_ = table.normalized[rows]
        self.global_scores_ = np.nan_to_num(mean_normalized(table, rows), nan=0.0)
        k = min(self.n_neighbors, len(rows))
        self.nn_ = NearestNeighbors(n_neighbors=k).fit(self.X_)

    def _score_known(self, tasks: list[Mapping[str, Any]]) -> np.ndarray:
        X = self.features_.transform_tasks(tasks)
        dist, idx = self.nn_.kneighbors(X)
        w = 1.0 / (dist + 1e-6)
        out = np.empty((len(tasks), len(self.methods_)))
        for i in range(len(tasks)):
            vals = self.norm_[idx[i]]  # k x methods
            seen = ~np.isnan(vals)
            num = np.nansum(vals * w[i][:, None], axis=0)
            den = (seen * w[i][:, None]).sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                local = num / den
            out[i] = np.where(den > 0, local, self.global_scores_ - 2.0)
        return out
