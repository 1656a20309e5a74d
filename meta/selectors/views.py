"""MetaInf's views of within-task performance: each one a guess of how much faster or
slower every method is than the task's average, in log performance.

* ``offsets``: the method's average advantage over all training tasks (an SBS order);
* ``interaction``: offsets plus a regressor of what is left, on [task features, method
  features, pair physics] (:mod:`meta.physics`): one predictor over every (task, method)
  pair, the paper's model;
* ``per_method``: one forest per method from task features to its log performance (the
  algorithm-selection classic), centred on the task's mean over the training methods;
* ``neighbours``: the advantages measured on the most similar training tasks;
* ``latent``: ALORS's view (:mod:`meta.selectors.alors`): latent factors of the
  normalized performance (speed over the task's best, so a hopeless method sits near 0
  however slow it is) and a forest from task features to a task's factors. It models
  what the fast methods of a task have in common instead of every method's log, which
  is what latency objectives need, where the slow end spans orders of magnitude;
* ``physics``: the pair model again, on numbers only (task descriptors and physics, the
  method's numeric facts and id, pair physics) without the description embeddings: on a
  model or machine never seen, an embedding is a position among the few seen ones,
  while bytes per token, batch and bits mean the same everywhere.

All of them predict the same quantity on the same scale, so that
:class:`~meta.selectors.metainf.MetaInfSelector` can average them with weights chosen by
an inner cross-validation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from meta.selectors.alors import ALORSSelector, LatentFactors
from meta.selectors.regression import random_forest


def additive_fit(Y: np.ndarray, n_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Task levels ``a`` and method offsets ``b`` (mean zero) with Y ~ a[:, None] + b."""
    obs = ~np.isnan(Y)
    Y0 = np.where(obs, Y, 0.0)
    cnt_t = np.maximum(obs.sum(1), 1)
    cnt_m = np.maximum(obs.sum(0), 1)
    b = np.zeros(Y.shape[1])
    a = (Y0 * obs).sum(1) / cnt_t
    for _ in range(n_iter):
        b_new = ((Y0 - a[:, None]) * obs).sum(0) / cnt_m
        b_new -= b_new[obs.sum(0) > 0].mean() if obs.any() else 0.0
        a = ((Y0 - b_new[None, :]) * obs).sum(1) / cnt_t
        if np.allclose(b_new, b, atol=1e-10):
            b = b_new
            break
        b = b_new
    return a, b


class _TorchMLP:
    """A seeded full-batch MLP regressor (CPU). Small data: no minibatches needed."""

    def __init__(
        self,
        hidden: Sequence[int],
        epochs: int,
        lr: float,
        weight_decay: float,
        dropout: float,
        seed: int,
    ) -> None:
        self.hidden = tuple(hidden)
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> _TorchMLP:
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # tiny nets: threads only spin, and results stay bit-stable
        try:
            return self._fit(X, y, w)
        finally:
            torch.set_num_threads(threads)

    def _fit(self, X: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> _TorchMLP:
        import torch
        from torch import nn

        torch.manual_seed(self.seed)
        gen = torch.Generator().manual_seed(self.seed)
        layers: list[nn.Module] = []
        d = X.shape[1]
        for h in self.hidden:
            layers += [nn.Linear(d, h), nn.SiLU(), nn.Dropout(self.dropout)]
            d = h
        layers.append(nn.Linear(d, 1))
        net = nn.Sequential(*layers)
        Xt = torch.as_tensor(X, dtype=torch.float32)
        yt = torch.as_tensor(y, dtype=torch.float32)
        wt = torch.as_tensor(w if w is not None else np.ones(len(y)), dtype=torch.float32)
        wt = wt / wt.mean()
        opt = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.epochs)
        n = len(y)
        batch = 512
        net.train()
        for _ in range(self.epochs):
            perm = torch.randperm(n, generator=gen)
            for s in range(0, n, batch):
                idx = perm[s : s + batch]
                opt.zero_grad()
                loss = (wt[idx] * (net(Xt[idx]).squeeze(-1) - yt[idx]) ** 2).mean()
                loss.backward()
                opt.step()
            sched.step()
        net.eval()
        self.net_ = net
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self.net_(torch.as_tensor(X, dtype=torch.float32)).squeeze(-1).numpy()


# Boosted-tree capacities: "small" only keeps interactions that many measurements
# support; "large" can fit narrow niches (one engine winning for one model family on one
# GPU), which pays off only where such niches recur.
GBM_PRESETS: dict[str, dict[str, Any]] = {
    "small": dict(max_leaf_nodes=8, min_samples_leaf=20, max_iter=200, learning_rate=0.05),
    "large": dict(max_leaf_nodes=31, min_samples_leaf=5, max_iter=400, learning_rate=0.05),
}
EXTRA_VIEWS = ("per_method", "neighbours", "physics", "latent")
PHYSICS_PRESET = "large"


def _pairs(Xt: np.ndarray, Xm: np.ndarray, Xp: np.ndarray, ti: np.ndarray, mj: np.ndarray):
    return np.hstack([Xt[ti], Xm[mj], Xp[ti, mj]])


def _place(columns: Mapping[str, np.ndarray], methods: Sequence[str], off: np.ndarray):
    """A tasks x methods matrix: each method's column from ``columns`` where it has one,
    its offset otherwise (a method the view knows nothing of)."""
    out = off.copy()
    for j, meth in enumerate(methods):
        if meth in columns:
            out[:, j] = columns[meth]
    return out


def _predict_models(models: list[tuple[str, Any]], X: np.ndarray) -> np.ndarray:
    """The mean prediction of a pair model's members (boosted trees and/or MLPs)."""
    preds = []
    for kind, model in models:
        if kind == "mlp":
            scaler, net = model
            preds.append(net.predict(np.clip(scaler.transform(X), -4.0, 4.0)))
        else:
            preds.append(model.predict(X))
    return np.mean(preds, axis=0)


class ViewSet:
    """Every view fitted on one training matrix; ``predict`` gives each view's
    tasks x methods within-task log performance for new tasks (and methods)."""

    def __init__(
        self,
        estimator: str,
        complexities: Sequence[str],
        extras: Sequence[str],
        mlp: dict[str, Any],
        n_neighbors: int,
        seed: int,
        plain_columns: tuple[slice, slice] = (slice(None), slice(None)),
    ) -> None:
        self.estimator = estimator
        self.complexities = tuple(complexities)
        self.extras = tuple(extras)
        self.mlp = mlp
        self.n_neighbors = n_neighbors
        self.seed = seed
        self.plain_columns = plain_columns  # (task, method) columns without embeddings

    def fit(
        self, Xt: np.ndarray, Xm: np.ndarray, Xp: np.ndarray, methods: Sequence[str], Y: np.ndarray
    ) -> ViewSet:
        a, b = additive_fit(Y)
        obs = ~np.isnan(Y)
        self.methods_ = list(methods)
        self.offsets_ = {m: float(v) for m, v, ok in zip(methods, b, obs.any(0), strict=True) if ok}
        # a method never measured here gets the median offset: no reason to prefer it
        self.default_offset_ = float(np.median(list(self.offsets_.values()) or [0.0]))
        self.level_ = a
        # only tasks with two or more methods say anything about the within-task part
        comparative = obs.sum(1) >= 2
        rows = comparative if comparative.any() else np.ones(len(Y), bool)
        R = np.where(obs, Y - a[:, None], np.nan)  # within-task advantages
        R[~rows] = np.nan
        self.interactions_ = {
            c: self._fit_interaction(c, Xt, Xm, Xp, R, b) for c in self.complexities
        }
        if "per_method" in self.extras:
            self.forests_ = self._fit_per_method(Xt, Y)
        if "physics" in self.extras:
            ct, cm = self.plain_columns
            self.physics_ = self._fit_interaction(PHYSICS_PRESET, Xt[:, ct], Xm[:, cm], Xp, R, b)
        if "latent" in self.extras:
            self.latent_ = self._fit_latent(Xt, R)
        if "neighbours" in self.extras:
            keep = np.flatnonzero(rows)
            self.nn_rows_ = R[keep]
            k = min(self.n_neighbors, len(keep))
            self.nn_ = NearestNeighbors(n_neighbors=k).fit(Xt[keep]) if k else None
        return self

    def _fit_interaction(self, complexity, Xt, Xm, Xp, R, b) -> list[tuple[str, Any]]:
        ti, mj = np.nonzero(~np.isnan(R))
        resid = R[ti, mj] - b[mj]
        X = _pairs(Xt, Xm, Xp, ti, mj)
        w = 1.0 / np.bincount(ti, minlength=len(R))[ti]  # every task weighs the same
        models: list[tuple[str, Any]] = []
        if self.estimator in ("ensemble", "mlp"):
            scaler = StandardScaler().fit(X)
            Xs = np.clip(scaler.transform(X), -4.0, 4.0)  # MLPs extrapolate linearly
            for k in range(self.mlp["n_mlp"]):
                net = _TorchMLP(**{**self.mlp_args(), "seed": self.seed * 1000 + k})
                models.append(("mlp", (scaler, net.fit(Xs, resid, w))))
        if self.estimator in ("ensemble", "gbm"):
            gbm = HistGradientBoostingRegressor(
                **GBM_PRESETS[complexity],
                l2_regularization=1.0,
                early_stopping=False,
                random_state=self.seed,
            )
            models.append(("gbm", gbm.fit(X, resid, sample_weight=w)))
        return models

    def mlp_args(self) -> dict[str, Any]:
        keys = ("hidden", "epochs", "lr", "weight_decay", "dropout")
        return {k: self.mlp[k] for k in keys}

    def _fit_per_method(self, Xt: np.ndarray, Y: np.ndarray) -> dict[str, Any]:
        """A forest per method on its own log performance: a method's speed is learned
        from the tasks it ran, not from how the other methods of those tasks did."""
        forests = {}
        for j, m in enumerate(self.methods_):
            rows = ~np.isnan(Y[:, j])
            if rows.sum() >= 4:
                forests[m] = random_forest(100, self.seed).fit(Xt[rows], Y[rows, j])
        return forests

    def _fit_latent(self, Xt: np.ndarray, R: np.ndarray) -> LatentFactors | None:
        """ALORS, with its own defaults, on the normalized performance ``exp(R - max R)``
        of the within-task advantages. None with fewer than two comparative tasks."""
        keep = ~np.isnan(R).all(1)
        if keep.sum() < 2:
            return None
        N = np.exp(R[keep] - np.nanmax(R[keep], axis=1, keepdims=True))
        return ALORSSelector(random_state=self.seed).fit_matrix(N, Xt[keep])

    # ------------------------------------------------------------------ predicting
    def offsets(self, methods: Sequence[str]) -> np.ndarray:
        return np.array([self.offsets_.get(m, self.default_offset_) for m in methods])

    def predict(
        self, Xt: np.ndarray, Xm: np.ndarray, Xp: np.ndarray, methods: Sequence[str]
    ) -> dict[str, np.ndarray]:
        """view name -> tasks x methods within-task log performance."""
        n, m = len(Xt), len(methods)
        off = np.broadcast_to(self.offsets(methods), (n, m))
        out: dict[str, np.ndarray] = {"offsets": off}
        ti, mj = np.repeat(np.arange(n), m), np.tile(np.arange(m), n)
        if self.interactions_:  # the pair matrix only for views that read it
            X = _pairs(Xt, Xm, Xp, ti, mj)
        for c, models in self.interactions_.items():
            out[f"interaction/{c}"] = off + _predict_models(models, X).reshape(n, m)
        if "physics" in self.extras:
            ct, cm = self.plain_columns
            Xplain = _pairs(Xt[:, ct], Xm[:, cm], Xp, ti, mj)
            out["physics"] = off + _predict_models(self.physics_, Xplain).reshape(n, m)
        if "per_method" in self.extras:
            out["per_method"] = self._per_method(Xt, methods, off)
        if "neighbours" in self.extras:
            out["neighbours"] = self._neighbours(Xt, methods, off)
        if "latent" in self.extras:
            out["latent"] = self._latent(Xt, methods, off)
        return out

    def _per_method(self, Xt: np.ndarray, methods: Sequence[str], off: np.ndarray) -> np.ndarray:
        """Each forest's prediction minus the task's mean prediction over every method
        with a forest (the scale of the other views); the offset for the others."""
        if not self.forests_:
            return off.copy()
        pred = {m: f.predict(Xt) for m, f in self.forests_.items()}
        level = np.mean(list(pred.values()), axis=0)
        mean_off = np.mean([self.offsets_.get(m, self.default_offset_) for m in pred])
        return _place({m: p - level + mean_off for m, p in pred.items()}, methods, off)

    def _latent(self, Xt: np.ndarray, methods: Sequence[str], off: np.ndarray) -> np.ndarray:
        """The log of the predicted normalized performance, centred like ``per_method``
        (a task's mean over the training methods is their mean offset); the offset for a
        method never seen."""
        if self.latent_ is None:
            return off.copy()
        # a prediction of "hopeless" counts as 2 % of the best
        L = np.log(np.clip(self.latent_.predict(Xt), 0.02, None))
        L += np.mean(self.offsets(self.methods_)) - L.mean(1, keepdims=True)
        return _place(dict(zip(self.methods_, L.T, strict=True)), methods, off)

    def _neighbours(self, Xt: np.ndarray, methods: Sequence[str], off: np.ndarray) -> np.ndarray:
        """Distance-weighted mean advantage over the nearest training tasks that ran the
        method; the offset where none of them did."""
        if self.nn_ is None:
            return off.copy()
        dist, idx = self.nn_.kneighbors(Xt)
        w = 1.0 / (dist + 1e-6)
        col = {meth: j for j, meth in enumerate(self.methods_)}
        out = off.copy()
        for j, meth in enumerate(methods):
            if meth not in col:
                continue
            vals = self.nn_rows_[idx, col[meth]]  # n x k
            seen = ~np.isnan(vals)
            den = (w * seen).sum(1)
            num = np.nansum(vals * w, axis=1)
            out[:, j] = np.where(den > 0, num / np.where(den > 0, den, 1.0), off[:, j])
        return out
