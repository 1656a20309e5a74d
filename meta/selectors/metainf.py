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

    w = sum over views v of  weight_v * view_v(t, m)

with the views ``b(m)`` (method offsets), ``b + g(t, m)`` (``g`` the pair regressor of
what the offsets leave: a least-squares *pairwise* loss, differences between methods of
one task whatever the task's speed; two tree capacities), ``b + g'`` (the same on
numbers only, no embeddings: ``physics``), per-method forests, neighbours and ALORS's
latent factors of normalized performance (``latent``), all on the same within-task
scale. How the views are weighed is learned by an *inner* grouped cross-validation on
the training tasks only (nothing about the test fold is used), in one of two ways:

* ``combine="stack"`` (default, a super learner): every view predicts the held-out groups
  of every inner fold; non-negative least squares of the measured within-task log
  performance on those out-of-fold predictions gives each view its weight. It fits a few
  weights on thousands of (task, method) pairs, so it is far less noisy than choosing by
  the pick score of a few dozen held-out tasks, and a view that does not transfer to
  unseen groups gets weight zero. The weights are averaged over bootstrap samples of
  the inner groups (``stack_bags``), so that with few groups (six training models) they
  do not hinge on which ones happen to be there; views left with a negligible share
  (``stack_min_share``) are dropped, so they cost nothing online. The stack replaces the SBS order (the
  offsets) only if its inner pick score is higher: where one method wins nearly
  everywhere, a good fit of the advantages can still pick worse than always taking it;
* ``combine="select"``: the equal-weight blend (shrinkage, tree capacity, views) with the
  best inner score, scored like the evaluation (mean normalized performance of the
  pick): the earlier rule, kept for the ablation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
from scipy.optimize import nnls
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge

from meta.selectors.base import Selector
from meta.selectors.views import EXTRA_VIEWS, GBM_PRESETS, ViewSet, additive_fit
from meta.table import PerformanceTable

__all__ = [
    "GBM_PRESETS",
    "MetaInfSelector",
    "additive_fit",
    "bagged_stack_weights",
    "prune_weights",
    "stack_weights",
]

COMBINES = ("stack", "select")
STACK_FOCUS = ("normalized", "uniform")
Blend = tuple[str | None, float, tuple[str, ...]]  # (tree capacity, shrinkage, extra views)
Weights = dict[str, float]  # view name -> weight


def blend_weights(blend: Blend) -> Weights:
    """One blend as weights of views: the equal-weight mean of its parts, the pair model
    ``b + s (g - b)`` (absent when the capacity is None) and the extra views."""
    complexity, s, extras = blend
    n = len(extras) + (complexity is not None)
    w = {v: 1.0 / n for v in extras}
    if complexity is not None:
        w["offsets"] = (1.0 - s) / n
        if s > 0:
            w[f"interaction/{complexity}"] = s / n
    return {v: x for v, x in w.items() if x > 0}


def mix(preds: Mapping[str, np.ndarray], weights: Weights) -> np.ndarray:
    """The weighted sum of the views' tasks x methods predictions."""
    return sum((w * preds[v] for v, w in weights.items()), np.zeros_like(preds["offsets"]))


def blend_scores(preds: Mapping[str, np.ndarray], blend: Blend) -> np.ndarray:
    return mix(preds, blend_weights(blend))


def _centred(M: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """``M`` minus each row's mean over its observed cells (NaN elsewhere)."""
    seen = obs & ~np.isnan(M)
    mean = np.where(seen, M, 0.0).sum(1, keepdims=True) / np.maximum(seen.sum(1, keepdims=True), 1)
    return np.where(seen, M - mean, np.nan)


@dataclass(frozen=True)
class StackProblem:
    """The super learner's least-squares problem, built once per fit: bootstrap samples
    of the groups only re-weigh its rows (row centring does not depend on the sample)."""

    names: list[str]
    design: np.ndarray  # observed (task, method) pairs x views: centred out-of-fold preds
    target: np.ndarray  # the pairs' task-centred log performance
    weight: np.ndarray  # the pairs' weights, every task's summing to one
    task: np.ndarray  # the task (row) of each pair

    @classmethod
    def build(
        cls, oof: Mapping[str, np.ndarray], Y: np.ndarray, focus: str = "normalized"
    ) -> StackProblem | None:
        """None when no task has two observed methods (nothing to weigh views by)."""
        if focus not in STACK_FOCUS:
            raise ValueError(f"focus must be one of {list(STACK_FOCUS)}, not {focus!r}")
        obs = ~np.isnan(Y)
        obs &= obs.sum(1, keepdims=True) >= 2  # a lone method says nothing within its task
        if not obs.any():
            return None
        W = np.where(obs, 1.0, 0.0)
        if focus == "normalized":
            Y0 = np.where(obs, Y, 0.0)
            best = np.where(obs, Y0, -np.inf).max(1, keepdims=True)
            W = np.where(obs, np.exp(Y0 - np.where(np.isfinite(best), best, 0.0)), 0.0)
        W = W / np.maximum(W.sum(1, keepdims=True), 1e-12)  # every task weighs the same
        names = list(oof)
        design = np.column_stack([_centred(oof[v], obs)[obs] for v in names])
        return cls(names, design, _centred(Y, obs)[obs], W[obs], np.nonzero(obs)[0])

    def solve(self, row_weights: np.ndarray | None = None) -> Weights:
        """Non-negative least squares; ``row_weights`` (one per task) multiply the pairs'."""
        w = self.weight
        if row_weights is not None:
            w = w * np.asarray(row_weights, dtype=float)[self.task]
        keep = w > 0
        if not keep.any():
            return {"offsets": 1.0}
        sw = np.sqrt(w[keep])
        x, _ = nnls(self.design[keep] * sw[:, None], self.target[keep] * sw)
        if x.sum() <= 1e-9:  # nothing transfers: keep the SBS order
            return {"offsets": 1.0}
        return {v: float(a) for v, a in zip(self.names, x, strict=True) if a > 1e-9}


def stack_weights(
    oof: Mapping[str, np.ndarray],
    Y: np.ndarray,
    focus: str = "normalized",
    row_weights: np.ndarray | None = None,
) -> Weights:
    """Non-negative least squares of the within-task (task-centred) log performance ``Y``
    on the views' out-of-fold predictions, every task weighing the same.

    ``focus="normalized"`` weighs each (task, method) pair by the method's normalized
    performance on the task (its speed over the task's best): the pick depends on how
    the fast methods compare, not on how slow a hopeless one is, which otherwise
    dominates squared errors. ``"uniform"`` weighs all pairs of a task alike. Weights are
    not renormalised: their sum is how far the views' advantages are to be believed,
    which keeps the absolute predictions used for budgets calibrated. ``row_weights``
    (one per task, >= 0) multiplies each task's weight: a bootstrap's multiplicities."""
    problem = StackProblem.build(oof, Y, focus)
    return {"offsets": 1.0} if problem is None else problem.solve(row_weights)


def bagged_stack_weights(
    oof: Mapping[str, np.ndarray],
    Y: np.ndarray,
    groups: np.ndarray,
    n_bags: int,
    focus: str = "normalized",
    seed: int = 0,
) -> Weights:
    """The mean of :func:`stack_weights` over ``n_bags`` bootstrap samples of the inner
    groups (``n_bags=0``: one fit on all of them).

    With few groups (six training models) the least-squares weights hinge on which
    groups happen to be there: a view that helps on two of the six gets weight zero if
    the other four outvote it, and the held-out group is yet another draw. Averaging
    the weights over resamples of the groups (bagging the super learner) keeps such a
    view in the blend with a weight that grows with how often it helps, which is what
    an unseen group calls for; a view that never helps still gets zero."""
    problem = StackProblem.build(oof, Y, focus)
    if problem is None:
        return {"offsets": 1.0}
    if n_bags <= 0:
        return problem.solve()
    groups = np.asarray(groups, dtype=object)
    position = {g: i for i, g in enumerate(sorted(set(groups), key=str))}
    index = np.array([position[g] for g in groups])
    n_groups = len(position)
    rng = np.random.default_rng(seed)
    total: dict[str, float] = {}
    for _ in range(n_bags):
        counts = np.bincount(rng.integers(0, n_groups, n_groups), minlength=n_groups)
        for v, x in problem.solve(row_weights=counts[index]).items():
            total[v] = total.get(v, 0.0) + x / n_bags
    return {v: x for v, x in total.items() if x > 1e-9}


def prune_weights(weights: Weights, min_share: float) -> Weights:
    """Drop the views whose weight is under ``min_share`` of the total and scale the rest
    up to the same total.

    Bagging averages in views that a few bootstrap samples liked: the per-method
    forests kept 0.9 % of the weight on the 10,000-task benchmark and cost 20 forests
    per select. A view that carries a negligible share barely moves a pick but is
    fitted and run on every request; keeping the total keeps the advantages' scale
    (and so the budget predictions) where the stack put it."""
    total = sum(weights.values())
    kept = {v: x for v, x in weights.items() if x >= min_share * total}
    if not kept or total <= 0:
        return dict(weights)
    scale = total / sum(kept.values())
    return {v: x * scale for v, x in kept.items()}


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
        ``"per_method"``, ``"neighbours"``, ``"physics"``, ``"latent"``); ``()`` for the
        pair model alone.
    combine: ``"stack"`` (weights of every view by non-negative least squares on the
        inner CV's out-of-fold predictions) or ``"select"`` (the best equal-weight blend
        by the inner CV's pick score); see the module docstring.
    stack_focus: how the super learner weighs (task, method) pairs: ``"normalized"``
        (by the method's normalized performance on the task) or ``"uniform"``; see
        :func:`stack_weights`.
    stack_bags: bootstrap samples of the inner groups whose stack weights are averaged
        (:func:`bagged_stack_weights`); 0 for one fit on all groups.
    stack_min_share: views whose stacked weight is under this share of the total are
        dropped (:func:`prune_weights`), so they are neither fitted nor run; 0 keeps all.
    blend: a fixed equal-weight blend instead of the inner CV's, written as the labels of
        :meth:`fit_info`: ``"large/1+per_method"``, ``"small/0"`` (the offsets alone),
        ``"per_method+neighbours"`` (no pair model); for ablations.
    use_pairs: give the pair regressor the pair physics features.
    inner_folds: folds of the inner grouped CV (on training tasks only), or one per
        group when there are at most twice as many groups. Its groups are
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
        combine: str = "stack",
        stack_focus: str = "normalized",
        stack_bags: int = 50,
        stack_min_share: float = 0.02,
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
        self.combine = combine
        self.stack_focus = stack_focus
        self.stack_bags = stack_bags
        self.stack_min_share = stack_min_share
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
        if self.stack_focus not in STACK_FOCUS:
            raise ValueError(f"stack_focus must be one of {list(STACK_FOCUS)}")
        if self.combine not in COMBINES:
            raise ValueError(f"combine must be one of {list(COMBINES)}, not {self.combine!r}")
        if int(self.stack_bags) != self.stack_bags or self.stack_bags < 0:
            raise ValueError(f"stack_bags must be an integer >= 0, not {self.stack_bags!r}")
        if not 0.0 <= self.stack_min_share < 1.0:
            raise ValueError(f"stack_min_share must be in [0, 1), not {self.stack_min_share!r}")
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

    def _view_set(self, names: Sequence[str]) -> ViewSet:
        """A ViewSet that fits the named views (``offsets`` always comes with it)."""
        mlp = dict(
            n_mlp=self.n_mlp,
            hidden=tuple(self.hidden),
            epochs=self.epochs,
            lr=self.lr,
            weight_decay=self.weight_decay,
            dropout=self.dropout,
        )
        complexities = sorted({v.split("/", 1)[1] for v in names if v.startswith("interaction/")})
        extras = sorted(v for v in set(names) if v in EXTRA_VIEWS)
        plain = (
            self.features_.block_slices()["numeric"],
            slice(self.features_.method_embedding_width(), None),
        )
        return ViewSet(
            self.estimator, complexities, extras, mlp, self.n_neighbors, self.random_state, plain
        )

    def _stacked_views(self) -> list[str]:
        """The views the super learner weighs: offsets, the pair model at each capacity
        and the extra views."""
        complexities = list(GBM_PRESETS) if self.complexity == "auto" else [self.complexity]
        return ["offsets", *(f"interaction/{c}" for c in complexities), *self.views]

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
        self.inner_scores_: dict[Any, float] = {}
        self.inner_groups_ = None
        self.blend_: Blend | None = None
        if self.blend is not None or self.combine == "select":
            blends = self._blends()
            self.blend_ = blends[0]
            if len(blends) > 1:
                names = sorted({v for b in blends for v in ("offsets", *blend_weights(b))})
                oof = self._out_of_fold(table, Xt, Xm, Xp, Y, names)
                if oof is not None:
                    self.inner_scores_ = {b: _pick_score(blend_scores(oof, b), Y) for b in blends}
                    top = max(self.inner_scores_.values())
                    self.blend_ = next(b for b in blends if self.inner_scores_[b] >= top - 1e-12)
            self.weights_ = blend_weights(self.blend_)
        else:
            names = self._stacked_views()
            oof = self._out_of_fold(table, Xt, Xm, Xp, Y, names)
            if oof is None:  # one group: nothing says what transfers; all views alike
                self.weights_ = {v: 1.0 / len(names) for v in names}
            else:
                rows = ~np.isnan(oof["offsets"]).all(1)
                oof_rows = {v: p[rows] for v, p in oof.items()}
                groups, _ = self._inner_groups(table)  # what the stack bootstraps
                bagged = bagged_stack_weights(
                    oof_rows,
                    Y[rows],
                    groups[rows],
                    int(self.stack_bags),
                    self.stack_focus,
                    self.random_state,
                )
                self.weights_ = prune_weights(bagged, float(self.stack_min_share))
                self.inner_scores_ = {v: _pick_score(oof[v], Y) for v in names}
                self.inner_scores_["stack"] = _pick_score(mix(oof, self.weights_), Y)
                if not self.inner_scores_["stack"] > self.inner_scores_["offsets"]:
                    # the stack fits the advantages but does not pick better than the SBS
                    # order on unseen groups: it does not get to change the picks
                    self.weights_ = {"offsets": 1.0}
        self.views_ = self._view_set(list(self.weights_)).fit(Xt, Xm, Xp, table.methods, Y)
        # task level a(t) from task features alone, for absolute predictions (budgets)
        self.level_models_ = [
            HistGradientBoostingRegressor(
                max_iter=200, learning_rate=0.05, random_state=self.random_state
            ).fit(Xt, self.views_.level_),
            Ridge(alpha=1.0).fit(Xt, self.views_.level_),
        ]

    @property
    def complexity_(self) -> str | None:
        return self.blend_[0] if self.blend_ else None

    @property
    def shrinkage_(self) -> float | None:
        return self.blend_[1] if self.blend_ else None

    @property
    def views_used_(self) -> tuple[str, ...]:
        return tuple(v for v in self.weights_ if v in EXTRA_VIEWS)

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

    def _out_of_fold(self, table, Xt, Xm, Xp, Y, names) -> dict[str, np.ndarray] | None:
        """Each named view's predictions for the tasks of the inner CV's held-out groups
        (tasks x methods, NaN rows for tasks never held out); None with one group. Every
        view is fitted once per fold."""
        from sklearn.model_selection import GroupKFold

        groups, source = self._inner_groups(table)
        self.inner_groups_ = source
        comp = (~np.isnan(Y)).sum(1) >= 2
        uniq = sorted(set(groups[comp]), key=str)
        if len(uniq) < 2:
            return None
        # few groups (leave one model of six out): leave each one out in turn, so that the
        # inner fits train on as many groups as the outer one, less one; views that need
        # more groups to extrapolate (per-method forests) are not judged on fewer
        k = len(uniq) if len(uniq) <= 2 * self.inner_folds else self.inner_folds
        if len(uniq) > k:  # deal groups to folds at random (seeded), not by size
            rng = np.random.default_rng(self.random_state)
            fold_of = {g: i % k for i, g in enumerate(rng.permutation(np.array(uniq, object)))}
            groups = np.array([fold_of.get(g, -1) for g in groups])
        views = self._view_set(names)
        oof = {v: np.full(Y.shape, np.nan) for v in names}
        for tr, va in GroupKFold(n_splits=k).split(Xt, groups=groups):
            va = va[comp[va]]
            if len(va) == 0:
                continue
            fitted = views.fit(Xt[tr], Xm, Xp[tr], table.methods, Y[tr])
            preds = fitted.predict(Xt[va], Xm, Xp[va], table.methods)
            for v in names:
                oof[v][va] = preds[v]
        return oof if not np.isnan(oof["offsets"]).all() else None

    def fit_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "combine": "fixed" if self.blend is not None else self.combine,
            "weights": {v: round(w, 4) for v, w in self.weights_.items()},
        }
        if self.blend_ is not None:
            info |= {
                "complexity": self.complexity_,
                "shrinkage": self.shrinkage_,
                "views": list(self.blend_[2]),
            }
        if self.inner_scores_:
            info["inner_groups"] = self.inner_groups_
            info["inner_normalized_performance"] = {
                (_blend_label(b) if isinstance(b, tuple) else b): round(v, 6)
                for b, v in self.inner_scores_.items()
            }
        return info

    # ------------------------------------------------------------------ predicting
    def _within_task(self, tasks: list[Mapping[str, Any]], Xt: np.ndarray, methods) -> np.ndarray:
        """The weighted views' within-task log performance, a tasks x methods matrix."""
        Xm = self._method_matrix(methods)
        preds = self.views_.predict(Xt, Xm, self._pair_tensor(tasks, methods), methods)
        return mix(preds, self.weights_)

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


def _pick_score(scores: np.ndarray, Y: np.ndarray) -> float:
    """Mean normalized performance of the argmax pick over the rows of ``scores`` that
    were predicted (held out) and have two or more measured methods."""
    rows = ~np.isnan(scores).all(1) & ((~np.isnan(Y)).sum(1) >= 2)
    if not rows.any():
        return float("nan")
    perf = np.exp(Y[rows])
    pick = np.argmax(np.where(np.isnan(Y[rows]), -np.inf, scores[rows]), axis=1)
    return float(np.mean(perf[np.arange(len(pick)), pick] / np.nanmax(perf, axis=1)))


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
