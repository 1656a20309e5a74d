"""MetaInf recovers a best-method rule that is a known function of the features."""

from __future__ import annotations

import numpy as np

from meta.embeddings import HashingEmbedder
from meta.features import MetaFeaturizer
from meta.selectors import MetaInfSelector, SingleBestSelector, Task
from meta.synthetic import make_rule_table
from meta.table import PerformanceTable, task_key


def _table(seed: int, n: int) -> tuple[PerformanceTable, dict[str, str]]:
    d = make_rule_table(n_tasks=n, random_state=seed)
    return PerformanceTable.from_frame(d.frame, d.task_cols, d.method_col, d.metric), d.best


def test_metainf_finds_the_rule_on_unseen_tasks():
    train, _ = _table(0, 400)
    test, truth = _table(1, 200)
    feats = MetaFeaturizer(embedder=HashingEmbedder(32)).fit(train)
    sel = MetaInfSelector(random_state=0).fit(train, feats)
    sbs = SingleBestSelector().fit(train)
    hits, sbs_hits = [], []
    for values, avail in zip(test.task_dicts(), test.available, strict=True):
        key = task_key([values[c] for c in test.task_cols])
        task = Task(values, available=[m for m, a in zip(test.methods, avail, strict=True) if a])
        hits.append(sel.select(task) == truth[key])
        sbs_hits.append(sbs.select(task) == truth[key])
    assert np.mean(hits) >= 0.9, np.mean(hits)
    assert np.mean(hits) > np.mean(sbs_hits) + 0.2
    assert sel.shrinkage_ > 0  # the inner CV found that the interaction transfers


def test_predicts_absolute_log_performance():
    train, _ = _table(0, 400)
    test, _ = _table(2, 100)
    feats = MetaFeaturizer(use_embeddings=False).fit(train)
    sel = MetaInfSelector(shrinkage=1.0, random_state=0).fit(train, feats)
    pred = sel.predict_log_performance(test.task_dicts(), test.methods)
    obs = test.available
    err = np.abs(pred[obs] - test.log_performance[obs])
    spread = np.nanstd(test.log_performance[obs])
    assert np.median(err) < 0.3 * spread


def test_mlp_estimator_runs_and_is_reproducible():
    train, _ = _table(0, 150)
    feats = MetaFeaturizer(use_embeddings=False).fit(train)
    kw = dict(
        estimator="mlp", n_mlp=1, epochs=20, shrinkage=1.0, complexity="small", random_state=3
    )
    a = MetaInfSelector(**kw).fit(train, feats).score(train.task_dicts()[:10], train.methods)
    b = MetaInfSelector(**kw).fit(train, feats).score(train.task_dicts()[:10], train.methods)
    np.testing.assert_array_equal(a, b)


def test_inner_cv_uses_the_groups_it_is_given():
    train, _ = _table(0, 200)
    feats = MetaFeaturizer(use_embeddings=False).fit(train)
    default = MetaInfSelector(random_state=0).fit(train, feats)
    assert default.fit_info()["inner_groups"] == "model"  # a model column exists
    groups = train.groups("hardware")
    given = MetaInfSelector(random_state=0).fit(train, feats, groups=groups)
    info = given.fit_info()
    assert info["inner_groups"] == "given"
    assert set(info["inner_normalized_performance"]) == {
        f"{c}/{s:g}" for c in ("small", "large") for s in (0, 0.25, 0.5, 0.75, 1)
    }
    assert not hasattr(given, "_fit_groups")  # transient, not pickled with the model
