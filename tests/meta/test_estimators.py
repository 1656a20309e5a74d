"""Selectors and the featurizer are scikit-learn estimators: params, clone, fitted checks."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
)

from meta.embeddings import HashingEmbedder, default_embedder
from meta.features import MetaFeaturizer
from meta.selectors import OracleSelector, SingleBestSelector, Task, default_selectors

SELECTORS = list(default_selectors(3).items())
IDS = [name for name, _ in SELECTORS]


@pytest.mark.parametrize(("name", "sel"), SELECTORS, ids=IDS)
def test_clone_round_trip(name, sel):
    copy = clone(sel)
    assert type(copy) is type(sel) and copy is not sel
    assert copy.get_params() == sel.get_params()
    assert repr(copy) == repr(sel) and repr(sel).startswith(type(sel).__name__)
    assert sel.name == name


@pytest.mark.parametrize(("name", "sel"), SELECTORS, ids=IDS)
def test_sklearn_estimator_checks(name, sel):
    check_parameters_default_constructible(name, clone(sel))
    check_no_attributes_set_in_init(name, clone(sel))
    check_get_params_invariance(name, clone(sel))


def test_set_params_and_clone_keep_hyper_parameters():
    sel = default_selectors(0)["MetaInf"]
    changed = clone(sel).set_params(shrinkage=1.0, hidden=(8,), random_state=5)
    assert changed.get_params()["shrinkage"] == 1.0 and sel.get_params()["shrinkage"] == "auto"
    again = clone(changed)
    assert again.hidden == (8,) and again.random_state == 5
    assert "shrinkage=1.0" in repr(changed)  # sklearn's repr shows what differs from defaults
    with pytest.raises(ValueError, match="Invalid parameter"):
        clone(sel).set_params(nope=1)


@pytest.mark.parametrize(("name", "sel"), SELECTORS, ids=IDS)
def test_unfitted_selector_raises_not_fitted(name, sel, rule_table):
    values = rule_table.task_dicts()[0]
    task = Task(values, available=["baseline"], price_per_second=1.0)
    calls = [
        lambda: sel.rank(task),
        lambda: sel.score([values], ["baseline"]),
        lambda: sel.select(task),
        lambda: sel.select(task, budget=1.0),
        lambda: sel.explain(task),
        lambda: sel.predict_log_performance([values], ["baseline"]),
        lambda: sel.predict_runtime(task, ["baseline"]),
        lambda: sel.predict_cost(task, ["baseline"]),
    ]
    for call in calls:
        with pytest.raises(NotFittedError):
            call()


def test_clone_of_a_fitted_selector_is_unfitted(rule_table):
    sbs = SingleBestSelector().fit(rule_table)
    task = Task(rule_table.task_dicts()[0])
    assert sbs.select(task) is not None
    with pytest.raises(NotFittedError):
        clone(sbs).select(task)


def test_oracle_and_single_best_are_known_by_attribute():
    kinds = {name: (s.is_oracle, s.is_single_best) for name, s in default_selectors(0).items()}
    assert [n for n, (oracle, _) in kinds.items() if oracle] == ["VBS"]
    assert [n for n, (_, sbs) in kinds.items() if sbs] == ["SBS"]
    assert OracleSelector.is_oracle and OracleSelector.cost_aware
    assert not SingleBestSelector.is_oracle


def test_featurizer_clone_shares_the_embedder(tiny_frame):
    from meta.table import PerformanceTable

    table = PerformanceTable.from_frame(tiny_frame, ["model", "hardware", "batch"], "method", "tps")
    desc = {"model": {"m7b": {"params": 7e9}}}
    f = MetaFeaturizer(embedder=HashingEmbedder(16), descriptors=desc, embedding_components=4)
    f.fit(table)
    c = clone(f)
    assert c.embedder is f.embedder  # a service with a cache: shared, never deep-copied
    assert c.descriptors == desc and c.descriptors is not desc  # settings: copied
    assert c.get_params().keys() == f.get_params().keys()
    assert not hasattr(c, "task_cols_") and hasattr(f, "task_cols_")
    np.testing.assert_array_equal(
        c.fit(table).transform_tasks(table.task_dicts()), f.transform_tasks(table.task_dicts())
    )
    # without an embedder, every featurizer uses the process's one sentence embedder, so
    # its model loads at most once per process
    assert MetaFeaturizer()._get_embedder() is default_embedder()
    assert clone(MetaFeaturizer())._get_embedder() is default_embedder()
    # pickling keeps working, minus the text cache
    again = pickle.loads(pickle.dumps(f))
    assert again._text_cache == {} and f._text_cache
    np.testing.assert_array_equal(
        again.transform_tasks(table.task_dicts()), f.transform_tasks(table.task_dicts())
    )
