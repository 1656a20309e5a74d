"""Settlement: moving jobs and cases along once their clocks run out.

Anyone may call these on chain; the backend does so for everybody so that no provider
waits for its pay and no client for its refund. Each action re-reads the chain first and
acts only when the contract will accept it, so running this twice (or beside another
settler) does nothing twice; a revert because somebody else was faster is not an error.

- a submitted job past its challenge window is finalized (the provider is paid);
- an open, assigned or accepted job past its deadline is refunded (non-delivery slashes an
  accepted job's collateral);
- a dispute or a challenge past its ruling deadline gets its default ruling.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import ChallengeRow, JobRow
from chain.clients import ChallengeStatus, JobStatus, Market
from chain.errors import ContractRevert

log = logging.getLogger(__name__)


@dataclass
class SettleReport:
    finalized: list[int] = field(default_factory=list)
    refunded: list[int] = field(default_factory=list)
    disputes_expired: list[int] = field(default_factory=list)
    challenges_expired: list[int] = field(default_factory=list)

    def total(self) -> int:
        return sum(
            len(x)
            for x in (
                self.finalized,
                self.refunded,
                self.disputes_expired,
                self.challenges_expired,
            )
        )


def _try(action: str, fn, *args) -> bool:  # noqa: ANN001 - a client method
    try:
        fn(*args)
        return True
    except ContractRevert as exc:  # another settler was faster, or the chain moved on
        log.info("%s%s not applied: %s", action, args, exc)
        return False


def _settle_job(market: Market, job_id: int, now: int, report: SettleReport) -> None:
    job = market.jobs.get_job(job_id)
    window = market.jobs.contract.functions.challengeWindow().call()
    ruling = market.jobs.contract.functions.rulingPeriod().call()
    due = {
        "finalize": job.status is JobStatus.SUBMITTED and now >= job.submitted_at + window,
        "refund": job.status in (JobStatus.OPEN, JobStatus.ASSIGNED, JobStatus.ACCEPTED)
        and now > job.deadline,
        "settle_expired_dispute": job.status is JobStatus.DISPUTED
        and now > job.disputed_at + ruling,
    }
    done = {
        "finalize": report.finalized,
        "refund": report.refunded,
        "settle_expired_dispute": report.disputes_expired,
    }
    for action, is_due in due.items():
        if is_due and _try(action, getattr(market.jobs, action), job_id):
            done[action].append(job_id)


def settle_due(session: Session, market: Market, chain_id: int) -> SettleReport:
    """Apply every settlement whose time has come (``market`` must be bound to a signer)."""
    now = market.jobs.w3.eth.get_block("latest")["timestamp"]
    report = SettleReport()
    pending = ("open", "assigned", "accepted", "submitted", "disputed")
    jobs = session.scalars(
        select(JobRow.job_id).where(JobRow.chain_id == chain_id, JobRow.status.in_(pending))
    ).all()
    for job_id in jobs:
        _settle_job(market, job_id, now, report)
    ruling = market.attestations.contract.functions.rulingPeriod().call()
    cases = session.scalars(
        select(ChallengeRow.challenge_id).where(
            ChallengeRow.chain_id == chain_id, ChallengeRow.status == "open"
        )
    ).all()
    for challenge_id in cases:
        case = market.attestations.get_challenge(challenge_id)
        if case.status is ChallengeStatus.OPEN and now > case.opened_at + ruling:
            settle = market.attestations.settle_expired_challenge
            if _try("settle_expired_challenge", settle, challenge_id):
                report.challenges_expired.append(challenge_id)
    return report
