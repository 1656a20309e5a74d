"""Gas of every market operation, measured on the in-process EVM.

    .venv/bin/python bench/gas_report.py --json OUT.json [--md OUT.md]

Deploys the contracts, registers a provider, posts one attestation and a batch of 32,
then runs a paid job from escrow to payout, recording ``gasUsed`` of each transaction.
Gas does not depend on the figures attested, so the measurements are synthetic
(distinct ids per item); every payout is checked against what the contract owes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth_account import Account  # noqa: E402
from eth_account.signers.local import LocalAccount  # noqa: E402
from web3 import Web3  # noqa: E402

from chain.clients import JobStatus, Market  # noqa: E402
from chain.connection import advance_time, connect, fund  # noqa: E402
from chain.deploy import MarketParams, deploy_market  # noqa: E402
from protocol.canonical import content_id  # noqa: E402
from protocol.eip712 import (  # noqa: E402
    Attestation,
    BatchHeader,
    Measurement,
    sign_attestation,
    sign_batch,
)

BATCH_SIZE = 32
GOALS = {"attest": 95_000, "attest_batch32_per_item": 10_000}


def _measurement(i: int, hardware_id: str) -> Measurement:
    return Measurement(
        hardwareId=hardware_id,
        modelId=content_id({"kind": "model", "name": f"model-{i % 4}"}),
        workloadId=content_id({"kind": "workload", "name": f"workload-{i % 8}"}),
        methodId=content_id({"kind": "method", "name": f"method-{i}"}),
        tokensPerSecX1000=100_000 + i,
        ttftP50Us=50_000,
        tpotP50Us=10_000,
        peakMemBytes=2**30,
        reportHash=content_id({"report": i}),
    )


def _attestations(w3: Web3, market: Market, provider: str, agent: LocalAccount, hw: str) -> dict:
    gas = {}
    domain = market.attestations.domain()
    now = w3.eth.get_block("latest")["timestamp"]
    client = market.attestations.as_(agent)
    single = Attestation(provider=provider, measurement=_measurement(0, hw), nonce=1, timestamp=now)
    gas["attest"] = client.attest(single, sign_attestation(single, domain, agent.key))["gasUsed"]
    items = [_measurement(i, hw) for i in range(1, BATCH_SIZE + 1)]
    header = BatchHeader(provider=provider, count=len(items), nonce=2, timestamp=now)
    receipt = client.attest_batch(header, items, sign_batch(header, items, domain, agent.key))
    gas["attest_batch32_per_item"] = receipt["gasUsed"] // BATCH_SIZE
    return gas


def measure_gas() -> dict[str, int]:
    """Run every operation once on a fresh in-process chain; returns gasUsed per operation."""
    w3 = connect("inprocess")
    admin, provider, agent, client = (Account.create() for _ in range(4))
    for account in (admin, provider, agent, client):
        fund(w3, account.address, 100 * 10**18)
    params = MarketParams()
    market = Market.at(w3, deploy_market(w3, admin, params=params))
    hw = content_id({"kind": "hardware", "cpu": "gas-report", "threads": 2})
    gas = {
        "register": market.registry.as_(provider).register(
            agent=agent,
            hardware_id=hw,
            price_per_second=10**12,
            metadata_uri="metainf://gas-report",
            stake_wei=2 * params.min_stake_wei,
        )["gasUsed"]
    }
    gas |= _attestations(w3, market, provider.address, agent, hw)
    escrow = Web3.to_wei(0.01, "ether")
    jobs = market.jobs.as_(client)
    receipt = jobs.create_job(
        spec_hash=content_id({"kind": "job-spec", "n": 1}),
        model_id=_measurement(1, hw).modelId,
        workload_id=_measurement(1, hw).workloadId,
        max_runtime_s=3600,
        deadline=w3.eth.get_block("latest")["timestamp"] + 3600,
        escrow_wei=escrow,
    )
    gas["create_job"] = receipt["gasUsed"]
    job_id = jobs.created_job_id(receipt)
    price = escrow // 5  # within the provider's rate x the job's max runtime
    method_id = _measurement(1, hw).methodId
    gas["assign_job"] = market.jobs.as_(admin).assign_job(
        job_id, provider.address, hw, method_id, price
    )["gasUsed"]
    gas["accept_job"] = market.jobs.as_(agent).accept_job(job_id, hw, method_id, price)["gasUsed"]
    result_hash = content_id({"job": job_id, "outputs": ["world"]})
    gas["submit_result"] = market.jobs.as_(agent).submit_result(job_id, result_hash)["gasUsed"]
    advance_time(w3, params.job_challenge_window_s + 1)
    gas["finalize"] = jobs.finalize(job_id)["gasUsed"]
    _check_payouts(market, job_id, price, escrow, params, provider, client, admin)
    return gas


def _check_payouts(market, job_id, price, escrow, params, provider, client, admin) -> None:
    if market.jobs.get_job(job_id).status is not JobStatus.FINALIZED:
        raise RuntimeError(f"job {job_id} did not finalize")
    fee = market.jobs.fee_of(price)
    owed = {provider.address: price - fee, client.address: escrow - price, admin.address: fee}
    for address, amount in owed.items():
        got = market.jobs.withdrawable(address)
        if got != amount:
            raise RuntimeError(f"{address} is owed {amount} but may withdraw {got}")


def markdown(gas: dict[str, int]) -> str:
    lines = ["| operation | gas | goal |", "|---|---:|---:|"]
    for name, used in gas.items():
        goal = f"≤ {GOALS[name]:,}" if name in GOALS else ""
        lines.append(f"| {name} | {used:,} | {goal} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--md", type=Path)
    args = parser.parse_args(argv)
    gas = measure_gas()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(gas, indent=2) + "\n")
    if args.md:
        args.md.write_text(markdown(gas))
    print(markdown(gas), end="")
    over = {k: v for k, v in gas.items() if k in GOALS and v > GOALS[k]}
    if over:
        print(f"over the goal: {over}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
