"""The Python EIP-712 schema hashes exactly what the contract hashes."""

from __future__ import annotations

import math

import pytest
from eth_account import Account
from pydantic import ValidationError

from chain.clients import Market
from chain.connection import connect, fund
from chain.deploy import deploy_market
from protocol.canonical import CanonicalJSONError, canonical_json, content_id
from protocol.eip712 import (
    Attestation,
    BatchHeader,
    Domain,
    Measurement,
    batch_root,
    recover_attestation_signer,
    recover_batch_signer,
    sign_attestation,
    sign_batch,
)
from protocol.report import build_report, headline
from tests.factories import example_measurement

HW = content_id({"hw": 1})


@pytest.fixture(scope="module")
def market() -> Market:
    w3 = connect()
    admin = Account.create()
    fund(w3, admin.address, 10**20)
    return Market.at(w3, deploy_market(w3, admin))


def test_struct_hashes_match_the_contract(market: Market) -> None:
    contract = market.attestations.contract.functions
    m = example_measurement(3, HW)
    a = Attestation(
        provider=Account.create().address, measurement=m, nonce=5, timestamp=1_700_000_000
    )
    assert contract.hashAttestation(a.as_tuple()).call() == a.struct_hash()
    assert contract.hashMeasurement(m.as_tuple()).call() == m.struct_hash()
    domain = market.attestations.domain()
    assert contract.domainSeparator().call() == domain.separator()
    items = [example_measurement(i, HW) for i in range(4)]
    header = BatchHeader(provider=a.provider, count=4, nonce=9, timestamp=1_700_000_000)
    root, _ = batch_root(items)
    assert contract.batchDigest(header.header_tuple(), root).call() == domain.digest(
        header.struct_hash_for(items)
    )


def test_signatures_recover_to_the_signer_only_under_the_same_domain(market: Market) -> None:
    key = Account.create()
    domain = market.attestations.domain()
    a = Attestation(
        provider=key.address, measurement=example_measurement(1, HW), nonce=1, timestamp=1
    )
    sig = sign_attestation(a, domain, key.key)
    assert recover_attestation_signer(a, domain, sig) == key.address
    other = Domain(chain_id=domain.chain_id + 1, verifying_contract=domain.verifying_contract)
    assert recover_attestation_signer(a, other, sig) != key.address
    items = [example_measurement(i, HW) for i in range(3)]
    header = BatchHeader(provider=key.address, count=3, nonce=2, timestamp=1)
    bsig = sign_batch(header, items, domain, key.key)
    assert recover_batch_signer(header, items, domain, bsig) == key.address
    tampered = [items[0], example_measurement(99, HW), items[2]]
    assert recover_batch_signer(header, tampered, domain, bsig) != key.address


REPORT = build_report(
    model={"kind": "model", "name": "m"},
    hardware={"kind": "hardware", "threads": 2},
    workload={"kind": "workload", "name": "chat"},
    method={"kind": "method", "name": "hf-eager"},
    metrics={
        "output_tokens_per_s": 71.6049,
        "ttft_p50_ms": 12.3456,
        "tpot_p50_ms": 4.0,
        "peak_rss_bytes": 123.0,
    },
    quality={"exact": True, "ok": True},
    samples=[{"wall_s": 1.0}],
    env={"packages": {"python": "3.11"}},
    config={"warmup": 1, "repetitions": 3},
    measured_at="2026-01-01T00:00:00Z",
    outputs_hash=content_id([[1, 2, 3]]),
)


def test_report_figures_are_scaled_once_to_the_on_chain_units() -> None:
    h = headline(REPORT)
    assert (h.tokensPerSecX1000, h.ttftP50Us, h.tpotP50Us, h.peakMemBytes) == (
        71605,
        12346,
        4000,
        123,
    )


def test_report_and_leaf_hashes_are_those_of_the_previous_release() -> None:
    """The refactor into protocol/ changed no byte that is hashed (pinned values)."""
    assert content_id(REPORT) == (
        "0xe096f36e2cea3d18510c3befd3a4b7488aae5fedc0fb14f550a2ed91f1fdb03f"
    )
    leaf = Measurement.from_report(REPORT).struct_hash()
    assert leaf.hex() == "84f532356da6b19129607f6fe41854800b230bf1af30d6b5548ba4f9af9c77ae"


@pytest.mark.parametrize("bad", [-1, 2**64, 1.5, True, "7"])
def test_out_of_range_metrics_are_refused_before_signing(bad: object) -> None:
    fields = example_measurement(0, HW).model_dump()
    with pytest.raises(ValidationError, match="tokensPerSecX1000"):
        Measurement(**{**fields, "tokensPerSecX1000": bad})


def test_ids_must_be_32_bytes() -> None:
    fields = example_measurement(0, HW).model_dump()
    with pytest.raises(ValidationError, match="modelId"):
        Measurement(**{**fields, "modelId": b"\0" * 31})


def test_batch_count_must_match_items(market: Market) -> None:
    key = Account.create()
    with pytest.raises(ValueError, match="header.count=2 but 1 items"):
        sign_batch(
            BatchHeader(provider=key.address, count=2, nonce=1, timestamp=1),
            [example_measurement(0, HW)],
            market.attestations.domain(),
            key.key,
        )


def test_canonical_json_is_order_independent_and_rejects_nan() -> None:
    assert canonical_json({"b": 1, "a": [1.5, "é"]}) == b'{"a":[1.5,"\xc3\xa9"],"b":1}'
    assert content_id({"x": 1, "y": 2}) == content_id({"y": 2, "x": 1})
    assert content_id({"x": 1}) != content_id({"x": 2})
    with pytest.raises(CanonicalJSONError):
        canonical_json({"x": math.nan})
    with pytest.raises(CanonicalJSONError):
        canonical_json({1: "non-string key"})
