"""Read-only views of the market: jobs (with the matcher's decision), providers, attestations.

Everything here is public chain data as the indexer stored it. Lists are paginated
(``limit`` at most ``METAINF_API_PAGE_LIMIT``, newest jobs first, otherwise by id).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from backend.api.schemas import (
    INT63_MAX,
    AttestationPage,
    AttestationView,
    DecisionView,
    Error,
    JobPage,
    JobView,
    ProviderPage,
    ProviderView,
)
from backend.api.state import ApiState
from backend.db import AttestationRow, ChainEvent, JobRow, MatchDecision, ProviderRow, session_scope

MAX_OFFSET = 10**9
AddressQ = Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$")]
HashQ = Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{64}$")]
ChainQ = Annotated[int | None, Query(ge=0, le=INT63_MAX, description="chain id")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": Error}, 409: {"model": Error}}


def _wei(value: Any) -> str | None:
    return None if value is None else str(int(value))


def _address_forms(address: str) -> list[str]:
    """The stored spelling is checksummed or lower case: match either."""
    from eth_utils import to_checksum_address

    return [to_checksum_address(address), address.lower()]


def _decision(row: MatchDecision | None) -> DecisionView | None:
    if row is None:
        return None
    return DecisionView(
        model_version=row.model_version,
        provider=row.provider,
        method_id=row.method_id,
        price_wei=_wei(row.price_wei),
        reason=row.reason,
        tx_hash=row.tx_hash,
        decided_at=row.decided_at,
        candidates=[c if isinstance(c, dict) else {"value": c} for c in row.candidates or []],
    )


def job_view(job: JobRow, decision: MatchDecision | None) -> JobView:
    return JobView(
        chain_id=job.chain_id,
        job_id=job.job_id,
        client=job.client,
        spec_hash=job.spec_hash,
        model_id=job.model_id,
        workload_id=job.workload_id,
        escrow_wei=_wei(job.escrow_wei),
        deadline=job.deadline,
        max_runtime_s=job.max_runtime_s or 0,
        allowed_provider=job.allowed_provider,
        status=job.status,
        provider=job.provider,
        hardware_id=job.hardware_id,
        method_id=job.method_id,
        price_wei=_wei(job.price_wei),
        result_hash=job.result_hash,
        unmatched_reason=job.unmatched_reason,
        decision=_decision(decision),
    )


def _decisions(session: Session, jobs: list[JobRow]) -> dict[tuple[int, int], MatchDecision]:
    if not jobs:
        return {}
    rows = session.scalars(
        select(MatchDecision).where(MatchDecision.job_id.in_({j.job_id for j in jobs}))
    )
    return {(d.chain_id, d.job_id): d for d in rows}


def _page(session: Session, query: Select, limit: int, offset: int) -> tuple[int, list[Any]]:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return total or 0, list(session.execute(query.limit(limit).offset(offset)))


def _attestation_view(att: AttestationRow, block: int | None, tx: str | None) -> AttestationView:
    return AttestationView(
        id=att.id,
        chain_id=att.chain_id,
        block_number=block,
        tx_hash=tx,
        provider=att.provider,
        nonce=att.nonce,
        batch_index=att.batch_index,
        hardware_id=att.hardware_id,
        model_id=att.model_id,
        workload_id=att.workload_id,
        method_id=att.method_id,
        tokens_per_s_x1000=int(att.tokens_per_s_x1000),
        ttft_p50_us=int(att.ttft_p50_us),
        tpot_p50_us=int(att.tpot_p50_us),
        peak_mem_bytes=int(att.peak_mem_bytes),
        report_hash=att.report_hash,
        timestamp=att.timestamp,
        signer=att.signer,
        signature_ok=att.signature_ok,
        report_ok=att.report_ok,
        problem=att.problem,
    )


def _attestation_query(filters: dict[str, str | None], provider: str | None) -> Select:
    query = select(AttestationRow, ChainEvent.block_number, ChainEvent.tx_hash).outerjoin(
        ChainEvent, ChainEvent.id == AttestationRow.event_id
    )
    if provider:
        query = query.where(AttestationRow.provider.in_(_address_forms(provider)))
    for column, value in filters.items():
        if value:
            query = query.where(getattr(AttestationRow, column) == value.lower())
    return query.order_by(AttestationRow.id)


def market_router(state: ApiState) -> APIRouter:
    router = APIRouter()
    max_limit = state.page_limit

    @router.get("/jobs/{job_id}", response_model=JobView, responses=NOT_FOUND, tags=["jobs"])
    def get_job(
        job_id: Annotated[int, Path(ge=0, le=INT63_MAX)], chain_id: ChainQ = None
    ) -> JobView:
        """A job's status, provider, method, price, result hash, and the match decision."""
        query = select(JobRow).where(JobRow.job_id == job_id)
        if chain_id is not None:
            query = query.where(JobRow.chain_id == chain_id)
        with session_scope(state.database_url) as session:
            jobs = list(session.scalars(query.limit(2)))
            if not jobs:
                raise HTTPException(404, f"no job {job_id}")
            if len(jobs) > 1:
                raise HTTPException(409, f"job {job_id} exists on several chains: pass chain_id")
            return job_view(jobs[0], _decisions(session, jobs).get((jobs[0].chain_id, job_id)))

    @router.get("/jobs", response_model=JobPage, tags=["jobs"])
    def list_jobs(
        client: AddressQ = None,
        status: Annotated[str | None, Query(pattern=r"^[a-z_]{1,16}$")] = None,
        chain_id: ChainQ = None,
        limit: int = Query(100, ge=1, le=max_limit),
        offset: Offset = 0,
    ) -> JobPage:
        """Jobs, newest first; ``client`` lists one client's jobs."""
        query = select(JobRow).order_by(JobRow.id.desc())
        if client:
            query = query.where(JobRow.client.in_(_address_forms(client)))
        if status:
            query = query.where(JobRow.status == status)
        if chain_id is not None:
            query = query.where(JobRow.chain_id == chain_id)
        with session_scope(state.database_url) as session:
            total, rows = _page(session, query, limit, offset)
            jobs = [r[0] for r in rows]
            decisions = _decisions(session, jobs)
            items = [job_view(j, decisions.get((j.chain_id, j.job_id))) for j in jobs]
        return JobPage(total=total, limit=limit, offset=offset, items=items)

    @router.get("/providers", response_model=ProviderPage, tags=["market"])
    def list_providers(
        active: bool | None = None, limit: int = Query(100, ge=1, le=max_limit), offset: Offset = 0
    ) -> ProviderPage:
        """Registered providers as the registry last reported them."""
        query = select(ProviderRow).order_by(ProviderRow.id)
        if active is not None:
            query = query.where(ProviderRow.active.is_(active))
        with session_scope(state.database_url) as session:
            total, rows = _page(session, query, limit, offset)
            items = [
                ProviderView(
                    chain_id=p.chain_id,
                    address=p.address,
                    agent=p.agent,
                    hardware_ids=list(p.hardware_ids or []),
                    price_per_second_wei=_wei(p.price_per_second_wei),
                    stake_wei=_wei(p.stake_wei),
                    active=p.active,
                    slashed=p.slashed,
                    metadata_uri=p.metadata_uri,
                    updated_at=p.updated_at,
                )
                for (p,) in rows
            ]
        return ProviderPage(total=total, limit=limit, offset=offset, items=items)

    @router.get("/attestations", response_model=AttestationPage, tags=["market"])
    def list_attestations(
        provider: AddressQ = None,
        model_id: HashQ = None,
        hardware_id: HashQ = None,
        workload_id: HashQ = None,
        method_id: HashQ = None,
        limit: int = Query(100, ge=1, le=max_limit),
        offset: Offset = 0,
    ) -> AttestationPage:
        """Indexed attestations (single and batch items) with their verification."""
        filters = {
            "model_id": model_id,
            "hardware_id": hardware_id,
            "workload_id": workload_id,
            "method_id": method_id,
        }
        with session_scope(state.database_url) as session:
            total, rows = _page(session, _attestation_query(filters, provider), limit, offset)
            items = [_attestation_view(a, block, tx) for a, block, tx in rows]
        return AttestationPage(total=total, limit=limit, offset=offset, items=items)

    return router
