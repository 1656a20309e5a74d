"""One full market round trip on any chain: deploy, register, attest (single and a batch
of 32), then a paid job from escrow to withdrawal. ``metainf chain gas-report`` reports its
gas; ``make demo`` runs it until the end-to-end demo lands."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from chain.canonical import content_id
from chain.clients import JobStatus, Market
from chain.connection import advance_time, fund
from chain.deploy import ETHER, Deployment, MarketParams, deploy_market
from chain.eip712 import Attestation, BatchHeader, Measurement, sign_attestation, sign_batch

BATCH_SIZE = 32


@dataclass
class RoundTrip:
    deployment: Deployment
    gas: dict[str, int] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)


def example_measurement(i: int, hardware_id: str) -> Measurement:
    """A measurement with distinct ids per ``i`` (content ids of small descriptors)."""
    return Measurement.from_metrics(
        hardware_id=hardware_id,
        model_id=content_id({"kind": "model", "name": f"model-{i % 4}"}),
        workload_id=content_id({"kind": "workload", "name": f"workload-{i % 8}"}),
        method_id=content_id({"kind": "method", "name": f"method-{i}"}),
        output_tokens_per_s=100.0 + i,
        ttft_p50_s=0.05,
        tpot_p50_s=0.01,
        peak_mem_bytes=2**30,
        report_hash=content_id({"report": i}),
    )


def run_round_trip(w3: Web3, say: Callable[[str], None] = lambda _: None) -> RoundTrip:
    """Run the round trip with throwaway accounts funded from the dev chain."""
    roles = ("admin", "provider", "agent", "client")
    acct: dict[str, LocalAccount] = {role: Account.create() for role in roles}
    for account in acct.values():
        fund(w3, account.address, 100 * ETHER)
    params = MarketParams()
    deployment = deploy_market(w3, acct["admin"], params=params)
    out = RoundTrip(deployment)

    def note(msg: str) -> None:
        out.log.append(msg)
        say(msg)

    note(
        f"deployed on chain {deployment.chain_id}: registry {deployment.provider_registry}, "
        f"attestations {deployment.attestation_registry}, jobs {deployment.job_market}"
    )
    market = Market.at(w3, deployment)
    provider, agent, client, admin = acct["provider"], acct["agent"], acct["client"], acct["admin"]
    hardware_id = content_id({"kind": "hardware", "cpu": "demo", "threads": 2})

    receipt = market.registry.as_(provider).register(
        agent=agent.address,
        hardware_id=hardware_id,
        price_per_second=10**12,
        metadata_uri="metainf://demo-provider",
        stake_wei=2 * params.min_stake_wei,
    )
    out.gas["register"] = receipt["gasUsed"]
    note(f"provider {provider.address} registered with agent key {agent.address}")

    domain = market.attestations.domain()
    now = w3.eth.get_block("latest")["timestamp"]
    single = Attestation(
        provider.address, example_measurement(0, hardware_id), nonce=1, timestamp=now
    )
    receipt = market.attestations.as_(agent).attest(
        single, sign_attestation(single, domain, agent.key)
    )
    out.gas["attest"] = receipt["gasUsed"]
    note(f"single attestation accepted ({receipt['gasUsed']} gas)")

    items = [example_measurement(i, hardware_id) for i in range(1, BATCH_SIZE + 1)]
    header = BatchHeader(provider.address, count=len(items), nonce=2, timestamp=now)
    receipt = market.attestations.as_(agent).attest_batch(
        header, items, sign_batch(header, items, domain, agent.key)
    )
    out.gas["attest_batch32_per_item"] = receipt["gasUsed"] // BATCH_SIZE
    note(f"batch of {BATCH_SIZE} attestations accepted ({receipt['gasUsed']} gas in all)")

    escrow = ETHER // 100
    spec_hash = content_id({"kind": "job-spec", "prompts": ["hello"], "max_new_tokens": 8})
    jobs_client = market.jobs.as_(client)
    receipt = jobs_client.create_job(
        spec_hash=spec_hash,
        model_id=items[0].modelId,
        workload_id=items[0].workloadId,
        deadline=now + 3600,
        escrow_wei=escrow,
    )
    job_id = jobs_client.created_job_id(receipt)
    out.gas["create_job"] = receipt["gasUsed"]
    price = escrow // 2
    out.gas["assign_job"] = market.jobs.as_(admin).assign_job(
        job_id, provider.address, items[0].methodId, price
    )["gasUsed"]
    result_hash = content_id({"job": job_id, "outputs": ["world"]})
    out.gas["submit_result"] = market.jobs.as_(agent).submit_result(job_id, result_hash)["gasUsed"]
    advance_time(w3, params.job_challenge_window_s + 1)
    out.gas["finalize"] = market.jobs.as_(client).finalize(job_id)["gasUsed"]
    job = market.jobs.get_job(job_id)
    assert job.status is JobStatus.FINALIZED
    fee = price * params.protocol_fee_bps // 10_000
    owed = {provider.address: price - fee, client.address: escrow - price, admin.address: fee}
    for address, amount in owed.items():
        got = market.jobs.withdrawable(address)
        if got != amount:
            raise AssertionError(f"{address} is owed {amount} but may withdraw {got}")
    before = w3.eth.get_balance(provider.address)
    receipt = market.jobs.as_(provider).withdraw()
    paid = (
        w3.eth.get_balance(provider.address)
        - before
        + receipt["gasUsed"] * receipt["effectiveGasPrice"]
    )
    if paid != price - fee:
        raise AssertionError(f"provider withdrew {paid}, expected {price - fee}")
    note(
        f"job {job_id}: escrow {escrow} wei, price {price}, provider paid {paid}, "
        f"client refund {escrow - price}, protocol fee {fee}"
    )
    return out
