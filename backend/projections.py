"""Typed rows derived from stored chain events: attestations, jobs, providers, challenges.

Each handler receives a freshly inserted :class:`~backend.db.ChainEvent`, in chain order,
inside the indexing transaction. Rows that one event creates (an attestation, a job, a
challenge) reference it, so a reorg rollback deletes them with it; state that later events
update (a job's status, a provider's stake) is recomputed after a rollback
(:func:`refresh_after_rollback`) from the events that remain and from the chain.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.db import AttestationRow, ChainEvent, ChallengeRow, JobRow, ProviderRow, utcnow
from chain.clients import Market

Handler = Callable[[Session, ChainEvent, Market], None]
HANDLERS: dict[tuple[str, str], Handler] = {}


def handles(contract: str, *names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            HANDLERS[(contract, name)] = fn
        return fn

    return register


def project(session: Session, event: ChainEvent, market: Market) -> None:
    handler = HANDLERS.get((event.contract, event.name))
    if handler is not None:
        handler(session, event, market)


# ------------------------------------------------------------------------- attestations


@handles("AttestationRegistry", "Attested")
def _attested(session: Session, event: ChainEvent, market: Market) -> None:
    m, a = event.args["measurement"], event.args
    session.add(
        AttestationRow(
            event_id=event.id,
            chain_id=event.chain_id,
            provider=a["provider"],
            nonce=a["nonce"],
            hardware_id=m["hardwareId"],
            model_id=m["modelId"],
            workload_id=m["workloadId"],
            method_id=m["methodId"],
            tokens_per_s_x1000=m["tokensPerSecX1000"],
            ttft_p50_us=m["ttftP50Us"],
            tpot_p50_us=m["tpotP50Us"],
            peak_mem_bytes=m["peakMemBytes"],
            report_hash=m["reportHash"],
            timestamp=a["timestamp"],
        )
    )


@handles("AttestationRegistry", "ChallengeOpened")
def _challenge_opened(session: Session, event: ChainEvent, market: Market) -> None:
    a = event.args
    session.add(
        ChallengeRow(
            event_id=event.id,
            chain_id=event.chain_id,
            challenge_id=a["challengeId"],
            provider=a["provider"],
            claim_hash=a["claimHash"],
        )
    )
    session.flush()


_OUTCOMES = {2: "upheld", 3: "rejected", 4: "expired"}


@handles("AttestationRegistry", "ChallengeResolved")
def _challenge_resolved(session: Session, event: ChainEvent, market: Market) -> None:
    a = event.args
    row = session.scalar(
        select(ChallengeRow).where(
            ChallengeRow.chain_id == event.chain_id, ChallengeRow.challenge_id == a["challengeId"]
        )
    )
    if row is None:
        return
    row.status = _OUTCOMES.get(a["outcome"], "resolved")
    row.slashed_wei = a["slashed"]
    if row.status == "upheld":
        session.execute(
            update(AttestationRow)
            .where(
                AttestationRow.chain_id == event.chain_id,
                AttestationRow.claim_hash == row.claim_hash,
            )
            .values(challenge_upheld=True)
        )


# ------------------------------------------------------------------------------- jobs

JOB_STATUS_OF_EVENT = {
    "JobCreated": "open",
    "JobAssigned": "assigned",
    "JobAccepted": "accepted",
    "ResultSubmitted": "submitted",
    "JobDisputed": "disputed",
    "JobFinalized": "finalized",
    "DisputeExpired": "finalized",
    "JobRefunded": "refunded",
    "NonDelivery": "refunded",
    "JobCancelled": "cancelled",
}


def _job(session: Session, chain_id: int, job_id: int) -> JobRow | None:
    return session.scalar(
        select(JobRow).where(JobRow.chain_id == chain_id, JobRow.job_id == job_id)
    )


@handles("JobMarket", "JobCreated")
def _job_created(session: Session, event: ChainEvent, market: Market) -> None:
    a = event.args
    allowed = a["allowedProvider"]
    session.add(
        JobRow(
            event_id=event.id,
            chain_id=event.chain_id,
            job_id=a["jobId"],
            client=a["client"],
            spec_hash=a["specHash"],
            model_id=a["modelId"],
            workload_id=a["workloadId"],
            escrow_wei=a["escrow"],
            max_runtime_s=a["maxRuntime"],
            allowed_provider=None if int(allowed, 16) == 0 else allowed,
            deadline=a["deadline"],
            status="open",
        )
    )
    session.flush()


def apply_job_event(job: JobRow, name: str, args: dict) -> None:
    """Fold one job event into the row (also used to replay after a rollback)."""
    if name == "JobAssigned":
        job.provider, job.hardware_id = args["provider"], args["hardwareId"]
        job.method_id, job.price_wei = args["methodId"], args["price"]
    elif name == "ResultSubmitted":
        job.result_hash = args["resultHash"]
    elif name == "DisputeResolved":
        job.status = "refunded" if args["providerAtFault"] else "finalized"
        return
    if name in JOB_STATUS_OF_EVENT:
        job.status = JOB_STATUS_OF_EVENT[name]


@handles("JobMarket", *[n for n in JOB_STATUS_OF_EVENT if n != "JobCreated"], "DisputeResolved")
def _job_changed(session: Session, event: ChainEvent, market: Market) -> None:
    job = _job(session, event.chain_id, event.args["jobId"])
    if job is not None:
        apply_job_event(job, event.name, event.args)


# -------------------------------------------------------------------------- providers


def refresh_provider(session: Session, chain_id: int, address: str, market: Market) -> None:
    """Re-read a provider's stake and agent from the chain; hardware from its events."""
    info = market.registry.get_provider(address)
    prices: dict[str, int] = {}
    names = ("HardwareAdded", "HardwareRemoved", "PriceChanged")
    for e in _events(session, chain_id, "ProviderRegistry", names):
        if e.args["provider"] != address:
            continue
        if e.name == "HardwareRemoved":
            prices.pop(e.args["hardwareId"], None)
        else:
            prices[e.args["hardwareId"]] = int(e.args["pricePerSecond"])
    row = session.scalar(
        select(ProviderRow).where(ProviderRow.chain_id == chain_id, ProviderRow.address == address)
    )
    if row is None:
        row = ProviderRow(chain_id=chain_id, address=address)
        session.add(row)
    row.agent = info.agent
    row.hardware_ids = list(prices)
    row.hardware_prices = {hw: str(p) for hw, p in prices.items()}
    row.price_per_second_wei = next(iter(prices.values()), 0)
    row.stake_wei = info.stake
    row.free_stake_wei = market.registry.free_stake(address)
    row.active = info.registered and not info.banned and market.registry.is_active(address)
    row.slashed = info.slashed_total > 0
    row.metadata_uri = info.metadata_uri
    row.updated_at = utcnow()
    session.flush()


_PROVIDER_EVENTS = (
    "ProviderRegistered",
    "AgentChanged",
    "HardwareAdded",
    "HardwareRemoved",
    "PriceChanged",
    "MetadataChanged",
    "StakeAdded",
    "UnstakeRequested",
    "UnstakeCompleted",
    "StakeLocked",
    "StakeUnlocked",
    "Slashed",
    "ProviderBanned",
)


@handles("ProviderRegistry", *_PROVIDER_EVENTS)
def _provider_changed(session: Session, event: ChainEvent, market: Market) -> None:
    refresh_provider(session, event.chain_id, event.args["provider"], market)


# --------------------------------------------------------------------------- rollback


def _events(session: Session, chain_id: int, contract: str, names: tuple[str, ...]):  # noqa: ANN202
    return session.scalars(
        select(ChainEvent)
        .where(
            ChainEvent.chain_id == chain_id,
            ChainEvent.contract == contract,
            ChainEvent.name.in_(names),
        )
        .order_by(ChainEvent.block_number, ChainEvent.log_index)
    )


def refresh_after_rollback(session: Session, chain_id: int, market: Market) -> None:
    """Recompute what later events had updated, from the events a rollback left."""
    jobs = {j.job_id: j for j in session.scalars(select(JobRow).where(JobRow.chain_id == chain_id))}
    for job in jobs.values():
        job.status, job.provider, job.hardware_id = "open", None, None
        job.method_id, job.price_wei, job.result_hash = None, None, None
    names = (*JOB_STATUS_OF_EVENT, "DisputeResolved")
    for e in _events(session, chain_id, "JobMarket", names):
        if e.args.get("jobId") in jobs:
            apply_job_event(jobs[e.args["jobId"]], e.name, e.args)
    session.execute(
        update(ChallengeRow).where(ChallengeRow.chain_id == chain_id).values(status="open")
    )
    session.execute(
        update(AttestationRow)
        .where(AttestationRow.chain_id == chain_id)
        .values(challenge_upheld=False)
    )
    for e in _events(session, chain_id, "AttestationRegistry", ("ChallengeResolved",)):
        _challenge_resolved(session, e, market)
    for row in session.scalars(select(ProviderRow).where(ProviderRow.chain_id == chain_id)):
        refresh_provider(session, chain_id, row.address, market)
