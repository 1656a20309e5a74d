"""Prometheus metrics of the API, in ``prometheus_client``'s default registry.

The default registry is the documented place for every backend metric: the indexer and
the matcher register their own gauges there (``prometheus_client.Gauge(...)`` at import),
and ``GET /metrics`` serves all of them. One API process serves its own counters; with
several processes, scrape each one (no multiprocess mode).

* ``metainf_api_requests_total{method, route, status}``, route = the path template
* ``metainf_api_request_seconds{method, route}`` (histogram)
* ``metainf_api_blob_bytes_total{direction}``: bytes uploaded ("in") and served ("out")
* ``metainf_jobs{status}``: jobs in the database by status (refreshed on each scrape)
* ``metainf_promoted_model_version``: id of the newest promoted model (0: none)
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select

from backend.db import JobRow, ModelVersion, session_scope

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

REQUESTS = Counter("metainf_api_requests", "HTTP requests served", ["method", "route", "status"])
LATENCY = Histogram(
    "metainf_api_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BLOB_BYTES = Counter("metainf_api_blob_bytes", "Blob bytes uploaded and served", ["direction"])
JOBS = Gauge("metainf_jobs", "Jobs in the backend database by status", ["status"])
MODEL_VERSION = Gauge("metainf_promoted_model_version", "Newest promoted model version (0: none)")


def refresh_from_database(database_url: str) -> None:
    """Set the gauges that mirror the database (called on each scrape)."""
    with session_scope(database_url) as session:
        rows = session.execute(select(JobRow.status, func.count()).group_by(JobRow.status))
        counts = {status: n for status, n in rows}
        version = session.scalar(
            select(func.max(ModelVersion.id)).where(ModelVersion.promoted.is_(True))
        )
    JOBS.clear()
    for status, n in counts.items():
        JOBS.labels(status=status).set(n)
    MODEL_VERSION.set(version or 0)


def exposition() -> bytes:
    return generate_latest(REGISTRY)


class MetricsMiddleware:
    """Counts and times every HTTP request by method, route template and status."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "")
            REQUESTS.labels(method=method, route=route, status=str(status["code"])).inc()
            LATENCY.labels(method=method, route=route).observe(time.perf_counter() - started)
