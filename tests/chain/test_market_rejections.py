"""Every money and trust path of the three contracts, against the in-process EVM and a real
hardhat node.

Each rejection must surface as the same :class:`~chain.errors.ContractRevert` naming the
Solidity custom error, whichever backend raised it; each good path is checked to the wei.
One deployment per backend and module; the chain is reverted to a snapshot of it before
every test, so each test starts from the freshly deployed market of ``tests/chain/conftest``
(a provider registered with 2 ETH on ``HARDWARE_ID`` at 1 gwei/s, its agent key, a client,
an outsider; the admin is also matcher, arbiter, pauser and treasury).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain.clients import NO_PROVIDER, ChallengeStatus, JobStatus, Market
from chain.connection import advance_time, connect, fund, revert_to, snapshot
from chain.deploy import ETHER, deploy_market
from chain.errors import ContractRevert
from chain.tx import Transactor
from protocol.canonical import content_id
from protocol.eip712 import (
    AgentBinding,
    Attestation,
    BatchHeader,
    Domain,
    Measurement,
    batch_root,
    sign_attestation,
    sign_batch,
)
from tests.chain.conftest import HARDWARE_ID, PARAMS, Env
from tests.factories import example_measurement

OTHER_HARDWARE = content_id({"kind": "hardware", "name": "test-gpu"})
METHOD = content_id({"kind": "method", "name": "baseline"})
COUNTER = b"\x0c" * 32
RESULT = b"\x05" * 32
RATE = 10**9  # Env.register's price per second
BOND = PARAMS.min_challenge_bond_wei
DISPUTE_BOND = PARAMS.min_dispute_bond_wei
SLASH = PARAMS.attestation_slash_wei


# --------------------------------------------------------------------------- one deployment


@dataclass
class _Deployed:
    env: Env
    snap: object


def _deploy(url: str) -> Env:
    """What the ``env`` fixture of ``tests/chain/conftest.py`` builds."""
    w3 = connect(url)
    accounts = [Account.create() for _ in range(5)]
    for account in accounts:
        fund(w3, account.address, 50 * ETHER)
    admin, provider, agent, client, outsider = accounts
    deployment = deploy_market(w3, admin, params=PARAMS)
    e = Env(w3, deployment, Market.at(w3, deployment), admin, provider, agent, client, outsider)
    e.register(provider, agent)
    return e


@pytest.fixture(
    scope="module", params=["inprocess", pytest.param("hardhat", marks=pytest.mark.hardhat)]
)
def deployed(request: pytest.FixtureRequest) -> _Deployed:
    url = "inprocess" if request.param == "inprocess" else request.getfixturevalue("hardhat_url")
    e = _deploy(url)
    return _Deployed(e, snapshot(e.w3))


@pytest.fixture
def env(deployed: _Deployed) -> Env:
    """The freshly deployed market (reverted to its snapshot; a node's snapshot is single-use,
    so a new one is taken each time). One block is mined so that the latest block, which
    ``Env.now`` reads, is not as old as the snapshot but as late as the chain's clock."""
    revert_to(deployed.env.w3, deployed.snap)
    deployed.snap = snapshot(deployed.env.w3)
    advance_time(deployed.env.w3, 1)
    return deployed.env


# --------------------------------------------------------------------------- helpers


def _reverts(name: str):
    return pytest.raises(ContractRevert, match=rf"^{name}\(")


def _attestation(
    env: Env,
    nonce: int,
    provider: str | None = None,
    hardware_id: bytes = HARDWARE_ID,
    timestamp: int | None = None,
) -> Attestation:
    return Attestation(
        provider=provider or env.provider.address,
        measurement=example_measurement(nonce, hardware_id),
        nonce=nonce,
        timestamp=env.now() if timestamp is None else timestamp,
    )


def _attest(env: Env, a: Attestation, key: bytes | None = None, domain: Domain | None = None):
    sig = sign_attestation(a, domain or env.market.attestations.domain(), key or env.agent.key)
    return env.market.attestations.as_(env.outsider).attest(a, sig)  # anyone may relay


def _posted(env: Env, nonce: int = 1) -> Attestation:
    a = _attestation(env, nonce)
    _attest(env, a)
    return a


def _batch(
    env: Env, nonce: int, items: list[Measurement], count: int | None = None
) -> tuple[BatchHeader, bytes]:
    header = BatchHeader(
        provider=env.provider.address,
        count=len(items) if count is None else count,
        nonce=nonce,
        timestamp=env.now(),
    )
    if count is not None and count != len(items):
        return header, b"\x00" * 65  # the contract rejects the size before the signature
    return header, sign_batch(header, items, env.market.attestations.domain(), env.agent.key)


def _challenge(env: Env, a: Attestation, challenger: LocalAccount, bond: int = BOND) -> int:
    receipt = env.market.attestations.as_(challenger).challenge_attestation(a, COUNTER, bond)
    return env.market.attestations.challenge_id(receipt)


def _as_admin(env: Env, fn) -> object:
    return Transactor(env.w3, env.admin).send(fn)


def _open_job(
    env: Env,
    escrow: int = ETHER // 10,
    deadline_in: int = 1000,
    max_runtime_s: int = 10**12,  # caps the price at 1000 ETH
    allowed_provider: str = NO_PROVIDER,
) -> int:
    receipt = env.market.jobs.as_(env.client).create_job(
        spec_hash=b"\x01" * 32,
        model_id=b"\x02" * 32,
        workload_id=b"\x03" * 32,
        max_runtime_s=max_runtime_s,
        deadline=env.now() + deadline_in,
        escrow_wei=escrow,
        allowed_provider=allowed_provider,
    )
    return env.market.jobs.created_job_id(receipt)


def _offer(env: Env, job: int, price: int, provider: str | None = None, hw: bytes = HARDWARE_ID):
    return env.market.jobs.as_(env.admin).assign_job(
        job, provider or env.provider.address, hw, METHOD, price
    )


def _accept(env: Env, job: int, price: int, by: LocalAccount | None = None):
    return env.market.jobs.as_(by or env.agent).accept_job(job, HARDWARE_ID, METHOD, price)


def _accepted_job(env: Env, escrow: int, price: int, deadline_in: int = 1000) -> int:
    job = _open_job(env, escrow=escrow, deadline_in=deadline_in)
    _offer(env, job, price)
    _accept(env, job, price)
    return job


def _submitted_job(env: Env, escrow: int, price: int) -> int:
    job = _accepted_job(env, escrow, price)
    env.market.jobs.as_(env.agent).submit_result(job, RESULT)
    return job


def _fee(price: int) -> int:
    return -(-price * PARAMS.protocol_fee_bps // 10_000)  # rounded up


def _provider(env: Env):
    return env.market.registry.get_provider(env.provider.address)


# --------------------------------------------------------------------------- registration, agent keys


def test_register_needs_the_minimum_stake_and_happens_once(env: Env) -> None:
    newcomer = env.new_account()
    with _reverts("StakeBelowMinimum"):
        env.register(newcomer, newcomer, stake=PARAMS.min_stake_wei - 1)
    with _reverts("AlreadyRegistered"):
        env.register(env.provider, env.new_account())
    with _reverts("NotRegistered"):
        env.market.registry.as_(newcomer).add_stake(ETHER)
    with _reverts("ZeroAmount"):
        env.market.registry.as_(env.provider).add_stake(0)


def test_agent_consent_must_be_signed_by_the_key_for_this_provider(env: Env) -> None:
    owner, attacker, key = env.new_account(), env.new_account(), Account.create()
    registry = env.market.registry
    # a consent the key gave the real owner is useless to anyone else...
    copied = registry.agent_consent(owner.address, key)
    with _reverts("InvalidAgentConsent"):
        registry.as_(attacker).register(
            agent=key.address,
            hardware_id=HARDWARE_ID,
            price_per_second=RATE,
            metadata_uri="",
            stake_wei=ETHER,
            consent=copied,
        )
    # ...and a consent signed by another key binds nothing
    deadline = env.now() + 3600
    binding = AgentBinding(provider=attacker.address, agent=key.address, deadline=deadline)
    forged = (deadline, binding.sign(registry.domain(), attacker.key))
    with _reverts("InvalidAgentConsent"):
        registry.as_(attacker).register(
            agent=key.address,
            hardware_id=HARDWARE_ID,
            price_per_second=RATE,
            metadata_uri="",
            stake_wei=ETHER,
            consent=forged,
        )
    registry.as_(owner).register(
        agent=key.address,
        hardware_id=HARDWARE_ID,
        price_per_second=RATE,
        metadata_uri="",
        stake_wei=ETHER,
        consent=copied,
    )
    assert registry.agent_key(key.address)[0] == owner.address


def test_agent_consent_cannot_be_used_after_its_deadline(env: Env) -> None:
    owner, key = env.new_account(), Account.create()
    consent = env.market.registry.agent_consent(owner.address, key, valid_for_s=10)
    advance_time(env.w3, 100)
    with _reverts("ConsentExpired"):
        env.market.registry.as_(owner).register(
            agent=key.address,
            hardware_id=HARDWARE_ID,
            price_per_second=RATE,
            metadata_uri="",
            stake_wei=ETHER,
            consent=consent,
        )


def test_a_bound_key_is_never_bound_again_not_even_after_its_rotation(env: Env) -> None:
    attacker = env.new_account()
    # the provider's agent consents to the attacker (e.g. tricked): it is bound already
    with _reverts("AgentAlreadyBound"):
        env.register(attacker, env.agent)
    new_agent = Account.create()
    receipt = env.market.registry.as_(env.provider).set_agent(new_agent)
    (changed,) = env.market.registry._events("AgentChanged", receipt)
    assert (changed["args"]["oldAgent"], changed["args"]["newAgent"]) == (
        env.agent.address,
        new_agent.address,
    )
    revoked_at = env.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert env.market.registry.agent_key(env.agent.address)[2] == revoked_at
    with _reverts("AgentAlreadyBound"):
        env.market.registry.as_(env.provider).set_agent(env.agent)
    with _reverts("AgentAlreadyBound"):
        env.register(attacker, env.agent)


def test_a_rotated_out_key_can_neither_post_nor_get_a_claim_it_signs_challenged(env: Env) -> None:
    old = _posted(env, 1)  # posted while the key was current
    env.market.registry.as_(env.provider).set_agent(Account.create())
    forged = _attestation(env, 2)
    with _reverts("InvalidSignature"):
        _attest(env, forged)  # signed with the old (leaked) key
    with _reverts("ClaimNotPosted"):
        _challenge(env, forged, env.outsider)
    assert env.market.registry.get_provider(env.provider.address).stake == 2 * ETHER
    # what the old key posted while it was current stays challengeable
    assert _challenge(env, old, env.outsider) == 1


def test_a_rotated_out_key_can_neither_accept_nor_submit(env: Env) -> None:
    job = _open_job(env)
    _offer(env, job, ETHER // 20)
    env.market.registry.as_(env.provider).set_agent(Account.create())
    with _reverts("NotAssignedProvider"):
        _accept(env, job, ETHER // 20)
    _accept(env, job, ETHER // 20, by=env.provider)  # the provider itself still may
    with _reverts("NotAssignedProvider"):
        env.market.jobs.as_(env.agent).submit_result(job, RESULT)


def test_hardware_profiles_are_added_once_and_priced_only_when_registered(env: Env) -> None:
    registry = env.market.registry.as_(env.provider)
    with _reverts("HardwareAlreadyRegistered"):
        registry.add_hardware(HARDWARE_ID, 1)
    with _reverts("HardwareNotRegistered"):
        registry.set_price(OTHER_HARDWARE, 1)
    with _reverts("HardwareNotRegistered"):
        registry.remove_hardware(OTHER_HARDWARE)
    with _reverts("NotRegistered"):
        env.market.registry.as_(env.outsider).add_hardware(OTHER_HARDWARE, 1)
    registry.add_hardware(OTHER_HARDWARE, 7)
    registry.set_price(OTHER_HARDWARE, 9)
    assert env.market.registry.hardware_profile(env.provider.address, OTHER_HARDWARE) == (True, 9)
    registry.remove_hardware(OTHER_HARDWARE)
    assert not env.market.registry.hardware_profile(env.provider.address, OTHER_HARDWARE)[0]


def test_only_the_two_market_contracts_lock_or_slash_stake(env: Env) -> None:
    fns = env.market.registry.contract.functions
    with _reverts("NotMarketContract"):
        _as_admin(env, fns.lockStake(env.provider.address, ETHER, True))
    with _reverts("NotMarketContract"):
        _as_admin(env, fns.noteAttestation(env.provider.address, HARDWARE_ID, 1, 2**40))
    job = _accepted_job(env, ETHER // 10, ETHER // 10)
    lock_id = env.market.jobs.get_job(job).lock_id
    lock = env.market.registry.get_lock(lock_id)
    assert (lock.owner, lock.amount, lock.open) == (env.deployment.job_market, ETHER // 10, True)
    with _reverts("NotLockOwner"):
        _as_admin(env, fns.slashLock(lock_id, ETHER))
    with _reverts("NotLockOwner"):
        _as_admin(env, fns.releaseLock(lock_id))
    with _reverts("AlreadyConnected"):
        _as_admin(env, fns.connectMarkets(env.outsider.address, env.client.address))
    with _reverts("AccessControlEnforcedDefaultAdminRules"):
        _as_admin(env, fns.grantRole(b"\x00" * 32, env.outsider.address))


# --------------------------------------------------------------------------- attestations


def test_signed_attestation_is_accepted_and_event_carries_every_field(env: Env) -> None:
    a = _attestation(env, 1)
    receipt = _attest(env, a)
    (event,) = env.market.attestations._events("Attested", receipt)
    args = event["args"]
    assert args["provider"] == env.provider.address
    assert dict(args["measurement"]) == a.measurement.model_dump()
    assert (args["nonce"], args["timestamp"]) == (1, a.timestamp)
    assert env.market.attestations.last_nonce(env.provider.address) == 1
    posted = env.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    digest = env.market.attestations.domain().digest(a.struct_hash())
    assert env.market.attestations.posted_at(digest) == posted
    info = _provider(env)
    assert info.exposure_until == posted + PARAMS.attestation_challenge_window_s


def test_batch_events_decode_to_the_signed_items(env: Env) -> None:
    items = [example_measurement(i, HARDWARE_ID) for i in range(5)]
    header, sig = _batch(env, 7, items)
    receipt = env.market.attestations.as_(env.outsider).attest_batch(header, items, sig)
    events = env.market.attestations._events("Attested", receipt)
    assert [dict(e["args"]["measurement"]) for e in events] == [m.model_dump() for m in items]
    assert all(
        (e["args"]["nonce"], e["args"]["timestamp"]) == (7, header.timestamp) for e in events
    )
    (batch,) = env.market.attestations._events("BatchAttested", receipt)
    assert (batch["args"]["root"], batch["args"]["count"]) == (batch_root(items)[0], 5)


def test_wrong_signer_is_rejected(env: Env) -> None:
    with _reverts("InvalidSignature"):
        _attest(env, _attestation(env, 1), key=env.outsider.key)


def test_the_provider_key_itself_cannot_sign_for_its_agent(env: Env) -> None:
    with _reverts("InvalidSignature"):
        _attest(env, _attestation(env, 1), key=env.provider.key)


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


def test_replayed_or_stale_nonce_is_rejected_and_the_stale_claim_is_not_challengeable(
    env: Env,
) -> None:
    stale = _attestation(env, 2)
    _posted(env, 3)
    with _reverts("NonceNotIncreasing"):
        _attest(env, _attestation(env, 3))
    with _reverts("NonceNotIncreasing"):
        _attest(env, stale)
    with _reverts("ClaimNotPosted"):
        _challenge(env, stale, env.outsider)


def test_timestamp_beyond_the_clock_skew_is_rejected(env: Env) -> None:
    skew = PARAMS.max_clock_skew_s
    with _reverts("TimestampOutOfRange"):
        _attest(env, _attestation(env, 1, timestamp=env.now() - skew - 60))
    with _reverts("TimestampOutOfRange"):
        _attest(env, _attestation(env, 1, timestamp=env.now() + skew + 60))


def test_unregistered_provider_is_rejected(env: Env) -> None:
    with _reverts("NotRegistered"):
        _attest(env, _attestation(env, 1, provider=env.outsider.address))


def test_claims_about_unregistered_hardware_are_rejected_singly_and_in_batches(env: Env) -> None:
    attestations = env.market.attestations.as_(env.outsider)
    with _reverts("HardwareNotRegistered"):
        _attest(env, _attestation(env, 1, hardware_id=OTHER_HARDWARE))
    other = [example_measurement(i, OTHER_HARDWARE) for i in range(3)]
    header, sig = _batch(env, 1, other)
    with _reverts("HardwareNotRegistered"):
        attestations.attest_batch(header, other, sig)
    env.market.registry.as_(env.provider).add_hardware(OTHER_HARDWARE, RATE)
    mixed = [example_measurement(0, OTHER_HARDWARE), example_measurement(1, HARDWARE_ID)]
    header, sig = _batch(env, 1, mixed)
    with _reverts("MixedHardware"):
        attestations.attest_batch(header, mixed, sig)
    header, sig = _batch(env, 1, other)
    attestations.attest_batch(header, other, sig)  # once registered, it is accepted


def test_batch_size_must_match_its_header_and_be_non_empty(env: Env) -> None:
    items = [example_measurement(i, HARDWARE_ID) for i in range(3)]
    attestations = env.market.attestations.as_(env.outsider)
    header, sig = _batch(env, 1, items, count=4)
    with _reverts("BatchSizeInvalid"):
        attestations.attest_batch(header, items, sig)
    header, sig = _batch(env, 1, [], count=0)
    with _reverts("BatchSizeInvalid"):
        attestations.attest_batch(header, [], sig)


def test_attesting_needs_attestation_slash_of_unreserved_stake(env: Env) -> None:
    price = 2 * ETHER - SLASH + 1  # leaves SLASH - 1 unreserved
    _accepted_job(env, price, price)
    with _reverts("InsufficientStake"):
        _attest(env, _attestation(env, 1))
    env.market.registry.as_(env.provider).add_stake(1)
    _posted(env, 1)


def test_unposted_claims_cannot_be_challenged(env: Env) -> None:
    attestations = env.market.attestations.as_(env.outsider)
    with _reverts("ClaimNotPosted"):
        _challenge(env, _attestation(env, 1), env.outsider)
    items = [example_measurement(i, HARDWARE_ID) for i in range(4)]
    header, _ = _batch(env, 1, items)
    _, leaves = batch_root(items)
    with _reverts("ClaimNotPosted"):
        attestations.challenge_batch_item(header, leaves, 1, items[1], COUNTER, BOND)


def test_challenge_needs_a_bond_and_an_open_window(env: Env) -> None:
    a = _posted(env)
    with _reverts("BondTooSmall"):
        _challenge(env, a, env.outsider, bond=BOND - 1)
    advance_time(env.w3, PARAMS.attestation_challenge_window_s + 10)
    with _reverts("ChallengeWindowClosed"):
        _challenge(env, a, env.outsider)


def test_batch_item_challenge_must_name_the_posted_leaves(env: Env) -> None:
    items = [example_measurement(i, HARDWARE_ID) for i in range(4)]
    header, sig = _batch(env, 1, items)
    env.market.attestations.as_(env.outsider).attest_batch(header, items, sig)
    _, leaves = batch_root(items)
    challenger = env.market.attestations.as_(env.outsider)
    with _reverts("LeafMismatch"):
        challenger.challenge_batch_item(header, leaves, 1, items[2], COUNTER, BOND)
    with _reverts("LeafIndexOutOfRange"):
        challenger.challenge_batch_item(header, leaves, 4, items[2], COUNTER, BOND)
    with _reverts("BatchSizeInvalid"):
        challenger.challenge_batch_item(header, leaves[:3], 1, items[1], COUNTER, BOND)
    receipt = challenger.challenge_batch_item(header, leaves, 2, items[2], COUNTER, BOND)
    (opened,) = env.market.attestations._events("ChallengeOpened", receipt)
    assert opened["args"]["lockedStake"] == SLASH
    assert _provider(env).reserved == SLASH


def test_several_challengers_share_one_upheld_case_in_proportion_to_their_bonds(env: Env) -> None:
    a = _posted(env)
    first, second = env.outsider, env.client
    case = _challenge(env, a, first, BOND)
    receipt = env.market.attestations.as_(second).challenge_attestation(a, COUNTER, 2 * BOND)
    (joined,) = env.market.attestations._events("ChallengerJoined", receipt)
    assert (joined["args"]["challengeId"], joined["args"]["totalBond"]) == (case, 3 * BOND)
    attestations = env.market.attestations
    attestations.as_(env.admin).resolve_challenge(case, upheld=True)
    with _reverts("ClaimAlreadyUpheld"):
        _challenge(env, a, env.outsider)
    with _reverts("ChallengeNotOpen"):
        attestations.as_(env.admin).resolve_challenge(case, upheld=False)
    reward = SLASH * PARAMS.challenger_share_bps // 10_000
    first_reward = reward * BOND // (3 * BOND)
    attestations.as_(env.outsider).settle_challenger(case, first.address)
    attestations.as_(env.outsider).settle_challenger(case, second.address)
    with _reverts("NothingToSettle"):
        attestations.as_(env.outsider).settle_challenger(case, first.address)
    assert attestations.withdrawable(first.address) == BOND + first_reward
    assert attestations.withdrawable(second.address) == 2 * BOND + reward - first_reward
    assert attestations.withdrawable(env.deployment.treasury) == SLASH - reward
    info = attestations.get_challenge(case)
    assert (info.status, info.settled_bond, info.paid_reward) == (
        ChallengeStatus.UPHELD,
        3 * BOND,
        reward,
    )
    p = _provider(env)
    assert (p.stake, p.reserved, p.slashed_total, p.banned) == (2 * ETHER - SLASH, 0, SLASH, False)
    assert env.w3.eth.get_balance(env.deployment.attestation_registry) == 3 * BOND + SLASH


def test_rejected_challenge_pays_the_bonds_to_the_provider_and_leaves_the_claim_open(
    env: Env,
) -> None:
    a = _posted(env)
    case = _challenge(env, a, env.outsider)
    _challenge(env, a, env.client, 3 * BOND)
    attestations = env.market.attestations
    attestations.as_(env.admin).resolve_challenge(case, upheld=False)
    with _reverts("NothingToSettle"):
        attestations.as_(env.outsider).settle_challenger(case, env.outsider.address)
    assert attestations.withdrawable(env.provider.address) == 4 * BOND
    assert _provider(env).reserved == 0
    assert _challenge(env, a, env.outsider) == case + 1  # a new case against the same claim


def test_arbiter_rules_only_before_the_deadline_then_the_default_ruling_returns_the_bonds(
    env: Env,
) -> None:
    a = _posted(env)
    case = _challenge(env, a, env.outsider)
    attestations = env.market.attestations
    with _reverts("RulingDeadlineNotPassed"):
        attestations.as_(env.client).settle_expired_challenge(case)
    with _reverts("NothingToSettle"):
        attestations.as_(env.client).settle_challenger(case, env.outsider.address)
    advance_time(env.w3, PARAMS.attestation_ruling_period_s + 10)
    with _reverts("RulingDeadlinePassed"):
        attestations.as_(env.admin).resolve_challenge(case, upheld=True)
    with _reverts("RulingDeadlinePassed"):
        _challenge(env, a, env.client)  # cannot join a case past its deadline
    attestations.as_(env.client).settle_expired_challenge(case)
    with _reverts("ChallengeNotOpen"):
        attestations.as_(env.client).settle_expired_challenge(case)
    attestations.as_(env.client).settle_challenger(case, env.outsider.address)
    assert attestations.withdrawable(env.outsider.address) == BOND
    assert attestations.get_challenge(case).status is ChallengeStatus.EXPIRED
    p = _provider(env)
    assert (p.stake, p.reserved, p.slashed_total) == (2 * ETHER, 0, 0)


def test_only_an_arbiter_rules(env: Env) -> None:
    case = _challenge(env, _posted(env), env.client)
    with _reverts("AccessControlUnauthorizedAccount"):
        env.market.attestations.as_(env.outsider).resolve_challenge(case, upheld=True)
    job = _submitted_job(env, ETHER // 10, ETHER // 10)
    env.market.jobs.as_(env.client).dispute(job, DISPUTE_BOND)
    with _reverts("AccessControlUnauthorizedAccount"):
        env.market.jobs.as_(env.client).resolve_dispute(job, provider_at_fault=True)


def test_lifetime_slashes_at_the_threshold_ban_the_provider(env: Env) -> None:
    for nonce in (1, 2):  # 2 x 0.5 ETH = banThreshold
        case = _challenge(env, _posted(env, nonce), env.outsider)
        env.market.attestations.as_(env.admin).resolve_challenge(case, upheld=True)
    p = _provider(env)
    assert (p.banned, p.slashed_total, p.stake) == (True, ETHER, ETHER)
    assert not env.market.registry.is_active(env.provider.address)
    with _reverts("ProviderIsBanned"):
        _attest(env, _attestation(env, 3))
    with _reverts("ProviderNotActive"):
        _offer(env, _open_job(env), ETHER // 20)


# --------------------------------------------------------------------------- stake and unstaking


def test_a_posted_claim_keeps_attestation_slash_staked_until_its_window_closes(env: Env) -> None:
    _posted(env)
    registry = env.market.registry.as_(env.provider)
    assert env.market.registry.free_stake(env.provider.address) == 2 * ETHER - SLASH
    with _reverts("InsufficientStake"):
        registry.request_unstake(2 * ETHER - SLASH + 1)
    advance_time(env.w3, PARAMS.attestation_challenge_window_s + 10)
    registry.request_unstake(2 * ETHER)


def test_an_accepted_jobs_collateral_cannot_be_unstaked(env: Env) -> None:
    _accepted_job(env, ETHER, ETHER)
    registry = env.market.registry.as_(env.provider)
    assert env.market.registry.locked_stake(env.provider.address) == ETHER
    with _reverts("InsufficientStake"):
        registry.request_unstake(ETHER + 1)
    registry.request_unstake(ETHER)
    p = _provider(env)
    assert (p.stake, p.pending_unstake, p.reserved) == (ETHER, ETHER, ETHER)
    assert env.market.registry.free_stake(env.provider.address) == 0


def test_unstaking_is_one_request_at_a_time_and_waits_the_cooldown(env: Env) -> None:
    registry = env.market.registry.as_(env.provider)
    with _reverts("ZeroAmount"):
        registry.request_unstake(0)
    with _reverts("ZeroAmount"):
        registry.complete_unstake()
    with _reverts("NotRegistered"):
        env.market.registry.as_(env.outsider).request_unstake(1)
    registry.request_unstake(ETHER // 2)
    with _reverts("UnstakePending"):
        registry.request_unstake(1)
    with _reverts("CooldownNotOver"):
        registry.complete_unstake()
    advance_time(env.w3, PARAMS.unstake_cooldown_s + 10)
    registry.complete_unstake()
    assert env.market.registry.withdrawable(env.provider.address) == ETHER // 2
    p = _provider(env)
    assert (p.stake, p.pending_unstake, p.unstake_ready_at) == (ETHER + ETHER // 2, 0, 0)


def test_unstake_completes_only_beyond_what_the_locks_need_and_is_blocked_until_released(
    env: Env,
) -> None:
    registry = env.market.registry.as_(env.provider)
    registry.add_stake(ETHER)  # 3 ETH active
    registry.request_unstake(3 * ETHER // 2)  # 1.5 active, 1.5 cooling down
    advance_time(env.w3, 1500)
    a = _posted(env)  # exposed until after the cooldown ends
    job = _accepted_job(env, ETHER, ETHER, deadline_in=20_000)  # all the free stake
    assert env.market.registry.free_stake(env.provider.address) == 0
    case = _challenge(env, a, env.outsider)  # cannot be refused: dips into the cooldown
    p = _provider(env)
    assert (p.stake, p.pending_unstake, p.reserved) == (3 * ETHER // 2, 3 * ETHER // 2, 3 * SLASH)
    advance_time(env.w3, PARAMS.unstake_cooldown_s - 1500 + 10)
    receipt = registry.complete_unstake()  # locked 2.0 vs active 1.5: 0.5 must stay
    (done,) = env.market.registry._events("UnstakeCompleted", receipt)
    assert (done["args"]["amount"], done["args"]["stillPending"]) == (ETHER, ETHER // 2)
    with _reverts("UnstakeBlocked"):
        registry.complete_unstake()
    env.market.attestations.as_(env.outsider).settle_expired_challenge(case)
    registry.complete_unstake()  # locked 1.5 (collateral + exposure) = active stake
    assert env.market.registry.withdrawable(env.provider.address) == 3 * ETHER // 2
    assert env.market.jobs.get_job(job).status is JobStatus.ACCEPTED


# --------------------------------------------------------------------------- jobs


def test_create_job_needs_escrow_runtime_and_a_future_deadline(env: Env) -> None:
    with _reverts("NoEscrow"):
        _open_job(env, escrow=0)
    with _reverts("ZeroRuntime"):
        _open_job(env, max_runtime_s=0)
    with _reverts("DeadlineInPast"):
        _open_job(env, deadline_in=-10)


def test_assignment_is_bounded_by_escrow_rate_and_the_allowed_provider(env: Env) -> None:
    job = _open_job(env, escrow=ETHER, max_runtime_s=1000)
    rate_cap = RATE * 1000
    with _reverts("AccessControlUnauthorizedAccount"):
        env.market.jobs.as_(env.outsider).assign_job(
            job, env.provider.address, HARDWARE_ID, METHOD, 1
        )
    with _reverts("UnknownJob"):
        _offer(env, job + 1, 1)
    with _reverts("ZeroPrice"):
        _offer(env, job, 0)
    with _reverts("PriceAboveProviderRate"):
        _offer(env, job, rate_cap + 1)
    with _reverts("HardwareNotRegistered"):
        _offer(env, job, rate_cap, hw=OTHER_HARDWARE)
    with _reverts("ProviderNotActive"):
        _offer(env, job, rate_cap, provider=env.outsider.address)
    receipt = _offer(env, job, rate_cap)
    (assigned,) = env.market.jobs._events("JobAssigned", receipt)
    assert assigned["args"]["price"] == rate_cap
    small = _open_job(env, escrow=1000)
    with _reverts("PriceExceedsEscrow"):
        _offer(env, small, 1001)
    other = env.new_account()
    env.register(other, other)
    picky = _open_job(env, allowed_provider=other.address)
    with _reverts("ProviderNotAllowed"):
        _offer(env, picky, 1000)
    _offer(env, picky, 1000, provider=other.address)


def test_assignment_after_the_deadline_is_rejected_and_the_escrow_refunded(env: Env) -> None:
    job = _open_job(env, deadline_in=50)
    advance_time(env.w3, 100)
    with _reverts("DeadlinePassed"):
        _offer(env, job, 1000)
    receipt = env.market.jobs.as_(env.outsider).refund(job)
    assert env.market.jobs._events("NonDelivery", receipt) == []
    assert env.market.jobs.get_job(job).status is JobStatus.REFUNDED
    assert env.market.jobs.withdrawable(env.client.address) == ETHER // 10


def test_acceptance_takes_exactly_the_offer_from_the_provider_with_free_stake(env: Env) -> None:
    job = _open_job(env, escrow=3 * ETHER)
    _offer(env, job, ETHER)
    _offer(env, job, 2 * ETHER)  # a re-offer racing the acceptance...
    with _reverts("OfferMismatch"):
        _accept(env, job, ETHER)  # ...makes the old terms fail
    with _reverts("NotAssignedProvider"):
        _accept(env, job, 2 * ETHER, by=env.outsider)
    _offer(env, job, 2 * ETHER + 1)
    with _reverts("InsufficientStake"):
        _accept(env, job, 2 * ETHER + 1)  # collateral above the free stake
    _offer(env, job, 2 * ETHER)
    receipt = _accept(env, job, 2 * ETHER)
    (accepted,) = env.market.jobs._events("JobAccepted", receipt)
    assert accepted["args"]["collateral"] == 2 * ETHER
    with _reverts("WrongStatus"):
        _accept(env, job, 2 * ETHER)
    with _reverts("WrongStatus"):
        _offer(env, job, ETHER)
    late = _open_job(env, deadline_in=50)
    _offer(env, late, 1000)
    advance_time(env.w3, 100)
    with _reverts("DeadlinePassed"):
        _accept(env, late, 1000)


def test_only_the_client_cancels_and_only_until_acceptance(env: Env) -> None:
    job = _open_job(env)
    _offer(env, job, 1000)
    with _reverts("NotClient"):
        env.market.jobs.as_(env.outsider).cancel_job(job)
    env.market.jobs.as_(env.client).cancel_job(job)
    with _reverts("WrongStatus"):
        _accept(env, job, 1000)
    accepted = _accepted_job(env, ETHER // 10, 1000)
    with _reverts("WrongStatus"):
        env.market.jobs.as_(env.client).cancel_job(accepted)
    assert env.market.jobs.withdrawable(env.client.address) == ETHER // 10


def test_a_result_needs_an_accepted_job_its_provider_a_hash_and_the_deadline(env: Env) -> None:
    job = _open_job(env, deadline_in=200)
    _offer(env, job, 1000)
    jobs = env.market.jobs.as_(env.agent)
    with _reverts("WrongStatus"):
        jobs.submit_result(job, RESULT)  # offered, not accepted
    _accept(env, job, 1000)
    with _reverts("NotAssignedProvider"):
        env.market.jobs.as_(env.outsider).submit_result(job, RESULT)
    with _reverts("ZeroResultHash"):
        jobs.submit_result(job, b"\x00" * 32)
    advance_time(env.w3, 300)
    with _reverts("DeadlinePassed"):
        jobs.submit_result(job, RESULT)


def test_finalize_waits_the_window_pays_price_less_fee_and_releases_the_collateral(
    env: Env,
) -> None:
    escrow, price = ETHER // 10, ETHER // 20 + 1
    job = _submitted_job(env, escrow, price)
    jobs = env.market.jobs.as_(env.outsider)
    with _reverts("ChallengeWindowOpen"):
        jobs.finalize(job)
    advance_time(env.w3, PARAMS.job_challenge_window_s + 10)
    receipt = jobs.finalize(job)
    with _reverts("WrongStatus"):
        jobs.finalize(job)
    fee = _fee(price)
    (event,) = env.market.jobs._events("JobFinalized", receipt)
    assert (event["args"]["providerPayout"], event["args"]["fee"], event["args"]["refund"]) == (
        price - fee,
        fee,
        escrow - price,
    )
    assert env.market.jobs.withdrawable(env.provider.address) == price - fee
    assert env.market.jobs.withdrawable(env.client.address) == escrow - price
    assert env.market.jobs.withdrawable(env.deployment.treasury) == fee
    assert _provider(env).reserved == 0


def test_dispute_needs_the_client_a_bond_and_the_open_window(env: Env) -> None:
    job = _submitted_job(env, ETHER // 10, ETHER // 20)
    jobs = env.market.jobs.as_(env.client)
    with _reverts("NotClient"):
        env.market.jobs.as_(env.outsider).dispute(job, DISPUTE_BOND)
    with _reverts("BondTooSmall"):
        jobs.dispute(job, DISPUTE_BOND - 1)
    receipt = jobs.dispute(job, DISPUTE_BOND)
    (event,) = env.market.jobs._events("JobDisputed", receipt)
    disputed_at = env.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert event["args"]["rulingDeadline"] == disputed_at + PARAMS.dispute_ruling_period_s
    with _reverts("WrongStatus"):
        jobs.dispute(job, DISPUTE_BOND)
    late = _submitted_job(env, ETHER // 10, ETHER // 20)
    advance_time(env.w3, PARAMS.job_challenge_window_s + 10)
    with _reverts("ChallengeWindowClosed"):
        jobs.dispute(late, DISPUTE_BOND)


def test_a_won_dispute_returns_escrow_and_bond_plus_compensation_out_of_the_slash(
    env: Env,
) -> None:
    escrow, price = ETHER // 5, ETHER // 10
    job = _submitted_job(env, escrow, price)
    env.market.jobs.as_(env.client).dispute(job, DISPUTE_BOND)
    receipt = env.market.jobs.as_(env.admin).resolve_dispute(job, provider_at_fault=True)
    compensation = price * PARAMS.client_compensation_bps // 10_000
    (event,) = env.market.jobs._events("DisputeResolved", receipt)
    assert (event["args"]["slashed"], event["args"]["compensation"]) == (price, compensation)
    assert env.market.jobs.withdrawable(env.client.address) == escrow + DISPUTE_BOND + compensation
    assert env.market.jobs.withdrawable(env.deployment.treasury) == price - compensation
    assert env.market.jobs.withdrawable(env.provider.address) == 0
    p = _provider(env)
    assert (p.stake, p.reserved, p.slashed_total, p.banned) == (2 * ETHER - price, 0, price, False)
    assert env.w3.eth.get_balance(env.deployment.job_market) == escrow + DISPUTE_BOND + price
    with _reverts("WrongStatus"):
        env.market.jobs.as_(env.admin).resolve_dispute(job, provider_at_fault=False)


def test_a_lost_dispute_pays_the_provider_and_gives_it_the_bond(env: Env) -> None:
    escrow, price = ETHER // 5, ETHER // 10
    job = _submitted_job(env, escrow, price)
    env.market.jobs.as_(env.client).dispute(job, DISPUTE_BOND)
    env.market.jobs.as_(env.admin).resolve_dispute(job, provider_at_fault=False)
    fee = _fee(price)
    assert env.market.jobs.withdrawable(env.provider.address) == price - fee + DISPUTE_BOND
    assert env.market.jobs.withdrawable(env.client.address) == escrow - price
    assert env.market.jobs.get_job(job).status is JobStatus.FINALIZED
    assert _provider(env).reserved == 0


def test_an_unanswered_dispute_pays_out_at_its_deadline_and_returns_the_bond(env: Env) -> None:
    escrow, price = ETHER // 5, ETHER // 10
    job = _submitted_job(env, escrow, price)
    env.market.jobs.as_(env.client).dispute(job, DISPUTE_BOND)
    jobs = env.market.jobs.as_(env.outsider)
    with _reverts("RulingDeadlineNotPassed"):
        jobs.settle_expired_dispute(job)
    with _reverts("WrongStatus"):
        jobs.finalize(job)
    advance_time(env.w3, PARAMS.dispute_ruling_period_s + 10)
    with _reverts("RulingDeadlinePassed"):
        env.market.jobs.as_(env.admin).resolve_dispute(job, provider_at_fault=True)
    receipt = jobs.settle_expired_dispute(job)
    assert env.market.jobs._events("DisputeExpired", receipt)[0]["args"]["jobId"] == job
    fee = _fee(price)
    assert env.market.jobs.withdrawable(env.provider.address) == price - fee
    assert env.market.jobs.withdrawable(env.client.address) == escrow - price + DISPUTE_BOND
    assert _provider(env).reserved == 0
    with _reverts("WrongStatus"):
        jobs.settle_expired_dispute(job)


def test_non_delivery_refunds_the_client_with_compensation_and_slashes_the_provider(
    env: Env,
) -> None:
    escrow, price = ETHER // 5, ETHER // 10
    job = _accepted_job(env, escrow, price, deadline_in=200)
    jobs = env.market.jobs.as_(env.outsider)
    with _reverts("DeadlineNotPassed"):
        jobs.refund(job)
    advance_time(env.w3, 300)
    receipt = jobs.refund(job)
    compensation = price * PARAMS.client_compensation_bps // 10_000
    (event,) = env.market.jobs._events("NonDelivery", receipt)
    assert (event["args"]["provider"], event["args"]["slashed"]) == (env.provider.address, price)
    assert event["args"]["compensation"] == compensation
    assert env.market.jobs.withdrawable(env.client.address) == escrow + compensation
    assert env.market.jobs.withdrawable(env.deployment.treasury) == price - compensation
    p = _provider(env)
    assert (p.stake, p.reserved, p.slashed_total) == (2 * ETHER - price, 0, price)
    with _reverts("WrongStatus"):
        jobs.refund(job)


# --------------------------------------------------------------------------- pause, withdrawals


def test_a_pause_stops_new_business_but_never_settlement_or_exits(env: Env) -> None:
    registry = env.market.registry
    with _reverts("AccessControlUnauthorizedAccount"):
        registry.as_(env.outsider).pause()
    accepted = _accepted_job(env, ETHER // 10, ETHER // 20)
    offered = _open_job(env)
    _offer(env, offered, 1000)
    claim = _posted(env)
    registry.as_(env.admin).pause()
    newcomer = env.new_account()
    with _reverts("EnforcedPause"):
        env.register(newcomer, newcomer)
    with _reverts("EnforcedPause"):
        _attest(env, _attestation(env, 2))
    with _reverts("EnforcedPause"):
        _open_job(env)
    with _reverts("EnforcedPause"):
        _offer(env, offered, 1000)
    with _reverts("EnforcedPause"):
        _accept(env, offered, 1000)
    env.market.jobs.as_(env.agent).submit_result(accepted, RESULT)
    env.market.jobs.as_(env.client).dispute(accepted, DISPUTE_BOND)
    env.market.jobs.as_(env.admin).resolve_dispute(accepted, provider_at_fault=False)
    case = _challenge(env, claim, env.outsider)
    env.market.attestations.as_(env.admin).resolve_challenge(case, upheld=False)
    env.market.jobs.as_(env.client).cancel_job(offered)
    env.market.jobs.as_(env.provider).withdraw()
    env.market.registry.as_(env.provider).request_unstake(ETHER // 10)
    registry.as_(env.admin).unpause()
    fresh = _open_job(env)
    _offer(env, fresh, 1000)
    _accept(env, fresh, 1000)


def test_withdrawals_need_a_balance_and_can_pay_another_address(env: Env) -> None:
    jobs = env.market.jobs
    with _reverts("NothingToWithdraw"):
        jobs.as_(env.client).withdraw()
    job = _open_job(env)
    jobs.as_(env.client).cancel_job(job)
    with _reverts("ZeroAddress"):
        jobs.as_(env.client).withdraw_to(NO_PROVIDER)
    cold = Account.create().address
    receipt = jobs.as_(env.client).withdraw_to(cold)
    (event,) = jobs._events("Withdrawn", receipt)
    assert (event["args"]["account"], event["args"]["to"]) == (env.client.address, cold)
    assert env.w3.eth.get_balance(cold) == ETHER // 10
    with _reverts("NothingToWithdraw"):
        jobs.as_(env.client).withdraw()
