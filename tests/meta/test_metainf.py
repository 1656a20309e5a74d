"""MetaInf recovers a best-method rule that is a known function of the features."""

from __future__ import annotations

import numpy as np
import pytest

from meta.embeddings import HashingEmbedder
from meta.features import MetaFeaturizer
from meta.selectors import MetaInfSelector, SingleBestSelector, Task
from meta.selectors.metainf import bagged_stack_weights, prune_weights, stack_weights
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
    # the super learner found that the pair model transfers
    assert sum(w for v, w in sel.weights_.items() if v.startswith("interaction/")) > 0.3


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
    stacked = MetaInfSelector(random_state=0).fit(train, feats, groups=groups).fit_info()
    assert stacked["inner_groups"] == "given" and stacked["combine"] == "stack"
    views = {"offsets", "interaction/small", "interaction/large", "per_method", "neighbours"}
    views |= {"physics", "latent"}
    assert set(stacked["inner_normalized_performance"]) == views | {"stack"}
    assert set(stacked["weights"]) <= views and min(stacked["weights"].values()) > 0
    given = MetaInfSelector(combine="select", random_state=0).fit(train, feats, groups=groups)
    info = given.fit_info()
    assert info["inner_groups"] == "given"
    labels = set(info["inner_normalized_performance"])
    assert {"small/0", "small/0.5", "large/1", "small/0+per_method+neighbours"} <= labels
    assert "large/0" not in labels  # without the trees the capacity does not matter
    assert {"per_method", "neighbours", "per_method+neighbours"} <= labels  # without the pair model
    assert len(labels) == len(MetaInfSelector()._blends()) == 5 * 16 + 15  # cores x view sets
    assert not hasattr(given, "_fit_groups")  # transient, not pickled with the model


def test_fixed_blend_and_bad_views():
    train, _ = _table(0, 120)
    feats = MetaFeaturizer(use_embeddings=False).fit(train)
    sel = MetaInfSelector(blend="small/0.5+neighbours", random_state=0).fit(train, feats)
    assert sel.fit_info() == {
        "combine": "fixed",
        "weights": {"neighbours": 0.5, "offsets": 0.25, "interaction/small": 0.25},
        "complexity": "small",
        "shrinkage": 0.5,
        "views": ["neighbours"],
    }
    with pytest.raises(ValueError, match="unknown views"):
        MetaInfSelector(views=("oracle",)).fit(train, feats)
    with pytest.raises(ValueError, match="combine"):
        MetaInfSelector(combine="vote").fit(train, feats)


def test_stack_weights_recover_a_known_mixture():
    rng = np.random.default_rng(0)
    a, b, noise, junk = (rng.normal(size=(300, 6)) for _ in range(4))
    Y = 0.7 * a + 0.2 * b + 0.05 * noise + rng.normal(size=(300, 1))  # + task level
    Y[rng.random(Y.shape) < 0.1] = np.nan
    for focus in ("normalized", "uniform"):
        w = stack_weights({"a": a, "b": b, "junk": junk}, Y, focus)
        assert abs(w["a"] - 0.7) < 0.05 and abs(w["b"] - 0.2) < 0.05, (focus, w)
        assert w.get("junk", 0.0) < 0.02  # a view unrelated to the target
    with pytest.raises(ValueError, match="focus"):
        stack_weights({"a": a}, Y, "top-3")
    assert stack_weights({"offsets": -a}, Y) == {"offsets": 1.0}  # nothing transfers


def test_bagged_stack_weights_keep_a_view_that_helps_on_some_groups():
    rng = np.random.default_rng(1)
    n = 300
    groups = np.repeat(np.arange(6), n // 6)
    a, noise, junk = (rng.normal(size=(n, 6)) for _ in range(3))
    local = np.where((groups < 2)[:, None], a, rng.normal(size=(n, 6)))  # right on 2 of 6
    Y = a + 0.05 * noise + rng.normal(size=(n, 1))
    views = {"a": 0.9 * a + 0.1 * noise, "local": local, "junk": junk}
    assert bagged_stack_weights(views, Y, groups, 0) == stack_weights(views, Y)
    bagged = bagged_stack_weights(views, Y, groups, 40, seed=0)
    assert bagged == bagged_stack_weights(views, Y, groups, 40, seed=0)  # seeded
    assert abs(sum(bagged.values()) - sum(stack_weights(views, Y).values())) < 0.1
    assert bagged["a"] > bagged.get("local", 0.0) > bagged.get("junk", 0.0)
    only = stack_weights(views, Y, row_weights=(groups < 2).astype(float))
    assert only["local"] > 0.2  # on the groups where it is right it carries weight
    assert stack_weights(views, Y, row_weights=np.zeros(n)) == {"offsets": 1.0}
    train, _ = _table(0, 60)
    with pytest.raises(ValueError, match="stack_bags"):
        MetaInfSelector(stack_bags=-1).fit(train, MetaFeaturizer(use_embeddings=False).fit(train))


def test_views_with_a_negligible_share_are_dropped_and_not_fitted():
    pruned = prune_weights({"offsets": 0.2, "interaction/large": 0.79, "per_method": 0.01}, 0.02)
    assert set(pruned) == {"offsets", "interaction/large"}
    assert abs(sum(pruned.values()) - 1.0) < 1e-12  # the total is kept
    assert abs(pruned["interaction/large"] / pruned["offsets"] - 0.79 / 0.2) < 1e-12
    weights = {"a": 0.5, "b": 0.01}
    assert prune_weights(weights, 0.0) == weights
    train, _ = _table(0, 120)
    feats = MetaFeaturizer(use_embeddings=False).fit(train)
    kept = MetaInfSelector(complexity="small", stack_min_share=0.0).fit(train, feats)
    shares = {v: w / sum(kept.weights_.values()) for v, w in kept.weights_.items()}
    cut = sorted(shares.values())[0] + 1e-6  # a share that drops the smallest view
    assert len(shares) >= 2, shares
    pruned_sel = MetaInfSelector(complexity="small", stack_min_share=cut).fit(train, feats)
    assert set(pruned_sel.weights_) == {v for v, x in shares.items() if x >= cut}
    fitted = {f"interaction/{c}" for c in pruned_sel.views_.interactions_}
    fitted |= set(pruned_sel.views_.extras)
    assert fitted == set(pruned_sel.weights_) - {"offsets"}  # dropped views are not fitted
    with pytest.raises(ValueError, match="stack_min_share"):
        MetaInfSelector(stack_min_share=1.0).fit(train, feats)


def test_pair_physics_reach_the_pair_model():
    train, _ = _table(0, 120)
    feats = MetaFeaturizer(use_embeddings=False).fit(train)
    with_pairs = MetaInfSelector(blend="small/1").fit(train, feats)
    without = MetaInfSelector(blend="small/1", use_pairs=False)
    without.fit(train, feats)
    n_pairs = feats.transform_pairs(train.task_dicts()[:1], train.methods).shape[-1]
    gbm = dict(with_pairs.views_.interactions_["small"])["gbm"]
    assert (
        gbm.n_features_in_
        == dict(without.views_.interactions_["small"])["gbm"].n_features_in_ + n_pairs
    )


def _hit_rate(selector, test: PerformanceTable, truth: dict[str, str]) -> float:
    """Share of ``test``'s tasks where the selector's top method is the rule's best."""
    picks = selector.score(test.task_dicts(), test.methods).argmax(1)
    keys = [task_key([t[c] for c in test.task_cols]) for t in test.task_dicts()]
    return float(np.mean([test.methods[p] == truth[k] for p, k in zip(picks, keys, strict=True)]))


def test_latent_view_alone_learns_the_rule_and_degrades_to_offsets():
    train, _ = _table(0, 300)
    test, truth = _table(1, 100)
    feats = MetaFeaturizer(use_embeddings=False).fit(train)
    sel = MetaInfSelector(blend="latent", random_state=0).fit(train, feats)
    assert sel.weights_ == {"latent": 1.0}
    sbs = SingleBestSelector().fit(train)
    assert _hit_rate(sel, test, truth) > _hit_rate(sbs, test, truth) + 0.2
    # a method it never saw gets the median offset, like every other view
    scores = sel.score(test.task_dicts()[:3], [*test.methods, "never-measured"])
    np.testing.assert_allclose(scores[:, -1], sel.views_.default_offset_)
