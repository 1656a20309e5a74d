"""Model-based property test of JobMarket's money paths, and the stake they lock, on the
in-process EVM.

Every run starts from one snapshot (two providers, one job in each open status, stake in
cooldown). Hypothesis then drives random sequences of: creating jobs (escrow, maximum runtime, deadline,
optionally one allowed provider), cancelling, offering them to providers on served or
unserved hardware at any price (bounded by escrow and rate × runtime, or not), acceptance by
the provider, its agent or an outsider on the offered or stale terms (locking collateral
from free stake), results, finalizing, disputes with bonds of any size, rulings (provider at
fault or not) before or after the ruling deadline, default rulings, refunds after the
deadline (non-delivery slashes the provider's collateral), unstaking blocked by collateral,
pausing the market, withdrawals and time travel. A plain-Python model
(``tests/chain/ledger_machine.py``) predicts which custom error each call reverts with, what
each provider's stake record holds and what every account is owed. After each step the
touched jobs and providers, and both contracts' balances, must agree with it:

- job market: ``balance == Σ_{Open..Disputed} escrow + Σ_Disputed bond + Σ withdrawable``;
- registry: ``balance == Σ(stake + pendingUnstake) + Σ withdrawable``, each provider's
  ``reserved`` the collateral of its accepted, submitted and disputed jobs.

At the end every job is settled through the permissionless paths (refund, finalize, default
ruling), every provider unstakes everything, and everybody withdraws everything: each gets
exactly what the model says, and what came out equals what went in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from eth_account import Account
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule

from chain.clients import NO_PROVIDER, JobInfo, JobStatus, Market
from chain.connection import advance_time, connect, fund, revert_to, snapshot
from chain.deploy import ETHER, MarketParams, deploy_market
from protocol.canonical import content_id
from tests.chain.ledger_machine import (
    SETTINGS,
    LedgerMachine,
    Opening,
    StakeModel,
    first_failure,
    run_ahead_of_the_clock,
    run_once_gas_estimates,
    signed,
)

PARAMS = MarketParams(
    min_stake_wei=ETHER,
    unstake_cooldown_s=300,
    attestation_slash_wei=ETHER // 2,
    ban_threshold_wei=ETHER,
    max_clock_skew_s=10,
    attestation_challenge_window_s=100,
    protocol_fee_bps=250,
    job_challenge_window_s=100,
    dispute_ruling_period_s=200,
    min_dispute_bond_wei=ETHER // 100,
    collateral_bps=15_000,  # 150 % of the price, rounded up
    client_compensation_bps=3_333,
)
BOND = PARAMS.min_dispute_bond_wei
HW_A = content_id({"kind": "hardware", "name": "jobs-cpu"})
HW_B = content_id({"kind": "hardware", "name": "jobs-gpu"})
METHOD = content_id({"kind": "method", "name": "baseline"})
RESULT = b"\x0b" * 32
OPEN, ASSIGNED, ACCEPTED = JobStatus.OPEN, JobStatus.ASSIGNED, JobStatus.ACCEPTED
SUBMITTED, DISPUTED = JobStatus.SUBMITTED, JobStatus.DISPUTED
FINALIZED, REFUNDED, CANCELLED = JobStatus.FINALIZED, JobStatus.REFUNDED, JobStatus.CANCELLED
LOCKED = {ACCEPTED, SUBMITTED, DISPUTED}  # the provider's collateral is locked

W3 = run_once_gas_estimates(connect())
ADMIN, TREASURY, OUTSIDER = Account.create(), Account.create(), Account.create()
CLIENTS = [Account.create() for _ in range(2)]
PROVIDERS = [Account.create() for _ in range(2)]
AGENTS = [Account.create() for _ in PROVIDERS]
for _a in (ADMIN, TREASURY, OUTSIDER, *CLIENTS, *PROVIDERS, *AGENTS):
    fund(W3, _a.address, 1000 * ETHER)
DEPLOYMENT = deploy_market(W3, ADMIN, treasury=TREASURY.address, params=PARAMS)
MARKET = Market.at(W3, DEPLOYMENT)
JM, REG = DEPLOYMENT.job_market, DEPLOYMENT.provider_registry
ACCOUNTS = [TREASURY, OUTSIDER, *CLIENTS, *PROVIDERS]

# Provider 0 serves two hardware profiles, provider 1 one; stakes of 2 and 1.5 ETH.
STAKES = [2 * ETHER, 3 * ETHER // 2]
RATES = {(0, HW_A): 10**9, (0, HW_B): 3 * 10**9, (1, HW_A): 10**9}  # wei per second
for _i, _p in enumerate(PROVIDERS):
    MARKET.registry.as_(_p).register(
        agent=AGENTS[_i],
        hardware_id=HW_A,
        price_per_second=RATES[(_i, HW_A)],
        metadata_uri="",
        stake_wei=STAKES[_i],
    )
MARKET.registry.as_(PROVIDERS[0]).add_hardware(HW_B, RATES[(0, HW_B)])
run_ahead_of_the_clock(W3)


def _create(client, escrow: int, runtime: int, deadline_in: int, allowed: str = NO_PROVIDER):
    return MARKET.jobs.as_(client).create_job(
        spec_hash=b"\x07" * 32,
        model_id=b"\x08" * 32,
        workload_id=b"\x09" * 32,
        max_runtime_s=runtime,
        deadline=W3.eth.get_block("pending")["timestamp"] + deadline_in,
        escrow_wei=escrow,
        allowed_provider=allowed,
    )


# Every run starts from this snapshot: one job in each open status (Open; Assigned to
# provider 1; Accepted by provider 0; Submitted by provider 1; Disputed with provider 0),
# and 0.3 ETH of provider 1's stake in cooldown.
for _k in range(5):
    _create(CLIENTS[_k % 2], ETHER // 2, 10**9, 400)
_OFFERS = {2: (1, ETHER // 5), 3: (0, 3 * ETHER // 10), 4: (1, ETHER // 10), 5: (0, ETHER // 5)}
for _job, (_i, _price) in _OFFERS.items():
    MARKET.jobs.as_(ADMIN).assign_job(_job, PROVIDERS[_i].address, HW_A, METHOD, _price)
    if _job >= 3:
        MARKET.jobs.as_(AGENTS[_i]).accept_job(_job, HW_A, METHOD, _price)
    if _job >= 4:
        MARKET.jobs.as_(AGENTS[_i]).submit_result(_job, RESULT)
MARKET.jobs.as_(CLIENTS[0]).dispute(5, BOND)
MARKET.registry.as_(PROVIDERS[1]).request_unstake(3 * ETHER // 10)
BASE = snapshot(W3)
INITIAL_JOBS = [MARKET.jobs.get_job(k) for k in range(1, 6)]
INITIAL_STAKES = [MARKET.registry.get_provider(p.address) for p in PROVIDERS]
OPENING = Opening.read(W3, [MARKET.jobs, MARKET.registry], ACCOUNTS)

providers = st.integers(0, len(PROVIDERS) - 1)


@dataclass
class ModelJob:
    client: str
    escrow: int
    deadline: int
    max_runtime: int
    allowed: str
    status: JobStatus = OPEN
    provider: int = -1  # index into PROVIDERS
    hardware_id: bytes = b""
    price: int = 0
    collateral: int = 0
    submitted_at: int = 0
    disputed_at: int = 0
    bond: int = 0

    @classmethod
    def from_chain(cls, info: JobInfo) -> ModelJob:
        """A run's starting point, read from the snapshot it starts from."""
        provider = next((i for i, p in enumerate(PROVIDERS) if p.address == info.provider), -1)
        return cls(
            info.client,
            info.escrow,
            info.deadline,
            info.max_runtime,
            info.allowed_provider,
            info.status,
            provider,
            info.hardware_id,
            info.price,
            info.collateral,
            info.submitted_at,
            info.disputed_at,
            info.dispute_bond,
        )

    def held(self) -> int:
        """What the job market holds for this job."""
        if self.status in (OPEN, ASSIGNED, ACCEPTED, SUBMITTED):
            return self.escrow
        return self.escrow + self.bond if self.status is DISPUTED else 0

    def matches(self, info: JobInfo) -> bool:
        provider = PROVIDERS[self.provider].address if self.provider >= 0 else NO_PROVIDER
        on_chain = (info.status, info.provider, info.price, info.collateral, info.dispute_bond)
        return on_chain == (self.status, provider, self.price, self.collateral, self.bond)


def _ceil_bps(amount: int, bps: int) -> int:
    return -(-amount * bps // 10_000)


class JobMarketMachine(LedgerMachine):
    w3 = W3

    @initialize()
    def fresh_chain(self) -> None:
        revert_to(W3, BASE)
        self.jobs = {i: ModelJob.from_chain(info) for i, info in enumerate(INITIAL_JOBS, 1)}
        self.stakes = [StakeModel.from_chain(info) for info in INITIAL_STAKES]
        self.paused = False
        self.touched_jobs: set[int] = set(self.jobs)
        self.touched_providers: set[int] = set(range(len(PROVIDERS)))
        self.reset_ledger(OPENING)

    # -- helpers

    def pick(self, data, *statuses: JobStatus) -> tuple[int, ModelJob]:
        """A job, most of the time one in ``statuses`` (where the call can succeed)."""
        fitting = sorted(i for i, j in self.jobs.items() if j.status in statuses)
        any_job = not fitting or data.draw(st.integers(0, 4), label="any job") == 0
        job_id = data.draw(st.sampled_from(sorted(self.jobs) if any_job else fitting), "job")
        self.touched_jobs.add(job_id)
        return job_id, self.jobs[job_id]

    def stake_of(self, i: int) -> StakeModel:
        self.touched_providers.add(i)
        return self.stakes[i]

    def client_of(self, job: ModelJob):
        return next(c for c in CLIENTS if c.address == job.client)

    def before_deadline(self, job: ModelJob) -> bool | None:
        return self.before(job.deadline)

    def settle_paid(self, job: ModelJob) -> None:
        fee = _ceil_bps(job.price, PARAMS.protocol_fee_bps)
        self.credit(JM, PROVIDERS[job.provider].address, job.price - fee)
        self.credit(JM, TREASURY.address, fee)
        self.credit(JM, job.client, job.escrow - job.price)
        self.stake_of(job.provider).reserved -= job.collateral
        job.status = FINALIZED

    def slash_collateral(self, job: ModelJob, client_gets: int) -> None:
        """Provider at fault or not delivered: the client gets ``client_gets`` plus its
        compensation out of the slashed collateral, the treasury the rest."""
        compensation = job.collateral * PARAMS.client_compensation_bps // 10_000
        self.credit(JM, job.client, client_gets + compensation)
        self.credit(JM, TREASURY.address, job.collateral - compensation)
        self.stake_of(job.provider).slash_lock(
            job.collateral, job.collateral, PARAMS.ban_threshold_wei
        )
        job.status = REFUNDED

    # -- clients

    @rule(data=st.data())
    def create(self, data) -> None:
        client = data.draw(st.sampled_from(CLIENTS), label="client")
        escrow = data.draw(st.integers(0, ETHER), label="escrow")
        runtime = data.draw(st.integers(1, 10**9), label="max_runtime")
        deadline_in = data.draw(st.integers(30, 600), label="deadline_in")
        allowed = data.draw(
            st.sampled_from([NO_PROVIDER, *(p.address for p in PROVIDERS)]), "allowed"
        )
        expected = first_failure((not self.paused, "EnforcedPause"), (escrow > 0, "NoEscrow"))
        receipt = self.attempt(
            expected, lambda: _create(client, escrow, runtime, deadline_in, allowed), escrow
        )
        if receipt:
            (created,) = MARKET.jobs._events("JobCreated", receipt)
            job_id, deadline = created["args"]["jobId"], created["args"]["deadline"]
            self.jobs[job_id] = ModelJob(client.address, escrow, deadline, runtime, allowed)
            self.touched_jobs.add(job_id)

    @rule(data=st.data(), by_client=st.booleans())
    def cancel(self, data, by_client: bool) -> None:
        job_id, job = self.pick(data, OPEN, ASSIGNED)
        caller = self.client_of(job) if by_client else OUTSIDER
        expected = first_failure(
            (by_client, "NotClient"), (job.status in (OPEN, ASSIGNED), "WrongStatus")
        )
        if self.attempt(expected, lambda: signed(MARKET.jobs, caller).cancel_job(job_id)):
            job.status = CANCELLED
            self.credit(JM, job.client, job.escrow)

    # -- matcher and provider

    @rule(data=st.data())
    def assign(self, data) -> None:
        job_id, job = self.pick(data, OPEN, ASSIGNED)
        i = data.draw(providers, label="provider")
        hardware_id = data.draw(st.sampled_from([HW_A, HW_B]), label="hardware")
        rate = RATES.get((i, hardware_id), 0)
        cap = min(job.escrow, rate * job.max_runtime) or job.escrow
        price = data.draw(st.integers(0, cap + cap // 4 + 1), label="price")
        provider = PROVIDERS[i].address
        m = self.stakes[i]
        expected = first_failure(
            (not self.paused, "EnforcedPause"),
            (job.status in (OPEN, ASSIGNED), "WrongStatus"),
            (self.before_deadline(job), "DeadlinePassed"),
            (price > 0, "ZeroPrice"),
            (price <= job.escrow, "PriceExceedsEscrow"),
            (job.allowed in (NO_PROVIDER, provider), "ProviderNotAllowed"),
            (m.active(PARAMS.min_stake_wei), "ProviderNotActive"),
            ((i, hardware_id) in RATES, "HardwareNotRegistered"),
            (price <= rate * job.max_runtime, "PriceAboveProviderRate"),
        )
        matcher = signed(MARKET.jobs, ADMIN)
        send = partial(matcher.assign_job, job_id, provider, hardware_id, METHOD, price)
        if self.attempt(expected, send):
            job.status, job.provider, job.hardware_id, job.price = ASSIGNED, i, hardware_id, price

    @rule(data=st.data())
    def accept(self, data) -> None:
        job_id, job = self.pick(data, ASSIGNED)
        who = data.draw(st.sampled_from(["agent", "provider", "outsider"]), label="caller")
        stale = data.draw(st.integers(0, 4), label="stale") == 0
        i = max(job.provider, 0)
        caller = {"agent": AGENTS[i], "provider": PROVIDERS[i], "outsider": OUTSIDER}[who]
        price = job.price + 1 if stale else job.price
        collateral = _ceil_bps(job.price, PARAMS.collateral_bps)
        m = self.stakes[i]
        expected = first_failure(
            (job.status is ASSIGNED, "WrongStatus"),
            (who != "outsider", "NotAssignedProvider"),
            (self.before_deadline(job), "DeadlinePassed"),
            (not stale, "OfferMismatch"),
            (not self.paused, "EnforcedPause"),
            (not m.banned, "ProviderIsBanned"),
            (m.stake >= PARAMS.min_stake_wei, "StakeBelowMinimum"),
            (collateral <= m.free(False, 0), "InsufficientStake"),
        )
        jobs = signed(MARKET.jobs, caller)
        send = partial(jobs.accept_job, job_id, job.hardware_id or HW_A, METHOD, price)
        if self.attempt(expected, send):
            job.status, job.collateral = ACCEPTED, collateral
            self.stake_of(i).reserved += collateral

    @rule(data=st.data())
    def submit(self, data) -> None:
        job_id, job = self.pick(data, ACCEPTED)
        who = data.draw(st.sampled_from(["agent", "provider", "outsider"]), label="caller")
        i = max(job.provider, 0)
        caller = {"agent": AGENTS[i], "provider": PROVIDERS[i], "outsider": OUTSIDER}[who]
        expected = first_failure(
            (job.status is ACCEPTED, "WrongStatus"),
            (who != "outsider", "NotAssignedProvider"),
            (self.before_deadline(job), "DeadlinePassed"),
        )
        jobs = signed(MARKET.jobs, caller)
        receipt = self.attempt(expected, lambda: jobs.submit_result(job_id, RESULT))
        if receipt:
            job.status, job.submitted_at = SUBMITTED, self.block_time(receipt)

    # -- settlement

    @rule(data=st.data())
    def finalize(self, data) -> None:
        job_id, job = self.pick(data, SUBMITTED)
        self.do_finalize(job_id, job)

    def do_finalize(self, job_id: int, job: ModelJob) -> None:
        window_end = job.submitted_at + PARAMS.job_challenge_window_s
        expected = first_failure(
            (job.status is SUBMITTED, "WrongStatus"),
            (self.after(window_end), "ChallengeWindowOpen"),
        )
        if self.attempt(expected, lambda: signed(MARKET.jobs, OUTSIDER).finalize(job_id)):
            self.settle_paid(job)

    @rule(data=st.data())
    def dispute(self, data) -> None:
        job_id, job = self.pick(data, SUBMITTED)
        bond = data.draw(st.sampled_from([BOND - 1, BOND, 3 * BOND + 1]), label="bond")
        by_client = data.draw(st.integers(0, 5), label="by_client") > 0
        caller = self.client_of(job) if by_client else OUTSIDER
        window_end = job.submitted_at + PARAMS.job_challenge_window_s
        expected = first_failure(
            (by_client, "NotClient"),
            (job.status is SUBMITTED, "WrongStatus"),
            (self.before(window_end, inclusive=False), "ChallengeWindowClosed"),
            (bond >= BOND, "BondTooSmall"),
        )
        jobs = signed(MARKET.jobs, caller)
        receipt = self.attempt(expected, lambda: jobs.dispute(job_id, bond), bond)
        if receipt:
            job.status, job.bond, job.disputed_at = DISPUTED, bond, self.block_time(receipt)

    @rule(data=st.data())
    def rule_on(self, data) -> None:
        """The arbiter rules (provider at fault or not) before the deadline; after it,
        anyone applies the default ruling."""
        job_id, job = self.pick(data, DISPUTED)
        ruling = data.draw(st.sampled_from(["at fault", "not at fault", "expired"]), "ruling")
        self.do_rule(job_id, job, ruling)

    def do_rule(self, job_id: int, job: ModelJob, ruling: str) -> None:
        deadline = job.disputed_at + PARAMS.dispute_ruling_period_s
        if ruling == "expired":
            timely = (self.after(deadline, inclusive=False), "RulingDeadlineNotPassed")
            send = partial(signed(MARKET.jobs, OUTSIDER).settle_expired_dispute, job_id)
        else:
            timely = (self.before(deadline), "RulingDeadlinePassed")
            arbiter = signed(MARKET.jobs, ADMIN)
            send = partial(arbiter.resolve_dispute, job_id, ruling == "at fault")
        expected = first_failure((job.status is DISPUTED, "WrongStatus"), timely)
        if not self.attempt(expected, send):
            return
        if ruling == "at fault":
            self.slash_collateral(job, job.escrow + job.bond)
        else:
            self.settle_paid(job)
            bond_to = PROVIDERS[job.provider].address if ruling != "expired" else job.client
            self.credit(JM, bond_to, job.bond)

    @rule(data=st.data())
    def refund(self, data) -> None:
        job_id, job = self.pick(data, OPEN, ASSIGNED, ACCEPTED)
        self.do_refund(job_id, job)

    def do_refund(self, job_id: int, job: ModelJob) -> None:
        expected = first_failure(
            (job.status in (OPEN, ASSIGNED, ACCEPTED), "WrongStatus"),
            (self.after(job.deadline, inclusive=False), "DeadlineNotPassed"),
        )
        receipt = self.attempt(expected, lambda: signed(MARKET.jobs, OUTSIDER).refund(job_id))
        if not receipt:
            return
        delivered = MARKET.jobs._events("NonDelivery", receipt)
        assert bool(delivered) == (job.status is ACCEPTED)
        if job.status is ACCEPTED:  # accepted and not delivered: the provider pays for it
            self.slash_collateral(job, job.escrow)
        else:
            job.status = REFUNDED
            self.credit(JM, job.client, job.escrow)

    # -- stake

    @rule(i=providers, amount=st.integers(1, 2 * ETHER))
    def request_unstake(self, i: int, amount: int) -> None:
        self.do_request_unstake(i, amount)

    def do_request_unstake(self, i: int, amount: int) -> None:
        m = self.stake_of(i)
        expected = first_failure(
            (m.pending == 0, "UnstakePending"),
            (amount <= m.free(False, 0), "InsufficientStake"),
        )
        registry = signed(MARKET.registry, PROVIDERS[i])
        receipt = self.attempt(expected, lambda: registry.request_unstake(amount))
        if receipt:
            m.stake -= amount
            m.pending = amount
            m.ready_at = self.block_time(receipt) + PARAMS.unstake_cooldown_s

    @rule(i=providers)
    def complete_unstake(self, i: int) -> None:
        self.do_complete_unstake(i)

    def do_complete_unstake(self, i: int) -> None:
        m = self.stake_of(i)
        expected = first_failure(
            (m.pending > 0, "ZeroAmount"),
            (self.after(m.ready_at), "CooldownNotOver"),
            (m.shortfall(False, 0) < m.pending, "UnstakeBlocked"),
        )
        registry = signed(MARKET.registry, PROVIDERS[i])
        if self.attempt(expected, registry.complete_unstake):
            self.credit(REG, PROVIDERS[i].address, m.complete_unstake(False, 0))

    @rule(i=providers, amount=st.integers(1, ETHER))
    def stake_more(self, i: int, amount: int) -> None:
        registry = signed(MARKET.registry, PROVIDERS[i])
        if self.attempt("", lambda: registry.add_stake(amount), amount):
            self.stake_of(i).stake += amount

    # -- admin, money out, time

    @rule(pause=st.booleans())
    def pause_or_unpause(self, pause: bool) -> None:
        registry = signed(MARKET.registry, ADMIN)
        if pause:
            expected = first_failure((not self.paused, "EnforcedPause"))
            ok = self.attempt(expected, registry.pause)
        else:
            expected = first_failure((self.paused, "ExpectedPause"))
            ok = self.attempt(expected, registry.unpause)
        if ok:
            self.paused = pause

    @rule(account=st.sampled_from(ACCOUNTS), registry=st.booleans())
    def withdraw(self, account, registry: bool) -> None:
        self.withdraw_and_check(MARKET.registry if registry else MARKET.jobs, account)

    @rule(seconds=st.integers(1, 300))
    def wait(self, seconds: int) -> None:
        advance_time(W3, seconds)

    # -- invariants

    @invariant()
    def touched_jobs_and_stakes_match_the_model(self) -> None:
        if not hasattr(self, "jobs"):
            return
        for job_id in self.touched_jobs:
            job, info = self.jobs[job_id], MARKET.jobs.get_job(job_id)
            assert job.matches(info), f"job {job_id}: chain {info}, model {job}"
        for i in self.touched_providers:
            m = self.stakes[i]
            m.assert_matches(MARKET.registry.get_provider(PROVIDERS[i].address))
            collateral = [j.collateral for j in self.jobs.values() if j.provider == i]
            statuses = [j.status for j in self.jobs.values() if j.provider == i]
            assert m.reserved == sum(
                c for c, s in zip(collateral, statuses, strict=True) if s in LOCKED
            )
        self.touched_jobs, self.touched_providers = set(), set()

    @invariant()
    def balances_are_what_the_model_holds(self) -> None:
        if not hasattr(self, "jobs"):
            return
        self.check_withdrawable()
        self.assert_balance(JM, sum(j.held() for j in self.jobs.values()))
        self.assert_balance(REG, sum(m.stake + m.pending for m in self.stakes))

    # -- end of a run

    def settle_everything(self) -> None:
        """Reopen the market, settle every job through the permissionless paths, unstake."""
        if self.paused:
            signed(MARKET.registry, ADMIN).unpause()
            self.paused = False
        last = max(
            [j.deadline for j in self.jobs.values()]
            + [j.disputed_at + PARAMS.dispute_ruling_period_s for j in self.jobs.values()]
        )
        advance_time(W3, max(0, last - self.now()) + PARAMS.job_challenge_window_s + 10)
        for job_id, job in self.jobs.items():
            if job.status in (OPEN, ASSIGNED, ACCEPTED):
                self.do_refund(job_id, job)
            elif job.status is SUBMITTED:
                self.do_finalize(job_id, job)
            elif job.status is DISPUTED:
                self.do_rule(job_id, job, "expired")
            assert job.status in (FINALIZED, REFUNDED, CANCELLED)
        for i, m in enumerate(self.stakes):
            if m.pending:
                advance_time(W3, max(1, m.ready_at - self.now() + 1))
                self.do_complete_unstake(i)
            if m.stake:
                self.do_request_unstake(i, m.stake)
        advance_time(W3, PARAMS.unstake_cooldown_s + 10)
        for i, m in enumerate(self.stakes):
            if m.pending:
                self.do_complete_unstake(i)
        self.touched_jobs, self.touched_providers = set(self.jobs), {0, 1}
        self.touched_jobs_and_stakes_match_the_model()


JobMarketMachine.TestCase.settings = SETTINGS
TestJobMarketProperties = JobMarketMachine.TestCase
