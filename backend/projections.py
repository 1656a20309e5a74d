"""Typed rows derived from stored chain events (attestations, jobs, providers).

Each handler receives a freshly inserted :class:`~backend.db.ChainEvent`, in chain order,
inside the indexing transaction; rows it creates reference the event, so a reorg
rollback deletes them with it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from backend.db import ChainEvent

Handler = Callable[[Session, ChainEvent], None]
HANDLERS: dict[tuple[str, str], Handler] = {}


def handles(contract: str, name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[(contract, name)] = fn
        return fn

    return register


def project(session: Session, event: ChainEvent) -> None:
    handler = HANDLERS.get((event.contract, event.name))
    if handler is not None:
        handler(session, event)
