"""The trainer: due only with enough new cells, versioned by (data hash, code version),
promoted only when no worse than the current model and the single best method on the
newest tasks. Real MetaInf fits on real databases and a real blob store."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.db import ModelVersion, session_scope
from backend.trainer import _verdict, count_new_cells, current_model, load_artifact, train_if_due
from protocol.blobstore import LocalBlobStore
from tests.backend.test_dataset import (
    EAGER,
    INT8,
    build,
    ensure_tables,
    method_desc,
    model_desc,
    seed,
    workload_desc,
)

SDPA = method_desc("hf-sdpa")


@pytest.fixture
def db(database_url: str) -> str:
    ensure_tables(database_url)
    return database_url


@pytest.fixture
def store(tmp_path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


METHODS = [EAGER, SDPA, INT8]
WORKLOADS = [
    workload_desc(name, c)
    for name, c in [("chat", 8), ("summarize", 4), ("decode", 16), ("offline", 32), ("prefill", 2)]
    + [("mixed", 6)]
]
SMALL_MODELS = [model_desc(f"small-{i}", p) for i, p in enumerate([5e7, 1e8, 2e8, 3e8])]
BIG_MODELS = [model_desc(f"big-{i}", p) for i, p in enumerate([1e9, 1.5e9, 2e9, 3e9, 4e9, 4.5e9])]


def consistent(model, workload, method) -> float:
    """Small models run fastest with sdpa, big ones with int8."""
    big = model["params"] >= 5e8
    return {"hf-eager": 10.0, "hf-sdpa": 20.0 if big else 15.0, "hf-int8": 30.0 if big else 5.0}[
        method["name"]
    ]


def pattern_break(model, workload, method) -> float:
    """A big model on which sdpa wins: what the learned pattern gets wrong."""
    return {"hf-eager": 10.0, "hf-sdpa": 30.0, "hf-int8": 10.0}[method["name"]]


def train(url, store, **kw):
    args = {"min_new_cells": 1, "holdout_fraction": 0.2, "code_version": "test-1"} | kw
    with session_scope(url) as s:
        return train_if_due(s, store, **args)


def versions(url) -> list[ModelVersion]:
    with session_scope(url) as s:
        return list(s.scalars(select(ModelVersion).order_by(ModelVersion.id)))


def test_nothing_to_train_on_an_empty_data_set(db, store) -> None:
    outcome = train(db, store)
    assert outcome.status == "empty" and not outcome.promoted
    with session_scope(db) as s:
        assert current_model(s, store) is None


def test_too_little_data_is_refused_without_a_version(db, store) -> None:
    seed(db, store, SMALL_MODELS[:1], WORKLOADS[:1], METHODS, consistent)  # one task
    outcome = train(db, store)
    assert outcome.status == "failed" and "too little data" in outcome.reason
    assert versions(db) == []


def test_promotion_refusal_and_versioning(db, store) -> None:
    seed(db, store, SMALL_MODELS + BIG_MODELS, WORKLOADS, METHODS, consistent)
    first = train(db, store)
    assert first.status == "promoted", first
    ev = first.evaluation
    assert ev["n_holdout_tasks"] == 12 and ev["compared_with_version"] is None
    scores = ev["scores"]
    assert scores["candidate"]["normalized_performance"] >= scores["sbs"]["normalized_performance"]
    assert ev["artifact_fit"] == "all data" and ev["watermark"]["attestation_id"] > 0
    (row,) = versions(db)
    assert row.promoted and row.code_version == "test-1" and row.n_cells == 180
    assert row.data_hash == build(db).data_hash

    # the artifact is the joblib file in the blob store, loaded back as a selector
    selector, info = load_artifact(store, row.artifact_hash)
    assert info["metadata"]["data_hash"] == row.data_hash
    with session_scope(db) as s:
        model = current_model(s, store)
        assert model.version == row.id and current_model(s, store) is model  # cached

    # same data, same code: nothing to do; a new code version retrains the same data
    assert train(db, store).status == "exists"
    assert train(db, store, min_new_cells=10**6).status == "exists"

    # a new big model on which the learned pattern is wrong: refused, current unchanged
    seed(db, store, [model_desc("big-odd", 5e9)], WORKLOADS, METHODS, pattern_break)
    assert train(db, store, min_new_cells=100).status == "not-due"
    second = train(db, store, min_new_cells=6)
    assert second.status == "refused", second
    scores = second.evaluation["scores"]
    best_other = max(
        scores["sbs"]["normalized_performance"], scores["current"]["normalized_performance"]
    )
    assert scores["candidate"]["normalized_performance"] < best_other
    assert second.evaluation["compared_with_version"] == row.id
    assert second.evaluation["artifact_fit"] == "training slice"
    old, refused = versions(db)
    assert not refused.promoted and refused.artifact_hash
    with session_scope(db) as s:
        assert current_model(s, store).version == old.id
        assert count_new_cells(build(db), refused) == 0

    # a new code version is due even without new cells
    third = train(db, store, code_version="test-2", min_new_cells=10**6)
    assert third.status in {"promoted", "refused"} and third.version != refused.id


def test_verdict_compares_with_the_current_model_and_the_single_best() -> None:
    def s(x):
        return {"normalized_performance": x}

    assert _verdict({"candidate": s(0.9), "sbs": s(0.9)}, 0.0)[0]
    ok, why = _verdict({"candidate": s(0.8), "current": s(0.9), "sbs": s(0.5)}, 0.0)
    assert not ok and "current" in why
    ok, why = _verdict({"candidate": s(0.8), "current": s(0.7), "sbs": s(0.85)}, 0.0)
    assert not ok and "sbs" in why
    assert _verdict({"candidate": s(0.8), "sbs": s(0.85)}, 0.1)[0]  # within tolerance


def test_holdout_fraction_is_checked(db, store) -> None:
    with pytest.raises(ValueError, match="holdout_fraction"):
        train(db, store, holdout_fraction=1.0)
