"""ISAC (Kadioglu et al., 2010): cluster tasks by meta-features, best method per cluster."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.cluster import KMeans

from meta.selectors.base import Selector, comparative_mask, mean_normalized
from meta.table import PerformanceTable


class ISACSelector(Selector):
    """k-means over task meta-features; each cluster ranks methods by its own mean
    normalized performance, falling back to the global (SBS) order where a cluster
    never saw a method.

    ``n_clusters=None`` picks ``sqrt(n_tasks / 2)`` clipped to [2, 30].
    """

    name = "ISAC"

    def __init__(self, n_clusters: int | None = None, random_state: int = 0) -> None:
        self.n_clusters = n_clusters
        self.random_state = random_state

    def _fit(self, table: PerformanceTable) -> None:
        X = self.features_.transform_tasks(table.task_dicts())
        k = self.n_clusters or int(np.clip(np.sqrt(table.n_tasks / 2), 2, 30))
        k = max(1, min(k, len(np.unique(X, axis=0))))
        self.kmeans_ = KMeans(n_clusters=k, n_init=10, random_state=self.random_state).fit(X)
        labels = self.kmeans_.labels_
        comp = comparative_mask(table)
        glob = np.nan_to_num(mean_normalized(table, comp if comp.any() else None), nan=0.0)
        self.global_scores_ = glob
        scores = np.zeros((k, table.n_methods))
        for c in range(k):
            rows = (labels == c) & comp
            local = mean_normalized(table, rows) if rows.any() else np.full(table.n_methods, np.nan)
            # unseen methods rank below every seen one, in global order
            scores[c] = np.where(np.isnan(local), glob - 2.0, local)
        self.cluster_scores_ = scores

    def _score_known(self, tasks: list[Mapping[str, Any]]) -> np.ndarray:
        X = self.features_.transform_tasks(tasks)
        return self.cluster_scores_[self.kmeans_.predict(X)]
