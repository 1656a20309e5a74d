"""The backend as an operator runs it: `metainf backend worker`, `beat` and `api` as real
processes, configured by ``METAINF_*`` alone, on a real `hardhat node`, a real database
(SQLite file; PostgreSQL when one answers) and a real broker (the embedded SQLite
transport, no server; and a private redis-server).

Signed attestations posted on chain are indexed and re-verified (signer and report) by
Celery tasks, and paid jobs created on chain are matched and assigned on chain by the
worker with the matcher key (``METAINF_MATCHER_KEY``, the admin's: it holds MATCHER_ROLE);
an infeasible job is left unmatched with the reason; the API explains every decision.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from backend.db import AttestationRow, session_scope
from chain.clients import JobStatus
from protocol.canonical import content_id
from tests.backend.processes import (
    RedisServer,
    SyntheticMarket,
    attested_on_chain,
    backend_env,
    backend_state,
    chain_positions,
    free_port,
    method_descriptor,
    start_api,
    start_beat,
    start_worker,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.hardhat]

SDPA = content_id(method_descriptor("hf-sdpa"))
INT8 = content_id(method_descriptor("hf-int8"))


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    """None: the embedded SQLite transport; otherwise the URL of a private Redis."""
    if request.param == "embedded":
        yield None
        return
    if not RedisServer.available():
        pytest.skip("redis-server is not installed")
    with RedisServer(tmp_path / "redis") as server:
        yield server.url


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _assigned(market: SyntheticMarket, job_ids: list[int]) -> bool:
    return all(market.market.jobs.get_job(j).status is JobStatus.ASSIGNED for j in job_ids)


def test_the_worker_indexes_verifies_and_matches(
    hardhat_url: str, database_url: str, broker: str | None, tmp_path: Path
) -> None:
    market = SyntheticMarket.create(hardhat_url, tmp_path)
    slow, fast = market.providers  # 1 and 2 threads: the second is twice as fast
    market.post(slow, 4)  # single attestations
    market.post(fast, 12, batch_size=6)  # two batches
    market.post(fast, 2)
    n = attested_on_chain(market)
    assert n == 18
    env = backend_env(
        tmp_path,
        rpc_url=hardhat_url,
        database_url=database_url,
        matcher_key=market.matcher_key,
        redis_url=broker,
    )
    port = free_port()
    worker = start_worker(env, tmp_path / "worker.log", wait=False)
    beat = start_beat(env, tmp_path / "beat.log", wait=False)
    procs = [worker, beat]
    try:
        procs.append(start_api(env, tmp_path / "api.log", port))
        worker.wait_log(" ready.")
        wait_for(
            lambda: backend_state(database_url).verified == n, 90, "every attestation verified"
        )
        state = backend_state(database_url)
        assert (state.attestations, state.attestation_events, state.rejected) == (n, n, 0)
        with session_scope(database_url) as s:
            signers = {(r.provider, r.signer) for r in s.scalars(select(AttestationRow))}
        assert signers == {(p.address, p.agent.address) for p in market.providers}

        exact = market.create_job(quality="exact", seed=1)
        lossy = market.create_job(quality=0.0, seed=2)  # int8 allowed: the fastest
        broke = market.create_job(escrow_wei=10**6, seed=3)  # nothing fits this escrow
        jobs = [exact, lossy, broke]
        wait_for(lambda: _assigned(market, [exact, lossy]), 60, "both feasible jobs assigned")
        wait_for(
            lambda: backend_state(database_url).decisions == dict.fromkeys(jobs, 1),
            30,
            "one decision per job",
        )
        on_chain = {j: market.market.jobs.get_job(j) for j in jobs}
        assert (on_chain[exact].provider, _hex(on_chain[exact].method_id)) == (fast.address, SDPA)
        assert (on_chain[lossy].provider, _hex(on_chain[lossy].method_id)) == (fast.address, INT8)
        assert on_chain[broke].status is JobStatus.OPEN
        assert market.assignments(jobs) == {exact: 1, lossy: 1, broke: 0}

        api = f"http://127.0.0.1:{port}"

        def indexed(job_id: int, status: str) -> dict | None:
            view = httpx.get(f"{api}/jobs/{job_id}", timeout=5)
            return (
                view.json() if view.status_code == 200 and view.json()["status"] == status else None
            )

        view = wait_for(lambda: indexed(exact, "assigned"), 30, "the assignment indexed")
        decision = view["decision"]
        assert decision["provider"] == fast.address and decision["method_id"] == SDPA
        assert decision["tx_hash"] and int(decision["price_wei"]) == on_chain[exact].price
        best = decision["candidates"][0]
        assert best["method_name"] == "hf-sdpa" and best["predicted_runtime_s"] > 0
        unmatched = wait_for(lambda: indexed(broke, "open"), 30, "the unmatched job")
        assert "predicted cost exceeds the escrow" in unmatched["unmatched_reason"]
        assert unmatched["decision"]["provider"] is None

        wait_for(
            lambda: (
                sorted(backend_state(database_url).event_positions)
                == sorted(chain_positions(market))
            ),
            30,
            "every event of the deployment stored once",
        )
        assert "raised unexpected" not in worker.log()
    finally:
        for proc in reversed(procs):
            proc.stop()
