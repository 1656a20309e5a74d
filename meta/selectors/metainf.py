"""MetaInf (Du et al., COLM 2025): one predictor over [task embeddings, method embedding].

Every observed (task, method) pair is a training example: the input is the task's meta
features (model / hardware / workload embeddings plus numeric descriptors and physics),
the method's features (description embedding, numeric facts, one-hot id) and what the
method does on that task (:mod:`meta.physics`: effective batch, weight bytes per token,
speculation and prefix savings it can reach); the output is log performance. Online it
ranks the available methods by prediction and, with a budget, picks the best one whose
predicted cost (work / predicted performance x price) fits.

Log performance is decomposed as

    log perf(t, m) = a(t) + w(t, m),

``a`` the task's level (from an additive fit of the training matrix, predicted for new
tasks by a regressor of task features) and ``w`` the method's advantage within the task,
the only part that decides the ranking. ``w`` is a blend of views
(:mod:`meta.selectors.views`):

    w = mean over the blend's views of   b(m) + s * g(t, m)   [, forest_m(t)] [, kNN(t, m)]

where ``b`` are method offsets, ``g`` the pair regressor of what the offsets leave (a
least-squares *pairwise* loss: differences between methods of one task, whatever the
task's speed), ``s`` its shrinkage, and the optional views are per-method forests and
neighbours on the same within-task target. Which blend (shrinkage, tree capacity, views)
is chosen by an *inner* grouped cross-validation on the training tasks only, scored like
the evaluation (mean normalized performance of the pick): a part that has not shown on
unseen groups that it changes picks for the better does not get to change them. Nothing
about the test fold is used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge

from meta.selectors.base import Selector
from meta.selectors.views import EXTRA_VIEWS, GBM_PRESETS, ViewSet, additive_fit
from meta.table import PerformanceTable

__all__ = ["GBM_PRESETS", "MetaInfSelector", "additive_fit"]


Blend = tuple[str | None, float, tuple[str, ...]]  # (tree capacity, shrinkage, extra views)


def blend_scores(preds: Mapping[str, np.ndarray], blend: Blend) -> np.ndarray:
    """Within-task scores of one blend: the equal-weight mean of its parts, the pair
    model ``b + s g`` (absent when the capacity is None) and the extra views."""
    complexity, s, extras = blend
    parts = [preds[v] for v in extras]
    if complexity is not None:
        off = preds["offsets"]
        parts.append(off if s == 0 else off + s * (preds[f"interaction/{complexity}"] - off))
    return np.mean(parts, axis=0)


class MetaInfSelector(Selector):
    """The MetaInf selector.

    Parameters
    ----------
    estimator: pair regressor, ``"gbm"`` (boosted trees), ``"mlp"`` (torch MLPs) or
        ``"ensemble"`` (their average).
    shrinkage: weight ``s`` of the pair regressor against the method offsets, or
        ``"auto"``: chosen from ``shrinkage_grid`` by the inner CV.
    complexity: boosted-tree preset (``GBM_PRESETS``: ``"small"``, ``"large"``) or
        ``"auto"``: chosen by the inner CV.
    views: extra views the inner CV may average with the pair model (any of
        ``"per_method"``, ``"neighbours"``); ``()`` for the pair model alone.
    blend: a fixed blend instead of the inner CV's choice, written as the labels of
        :meth:`fit_info`: ``"large/1+per_method"``, ``"small/0"`` (the offsets alone),
        ``"per_method+neighbours"`` (no pair model); for ablations.
    use_pairs: give the pair regressor the pair physics features.
    inner_folds: folds of the inner grouped CV (on training tasks only). Its groups are
        the ``groups`` given to :meth:`fit` (evaluation passes its own split, so the
        inner CV asks the same question as the outer one: unseen hardware, unseen model,
        unseen task); without them, a model column, else hardware, else the task.
    n_neighbors: neighbours of the ``neighbours`` view.
    n_mlp, hidden, epochs, lr, weight_decay, dropout: MLP settings.
    """

    name = "MetaInf"
    cost_aware = True

    def __init__(
        self,
        estimator: str = "gbm",
        shrinkage: float | str = "auto",
        complexity: str = "auto",
        shrinkage_grid: Sequence[float] = (0.0, 0.5, 1.0),
        views: Sequence[str] = EXTRA_VIEWS,
        blend: str | None = None,
        use_pairs: bool = True,
        inner_folds: int = 4,
        n_neighbors: int = 5,
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
        self.views = views
        self.blend = blend
        self.use_pairs = use_pairs
        self.inner_folds = inner_folds
        self.n_neighbors = n_neighbors
        self.n_mlp = n_mlp
        self.hidden = hidden
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def _check_params(self) -> None:
        if self.estimator not in ("ensemble", "mlp", "gbm"):
            raise ValueError(f"unknown estimator {self.estimator!r}")
        if self.complexity not in ("auto", *GBM_PRESETS):
            raise ValueError(f"complexity must be 'auto' or one of {list(GBM_PRESETS)}")
        bad = set(self.views) - set(EXTRA_VIEWS)
        if bad:
            raise ValueError(f"unknown views {sorted(bad)} (have {list(EXTRA_VIEWS)})")

    def _blends(self) -> list[Blend]:
        """Candidate blends, simplest first (ties in the inner CV go to the first)."""
        if self.blend is not None:
            return [parse_blend(self.blend)]
        shrinks = (
            sorted({float(x) for x in self.shrinkage_grid})
            if self.shrinkage == "auto"
            else [float(self.shrinkage)]
        )
        complexities = list(GBM_PRESETS) if self.complexity == "auto" else [self.complexity]
        views = tuple(self.views)
        extras = [c for k in range(len(views) + 1) for c in combinations(views, k)]
        cores: list[tuple[str | None, float]] = [
            (c, s) for c in complexities for s in shrinks if s > 0 or c == complexities[0]
        ]  # s = 0 (the offsets alone) ignores the trees: one entry
        blends: list[Blend] = [(c, s, e) for e in extras for c, s in cores]
        # the extra views on their own, without the pair model
        return blends + [(None, 0.0, e) for e in extras if e]

    def _view_set(self, blends: Sequence[Blend]) -> ViewSet:
        mlp = dict(
            n_mlp=self.n_mlp,
            hidden=tuple(self.hidden),
            epochs=self.epochs,
            lr=self.lr,
            weight_decay=self.weight_decay,
            dropout=self.dropout,
        )
        complexities = sorted({b[0] for b in blends if b[0] is not None})
        extras = sorted({v for b in blends for v in b[2]})
        return ViewSet(
            self.estimator, complexities, extras, mlp, self.n_neighbors, self.random_state
        )

    def _method_matrix(self, methods: Sequence[str]) -> np.ndarray:
        missing = [m for m in methods if m not in self._method_cache]
        if missing:
            for m, row in zip(missing, self.features_.transform_methods(missing), strict=True):
                self._method_cache[m] = row
        return np.array([self._method_cache[m] for m in methods])

    def _pair_tensor(self, tasks: list[Mapping[str, Any]], methods: Sequence[str]) -> np.ndarray:
        if not self.use_pairs:
            return np.zeros((len(tasks), len(methods), 0))
        return self.features_.transform_pairs(tasks, methods)

    def _fit(self, table: PerformanceTable) -> None:
        self._check_params()
        self._method_cache: dict[str, np.ndarray] = {}
        tasks = table.task_dicts()
        Xt = self.features_.transform_tasks(tasks)
        Xm = self._method_matrix(table.methods)
        Xp = self._pair_tensor(tasks, table.methods)
        Y = table.log_performance
        blends = self._blends()
        self.inner_scores_: dict[Blend, float] = {}
        self.inner_groups_ = None
        self.blend_ = self._tune(table, Xt, Xm, Xp, Y, blends) if len(blends) > 1 else blends[0]
        self.views_ = self._view_set([self.blend_]).fit(Xt, Xm, Xp, table.methods, Y)
        # task level a(t) from task features alone, for absolute predictions (budgets)
        self.level_models_ = [
            HistGradientBoostingRegressor(
                max_iter=200, learning_rate=0.05, random_state=self.random_state
            ).fit(Xt, self.views_.level_),
            Ridge(alpha=1.0).fit(Xt, self.views_.level_),
        ]

    @property
    def complexity_(self) -> str:
        return self.blend_[0]

    @property
    def shrinkage_(self) -> float:
        return self.blend_[1]

    @property
    def views_used_(self) -> tuple[str, ...]:
        return self.blend_[2]

    def _inner_groups(self, table: PerformanceTable) -> tuple[np.ndarray, str]:
        """Groups for the inner CV: those passed to fit (when the training tasks hold two
        or more of them: leaving one of two hardware profiles out leaves one to train
        on), else a model column, else hardware, else any text column with 3+ values;
        else each task on its own."""
        if self._fit_groups is not None and len(set(self._fit_groups)) >= 2:
            return np.asarray(self._fit_groups, dtype=object), "given"
        roles = self.features_.roles_
        cols = [c for c in table.task_cols if c not in self.features_.numeric_cols_]
        for wanted in ("model", "hardware", "workload"):
            for c in cols:
                if roles.get(c) == wanted and table.tasks[c].nunique() >= 3:
                    return table.groups(c), c
        return table.groups(None), "task"

    def _tune(self, table, Xt, Xm, Xp, Y, blends):
        """Inner grouped CV over the blends, scored like the evaluation: mean normalized
        performance of the pick. Every view is fitted once per fold; each blend is then a
        weighted sum of their out-of-fold predictions."""
        from sklearn.model_selection import GroupKFold

        groups, source = self._inner_groups(table)
        self.inner_groups_ = source
        comp = (~np.isnan(Y)).sum(1) >= 2
        uniq = sorted(set(groups[comp]), key=str)
        if len(uniq) < 2:
            return blends[0]
        k = min(self.inner_folds, len(uniq))
        if len(uniq) > k:  # deal groups to folds at random (seeded), not by size
            rng = np.random.default_rng(self.random_state)
            fold_of = {g: i % k for i, g in enumerate(rng.permutation(np.array(uniq, object)))}
            groups = np.array([fold_of.get(g, -1) for g in groups])
        totals = dict.fromkeys(blends, 0.0)
        count = 0
        views = self._view_set(blends)
        for tr, va in GroupKFold(n_splits=k).split(Xt, groups=groups):
            va = va[comp[va]]
            if len(va) == 0:
                continue
            fitted = views.fit(Xt[tr], Xm, Xp[tr], table.methods, Y[tr])
            preds = fitted.predict(Xt[va], Xm, Xp[va], table.methods)
            perf = np.exp(Y[va])
            best = np.nanmax(perf, axis=1)
            rows = np.arange(len(va))
            for blend in blends:
                score = np.where(np.isnan(Y[va]), -np.inf, blend_scores(preds, blend))
                pick = np.argmax(score, axis=1)
                totals[blend] += float((perf[rows, pick] / best).sum())
            count += len(va)
        if count == 0:
            return blends[0]
        self.inner_scores_ = {b: v / count for b, v in totals.items()}
        top = max(self.inner_scores_.values())
        return next(b for b in blends if self.inner_scores_[b] >= top - 1e-12)

    def fit_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "complexity": self.complexity_,
            "shrinkage": self.shrinkage_,
            "views": list(self.views_used_),
        }
        if self.inner_scores_:
            info["inner_groups"] = self.inner_groups_
            info["inner_normalized_performance"] = {
                _blend_label(b): round(v, 6) for b, v in self.inner_scores_.items()
            }
        return info

    # ------------------------------------------------------------------ predicting
    def _within_task(self, tasks: list[Mapping[str, Any]], Xt: np.ndarray, methods) -> np.ndarray:
        """The chosen blend's within-task log performance, a tasks x methods matrix."""
        Xm = self._method_matrix(methods)
        preds = self.views_.predict(Xt, Xm, self._pair_tensor(tasks, methods), methods)
        return blend_scores(preds, self.blend_)

    def _score(self, tasks: list[Mapping[str, Any]], methods: list[str]) -> np.ndarray:
        """Predicted within-task log performance; works for methods never seen in training
        (median offset; their pair-model part comes from their features)."""
        Xt = self.features_.transform_tasks(tasks)
        return self._within_task(tasks, Xt, methods)

    def _score_known(self, tasks: list[Mapping[str, Any]]) -> np.ndarray:
        return self._score(tasks, self.methods_)

    def _predict_log_performance(
        self, tasks: list[Mapping[str, Any]], methods: list[str]
    ) -> np.ndarray:
        Xt = self.features_.transform_tasks(tasks)
        level = np.mean([m.predict(Xt) for m in self.level_models_], axis=0)
        return level[:, None] + self._within_task(tasks, Xt, methods)

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())  # a copy: the object keeps its cache
        state["_method_cache"] = {}
        return state


def parse_blend(label: str) -> Blend:
    """``"large/1+per_method"`` -> ("large", 1.0, ("per_method",)); see ``blend``."""
    parts = [p.strip() for p in label.split("+") if p.strip()]
    complexity: str | None = None
    shrink = 0.0
    if parts and "/" in parts[0]:
        complexity, _, value = parts.pop(0).partition("/")
        if complexity not in GBM_PRESETS:
            raise ValueError(f"blend {label!r}: capacity must be one of {list(GBM_PRESETS)}")
        try:
            shrink = float(value)
        except ValueError:
            raise ValueError(f"blend {label!r}: {value!r} is not a shrinkage") from None
    bad = set(parts) - set(EXTRA_VIEWS)
    if bad or (complexity is None and not parts):
        raise ValueError(f"blend {label!r}: views must be among {list(EXTRA_VIEWS)}")
    return complexity, shrink, tuple(parts)


def _blend_label(blend: Blend) -> str:
    complexity, s, extras = blend
    core = [] if complexity is None else [f"{complexity}/{s:g}"]
    return "+".join([*core, *extras])
