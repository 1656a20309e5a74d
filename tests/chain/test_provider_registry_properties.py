"""Model-based property test of stake and attestation challenges on the in-process EVM.

Every run starts from one snapshot (providers staked at 1, 2 and 3 ETH, posted claims, an
open case with two challengers, an upheld one, stake in cooldown). Hypothesis then drives
random sequences of: registering (with the agent key's consent), adding stake and hardware
profiles, posting attestations (single and batches, on served or unserved hardware, with
fresh or replayed nonces), challenging posted and never-posted claims with several
challengers and bonds of any size, rulings (upheld or rejected, before or after the ruling
deadline), default rulings after the deadline, per-challenger settlement, unstaking (blocked
by exposure and by challenge locks, partly completed when locks need part of the cooldown
stake), withdrawals and time travel. A plain-Python model (``tests/chain/ledger_machine.py``)
predicts which custom error each call reverts with, what each provider's stake record holds
and what every account is owed. After each step the touched providers and cases, and both
contracts' balances, must agree with it:

- registry: ``balance == Σ(stake + pendingUnstake) + Σ withdrawable``;
- attestation registry: ``balance == Σ_open totalBond + Σ_{upheld, expired}(totalBond −
  settledBond + reward − paidReward) + Σ withdrawable``.

At the end every case is settled by default, every challenger settled, every provider
unstakes everything, and everybody withdraws everything: each gets exactly what the model
says, and what came out equals what went in.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from eth_account import Account
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule

from chain.clients import AttestationRegistryClient, ChallengeStatus, Market
from chain.connection import advance_time, connect, fund, revert_to, snapshot
from chain.deploy import ETHER, MarketParams, deploy_market
from protocol.canonical import content_id
from protocol.eip712 import Attestation, BatchHeader, batch_root, sign_attestation, sign_batch
from tests.chain.ledger_machine import (
    SETTINGS,
    LedgerMachine,
    Opening,
    StakeModel,
    either,
    first_failure,
    run_ahead_of_the_clock,
    run_once_gas_estimates,
    signed,
)
from tests.factories import example_measurement

PARAMS = MarketParams(
    min_stake_wei=ETHER,
    unstake_cooldown_s=400,
    attestation_slash_wei=ETHER // 2,
    ban_threshold_wei=ETHER,
    max_clock_skew_s=30,
    attestation_challenge_window_s=300,
    attestation_ruling_period_s=250,
    min_challenge_bond_wei=ETHER // 10,
    challenger_share_bps=3333,  # rewards that do not divide evenly
)
SLASH = PARAMS.attestation_slash_wei
BOND = PARAMS.min_challenge_bond_wei
HW_A = content_id({"kind": "hardware", "name": "prop-cpu"})
HW_B = content_id({"kind": "hardware", "name": "prop-gpu"})
COUNTER = b"\x0d" * 32
OPEN, UPHELD, REJECTED, EXPIRED = (
    ChallengeStatus.OPEN,
    ChallengeStatus.UPHELD,
    ChallengeStatus.REJECTED,
    ChallengeStatus.EXPIRED,
)

W3 = run_once_gas_estimates(connect())
ADMIN, TREASURY = Account.create(), Account.create()
PROVIDERS = [Account.create() for _ in range(4)]  # the last one registers during a run
AGENTS = [Account.create() for _ in PROVIDERS]
CHALLENGERS = [Account.create() for _ in range(3)]
for _a in (ADMIN, TREASURY, *PROVIDERS, *AGENTS, *CHALLENGERS):
    fund(W3, _a.address, 1000 * ETHER)
DEPLOYMENT = deploy_market(W3, ADMIN, treasury=TREASURY.address, params=PARAMS)
MARKET = Market.at(W3, DEPLOYMENT)
DOMAIN = MARKET.attestations.domain()
ACCOUNTS = [TREASURY, *PROVIDERS, *CHALLENGERS]
REG, ATT = DEPLOYMENT.provider_registry, DEPLOYMENT.attestation_registry


def _attestation(provider: str, nonce: int, hardware_id: bytes, timestamp: int) -> Attestation:
    return Attestation(
        provider=provider,
        measurement=example_measurement(nonce, hardware_id),
        nonce=nonce,
        timestamp=timestamp,
    )


def _single(a: Attestation) -> Callable[[AttestationRegistryClient, int], object]:
    return lambda client, bond: client.challenge_attestation(a, COUNTER, bond)


def _post(i: int, batch: int = 0) -> list[tuple[str, int, Callable]]:
    """Post provider ``i``'s next attestation or batch (setup only): its claims as
    (provider, posted at, challenge)."""
    p, agent = PROVIDERS[i], AGENTS[i]
    nonce = MARKET.attestations.last_nonce(p.address) + 1
    now = W3.eth.get_block("pending")["timestamp"]
    attestations = MARKET.attestations.as_(agent)
    if not batch:
        a = _attestation(p.address, nonce, HW_A, now)
        receipt = attestations.attest(a, sign_attestation(a, DOMAIN, agent.key))
        return [(p.address, W3.eth.get_block(receipt["blockNumber"])["timestamp"], _single(a))]
    items = [example_measurement(100 * nonce + k, HW_A) for k in range(batch)]
    header = BatchHeader(provider=p.address, count=batch, nonce=nonce, timestamp=now)
    receipt = attestations.attest_batch(header, items, sign_batch(header, items, DOMAIN, agent.key))
    posted_at = W3.eth.get_block(receipt["blockNumber"])["timestamp"]
    return [(p.address, posted_at, c) for c in _batch_items(header, items)]


def _batch_items(header: BatchHeader, items: list) -> list[Callable]:
    _, leaves = batch_root(items)

    def challenge(k: int) -> Callable:
        return lambda client, bond: client.challenge_batch_item(
            header, leaves, k, items[k], COUNTER, bond
        )

    return [challenge(k) for k in range(len(items))]


# Every run starts from this snapshot: providers staked at 1, 2 and 3 ETH (a fourth may
# register), four posted claims, an open case with two challengers against provider 2's
# claim, an upheld one against provider 1's first batch item, and 0.5 ETH of provider 2's
# stake in cooldown.
STAKES = [ETHER, 2 * ETHER, 3 * ETHER]
for _p, _agent, _stake in zip(PROVIDERS, AGENTS, STAKES, strict=False):
    MARKET.registry.as_(_p).register(
        agent=_agent, hardware_id=HW_A, price_per_second=1, metadata_uri="", stake_wei=_stake
    )
run_ahead_of_the_clock(W3)
INITIAL_CLAIMS = [*_post(0), *_post(1, batch=2), *_post(2)]
for _claim, _challenger, _bond in [(3, 0, BOND), (3, 1, 2 * BOND), (1, 2, BOND)]:
    INITIAL_CLAIMS[_claim][2](MARKET.attestations.as_(CHALLENGERS[_challenger]), _bond)
MARKET.attestations.as_(ADMIN).resolve_challenge(2, True)
MARKET.registry.as_(PROVIDERS[2]).request_unstake(ETHER // 2)
CASE_CLAIMS = {1: 3, 2: 1}  # case id: index of its claim
BASE = snapshot(W3)
OPENING = Opening.read(W3, [MARKET.registry, MARKET.attestations], ACCOUNTS)

providers = st.integers(0, len(PROVIDERS) - 1)
challengers = st.sampled_from(CHALLENGERS)
bonds = st.one_of(st.just(BOND - 1), st.just(BOND), st.integers(BOND, 3 * BOND))


@dataclass
class Claim:
    """A posted claim: a single attestation or one item of a posted batch."""

    provider: str
    posted_at: int
    challenge: Callable[[AttestationRegistryClient, int], object]
    case: int = 0  # the latest case against it
    upheld: bool = False


@dataclass
class Case:
    provider: str
    claim: Claim
    opened_at: int
    locked: int
    status: ChallengeStatus = OPEN
    bonds: dict[str, int] = field(default_factory=dict)  # bondOf, not yet paid back
    total: int = 0
    reward: int = 0
    settled: int = 0
    paid: int = 0

    def held(self) -> int:
        """What the attestation registry holds for this case."""
        if self.status is OPEN:
            return self.total
        if self.status in (UPHELD, EXPIRED):
            return self.total - self.settled + self.reward - self.paid
        return 0  # rejected: the bonds were credited to the provider


def _read_model() -> dict:
    """The snapshot's providers, claims and cases, as the model starts from them."""
    providers = {}
    for p in PROVIDERS:
        info = MARKET.registry.get_provider(p.address)
        if info.registered:
            providers[p.address] = StakeModel.from_chain(info)
    claims = [Claim(*c) for c in INITIAL_CLAIMS]
    cases = []
    for case_id, index in sorted(CASE_CLAIMS.items()):
        info, claim = MARKET.attestations.get_challenge(case_id), claims[index]
        claim.case, claim.upheld = case_id, info.status is UPHELD
        bonds = {c.address: MARKET.attestations.bond_of(case_id, c.address) for c in CHALLENGERS}
        case = Case(info.provider, claim, info.opened_at, info.stake_locked, info.status)
        case.bonds = {a: b for a, b in bonds.items() if b}
        case.total, case.reward = info.total_bond, info.reward
        case.settled, case.paid = info.settled_bond, info.paid_reward
        cases.append(case)
    return {"providers": providers, "claims": claims, "cases": cases}


INITIAL_MODEL = _read_model()


class StakeAndChallengeMachine(LedgerMachine):
    w3 = W3

    @initialize()
    def fresh_chain(self) -> None:
        revert_to(W3, BASE)
        start = copy.deepcopy(INITIAL_MODEL)
        self.providers: dict[str, StakeModel] = start["providers"]
        self.hardware: dict[str, set[bytes]] = {a: {HW_A} for a in self.providers}
        self.claims: list[Claim] = start["claims"]
        self.cases: list[Case] = start["cases"]
        self.touched = set(range(1, len(self.cases) + 1))
        self.touched_providers = set(self.providers)
        self.reset_ledger(OPENING)

    # -- helpers

    def stake_of(self, address: str) -> StakeModel | None:
        """The model of a provider's stake (None: not registered); checked after the step."""
        if address in self.providers:
            self.touched_providers.add(address)
        return self.providers.get(address)

    def exposed(self, m: StakeModel) -> bool | None:
        return self.before(m.exposure_until, inclusive=False)

    def either_exposure(self, m: StakeModel, outcome: Callable[[bool], bool]) -> bool | None:
        exposed = self.exposed(m)
        return either(outcome(True), outcome(False)) if exposed is None else outcome(exposed)

    def may_attest(self, address: str, hardware_id: bytes, nonce: int) -> str:
        """The registry's checks of a claim, in its order (the signature is always right)."""
        m = self.stake_of(address)
        return first_failure(
            (m is not None, "NotRegistered"),
            (m is not None and not m.banned, "ProviderIsBanned"),
            (m is not None and m.stake >= PARAMS.min_stake_wei, "StakeBelowMinimum"),
            (hardware_id in self.hardware.get(address, set()), "HardwareNotRegistered"),
            (m is not None and nonce > m.nonce, "NonceNotIncreasing"),
            (m is not None and m.stake - m.reserved >= SLASH, "InsufficientStake"),
        )

    def posted(self, address: str, receipt) -> int:
        ts = self.block_time(receipt)
        m = self.stake_of(address)
        m.nonce += 1
        m.exposure_until = ts + PARAMS.attestation_challenge_window_s
        return ts

    # -- provider life cycle

    @rule(i=providers, stake=st.integers(ETHER // 2, 3 * ETHER))
    def register(self, i: int, stake: int) -> None:
        p = PROVIDERS[i]
        expected = first_failure(
            (p.address not in self.providers, "AlreadyRegistered"),
            (stake >= PARAMS.min_stake_wei, "StakeBelowMinimum"),
        )
        register = signed(MARKET.registry, p).register
        receipt = self.attempt(
            expected,
            lambda: register(
                agent=AGENTS[i],
                hardware_id=HW_A,
                price_per_second=1,
                metadata_uri="",
                stake_wei=stake,
            ),
            value=stake,
        )
        if receipt:
            self.providers[p.address] = StakeModel(stake=stake)
            self.hardware[p.address] = {HW_A}
            self.touched_providers.add(p.address)

    @rule(i=providers, amount=st.integers(1, ETHER))
    def stake_more(self, i: int, amount: int) -> None:
        p = PROVIDERS[i]
        expected = first_failure((p.address in self.providers, "NotRegistered"))
        if self.attempt(expected, lambda: signed(MARKET.registry, p).add_stake(amount), amount):
            self.stake_of(p.address).stake += amount

    @rule(i=providers, price=st.integers(0, 10**9))
    def serve_more_hardware(self, i: int, price: int) -> None:
        p = PROVIDERS[i]
        expected = first_failure(
            (p.address in self.providers, "NotRegistered"),
            (HW_B not in self.hardware.get(p.address, set()), "HardwareAlreadyRegistered"),
        )
        if self.attempt(expected, lambda: signed(MARKET.registry, p).add_hardware(HW_B, price)):
            self.hardware[p.address].add(HW_B)

    # -- attestations

    @rule(data=st.data())
    def attest(self, data) -> None:
        """Post a provider's next claim: one attestation (batch 0) or a batch of items."""
        i = data.draw(providers, label="provider")
        hardware_id = data.draw(st.sampled_from([HW_A, HW_B]), label="hardware")
        batch = data.draw(st.integers(0, 3), label="batch")
        replay = data.draw(st.integers(0, 7), label="replay") == 0  # a nonce already used
        p, agent = PROVIDERS[i], AGENTS[i]
        m = self.providers.get(p.address)
        nonce = (m.nonce if m else 0) + (0 if replay else 1)
        if batch:
            items = [example_measurement(100 * nonce + k, hardware_id) for k in range(batch)]
            header = BatchHeader(provider=p.address, count=batch, nonce=nonce, timestamp=self.now())
            signature = sign_batch(header, items, DOMAIN, agent.key)
            send = partial(signed(MARKET.attestations, agent).attest_batch, header, items)
        else:
            a = _attestation(p.address, nonce, hardware_id, self.now())
            signature = sign_attestation(a, DOMAIN, agent.key)
            send = partial(signed(MARKET.attestations, agent).attest, a)
        expected = self.may_attest(p.address, hardware_id, nonce)
        receipt = self.attempt(expected, lambda: send(signature))
        if not receipt:
            return
        ts = self.posted(p.address, receipt)
        challenges = _batch_items(header, items) if batch else [_single(a)]
        self.claims += [Claim(p.address, ts, challenge) for challenge in challenges]

    # -- challenges

    @rule(data=st.data())
    def challenge(self, data) -> None:
        """Challenge a posted claim (opening or joining its case), or one never posted."""
        challenger = data.draw(challengers, label="challenger")
        bond = data.draw(bonds, label="bond")
        if not data.draw(st.integers(0, 5), label="posted"):
            p = data.draw(st.sampled_from(PROVIDERS), label="provider")
            nonce = MARKET.attestations.last_nonce(p.address) + 1
            unposted = _attestation(p.address, nonce, HW_A, self.now())
            self.attempt(
                "ClaimNotPosted",
                lambda: _single(unposted)(signed(MARKET.attestations, challenger), bond),
            )
            return
        closing = self.now() - PARAMS.attestation_challenge_window_s
        live = [c for c in self.claims if c.posted_at >= closing]
        any_claim = not live or data.draw(st.integers(0, 4), label="any claim") == 0
        claim = data.draw(st.sampled_from(self.claims if any_claim else live), label="claim")
        case = self.cases[claim.case - 1] if claim.case else None
        joining = case is not None and case.status is OPEN
        expected = first_failure(
            (
                self.before(claim.posted_at + PARAMS.attestation_challenge_window_s),
                "ChallengeWindowClosed",
            ),
            (bond >= BOND, "BondTooSmall"),
            (
                self.before(case.opened_at + PARAMS.attestation_ruling_period_s)
                if joining
                else True,
                "RulingDeadlinePassed",
            ),
            (not claim.upheld, "ClaimAlreadyUpheld"),
        )
        attestations = signed(MARKET.attestations, challenger)
        receipt = self.attempt(expected, lambda: claim.challenge(attestations, bond), bond)
        if not receipt:
            return
        if not joining:
            m = self.stake_of(claim.provider)
            locked = min(SLASH, m.unreserved())
            m.reserved += locked
            case = Case(claim.provider, claim, self.block_time(receipt), locked)
            self.cases.append(case)
            claim.case = len(self.cases)
            (opened,) = MARKET.attestations._events("ChallengeOpened", receipt)
            assert opened["args"]["lockedStake"] == locked
        assert MARKET.attestations.challenge_id(receipt) == claim.case
        case.bonds[challenger.address] = case.bonds.get(challenger.address, 0) + bond
        case.total += bond
        self.touched.add(claim.case)

    def pick_case(self, data, *statuses: ChallengeStatus) -> tuple[int, Case]:
        """A case, most of the time one in ``statuses`` (where the call can succeed)."""
        fitting = [i for i, c in enumerate(self.cases, 1) if c.status in statuses]
        any_case = not fitting or data.draw(st.integers(0, 4), label="any case") == 0
        every = range(1, len(self.cases) + 1)
        case_id = data.draw(st.sampled_from(every if any_case else fitting), label="case")
        self.touched.add(case_id)
        return case_id, self.cases[case_id - 1]

    @precondition(lambda self: self.cases)
    @rule(data=st.data())
    def rule_on(self, data) -> None:
        """The arbiter upholds or rejects a case before its deadline; after it, anyone applies
        the default ruling (EXPIRED)."""
        case_id, case = self.pick_case(data, OPEN)
        ruling = data.draw(st.sampled_from([UPHELD, REJECTED, EXPIRED]), label="ruling")
        caller = data.draw(challengers, label="caller")
        deadline = case.opened_at + PARAMS.attestation_ruling_period_s
        if ruling is EXPIRED:
            timely = (self.after(deadline, inclusive=False), "RulingDeadlineNotPassed")
            send = partial(signed(MARKET.attestations, caller).settle_expired_challenge, case_id)
        else:
            timely = (self.before(deadline), "RulingDeadlinePassed")
            arbiter = signed(MARKET.attestations, ADMIN)
            send = partial(arbiter.resolve_challenge, case_id, ruling is UPHELD)
        expected = first_failure((case.status is OPEN, "ChallengeNotOpen"), timely)
        if not self.attempt(expected, send):
            return
        m = self.stake_of(case.provider)
        case.status = ruling
        if ruling is UPHELD:
            case.claim.upheld = True
            case.reward = case.locked * PARAMS.challenger_share_bps // 10_000
            self.credit(ATT, TREASURY.address, case.locked - case.reward)
            m.slash_lock(case.locked, case.locked, PARAMS.ban_threshold_wei)
            return
        if ruling is REJECTED:
            self.credit(ATT, case.provider, case.total)
        m.reserved -= case.locked

    @precondition(lambda self: self.cases)
    @rule(data=st.data())
    def settle_challenger(self, data) -> None:
        case_id, case = self.pick_case(data, UPHELD, EXPIRED)
        owed = [a for a, bond in case.bonds.items() if bond]
        everyone = [c.address for c in CHALLENGERS]
        any_one = not owed or data.draw(st.integers(0, 4), label="anyone") == 0
        challenger = data.draw(st.sampled_from(everyone if any_one else owed), "challenger")
        caller = data.draw(challengers, label="caller")
        self.settle(case_id, case, challenger, caller)

    def settle(self, case_id: int, case: Case, challenger: str, caller) -> None:
        bond = case.bonds.get(challenger, 0)
        expected = first_failure(
            (bond > 0 and case.status in (UPHELD, EXPIRED), "NothingToSettle"),
        )
        attestations = signed(MARKET.attestations, caller)
        if not self.attempt(expected, lambda: attestations.settle_challenger(case_id, challenger)):
            return
        case.settled += bond
        last = case.settled == case.total
        reward = case.reward - case.paid if last else case.reward * bond // case.total
        case.paid += reward
        case.bonds[challenger] = 0
        self.credit(ATT, challenger, bond + reward)

    # -- unstaking

    @rule(i=providers, amount=st.integers(1, 3 * ETHER))
    def request_unstake(self, i: int, amount: int) -> None:
        p = PROVIDERS[i]
        m = self.stake_of(p.address)
        expected = first_failure(
            (m is not None, "NotRegistered"),
            (m is not None and m.pending == 0, "UnstakePending"),
            (
                m is not None and self.either_exposure(m, lambda e: amount <= m.free(e, SLASH)),
                "InsufficientStake",
            ),
        )
        receipt = self.attempt(expected, lambda: signed(MARKET.registry, p).request_unstake(amount))
        if receipt:
            m.stake -= amount
            m.pending = amount
            m.ready_at = self.block_time(receipt) + PARAMS.unstake_cooldown_s

    @rule(i=providers)
    def complete_unstake(self, i: int) -> None:
        p = PROVIDERS[i]
        m = self.stake_of(p.address)
        expected = first_failure(
            (m is not None, "NotRegistered"),
            (m is not None and m.pending > 0, "ZeroAmount"),
            (m is not None and self.after(m.ready_at), "CooldownNotOver"),
            (
                m is not None
                and self.either_exposure(m, lambda e: m.shortfall(e, SLASH) < m.pending),
                "UnstakeBlocked",
            ),
        )
        receipt = self.attempt(expected, lambda: signed(MARKET.registry, p).complete_unstake())
        if receipt:
            self.completed(p.address, receipt)

    def completed(self, address: str, receipt) -> None:
        m = self.stake_of(address)
        released = m.complete_unstake(self.block_time(receipt) < m.exposure_until, SLASH)
        (event,) = MARKET.registry._events("UnstakeCompleted", receipt)
        assert (event["args"]["amount"], event["args"]["stillPending"]) == (released, m.pending)
        self.credit(REG, address, released)

    # -- money out, time

    @rule(account=st.sampled_from(ACCOUNTS), registry=st.booleans())
    def withdraw(self, account, registry: bool) -> None:
        self.withdraw_and_check(MARKET.registry if registry else MARKET.attestations, account)

    @rule(seconds=st.integers(1, 400))
    def wait(self, seconds: int) -> None:
        advance_time(W3, seconds)

    # -- invariants

    @invariant()
    def stake_records_match_the_model(self) -> None:
        """Every provider the step touched; every provider at the end of a run."""
        for address in getattr(self, "touched_providers", set()):
            m = self.providers[address]
            m.assert_matches(MARKET.registry.get_provider(address))
            reserved_by_cases = sum(
                c.locked for c in self.cases if c.provider == address and c.status is OPEN
            )
            assert m.reserved == reserved_by_cases
        if hasattr(self, "touched_providers"):
            self.touched_providers = set()

    @invariant()
    def touched_cases_match_the_model(self) -> None:
        for case_id in getattr(self, "touched", set()):
            c, info = self.cases[case_id - 1], MARKET.attestations.get_challenge(case_id)
            assert (
                info.status,
                info.total_bond,
                info.stake_locked,
                info.reward,
                info.settled_bond,
                info.paid_reward,
            ) == (c.status, c.total, c.locked, c.reward, c.settled, c.paid)
            for challenger, bond in c.bonds.items():
                assert MARKET.attestations.bond_of(case_id, challenger) == bond
        if hasattr(self, "touched"):
            self.touched = set()

    @invariant()
    def balances_are_what_the_model_holds(self) -> None:
        if not hasattr(self, "providers"):
            return
        self.check_withdrawable()
        self.assert_balance(REG, sum(m.stake + m.pending for m in self.providers.values()))
        self.assert_balance(ATT, sum(c.held() for c in self.cases))

    # -- end of a run

    def settle_everything(self) -> None:
        """Default rulings, every challenger settled, every provider unstaked."""
        wait = PARAMS.attestation_ruling_period_s + PARAMS.attestation_challenge_window_s
        advance_time(W3, wait + PARAMS.unstake_cooldown_s + 10)
        caller = CHALLENGERS[0]
        for case_id, case in enumerate(self.cases, start=1):
            if case.status is OPEN:
                signed(MARKET.attestations, caller).settle_expired_challenge(case_id)
                case.status = EXPIRED
                self.stake_of(case.provider).reserved -= case.locked
                self.touched.add(case_id)
            for challenger, bond in list(case.bonds.items()):
                if bond and case.status is not REJECTED:
                    self.settle(case_id, case, challenger, caller)
        for address, m in self.providers.items():
            p = next(a for a in PROVIDERS if a.address == address)
            if m.pending:
                self.completed(address, signed(MARKET.registry, p).complete_unstake())
            if m.stake:
                receipt = signed(MARKET.registry, p).request_unstake(m.stake)
                m.pending, m.stake = m.stake, 0
                m.ready_at = self.block_time(receipt) + PARAMS.unstake_cooldown_s
        advance_time(W3, PARAMS.unstake_cooldown_s + 10)
        for address, m in self.providers.items():
            if m.pending:
                p = next(a for a in PROVIDERS if a.address == address)
                self.completed(address, signed(MARKET.registry, p).complete_unstake())
        self.touched_providers = set(self.providers)
        self.stake_records_match_the_model()


StakeAndChallengeMachine.TestCase.settings = SETTINGS
TestStakeAndChallengeProperties = StakeAndChallengeMachine.TestCase
