"""The HTTP API against real databases and a real blob store (in-process ASGI client).

Covers the blob endpoint (hash checks, size limits, result access by signature), job
specs, jobs with match decisions, providers, attestations (pagination bounds), the
data set, recommendations, health and metrics.
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from backend.api import create_app
from backend.config import BackendConfig
from backend.db import ChainEvent, JobRow, MatchDecision, session_scope
from protocol.auth import HEADER_TIMESTAMP, sign_request
from protocol.blobstore import MAX_BLOB_BYTES, LocalBlobStore
from protocol.canonical import canonical_json, content_id, keccak_hex
from protocol.jobspec import JobResult, JobSpec
from protocol.settings import Settings
from tests.backend.test_dataset import (
    CHAIN_ID,
    CHAT,
    EAGER,
    HW,
    INT8,
    PROVIDER,
    SMALL,
    add_provider,
    attest,
    ensure_tables,
    make_report,
)

CLIENT = Account.from_key("0x" + "c1" * 32)
STRANGER = Account.from_key("0x" + "5e" * 32)
AUDITOR = Account.from_key("0x" + "a0" * 32)
WORKER = Account.from_key("0x" + "b0" * 32)  # the provider that produced a result
_events = itertools.count(10_000)


def make_config(url: str, tmp_path: Path) -> BackendConfig:
    return BackendConfig(
        database_url=url,
        broker_url="memory://",
        result_backend="cache+memory://",
        embedded=True,
        rpc_url="inprocess",
        deployments_dir=tmp_path / "deployments",
        blob_location=str(tmp_path / "blobs"),
    )


def make_client(url: str, tmp_path: Path, **settings) -> TestClient:
    ensure_tables(url)
    config = make_config(url, tmp_path)
    app = create_app(config, Settings(auditors=(AUDITOR.address,), **settings))
    return TestClient(app)


@pytest.fixture
def api(database_url: str, tmp_path: Path):
    with make_client(database_url, tmp_path) as client:
        yield client


@pytest.fixture
def db(api, database_url: str) -> str:
    return database_url


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")  # the API's own folder


def spec_doc(**overrides) -> dict:
    spec = JobSpec(
        model_id=content_id(SMALL),
        prompts=["Hello"],
        max_new_tokens=8,
        workload_id=content_id(CHAT),
    )
    return {**spec.to_document(), **overrides}


def add_job(url: str, job_id: int, client: str, *, result_hash: str | None = None, **kw) -> None:
    with session_scope(url) as s:
        i = next(_events)
        event = ChainEvent(
            chain_id=CHAIN_ID,
            block_number=i,
            block_hash="0x" + f"{i:064x}",
            tx_hash="0x" + f"{i:064x}",
            log_index=0,
            contract="JobMarket",
            name="JobCreated",
            args={},
        )
        s.add(event)
        s.flush()
        s.add(
            JobRow(
                event_id=event.id,
                chain_id=CHAIN_ID,
                job_id=job_id,
                client=client,
                spec_hash=kw.pop("spec_hash", "0x" + "5" * 64),
                model_id=content_id(SMALL),
                workload_id=content_id(CHAT),
                escrow_wei=kw.pop("escrow_wei", 10**18),
                deadline=2_000_000_000,
                result_hash=result_hash,
                **kw,
            )
        )


def signed_get(api: TestClient, account, path: str, **kw):
    return api.get(path, headers=sign_request(account, "GET", path, **kw))


# ------------------------------------------------------------------------------ blobs


def test_blob_round_trip_and_hash_checks(api: TestClient) -> None:
    data = b"\x00report bytes\xff"
    h = keccak_hex(data)
    r = api.put("/blobs", content=data)
    assert r.status_code == 200 and r.json() == {"hash": h, "size": len(data)}
    r = api.get(f"/blobs/{h}")
    assert r.status_code == 200 and r.content == data
    assert r.headers["etag"] == f'"{h}"' and "immutable" in r.headers["cache-control"]
    assert api.get(f"/blobs/{h.upper().replace('0X', '0x')}").content == data
    head = api.head(f"/blobs/{h}")
    assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
    assert api.put(f"/blobs/{h}", content=data).json()["hash"] == h

    other = keccak_hex(b"something else")
    r = api.put(f"/blobs/{other}", content=data)
    assert r.status_code == 400 and h in r.json()["detail"]
    assert api.get(f"/blobs/{other}").status_code == 404
    assert api.head(f"/blobs/{other}").status_code == 404
    assert api.get("/blobs/not-a-hash").status_code == 422
    assert api.get("/blobs/0x" + "a" * 63).status_code == 422


def test_oversized_uploads_are_refused(api: TestClient) -> None:
    big = b"x" * (MAX_BLOB_BYTES + 1)
    r = api.put("/blobs", content=big)
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    # streamed without a Content-Length: refused while it streams in
    chunks = (big[i : i + 1 << 20] for i in range(0, len(big), 1 << 20))
    r = api.put("/blobs", content=chunks)
    assert r.status_code == 413
    assert api.put(f"/blobs/{keccak_hex(big)}", content=big).status_code == 413
    assert api.post("/specs", content=big).status_code == 413
    r = api.post("/recommend", content=b"{" + b" " * 70_000 + b"}")
    assert r.status_code == 413
    assert api.put("/blobs", content=b"x" * MAX_BLOB_BYTES).status_code == 200


# ------------------------------------------------------------------------------ specs


def test_a_valid_spec_is_stored_under_its_spec_hash(api: TestClient) -> None:
    doc = spec_doc()
    r = api.post("/specs", json=doc)
    assert r.status_code == 200
    h = r.json()["hash"]
    assert h == JobSpec.from_document(doc).spec_hash
    assert api.get(f"/blobs/{h}").content == canonical_json(doc)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (spec_doc(max_new_tokens="8"), "max_new_tokens"),
        (spec_doc(prompts=[]), "prompts"),
        (spec_doc(model_id="0x12"), "model_id"),
        (spec_doc(schema="metainf.job-spec/0"), "schema"),
        (spec_doc(surprise=1), "surprise"),
        ([1, 2], "JSON object"),
    ],
)
def test_malformed_specs_get_422_naming_the_field(api: TestClient, body, needle: str) -> None:
    r = api.post("/specs", json=body)
    assert r.status_code == 422 and needle in r.json()["detail"]


def test_spec_that_is_not_json(api: TestClient) -> None:
    for body in (b"{not json", b"\xff\xfe", b"[" * 100_000):
        r = api.post("/specs", content=body)
        assert r.status_code == 422, body[:10]


# ------------------------------------------------------------------------------ results


def _result(job_id: int, spec_hash: str) -> bytes:
    doc = JobResult(
        job_id=job_id,
        spec_hash=spec_hash,
        provider=WORKER.address,
        method_id=content_id(EAGER),
        outputs=[{"text": "hi", "token_ids": [1, 2]}],
    ).to_document()
    return canonical_json(doc)


def test_a_result_is_readable_by_its_client_and_the_auditors_only(api, db) -> None:
    spec_hash = api.post("/specs", json=spec_doc()).json()["hash"]
    data = _result(7, spec_hash)
    h = api.put("/blobs", content=data).json()["hash"]
    add_job(db, 7, CLIENT.address, result_hash=h, spec_hash=spec_hash, status="submitted")
    path = f"/blobs/{h}"

    r = api.get(path)
    assert r.status_code == 401 and "signed request" in r.json()["detail"]
    assert r.headers["www-authenticate"].startswith("MetaInf-Signature")
    assert api.head(path).status_code == 401
    assert signed_get(api, STRANGER, path).status_code == 403
    for reader in (CLIENT, AUDITOR, WORKER):
        r = signed_get(api, reader, path)
        assert r.status_code == 200 and r.content == data, reader.address
        assert r.headers["cache-control"].startswith("private")
    head = api.head(path, headers=sign_request(CLIENT, "HEAD", path))
    assert head.status_code == 200

    # a replayed request, a stale one, and one signed for another path
    headers = sign_request(CLIENT, "GET", path)
    assert api.get(path, headers=headers).status_code == 200
    r = api.get(path, headers=headers)
    assert r.status_code == 401 and "replay" in r.json()["detail"]
    r = signed_get(api, CLIENT, path, timestamp=int(time.time()) - 301)
    assert r.status_code == 401 and "clock" in r.json()["detail"]
    stale = sign_request(CLIENT, "GET", path)
    stale[HEADER_TIMESTAMP] = str(int(stale[HEADER_TIMESTAMP]) + 1)
    assert api.get(path, headers=stale).status_code == 401
    other = sign_request(CLIENT, "GET", "/blobs/0x" + "00" * 32)
    r = api.get(path, headers=other)
    assert r.status_code == 401 and "does not match" in r.json()["detail"]


def test_a_result_is_protected_before_the_indexer_links_it(api, db) -> None:
    """Uploaded right before submitResult: a result document is never public."""
    spec_hash = "0x" + "77" * 32
    data = _result(8, spec_hash)
    h = api.put("/blobs", content=data).json()["hash"]
    assert api.get(f"/blobs/{h}").status_code == 401
    assert signed_get(api, CLIENT, f"/blobs/{h}").status_code == 403
    assert signed_get(api, WORKER, f"/blobs/{h}").status_code == 200
    add_job(db, 8, CLIENT.address, spec_hash=spec_hash)  # the job, not yet the result
    assert signed_get(api, CLIENT, f"/blobs/{h}").status_code == 200


def test_an_unknown_result_hash_still_needs_a_signature(api, db) -> None:
    h = "0x" + "ab" * 32
    add_job(db, 9, CLIENT.address, result_hash=h)
    assert api.get(f"/blobs/{h}").status_code == 401
    assert signed_get(api, CLIENT, f"/blobs/{h}").status_code == 404


# ------------------------------------------------------------------------------ jobs


def test_jobs_with_their_match_decision(api, db) -> None:
    add_job(
        db,
        1,
        CLIENT.address,
        status="assigned",
        provider=PROVIDER,
        hardware_id=content_id(HW),
        price_wei=5 * 10**17,
    )
    add_job(db, 2, CLIENT.address, status="unmatched", unmatched_reason="no provider fits")
    add_job(db, 3, STRANGER.address)
    candidates = [
        {"provider": PROVIDER, "method_id": content_id(EAGER), "runtime_s": 1.5, "cost_wei": "9"}
    ]
    with session_scope(db) as s:
        s.add(
            MatchDecision(
                chain_id=CHAIN_ID,
                job_id=1,
                model_version=4,
                provider=PROVIDER,
                method_id=content_id(EAGER),
                price_wei=5 * 10**17,
                candidates=candidates,
                reason="fastest within budget",
            )
        )
    job = api.get("/jobs/1").json()
    assert job["status"] == "assigned" and job["price_wei"] == str(5 * 10**17)
    assert job["escrow_wei"] == str(10**18) and job["hardware_id"] == content_id(HW)
    assert job["decision"]["model_version"] == 4
    assert job["decision"]["candidates"] == candidates
    assert api.get("/jobs/2").json()["unmatched_reason"] == "no provider fits"
    assert api.get("/jobs/2").json()["decision"] is None
    assert api.get(f"/jobs/1?chain_id={CHAIN_ID}").status_code == 200

    r = api.get("/jobs/999")
    assert r.status_code == 404 and "999" in r.json()["detail"]
    assert api.get("/jobs/1?chain_id=5").status_code == 404
    assert api.get("/jobs/-1").status_code == 422
    assert api.get(f"/jobs/{2**63}").status_code == 422
    assert api.get("/jobs/abc").status_code == 422

    mine = api.get("/jobs", params={"client": CLIENT.address.lower()}).json()
    assert mine["total"] == 2 and [j["job_id"] for j in mine["items"]] == [2, 1]
    assert api.get("/jobs").json()["total"] == 3
    assert api.get("/jobs", params={"client": "0x123"}).status_code == 422
    assert api.get("/jobs", params={"status": "unmatched"}).json()["total"] == 1


# ------------------------------------------------------------------------------ market


def test_attestations_paginate_within_bounds(api, db, store) -> None:
    for k in range(5):
        attest(db, store, make_report(SMALL, HW, CHAT, EAGER, 10.0 + k, seed=k))
    attest(db, store, make_report(SMALL, HW, CHAT, INT8, 50.0), provider="0x" + "dd" * 20)
    page = api.get("/attestations", params={"limit": 2, "offset": 2}).json()
    assert page["total"] == 6 and len(page["items"]) == 2 and page["offset"] == 2
    ids = [a["id"] for a in api.get("/attestations").json()["items"]]
    assert [a["id"] for a in page["items"]] == ids[2:4]
    item = page["items"][0]
    assert item["tx_hash"] and item["block_number"] and item["report_hash"].startswith("0x")
    by_method = api.get("/attestations", params={"method_id": content_id(INT8)}).json()
    assert by_method["total"] == 1
    by_provider = api.get("/attestations", params={"provider": PROVIDER}).json()
    assert by_provider["total"] == 5
    assert api.get("/attestations", params={"offset": 100}).json()["items"] == []
    for bad in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"offset": 10**10}):
        assert api.get("/attestations", params=bad).status_code == 422, bad
    assert api.get("/attestations", params={"model_id": "0xzz"}).status_code == 422


def test_page_limit_comes_from_the_settings(database_url, tmp_path) -> None:
    with make_client(database_url, tmp_path, api_page_limit=3) as api:
        assert api.get("/providers", params={"limit": 3}).status_code == 200
        assert api.get("/providers", params={"limit": 4}).status_code == 422


def test_providers(api, db) -> None:
    add_provider(db, PROVIDER)
    add_provider(db, "0x" + "ee" * 20, slashed=True)
    page = api.get("/providers").json()
    assert page["total"] == 2
    assert {p["slashed"] for p in page["items"]} == {True, False}
    assert page["items"][0]["price_per_second_wei"] == str(10**9)
    assert api.get("/providers", params={"active": "true"}).json()["total"] == 1


# ------------------------------------------------------------------------------ data


def test_dataset_exports(api, db, store) -> None:
    assert api.get("/dataset.json").json()["n_cells"] == 0
    attest(db, store, make_report(SMALL, HW, CHAT, EAGER, 10.0))
    doc = api.get("/dataset.json").json()
    assert doc["n_cells"] == 1 and doc["schema"] == "metainf.dataset/1"
    assert doc["rows"][0]["output_tokens_per_s"] == 10.0
    attest(db, store, make_report(SMALL, HW, CHAT, INT8, 20.0))  # the cache sees it
    assert api.get("/dataset.json").json()["n_cells"] == 2
    r = api.get("/dataset.csv")
    assert r.headers["content-type"].startswith("text/csv")
    assert len(r.text.strip().splitlines()) == 3
    assert r.headers["etag"] == f'"{doc["data_hash"]}"' or r.headers["etag"]


def test_recommend_needs_a_model_first(api) -> None:
    body = {"model": content_id(SMALL), "hardware": content_id(HW), "workload": CHAT}
    r = api.post("/recommend", json=body)
    assert r.status_code == 409 and "no model" in r.json()["detail"]


# ------------------------------------------------------------------------------ operations


def test_health_and_metrics(api, db) -> None:
    from backend.db import IndexerCursor

    h = api.get("/health").json()
    assert h["status"] == "ok" and h["database"] and h["schema_revision"] == h["schema_head"]
    assert h["model"] is None and h["indexer"] == []
    with session_scope(db) as s:
        s.add(IndexerCursor(chain_id=CHAIN_ID, next_block=42))
    add_job(db, 1, CLIENT.address, status="open")
    assert api.get("/health").json()["indexer"][0]["last_indexed_block"] == 41
    api.put("/blobs", content=b"abc")
    text = api.get("/metrics").text
    assert 'metainf_api_requests_total{method="PUT",route="/blobs",status="200"}' in text
    assert 'metainf_jobs{status="open"} 1.0' in text
    assert "metainf_api_blob_bytes_total" in text and "metainf_promoted_model_version" in text
    assert "metainf_api_request_seconds_bucket" in text


def test_openapi_lists_every_route(api) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    assert {
        "/blobs",
        "/blobs/{h}",
        "/specs",
        "/jobs",
        "/jobs/{job_id}",
        "/providers",
        "/attestations",
        "/dataset.json",
        "/dataset.csv",
        "/recommend",
        "/health",
        "/metrics",
    } <= set(paths)
    assert json.dumps(paths["/specs"]["post"]["requestBody"]).count("max_new_tokens") >= 1


def test_deeply_nested_json_is_refused_not_a_crash(api: TestClient) -> None:
    """py_ecc raises the recursion limit to 100,000: parsing this would kill the process."""
    deep = b"[" * 60_000 + b"]" * 60_000
    r = api.post("/specs", content=b"[" * 100_000)
    assert r.status_code == 422 and "nested" in r.json()["detail"]
    r = api.post("/recommend", content=deep[:30_000], headers={"content-type": "application/json"})
    assert r.status_code == 422 and "nested" in r.json()["detail"]
    assert api.post("/recommend", content=b"[" * 60_000).status_code == 422  # no content-type
    # an uploaded blob that looks like a result but is deep: served, never parsed
    blob = b'{"schema":"metainf.job-result/1","x":' + b"[" * 100_000 + b"}"
    h = api.put("/blobs", content=blob).json()["hash"]
    assert api.get(f"/blobs/{h}").content == blob
