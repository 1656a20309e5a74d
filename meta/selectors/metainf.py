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
from sklearn.preprocessing import StandardScaler

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


# Boosted-tree capacities the inner CV chooses between: "small" only keeps interactions
# that many measurements support; "large" can fit narrow niches (one engine winning for
# one model family on one GPU), which pays off only where such niches recur.
GBM_PRESETS: dict[str, dict[str, Any]] = {
    "small": dict(max_leaf_nodes=8, min_samples_leaf=20, max_iter=200, learning_rate=0.05),
    "large": dict(max_leaf_nodes=31, min_samples_leaf=5, max_iter=400, learning_rate=0.05),
}


class _InteractionModel:
    """Offsets ``b`` plus a regressor of the interaction ``g``: one fit of the core model."""

    def __init__(self, estimator: str, complexity: str, mlp: dict[str, Any], seed: int) -> None:
        self.estimator = estimator
        self.complexity = complexity
        self.mlp = mlp
        self.seed = seed

    def fit(self, Xt: np.ndarray, Xm: np.ndarray, methods: Sequence[str], Y: np.ndarray):
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
        w = 1.0 / np.bincount(ti, minlength=len(Y))[ti]  # every task weighs the same
        self.models_: list[tuple[str, Any]] = []
        if self.estimator in ("ensemble", "mlp"):
            self.scaler_ = StandardScaler().fit(X)
            Xs = self._scaled(X)
            for k in range(self.mlp["n_mlp"]):
                net = _TorchMLP(
                    self.mlp["hidden"],
                    self.mlp["epochs"],
                    self.mlp["lr"],
                    self.mlp["weight_decay"],
                    self.mlp["dropout"],
                    seed=self.seed * 1000 + k,
                )
                self.models_.append(("mlp", net.fit(Xs, resid, w)))
        if self.estimator in ("ensemble", "gbm"):
            gbm = HistGradientBoostingRegressor(
                **GBM_PRESETS[self.complexity],
                l2_regularization=1.0,
                early_stopping=False,
                random_state=self.seed,
            )
            self.models_.append(("gbm", gbm.fit(X, resid, sample_weight=w)))
        return self

    def _scaled(self, X: np.ndarray) -> np.ndarray:
        # MLPs extrapolate linearly: clip what lies far outside the training range
        return np.clip(self.scaler_.transform(X), -4.0, 4.0)

    def predict(
        self, Xt: np.ndarray, Xm: np.ndarray, methods: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(offsets, interaction), each tasks x methods."""
        n, m = len(Xt), len(methods)
        X = np.hstack([np.repeat(Xt, m, axis=0), np.tile(Xm, (n, 1))])
        preds = []
        for kind, model in self.models_:
            preds.append(model.predict(self._scaled(X) if kind == "mlp" else X))
        inter = np.mean(preds, axis=0)
        off = np.array([self.offsets_.get(meth, self.default_offset_) for meth in methods])
        return np.broadcast_to(off, (n, m)), inter.reshape(n, m)


class MetaInfSelector(Selector):
    """The MetaInf selector.

    Parameters
    ----------
    estimator: interaction model, ``"gbm"`` (boosted trees), ``"mlp"`` (torch MLPs) or
        ``"ensemble"`` (their average).
    shrinkage: weight ``s`` of the learned interaction against the method offsets, or
        ``"auto"``: chosen from ``shrinkage_grid`` by the inner CV.
    complexity: boosted-tree preset (``GBM_PRESETS``: ``"small"``, ``"large"``) or
        ``"auto"``: chosen by the inner CV.
    inner_folds: folds of the inner grouped CV (on training tasks only). Its groups are
        the ``groups`` given to :meth:`fit` (evaluation passes its own split, so the
        inner CV asks the same question as the outer one: unseen hardware, unseen model,
        unseen task); without them, a model column, else hardware, else the task.
    n_mlp, hidden, epochs, lr, weight_decay, dropout: MLP settings.
    """

    name = "MetaInf"
    cost_aware = True

    def __init__(
        self,
        estimator: str = "gbm",
        shrinkage: float | str = "auto",
        complexity: str = "auto",
        shrinkage_grid: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
        inner_folds: int = 4,
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
        self.complexity = complexity
        self.shrinkage_grid = shrinkage_grid
        self.inner_folds = inner_folds
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

    def _core(self, complexity: str) -> _InteractionModel:
        mlp = dict(
            n_mlp=self.n_mlp,
            hidden=tuple(self.hidden),
            epochs=self.epochs,
            lr=self.lr,
            weight_decay=self.weight_decay,
            dropout=self.dropout,
        )
        return _InteractionModel(self.estimator, complexity, mlp, self.random_state)

    def _fit(self, table: PerformanceTable) -> None:
        if self.estimator not in ("ensemble", "mlp", "gbm"):
            raise ValueError(f"unknown estimator {self.estimator!r}")
        if self.complexity not in ("auto", *GBM_PRESETS):
            raise ValueError(f"complexity must be 'auto' or one of {list(GBM_PRESETS)}")
        self._method_cache: dict[str, np.ndarray] = {}
        Xt = self.features_.transform_tasks(table.task_dicts())
        Xm = self._method_matrix(table.methods)
        Y = table.log_performance
        shrinks = (
            sorted({float(x) for x in self.shrinkage_grid})
            if self.shrinkage == "auto"
            else [float(self.shrinkage)]
        )
        complexities = ["small", "large"] if self.complexity == "auto" else [self.complexity]
        self.inner_scores_: dict[tuple[str, float], float] = {}
        self.inner_groups_ = None
        if len(shrinks) * len(complexities) > 1:
            self.complexity_, self.shrinkage_ = self._tune(table, Xt, Xm, Y, complexities, shrinks)
        else:
            self.complexity_, self.shrinkage_ = complexities[0], shrinks[0]
        self.core_ = self._core(self.complexity_).fit(Xt, Xm, table.methods, Y)
        # task level a(t) from task features alone, for absolute predictions (budgets)
        self.level_models_ = [
            HistGradientBoostingRegressor(
                max_iter=200, learning_rate=0.05, random_state=self.random_state
            ).fit(Xt, self.core_.level_),
            Ridge(alpha=1.0).fit(Xt, self.core_.level_),
        ]

    def _inner_groups(self, table: PerformanceTable) -> tuple[np.ndarray, str]:
        """Groups for the inner CV: those passed to fit, else a model column, else
        hardware, else any text column with 3+ values; else each task on its own."""
        if self._fit_groups is not None:
            return np.asarray(self._fit_groups, dtype=object), "given"
        roles = self.features_.roles_
        cols = [c for c in table.task_cols if c not in self.features_.numeric_cols_]
        for wanted in ("model", "hardware", "workload"):
            for c in cols:
                if roles.get(c) == wanted and table.tasks[c].nunique() >= 3:
                    return table.groups(c), c
        return table.groups(None), "task"

    def _tune(self, table, Xt, Xm, Y, complexities, shrinks) -> tuple[str, float]:
        """Inner grouped CV over (complexity, shrinkage), scored like the evaluation:
        mean normalized performance of the pick. Ties go to the simplest candidate
        (small model, then the smallest shrinkage): an interaction that has not shown
        it changes picks for the better on unseen groups is not trusted to change them."""
        from sklearn.model_selection import GroupKFold

        groups, source = self._inner_groups(table)
        self.inner_groups_ = source
        comp = (~np.isnan(Y)).sum(1) >= 2
        uniq = sorted(set(groups[comp]), key=str)
        simplest = (complexities[0], shrinks[0])
        if len(uniq) < 2:
            return simplest
        k = min(self.inner_folds, len(uniq))
        if len(uniq) > k:  # deal groups to folds at random (seeded), not by size
            rng = np.random.default_rng(self.random_state)
            fold_of = {g: i % k for i, g in enumerate(rng.permutation(np.array(uniq, object)))}
            groups = np.array([fold_of.get(g, -1) for g in groups])
        totals = {(c, s): 0.0 for c in complexities for s in shrinks}
        count = 0
        for tr, va in GroupKFold(n_splits=k).split(Xt, groups=groups):
            va = va[comp[va]]
            if len(va) == 0:
                continue
            perf = np.exp(Y[va])
            best = np.nanmax(perf, axis=1)
            rows = np.arange(len(va))
            for c in complexities:
                core = self._core(c).fit(Xt[tr], Xm, table.methods, Y[tr])
                off, inter = core.predict(Xt[va], Xm, table.methods)
                for s in shrinks:
                    score = np.where(np.isnan(Y[va]), -np.inf, off + s * inter)
                    pick = np.argmax(score, axis=1)
                    totals[(c, s)] += float((perf[rows, pick] / best).sum())
            count += len(va)
        if count == 0:
            return simplest
        self.inner_scores_ = {key: v / count for key, v in totals.items()}
        top = max(self.inner_scores_.values())
        order = [(c, s) for c in complexities for s in shrinks]  # simplest first
        return next(key for key in order if self.inner_scores_[key] >= top - 1e-12)

    def fit_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"complexity": self.complexity_, "shrinkage": self.shrinkage_}
        if self.inner_scores_:
            info["inner_groups"] = self.inner_groups_
            info["inner_normalized_performance"] = {
                f"{c}/{s:g}": round(v, 6) for (c, s), v in self.inner_scores_.items()
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
        return level[:, None] + self._within_task(Xt, methods)

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())  # a copy: the object keeps its cache
        state["_method_cache"] = {}
        return state
