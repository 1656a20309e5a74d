"""``GET /health`` and ``GET /metrics``."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import cache

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from backend.api import metrics
from backend.api.schemas import HealthView, IndexerView, ModelInfo
from backend.api.state import ApiState
from backend.db import IndexerCursor, session_scope
from backend.trainer import promoted_version

log = logging.getLogger(__name__)


@cache
def schema_head() -> str | None:
    from alembic.script import ScriptDirectory

    from backend.migrate import MIGRATIONS, alembic_config

    config = alembic_config("sqlite://")
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def _age(when: datetime | None) -> float | None:
    if when is None:
        return None
    if when.tzinfo is None:  # SQLite hands naive datetimes back
        when = when.replace(tzinfo=UTC)
    return round((datetime.now(UTC) - when).total_seconds(), 3)


def health(state: ApiState) -> HealthView:
    from backend.migrate import current

    with session_scope(state.database_url) as session:
        session.execute(text("SELECT 1"))
        cursors = list(session.scalars(select(IndexerCursor).order_by(IndexerCursor.chain_id)))
        model = promoted_version(session)
        indexer = [
            IndexerView(
                chain_id=c.chain_id,
                last_indexed_block=c.next_block - 1,
                updated_at=c.updated_at,
                seconds_since_update=_age(c.updated_at),
            )
            for c in cursors
        ]
        info = None
        if model is not None:
            info = ModelInfo(
                version=model.id,
                data_hash=model.data_hash,
                code_version=model.code_version,
                n_cells=model.n_cells,
                created_at=model.created_at,
            )
    revision, head = current(state.database_url), schema_head()
    return HealthView(
        status="ok" if revision == head else "degraded",
        database=True,
        error=None if revision == head else f"schema at {revision}, code expects {head}",
        schema_revision=revision,
        schema_head=head,
        indexer=indexer,
        model=info,
    )


def ops_router(state: ApiState) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health", response_model=HealthView, responses={503: {"model": HealthView}})
    def get_health() -> HealthView | JSONResponse:
        """Database reachable, schema revision, indexer progress, promoted model."""
        try:
            return health(state)
        except SQLAlchemyError as exc:
            log.warning("health: database unreachable: %s", exc)
            down = HealthView(
                status="down",
                database=False,
                error=f"database unreachable: {type(exc).__name__}",
                schema_revision=None,
                schema_head=schema_head(),
                indexer=[],
                model=None,
            )
            return JSONResponse(down.model_dump(mode="json"), status_code=503)

    @router.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    )
    def get_metrics() -> Response:
        """Prometheus text exposition of the default registry."""
        try:
            metrics.refresh_from_database(state.database_url)
        except SQLAlchemyError as exc:  # still serve the process's own counters
            log.warning("metrics: database unreachable: %s", exc)
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return router
