"""Every selector: availability is respected, results are reproducible, budgets behave."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meta.selectors import (
    BudgetNotSupportedError,
    MetaInfSelector,
    OracleSelector,
    Task,
    default_selectors,
)
from meta.synthetic import RULE_METHODS


def _fast(name, sel):
    """Smaller settings: the property tests need correctness, not accuracy."""
    if name == "MetaInf":
        return MetaInfSelector(complexity="small", shrinkage_grid=(0.0, 1.0), inner_folds=2)
    return sel


@pytest.fixture(scope="module")
def fitted(rule_table):
    from meta.embeddings import HashingEmbedder
    from meta.features import MetaFeaturizer

    feats = MetaFeaturizer(embedder=HashingEmbedder(32)).fit(rule_table)
    return {
        name: _fast(name, sel).fit(rule_table, feats) for name, sel in default_selectors(0).items()
    }


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_never_picks_an_unavailable_method(fitted, rule_table, data):
    i = data.draw(st.integers(0, rule_table.n_tasks - 1))
    avail = data.draw(
        st.lists(
            st.sampled_from(RULE_METHODS + ["never-seen"]), min_size=0, max_size=6, unique=True
        )
    )
    task = Task(values=rule_table.task_dicts()[i], available=avail)
    for name, sel in fitted.items():
        ranked = sel.rank(task)
        assert sorted(ranked) == sorted(avail), name
        choice = sel.select(task)
        assert (choice in avail) if avail else choice is None, name


def test_unknown_methods_rank_last_for_baselines(fitted, rule_table):
    task = Task(values=rule_table.task_dicts()[0], available=["never-seen", "baseline"])
    for name in ("SBS", "ISAC", "ALORS", "RandomForest", "GradientBoosting", "kNN"):
        assert fitted[name].rank(task) == ["baseline", "never-seen"], name


def test_deterministic_under_seed(rule_table, fitted):
    from meta.embeddings import HashingEmbedder
    from meta.features import MetaFeaturizer

    feats = MetaFeaturizer(embedder=HashingEmbedder(32)).fit(rule_table)
    tasks = rule_table.task_dicts()[:40]
    for name, sel in default_selectors(0).items():
        again = _fast(name, sel).fit(rule_table, feats)
        np.testing.assert_array_equal(
            again.score(tasks, rule_table.methods),
            fitted[name].score(tasks, rule_table.methods),
            err_msg=name,
        )


def test_random_depends_on_seed_not_on_call_order(rule_table, fitted):
    from meta.selectors import RandomSelector

    tasks = rule_table.task_dicts()[:30]
    a = fitted["Random"].score(tasks, rule_table.methods)
    b = fitted["Random"].score(tasks[::-1], rule_table.methods)[::-1]
    np.testing.assert_array_equal(a, b)
    other = RandomSelector(random_state=1).fit(rule_table)
    assert not np.array_equal(other.score(tasks, rule_table.methods), a)


def test_oracle_is_perfect_and_refuses_unknown_tasks(rule_table):
    vbs = OracleSelector().fit(rule_table)
    picks = [vbs.select(Task(t, available=None)) for t in rule_table.task_dicts()[:50]]
    best = [rule_table.methods[j] for j in np.nanargmax(rule_table.performance[:50], axis=1)]
    assert picks == best
    with pytest.raises(KeyError):
        vbs.rank(
            {
                "model": "x",
                "hardware": "y",
                "batch_size": 1,
                "input_len": 1,
                "output_len": 1,
                "prefix_share": 0,
            }
        )


def test_budget_selection(fitted, rule_table):
    sel = fitted["MetaInf"]
    values = rule_table.task_dicts()[3]
    task = Task(values, available=RULE_METHODS, price_per_second=2.0, work=1000.0)
    costs = sel.predict_cost(task, RULE_METHODS)
    ranked = sel.rank(task)
    assert sel.select(task, budget=np.inf) == ranked[0]
    assert sel.select(task, budget=float(costs.min()) * 0.5) is None  # nothing fits
    # per-method prices: make the top method too expensive, the next one fits
    prices = {m: 2.0 for m in RULE_METHODS} | {ranked[0]: 1e9}
    pricey = Task(values, available=RULE_METHODS, price_per_second=prices, work=1000.0)
    c = dict(zip(RULE_METHODS, sel.predict_cost(pricey, RULE_METHODS), strict=True))
    budget = max(c[m] for m in ranked[1:])
    assert sel.select(pricey, budget=budget) == ranked[1]
    with pytest.raises(BudgetNotSupportedError):
        fitted["SBS"].select(task, budget=1.0)
    with pytest.raises(ValueError, match="price"):
        sel.select(Task(values, available=RULE_METHODS), budget=1.0)


def test_metainf_ranks_methods_it_never_saw(fitted, rule_table):
    task = Task(rule_table.task_dicts()[0], available=["prefix-caching v2", "baseline"])
    assert set(fitted["MetaInf"].rank(task)) == {"prefix-caching v2", "baseline"}
    logp = fitted["MetaInf"].predict_log_performance([task.values], ["prefix-caching v2"])
    assert np.isfinite(logp).all()
