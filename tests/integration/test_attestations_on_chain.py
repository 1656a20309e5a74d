"""Measured benchmark reports become signed attestations the chain accepts, and every
attested figure can be re-derived from the stored report."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from chain.clients import Market
from chain.connection import connect, fund
from chain.deploy import ETHER, deploy_market
from protocol.blobstore import BlobStore, LocalBlobStore
from protocol.eip712 import Measurement, recover_batch_signer
from protocol.report import ReportError
from provider_agent.attest import Attester
from provider_agent.bench import GridSpec, run_grid
from provider_agent.harness import BenchConfig
from provider_agent.models import make_random_llama


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> tuple[BlobStore, list[str]]:
    root = tmp_path_factory.mktemp("bench")
    model = make_random_llama(root / "tiny", size="tiny", seed=2)
    store = LocalBlobStore(root / "blobs")
    grid = GridSpec(
        models=(str(model),),
        hardware=("cpu-1t",),
        workloads=("chat-stream", "decode-heavy"),
        methods=("hf-eager", "hf-sdpa"),
        config=BenchConfig(warmup=1, repetitions=3),
    )
    result = run_grid(grid, store=store, progress=False)
    assert not result.failures(), result.failures()
    return store, sorted(result.reports.values())


def test_reports_are_attested_in_a_batch_and_verify(tmp_path: Path, measured) -> None:
    store, hashes = measured
    w3 = connect()
    admin, provider, agent = (Account.create() for _ in range(3))
    for a in (admin, provider, agent):
        fund(w3, a.address, 100 * ETHER)
    market = Market.at(w3, deploy_market(w3, admin))
    first = Measurement.from_report(store.get_json(hashes[0]))
    market.registry.as_(provider).register(
        agent=agent,
        hardware_id=first.hardwareId,
        price_per_second=1,
        metadata_uri="",
        stake_wei=ETHER,
    )
    attester = Attester(market, provider.address, agent, store)
    batch, single = attester.post_reports(hashes, batch_size=len(hashes) - 1)
    assert batch.header is not None and single.header is None
    assert (batch.nonce, single.nonce) == (1, 2)
    assert (
        recover_batch_signer(
            batch.header, list(batch.measurements), market.attestations.domain(), batch.signature
        )
        == agent.address
    )

    events = market.attestations.logs("Attested", 0)
    assert len(events) == len(hashes)
    for event in events:
        args = event["args"]
        attested = Measurement.model_validate(dict(args["measurement"]))
        report = store.get_json("0x" + attested.reportHash.hex())  # re-hashes on read
        attested.check_supported_by(report)
        assert report["metrics"]["output_tokens_per_s"] > 0


def test_a_report_that_does_not_support_the_claim_is_caught(measured) -> None:
    store, hashes = measured
    report = store.get_json(hashes[0])
    m = Measurement.from_report(report)
    inflated = m.model_copy(update={"tokensPerSecX1000": m.tokensPerSecX1000 * 2})
    with pytest.raises(ReportError, match="tokensPerSecX1000"):
        inflated.check_supported_by(report)
    forged = {**report, "method": {**report["method"], "name": "something-else"}}
    with pytest.raises(ReportError, match="methodId"):
        Measurement.from_report(forged)
