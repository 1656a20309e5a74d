"""ALORS (Misir & Sebag, 2017): matrix factorization of the performance matrix plus a
regressor from meta-features to the latent task factors, for cold-start tasks."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestRegressor

from meta.selectors.base import Selector
from meta.table import PerformanceTable


def factorize(
    M: np.ndarray, rank: int, reg: float, n_iter: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Alternating ridge least squares on observed cells: M ~ b[None] + U V^T.

    ``b`` is the column mean (method bias), fixed; only the factors alternate.
    """
    n, m = M.shape
    obs = ~np.isnan(M)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a method never measured
        b = np.nan_to_num(np.nanmean(M, axis=0))
    U = 0.1 * rng.standard_normal((n, rank))
    V = 0.1 * rng.standard_normal((m, rank))
    eye = reg * np.eye(rank)
    R = np.where(obs, M - b[None, :], 0.0)
    W = obs.astype(float)
    for _ in range(n_iter):
        # batched ridge solves: one k x k system per row (then per column) at once
        G = np.einsum("ij,jk,jl->ikl", W, V, V) + eye
        U = np.linalg.solve(G, (R @ V)[..., None])[..., 0]
        G = np.einsum("ij,ik,il->jkl", W, U, U) + eye
        V = np.linalg.solve(G, (R.T @ U)[..., None])[..., 0]
    return b, U, V


class ALORSSelector(Selector):
    """Latent factors of the normalized-performance matrix; a random forest maps task
    meta-features to latent task factors; score = method bias + u(x) . v_method."""

    name = "ALORS"

    def __init__(
        self,
        n_factors: int = 4,
        reg: float = 0.1,
        n_iter: int = 30,
        n_estimators: int = 200,
        random_state: int = 0,
    ) -> None:
        self.n_factors = n_factors
        self.reg = reg
        self.n_iter = n_iter
        self.n_estimators = n_estimators
        self.random_state = random_state

    def _fit(self, table: PerformanceTable) -> None:
        rng = np.random.default_rng(self.random_state)
        M = table.normalized
        k = max(1, min(self.n_factors, table.n_methods))
        self.bias_, U, self.V_ = factorize(M, k, self.reg, self.n_iter, rng)
        X = self.features_.transform_tasks(table.task_dicts())
        self.regressor_ = RandomForestRegressor(
            n_estimators=self.n_estimators,
            min_samples_leaf=2,
            max_features=0.5,
            random_state=self.random_state,
            n_jobs=1,
        ).fit(X, U)

    def _score_known(self, tasks: list[Mapping[str, Any]]) -> np.ndarray:
        U = self.regressor_.predict(self.features_.transform_tasks(tasks))
        U = U.reshape(len(tasks), -1)
        return self.bias_[None, :] + U @ self.V_.T
