"""Every selector: availability is respected, results are reproducible, budgets behave."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from meta.selectors import (
    BudgetNotSupportedError,
    Explanation,
    MetaInfSelector,
    OracleSelector,
    Task,
    default_selectors,
)
from meta.synthetic import RULE_METHODS
from meta.table import PerformanceTable


def _fast(name, sel):
    """Smaller settings: the property tests need correctness, not accuracy."""
    if isinstance(sel, MetaInfSelector):
        return clone(sel).set_params(complexity="small", shrinkage_grid=(0.0, 1.0), inner_folds=2)
    return clone(sel)


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


def test_explain_without_budget(fitted, rule_table):
    values = rule_table.task_dicts()[5]
    task = Task(values, available=RULE_METHODS, price_per_second=0.5, work=2000.0)
    for name, sel in fitted.items():
        ex = sel.explain(task)
        assert isinstance(ex, Explanation) and ex.selector == name
        assert ex.ranking == sel.rank(task) and ex.selected == sel.select(task) == ex.ranking[0]
        assert [c.rank for c in ex.candidates] == list(range(1, len(RULE_METHODS) + 1))
        assert ex.budget is None and all(c.fits_budget is None for c in ex.candidates)
        assert "ranked first" in ex.reason
        json.dumps(ex.to_dict(), allow_nan=False)
        if not sel.cost_aware:
            assert all(c.predicted_metric is None for c in ex.candidates), name
            continue
        logp = sel.predict_log_performance([values], ex.ranking)[0]
        for c, lp in zip(ex.candidates, logp, strict=True):
            if np.isnan(lp):  # the oracle, on a method not measured there
                assert sel.is_oracle and c.predicted_metric is c.predicted_cost is None
                continue
            assert c.predicted_metric == pytest.approx(np.exp(lp)), name  # a throughput
            assert c.predicted_runtime_s == pytest.approx(2000.0 / np.exp(lp))
            assert c.predicted_cost == pytest.approx(c.predicted_runtime_s * 0.5)
        np.testing.assert_allclose(
            [np.nan if c.predicted_cost is None else c.predicted_cost for c in ex.candidates],
            sel.predict_cost(task, ex.ranking),
        )
    # without a price there is no cost, but still a runtime
    ex = fitted["MetaInf"].explain(Task(values, available=RULE_METHODS, work=10.0))
    assert all(c.predicted_cost is None and c.predicted_runtime_s > 0 for c in ex.candidates)
    # nothing available
    ex = fitted["MetaInf"].explain(Task(values, available=[]))
    assert ex.selected is None and ex.candidates == () and "no method" in ex.reason


def test_explain_with_budget(fitted, rule_table):
    sel = fitted["MetaInf"]
    values = rule_table.task_dicts()[3]
    task = Task(values, available=RULE_METHODS, price_per_second=2.0, work=1000.0)
    costs = dict(zip(RULE_METHODS, sel.predict_cost(task, RULE_METHODS), strict=True))
    ranked = sel.rank(task)
    for budget in [np.inf, *sorted(costs.values()), min(costs.values()) * 0.5]:
        ex = sel.explain(task, budget=budget)
        assert ex.selected == sel.select(task, budget=budget) and ex.budget == budget
        for c in ex.candidates:
            assert c.fits_budget == (costs[c.method] <= budget)
        fitting = [c.method for c in ex.candidates if c.fits_budget]
        assert ex.selected == (fitting[0] if fitting else None)
    ex = sel.explain(task, budget=min(costs.values()) * 0.5)
    cheapest = min(costs, key=costs.get)
    assert ex.selected is None and f"cheapest: {cheapest}" in ex.reason
    ex = sel.explain(task, budget=costs[ranked[-1]])
    if ex.selected != ranked[0]:
        assert "better-ranked method(s) predicted over budget" in ex.reason
    # per-method prices: the top method priced out, the next one chosen
    prices = {m: 2.0 for m in RULE_METHODS} | {ranked[0]: 1e9}
    pricey = Task(values, available=RULE_METHODS, price_per_second=prices, work=1000.0)
    ex = sel.explain(pricey, budget=max(costs[m] for m in ranked[1:]))
    assert ex.selected == ranked[1] and ex.candidate(ranked[0]).fits_budget is False
    with pytest.raises(BudgetNotSupportedError):
        fitted["SBS"].explain(task, budget=1.0)
    with pytest.raises(ValueError, match="price"):
        sel.explain(Task(values, available=RULE_METHODS), budget=1.0)


def test_explain_reports_the_metric_in_its_own_unit(tiny_frame):
    """For a latency (lower is better) the predicted metric is a latency again, and
    runtime = work x latency; the oracle predicts exactly what was measured."""
    cols = ["model", "hardware", "batch"]
    table = PerformanceTable.from_frame(tiny_frame, cols, "method", "tps", lower_is_better=True)
    vbs = OracleSelector().fit(table)
    row = table.task_keys.index("m7b | A100 | 1")
    task = Task(table.task_dicts()[row], price_per_second=3.0, work=10.0)
    ex = vbs.explain(task, budget=1e9)
    assert ex.lower_is_better and ex.metric == "tps"
    for c in ex.candidates:
        measured = table.matrix[row, table.methods.index(c.method)]
        assert c.predicted_metric == pytest.approx(measured)
        assert c.predicted_runtime_s == pytest.approx(10.0 * measured)
        assert c.predicted_cost == pytest.approx(30.0 * measured)
    assert ex.selected == ex.ranking[0] == "slow"  # 50 is the lowest of 120, 80, 50
    # a method the oracle never saw measured: no prediction (None in JSON), never fits
    other = table.task_keys.index("m70b | H100 | 4")
    ex = vbs.explain(Task(table.task_dicts()[other], price_per_second=1.0), budget=1e9)
    d = ex.to_dict()
    json.dumps(d, allow_nan=False)
    fast = next(c for c in d["candidates"] if c["method"] == "fast")
    assert fast["predicted_metric"] is None and fast["fits_budget"] is False
