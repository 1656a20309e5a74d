"""POST /recommend with a real promoted MetaInf model (trained by the trainer)."""

from __future__ import annotations

import pytest

from backend.db import session_scope
from backend.trainer import train_if_due
from protocol.blobstore import LocalBlobStore
from protocol.canonical import content_id
from tests.backend.test_api import make_client
from tests.backend.test_dataset import EAGER, HW, INT8, model_desc, seed
from tests.backend.test_trainer import (
    BIG_MODELS,
    SDPA,
    SMALL_MODELS,
    WORKLOADS,
    consistent,
)


@pytest.fixture
def world(database_url: str, tmp_path):
    with make_client(database_url, tmp_path) as api:
        store = LocalBlobStore(tmp_path / "blobs")
        seed(
            database_url,
            store,
            SMALL_MODELS + BIG_MODELS,
            WORKLOADS,
            [EAGER, SDPA, INT8],
            consistent,
        )
        with session_scope(database_url) as s:
            outcome = train_if_due(
                s, store, min_new_cells=1, holdout_fraction=0.2, code_version="test"
            )
        assert outcome.promoted, outcome
        yield api, outcome.version


def body(**kw):
    return {
        "model": content_id(BIG_MODELS[0]),
        "hardware": content_id(HW),
        "workload": WORKLOADS[0],  # a descriptor: its id is its content id
        "quality": 0.85,
    } | kw


def test_recommendations_from_the_promoted_model(world) -> None:
    api, version = world
    r = api.post("/recommend", json=body(price_per_second_wei=1000))
    assert r.status_code == 200, r.text
    rec = r.json()
    assert rec["model_version"] == version
    assert rec["workload_id"] == content_id(WORKLOADS[0])
    assert rec["known"] == {"model": True, "hardware": True, "workload": True}
    assert rec["work_tokens"] == 8 * 16 and rec["work_basis"] == "workload descriptor"
    assert rec["candidates_basis"] == "measured on this model and hardware"
    methods = rec["methods"]
    assert [m["rank"] for m in methods] == [1, 2, 3]
    assert {m["method_id"] for m in methods} == {content_id(m) for m in (EAGER, SDPA, INT8)}
    assert {m["method_name"] for m in methods} == {"hf-eager", "hf-sdpa", "hf-int8"}
    for m in methods:
        assert m["measured"] is True
        runtime = m["predicted_runtime_s"]
        assert runtime > 0
        assert m["predicted_tokens_per_s"] == pytest.approx(128 / runtime, rel=1e-4)
        assert int(m["predicted_cost_wei"]) == pytest.approx(runtime * 1000, rel=1e-4, abs=1)
        assert m["within_budget"] is None
    assert rec["choice"] == methods[0]["method_id"]

    # quality: "exact" and a high agreement keep the lossy int8 out
    exact = api.post("/recommend", json=body(quality="exact")).json()
    assert content_id(INT8) not in {m["method_id"] for m in exact["methods"]}
    assert len(exact["methods"]) == 2
    strict = api.post("/recommend", json=body(quality=0.95)).json()
    assert content_id(INT8) not in {m["method_id"] for m in strict["methods"]}
    loose = api.post("/recommend", json=body(quality=0.9)).json()
    assert content_id(INT8) in {m["method_id"] for m in loose["methods"]}

    # budget: the best-ranked method whose predicted cost fits
    rec = api.post("/recommend", json=body(price_per_second_wei=10**6, budget_wei=10**30)).json()
    assert rec["choice"] == rec["methods"][0]["method_id"]
    assert all(m["within_budget"] for m in rec["methods"])
    costs = sorted(int(m["predicted_cost_wei"]) for m in rec["methods"])
    rec = api.post("/recommend", json=body(price_per_second_wei=10**6, budget_wei=costs[0])).json()
    fits = [m for m in rec["methods"] if m["within_budget"]]
    assert fits and rec["choice"] == fits[0]["method_id"]
    rec = api.post("/recommend", json=body(price_per_second_wei=10**6, budget_wei=0)).json()
    assert rec["choice"] is None and "budget" in rec["reason"]

    # a model the data set never saw, explicit work, top_k
    new_model = model_desc("brand-new", 3.5e9)
    rec = api.post("/recommend", json=body(model=new_model, work_tokens=1000)).json()
    assert rec["known"]["model"] is False and rec["model_id"] == content_id(new_model)
    assert rec["candidates_basis"] == "measured on this hardware"
    assert rec["work_tokens"] == 1000 and rec["work_basis"] == "request"
    assert all(m["measured"] is False for m in rec["methods"])
    rec = api.post("/recommend", json=body(top_k=1)).json()
    assert len(rec["methods"]) == 1


def test_refusals_and_health(world) -> None:
    """What the API refuses, with a 422 saying why; the model shows in /health."""
    api, version = world
    for payload in [
        body(budget_wei=10),  # a budget needs a price
        body(quality="lossy"),
        body(quality=1.5),
        body(model="0x1234"),
        body(budget_wei=-1, price_per_second_wei=1),
        body(work_tokens=0),
        body(extra=1),
        {"model": content_id(HW)},
    ]:
        r = api.post("/recommend", json=payload)
        assert r.status_code == 422, (payload, r.text)
    raw = (
        b'{"model": {"name": "x", "params": NaN}, "hardware": "0x' + b"1" * 64 + b'", '
        b'"workload": "0x' + b"2" * 64 + b'"}'
    )
    r = api.post("/recommend", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "canonical" in r.json()["detail"]

    health = api.get("/health").json()
    assert health["model"]["version"] == version and health["model"]["n_cells"] == 180
    assert f"metainf_promoted_model_version {float(version)}" in api.get("/metrics").text


def test_an_artifact_this_api_cannot_see_is_a_503(world, tmp_path) -> None:
    from backend import trainer

    api, version = world
    with session_scope(api.app.state.metainf.database_url) as s:
        artifact = trainer.promoted_version(s).artifact_hash
    LocalBlobStore(tmp_path / "blobs").path(artifact).unlink()
    trainer._cache.clear()  # as in a fresh API process
    r = api.post("/recommend", json=body())
    assert r.status_code == 503 and "cannot be loaded" in r.json()["detail"]
