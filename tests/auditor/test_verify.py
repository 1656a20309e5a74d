"""`verify`: honest attestations verify clean; every kind of forgery is flagged, saying
which attestation (transaction, item, claim hash) and why."""

from __future__ import annotations

import json

from auditor import results
from auditor.plausibility import check_report
from chain.claims import decode_attestation_tx
from protocol.canonical import content_id
from protocol.eip712 import Measurement
from tests.auditor.conftest import STREAM, Measured, World
from tests.auditor.forgery import (
    disorder_percentiles,
    forged_attest_input,
    inflate_metrics,
    scaled_report,
)


def test_honest_attestations_verify_clean(world: World) -> None:
    m = world.measured
    batch = world.post(world.honest, m.report(STREAM), m.report("decode-heavy"))
    single = world.post(world.honest, m.report(STREAM))
    report = world.auditor().verify_all()

    assert report.summary() == {"attestations": 3, "ok": 3, "flagged": 0}, [
        c.reasons for c in report.checks
    ]
    claims = decode_attestation_tx(
        world.market, world.w3.eth.get_transaction(batch.tx_hash)["input"]
    )
    first = report.find(batch.tx_hash, 1)
    assert first.kind == "batch" and first.claim_hash == claims.claim_hashes[1]
    assert first.signer == world.honest.agent.address
    assert first.names["workload"] == "decode-heavy" and first.names["method"] == "hf-eager"
    assert report.find(single.tx_hash).kind == "single"
    doc = json.loads(json.dumps(report.to_dict()))
    assert {a["status"] for a in doc["attestations"]} == {"ok"}
    for workload in (STREAM, "decode-heavy"):  # the agent's reports are plausible as measured
        assert check_report(m.report(workload)) == []


def _one(world: World, posted) -> results.AttestationCheck:
    checks = [c for c in world.auditor().verify_all().checks if c.tx_hash == posted.tx_hash]
    assert len(checks) == 1
    return checks[0]


def test_forged_attestations_are_flagged_with_the_reason(world: World) -> None:
    honest = world.measured.report(STREAM)
    other = world.measured.report("decode-heavy")
    claim = Measurement.from_report(honest)
    cheat = world.cheat
    inflated_claim = world.post_measurements(
        cheat, claim.model_copy(update={"tokensPerSecX1000": 3 * claim.tokensPerSecX1000})
    )
    no_report = world.post_measurements(
        cheat, claim.model_copy(update={"reportHash": content_id({"no": "such report"})})
    )
    wrong_report = world.post_measurements(
        cheat, claim.model_copy(update={"reportHash": Measurement.from_report(other).reportHash})
    )
    inflated_report = world.post(cheat, inflate_metrics(honest, 3.0))
    disordered = world.post(cheat, disorder_percentiles(honest))
    good = world.post(world.honest, honest)

    report = world.auditor().verify_all()
    by_tx = {c.tx_hash: c for c in report.checks}
    expected = {
        inflated_claim.tx_hash: (results.REPORT_MISMATCH, "tokensPerSecX1000"),
        no_report.tx_hash: (results.REPORT_MISSING, "no report"),
        wrong_report.tx_hash: (results.REPORT_MISMATCH, "workloadId"),
        inflated_report.tx_hash: (results.THROUGHPUT, "the raw samples give"),
        disordered.tx_hash: (results.PERCENTILES, "ttft percentiles out of order"),
    }
    for tx_hash, (code, fragment) in expected.items():
        check = by_tx[tx_hash]
        assert check.status == "flagged" and code in check.codes(), (code, check.reasons)
        assert any(fragment in r for r in check.reasons), check.reasons
        doc = check.to_dict()  # each finding names the attestation and its claim
        assert (
            doc["tx_hash"] == tx_hash and doc["index"] == 0 and doc["claim_hash"].startswith("0x")
        )
    assert by_tx[good.tx_hash].ok
    assert report.summary()["flagged"] == 5


def test_a_consistent_lie_passes_plausibility(world: World) -> None:
    """A report doctored throughout (every time divided by 3) is internally consistent:
    only re-measuring it catches it (tests/auditor/test_rebench.py)."""
    lie = scaled_report(world.measured.report(STREAM), 3.0)
    assert check_report(lie) == []
    assert _one(world, world.post(world.cheat, lie)).ok


def test_impossible_samples_are_flagged(measured: Measured) -> None:
    report = measured.report(STREAM)
    few = {**report, "samples": report["samples"][:2]}
    assert results.SAMPLES in {f.code for f in check_report(few)}
    more_tokens = json.loads(json.dumps(report))
    for s in more_tokens["samples"]:
        s["output_tokens"] *= 3
        s["output_tokens_per_s"] = round(s["output_tokens"] / s["wall_s"], 3)
    messages = " | ".join(f.message for f in check_report(more_tokens))
    assert "output tokens, but 4 requests of 64-64 tokens" in messages
    assert "inter-token gaps" in messages and "per-token latencies imply" in messages
    negative = json.loads(json.dumps(report))
    negative["metrics"]["tpot_p50_ms"] = -1.0
    negative["metrics"]["peak_rss_bytes"] = 0.0
    codes = {f.code for f in check_report(negative)}
    assert results.NEGATIVE in codes
    negative["metrics"]["tpot_p50_ms"] = 1.0
    assert results.MEMORY in {f.code for f in check_report(negative)}


def test_a_signature_by_an_unbound_or_revoked_key_is_flagged(world: World) -> None:
    honest = world.honest
    claim = Measurement.from_report(world.measured.report(STREAM))
    before = world.post_measurements(honest, claim)  # posted by the key while it was current
    head = world.w3.eth.block_number
    now = world.w3.eth.get_block(head)["timestamp"]
    auditor = world.auditor()

    stranger = world.account()
    calldata = forged_attest_input(world.market, stranger, honest.address, claim, 99, now)
    (check,) = auditor.verify_transaction("0x" + "11" * 32, calldata, head)
    assert check.codes() >= {results.SIGNATURE, results.NOT_POSTED}, check.reasons
    assert any("is not an agent key of" in r for r in check.reasons)

    new_agent = world.account()
    world.market.registry.as_(honest.owner).set_agent(new_agent)
    head = world.w3.eth.block_number
    calldata = forged_attest_input(world.market, honest.agent, honest.address, claim, 99, now)
    (check,) = auditor.verify_transaction("0x" + "22" * 32, calldata, head)
    assert results.SIGNATURE in check.codes() and any("revoked" in r for r in check.reasons)

    (earlier,) = auditor.verify_transaction(before.tx_hash)  # still attributable and valid
    assert earlier.ok, earlier.reasons
