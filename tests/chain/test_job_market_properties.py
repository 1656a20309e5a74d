"""Model-based property test of JobMarket's money paths on the in-process EVM.

Hypothesis drives random sequences of job operations (including ones that must revert).
A plain-Python model predicts which calls succeed and what every account is owed; after
each step the contract must agree with it, and its balance must equal the escrow of
unsettled jobs plus everything not yet withdrawn.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule

from chain.clients import JobStatus, Market
from chain.connection import advance_time, connect, fund, revert_to, snapshot
from chain.deploy import ETHER, MarketParams, deploy_market
from tests.chain.ledger_machine import SETTINGS, LedgerMachine

PARAMS = MarketParams(min_stake_wei=ETHER, job_challenge_window_s=100, protocol_fee_bps=250)
UNSETTLED = {JobStatus.OPEN, JobStatus.ASSIGNED, JobStatus.SUBMITTED, JobStatus.DISPUTED}

W3 = connect()
ADMIN, TREASURY = Account.create(), Account.create()
CLIENTS = [Account.create() for _ in range(2)]
PROVIDERS = [Account.create() for _ in range(2)]
OUTSIDER = Account.create()
for _acct in (ADMIN, TREASURY, *CLIENTS, *PROVIDERS, OUTSIDER):
    fund(W3, _acct.address, 1000 * ETHER)
DEPLOYMENT = deploy_market(W3, ADMIN, treasury=TREASURY.address, params=PARAMS)
MARKET = Market.at(W3, DEPLOYMENT)
for _p in PROVIDERS:
    MARKET.registry.as_(_p).register(
        agent=_p.address,
        hardware_id=b"\x01" * 32,
        price_per_second=1,
        metadata_uri="",
        stake_wei=3 * ETHER,
    )
BASE = snapshot(W3)
EVERYONE = [TREASURY, *CLIENTS, *PROVIDERS, OUTSIDER]


@dataclass
class ModelJob:
    client: str
    escrow: int
    deadline: int
    status: JobStatus = JobStatus.OPEN
    provider: str = ""
    price: int = 0
    submitted_at: int = 0


class JobMarketMachine(LedgerMachine):
    w3 = W3

    @initialize()
    def fresh_chain(self) -> None:
        revert_to(W3, BASE)
        self.jobs: dict[int, ModelJob] = {}
        self.reset_ledger(EVERYONE)
        self.slashed: set[str] = set()

    # -- helpers
    def pick(self, data: st.DataObject) -> tuple[int, ModelJob]:
        job_id = data.draw(st.sampled_from(sorted(self.jobs)))
        return job_id, self.jobs[job_id]

    # -- rules
    @rule(
        client=st.sampled_from(CLIENTS),
        escrow=st.integers(1, ETHER),
        deadline_in=st.integers(20, 400),
    )
    def create(self, client, escrow: int, deadline_in: int) -> None:
        deadline = self.now() + deadline_in
        receipt = MARKET.jobs.as_(client).create_job(
            spec_hash=b"\x07" * 32,
            model_id=b"\x08" * 32,
            workload_id=b"\x09" * 32,
            deadline=deadline,
            escrow_wei=escrow,
        )
        self.jobs[MARKET.jobs.created_job_id(receipt)] = ModelJob(client.address, escrow, deadline)

    @precondition(lambda self: self.jobs)
    @rule(data=st.data(), by_client=st.booleans())
    def cancel(self, data, by_client: bool) -> None:
        job_id, job = self.pick(data)
        caller = next(c for c in CLIENTS if c.address == job.client) if by_client else OUTSIDER
        ok = self.attempt(
            by_client and job.status is JobStatus.OPEN,
            lambda: MARKET.jobs.as_(caller).cancel_job(job_id),
        )
        if ok:
            job.status = JobStatus.CANCELLED
            self.owed[job.client] += job.escrow

    @precondition(lambda self: self.jobs)
    @rule(data=st.data(), provider=st.sampled_from(PROVIDERS), fraction=st.floats(0.0, 1.5))
    def assign(self, data, provider, fraction: float) -> None:
        job_id, job = self.pick(data)
        price = int(job.escrow * fraction)
        expected = self.expect_before(
            job.status is JobStatus.OPEN
            and 0 < price <= job.escrow
            and provider.address not in self.slashed,
            job.deadline,
        )
        ok = self.attempt(
            expected,
            lambda: MARKET.jobs.as_(ADMIN).assign_job(
                job_id, provider.address, b"\x0a" * 32, price
            ),
        )
        if ok:
            job.status, job.provider, job.price = JobStatus.ASSIGNED, provider.address, price

    @precondition(lambda self: self.jobs)
    @rule(data=st.data(), by_provider=st.booleans())
    def submit(self, data, by_provider: bool) -> None:
        job_id, job = self.pick(data)
        caller = (
            next((p for p in PROVIDERS if p.address == job.provider), OUTSIDER)
            if by_provider
            else OUTSIDER
        )
        expected = self.expect_before(
            job.status is JobStatus.ASSIGNED and caller.address == job.provider, job.deadline
        )
        ok = self.attempt(
            expected, lambda: MARKET.jobs.as_(caller).submit_result(job_id, b"\x0b" * 32)
        )
        if ok:
            job.status = JobStatus.SUBMITTED
            job.submitted_at = MARKET.jobs.get_job(job_id).submitted_at

    def _settle_paid(self, job: ModelJob) -> None:
        fee = job.price * PARAMS.protocol_fee_bps // 10_000
        self.owed[job.provider] += job.price - fee
        self.owed[TREASURY.address] += fee
        self.owed[job.client] += job.escrow - job.price
        job.status = JobStatus.FINALIZED

    @precondition(lambda self: self.jobs)
    @rule(data=st.data())
    def finalize(self, data) -> None:
        job_id, job = self.pick(data)
        ends = job.submitted_at + PARAMS.job_challenge_window_s
        expected = self.expect_after(job.status is JobStatus.SUBMITTED, ends)
        if self.attempt(expected, lambda: MARKET.jobs.as_(OUTSIDER).finalize(job_id)):
            self._settle_paid(job)

    @precondition(lambda self: self.jobs)
    @rule(data=st.data())
    def dispute(self, data) -> None:
        job_id, job = self.pick(data)
        client = next(c for c in CLIENTS if c.address == job.client)
        ends = job.submitted_at + PARAMS.job_challenge_window_s
        expected = self.expect_before(job.status is JobStatus.SUBMITTED, ends, inclusive=False)
        if self.attempt(expected, lambda: MARKET.jobs.as_(client).dispute(job_id)):
            job.status = JobStatus.DISPUTED

    @precondition(lambda self: self.jobs)
    @rule(data=st.data(), at_fault=st.booleans())
    def resolve(self, data, at_fault: bool) -> None:
        job_id, job = self.pick(data)
        ok = self.attempt(
            job.status is JobStatus.DISPUTED,
            lambda: MARKET.jobs.as_(ADMIN).resolve_dispute(job_id, at_fault),
        )
        if not ok:
            return
        if at_fault:
            job.status = JobStatus.REFUNDED
            self.owed[job.client] += job.escrow
            self.slashed.add(job.provider)
        else:
            self._settle_paid(job)

    @precondition(lambda self: self.jobs)
    @rule(data=st.data())
    def refund(self, data) -> None:
        job_id, job = self.pick(data)
        expected = self.expect_after(
            job.status in (JobStatus.OPEN, JobStatus.ASSIGNED), job.deadline + 1
        )
        if self.attempt(expected, lambda: MARKET.jobs.as_(OUTSIDER).refund(job_id)):
            job.status = JobStatus.REFUNDED
            self.owed[job.client] += job.escrow

    @rule(account=st.sampled_from(EVERYONE))
    def withdraw(self, account) -> None:
        self.withdraw_and_check(MARKET.jobs, account)

    @rule(seconds=st.integers(1, 250))
    def wait(self, seconds: int) -> None:
        advance_time(W3, seconds)

    # -- invariants
    @invariant()
    def statuses_match(self) -> None:
        for job_id, job in getattr(self, "jobs", {}).items():
            assert MARKET.jobs.get_job(job_id).status is job.status

    @invariant()
    def balance_is_escrow_plus_unwithdrawn(self) -> None:
        if not hasattr(self, "jobs"):
            return
        escrow = sum(j.escrow for j in self.jobs.values() if j.status in UNSETTLED)
        unwithdrawn = 0
        for account in EVERYONE:
            on_chain = MARKET.jobs.withdrawable(account.address)
            assert on_chain == self.due(account.address)
            unwithdrawn += on_chain
        assert W3.eth.get_balance(DEPLOYMENT.job_market) == escrow + unwithdrawn


JobMarketMachine.TestCase.settings = SETTINGS
TestJobMarketProperties = JobMarketMachine.TestCase
