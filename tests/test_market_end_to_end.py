"""The whole market as separate processes, each started the way its README quick start says:
a real `hardhat node` (deployed with `metainf chain deploy`), a private Redis, PostgreSQL
(SQLite when none answers), the backend's API, worker and beat, two providers that
benchmark, register, attest and serve jobs with `metainf provider ...`, a client that pays
for a job with `metainf job submit` and follows it with `metainf job wait`, and an auditor
that checks every attestation with `metainf audit verify --strict`.

Each role has a key file of its own and talks to the others only through the chain and
the backend's HTTP API (reports, specs and results go through its blob endpoint).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chain.clients import JobStatus, Market
from chain.connection import advance_time, connect
from chain.deploy import Deployment
from tests.backend.processes import (
    REPO,
    Proc,
    free_port,
    real_database,
    start_api,
    start_beat,
    start_worker,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.hardhat, pytest.mark.redis]

MODEL = "random:tiny"
WORKLOADS = "chat,shared-prefix"
METHODS = "hf-eager,hf-sdpa,hf-int8"
PROVIDERS = {"north": "cpu-1t", "south": "cpu-2t"}


def role_env(root: Path, role: str, rpc_url: str, extra: dict[str, str] | None = None) -> dict:
    """A role's environment: its own key file and data dir, the shared chain deployment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAINF_")}
    env |= {
        "METAINF_RPC_URL": rpc_url,
        "METAINF_DEPLOYMENTS_DIR": str(root / "deployments"),
        "METAINF_KEY_FILE": str(root / role / "keys.json"),
        "METAINF_DATA_DIR": str(root / role / "data"),
        "METAINF_CACHE_DIR": str(root / "cache"),  # one copy of the random model
        "PYTHONUNBUFFERED": "1",
    }
    return env | (extra or {})


def metainf(env: dict, *args: str, timeout_s: float = 600) -> str:
    """Run one `metainf` command to completion; its output, or a failure that shows it."""
    run = subprocess.run(
        [sys.executable, "-m", "metainf_cli.main", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    assert run.returncode == 0, f"metainf {' '.join(args)}:\n{run.stdout}\n{run.stderr}"
    return run.stdout


def test_the_market_as_separate_processes(hardhat_url: str, redis_url: str, tmp_path: Path) -> None:
    operator = role_env(tmp_path, "operator", hardhat_url)
    metainf(operator, "chain", "deploy", "--rpc", hardhat_url)
    w3 = connect(hardhat_url)
    deployment = Deployment.load(tmp_path / "deployments", w3.eth.chain_id)
    market = Market.at(w3, deployment)

    port = free_port()
    api_url = f"http://127.0.0.1:{port}"
    procs: list[Proc] = []
    with real_database(tmp_path) as database_url:
        backend = operator | {
            "METAINF_REDIS_URL": redis_url,
            "METAINF_DATABASE_URL": database_url,
            "METAINF_BLOB_STORE": str(tmp_path / "operator" / "blobs"),
            "METAINF_TRAIN_MIN_NEW_CELLS": "4",
        }
        try:
            procs.append(start_api(backend, tmp_path / "api.log", port))
            procs.append(start_worker(backend, tmp_path / "worker.log"))
            procs.append(start_beat(backend, tmp_path / "beat.log"))
            providers = {
                name: role_env(tmp_path, name, hardhat_url, {"METAINF_BLOB_STORE": api_url})
                for name in PROVIDERS
            }
            for name, hardware in PROVIDERS.items():
                env, table = providers[name], str(tmp_path / name / "bench.json")
                metainf(env, "provider", "bench", "--models", MODEL, "--hardware", hardware,
                        "--workloads", WORKLOADS, "--methods", METHODS, "--reps", "3",
                        "--json", table)  # fmt: skip
                metainf(env, "provider", "register", "--hardware", hardware)
                metainf(env, "provider", "attest", "--table", table)
                run = ["-m", "metainf_cli.main", "provider", "run", "--model", MODEL]
                procs.append(
                    Proc(name, [sys.executable, *run, "--hardware", hardware,
                                "--poll-interval", "0.5"], env, tmp_path / f"{name}.log").start()
                )  # fmt: skip
            posted = 2 * len(WORKLOADS.split(",")) * len(METHODS.split(","))
            _wait_indexed(api_url, posted)

            client = role_env(tmp_path, "client", hardhat_url, {"METAINF_BACKEND_URL": api_url})
            model_id = json.loads(metainf(client, "provider", "model-info", MODEL))
            out = metainf(client, "job", "submit", "--model", model_id["modelId"],
                          "--prompt", "What is prefix caching?", "--prompt", "Say hello.",
                          "--max-new-tokens", "8", "--budget", "0.05", "--no-wait")  # fmt: skip
            job_id = int(out.split("job ")[1].split()[0])
            wait_for(
                lambda: market.jobs.get_job(job_id).status is JobStatus.SUBMITTED,
                180,
                f"job {job_id} matched, accepted and delivered",
            )
            advance_time(w3, deployment.params.job_challenge_window_s + 1)
            outcome = json.loads(metainf(client, "job", "wait", str(job_id), "--timeout", "120"))
            assert outcome["state"] == "finalized", outcome
            assert len(outcome["outputs"]) == 2 and outcome["cost_wei"] > 0
            job = market.jobs.get_job(job_id)
            assert job.status is JobStatus.FINALIZED
            served = (tmp_path / f"{_name_of(job.provider, providers)}.log").read_text()
            assert f"job {job_id} delivered" in served, served[-2000:]

            auditor = role_env(tmp_path, "auditor", hardhat_url, {"METAINF_BLOB_STORE": api_url})
            report = tmp_path / "audit.json"
            metainf(auditor, "audit", "verify", "--strict", "--json", str(report))
            checks = json.loads(report.read_text())["attestations"]
            assert len(checks) == posted
            assert {c["status"] for c in checks} == {"ok"}
            assert all(p.alive() for p in procs), [p.name for p in procs if not p.alive()]
        finally:
            for proc in reversed(procs):
                proc.stop()


def _wait_indexed(api_url: str, n: int) -> None:
    import httpx

    def verified() -> bool:
        page = httpx.get(f"{api_url}/attestations", params={"limit": 500}, timeout=5).json()
        items = page["items"]
        return len(items) >= n and all(a["signature_ok"] and a["report_ok"] for a in items)

    wait_for(verified, 120, f"{n} attestations indexed and verified by the backend")


def _name_of(address: str, providers: dict[str, dict]) -> str:
    """Which of our providers owns ``address`` (its key file names the owner key)."""
    from eth_account import Account

    for name, env in providers.items():
        keys = json.loads(Path(env["METAINF_KEY_FILE"]).read_text())
        if Account.from_key(keys["provider"]).address == address:
            return name
    raise AssertionError(f"{address} is none of our providers")
