from __future__ import annotations

import joblib
import numpy as np
import pytest

from meta.embeddings import HashingEmbedder
from meta.evaluation import evaluate
from meta.features import MetaFeaturizer
from meta.persistence import SCHEMA_VERSION, IncompatibleModelError, load_selector, save_selector
from meta.plots import write_plots
from meta.selectors import MetaInfSelector, OracleSelector, SingleBestSelector


def test_save_load_roundtrip(rule_table, tmp_path):
    feats = MetaFeaturizer(embedder=HashingEmbedder(16)).fit(rule_table)
    sel = MetaInfSelector(complexity="small", shrinkage=1.0).fit(rule_table, feats)
    path = save_selector(sel, tmp_path / "m.joblib", metadata={"source": "test"})
    loaded, info = load_selector(path)
    assert info["schema_version"] == SCHEMA_VERSION
    assert (
        info["metadata"]["source"] == "test" and info["metadata"]["methods"] == rule_table.methods
    )
    tasks = rule_table.task_dicts()[:20]
    # equal up to float32 rounding of the embedding projection (batched differently after
    # loading), which the neighbour view's distance weights pass on
    before, after = sel.score(tasks, rule_table.methods), loaded.score(tasks, rule_table.methods)
    np.testing.assert_allclose(after, before, rtol=0, atol=1e-6)
    assert [loaded.rank(t) for t in tasks] == [sel.rank(t) for t in tasks]
    payload = joblib.load(path)
    payload["schema_version"] = 999
    joblib.dump(payload, tmp_path / "old.joblib")
    with pytest.raises(IncompatibleModelError):
        load_selector(tmp_path / "old.joblib")
    with pytest.raises(ValueError, match="not fitted"):
        save_selector(SingleBestSelector(), tmp_path / "x.joblib")


def test_plots_are_written(rule_table, tmp_path):
    res = evaluate(
        rule_table,
        {"SBS": SingleBestSelector(), "VBS": OracleSelector()},
        featurizer=MetaFeaturizer(use_embeddings=False),
        group_by="hardware",
        n_bootstrap=50,
    )
    paths = write_plots(res, tmp_path / "plots")
    assert [p.name for p in paths] == ["performance_heatmap.png", "selectors.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000
    # the candidate to highlight is a parameter (default: the evaluation's)
    again = write_plots(res, tmp_path / "other", candidate="SBS")
    assert again[1].read_bytes() != paths[1].read_bytes()
