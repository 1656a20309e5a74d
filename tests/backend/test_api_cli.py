"""`metainf backend migrate` and `metainf backend api` (a real uvicorn process)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from metainf_cli.backend_cmd import backend
from tests.conftest import free_port


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAINF_")}
    env["METAINF_DATA_DIR"] = str(tmp_path / "data")
    return env


def test_migrate_creates_the_schema_and_says_where(tmp_path: Path) -> None:
    env = _env(tmp_path)
    runner = CliRunner()
    result = runner.invoke(backend, ["migrate"], env=env)
    assert result.exit_code == 0, result.output
    assert "backend.db at revision" in result.output
    assert runner.invoke(backend, ["migrate"], env=env).exit_code == 0  # idempotent
    bad = runner.invoke(backend, ["migrate"], env={**env, "METAINF_DATABASE_URL": "nope://x"})
    assert bad.exit_code != 0 and "cannot migrate" in bad.output


def test_api_refuses_a_remote_blob_store(tmp_path: Path) -> None:
    env = {**_env(tmp_path), "METAINF_BLOB_STORE": "http://elsewhere:8000"}
    result = CliRunner().invoke(backend, ["api", "--port", "1"], env=env)
    assert result.exit_code != 0 and "local blob store" in result.output


def test_api_serves_over_http(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert CliRunner().invoke(backend, ["migrate"], env=env).exit_code == 0
    port = free_port()
    cmd = [sys.executable, "-m", "metainf_cli.main", "backend", "api", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the API did not come up"
                time.sleep(0.2)
        assert health.status_code == 200 and health.json()["database"] is True
        r = httpx.put(f"http://127.0.0.1:{port}/blobs", content=b"hello")
        assert r.status_code == 200
        assert (tmp_path / "data" / "blobs").is_dir()
    finally:
        proc.terminate()
        proc.wait(10)
