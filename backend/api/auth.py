"""Signed requests on the server side: the database-backed seen-set and the check itself.

The seen-set lives in the database (``auth_replays``), not in process memory: the API
runs as several processes (uvicorn workers, several machines behind a load balancer)
that share one database, and a replay must be refused whichever process it reaches.
An entry is one short insert, made only for requests that need a signature (reading a
job's result); expired entries are deleted at most once a minute per process.
"""

from __future__ import annotations

import threading
import time

from fastapi import HTTPException, Request
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from backend.db import AuthReplay, session_scope
from protocol.auth import AuthError, MissingAuth, verify_request

PURGE_EVERY_S = 60.0
CHALLENGE = {"WWW-Authenticate": 'MetaInf-Signature scheme="metainf-auth/1"'}


class DatabaseSeenSet:
    """:class:`protocol.auth.SeenSet` over the ``auth_replays`` table."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self._next_purge = 0.0
        self._lock = threading.Lock()

    def _purge_due(self, now: float) -> bool:
        with self._lock:
            if now < self._next_purge:
                return False
            self._next_purge = now + PURGE_EVERY_S
            return True

    def add(self, key: str, expires_at: float) -> bool:
        now = time.time()
        if self._purge_due(now):
            with session_scope(self.url) as session:
                session.execute(delete(AuthReplay).where(AuthReplay.expires_at < int(now)))
        try:
            with session_scope(self.url) as session:
                session.add(AuthReplay(digest=key, expires_at=int(expires_at)))
        except IntegrityError:
            return False
        return True


def signed_path(request: Request) -> str:
    """The path the client signed: path plus ``?query`` when there is one."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def authenticate(request: Request, body: bytes, seen: DatabaseSeenSet, window_s: int) -> str:
    """The signer's checksummed address; HTTP 401 with the reason otherwise."""
    try:
        return verify_request(
            request.headers,
            request.method,
            signed_path(request),
            body,
            seen=seen,
            window_s=window_s,
        )
    except MissingAuth as exc:
        raise HTTPException(401, str(exc), headers=CHALLENGE) from None
    except AuthError as exc:
        raise HTTPException(401, f"signature refused: {exc}", headers=CHALLENGE) from None
