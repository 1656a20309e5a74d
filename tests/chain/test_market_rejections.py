"""Every money and trust path the issue names, against the in-process EVM and hardhat node.

Each rejection must surface as the same ContractRevert naming the Solidity custom error,
whichever backend raised it.
"""

from __future__ import annotations

import pytest

from chain.clients import JobStatus
from chain.connection import advance_time
from chain.deploy import ETHER
from chain.errors import ContractRevert
from chain.tx import Transactor
from protocol.eip712 import (
    Attestation,
    BatchHeader,
    Domain,
    batch_root,
    sign_attestation,
    sign_batch,
)
from tests.chain.conftest import HARDWARE_ID, PARAMS, Env
from tests.factories import example_measurement


def _attestation(env: Env, nonce: int, provider: str | None = None) -> Attestation:
    return Attestation(
        provider=provider or env.provider.address,
        measurement=example_measurement(nonce, HARDWARE_ID),
        nonce=nonce,
        timestamp=env.now(),
    )


def _attest(env: Env, a: Attestation, key: bytes | None = None, domain: Domain | None = None):
    sig = sign_attestation(a, domain or env.market.attestations.domain(), key or env.agent.key)
    return env.market.attestations.as_(env.agent).attest(a, sig)


def _reverts(name: str):
    return pytest.raises(ContractRevert, match=rf"^{name}\(")


def test_signed_attestation_is_accepted_and_event_carries_every_field(env: Env) -> None:
    a = _attestation(env, 1)
    receipt = _attest(env, a)
    (event,) = env.market.attestations._events("Attested", receipt)
    args = event["args"]
    m = a.measurement
    assert args["provider"] == env.provider.address
    assert (args["hardwareId"], args["modelId"], args["workloadId"], args["methodId"]) == (
        m.hardwareId,
        m.modelId,
        m.workloadId,
        m.methodId,
    )
    assert (
        args["tokensPerSecX1000"],
        args["ttftP50Us"],
        args["tpotP50Us"],
        args["peakMemBytes"],
    ) == (
        m.tokensPerSecX1000,
        m.ttftP50Us,
        m.tpotP50Us,
        m.peakMemBytes,
    )
    assert (args["reportHash"], args["nonce"], args["timestamp"]) == (m.reportHash, 1, a.timestamp)
    assert env.market.attestations.last_nonce(env.provider.address) == 1


def test_batch_events_decode_to_the_signed_items(env: Env) -> None:
    items = [example_measurement(i, HARDWARE_ID) for i in range(5)]
    header = BatchHeader(
        provider=env.provider.address, count=len(items), nonce=7, timestamp=env.now()
    )
    sig = sign_batch(header, items, env.market.attestations.domain(), env.agent.key)
    receipt = env.market.attestations.as_(env.agent).attest_batch(header, items, sig)
    events = env.market.attestations._events("Attested", receipt)
    assert [e["args"]["reportHash"] for e in events] == [m.reportHash for m in items]
    assert all(e["args"]["nonce"] == 7 for e in events)
    (batch,) = env.market.attestations._events("BatchAttested", receipt)
    assert batch["args"]["root"] == batch_root(items)[0]


def test_wrong_signer_is_rejected(env: Env) -> None:
    with _reverts("InvalidSignature"):
        _attest(env, _attestation(env, 1), key=env.outsider.key)


def test_wrong_chain_id_in_domain_is_rejected(env: Env) -> None:
    domain = env.market.attestations.domain()
    wrong = Domain(chain_id=domain.chain_id + 1, verifying_contract=domain.verifying_contract)
    with _reverts("InvalidSignature"):
        _attest(env, _attestation(env, 1), domain=wrong)


def test_wrong_contract_in_domain_is_rejected(env: Env) -> None:
    domain = env.market.attestations.domain()
    wrong = Domain(chain_id=domain.chain_id, verifying_contract=env.deployment.job_market)
    with _reverts("InvalidSignature"):
        _attest(env, _attestation(env, 1), domain=wrong)


def test_replayed_nonce_is_rejected(env: Env) -> None:
    a = _attestation(env, 3)
    _attest(env, a)
    with _reverts("NonceNotIncreasing"):
        _attest(env, a)
    with _reverts("NonceNotIncreasing"):
        _attest(env, _attestation(env, 2))


def test_unregistered_provider_is_rejected(env: Env) -> None:
    with _reverts("NotRegistered"):
        _attest(env, _attestation(env, 1, provider=env.outsider.address))


def test_slashed_provider_is_rejected(env: Env) -> None:
    # The admin holds only DEFAULT_ADMIN_ROLE; grant itself the slasher role to act directly.
    slasher_role = env.market.registry.contract.functions.SLASHER_ROLE().call()
    Transactor(env.w3, env.admin).send(
        env.market.registry.contract.functions.grantRole(slasher_role, env.admin.address)
    )
    env.market.registry.as_(env.admin).slash(env.provider.address, ETHER // 10, env.admin.address)
    assert not env.market.registry.is_active(env.provider.address)
    with _reverts("ProviderIsSlashed"):
        _attest(env, _attestation(env, 1))


def test_slash_requires_the_slasher_role(env: Env) -> None:
    with _reverts("AccessControlUnauthorizedAccount"):
        env.market.registry.as_(env.outsider).slash(env.provider.address, 1, env.outsider.address)


def _open_job(env: Env, escrow: int = ETHER // 10, deadline_in: int = 1000) -> int:
    receipt = env.market.jobs.as_(env.client).create_job(
        spec_hash=b"\x01" * 32,
        model_id=b"\x02" * 32,
        workload_id=b"\x03" * 32,
        deadline=env.now() + deadline_in,
        escrow_wei=escrow,
    )
    return env.market.jobs.created_job_id(receipt)


def test_assignment_over_escrow_is_rejected(env: Env) -> None:
    job = _open_job(env, escrow=1000)
    with _reverts("PriceExceedsEscrow"):
        env.market.jobs.as_(env.admin).assign_job(job, env.provider.address, b"\x04" * 32, 1001)


def test_assignment_needs_the_matcher_role(env: Env) -> None:
    job = _open_job(env)
    with _reverts("AccessControlUnauthorizedAccount"):
        env.market.jobs.as_(env.outsider).assign_job(job, env.provider.address, b"\x04" * 32, 1)


def test_result_from_the_wrong_provider_is_rejected(env: Env) -> None:
    job = _open_job(env)
    env.market.jobs.as_(env.admin).assign_job(job, env.provider.address, b"\x04" * 32, 500)
    with _reverts("NotAssignedProvider"):
        env.market.jobs.as_(env.outsider).submit_result(job, b"\x05" * 32)


def test_late_result_is_rejected_and_the_client_refunded(env: Env) -> None:
    job = _open_job(env, escrow=ETHER // 10, deadline_in=50)
    env.market.jobs.as_(env.admin).assign_job(job, env.provider.address, b"\x04" * 32, 500)
    advance_time(env.w3, 100)
    with _reverts("DeadlinePassed"):
        env.market.jobs.as_(env.agent).submit_result(job, b"\x05" * 32)
    env.market.jobs.as_(env.outsider).refund(job)
    assert env.market.jobs.get_job(job).status is JobStatus.REFUNDED
    assert env.market.jobs.withdrawable(env.client.address) == ETHER // 10


def test_double_finalize_is_rejected(env: Env) -> None:
    escrow, price = ETHER // 10, ETHER // 20
    job = _open_job(env, escrow=escrow)
    env.market.jobs.as_(env.admin).assign_job(job, env.provider.address, b"\x04" * 32, price)
    env.market.jobs.as_(env.agent).submit_result(job, b"\x05" * 32)
    with _reverts("ChallengeWindowOpen"):
        env.market.jobs.as_(env.client).finalize(job)
    advance_time(env.w3, PARAMS.job_challenge_window_s + 1)
    env.market.jobs.as_(env.outsider).finalize(job)
    with _reverts("WrongStatus"):
        env.market.jobs.as_(env.outsider).finalize(job)
    fee = price * PARAMS.protocol_fee_bps // 10_000
    assert env.market.jobs.withdrawable(env.provider.address) == price - fee
    assert env.market.jobs.withdrawable(env.client.address) == escrow - price
    assert env.market.jobs.withdrawable(env.deployment.treasury) == fee


def test_upheld_challenge_slashes_and_rewards_the_challenger(env: Env) -> None:
    a = _attestation(env, 1)
    sig = sign_attestation(a, env.market.attestations.domain(), env.agent.key)
    env.market.attestations.as_(env.agent).attest(a, sig)
    auditor = env.outsider
    receipt = env.market.attestations.as_(auditor).challenge_attestation(
        a, sig, b"\x09" * 32, PARAMS.min_challenge_bond_wei
    )
    challenge_id = env.market.attestations.challenge_id(receipt)
    with _reverts("AlreadyChallenged"):
        env.market.attestations.as_(auditor).challenge_attestation(
            a, sig, b"\x09" * 32, PARAMS.min_challenge_bond_wei
        )
    env.market.attestations.as_(env.admin).resolve_challenge(challenge_id, upheld=True)
    reward = PARAMS.slash_amount_wei * PARAMS.challenger_share_bps // 10_000
    assert env.market.registry.withdrawable(auditor.address) == reward
    assert env.market.attestations.withdrawable(auditor.address) == PARAMS.min_challenge_bond_wei
    info = env.market.registry.get_provider(env.provider.address)
    assert info.slashed and info.stake == 2 * ETHER - PARAMS.slash_amount_wei


def test_batch_item_challenge_blocks_unstaking_until_resolved(env: Env) -> None:
    items = [example_measurement(i, HARDWARE_ID) for i in range(4)]
    header = BatchHeader(
        provider=env.provider.address, count=len(items), nonce=1, timestamp=env.now()
    )
    sig = sign_batch(header, items, env.market.attestations.domain(), env.agent.key)
    env.market.attestations.as_(env.agent).attest_batch(header, items, sig)
    registry = env.market.registry.as_(env.provider)
    registry.request_unstake(ETHER // 2)
    _, leaves = batch_root(items)
    receipt = env.market.attestations.as_(env.outsider).challenge_batch_item(
        header, leaves, 2, items[2], sig, b"\x0c" * 32, PARAMS.min_challenge_bond_wei
    )
    challenge_id = env.market.attestations.challenge_id(receipt)
    advance_time(env.w3, PARAMS.unstake_cooldown_s + 1)
    with _reverts("CasesPending"):
        registry.complete_unstake()
    env.market.attestations.as_(env.admin).resolve_challenge(challenge_id, upheld=False)
    registry.complete_unstake()
    assert env.market.registry.withdrawable(env.provider.address) == ETHER // 2
    # A rejected challenge's bond compensates the provider.
    assert (
        env.market.attestations.withdrawable(env.provider.address) == PARAMS.min_challenge_bond_wei
    )
