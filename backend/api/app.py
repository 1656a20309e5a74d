"""The FastAPI application: ``create_app(config)``; ``metainf backend api`` serves it.

Every input is validated at the boundary (path, query and body schemas in the OpenAPI
document); bad input gets a 4xx with a sentence saying what was wrong, never a 500.
Request bodies are limited before they are read: ``MAX_BLOB_BYTES`` for blob and spec
uploads, 64 KiB elsewhere (413 either way, from the ``Content-Length`` header or while
the body streams in).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from backend.api.blobs import blob_router
from backend.api.data import data_router
from backend.api.market import market_router
from backend.api.metrics import Message, MetricsMiddleware, Receive, Scope, Send
from backend.api.ops import ops_router
from backend.api.schemas import COMMON_ERRORS
from backend.api.state import SMALL_BODY_BYTES, ApiState
from backend.config import BackendConfig
from protocol.blobstore import MAX_BLOB_BYTES, BlobCorrupt, BlobNotFound, BlobTooLarge
from protocol.jsonsafe import MAX_DEPTH, too_deep
from protocol.settings import Settings

log = logging.getLogger(__name__)
VERSION = "1"


def _upload_path(path: str) -> bool:
    return path == "/specs" or path == "/blobs" or path.startswith("/blobs/")


def body_limit(path: str) -> int:
    """The largest request body accepted on ``path``."""
    return MAX_BLOB_BYTES if _upload_path(path) else SMALL_BODY_BYTES


class _TooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over the {limit}-byte limit")


class BodyLimitMiddleware:
    """413 for bodies over the limit of their path, declared or streamed."""

    def __init__(self, app, limit_for: Callable[[str], int] = body_limit) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            status = 413 if declared.isdigit() else 400
            detail = (
                f"request body over the {limit}-byte limit"
                if status == 413
                else "Content-Length is not a number"
            )
            await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send)
            return
        seen, started = 0, False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(limit)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracked)
        except _TooLarge as exc:  # raised outside the routes (by an inner middleware)
            if started:
                raise
            await JSONResponse({"detail": exc.detail}, status_code=413)(scope, receive, send)


class JsonDepthMiddleware:
    """422 for JSON bodies nested deeper than :data:`~protocol.jsonsafe.MAX_DEPTH`
    (see :mod:`protocol.jsonsafe`), on every route that parses JSON bodies itself
    (all but the upload routes, which check what they parse)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _upload_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if too_deep(body):
            detail = f"JSON nested deeper than {MAX_DEPTH} levels"
            await JSONResponse({"detail": detail}, status_code=422)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(BlobTooLarge)
    async def _too_large(_: Request, exc: BlobTooLarge) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=413)

    @app.exception_handler(BlobNotFound)
    async def _not_found(_: Request, exc: BlobNotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(BlobCorrupt)
    async def _corrupt(_: Request, exc: BlobCorrupt) -> JSONResponse:
        log.error("corrupt blob in the store: %s", exc)
        return JSONResponse({"detail": "the stored blob is corrupt"}, status_code=500)

    @app.exception_handler(OperationalError)
    async def _db_down(_: Request, exc: OperationalError) -> JSONResponse:
        log.error("database error: %s", exc)
        return JSONResponse({"detail": "the database is unavailable"}, status_code=503)


def create_app(config: BackendConfig, settings: Settings | None = None) -> FastAPI:
    """The API over ``config``'s database and (local) blob store.

    ``settings`` supplies the auditor addresses, the signature window and the page limit
    (default: the environment's :class:`~protocol.settings.Settings`).
    """
    state = ApiState.build(config, settings or Settings())
    app = FastAPI(
        title="MetaInf Market backend",
        version=VERSION,
        description="Blobs, job specs, jobs and match decisions, providers, attestations, "
        "the meta-learning data set, recommendations, health and metrics.",
    )
    app.state.metainf = state
    for router in (blob_router, market_router, data_router, ops_router):
        app.include_router(router(state), responses=COMMON_ERRORS)
    _handlers(app)
    app.add_middleware(JsonDepthMiddleware)
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(MetricsMiddleware)
    return app


def app_from_settings() -> FastAPI:
    """Factory for uvicorn (``--factory``): the app configured from the environment."""
    return create_app(BackendConfig.from_settings())
