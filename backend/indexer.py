"""Indexing contract events into the database: no gap, no duplicate, reorg-safe.

``index_step`` moves one chain's cursor from the last indexed block towards
``head - confirmations``, in ranges of at most ``max_blocks``:

1. reorg check: the hash stored for the last indexed block must still be the chain's.
   Otherwise walk back over the stored block hashes to the newest one the chain still
   has (the fork point), delete every event above it (typed rows cascade), and move the
   cursor back; the next steps index the new branch.
2. fetch and decode the logs of the range; insert each event once (unique on chain id,
   transaction hash and log index, so a re-delivered task or a restarted worker inserts
   nothing twice); project new events into typed rows (:mod:`backend.projections`).
3. store the hash of the range's last block (and of every block that had logs), and
   advance the cursor, all in the same transaction as the events.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from backend.db import ChainEvent, IndexedBlock, IndexerCursor
from backend.events import DecodedEvent, EventSource
from backend.projections import project, refresh_after_rollback

KEEP_BLOCK_HASHES = 512


@dataclass
class StepResult:
    from_block: int
    to_block: int  # from_block - 1 when there was nothing to do
    new_events: list[ChainEvent] = field(default_factory=list)
    rolled_back_to: int | None = None  # the fork point, when a reorg was undone
    head: int = 0

    @property
    def lag_blocks(self) -> int:
        return max(0, self.head - self.to_block)


def _cursor(session: Session, chain_id: int, start_block: int) -> IndexerCursor:
    cursor = session.get(IndexerCursor, chain_id, with_for_update=True)
    if cursor is None:
        cursor = IndexerCursor(chain_id=chain_id, next_block=start_block)
        session.add(cursor)
        session.flush()
    return cursor


def _fork_point(session: Session, source: EventSource, chain_id: int, below: int) -> int | None:
    """The newest stored block at or below ``below`` whose hash the chain still has."""
    stored = session.scalars(
        select(IndexedBlock)
        .where(IndexedBlock.chain_id == chain_id, IndexedBlock.number <= below)
        .order_by(IndexedBlock.number.desc())
    )
    for block in stored:
        if source.block_hash(block.number) == block.hash:
            return block.number
    return None


def _undo_reorg(
    session: Session, source: EventSource, cursor: IndexerCursor, start: int
) -> int | None:
    """Roll back above the fork point if the last indexed block was replaced."""
    last = session.get(IndexedBlock, (cursor.chain_id, cursor.next_block - 1))
    if last is None or source.block_hash(last.number) == last.hash:
        return None
    fork = _fork_point(session, source, cursor.chain_id, last.number - 1)
    fork = start - 1 if fork is None else fork
    session.execute(
        delete(ChainEvent).where(
            ChainEvent.chain_id == cursor.chain_id, ChainEvent.block_number > fork
        )
    )
    session.execute(
        delete(IndexedBlock).where(
            IndexedBlock.chain_id == cursor.chain_id, IndexedBlock.number > fork
        )
    )
    cursor.next_block = fork + 1
    return fork


def _insert_new(session: Session, chain_id: int, events: list[DecodedEvent]) -> list[ChainEvent]:
    """Insert the events not stored yet; returns the inserted rows."""
    if not events:
        return []
    keys = {(e.tx_hash, e.log_index) for e in events}
    known = set(
        session.execute(
            select(ChainEvent.tx_hash, ChainEvent.log_index).where(
                ChainEvent.chain_id == chain_id,
                ChainEvent.tx_hash.in_({tx for tx, _ in keys}),
            )
        ).all()
    )
    rows = [
        ChainEvent(
            chain_id=chain_id,
            block_number=e.block_number,
            block_hash=e.block_hash,
            tx_hash=e.tx_hash,
            log_index=e.log_index,
            contract=e.contract,
            name=e.name,
            args=e.args,
        )
        for e in events
        if (e.tx_hash, e.log_index) not in known
    ]
    session.add_all(rows)
    session.flush()
    return rows


def _remember_blocks(session: Session, chain_id: int, hashes: dict[int, str]) -> None:
    known = {
        b.number: b
        for b in session.scalars(
            select(IndexedBlock).where(
                IndexedBlock.chain_id == chain_id, IndexedBlock.number.in_(list(hashes))
            )
        )
    }
    for number, block_hash in hashes.items():  # one query, not a merge per block
        if number in known:
            known[number].hash = block_hash
        else:
            session.add(IndexedBlock(chain_id=chain_id, number=number, hash=block_hash))
    oldest_kept = max(hashes) - KEEP_BLOCK_HASHES
    session.execute(
        delete(IndexedBlock).where(
            IndexedBlock.chain_id == chain_id, IndexedBlock.number < oldest_kept
        )
    )


def index_step(
    session: Session,
    source: EventSource,
    *,
    start_block: int,
    confirmations: int = 0,
    max_blocks: int = 2000,
) -> StepResult:
    """Index one range of blocks; call repeatedly (the periodic indexer task does)."""
    chain_id = source.w3.eth.chain_id
    cursor = _cursor(session, chain_id, start_block)
    rolled_back = _undo_reorg(session, source, cursor, start_block)
    if rolled_back is not None:
        refresh_after_rollback(session, chain_id, source.market)
    head = source.w3.eth.block_number
    first, last = cursor.next_block, min(head - confirmations, cursor.next_block + max_blocks - 1)
    result = StepResult(first, first - 1, rolled_back_to=rolled_back, head=head)
    if last < first:
        return result
    events = source.fetch(first, last)
    rows = _insert_new(session, chain_id, events)
    for row in rows:
        project(session, row, source.market)
    session.flush()
    hashes = {e.block_number: e.block_hash for e in events}
    hashes[last] = source.block_hash(last)
    _remember_blocks(session, chain_id, hashes)
    cursor.next_block = last + 1
    result.to_block, result.new_events = last, rows
    return result
