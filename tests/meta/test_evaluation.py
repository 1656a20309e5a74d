from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from meta.evaluation import Budgets, evaluate, ndcg_at_k
from meta.features import MetaFeaturizer
from meta.selectors import OracleSelector, RandomSelector, SingleBestSelector
from meta.selectors.base import Selector
from meta.table import PerformanceTable


class FixedOrder(Selector):
    """Always prefers methods in a fixed order; records the tasks it was trained on."""

    name = "Fixed"
    needs_features = False
    seen: list[set[str]] = []

    def __init__(self, order: tuple[str, ...] = ()) -> None:
        self.order = order

    def _fit(self, table):
        FixedOrder.seen.append(set(table.task_keys))

    def _score_known(self, tasks):
        return np.tile([-self.order.index(m) for m in self.methods_], (len(tasks), 1)).astype(float)


@pytest.fixture
def table() -> PerformanceTable:
    # 4 tasks (2 groups), methods a/b/c; best: a, a, b, c(only one with 2+ methods there)
    rows = [
        ("g1", 1, "a", 10.0),
        ("g1", 1, "b", 5.0),
        ("g1", 1, "c", 1.0),
        ("g1", 2, "a", 8.0),
        ("g1", 2, "b", 4.0),
        ("g2", 1, "a", 2.0),
        ("g2", 1, "b", 4.0),
        ("g2", 2, "c", 3.0),
        ("g2", 2, "b", 1.0),
        ("g2", 3, "a", 7.0),  # single method: trained on, never scored
    ]
    df = pd.DataFrame(rows, columns=["grp", "size", "method", "perf"])
    return PerformanceTable.from_frame(df, ["grp", "size"], "method", "perf")


def test_metrics_by_hand(table):
    FixedOrder.seen = []
    res = evaluate(
        table,
        {
            "Fixed": FixedOrder(("a", "b", "c")),
            "SBS": SingleBestSelector(),
            "VBS": OracleSelector(),
        },
        featurizer=MetaFeaturizer(use_embeddings=False),
        group_by="grp",
        n_bootstrap=50,
    )
    assert res.groups == ["g1", "g2"]
    # held-out tasks never appear in the training set of their fold
    assert FixedOrder.seen[0].isdisjoint({k for k in table.task_keys if k.startswith("g1")})
    assert FixedOrder.seen[1].isdisjoint({k for k in table.task_keys if k.startswith("g2")})
    s = res.summary["Fixed"]
    # picks: a (best), a (best), a (2 vs 4 -> 0.5), b (1 vs 3 -> 1/3)
    assert s["top1_accuracy"] == pytest.approx(0.5)
    assert s["normalized_performance"] == pytest.approx((1 + 1 + 0.5 + 1 / 3) / 4)
    assert s["regret"] == pytest.approx((math.log(2) + math.log(3)) / 4)
    assert res.summary["VBS"]["normalized_performance"] == 1.0
    assert res.to_dict()["n_eval_tasks"] == 4
    assert res.to_dict()["n_tasks"] == 5
    lo, hi = s["ci95"]
    assert lo <= s["normalized_performance"] <= hi
    md = res.to_markdown()
    assert md.splitlines()[0].startswith("| selector |") and "| Fixed |" in md


def test_gap_closed_and_wilcoxon(table):
    res = evaluate(
        table,
        {"SBS": SingleBestSelector(), "Random": RandomSelector(0), "VBS": OracleSelector()},
        featurizer=MetaFeaturizer(use_embeddings=False),
        group_by="grp",
        n_bootstrap=0,
    )
    assert res.summary["VBS"]["gap_closed"] == pytest.approx(1.0)
    assert res.summary["SBS"]["gap_closed"] == pytest.approx(0.0)
    assert res.best_baseline in {"SBS", "Random"}
    assert res.summary[res.best_baseline]["wilcoxon_p"] is None
    assert 0 <= res.summary["VBS"]["wilcoxon_p"] <= 1


def _ndcg_by_hand(order, gains, k=3):
    """The textbook formula the evaluation used before it called scikit-learn."""
    k = min(k, len(order))
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    ideal = (np.sort(gains)[::-1][:k] * disc).sum()
    return (gains[order[:k]] * disc).sum() / ideal


def test_ndcg():
    gains = np.array([1.0, 0.5, 0.25])
    assert ndcg_at_k(np.array([0, 1, 2]), gains) == pytest.approx(1.0)
    worst = ndcg_at_k(np.array([2, 1, 0]), gains)
    assert 0 < worst < 1
    assert ndcg_at_k(np.array([1, 0]), np.array([0.5, 1.0]), k=3) == pytest.approx(1.0)
    assert ndcg_at_k(np.array([0]), np.array([1.0])) == 1.0  # one method: trivially right
    rng = np.random.default_rng(0)
    for n in range(2, 8):
        gains = rng.uniform(0.05, 1.0, n)
        gains[rng.integers(n)] = 1.0
        gains[rng.integers(n)] = gains[rng.integers(n)]  # ties in the gains
        order = rng.permutation(n)
        assert ndcg_at_k(order, gains) == pytest.approx(_ndcg_by_hand(order, gains), abs=1e-12)
    # the ranking served (ties broken by method order) is what is scored, not an average
    # over tied scores as sklearn.metrics.ndcg_score would do with the raw scores
    gains = np.array([0.2, 1.0, 0.5])
    assert ndcg_at_k(np.array([0, 1, 2]), gains) == pytest.approx(
        _ndcg_by_hand(np.array([0, 1, 2]), gains)
    )


def test_bootstrap_ci_is_the_paired_percentile_bootstrap():
    from meta.evaluation import bootstrap_ci

    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.8, 1.0, 50), rng.uniform(0.7, 1.0, 50)
    # the hand-written version it replaces: one index draw, shared by every selector
    idx = np.random.default_rng(7).integers(0, 50, size=(300, 50))
    for v in (a, b):
        means = v[idx].mean(axis=1)
        lo, hi = bootstrap_ci(v, 300, random_state=7)
        assert lo == pytest.approx(np.quantile(means, 0.025), abs=1e-12)
        assert hi == pytest.approx(np.quantile(means, 0.975), abs=1e-12)
    assert bootstrap_ci(np.ones(10), 100) == (1.0, 1.0)
    assert bootstrap_ci(np.array([0.5]), 100) == (0.5, 0.5)


def test_oracle_and_candidate_are_not_names(table):
    """Any ``is_oracle`` selector is fit on the whole table and tops "gap closed"; the
    candidate is a parameter, whatever the selectors are called."""
    res = evaluate(
        table,
        {
            "Fixed": FixedOrder(("a", "b", "c")),
            "Single": SingleBestSelector(),
            "Truth": OracleSelector(),
        },
        featurizer=MetaFeaturizer(use_embeddings=False),
        group_by="grp",
        n_bootstrap=20,
        candidate="Fixed",
    )
    assert res.oracles == ["Truth"] and res.single_best == "Single"
    assert res.summary["Truth"]["normalized_performance"] == 1.0
    assert res.summary["Truth"]["gap_closed"] == pytest.approx(1.0)
    assert res.summary["Single"]["gap_closed"] == pytest.approx(0.0)
    assert res.best_baseline == "Single"  # neither the oracle nor the candidate
    assert res.summary["Fixed"]["wilcoxon_p"] is not None
    assert res.to_dict()["candidate"] == "Fixed"
    assert "p vs Single" in res.to_markdown()
    # without a candidate, every non-oracle selector is a baseline
    res = evaluate(
        table,
        {"Fixed": FixedOrder(("c", "b", "a")), "Single": SingleBestSelector()},
        featurizer=MetaFeaturizer(use_embeddings=False),
        group_by="grp",
        n_bootstrap=0,
        candidate=None,
    )
    assert res.best_baseline in {"Fixed", "Single"} and res.oracles == []
    assert res.summary["Single"]["gap_closed"] is None  # no oracle: no gap to close


def test_an_oracle_subclass_sees_the_held_out_tasks(table):
    class Peeking(FixedOrder):
        is_oracle = True

    FixedOrder.seen = []
    evaluate(
        table,
        {"Peek": Peeking(("a", "b", "c"))},
        featurizer=MetaFeaturizer(use_embeddings=False),
        group_by="grp",
        n_bootstrap=0,
    )
    assert all(seen == set(table.task_keys) for seen in FixedOrder.seen)


def test_budget_feasibility(table):
    budgets = Budgets.from_quantile(table, 1.0)  # every measured method fits
    res = evaluate(
        table,
        {"SBS": SingleBestSelector(), "VBS": OracleSelector()},
        featurizer=MetaFeaturizer(use_embeddings=False),
        group_by="grp",
        budgets=budgets,
        n_bootstrap=0,
    )
    assert res.summary["VBS"]["budget_feasibility"] == 1.0
    assert res.summary["SBS"]["budget_feasibility"] == 1.0
    tight = Budgets.from_quantile(table, 0.0)  # only the cheapest (= fastest) method fits
    res = evaluate(
        table,
        {"SBS": SingleBestSelector(), "VBS": OracleSelector()},
        featurizer=MetaFeaturizer(use_embeddings=False),
        group_by="grp",
        budgets=tight,
        n_bootstrap=0,
    )
    assert res.summary["VBS"]["budget_feasibility"] == 1.0
    assert res.summary["SBS"]["budget_feasibility"] == pytest.approx(
        res.summary["SBS"]["top1_accuracy"]
    )


def test_task_level_cv_uses_folds(rule_table):
    res = evaluate(
        rule_table,
        {"SBS": SingleBestSelector(), "VBS": OracleSelector()},
        featurizer=MetaFeaturizer(use_embeddings=False),
        group_by=None,
        n_bootstrap=0,
    )
    assert len(res.groups) == 10
    assert (
        res.records.groupby("selector")["task"].nunique().min()
        == (rule_table.available.sum(1) >= 2).sum()
    )


def test_max_folds_holds_out_whole_groups(rule_table):
    """Many groups dealt into a few folds: every fold holds out whole groups."""
    sels = {"SBS": SingleBestSelector(), "VBS": OracleSelector()}
    feats = MetaFeaturizer(use_embeddings=False)
    n_models = rule_table.tasks["model"].nunique()
    assert n_models > 3
    res = evaluate(rule_table, sels, feats, group_by="model", n_bootstrap=0, max_folds=3)
    assert len(res.groups) == 3
    tasks = rule_table.tasks[["task", "model"]].reset_index(drop=True)
    fold_of_model = res.records.merge(tasks, on="task").groupby("model")["group"].nunique()
    assert (fold_of_model == 1).all()  # a model never straddles two folds
    with pytest.raises(ValueError, match="max_folds"):
        evaluate(rule_table, sels, feats, group_by="model", n_bootstrap=0, max_folds=1)


def test_evaluation_is_deterministic_under_seed(rule_table):
    from meta.embeddings import HashingEmbedder
    from meta.selectors import KNNSelector, MetaInfSelector

    def run(seed):
        sels = {
            "MetaInf": MetaInfSelector(complexity="small", inner_folds=2, random_state=seed),
            "kNN": KNNSelector(),
            "Random": RandomSelector(seed),
            "SBS": SingleBestSelector(),
            "VBS": OracleSelector(),
        }
        feats = MetaFeaturizer(embedder=HashingEmbedder(16))
        return evaluate(
            rule_table, sels, feats, group_by="hardware", n_bootstrap=100, random_state=seed
        )

    a, b = run(0), run(0)
    pd.testing.assert_frame_equal(a.records, b.records)
    assert a.to_dict() == b.to_dict()
    c = run(1)
    assert not c.records[c.records.selector == "Random"]["chosen"].equals(
        a.records[a.records.selector == "Random"]["chosen"]
    )
