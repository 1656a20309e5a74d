"""The one interface every selector shares.

``fit(table, features)`` learns from a :class:`~meta.table.PerformanceTable` and a
:class:`~meta.features.MetaFeaturizer` (refit on the same table here unless it is
already fitted); ``score(tasks, methods)`` returns a tasks x methods matrix where higher
means "expected to be faster"; ``rank(task)``, ``select(task, budget)`` and
``explain(task, budget)`` (the ranking with predicted metric, runtime, cost and budget
fit per method, and the choice with its reason) build on it.

Availability is enforced here, once, for every selector: ``rank`` only ever returns
methods listed as available for the task, so no subclass can pick a method that did
not run there.
"""

from __future__ import annotations

import hashlib
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from meta._threads import limited_threads
from meta.features import MetaFeaturizer
from meta.selectors.explanation import CandidateExplanation, Explanation
from meta.table import PerformanceTable, task_key

BUDGET_RTOL = 1e-9  # costs are products of floats: a cost equal to the budget fits


class BudgetNotSupportedError(TypeError):
    """Raised by ``select``/``explain(task, budget=...)`` on selectors that cannot predict
    cost."""


@dataclass
class Task:
    """A task to choose a method for.

    ``values`` holds the task-column values (model, hardware, workload, ...).
    ``available`` restricts the choice (``None``: every method the selector knows).
    ``price_per_second`` is a number or a ``{method: price}`` mapping, and ``work`` is
    the amount of work in the metric's unit (tokens for tokens/s; requests for a
    latency), so that runtime = work / performance and cost = runtime x price.
    """

    values: Mapping[str, Any]
    available: Sequence[str] | None = None
    price_per_second: float | Mapping[str, float] | None = None
    work: float = 1.0
    meta: dict[str, Any] = field(default_factory=dict)


def as_task(task: Task | Mapping[str, Any]) -> Task:
    if isinstance(task, Task):
        return task
    if isinstance(task, Mapping):
        values = dict(task)
        available = values.pop("available", None)
        price = values.pop("price_per_second", None)
        work = values.pop("work", 1.0)
        return Task(values=values, available=available, price_per_second=price, work=work)
    raise TypeError(f"task must be a Task or a mapping, not {type(task).__name__}")


def stable_uniform(*parts: Any) -> float:
    """A uniform number in [0, 1) fixed by its arguments (order-free randomness)."""
    h = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(h) / 2.0**64


class Selector(BaseEstimator, ABC):
    """Base class, a scikit-learn estimator: hyper-parameters are the ``__init__``
    arguments, stored verbatim (so ``get_params``, ``set_params`` and
    ``sklearn.base.clone`` work), learned state ends with ``_``.

    Class attributes say what kind of selector it is, so that evaluation and reports
    never go by display names: ``cost_aware`` (predicts absolute performance, hence
    runtime and cost), ``needs_features`` (uses a :class:`MetaFeaturizer`),
    ``is_oracle`` (looks the true answer up: fit on the whole table, a reference for
    evaluation only) and ``is_single_best`` (the single best solver, the reference of
    "gap closed").
    """

    name: ClassVar[str] = "Selector"
    cost_aware: ClassVar[bool] = False
    needs_features: ClassVar[bool] = True
    is_oracle: ClassVar[bool] = False
    is_single_best: ClassVar[bool] = False

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        table: PerformanceTable,
        features: MetaFeaturizer | None = None,
        groups: Sequence[Any] | np.ndarray | None = None,
    ) -> Selector:
        """Learn from ``table``; ``groups`` (one label per task, like scikit-learn's
        ``fit(X, y, groups)``) tells selectors that tune themselves by inner
        cross-validation which tasks belong together."""
        self._fit_groups = None if groups is None else np.asarray(groups, dtype=object)
        if self._fit_groups is not None and len(self._fit_groups) != table.n_tasks:
            raise ValueError("groups must have one label per task")
        self.methods_ = list(table.methods)
        self.task_cols_ = list(table.task_cols)
        self.lower_is_better_ = table.lower_is_better
        self.metric_ = table.metric
        if self.needs_features:
            if features is None:
                raise ValueError(f"{self.name} needs a MetaFeaturizer")
            if not hasattr(features, "task_cols_"):
                features = features.fit(table)
        self.features_ = features
        try:
            with limited_threads():
                self._fit(table)
        finally:
            del self._fit_groups  # transient: not part of the fitted state
        return self

    @abstractmethod
    def _fit(self, table: PerformanceTable) -> None: ...

    @abstractmethod
    def _score_known(self, tasks: list[Mapping[str, Any]]) -> np.ndarray:
        """Scores of the fitted methods (tasks x ``methods_``); higher is better."""

    def score(self, tasks: Sequence[Mapping[str, Any]], methods: Sequence[str]) -> np.ndarray:
        """tasks x methods scores, higher is better (not necessarily performance)."""
        check_is_fitted(self)
        with limited_threads():
            return self._score(list(tasks), list(methods))

    def _score(self, tasks: list[Mapping[str, Any]], methods: list[str]) -> np.ndarray:
        """Default: scores of fitted methods; methods unknown to the selector get -inf."""
        known = self._score_known(tasks)
        out = np.full((len(tasks), len(methods)), -np.inf)
        index = {m: j for j, m in enumerate(self.methods_)}
        for j, m in enumerate(methods):
            if m in index:
                out[:, j] = known[:, index[m]]
        return out

    # ------------------------------------------------------------------ choosing
    def _candidates(self, task: Task) -> list[str]:
        avail = list(task.available) if task.available is not None else list(self.methods_)
        return list(dict.fromkeys(avail))  # dedupe, keep order

    def rank(self, task: Task | Mapping[str, Any]) -> list[str]:
        """Available methods of ``task``, best first (ties: in the order given)."""
        check_is_fitted(self)
        task = as_task(task)
        cands = self._candidates(task)
        if not cands:
            return []
        scores = self.score([task.values], cands)[0]
        order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")
        return [cands[i] for i in order]

    def predict_log_performance(
        self, tasks: Sequence[Mapping[str, Any]], methods: Sequence[str]
    ) -> np.ndarray:
        """log of predicted (higher-is-better) performance; only cost-aware selectors."""
        check_is_fitted(self)
        if not self.cost_aware:
            raise BudgetNotSupportedError(f"{self.name} does not predict performance")
        with limited_threads():
            return self._predict_log_performance(list(tasks), list(methods))

    def _predict_log_performance(
        self, tasks: list[Mapping[str, Any]], methods: list[str]
    ) -> np.ndarray:
        raise BudgetNotSupportedError(f"{self.name} does not predict performance")

    def predict_runtime(self, task: Task | Mapping[str, Any], methods: Sequence[str]) -> np.ndarray:
        """Predicted seconds: work / performance (= latency x requests for latencies)."""
        task = as_task(task)
        logp = self.predict_log_performance([task.values], list(methods))[0]
        return task.work / np.exp(logp)

    def predict_cost(self, task: Task | Mapping[str, Any], methods: Sequence[str]) -> np.ndarray:
        task = as_task(task)
        return self.predict_runtime(task, methods) * _prices(task, methods)

    def select(self, task: Task | Mapping[str, Any], budget: float | None = None) -> str | None:
        """Best available method; with a budget, the best whose *predicted* cost fits.

        Returns ``None`` when no method is available, or when a budget is given and no
        method's predicted cost is within it. Selectors that cannot predict cost raise
        :class:`BudgetNotSupportedError` when given a budget. With a budget this is
        ``explain(task, budget).selected``.
        """
        if budget is not None:
            return self.explain(task, budget).selected
        ranked = self.rank(task)
        return ranked[0] if ranked else None

    def explain(self, task: Task | Mapping[str, Any], budget: float | None = None) -> Explanation:
        """The ranking of the task's available methods with, for cost-aware selectors,
        each one's predicted metric, runtime (s) and cost (with a price), whether it fits
        ``budget``, and the method chosen: the best-ranked one, or with a budget the
        best-ranked one whose predicted cost fits (``None``, with the reason, if none).

        Raises :class:`BudgetNotSupportedError` for a budget on a selector that cannot
        predict cost, and ``ValueError`` for a budget on a task without a price.
        """
        check_is_fitted(self)
        task = as_task(task)
        if budget is not None and not self.cost_aware:
            raise BudgetNotSupportedError(f"{self.name} cannot predict cost; select without budget")
        if budget is not None and task.price_per_second is None:
            raise ValueError("task has no price_per_second: cannot turn runtime into cost")
        ranking = self.rank(task)
        candidates = self._explain_candidates(task, ranking, budget)
        selected, reason = _choose(candidates, budget)
        return Explanation(
            selector=self.name,
            metric=self.metric_,
            lower_is_better=bool(self.lower_is_better_),
            candidates=candidates,
            selected=selected,
            reason=reason,
            work=float(task.work),
            budget=None if budget is None else float(budget),
        )

    def _explain_candidates(
        self, task: Task, ranking: list[str], budget: float | None
    ) -> tuple[CandidateExplanation, ...]:
        if not self.cost_aware or not ranking:
            return tuple(CandidateExplanation(m, r) for r, m in enumerate(ranking, 1))
        perf = np.exp(self.predict_log_performance([task.values], ranking)[0])
        metric = 1.0 / perf if self.lower_is_better_ else perf
        runtime = task.work / perf
        cost = runtime * _prices(task, ranking) if task.price_per_second is not None else None
        out = []
        for r, m in enumerate(ranking, 1):
            c = None if cost is None else _known(cost[r - 1])
            fits = (
                None if budget is None else bool(c is not None and c <= budget * (1 + BUDGET_RTOL))
            )
            out.append(
                CandidateExplanation(m, r, _known(metric[r - 1]), _known(runtime[r - 1]), c, fits)
            )
        return tuple(out)

    def fit_info(self) -> dict[str, Any]:
        """What the fit decided that a report should show (e.g. inner-CV choices)."""
        return {}


def _known(x: float) -> float | None:
    """A prediction, or ``None`` where there is none (NaN: e.g. the oracle on a method
    never measured for the task)."""
    return None if np.isnan(x) else float(x)


def _prices(task: Task, methods: Sequence[str]) -> np.ndarray:
    """Price per second of each method on this task (inf for a method without one)."""
    price = task.price_per_second
    if price is None:
        raise ValueError("task has no price_per_second: cannot turn runtime into cost")
    if isinstance(price, Mapping):
        return np.array([float(price.get(m, np.inf)) for m in methods])
    return np.full(len(methods), float(price))


def _choose(
    candidates: Sequence[CandidateExplanation], budget: float | None
) -> tuple[str | None, str]:
    """The best-ranked candidate (that fits the budget, with one), and why."""
    if not candidates:
        return None, "no method is available for this task"
    if budget is None:
        return candidates[0].method, "ranked first (no budget given)"
    fitting = [c for c in candidates if c.fits_budget]
    if not fitting:
        cheapest = min(candidates, key=lambda c: _nan_last(c.predicted_cost))
        return None, (
            f"no available method is predicted to fit the budget {budget:.6g} "
            f"(cheapest: {cheapest.method} at {cheapest.predicted_cost:.6g})"
        )
    best = fitting[0]
    skipped = best.rank - 1
    why = f"best-ranked method whose predicted cost {best.predicted_cost:.6g} fits the budget {budget:.6g}"
    if skipped:
        why += f"; {skipped} better-ranked method(s) predicted over budget"
    return best.method, why


def _nan_last(x: float | None) -> float:
    return np.inf if x is None else x


def task_keys_of(tasks: Sequence[Mapping[str, Any]], cols: Sequence[str]) -> list[str]:
    return [task_key([t[c] for c in cols]) for t in tasks]


def comparative_mask(table: PerformanceTable) -> np.ndarray:
    """Tasks with at least two measured methods: the only ones that say which is better."""
    return table.available.sum(axis=1) >= 2


def mean_normalized(table: PerformanceTable, rows: np.ndarray | None = None) -> np.ndarray:
    """Mean normalized performance per method over ``rows`` (NaN where never measured)."""
    norm = table.normalized
    if rows is not None:
        norm = norm[rows]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(norm, axis=0) if len(norm) else np.full(table.n_methods, np.nan)
