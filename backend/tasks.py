"""The backend's Celery tasks: small, idempotent, and given ids, never objects.

Delivery is at-least-once, so each task re-reads its state and does nothing twice:
indexing inserts an event once (unique position), verification overwrites the same
verdict, matching writes one decision per job and re-checks the job on chain before it
assigns, settlement re-reads the chain before acting. Transient failures (a node or the
database away for a moment) are retried with exponential backoff.
"""

from __future__ import annotations

import logging

from celery import shared_task
from sqlalchemy import select

from backend.chainctx import MarketContext, market_context
from backend.config import BackendConfig
from backend.db import AttestationRow, ChainEvent, session_scope
from backend.indexer import index_step

log = logging.getLogger(__name__)

RETRY = {
    "autoretry_for": (ConnectionError, OSError, TimeoutError),
    "retry_backoff": True,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 8,
    "acks_late": True,
}
MAX_STEPS_PER_RUN = 20


def _ctx(task) -> MarketContext:  # noqa: ANN001 - a bound Celery task
    config = getattr(task.app.conf, "metainf", None) or BackendConfig.from_settings()
    return market_context(config)


@shared_task(bind=True, name="backend.index_chain", **RETRY)
def index_chain(self) -> dict:  # noqa: ANN001
    """Index up to head - confirmations, then hand new work to the follow-up tasks."""
    from backend.events import EventSource

    ctx = _ctx(self)
    source = EventSource(ctx.w3, ctx.market)
    attest_txs: set[str] = set()
    jobs: list[int] = []
    indexed = 0
    for _ in range(MAX_STEPS_PER_RUN):
        with session_scope(ctx.config.database_url) as session:
            step = index_step(
                session,
                source,
                start_block=ctx.deployment.block_number,
                confirmations=ctx.config.confirmations,
            )
            for e in step.new_events:
                if e.name == "Attested":
                    attest_txs.add(e.tx_hash)
                elif e.name == "JobCreated":
                    jobs.append(e.args["jobId"])
            indexed += len(step.new_events)
        if step.to_block >= step.head - ctx.config.confirmations:
            break
    # after the commit, so that the follow-ups find the rows
    for tx_hash in sorted(attest_txs):
        verify_attestations.delay(tx_hash)
    for job_id in jobs:
        match_job.delay(job_id)
    return {"events": indexed, "to_block": step.to_block, "lag": step.lag_blocks}


@shared_task(bind=True, name="backend.verify_attestations", **RETRY)
def verify_attestations(self, tx_hash: str) -> dict:  # noqa: ANN001
    """Re-verify the signer and the reports of one attestation transaction."""
    from backend.verify import check_report, verify_transaction

    ctx = _ctx(self)
    with session_scope(ctx.config.database_url) as session:
        n = verify_transaction(session, ctx.market, ctx.chain_id, tx_hash)
        rows = session.scalars(
            select(AttestationRow)
            .join(ChainEvent, AttestationRow.event_id == ChainEvent.id)
            .where(ChainEvent.chain_id == ctx.chain_id, ChainEvent.tx_hash == tx_hash)
        ).all()
        reports = [check_report(session, ctx.store, row) for row in rows]
    return {"attestations": n, "reports_ok": sum(r is True for r in reports)}


@shared_task(bind=True, name="backend.sweep", **RETRY)
def sweep(self) -> dict:  # noqa: ANN001
    """Re-enqueue work a lost message left undone: unverified attestation transactions,
    open jobs without a decision, and open jobs decided for a provider whose ``assignJob``
    was never recorded (a worker died, or the send failed, between the decision and the
    transaction; the matcher re-checks the job on chain first). All three are idempotent."""
    from backend.db import JobRow, MatchDecision

    ctx = _ctx(self)
    with session_scope(ctx.config.database_url) as session:
        txs = session.scalars(
            select(ChainEvent.tx_hash)
            .join(AttestationRow, AttestationRow.event_id == ChainEvent.id)
            .where(ChainEvent.chain_id == ctx.chain_id, AttestationRow.signature_ok.is_(None))
            .distinct()
        ).all()
        decided = select(MatchDecision.job_id).where(MatchDecision.chain_id == ctx.chain_id)
        unsent = decided.where(MatchDecision.provider.is_not(None), MatchDecision.tx_hash.is_(None))
        jobs = session.scalars(
            select(JobRow.job_id).where(
                JobRow.chain_id == ctx.chain_id,
                JobRow.status == "open",
                JobRow.job_id.not_in(decided)
                | (JobRow.job_id.in_(unsent) & JobRow.unmatched_reason.is_(None)),
            )
        ).all()
    for tx_hash in txs:
        verify_attestations.delay(tx_hash)
    for job_id in jobs:
        match_job.delay(job_id)
    return {"verify": len(txs), "match": len(jobs)}


@shared_task(bind=True, name="backend.recheck_reports", **RETRY)
def recheck_reports(self) -> int:  # noqa: ANN001
    from backend.verify import recheck_reports as recheck

    ctx = _ctx(self)
    with session_scope(ctx.config.database_url) as session:
        return recheck(session, ctx.store, ctx.chain_id)


@shared_task(bind=True, name="backend.match_job", **RETRY)
def match_job(self, job_id: int) -> dict:  # noqa: ANN001
    """Choose a provider and method for a new job and offer it on chain (once)."""
    from backend.matcher import match_and_assign

    ctx = _ctx(self)
    return match_and_assign(ctx, job_id).to_dict()


@shared_task(bind=True, name="backend.settle_jobs", **RETRY)
def settle_jobs(self) -> dict:  # noqa: ANN001
    from backend.settlement import settle_due

    ctx = _ctx(self)
    with session_scope(ctx.config.database_url) as session:
        report = settle_due(session, ctx.signed, ctx.chain_id)
    return {"settled": report.total()}


@shared_task(bind=True, name="backend.train_selector", **RETRY)
def train_selector(self) -> dict:  # noqa: ANN001
    from backend.trainer import train_if_due

    ctx = _ctx(self)
    with session_scope(ctx.config.database_url) as session:
        outcome = train_if_due(
            session,
            ctx.store,
            min_new_cells=ctx.config.train_min_new_cells,
            holdout_fraction=ctx.config.holdout_fraction,
            code_version=ctx.config.code_version,
        )
    return {"status": outcome.status, "version": outcome.version, "reason": outcome.reason}
