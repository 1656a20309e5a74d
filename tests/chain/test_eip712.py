"""The Python EIP-712 schema hashes exactly what the contract hashes."""

from __future__ import annotations

import math

import pytest
from eth_account import Account

from chain.canonical import CanonicalJSONError, canonical_json, content_id
from chain.clients import Market
from chain.connection import connect, fund
from chain.deploy import deploy_market
from chain.eip712 import (
    Attestation,
    AttestationSchemaError,
    BatchHeader,
    Measurement,
    batch_root,
    recover_attestation_signer,
    recover_batch_signer,
    sign_attestation,
    sign_batch,
)
from chain.round_trip import example_measurement

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
    a = Attestation(Account.create().address, m, nonce=5, timestamp=1_700_000_000)
    assert contract.hashAttestation(a.as_tuple()).call() == a.struct_hash()
    assert contract.hashMeasurement(m.as_tuple()).call() == m.struct_hash()
    domain = market.attestations.domain()
    assert contract.domainSeparator().call() == domain.separator()
    items = [example_measurement(i, HW) for i in range(4)]
    header = BatchHeader(a.provider, 4, 9, 1_700_000_000)
    root, _ = batch_root(items)
    assert contract.batchDigest(header.as_tuple(), root).call() == domain.digest(
        header.struct_hash(root)
    )


def test_signatures_recover_to_the_signer_only_under_the_same_domain(market: Market) -> None:
    key = Account.create()
    domain = market.attestations.domain()
    a = Attestation(key.address, example_measurement(1, HW), 1, 1)
    sig = sign_attestation(a, domain, key.key)
    assert recover_attestation_signer(a, domain, sig) == key.address
    other = type(domain)(chain_id=domain.chain_id + 1, verifying_contract=domain.verifying_contract)
    assert recover_attestation_signer(a, other, sig) != key.address
    items = [example_measurement(i, HW) for i in range(3)]
    header = BatchHeader(key.address, 3, 2, 1)
    bsig = sign_batch(header, items, domain, key.key)
    assert recover_batch_signer(header, items, domain, bsig) == key.address
    tampered = [items[0], example_measurement(99, HW), items[2]]
    assert recover_batch_signer(header, tampered, domain, bsig) != key.address


def test_metrics_are_scaled_to_integer_units() -> None:
    m = Measurement.from_metrics(
        hardware_id=HW,
        model_id=HW,
        workload_id=HW,
        method_id=HW,
        output_tokens_per_s=71.6049,
        ttft_p50_s=0.0123456,
        tpot_p50_s=0.004,
        peak_mem_bytes=123,
        report_hash=HW,
    )
    assert (m.tokensPerSecX1000, m.ttftP50Us, m.tpotP50Us, m.peakMemBytes) == (
        71605,
        12346,
        4000,
        123,
    )


@pytest.mark.parametrize("bad", [-1, 2**64, 1.5, True])
def test_out_of_range_metrics_are_refused_before_signing(bad: object) -> None:
    with pytest.raises(AttestationSchemaError):
        Measurement(b"\0" * 32, b"\0" * 32, b"\0" * 32, b"\0" * 32, bad, 0, 0, 0, b"\0" * 32)


def test_ids_must_be_32_bytes() -> None:
    with pytest.raises(AttestationSchemaError):
        Measurement(b"\0" * 31, b"\0" * 32, b"\0" * 32, b"\0" * 32, 0, 0, 0, 0, b"\0" * 32)


def test_batch_count_must_match_items(market: Market) -> None:
    key = Account.create()
    with pytest.raises(AttestationSchemaError):
        sign_batch(
            BatchHeader(key.address, 2, 1, 1),
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
