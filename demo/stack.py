"""The embedded default stack in one process: an in-process EVM, the backend (SQLite
database, local blob store, a real Celery worker on the embedded SQLite transport, the
HTTP API), all on throwaway keys.

A real deployment runs the same pieces as separate processes (``metainf chain up``,
``metainf backend worker|beat|api``) on Redis and PostgreSQL; here they share the chain
object, so the worker and the API run as threads beside the main one.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from backend.api.app import create_app
from backend.api.serve import ServedApi
from backend.celery_app import make_app
from backend.chainctx import MarketContext, use_context
from backend.config import BackendConfig
from backend.migrate import upgrade
from chain.clients import Market
from chain.connection import connect, fund
from chain.deploy import ETHER, Deployment, MarketParams, deploy_market
from protocol.blobstore import LocalBlobStore
from protocol.settings import Settings

DAY = 24 * 3600
# short clocks, so one run shows every stage; the invariants of docs/contracts.md hold
DEMO_PARAMS = MarketParams(
    admin_delay_s=DAY,
    unstake_cooldown_s=3 * DAY,
    attestation_challenge_window_s=DAY,
    attestation_ruling_period_s=DAY,
    job_challenge_window_s=600,
    dispute_ruling_period_s=DAY,
)


@dataclass
class Stack:
    work_dir: Path
    w3: Web3
    deployment: Deployment
    market: Market
    admin: LocalAccount  # deploys; arbiter and treasury of the demo chain
    operator: LocalAccount  # the backend's matcher key
    store: LocalBlobStore
    config: BackendConfig
    ctx: MarketContext
    celery: Any = None
    api_url: str = ""

    def account(self, ether: int = 100) -> LocalAccount:
        """A fresh funded throwaway account."""
        account = Account.create()
        fund(self.w3, account.address, ether * ETHER)
        return account

    def now(self) -> int:
        return self.w3.eth.get_block("latest")["timestamp"]

    def run_task(self, name: str, *args: Any, timeout: float = 300.0) -> Any:
        """Send a task through the broker and wait for the worker's answer."""
        from celery.result import allow_join_result

        with allow_join_result():  # we are not inside a task; the worker is a thread
            return self.celery.send_task(name, args=args).get(timeout=timeout, interval=0.05)


class EmbeddedStack:
    """``with EmbeddedStack(work_dir) as stack:`` everything runs, and stops afterwards."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self._exit = ExitStack()
        self._worker: Any = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Stack:
        stack = self._chain_and_backend()
        self._start_worker(stack)
        stack.api_url = self._exit.enter_context(
            ServedApi(create_app(stack.config, Settings(auditors=())))
        )
        return stack

    def _chain_and_backend(self) -> Stack:
        w3 = connect("inprocess")
        admin, operator = Account.create(), Account.create()
        for account in (admin, operator):
            fund(w3, account.address, 1000 * ETHER)
        deployment = deploy_market(
            w3, admin, matcher=operator.address, arbiter=admin.address, params=DEMO_PARAMS
        )
        market = Market.at(w3, deployment)
        database = f"sqlite:///{(self.work_dir / 'backend.db').resolve()}"
        upgrade(database)
        queues = (self.work_dir / "celery").resolve()
        config = BackendConfig(
            database_url=database,
            broker_url=f"sqla+sqlite:///{queues / 'broker.db'}",
            result_backend=f"db+sqlite:///{queues / 'results.db'}",
            embedded=True,
            rpc_url="inprocess",
            deployments_dir=self.work_dir / "deployments",
            blob_location=str(self.work_dir / "blobs"),
            train_min_new_cells=4,
        )
        store = LocalBlobStore(self.work_dir / "blobs")
        ctx = MarketContext(config, w3, deployment, market, store, operator)
        use_context(ctx)  # the worker thread's tasks use this chain, not a new one
        self._exit.callback(use_context, None)
        return Stack(self.work_dir, w3, deployment, market, admin, operator, store, config, ctx)

    def _start_worker(self, stack: Stack) -> None:
        app = make_app(stack.config)
        self._worker = app.Worker(
            pool="solo",
            concurrency=1,
            loglevel="WARNING",
            hostname="embedded@metainf-demo",
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            quiet=True,
            redirect_stdouts=False,
        )
        self._thread = threading.Thread(target=self._worker.start, name="celery", daemon=True)
        self._thread.start()
        stack.celery = app

    def __exit__(
        self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._worker is not None:
            self._worker.stop(in_sighandler=False)
            assert self._thread is not None
            self._thread.join(30)
        self._exit.close()
