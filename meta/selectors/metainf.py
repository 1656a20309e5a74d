"""MetaInf (Du et al., COLM 2025): one predictor over [task embeddings, method embedding].

Every observed (task, method) pair is a training example: the input is the task's meta
features (model / hardware / workload embeddings plus numeric descriptors) next to the
method's features (description embedding, numeric facts, one-hot id); the output is log
performance. Online it ranks the available methods by prediction and, with a budget,
picks the best one whose predicted cost (work / predicted performance x price) fits.

Log performance is decomposed as

    log perf(t, m) = a(t) + b(m) + s * g(t, m),

``a`` (task level) and ``b`` (method offsets) from an additive fit of the training
matrix, ``g`` a regressor of the remaining interaction on [task features, method
features]. Only ``b + s*g`` matters for ranking; fitting ``g`` on residuals within each
task is a least-squares *pairwise* loss (differences between methods of one task,
whatever the task's overall speed). A second regressor predicts ``a(t)`` from task
features alone, so that the sum is an absolute prediction for budgets.

``s`` (shrinkage) says how far the learned interaction may move the ranking away from
the offsets. With ``shrinkage="auto"`` it is chosen by an *inner* grouped
cross-validation on the training tasks only (groups: the values of a model or hardware
column), so a model that does not transfer to unseen models falls back towards the
offsets instead of flipping rankings on noise. Nothing about the test fold is used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge

from meta.selectors.base import Selector
from meta.table import PerformanceTable


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


class _InteractionModel:
    """Offsets ``b`` plus a regressor of the interaction ``g``; one fit of the core model."""

    def __init__(self, sel: MetaInfSelector) -> None:
        self.sel = sel

    def fit(self, Xt: np.ndarray, Xm: np.ndarray, methods: Sequence[str], Y: np.ndarray):
        sel = self.sel
        a, b = additive_fit(Y)
        measured = (~np.isnan(Y)).sum(0) > 0
        self.offsets_ = {m: float(v) for m, v, ok in zip(methods, b, measured, strict=True) if ok}
        # a method never measured here gets the median offset: no reason to prefer it
        self.default_offset_ = float(np.median(list(self.offsets_.values()) or [0.0]))
        self.level_ = a
        ti, mj = np.nonzero(~np.isnan(Y))
        # only tasks with two or more methods say anything about the within-task part
        comparative = (~np.isnan(Y)).sum(1) >= 2
        keep = comparative[ti] if comparative.any() else np.ones(len(ti), bool)
        ti, mj = ti[keep], mj[keep]
        resid = Y[ti, mj] - a[ti] - b[mj]
        X = np.hstack([Xt[ti], Xm[mj]])
        self.x_mean_ = X.mean(0)
        std = X.std(0)
        self.x_scale_ = np.where(std > 1e-8, std, 1.0)
        Xs = self._scaled(X)
        w = 1.0 / np.bincount(ti, minlength=len(Y))[ti]  # every task weighs the same
        self.models_: list[tuple[str, Any]] = []
        if sel.estimator in ("ensemble", "mlp"):
            for k in range(sel.n_mlp):
                mlp = _TorchMLP(
                    sel.hidden,
                    sel.epochs,
                    sel.lr,
                    sel.weight_decay,
                    sel.dropout,
                    seed=sel.random_state * 1000 + k,
                )
                self.models_.append(("mlp", mlp.fit(Xs, resid, w)))
        if sel.estimator in ("ensemble", "gbm"):
            gbm = HistGradientBoostingRegressor(
                max_iter=sel.gbm_iter,
                learning_rate=sel.gbm_lr,
                max_leaf_nodes=sel.gbm_leaves,
                min_samples_leaf=sel.gbm_min_leaf,
                l2_regularization=1.0,
                early_stopping=False,
                random_state=sel.random_state,
            )
            self.models_.append(("gbm", gbm.fit(X, resid, sample_weight=w)))
        return self

    def _scaled(self, X: np.ndarray) -> np.ndarray:
        # MLPs extrapolate linearly: clip what lies far outside the training range
        return np.clip((X - self.x_mean_) / self.x_scale_, -4.0, 4.0)

    def predict(
        self, Xt: np.ndarray, Xm: np.ndarray, methods: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(offsets, interaction), each tasks x methods."""
        n, m = len(Xt), len(methods)
        X = np.hstack([np.repeat(Xt, m, axis=0), np.tile(Xm, (n, 1))])
        Xs = self._scaled(X)
        inter = np.mean(
            [model.predict(Xs if kind == "mlp" else X) for kind, model in self.models_], axis=0
        )
        off = np.array([self.offsets_.get(meth, self.default_offset_) for meth in methods])
        return np.broadcast_to(off, (n, m)), inter.reshape(n, m)


class MetaInfSelector(Selector):
    """The MetaInf selector.

    Parameters
    ----------
    estimator: interaction model, ``"gbm"`` (boosted trees), ``"mlp"`` (torch MLPs) or
        ``"ensemble"`` (their average).
    shrinkage: weight ``s`` of the learned interaction against the method offsets, or
        ``"auto"``: chosen from ``shrinkage_grid`` by inner grouped CV on training tasks.
    inner_folds: folds of that inner CV.
    gbm_*: boosted-tree settings (``gbm_min_leaf`` keeps interactions that only a few
        measurements support out of the model).
    n_mlp, hidden, epochs, lr, weight_decay, dropout: MLP settings.
    """

    name = "MetaInf"
    cost_aware = True

    def __init__(
        self,
        estimator: str = "gbm",
        shrinkage: float | str = "auto",
        shrinkage_grid: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
        inner_folds: int = 4,
        gbm_iter: int = 200,
        gbm_lr: float = 0.05,
        gbm_leaves: int = 8,
        gbm_min_leaf: int = 20,
        n_mlp: int = 3,
        hidden: Sequence[int] = (64, 32),
        epochs: int = 100,
        lr: float = 3e-3,
        weight_decay: float = 1e-2,
        dropout: float = 0.1,
        random_state: int = 0,
    ) -> None:
        self.estimator = estimator
        self.shrinkage = shrinkage
        self.shrinkage_grid = shrinkage_grid
        self.inner_folds = inner_folds
        self.gbm_iter = gbm_iter
        self.gbm_lr = gbm_lr
        self.gbm_leaves = gbm_leaves
        self.gbm_min_leaf = gbm_min_leaf
        self.n_mlp = n_mlp
        self.hidden = hidden
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def _method_matrix(self, methods: Sequence[str]) -> np.ndarray:
        missing = [m for m in methods if m not in self._method_cache]
        if missing:
            for m, row in zip(missing, self.features_.transform_methods(missing), strict=True):
                self._method_cache[m] = row
        return np.array([self._method_cache[m] for m in methods])

    def _fit(self, table: PerformanceTable) -> None:
        if self.estimator not in ("ensemble", "mlp", "gbm"):
            raise ValueError(f"unknown estimator {self.estimator!r}")
        self._method_cache: dict[str, np.ndarray] = {}
        Xt = self.features_.transform_tasks(table.task_dicts())
        Xm = self._method_matrix(table.methods)
        Y = table.log_performance
        if self.shrinkage == "auto":
            self.shrinkage_, self.inner_scores_ = self._choose_shrinkage(table, Xt, Xm, Y)
        else:
            self.shrinkage_ = float(self.shrinkage)
        self.core_ = _InteractionModel(self).fit(Xt, Xm, table.methods, Y)
        # task level a(t) from task features alone, for absolute predictions (budgets)
        self.level_models_ = [
            HistGradientBoostingRegressor(
                max_iter=200, learning_rate=0.05, random_state=self.random_state
            ).fit(Xt, self.core_.level_),
            Ridge(alpha=1.0).fit(Xt, self.core_.level_),
        ]

    def _inner_groups(self, table: PerformanceTable) -> np.ndarray:
        """Groups for the inner CV: a model column, else hardware, else any text column
        with 3+ values (transfer to unseen entities is what matters); else the task."""
        roles = self.features_.roles_
        cols = [c for c in table.task_cols if c not in self.features_.numeric_cols_]
        for wanted in ("model", "hardware", "workload"):
            for c in cols:
                if roles.get(c) == wanted and table.tasks[c].nunique() >= 3:
                    return table.groups(c)
        return table.groups(None)

    def _choose_shrinkage(self, table, Xt, Xm, Y) -> tuple[float, dict[float, float]]:
        from sklearn.model_selection import GroupKFold

        grid = sorted({float(s) for s in self.shrinkage_grid})
        groups = self._inner_groups(table)
        comp = (~np.isnan(Y)).sum(1) >= 2
        n_groups = len(set(groups[comp]))
        if n_groups < 2:
            return grid[-1], {}
        totals = dict.fromkeys(grid, 0.0)
        count = 0
        cv = GroupKFold(n_splits=min(self.inner_folds, n_groups))
        for tr, va in cv.split(Xt, groups=groups):
            va = va[comp[va]]
            if len(va) == 0:
                continue
            core = _InteractionModel(self).fit(Xt[tr], Xm, table.methods, Y[tr])
            off, inter = core.predict(Xt[va], Xm, table.methods)
            perf = np.exp(Y[va])
            best = np.nanmax(perf, axis=1)
            for s in grid:
                score = np.where(np.isnan(Y[va]), -np.inf, off + s * inter)
                pick = np.argmax(score, axis=1)
                totals[s] += float((perf[np.arange(len(va)), pick] / best).sum())
            count += len(va)
        if count == 0:
            return grid[-1], {}
        means = {s: totals[s] / count for s in grid}
        top = max(means.values())
        # ties go to the *smallest* shrinkage (Occam): an interaction that has not shown
        # it changes picks for the better on unseen groups is not trusted to change them
        return min(s for s in grid if means[s] >= top - 1e-12), means

    def fit_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"shrinkage": self.shrinkage_}
        if getattr(self, "inner_scores_", None):
            info["inner_normalized_performance"] = {
                str(k): round(v, 6) for k, v in self.inner_scores_.items()
            }
        return info

    # ------------------------------------------------------------------ predicting
    def _within_task(self, Xt: np.ndarray, methods: Sequence[str]) -> np.ndarray:
        """b(m) + s * g(t, m), a tasks x methods matrix."""
        off, inter = self.core_.predict(Xt, self._method_matrix(methods), methods)
        return off + self.shrinkage_ * inter

    def _score(self, tasks: list[Mapping[str, Any]], methods: list[str]) -> np.ndarray:
        """Predicted within-task log performance; works for methods never seen in training
        (median offset; their interaction comes from their features)."""
        Xt = self.features_.transform_tasks(tasks)
        return self._within_task(Xt, methods)

    def _score_known(self, tasks: list[Mapping[str, Any]]) -> np.ndarray:
        return self._score(tasks, self.methods_)

    def _predict_log_performance(
        self, tasks: list[Mapping[str, Any]], methods: list[str]
    ) -> np.ndarray:
        Xt = self.features_.transform_tasks(tasks)
        level = np.mean([m.predict(Xt) for m in self.level_models_], axis=0)
        return level[:, None] + self._within_task(Xt, list(methods))

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_method_cache"] = {}
        return state
