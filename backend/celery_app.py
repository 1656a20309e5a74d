"""The Celery application: real tasks on Redis or on the embedded SQLite transport.

Delivery is at-least-once (``acks_late``; a task whose worker dies goes back to the
queue), so every task is idempotent and takes ids, not objects. The beat schedule
drives the periodic tasks (indexing, settlement, training); the matcher also runs
right away for each new ``JobCreated`` the indexer stores.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from celery import Celery
from celery.signals import task_postrun

from backend.broker import TRANSPORT
from backend.config import BackendConfig


def _forget_broker_connections() -> None:
    """In a forked child (a prefork pool process publishing follow-up tasks): the embedded
    transport's pooled SQLite connections are the parent's, and SQLite connections must
    not cross a fork; drop them unclosed, the child opens its own."""
    sqla = sys.modules.get("kombu.transport.sqlalchemy")
    if sqla is not None:
        for engine, _session in list(sqla.Channel._engines.values()):
            engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_broker_connections)

_settled = False


@task_postrun.connect(weak=False)
def settle_process_heap(**_: object) -> None:
    """Once per process, after its first task: what that task set up (the imported
    modules, the chain connection and contract ABIs, the database engine) lives as long
    as the process, so move it out of the cyclic garbage collector's scans. Without this
    every full collection walks all of it, a quarter to a third of the indexer's time
    with single attestations (many small transactions, many collections)."""
    global _settled
    if not _settled:
        _settled = True
        atexit.register(gc.unfreeze)  # the collection at exit finalizes everything
        gc.freeze()


def make_app(config: BackendConfig | None = None) -> Celery:
    config = config or BackendConfig.from_settings()
    if config.embedded:
        import kombu.transport.sqlalchemy as sqla

        # the 1 s default makes every task wait about a second for its turn
        sqla.Transport.polling_interval = 0.1
        Path(config.broker_url.removeprefix("sqla+sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    app = Celery("metainf", broker=config.broker_url, backend=config.result_backend)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_track_started=True,
        broker_connection_retry_on_startup=True,
        broker_transport=_transport(config),
        broker_transport_options=_transport_options(config),
        result_expires=3600,
        beat_schedule={
            "index-chain": {"task": "backend.index_chain", "schedule": config.index_interval_s},
            "settle-jobs": {"task": "backend.settle_jobs", "schedule": config.settle_interval_s},
            "train-selector": {
                "task": "backend.train_selector",
                "schedule": config.train_interval_s,
            },
            "sweep": {"task": "backend.sweep", "schedule": config.settle_interval_s},
            "recheck-reports": {
                "task": "backend.recheck_reports",
                "schedule": config.settle_interval_s,
            },
        },
    )
    app.conf.metainf = config
    app.autodiscover_tasks(["backend"], related_name="tasks", force=True)
    return app


def _transport(config: BackendConfig) -> str | None:
    """Plain ``redis://`` brokers go through :mod:`backend.broker` (the worker outlives a
    Redis outage); other URLs keep the transport their scheme names."""
    return TRANSPORT if urlsplit(config.broker_url).scheme == "redis" else None


def _transport_options(config: BackendConfig) -> dict:
    """Redis: a message a dead worker took comes back after the visibility timeout (tasks
    are idempotent), and the scan for such messages runs often enough for that timeout
    (kombu's default scans about every 100 s). The embedded SQLAlchemy transport passes its
    options to ``create_engine``, which refuses these; there, ``backend.sweep`` re-enqueues
    what a dead worker left undone."""
    if config.embedded:
        return {}
    timeout = config.visibility_timeout_s
    return {
        "visibility_timeout": timeout,
        "unacked_restore_interval": max(1, min(10, timeout // 2)),
        "unacked_restore_throttle": 1,
    }
