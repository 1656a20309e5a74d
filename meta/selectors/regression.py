"""Per-method performance regressors (RandomForest, GradientBoosting) on meta-features.

One regressor per method, trained on the tasks where that method ran, predicts its log
performance; the selector ranks methods by prediction. Because they predict absolute
performance these baselines are cost-aware, like MetaInf.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.base import RegressorMixin, clone
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor

from meta.selectors.base import Selector
from meta.table import PerformanceTable


def random_forest(n_estimators: int, seed: int, min_samples_leaf: int = 2) -> RandomForestRegressor:
    """The random forest of every forest-based model here (this baseline, ALORS's map to
    its latent factors, MetaInf's per-method view): half the features per split."""
    return RandomForestRegressor(
        n_estimators=n_estimators,
        min_samples_leaf=min_samples_leaf,
        max_features=0.5,
        random_state=seed,
        n_jobs=1,
    )


class PerMethodRegressionSelector(Selector):
    name = "PerMethodRegression"
    cost_aware = True

    def _make(self) -> RegressorMixin:
        raise NotImplementedError

    def _fit(self, table: PerformanceTable) -> None:
        X = self.features_.transform_tasks(table.task_dicts())
        Y = table.log_performance
        self.models_: list[RegressorMixin | float] = []
        for j in range(table.n_methods):
            rows = ~np.isnan(Y[:, j])
            if rows.sum() >= 2:
                self.models_.append(clone(self._make()).fit(X[rows], Y[rows, j]))
            else:  # a method measured once (or never): predict that value
                self.models_.append(float(Y[rows, j].mean()) if rows.any() else -np.inf)

    def _predict(self, tasks: list[Mapping[str, Any]]) -> np.ndarray:
        X = self.features_.transform_tasks(tasks)
        cols = [
            m.predict(X) if not isinstance(m, float) else np.full(len(X), m) for m in self.models_
        ]
        return np.column_stack(cols)

    def _score_known(self, tasks: list[Mapping[str, Any]]) -> np.ndarray:
        return self._predict(tasks)

    def _predict_log_performance(self, tasks, methods):
        return self._score(tasks, methods)


class RandomForestSelector(PerMethodRegressionSelector):
    name = "RandomForest"

    def __init__(self, n_estimators: int = 200, min_samples_leaf: int = 2, random_state: int = 0):
        self.n_estimators = n_estimators
        self.min_samples_leaf = min_samples_leaf
        self.random_state = random_state

    def _make(self) -> RegressorMixin:
        return random_forest(self.n_estimators, self.random_state, self.min_samples_leaf)


class GradientBoostingSelector(PerMethodRegressionSelector):
    name = "GradientBoosting"

    def __init__(
        self,
        max_iter: int = 300,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 15,
        random_state: int = 0,
    ):
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.random_state = random_state

    def _make(self) -> RegressorMixin:
        return HistGradientBoostingRegressor(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=5,
            l2_regularization=1e-3,
            early_stopping=False,
            random_state=self.random_state,
        )
