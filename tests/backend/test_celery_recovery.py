"""At-least-once delivery, for real: a worker SIGKILLed in the middle of a batch, and the
broker restarted under load, lose nothing and duplicate nothing.

Real processes (`metainf backend worker`, `beat`), a real `hardhat node`, a real database
and a real broker. "Nothing lost": every attestation on chain is stored and verified, every
job has a decision and is assigned on chain. "Nothing duplicated": one row per event (the
stored event positions are exactly the chain's logs), one attestation row per ``Attested``
event, one decision per job, one ``assignJob`` (``JobAssigned`` log) per job.

Which mechanism brings back the work a dead worker held:

* **Redis** (visibility timeout): the tasks are ``acks_late``, so a message the killed
  worker had taken (running or prefetched) stays unacknowledged in Redis and is delivered
  again once ``METAINF_TASK_VISIBILITY_TIMEOUT_S`` (3 s here) has passed. The kill test on
  Redis runs *no* beat and no sweep: the test enqueues ``backend.index_chain`` itself, so
  redelivery is the only way back for the lost messages.
* **Embedded SQLite transport** (sweep): the transport hides a message once delivered and
  never shows it again, so messages a dead worker held are gone; beat's periodic
  ``backend.index_chain`` resumes indexing from the stored cursor, and ``backend.sweep``
  (every 10 s) re-enqueues unverified attestation transactions, undecided open jobs and
  jobs decided but never sent on chain.
* **Redis restarted** (no persistence: every queued and unacknowledged message is gone),
  and away for seconds: the worker and beat reconnect by themselves (the worker through
  ``backend.broker``'s transport); beat and the sweep re-create the lost work.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from chain.clients import JobStatus
from tests.backend.processes import (
    BackendState,
    Proc,
    RedisServer,
    SyntheticMarket,
    attested_on_chain,
    backend_env,
    backend_state,
    chain_positions,
    explain_stall,
    real_database,
    start_beat,
    start_worker,
    tasks_in_flight,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.hardhat]

VISIBILITY_TIMEOUT_S = 3
REDIS_DOWN_S = 5
_INDEXED = re.compile(r"Task backend\.index_chain\[[0-9a-f-]+\] succeeded")
N_JOBS = 8  # two providers take four open jobs each: every job finds a free one


def _send(redis_url: str | None, task: str) -> None:
    """Enqueue a task by name, as beat would (Redis only: the test is the scheduler)."""
    from celery import Celery

    app = Celery("metainf-test", broker=redis_url)
    try:
        app.send_task(task)
    finally:
        app.close()


def _all_assigned(market: SyntheticMarket, jobs: list[int]) -> bool:
    return all(market.market.jobs.get_job(j).status is JobStatus.ASSIGNED for j in jobs)


def _assert_exactly_once(market: SyntheticMarket, url: str, jobs: list[int]) -> BackendState:
    """Nothing lost and nothing duplicated, on chain and in the database."""
    n = attested_on_chain(market)
    state = backend_state(url)
    assert (state.attestations, state.attestation_events) == (n, n)
    assert (state.verified, state.unverified, state.rejected) == (n, 0, 0)
    assert sorted(state.event_positions) == sorted(chain_positions(market))
    assert state.decisions == dict.fromkeys(jobs, 1)
    assert market.assignments(jobs) == dict.fromkeys(jobs, 1)
    assert _all_assigned(market, jobs)
    return state


def _caught_up(market: SyntheticMarket, url: str, jobs: list[int]) -> bool:
    state = backend_state(url)
    return (
        state.verified == attested_on_chain(market)
        and len(state.event_positions) >= len(chain_positions(market))
        and all(state.jobs.get(j) == "assigned" for j in jobs)
    )


@contextmanager
def _running(procs: list[Proc]) -> Iterator[list[Proc]]:
    try:
        yield procs
    finally:
        for proc in reversed(procs):
            proc.stop()


def _kill_when(
    worker: Proc, url: str, condition: Callable[[BackendState], bool], what: str
) -> tuple[BackendState, list[str]]:
    """SIGKILL the worker (and its pool) as soon as ``condition(state)`` holds while it
    holds a task it has not finished; returns the state then and the tasks in flight.

    Between two tasks a worker holds nothing to lose, so the worker is frozen (SIGSTOP)
    before its log is read: what the log shows in flight is then still in flight when the
    SIGKILL arrives. Otherwise it runs on and the condition is tried again."""
    in_flight: list[str] = []

    def frozen_holding_work() -> bool:
        if not condition(backend_state(url)):
            return False
        worker.pause()
        in_flight[:] = tasks_in_flight(worker.log())
        if in_flight:
            return True
        worker.resume()
        return False

    wait_for(frozen_holding_work, 90, f"{what}, with a task in flight", interval_s=0.02)
    worker.kill()
    return backend_state(url), in_flight


@pytest.mark.parametrize(
    ("transport", "prefer_postgres"),
    [("embedded", False), pytest.param("redis", True, marks=pytest.mark.redis)],
    ids=["embedded-sqlite", "redis-postgres"],
)
def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(
    hardhat_url: str, transport: str, prefer_postgres: bool, tmp_path: Path
) -> None:
    if transport == "redis" and not RedisServer.available():
        pytest.skip("redis-server is not installed")
    market = SyntheticMarket.create(hardhat_url, tmp_path)
    for provider in market.providers:
        market.post(provider, 16)  # 16 transactions of one attestation each
        market.post(provider, 32, batch_size=32)  # and a batch of 32
    n = attested_on_chain(market)
    with ExitStack() as stack:
        redis = (
            stack.enter_context(RedisServer(tmp_path / "redis")) if transport == "redis" else None
        )
        url = stack.enter_context(real_database(tmp_path, prefer_postgres))
        procs = stack.enter_context(_running([]))
        env = backend_env(
            tmp_path,
            rpc_url=hardhat_url,
            database_url=url,
            matcher_key=market.matcher_key,
            redis_url=redis.url if redis else None,
            visibility_timeout_s=VISIBILITY_TIMEOUT_S,
        )

        def index() -> None:  # beat does it on the embedded transport; on Redis, the test
            if redis is not None:
                _send(redis.url, "backend.index_chain")

        def new_worker() -> Proc:
            procs.append(start_worker(env, tmp_path / f"worker-{len(workers) + 1}.log"))
            workers.append(procs[-1])
            return procs[-1]

        def fanned_out() -> bool:
            """On Redis nothing re-creates follow-ups an index run died before enqueuing
            (that is the sweep's job, which the embedded case covers): kill after it."""
            return redis is None or _INDEXED.search(workers[-1].log()) is not None

        workers: list[Proc] = []
        jobs: list[int] = []
        stalled = lambda: explain_stall(market, url, jobs, procs)  # noqa: E731
        if redis is None:
            procs.append(start_beat(env, tmp_path / "beat.log", wait=False))
        new_worker()
        index()

        # 1. verification: killed once the first transaction is verified
        at_kill, lost = _kill_when(
            workers[-1], url, lambda s: s.verified > 0 and fanned_out(), "verification"
        )
        assert at_kill.verified < n, "the worker finished the batch before it was killed"
        assert lost, "no task was in flight when the worker was killed"
        new_worker()
        wait_for(
            lambda: backend_state(url).verified == n,
            120,
            "every attestation verified",
            explain=stalled,
        )

        # 2. matching: killed once the first job is decided
        jobs += [market.create_job(seed=i) for i in range(N_JOBS)]
        index()
        at_kill, lost = _kill_when(
            workers[-1], url, lambda s: len(s.decisions) > 0 and fanned_out(), "a decision"
        )
        assert len(at_kill.decisions) < N_JOBS or at_kill.unsent, "matching was over already"
        assert lost, "no task was in flight when the worker was killed"
        new_worker()
        wait_for(
            lambda: _all_assigned(market, jobs),
            120,
            "every job assigned on chain",
            explain=stalled,
        )
        index()  # the assignments
        wait_for(
            lambda: _caught_up(market, url, jobs),
            60,
            "the indexer to catch up",
            explain=stalled,
        )
        _assert_exactly_once(market, url, jobs)
        if redis is not None:  # the very messages the dead workers held came back
            for dead, successor in zip(workers, workers[1:], strict=False):
                held = tasks_in_flight(dead.log())
                assert all(f"Task {t} received" in successor.log() for t in held), held


@pytest.mark.redis
def test_redis_restarted_under_load_loses_and_duplicates_nothing(
    hardhat_url: str, tmp_path: Path
) -> None:
    if not RedisServer.available():
        pytest.skip("redis-server is not installed")
    market = SyntheticMarket.create(hardhat_url, tmp_path)
    for provider in market.providers:
        market.post(provider, 16, batch_size=16)
    with (
        RedisServer(tmp_path / "redis") as redis,
        real_database(tmp_path) as url,
        _running([]) as procs,
    ):
        env = backend_env(
            tmp_path,
            rpc_url=hardhat_url,
            database_url=url,
            matcher_key=market.matcher_key,
            redis_url=redis.url,
            visibility_timeout_s=VISIBILITY_TIMEOUT_S,
        )
        beat = start_beat(env, tmp_path / "beat.log", wait=False)
        procs += [beat, start_worker(env, tmp_path / "worker.log")]
        worker = procs[-1]
        jobs: list[int] = []
        stalled = lambda: explain_stall(market, url, jobs, procs)  # noqa: E731
        wait_for(
            lambda: backend_state(url).verified == 32,
            90,
            "the first wave verified",
            explain=stalled,
        )

        # load: a wave of single attestations and half the jobs, then the restart
        for provider in market.providers:
            market.post(provider, 12)
        jobs += [market.create_job(seed=i) for i in range(N_JOBS // 2)]
        wait_for(
            lambda: backend_state(url).verified > 32,
            60,
            "the second wave flowing",
            explain=stalled,
        )
        # every queued and unacknowledged message is gone, and Redis stays away long
        # enough for the worker to tear its connection down with tasks running (which
        # stopped the worker with kombu's stock transport: see backend/broker.py)
        redis.restart(down_s=REDIS_DOWN_S)
        for provider in market.providers:  # and work keeps coming while they reconnect
            market.post(provider, 4)
        jobs += [market.create_job(seed=i) for i in range(N_JOBS // 2, N_JOBS)]

        wait_for(
            lambda: _all_assigned(market, jobs),
            120,
            "every job assigned on chain",
            explain=stalled,
        )
        wait_for(
            lambda: _caught_up(market, url, jobs),
            90,
            "every attestation verified",
            explain=stalled,
        )
        _assert_exactly_once(market, url, jobs)
        assert worker.alive() and beat.alive(), "a process died instead of reconnecting"
        assert "Connection to broker lost" in worker.log()
