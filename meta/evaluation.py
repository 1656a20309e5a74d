"""Leave-one-group-out evaluation of selectors, and the metrics that summarize it.

For every group value (a hardware, a model, a workload, or each task on its own) the
selectors are fit on all *other* tasks (featurizer included) and asked to choose for the
held-out tasks, among the methods that were actually measured there. Metrics are pooled
over all held-out tasks (each task counts once, whatever its fold):

* ``top1_accuracy``: the chosen method is the best available one (ties count);
* ``normalized_performance``: chosen / best available performance (1 is perfect);
* ``regret``: log(best / chosen), i.e. how many e-folds slower than the best (0 is perfect);
* ``gap_closed``: (NP - NP_SBS) / (NP_VBS - NP_SBS) on normalized performance NP;
* ``ndcg3``: NDCG@3 of the selector's ranking with normalized performance as gain;
* ``budget_feasibility``: with budgets, the share of tasks (among those where some
  method truly fits) whose chosen method's *true* cost is within budget;
* ``budget_performance``: on the same tasks, the pick's performance over the best
  method's *within budget* (0 when the pick does not fit: that job fails);
* ``wilcoxon_p``: Wilcoxon signed-rank test of per-task normalized performance against
  the best non-oracle baseline (the best selector other than the ``candidate``);
* ``ci95``: percentile bootstrap 95% interval of normalized performance (tasks
  resampled, the same resamples for every selector).

Selectors are told apart by what they are, not by their names: an oracle
(``Selector.is_oracle``) is fit on the whole table, since it looks the answer up, and is
the top of "gap closed"; the single best solver (``Selector.is_single_best``) is its
bottom. The ``candidate`` (a name, by default ``"MetaInf"``) is the selector under test,
left out of the "best baseline" it is compared with.

Tasks with fewer than ``min_methods`` measured methods are still used for training but
not scored: with one method every selector is trivially right.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import bootstrap, wilcoxon
from sklearn.base import clone
from sklearn.metrics import ndcg_score

from meta.features import MetaFeaturizer
from meta.selectors import Selector, default_selectors
from meta.selectors.base import BUDGET_RTOL, Task
from meta.table import PerformanceTable

DEFAULT_CANDIDATE = "MetaInf"


@dataclass
class Budgets:
    """Per-task budgets for feasibility: cost = work / performance x price.

    ``price`` is per task (shape n_tasks) or per task and method (n_tasks x n_methods),
    in currency per second; ``work`` per task; ``budget`` per task. Arrays follow the
    order of the evaluated table's tasks and methods.
    """

    budget: np.ndarray
    price: np.ndarray
    work: np.ndarray

    def price_matrix(self, n_methods: int) -> np.ndarray:
        p = np.asarray(self.price, dtype=float)
        return p if p.ndim == 2 else np.repeat(p[:, None], n_methods, axis=1)

    @classmethod
    def from_quantile(
        cls,
        table: PerformanceTable,
        q: float,
        price: np.ndarray | None = None,
        work: np.ndarray | None = None,
    ) -> Budgets:
        """Budget of each task = the q-quantile of the true costs of its measured methods
        (NaN for a task where no method has a finite cost)."""
        n = table.n_tasks
        price = np.ones(n) if price is None else np.asarray(price, float)
        work = np.ones(n) if work is None else np.asarray(work, float)
        b = cls(budget=np.zeros(n), price=price, work=work)
        cost = true_costs(table, b)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows, masked below
            quantile = np.nanquantile(cost, q, axis=1)
        b.budget = np.where(np.isfinite(cost).any(axis=1), quantile, np.nan)
        return b


def true_costs(table: PerformanceTable, budgets: Budgets) -> np.ndarray:
    runtime = budgets.work[:, None] / table.performance
    return runtime * budgets.price_matrix(table.n_methods)


def ndcg_at_k(order: np.ndarray, gains: np.ndarray, k: int = 3) -> float:
    """NDCG@k of a ranking (all indices into ``gains``, best first) with non-negative
    gains, through :func:`sklearn.metrics.ndcg_score`.

    The definition is sklearn's (linear gain, discount 1 / log2(position + 1), ideal
    DCG from the sorted gains), applied to the ranking the selector *serves*: sklearn
    ranks by a score and averages over tied scores, whereas a selector breaks ties by
    the order of the methods, so the score given to sklearn is the position in
    ``order`` (no ties). A single method is trivially ranked right (1.0).
    """
    gains = np.asarray(gains, dtype=float)
    if len(gains) < 2:
        return 1.0
    position_score = np.empty(len(gains))
    position_score[np.asarray(order)] = np.arange(len(gains), 0, -1)
    return float(ndcg_score(gains[None, :], position_score[None, :], k=k, ignore_ties=True))


def bootstrap_ci(
    values: np.ndarray, n_resamples: int, random_state: int = 0, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (:func:`scipy.stats.bootstrap`).

    A fresh generator seeded with ``random_state`` per call: every selector's interval
    comes from the same resampled tasks (paired), whatever the order of the calls.
    """
    values = np.asarray(values, dtype=float)
    if len(values) < 2:  # nothing to resample
        m = float(values.mean()) if len(values) else math.nan
        return m, m
    res = bootstrap(
        (values,),
        np.mean,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        vectorized=True,
        rng=np.random.default_rng(random_state),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


@dataclass
class EvaluationResult:
    """Per-task records of every selector plus the pooled summary."""

    records: pd.DataFrame
    table: PerformanceTable
    group_by: str | None
    groups: list[str]  # held-out groups that had tasks to score
    min_methods: int
    groups_skipped: list[str] = field(default_factory=list)
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)
    best_baseline: str | None = None
    n_bootstrap: int = 1000
    random_state: int = 0
    fit_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    candidate: str | None = DEFAULT_CANDIDATE  # the selector under test
    oracles: list[str] = field(default_factory=list)  # names of the is_oracle selectors
    single_best: str | None = None  # name of the (first) is_single_best selector

    def selector_names(self) -> list[str]:
        return list(dict.fromkeys(self.records["selector"]))

    def per_task(self, value: str = "normalized") -> pd.DataFrame:
        """One row per held-out task (sorted by key), one column per selector."""
        return self.records.pivot(index="task", columns="selector", values=value)

    def to_dict(self) -> dict[str, Any]:
        """The CLI's JSON: the required keys first, then the extras."""
        return {
            "n_tasks": int(self.table.n_tasks),
            "n_methods": int(self.table.n_methods),
            "groups": list(self.groups),
            "selectors": self.summary,
            "groups_skipped": list(self.groups_skipped),
            "n_eval_tasks": int(self.records["task"].nunique()) if len(self.records) else 0,
            "group_by": self.group_by or "task",
            "metric": self.table.metric,
            "lower_is_better": bool(self.table.lower_is_better),
            "methods": list(self.table.methods),
            "min_methods": self.min_methods,
            "candidate": self.candidate,
            "best_baseline": self.best_baseline,
            "per_group": self.per_group(),
            "fit_info": self.fit_info,
        }

    def per_group(self) -> dict[str, dict[str, float]]:
        """Mean normalized performance per held-out group and selector."""
        if self.records.empty:
            return {}
        piv = self.records.pivot_table(
            index="group", columns="selector", values="normalized", aggfunc="mean"
        )
        return {
            str(g): {s: round(float(v), 6) for s, v in row.items() if not math.isnan(v)}
            for g, row in piv.iterrows()
        }

    def to_markdown(self, digits: int = 3) -> str:
        cols = [
            ("top1_accuracy", "top-1 acc"),
            ("normalized_performance", "norm. perf"),
            ("ci95", "95% CI"),
            ("regret", "log regret"),
            ("gap_closed", "gap closed"),
            ("ndcg3", "NDCG@3"),
            ("budget_feasibility", "budget feas."),
            ("budget_performance", "perf. in budget"),
            ("wilcoxon_p", f"p vs {self.best_baseline}"),
        ]
        present = [c for c in cols if any(c[0] in s for s in self.summary.values())]
        lines = [
            "| selector | " + " | ".join(h for _, h in present) + " |",
            "|---|" + "---:|" * len(present),
        ]
        for name, s in self.summary.items():
            cells = [_markdown_cell(key, s.get(key), digits) for key, _ in present]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


def _markdown_cell(key: str, v: Any, digits: int) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if key == "ci95":
        return f"[{v[0]:.{digits}f}, {v[1]:.{digits}f}]"
    if key == "wilcoxon_p":
        return f"{v:.2g}"
    return f"{v:.{digits}f}"


@dataclass
class _Fold:
    """One held-out group: the training table and the tasks to score."""

    label: str
    train: PerformanceTable
    train_groups: np.ndarray
    test_idx: np.ndarray
    test_dicts: list[dict[str, Any]]


def evaluate(
    table: PerformanceTable,
    selectors: Mapping[str, Selector] | None = None,
    featurizer: MetaFeaturizer | Callable[[], MetaFeaturizer] | None = None,
    group_by: str | None = None,
    min_methods: int = 2,
    budgets: Budgets | None = None,
    n_bootstrap: int = 1000,
    random_state: int = 0,
    progress: Callable[[str], None] | None = None,
    task_folds: int = 10,
    candidate: str | None = DEFAULT_CANDIDATE,
    max_folds: int | None = None,
) -> EvaluationResult:
    """Leave-one-group-out cross-validation of ``selectors`` on ``table``.

    ``group_by`` is a task column, or ``None``/``"task"`` for the task itself: then
    tasks are dealt at random (seeded) into ``task_folds`` folds, since refitting every
    selector once per task would be n fits for no different answer.
    ``featurizer`` is a template (cloned with ``sklearn.base.clone`` and refit on each
    fold's training tasks) or a factory; default: the real sentence-embedding featurizer.
    ``candidate`` names the selector under test (left out of the best baseline).
    ``max_folds`` bounds the refits for a column with many values: its values are dealt
    at random (seeded) into that many folds, each holding out all tasks of its values
    (still unseen groups, with less to train on than leaving one out).
    """
    selectors = dict(selectors) if selectors is not None else default_selectors(random_state)
    group_by, groups = _group_labels(table, group_by, task_folds, random_state, max_folds)
    scorable = table.available.sum(1) >= min_methods
    needs_features = any(s.needs_features for s in selectors.values())
    cost = true_costs(table, budgets) if budgets is not None else None
    dicts = table.task_dicts()
    rows: list[dict[str, Any]] = []
    fit_info: dict[str, dict[str, Any]] = {}
    uniq = sorted(set(groups), key=str)
    evaluated: list[str] = []
    for g in uniq:
        test_mask = (groups == g) & scorable
        train_mask = groups != g
        if not test_mask.any() or train_mask.sum() < 2:
            continue  # nothing to score there (e.g. a model only one engine ran)
        evaluated.append(str(g))
        if progress:
            progress(f"fold {g}: {train_mask.sum()} train / {test_mask.sum()} test tasks")
        test_idx = np.flatnonzero(test_mask)
        fold = _Fold(
            str(g),
            table.subset(train_mask),
            groups[train_mask],
            test_idx,
            [dicts[i] for i in test_idx],
        )
        feats = _fold_featurizer(featurizer, fold.train) if needs_features else None
        for name, template in selectors.items():
            sel = clone(template)
            if sel.is_oracle:  # it looks the answer up: give it the held-out tasks too
                sel.fit(table, feats)
            else:  # the outer split's groups: inner tuning mirrors the outer question
                sel.fit(fold.train, feats, groups=fold.train_groups)
            if sel.fit_info():
                fit_info.setdefault(name, {})[fold.label] = sel.fit_info()
            rows += _score_fold(name, sel, table, fold, budgets, cost)
    result = EvaluationResult(
        records=pd.DataFrame(rows),
        table=table,
        group_by=group_by,
        groups=evaluated,
        groups_skipped=[str(g) for g in uniq if str(g) not in evaluated],
        min_methods=min_methods,
        n_bootstrap=n_bootstrap,
        random_state=random_state,
        fit_info=fit_info,
        candidate=candidate,
        oracles=[n for n, s in selectors.items() if s.is_oracle],
        single_best=next((n for n, s in selectors.items() if s.is_single_best), None),
    )
    _summarize(result)
    return result


def _group_labels(
    table: PerformanceTable,
    group_by: str | None,
    task_folds: int,
    random_state: int,
    max_folds: int | None = None,
) -> tuple[str | None, np.ndarray]:
    """The held-out group of every task: a task column's value (or a seeded fold of
    values when there are more than ``max_folds``), or a seeded fold of tasks."""
    if group_by not in (None, "task"):
        groups = table.groups(group_by)
        uniq = sorted(set(groups), key=str)
        if max_folds is None or len(uniq) <= max_folds:
            return group_by, groups
        if max_folds < 2:
            raise ValueError(f"max_folds must be at least 2, not {max_folds}")
        perm = np.random.default_rng(random_state).permutation(len(uniq))
        fold_of = {uniq[i]: f"{group_by}-fold-{j % max_folds:02d}" for j, i in enumerate(perm)}
        return group_by, np.array([fold_of[g] for g in groups], dtype=object)
    k = max(2, min(task_folds, table.n_tasks))
    perm = np.random.default_rng(random_state).permutation(table.n_tasks)
    fold = np.empty(table.n_tasks, dtype=int)
    fold[perm] = np.arange(table.n_tasks) % k
    return None, np.array([f"fold-{f:03d}" for f in fold], dtype=object)


def _fold_featurizer(
    featurizer: MetaFeaturizer | Callable[[], MetaFeaturizer] | None, train: PerformanceTable
) -> MetaFeaturizer:
    if callable(featurizer) and not isinstance(featurizer, MetaFeaturizer):
        feats = featurizer()
    elif featurizer is not None:
        feats = clone(featurizer)  # shares the embedder (see MetaFeaturizer.__sklearn_clone__)
    else:
        feats = MetaFeaturizer()
    return feats.fit(train)


def _score_fold(
    name: str,
    sel: Selector,
    table: PerformanceTable,
    fold: _Fold,
    budgets: Budgets | None,
    cost: np.ndarray | None,
) -> list[dict[str, Any]]:
    """One record per held-out task of the fold: what ``sel`` chose and how good it is."""
    scores = sel.score(fold.test_dicts, table.methods)
    budget_choice = None
    if budgets is not None and sel.cost_aware:
        budget_choice = _budget_choices(sel, fold.test_dicts, fold.test_idx, table, budgets)
    perf = table.performance
    rows = []
    for r, i in enumerate(fold.test_idx):
        rec, chosen = _task_record(perf[i], table.available[i], scores[r], table.methods)
        rec = {"selector": name, "group": fold.label, "task": table.task_keys[i], **rec}
        if cost is not None:
            pick = budget_choice[r] if budget_choice is not None else chosen
            rec.update(
                _budget_record(cost[i], perf[i], table.available[i], budgets.budget[i], pick)
            )
        rows.append(rec)
    return rows


def _task_record(
    perf: np.ndarray, available: np.ndarray, scores: np.ndarray, methods: list[str]
) -> tuple[dict[str, Any], int]:
    """Metrics of the selector's ranking of one task's measured methods, and its pick."""
    avail = np.flatnonzero(available)
    s = np.nan_to_num(scores[avail], nan=-np.inf)
    order = avail[np.argsort(-s, kind="stable")]
    chosen = int(order[0])
    best = np.nanmax(perf[avail])
    rec = {
        "chosen": methods[chosen],
        "top1": bool(perf[chosen] >= best * (1 - 1e-12)),
        "normalized": float(perf[chosen] / best),
        "regret": float(np.log(best / perf[chosen])),
        "ndcg3": ndcg_at_k(np.searchsorted(avail, order), perf[avail] / best, 3),
    }
    return rec, chosen


def _budget_record(
    cost: np.ndarray, perf: np.ndarray, available: np.ndarray, budget: float, pick: int | None
) -> dict[str, Any]:
    """Could any measured method fit the budget, does the pick truly fit it, and how fast
    is it next to the fastest method that fits?"""
    limit = budget * (1 + BUDGET_RTOL)
    fits = available & np.isfinite(cost) & (cost <= limit)
    feasible = bool(pick is not None and fits[pick])
    best = float(np.max(perf[fits])) if fits.any() else np.nan
    return {
        "budget_possible": bool(fits.any()),
        "budget_feasible": feasible,
        "budget_normalized": float(perf[pick] / best) if feasible else 0.0,
    }


def _budget_choices(
    sel: Selector,
    test_dicts: list[dict[str, Any]],
    test_idx: np.ndarray,
    table: PerformanceTable,
    budgets: Budgets,
) -> list[int | None]:
    """What ``sel.select(task, budget)`` returns for each test task (as method indices)."""
    out: list[int | None] = []
    prices = budgets.price_matrix(table.n_methods)
    for r, i in enumerate(test_idx):
        avail = [table.methods[j] for j in np.flatnonzero(table.available[i])]
        task = Task(
            values=test_dicts[r],
            available=avail,
            price_per_second=dict(zip(table.methods, prices[i], strict=True)),
            work=float(budgets.work[i]),
        )
        pick = sel.select(task, budget=float(budgets.budget[i]))
        out.append(table.methods.index(pick) if pick is not None else None)
    return out


def _summarize(result: EvaluationResult) -> None:
    rec = result.records
    if rec.empty:
        return
    names = result.selector_names()
    means = rec.groupby("selector")["normalized"].mean()
    np_sbs = means.get(result.single_best, np.nan) if result.single_best else np.nan
    np_vbs = means.get(result.oracles[0], np.nan) if result.oracles else np.nan
    baselines = [n for n in names if n not in result.oracles and n != result.candidate]
    best = max(baselines, key=lambda n: means[n]) if baselines else None
    result.best_baseline = best
    wide = result.per_task("normalized")
    for name in names:
        r = rec[rec["selector"] == name]
        s = _pooled_metrics(r, np_sbs, np_vbs)
        vals = wide[name].to_numpy()
        if result.n_bootstrap:
            s["ci95"] = list(bootstrap_ci(vals, result.n_bootstrap, result.random_state))
        s["wilcoxon_p"] = None
        if best is not None and name != best:
            diff = vals - wide[best].to_numpy()
            s["wilcoxon_p"] = float(wilcoxon(diff).pvalue) if np.any(diff != 0) else 1.0
        result.summary[name] = s


def _pooled_metrics(r: pd.DataFrame, np_sbs: float, np_vbs: float) -> dict[str, Any]:
    """Means over one selector's records; gap closed between the SBS and the oracle."""
    gap = np_vbs - np_sbs
    s: dict[str, Any] = {
        "top1_accuracy": float(r["top1"].mean()),
        "normalized_performance": float(r["normalized"].mean()),
        "regret": float(r["regret"].mean()),
        "gap_closed": float((r["normalized"].mean() - np_sbs) / gap) if gap > 1e-12 else None,
        "ndcg3": float(r["ndcg3"].mean()),
    }
    if "budget_feasible" in r:
        ok = r["budget_possible"].astype(bool)
        s["budget_feasibility"] = float(r.loc[ok, "budget_feasible"].mean()) if ok.any() else None
        s["budget_performance"] = float(r.loc[ok, "budget_normalized"].mean()) if ok.any() else None
    return s
