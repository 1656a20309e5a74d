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
* ``wilcoxon_p``: Wilcoxon signed-rank test of per-task normalized performance against
  the best non-oracle baseline (the best selector other than MetaInf);
* ``ci95``: bootstrap 95% interval of normalized performance (tasks resampled).

Tasks with fewer than ``min_methods`` measured methods are still used for training but
not scored: with one method every selector is trivially right.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import wilcoxon

from meta.features import MetaFeaturizer
from meta.selectors import Selector, default_selectors
from meta.selectors.base import BUDGET_RTOL, Task
from meta.table import PerformanceTable

ORACLES = ("VBS",)
CANDIDATE = "MetaInf"


def clone_selector(sel: Selector) -> Selector:
    return type(sel)(**sel.get_params())


def clone_featurizer(f: MetaFeaturizer) -> MetaFeaturizer:
    """Same settings, no fitted state; the embedder object (and its cache) is shared."""
    return MetaFeaturizer(
        embedder=f.embedder if f.embedder is not None else getattr(f, "_embedder_", None),
        descriptors=f.descriptors,
        roles=f.roles,
        use_embeddings=f.use_embeddings,
        use_numeric=f.use_numeric,
        method_identity=f.method_identity,
        embedding_components=f.embedding_components,
    )


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
        """Budget of each task = the q-quantile of the true costs of its measured methods."""
        n = table.n_tasks
        price = np.ones(n) if price is None else np.asarray(price, float)
        work = np.ones(n) if work is None else np.asarray(work, float)
        b = cls(budget=np.zeros(n), price=price, work=work)
        cost = true_costs(table, b)
        b.budget = np.array(
            [np.nanquantile(row, q) if np.isfinite(row).any() else np.nan for row in cost]
        )
        return b


def true_costs(table: PerformanceTable, budgets: Budgets) -> np.ndarray:
    runtime = budgets.work[:, None] / table.performance
    return runtime * budgets.price_matrix(table.n_methods)


def ndcg_at_k(order: np.ndarray, gains: np.ndarray, k: int = 3) -> float:
    """NDCG@k of a ranking (indices into ``gains``) with the given non-negative gains."""
    k = min(k, len(order))
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float((gains[order[:k]] * disc).sum())
    ideal = float((np.sort(gains)[::-1][:k] * disc).sum())
    return dcg / ideal if ideal > 0 else 1.0


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

    def selector_names(self) -> list[str]:
        return list(dict.fromkeys(self.records["selector"]))

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
            ("wilcoxon_p", f"p vs {self.best_baseline}"),
        ]
        present = [c for c in cols if any(c[0] in s for s in self.summary.values())]
        lines = [
            "| selector | " + " | ".join(h for _, h in present) + " |",
            "|---|" + "---:|" * len(present),
        ]
        for name, s in self.summary.items():
            cells = []
            for key, _ in present:
                v = s.get(key)
                if v is None or (isinstance(v, float) and math.isnan(v)):
                    cells.append("–")
                elif key == "ci95":
                    cells.append(f"[{v[0]:.{digits}f}, {v[1]:.{digits}f}]")
                elif key == "wilcoxon_p":
                    cells.append(f"{v:.2g}")
                else:
                    cells.append(f"{v:.{digits}f}")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        return "\n".join(lines)


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
) -> EvaluationResult:
    """Leave-one-group-out cross-validation of ``selectors`` on ``table``.

    ``group_by`` is a task column, or ``None``/``"task"`` for the task itself: then
    tasks are dealt at random (seeded) into ``task_folds`` folds, since refitting every
    selector once per task would be n fits for no different answer.
    ``featurizer`` is a template (cloned and refit on each fold's training tasks) or a
    factory; default: the real sentence-embedding featurizer.
    """
    selectors = dict(selectors) if selectors is not None else default_selectors(random_state)
    if group_by in (None, "task"):
        group_by = None
        k = max(2, min(task_folds, table.n_tasks))
        perm = np.random.default_rng(random_state).permutation(table.n_tasks)
        fold = np.empty(table.n_tasks, dtype=int)
        fold[perm] = np.arange(table.n_tasks) % k
        groups = np.array([f"fold-{f:03d}" for f in fold], dtype=object)
    else:
        groups = table.groups(group_by)
    n_avail = table.available.sum(1)
    perf = table.performance
    methods = table.methods
    dicts = table.task_dicts()
    keys = table.task_keys
    cost = true_costs(table, budgets) if budgets is not None else None
    rows: list[dict[str, Any]] = []
    fit_info: dict[str, dict[str, Any]] = {}
    uniq = sorted(set(groups), key=str)
    evaluated: list[str] = []
    for g in uniq:
        test_mask = (groups == g) & (n_avail >= min_methods)
        train_mask = groups != g
        if not test_mask.any() or train_mask.sum() < 2:
            continue  # nothing to score there (e.g. a model only one engine ran)
        evaluated.append(str(g))
        if progress:
            progress(f"fold {g}: {train_mask.sum()} train / {test_mask.sum()} test tasks")
        train = table.subset(train_mask)
        if callable(featurizer) and not isinstance(featurizer, MetaFeaturizer):
            feats = featurizer()
        elif featurizer is not None:
            feats = clone_featurizer(featurizer)
        else:
            feats = MetaFeaturizer()
        needs = any(s.needs_features for s in selectors.values())
        feats = feats.fit(train) if needs else None
        test_idx = np.flatnonzero(test_mask)
        test_dicts = [dicts[i] for i in test_idx]
        for name, template in selectors.items():
            sel = clone_selector(template)
            if name in ORACLES:
                sel.fit(table, feats)
            else:  # the outer split's groups: inner tuning mirrors the outer question
                sel.fit(train, feats, groups=groups[train_mask])
            if sel.fit_info():
                fit_info.setdefault(name, {})[str(g)] = sel.fit_info()
            scores = sel.score(test_dicts, methods)
            budget_choice = None
            if budgets is not None and sel.cost_aware:
                budget_choice = _budget_choices(sel, test_dicts, test_idx, table, budgets)
            for r, i in enumerate(test_idx):
                avail = np.flatnonzero(table.available[i])
                s = np.nan_to_num(scores[r, avail], nan=-np.inf)
                order = avail[np.argsort(-s, kind="stable")]
                chosen = order[0]
                best = np.nanmax(perf[i, avail])
                gains = perf[i] / best
                rec = {
                    "selector": name,
                    "group": str(g),
                    "task": keys[i],
                    "chosen": methods[chosen],
                    "top1": bool(perf[i, chosen] >= best * (1 - 1e-12)),
                    "normalized": float(perf[i, chosen] / best),
                    "regret": float(np.log(best / perf[i, chosen])),
                    "ndcg3": ndcg_at_k(np.searchsorted(avail, order), gains[avail], 3),
                }
                if cost is not None:
                    limit = budgets.budget[i] * (1 + BUDGET_RTOL)
                    fits = np.isfinite(cost[i, avail]) & (cost[i, avail] <= limit)
                    pick = budget_choice[r] if budget_choice is not None else chosen
                    rec["budget_possible"] = bool(fits.any())
                    rec["budget_feasible"] = bool(pick is not None and cost[i, pick] <= limit)
                rows.append(rec)
    records = pd.DataFrame(rows)
    result = EvaluationResult(
        records=records,
        table=table,
        group_by=group_by,
        groups=evaluated,
        groups_skipped=[str(g) for g in uniq if str(g) not in evaluated],
        min_methods=min_methods,
        n_bootstrap=n_bootstrap,
        random_state=random_state,
        fit_info=fit_info,
    )
    _summarize(result)
    return result


def _budget_choices(
    sel: Selector,
    test_dicts: list[Mapping[str, Any]],
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
    np_sbs = means.get("SBS", np.nan)
    np_vbs = means.get("VBS", np.nan)
    baselines = [n for n in names if n not in ORACLES and n != CANDIDATE]
    best = max(baselines, key=lambda n: means[n]) if baselines else None
    result.best_baseline = best
    wide = rec.pivot(index="task", columns="selector", values="normalized")
    rng = np.random.default_rng(result.random_state)
    n = len(wide)
    boot_idx = rng.integers(0, n, size=(result.n_bootstrap, n)) if result.n_bootstrap else None
    for name in names:
        r = rec[rec["selector"] == name]
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
            s["budget_feasibility"] = (
                float(r.loc[ok, "budget_feasible"].mean()) if ok.any() else None
            )
        vals = wide[name].to_numpy()
        if boot_idx is not None:
            bm = vals[boot_idx].mean(axis=1)
            s["ci95"] = [float(np.quantile(bm, 0.025)), float(np.quantile(bm, 0.975))]
        if best is not None and name != best:
            diff = vals - wide[best].to_numpy()
            s["wilcoxon_p"] = float(wilcoxon(diff).pvalue) if np.any(diff != 0) else 1.0
        else:
            s["wilcoxon_p"] = None
        result.summary[name] = s
