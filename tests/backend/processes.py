"""Real backend processes for the Celery suites and the backend bench.

* :class:`Proc`: one child process in a session of its own, so that stopping it (SIGTERM)
  or killing it (SIGKILL) reaches the Celery worker's pool children too;
* :func:`start_worker`, :func:`start_beat`, :func:`start_api`: ``metainf backend ...``
  exactly as an operator runs them, configured by ``METAINF_*`` alone (:func:`backend_env`);
* :class:`RedisServer`: a private ``redis-server`` on a free port without persistence
  (never the shared one on 6379), which a test may stop and restart;
* :class:`SyntheticMarket`: a deployment on a real chain with staked providers whose agents
  post signed attestations of real (synthetic-figure) benchmark reports, and clients that
  create paid jobs: what the worker indexes, verifies and matches;
* :func:`wait_for`: polling for a condition with a deadline (never a bare sleep).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from chain.clients import Market
from chain.connection import connect, fund
from chain.deploy import ETHER, Deployment, deploy_market
from protocol.blobstore import LocalBlobStore
from protocol.canonical import content_id
from protocol.eip712 import Measurement
from protocol.jobspec import JobSpec
from protocol.report import build_report
from provider_agent.attest import Attester, Posted

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(
    condition: Callable[[], T],
    timeout_s: float,
    what: str,
    interval_s: float = 0.1,
    explain: Callable[[], str] | None = None,
) -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout_s``,
    with what ``explain()`` says about the stall in the error."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            why = f"\n{explain()}" if explain is not None else ""
            raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}{why}")
        time.sleep(interval_s)


# ------------------------------------------------------------------------------ processes


@dataclass
class Proc:
    """A child process leading its own process group (its children die with it)."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen | None = None

    def start(self) -> Proc:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it
        try:
            self.popen = subprocess.Popen(
                self.args,
                env=self.env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} was never started"
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, text: str, timeout_s: float = 60.0, after: int = 0) -> None:
        """Wait until ``text`` appears in the log (past offset ``after``)."""

        def seen() -> bool:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited:\n{self.log()[-4000:]}")
            return text in self.log()[after:]

        wait_for(seen, timeout_s, f"{self.name} to log {text!r}", 0.1)

    def _signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)  # the group this child leads: it and its pool

    def pause(self) -> None:
        """SIGSTOP the whole group: nothing it runs moves on until :meth:`resume`."""
        self._signal_group(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal_group(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL the whole group at once: no warm shutdown, nothing acknowledged."""
        if self.popen is None:
            return
        self._signal_group(signal.SIGKILL)
        self.popen.wait(timeout=30)
        self._wait_group_gone()

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM to the leader (Celery: warm shutdown, the pool finishes its tasks), then
        SIGKILL to whatever of the group is left after ``timeout_s``."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout_s)
        self._signal_group(signal.SIGKILL)  # pool children left behind, if any
        self.popen.wait(timeout=30)
        self._wait_group_gone()

    def _wait_group_gone(self) -> None:
        def gone() -> bool:
            try:
                os.killpg(self.pid, 0)
            except ProcessLookupError:
                return True
            return False

        wait_for(gone, 30, f"the process group of {self.name} to exit", 0.05)


def backend_env(
    root: Path,
    *,
    rpc_url: str,
    database_url: str,
    matcher_key: str,
    redis_url: str | None = None,
    visibility_timeout_s: int | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a backend process: our METAINF_* only, none inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAINF_")}
    env.update(
        {
            "METAINF_RPC_URL": rpc_url,
            "METAINF_DATABASE_URL": database_url,
            "METAINF_DATA_DIR": str(root / "data"),
            "METAINF_DEPLOYMENTS_DIR": str(root / "deployments"),
            "METAINF_BLOB_STORE": str(root / "blobs"),
            "METAINF_KEY_FILE": str(root / "no-keys.json"),
            "METAINF_MATCHER_KEY": matcher_key,
            # no retraining in the middle of a test: the matcher uses attested figures
            "METAINF_TRAIN_MIN_NEW_CELLS": "1000000000",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if redis_url:
        env["METAINF_REDIS_URL"] = redis_url
    if visibility_timeout_s is not None:
        env["METAINF_TASK_VISIBILITY_TIMEOUT_S"] = str(visibility_timeout_s)
    env.update(extra or {})
    return env


def _metainf(*args: str) -> list[str]:
    return [sys.executable, "-m", "metainf_cli.main", "backend", *args]


def start_worker(
    env: dict[str, str],
    log_path: Path,
    *,
    concurrency: int = 2,
    pool: str = "prefork",
    wait: bool = True,
) -> Proc:
    """``metainf backend worker``; waits until Celery says it is ready."""
    cmd = _metainf("worker", "-c", str(concurrency), "--pool", pool, "--log-level", "INFO")
    offset = log_path.stat().st_size if log_path.exists() else 0
    proc = Proc("worker", cmd, env, log_path).start()
    if wait:
        proc.wait_log(" ready.", timeout_s=90, after=offset)
    return proc


def start_beat(env: dict[str, str], log_path: Path, *, wait: bool = True) -> Proc:
    """``metainf backend beat`` (indexing every 2 s, sweep and settlement every 10 s)."""
    offset = log_path.stat().st_size if log_path.exists() else 0
    proc = Proc("beat", _metainf("beat", "--log-level", "INFO"), env, log_path).start()
    if wait:
        proc.wait_log("beat: Starting", timeout_s=90, after=offset)
    return proc


def start_api(env: dict[str, str], log_path: Path, port: int) -> Proc:
    """``metainf backend api`` on ``port``; waits until /health answers."""
    import httpx

    proc = Proc("api", _metainf("api", "--port", str(port)), env, log_path).start()

    def healthy() -> bool:
        if not proc.alive():
            raise RuntimeError(f"api exited:\n{proc.log()[-4000:]}")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(healthy, 60, "the API to answer")
    return proc


@dataclass
class RedisServer:
    """A private redis-server without persistence: a restart loses every queued message."""

    root: Path
    port: int = field(default_factory=free_port)
    proc: Proc | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.root.mkdir(parents=True, exist_ok=True)
        cmd = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.root),
        ]
        self.proc = Proc("redis", cmd, dict(os.environ), self.root / "redis.log").start()
        wait_for(self.ping, 30, f"redis on port {self.port}")
        return self

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(timeout_s=10)
            self.proc = None

    def restart(self, down_s: float = 0.0) -> None:
        """Stop (every queued and unacknowledged message is gone), stay away ``down_s``
        seconds (an outage, not a wait for anything), and start on the same port."""
        self.stop()
        time.sleep(down_s)
        self.start()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -------------------------------------------------------------------------- the market

PRICE_PER_SECOND = Web3.to_wei(10_000, "gwei")
METHODS = {"hf-eager": (1.0, 1.0), "hf-sdpa": (1.0, 1.0), "hf-int8": (0.9, 0.97)}
SPEED = {"hf-eager": 10.0, "hf-sdpa": 16.0, "hf-int8": 24.0}  # tokens/s on 1 thread
MODEL = {"kind": "model", "name": "tiny-48m", "params": 4.8e7, "layers": 8, "v": 1}
WORKLOAD = {
    "kind": "workload",
    "name": "chat",
    "num_requests": 8,
    "output_tokens": [8, 24],
    "concurrency": 8,
}


def hardware_descriptor(threads: int) -> dict[str, Any]:
    return {"kind": "hardware", "name": f"cpu-{threads}t", "device": "cpu", "threads": threads}


def method_descriptor(name: str) -> dict[str, Any]:
    return {"kind": "method", "name": name, "engine": name.split("-")[0], "v": 1}


def synthetic_report(threads: int, method: str, seed: int) -> dict[str, Any]:
    """A well-formed benchmark report (its figures made up, every id and hash real)."""
    exact_match, agreement = METHODS[method]
    tps = SPEED[method] * threads * (1 + 0.001 * (seed % 7))
    return build_report(
        model=MODEL,
        hardware=hardware_descriptor(threads),
        workload=WORKLOAD,
        method=method_descriptor(method),
        metrics={
            "output_tokens_per_s": tps,
            "ttft_p50_ms": 100.0,
            "tpot_p50_ms": 1000.0 / tps,
            "peak_rss_bytes": 2**30,
            "requests_per_s": tps / 16,
            "e2e_p50_ms": 500.0,
        },
        quality={
            "reference": "hf-eager",
            "exact": exact_match == 1.0,
            "exact_match_rate": exact_match,
            "token_agreement": agreement,
            "ok": True,
        },
        samples=[{"repetition": seed}],
        env={"torch": "synthetic"},
        config={"seed": seed},
        measured_at="2026-01-01T00:00:00Z",
    )


@dataclass
class Provider:
    owner: LocalAccount
    agent: LocalAccount
    threads: int
    attester: Attester
    seeds: Iterator[int]

    @property
    def address(self) -> str:
        return self.owner.address

    @property
    def hardware_id(self) -> str:
        return content_id(hardware_descriptor(self.threads))


@dataclass
class SyntheticMarket:
    """A fresh deployment with staked providers and a client, on any dev chain."""

    w3: Web3
    deployment: Deployment
    admin: LocalAccount
    client: LocalAccount
    store: LocalBlobStore
    providers: list[Provider]

    @cached_property
    def market(self) -> Market:
        return Market.at(self.w3, self.deployment)

    @property
    def matcher_key(self) -> str:
        """The admin holds MATCHER_ROLE (``deploy_market``'s default matcher)."""
        return self.admin.key.to_0x_hex()

    @classmethod
    def create(cls, rpc_url: str, root: Path, n_providers: int = 2) -> SyntheticMarket:
        w3 = connect(rpc_url)
        admin, client = Account.create(), Account.create()
        for account in (admin, client):
            fund(w3, account.address, 100 * ETHER)
        deployment = deploy_market(w3, admin)
        deployment.save(root / "deployments")
        store = LocalBlobStore(root / "blobs")
        market = Market.at(w3, deployment)
        providers = []
        for i in range(n_providers):
            owner, agent = Account.create(), Account.create()
            fund(w3, owner.address, 10 * ETHER)
            fund(w3, agent.address, ETHER)  # the agent pays for its attestations
            threads = i + 1
            market.registry.as_(owner).register(
                agent=agent,
                hardware_id=content_id(hardware_descriptor(threads)),
                price_per_second=PRICE_PER_SECOND,
                metadata_uri=f"metainf://synthetic-{i}",
                stake_wei=3 * ETHER,
            )
            attester = Attester(market, owner.address, agent, store)
            providers.append(Provider(owner, agent, threads, attester, iter(range(10**9))))
        return cls(w3, deployment, admin, client, store, providers)

    def measurements(self, provider: Provider, n: int) -> list[Measurement]:
        """``n`` new reports of ``provider`` (cycling over the methods), stored."""
        out = []
        names = list(METHODS)
        for _ in range(n):
            seed = next(provider.seeds)
            report = synthetic_report(provider.threads, names[seed % len(names)], seed)
            self.store.put_json(report)
            out.append(Measurement.from_report(report))
        return out

    def post(self, provider: Provider, n_items: int, batch_size: int = 1) -> list[Posted]:
        """Post ``n_items`` attestations in transactions of ``batch_size`` items."""
        items = self.measurements(provider, n_items)
        return [
            provider.attester.post(items[i : i + batch_size])
            for i in range(0, len(items), batch_size)
        ]

    def create_job(
        self, *, quality: str | float = "exact", escrow_wei: int | None = None, seed: int = 0
    ) -> int:
        spec = JobSpec(
            model_id=content_id(MODEL),
            prompts=[f"prompt {seed} {i}" for i in range(4)],
            max_new_tokens=8,
            workload_id=content_id(WORKLOAD),
            quality=quality,
        )
        self.store.put_json(spec.to_document())
        now = self.w3.eth.get_block("latest")["timestamp"]
        receipt = self.market.jobs.as_(self.client).create_job(
            spec_hash=spec.spec_hash,
            model_id=spec.model_id,
            workload_id=spec.workload_id,
            max_runtime_s=600,
            deadline=now + 3600,
            escrow_wei=escrow_wei if escrow_wei is not None else Web3.to_wei(0.01, "ether"),
        )
        return self.market.jobs.created_job_id(receipt)

    def assignments(self, job_ids: Sequence[int]) -> dict[int, int]:
        """job id -> how many ``JobAssigned`` events the chain holds for it."""
        logs = self.market.jobs.logs("JobAssigned", self.deployment.block_number)
        counts = dict.fromkeys(job_ids, 0)
        for log in logs:
            job_id = log["args"]["jobId"]
            if job_id in counts:
                counts[job_id] += 1
        return counts


# ------------------------------------------------------------------------ what happened


@dataclass(frozen=True)
class BackendState:
    """What the backend database holds, summed up for the assertions of a test."""

    event_positions: list[tuple[str, int]]  # (tx hash, log index) of every stored event
    attestations: int
    attestation_events: int  # distinct events the attestation rows hang off
    verified: int  # signature and report both re-verified
    unverified: int  # signature not checked yet
    rejected: int  # signature or report found wrong
    decisions: dict[int, int]  # job id -> decisions stored
    jobs: dict[int, str]  # job id -> status as indexed
    unsent: int  # decided for a provider, no assignJob recorded
    next_block: int


def backend_state(database_url: str) -> BackendState:
    from sqlalchemy import func, select

    from backend.db import (
        AttestationRow,
        ChainEvent,
        IndexerCursor,
        JobRow,
        MatchDecision,
        session_scope,
    )

    with session_scope(database_url) as s:
        positions = [tuple(r) for r in s.execute(select(ChainEvent.tx_hash, ChainEvent.log_index))]
        att = s.execute(
            select(
                func.count(),
                func.count(func.distinct(AttestationRow.event_id)),
                func.count().filter(
                    AttestationRow.signature_ok.is_(True) & AttestationRow.report_ok.is_(True)
                ),
                func.count().filter(AttestationRow.signature_ok.is_(None)),
                func.count().filter(
                    AttestationRow.signature_ok.is_(False) | AttestationRow.report_ok.is_(False)
                ),
            )
        ).one()
        decisions = {
            job_id: n
            for job_id, n in s.execute(
                select(MatchDecision.job_id, func.count()).group_by(MatchDecision.job_id)
            )
        }
        unsent = s.scalar(
            select(func.count()).where(
                MatchDecision.provider.is_not(None), MatchDecision.tx_hash.is_(None)
            )
        )
        jobs = {
            job_id: status for job_id, status in s.execute(select(JobRow.job_id, JobRow.status))
        }
        cursor = s.scalar(select(func.max(IndexerCursor.next_block))) or 0
    return BackendState(positions, *att, decisions, jobs, unsent or 0, cursor)


def chain_positions(market: SyntheticMarket) -> list[tuple[str, int]]:
    """(tx hash, log index) of every log the deployment's three contracts emitted."""
    d = market.deployment
    logs = market.w3.eth.get_logs(
        {
            "address": [d.provider_registry, d.attestation_registry, d.job_market],
            "fromBlock": d.block_number,
            "toBlock": "latest",
        }
    )
    return [("0x" + bytes(log["transactionHash"]).hex(), log["logIndex"]) for log in logs]


def attested_on_chain(market: SyntheticMarket) -> int:
    return len(market.market.attestations.logs("Attested", market.deployment.block_number))


def tasks_in_flight(log: str) -> list[str]:
    """Task ids a worker log shows received and never finished (lost when it was killed)."""
    import re

    received = re.findall(r"Task (backend\.\w+\[[0-9a-f-]+\]) received", log)
    finished = set(re.findall(r"Task (backend\.\w+\[[0-9a-f-]+\]) (?:succeeded|raised|retry)", log))
    return [t for t in received if t not in finished]


@contextlib.contextmanager
def real_database(root: Path, prefer_postgres: bool = True) -> Iterator[str]:
    """A migrated database of its own: PostgreSQL when one answers (the deployment's
    database), otherwise a SQLite file."""
    import uuid

    from sqlalchemy import create_engine, text

    from backend.db import engine_for
    from backend.migrate import upgrade
    from tests.backend.conftest import POSTGRES, _postgres_answers

    if not (prefer_postgres and _postgres_answers()):
        url = f"sqlite:///{root / 'backend.db'}"
        upgrade(url)
        yield url
        return
    name = f"metainf_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{POSTGRES}/{name}"
    try:
        upgrade(url)
        yield url
    finally:
        engine_for(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


_NOTEWORTHY = re.compile(r"WARNING|ERROR|CRITICAL|Connected to|lost|retry|Cannot connect")


def log_digest(proc: Proc, n_noteworthy: int = 25, n_last: int = 8) -> str:
    """The log lines that tell a stalled run apart: warnings, errors, reconnects and
    retries (tracebacks left out), then the last few lines whatever they are."""
    lines = proc.log().splitlines()
    marked = [ln for ln in lines if ln.startswith("[") and _NOTEWORTHY.search(ln)]
    return "\n".join(
        [f"--- {proc.name} ({'alive' if proc.alive() else 'exited'}): noteworthy"]
        + [ln[:300] for ln in marked[-n_noteworthy:]]
        + [f"--- {proc.name}: last {n_last} lines"]
        + [ln[:300] for ln in lines[-n_last:]]
    )


def jobs_digest(market: SyntheticMarket, database_url: str, jobs: Sequence[int]) -> str:
    """Each job as the chain and the backend see it: where a job stopped on its way."""
    from sqlalchemy import select

    from backend.db import JobRow, MatchDecision, session_scope

    with session_scope(database_url) as s:
        rows = {r.job_id: r for r in s.scalars(select(JobRow))}
        decided = {d.job_id: d for d in s.scalars(select(MatchDecision))}
        out = []
        for j in jobs:
            row, d = rows.get(j), decided.get(j)
            chain = market.market.jobs.get_job(j).status.name.lower()
            indexed = "not indexed" if row is None else f"indexed {row.status}"
            if row is not None and row.unmatched_reason:
                indexed += f" (unmatched: {row.unmatched_reason})"
            if d is None:
                decision = "no decision"
            else:
                to = d.provider[:10] if d.provider else "nobody"
                sent = "sent" if d.tx_hash else "not sent"
                decision = f"decided for {to}, {sent}: {d.reason}"
            out.append(f"job {j}: chain {chain}; {indexed}; {decision}")
    return "\n".join(out)


def explain_stall(
    market: SyntheticMarket, database_url: str, jobs: Sequence[int], procs: Sequence[Proc]
) -> str:
    """What a recovery test prints when it times out: CI keeps no process logs."""
    try:
        parts = [jobs_digest(market, database_url, jobs)]
    except Exception as exc:  # noqa: BLE001 - a post-mortem must not hide the failure
        parts = [f"(jobs unreadable: {exc!r})"]
    return "\n".join(parts + [log_digest(p) for p in procs])
