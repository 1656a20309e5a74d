"""Shared fixtures: small synthetic tables and a featurizer that loads no model."""

from __future__ import annotations

import pandas as pd
import pytest

from meta.embeddings import HashingEmbedder
from meta.features import MetaFeaturizer
from meta.synthetic import make_rule_table
from meta.table import PerformanceTable


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never write embeddings into the developer's home during tests."""
    monkeypatch.setenv("METAINF_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "metainf-cache"))


@pytest.fixture(scope="session")
def rule_data():
    return make_rule_table(n_tasks=320, random_state=0)


@pytest.fixture(scope="session")
def rule_table(rule_data) -> PerformanceTable:
    d = rule_data
    return PerformanceTable.from_frame(d.frame, d.task_cols, d.method_col, d.metric)


@pytest.fixture
def featurizer() -> MetaFeaturizer:
    return MetaFeaturizer(embedder=HashingEmbedder(32))


@pytest.fixture
def tiny_frame() -> pd.DataFrame:
    """Three tasks, three methods, a repeated measurement and a missing cell."""
    rows = [
        ("m7b", "A100", 1, "fast", 100.0),
        ("m7b", "A100", 1, "fast", 120.0),
        ("m7b", "A100", 1, "fast", 500.0),  # outlier: the median ignores it
        ("m7b", "A100", 1, "slow", 50.0),
        ("m7b", "A100", 1, "mid", 80.0),
        ("m7b", "H100", 1, "fast", 200.0),
        ("m7b", "H100", 1, "slow", 300.0),
        ("m70b", "H100", 4, "mid", 40.0),
        ("m70b", "H100", 4, "slow", 10.0),
    ]
    return pd.DataFrame(rows, columns=["model", "hardware", "batch", "method", "tps"])
