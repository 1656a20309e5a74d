"""The backend's database: SQLAlchemy 2 models, one engine per process, short sessions.

SQLite (a file under the data dir) by default, PostgreSQL in a real deployment; the same
models and Alembic migrations serve both. The schema is event-sourced: ``chain_events``
holds every decoded contract log once (unique on chain id, transaction hash, log index)
and the typed tables hang off it with ``ON DELETE CASCADE``, so rolling back a reorg is
deleting the events above the fork point.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

HASH = String(66)  # 0x + 64 hex
ADDRESS = String(42)
WEI = Numeric(78, 0)  # uint256 fits in 78 decimal digits


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class IndexerCursor(Base):
    """The next block to index, per chain and deployment."""

    __tablename__ = "indexer_cursor"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    next_block: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IndexedBlock(Base):
    """Hashes of recently indexed blocks: a mismatch with the chain is a reorg."""

    __tablename__ = "indexed_blocks"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[str] = mapped_column(HASH)


class ChainEvent(Base):
    """One decoded contract log."""

    __tablename__ = "chain_events"
    __table_args__ = (
        UniqueConstraint("chain_id", "tx_hash", "log_index", name="uq_event_position"),
        Index("ix_event_block", "chain_id", "block_number"),
        Index("ix_event_name", "contract", "name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(HASH)
    tx_hash: Mapped[str] = mapped_column(HASH)
    log_index: Mapped[int] = mapped_column(Integer)
    contract: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(64))
    args: Mapped[dict[str, Any]] = mapped_column(JSON)


def _event_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("chain_events.id", ondelete="CASCADE"), index=True)


class AttestationRow(Base):
    """One attested measurement (a single attestation or one item of a batch)."""

    __tablename__ = "attestations"
    __table_args__ = (Index("ix_attestation_task", "model_id", "hardware_id", "workload_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = _event_fk()
    chain_id: Mapped[int] = mapped_column(BigInteger)
    provider: Mapped[str] = mapped_column(ADDRESS, index=True)
    nonce: Mapped[int] = mapped_column(BigInteger)
    batch_index: Mapped[int | None] = mapped_column(Integer)  # None: a single attestation
    hardware_id: Mapped[str] = mapped_column(HASH)
    model_id: Mapped[str] = mapped_column(HASH)
    workload_id: Mapped[str] = mapped_column(HASH)
    method_id: Mapped[str] = mapped_column(HASH)
    tokens_per_s_x1000: Mapped[int] = mapped_column(Numeric(20, 0))
    ttft_p50_us: Mapped[int] = mapped_column(Numeric(20, 0))
    tpot_p50_us: Mapped[int] = mapped_column(Numeric(20, 0))
    peak_mem_bytes: Mapped[int] = mapped_column(Numeric(20, 0))
    report_hash: Mapped[str] = mapped_column(HASH, index=True)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    # verification: None = not checked yet
    signer: Mapped[str | None] = mapped_column(ADDRESS)
    claim_hash: Mapped[str | None] = mapped_column(HASH, index=True)  # what a challenge names
    challenge_upheld: Mapped[bool] = mapped_column(Boolean, default=False)
    signature_ok: Mapped[bool | None] = mapped_column(Boolean)
    report_ok: Mapped[bool | None] = mapped_column(Boolean)
    problem: Mapped[str | None] = mapped_column(Text)


class ReportRow(Base):
    """A fetched benchmark report: the figures the data set is built from."""

    __tablename__ = "reports"

    report_hash: Mapped[str] = mapped_column(HASH, primary_key=True)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    quality: Mapped[dict[str, Any]] = mapped_column(JSON)
    descriptors: Mapped[dict[str, Any]] = mapped_column(JSON)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class JobRow(Base):
    """A job as created on chain, with the backend's view of it."""

    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("chain_id", "job_id", name="uq_job"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = _event_fk()
    chain_id: Mapped[int] = mapped_column(BigInteger)
    job_id: Mapped[int] = mapped_column(BigInteger)
    client: Mapped[str] = mapped_column(ADDRESS, index=True)
    spec_hash: Mapped[str] = mapped_column(HASH)
    model_id: Mapped[str] = mapped_column(HASH)
    workload_id: Mapped[str] = mapped_column(HASH)
    escrow_wei: Mapped[int] = mapped_column(WEI)
    deadline: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="open")
    max_runtime_s: Mapped[int] = mapped_column(BigInteger, default=0)
    allowed_provider: Mapped[str | None] = mapped_column(ADDRESS)
    provider: Mapped[str | None] = mapped_column(ADDRESS, index=True)
    hardware_id: Mapped[str | None] = mapped_column(HASH)
    method_id: Mapped[str | None] = mapped_column(HASH)
    price_wei: Mapped[int | None] = mapped_column(WEI)
    result_hash: Mapped[str | None] = mapped_column(HASH, index=True)
    unmatched_reason: Mapped[str | None] = mapped_column(Text)


class ProviderRow(Base):
    """A provider as the registry last reported it (refreshed from the chain on its events)."""

    __tablename__ = "providers"
    __table_args__ = (UniqueConstraint("chain_id", "address", name="uq_provider"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    address: Mapped[str] = mapped_column(ADDRESS)
    agent: Mapped[str] = mapped_column(ADDRESS)
    hardware_ids: Mapped[list[Any]] = mapped_column(JSON)
    hardware_prices: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # id -> wei/s
    price_per_second_wei: Mapped[int] = mapped_column(WEI)  # of its first hardware profile
    stake_wei: Mapped[int] = mapped_column(WEI)
    free_stake_wei: Mapped[int] = mapped_column(WEI, default=0)
    active: Mapped[bool] = mapped_column(Boolean)
    slashed: Mapped[bool] = mapped_column(Boolean, default=False)
    metadata_uri: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ChallengeRow(Base):
    """A challenge case against a posted claim, as the registry last reported it."""

    __tablename__ = "challenges"
    __table_args__ = (UniqueConstraint("chain_id", "challenge_id", name="uq_challenge"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = _event_fk()
    chain_id: Mapped[int] = mapped_column(BigInteger)
    challenge_id: Mapped[int] = mapped_column(BigInteger)
    provider: Mapped[str] = mapped_column(ADDRESS, index=True)
    claim_hash: Mapped[str] = mapped_column(HASH, index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    slashed_wei: Mapped[int] = mapped_column(WEI, default=0)


class MatchDecision(Base):
    """Why a job went to a provider and method (or to none): the top candidates."""

    __tablename__ = "match_decisions"
    __table_args__ = (UniqueConstraint("chain_id", "job_id", name="uq_decision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    job_id: Mapped[int] = mapped_column(BigInteger)
    model_version: Mapped[int | None] = mapped_column(Integer)
    provider: Mapped[str | None] = mapped_column(ADDRESS)
    hardware_id: Mapped[str | None] = mapped_column(HASH)
    method_id: Mapped[str | None] = mapped_column(HASH)
    price_wei: Mapped[int | None] = mapped_column(WEI)
    candidates: Mapped[list[Any]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    tx_hash: Mapped[str | None] = mapped_column(HASH)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ModelVersion(Base):
    """A trained selector: versioned by (data hash, code version); the matcher uses the
    newest promoted one."""

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("data_hash", "code_version", name="uq_model_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    data_hash: Mapped[str] = mapped_column(HASH)
    code_version: Mapped[str] = mapped_column(String(64))
    artifact_hash: Mapped[str] = mapped_column(HASH)  # the joblib file in the blob store
    n_cells: Mapped[int] = mapped_column(Integer)
    evaluation: Mapped[dict[str, Any]] = mapped_column(JSON)
    promoted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ExternalCell(Base):
    """One cell of an imported external performance table (history, not attested).

    Keyed by content ids like attested cells, so both land in the same data set; the
    data set builder prefers attested measurements of a cell over imported ones.
    """

    __tablename__ = "external_cells"
    __table_args__ = (
        UniqueConstraint(
            "source", "model_id", "hardware_id", "workload_id", "method_id", name="uq_external"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64), index=True)  # "external:<name>"
    model_id: Mapped[str] = mapped_column(HASH)
    hardware_id: Mapped[str] = mapped_column(HASH)
    workload_id: Mapped[str] = mapped_column(HASH)
    method_id: Mapped[str] = mapped_column(HASH)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    quality: Mapped[dict[str, Any]] = mapped_column(JSON)
    descriptors: Mapped[dict[str, Any]] = mapped_column(JSON)  # role -> descriptor
    n_repeats: Mapped[int] = mapped_column(Integer, default=1)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuthReplay(Base):
    """Signed API requests seen recently (keccak of the signed text), shared by every API
    process so that a replay is refused whichever process it reaches."""

    __tablename__ = "auth_replays"

    digest: Mapped[str] = mapped_column(HASH, primary_key=True)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)


_engines: list[Engine] = []


def _forget_parent_connections() -> None:
    """In a forked child (a Celery prefork pool process): the pooled connections are the
    parent's sockets, so drop them without closing them (the parent keeps using its own);
    the engine opens new connections for this process."""
    for engine in _engines:
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_parent_connections)


@cache
def engine_for(url: str) -> Engine:
    """One engine per database URL and process (a forked child reconnects, see above)."""
    engine = _make_engine(url)
    _engines.append(engine)
    return engine


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn: Any, _: Any) -> None:
            cur = conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")  # ON DELETE CASCADE needs it
            cur.execute("PRAGMA journal_mode=WAL")  # readers (API) beside one writer
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A transaction: committed on success, rolled back on any error."""
    factory = sessionmaker(engine_for(url), expire_on_commit=False)
    with factory() as session, session.begin():
        yield session
