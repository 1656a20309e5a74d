"""ALORS (Misir & Sebag, 2017): matrix factorization of the performance matrix plus a
regressor from meta-features to the latent task factors, for cold-start tasks."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestRegressor

from meta.selectors.base import Selector
from meta.selectors.regression import random_forest
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


@dataclass(frozen=True)
class LatentFactors:
    """A factorized matrix ``bias + U V^T`` and a forest from task features to ``U``."""

    bias: np.ndarray
    V: np.ndarray
    regressor: RandomForestRegressor

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The matrix's rows for new tasks (tasks x columns)."""
        U = self.regressor.predict(X).reshape(len(X), -1)
        return self.bias[None, :] + U @ self.V.T


def fit_latent_factors(
    M: np.ndarray,
    X: np.ndarray,
    n_factors: int,
    reg: float,
    n_iter: int,
    n_estimators: int,
    seed: int,
) -> LatentFactors:
    """ALORS's model of ``M`` (tasks x methods, NaN where unmeasured) from task features
    ``X``: :func:`factorize`, then a random forest from ``X`` to the task factors."""
    rng = np.random.default_rng(seed)
    k = max(1, min(n_factors, M.shape[1]))
    bias, U, V = factorize(M, k, reg, n_iter, rng)
    return LatentFactors(bias, V, random_forest(n_estimators, seed).fit(X, U))


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
        X = self.features_.transform_tasks(table.task_dicts())
        self.latent_ = self.fit_matrix(table.normalized, X)

    def fit_matrix(self, M: np.ndarray, X: np.ndarray) -> LatentFactors:
        """This selector's model of any tasks x methods matrix (MetaInf's ``latent`` view
        uses it on the within-task advantages)."""
        return fit_latent_factors(
            M, X, self.n_factors, self.reg, self.n_iter, self.n_estimators, self.random_state
        )

    def _score_known(self, tasks: list[Mapping[str, Any]]) -> np.ndarray:
        return self.latent_.predict(self.features_.transform_tasks(tasks))
