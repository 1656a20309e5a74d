"""The data set builder: medians over distinct reports, exclusions, provenance, history.

Real databases (SQLite, PostgreSQL when it answers), real reports (``build_report``)
stored in a real blob store; attestation rows are inserted as the indexer would.
The helpers here are shared by the API and trainer suites.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from backend.dataset import (
    DatasetError,
    build_dataset,
    data_hash,
    import_external,
    import_external_csv,
    report_row,
)
from backend.db import (
    AttestationRow,
    Base,
    ChainEvent,
    ExternalCell,
    ProviderRow,
    ReportRow,
    engine_for,
    session_scope,
)
from protocol.blobstore import LocalBlobStore
from protocol.canonical import content_id
from protocol.report import build_report, headline

REPO = Path(__file__).resolve().parents[2]
CHAIN_ID = 31337
PROVIDER = "0x" + "aa" * 20
_counter = itertools.count(1)


def ensure_tables(url: str) -> None:
    """Tables added to the models since the initial migration (no-op once it has them)."""
    Base.metadata.create_all(engine_for(url))


@pytest.fixture
def db(database_url: str) -> str:
    ensure_tables(database_url)
    return database_url


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


# ------------------------------------------------------------------------------ descriptors


def model_desc(name: str, params: float) -> dict[str, Any]:
    return {"kind": "model", "name": name, "params": params, "layers": 8, "v": 1}


def hardware_desc(threads: int) -> dict[str, Any]:
    return {"kind": "hardware", "name": f"cpu-{threads}t", "device": "cpu", "threads": threads}


def workload_desc(name: str, concurrency: int = 8) -> dict[str, Any]:
    return {
        "kind": "workload",
        "name": name,
        "num_requests": 8,
        "output_tokens": [8, 24],
        "concurrency": concurrency,
    }


def method_desc(name: str) -> dict[str, Any]:
    return {"kind": "method", "name": name, "engine": name.split("-")[0], "v": 1}


SMALL = model_desc("tiny-48m", 4.8e7)
HW = hardware_desc(1)
CHAT = workload_desc("chat")
EAGER, INT8 = method_desc("hf-eager"), method_desc("hf-int8")


def make_report(
    model: dict,
    hardware: dict,
    workload: dict,
    method: dict,
    tps: float,
    *,
    exact_match_rate: float = 1.0,
    token_agreement: float = 1.0,
    exact: bool = True,
    ttft_ms: float = 100.0,
    seed: int = 0,
) -> dict[str, Any]:
    return build_report(
        model=model,
        hardware=hardware,
        workload=workload,
        method=method,
        metrics={
            "output_tokens_per_s": tps,
            "ttft_p50_ms": ttft_ms,
            "tpot_p50_ms": 20.0,
            "peak_rss_bytes": 2**30,
            "requests_per_s": tps / 16,
            "e2e_p50_ms": 500.0,
        },
        quality={
            "reference": "hf-eager",
            "exact": exact,
            "exact_match_rate": exact_match_rate,
            "token_agreement": token_agreement,
            "ok": True,
        },
        samples=[{"repetition": seed}],
        env={"torch": "test"},
        config={"seed": seed},
        measured_at="2026-01-01T00:00:00Z",
    )


def attest(
    url: str,
    store: LocalBlobStore,
    report: dict[str, Any],
    *,
    provider: str = PROVIDER,
    signature_ok: bool | None = True,
    report_ok: bool | None = True,
    with_report_row: bool = True,
) -> int:
    """Store the report and insert an attestation of it (and its ``reports`` row)."""
    h = store.put_json(report)
    figures = headline(report)
    i = next(_counter)
    ids = report["ids"]
    with session_scope(url) as s:
        event = ChainEvent(
            chain_id=CHAIN_ID,
            block_number=i,
            block_hash="0x" + f"{i:064x}",
            tx_hash="0x" + f"{i:064x}",
            log_index=0,
            contract="AttestationRegistry",
            name="Attested",
            args={},
        )
        s.add(event)
        s.flush()
        att = AttestationRow(
            event_id=event.id,
            chain_id=CHAIN_ID,
            provider=provider,
            nonce=i,
            batch_index=None,
            hardware_id=ids["hardwareId"],
            model_id=ids["modelId"],
            workload_id=ids["workloadId"],
            method_id=ids["methodId"],
            tokens_per_s_x1000=figures.tokensPerSecX1000,
            ttft_p50_us=figures.ttftP50Us,
            tpot_p50_us=figures.tpotP50Us,
            peak_mem_bytes=figures.peakMemBytes,
            report_hash=h,
            timestamp=1_700_000_000 + i,
            signer=provider,
            signature_ok=signature_ok,
            report_ok=report_ok,
        )
        s.add(att)
        if with_report_row and s.get(ReportRow, h) is None:
            s.add(report_row(store.get_json(h), h))
        s.flush()
        return att.id


def add_provider(url: str, address: str, *, slashed: bool = False) -> None:
    with session_scope(url) as s:
        s.add(
            ProviderRow(
                chain_id=CHAIN_ID,
                address=address,
                agent=address,
                hardware_ids=[],
                price_per_second_wei=10**9,
                stake_wei=10**18,
                active=not slashed,
                slashed=slashed,
            )
        )


def build(url: str):
    with session_scope(url) as s:
        return build_dataset(s)


def cell(dataset, method: dict) -> dict[str, Any]:
    (row,) = [r for r in dataset.rows if r["method"] == content_id(method)]
    return row


# ------------------------------------------------------------------------------ tests


def test_empty_database_gives_an_empty_data_set(db: str) -> None:
    ds = build(db)
    assert ds.rows == [] and ds.n_cells == 0
    assert ds.data_hash == data_hash([])


def test_median_over_distinct_reports_and_one_row_per_cell(db: str, store) -> None:
    ids = [
        attest(db, store, make_report(SMALL, HW, CHAT, EAGER, tps, seed=k))
        for k, tps in enumerate([10.0, 30.0, 20.0])
    ]
    attest(db, store, make_report(SMALL, HW, CHAT, INT8, 50.0, exact=False, exact_match_rate=0.5))
    ds = build(db)
    assert ds.n_cells == 2
    row = cell(ds, EAGER)
    assert row["output_tokens_per_s"] == 20.0 and row["n_repeats"] == 3
    assert row["attestation_ids"] == sorted(ids)
    assert row["source"] == "chain" and row["providers"] == [PROVIDER]
    assert row["exact_match_rate"] == 1.0 and row["method_exact"] is True
    assert row["requests_per_s"] == pytest.approx(20.0 / 16)
    lossy = cell(ds, INT8)
    assert lossy["exact_match_rate"] == 0.5 and lossy["method_exact"] is False
    # descriptors come from the reports, keyed by id, for the featurizer
    assert ds.descriptors["model"][content_id(SMALL)] == SMALL
    assert ds.sidecar()["method"][content_id(INT8)] == INT8
    table = ds.to_table()
    assert table.n_tasks == 1 and table.n_methods == 2


def test_the_same_report_counts_once(db: str, store) -> None:
    report = make_report(SMALL, HW, CHAT, EAGER, 10.0)
    first = attest(db, store, report)
    again = attest(db, store, report)  # re-attested under a new nonce
    attest(db, store, make_report(SMALL, HW, CHAT, EAGER, 40.0, seed=1))
    row = cell(build(db), EAGER)
    assert row["n_repeats"] == 2
    assert row["output_tokens_per_s"] == 25.0  # median of 10 and 40, not of 10, 10, 40
    assert {first, again} <= set(row["attestation_ids"])
    assert len(row["report_hashes"]) == 2


def test_bad_signatures_bad_reports_and_slashed_providers_are_left_out(db: str, store) -> None:
    cheat, honest = "0x" + "bb" * 20, "0x" + "cc" * 20
    add_provider(db, cheat, slashed=True)
    add_provider(db, honest)
    attest(db, store, make_report(SMALL, HW, CHAT, EAGER, 10.0), provider=honest)
    attest(db, store, make_report(SMALL, HW, CHAT, EAGER, 99.0, seed=1), signature_ok=False)
    attest(db, store, make_report(SMALL, HW, CHAT, EAGER, 98.0, seed=2), report_ok=False)
    attest(db, store, make_report(SMALL, HW, CHAT, EAGER, 97.0, seed=3), provider=cheat)
    unchecked = attest(
        db, store, make_report(SMALL, HW, CHAT, EAGER, 12.0, seed=4), signature_ok=None
    )
    row = cell(build(db), EAGER)
    assert row["n_repeats"] == 2 and row["output_tokens_per_s"] == 11.0
    assert unchecked in row["attestation_ids"]


@pytest.mark.skipif(
    not hasattr(AttestationRow, "challenge_upheld"), reason="the indexer records no challenges yet"
)
def test_an_upheld_challenge_removes_the_attestation(db: str, store) -> None:
    attest(db, store, make_report(SMALL, HW, CHAT, EAGER, 10.0))
    cheat = attest(db, store, make_report(SMALL, HW, CHAT, EAGER, 90.0, seed=1))
    assert cell(build(db), EAGER)["n_repeats"] == 2
    with session_scope(db) as s:
        s.get(AttestationRow, cheat).challenge_upheld = True
    row = cell(build(db), EAGER)
    assert row["n_repeats"] == 1 and cheat not in row["attestation_ids"]


def test_attestation_without_fetched_report_uses_the_signed_headline(db: str, store) -> None:
    attest(db, store, make_report(SMALL, HW, CHAT, EAGER, 12.345), with_report_row=False)
    ds = build(db)
    row = cell(ds, EAGER)
    assert row["output_tokens_per_s"] == 12.345 and row["ttft_p50_ms"] == 100.0
    assert row["exact_match_rate"] is None and row["method_exact"] is None
    assert ds.descriptors["model"] == {}


def test_data_hash_names_the_content_not_the_row_ids(db: str, store, tmp_path: Path) -> None:
    report = make_report(SMALL, HW, CHAT, EAGER, 10.0)
    attest(db, store, report)
    first = build(db)
    attest(db, store, report)  # a duplicate: same data, new attestation id
    second = build(db)
    assert second.data_hash == first.data_hash
    assert second.rows[0]["attestation_ids"] != first.rows[0]["attestation_ids"]
    attest(db, store, make_report(SMALL, HW, CHAT, EAGER, 30.0, seed=9))
    assert build(db).data_hash != first.data_hash


def test_external_table_is_imported_as_history_and_the_chain_wins(db: str, store) -> None:
    csv_path = REPO / "data" / "metadataset" / "cpu-v1.csv"
    sidecar = REPO / "data" / "metadataset" / "cpu-v1.descriptors.json"
    with session_scope(db) as s:
        n = import_external_csv(s, csv_path, sidecar)
    with session_scope(db) as s:  # importing again replaces, it does not add
        assert import_external_csv(s, csv_path, sidecar) == n
        assert len(s.scalars(select(ExternalCell)).all()) == n
    ds = build(db)
    assert ds.n_cells == n == 288
    assert {r["source"] for r in ds.rows} == {"external:cpu-v1"}
    assert all(r["attestation_ids"] == [] for r in ds.rows)
    assert ds.to_table().n_tasks == 24
    # an attested measurement of an imported cell replaces it
    import json

    side = json.loads(sidecar.read_text())
    descs = [
        side[role][name]
        for role, name in zip(
            ("model", "hardware", "workload", "method"),
            ("smollm2-135m", "cpu-1t", "chat", "hf-eager"),
            strict=True,
        )
    ]
    attest(db, store, make_report(*descs, 1234.0))
    ds = build(db)
    assert ds.n_cells == 288
    chain_rows = [r for r in ds.rows if r["source"] == "chain"]
    assert len(chain_rows) == 1 and chain_rows[0]["output_tokens_per_s"] == 1234.0


def test_external_import_refuses_bad_input(db: str) -> None:
    desc = {role: {"x": {"kind": role}} for role in ("model", "hardware", "workload", "method")}
    row = {"model": "x", "hardware": "x", "workload": "x", "method": "x", "output_tokens_per_s": 1}
    with session_scope(db) as s:
        with pytest.raises(DatasetError, match="name"):
            import_external(s, "Bad Name!", [row], desc)
        with pytest.raises(DatasetError, match="no descriptor"):
            import_external(s, "t", [{**row, "model": "y"}], desc)
        with pytest.raises(DatasetError, match="content id"):
            import_external(s, "t", [row], {**desc, "ids": {"model": {"x": "0x" + "00" * 32}}})
        assert import_external(s, "t", [{**row, "output_tokens_per_s": "nan"}], desc) == 0


def test_csv_and_json_exports(db: str, store) -> None:
    attest(db, store, make_report(SMALL, HW, CHAT, EAGER, 10.0))
    ds = build(db)
    text = ds.to_csv()
    header, line = text.strip().splitlines()
    assert header.startswith("model,hardware,workload,method,model_name")
    assert "tiny-48m" in line and "hf-eager" in line
    doc = ds.to_json()
    assert doc["data_hash"] == ds.data_hash and doc["n_cells"] == 1


# ------------------------------------------------------------------------------ worlds


def seed(
    url: str,
    store: LocalBlobStore,
    models: list[dict],
    workloads: list[dict],
    methods: list[dict],
    tps,
    hardware: dict = HW,
) -> None:
    """Attest one report per (model, workload, method); ``tps(model, workload, method)``.
    Methods named ``*-int8`` are lossy (exact match 0.5, token agreement 0.9)."""
    for model in models:
        for workload in workloads:
            for method in methods:
                lossy = method["name"].endswith("int8")
                report = make_report(
                    model,
                    hardware,
                    workload,
                    method,
                    tps(model, workload, method),
                    exact=not lossy,
                    exact_match_rate=0.5 if lossy else 1.0,
                    token_agreement=0.9 if lossy else 1.0,
                )
                attest(url, store, report)
