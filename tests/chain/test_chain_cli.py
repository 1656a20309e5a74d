"""`metainf chain ...` as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from chain.hardhat import rpc_chain_id
from metainf_cli.main import cli
from tests.conftest import free_port


def test_deploy_rejects_a_bad_rpc_url() -> None:
    result = CliRunner().invoke(cli, ["chain", "deploy", "--rpc", "ftp://nowhere"])
    assert result.exit_code != 0
    assert "rpc_url" in result.output and "http(s) URL" in result.output


@pytest.mark.hardhat
def test_chain_up_deploys_and_down_stops_the_node(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "METAINF_KEY_FILE": str(tmp_path / "keys.json")}
    metainf = [sys.executable, "-m", "metainf_cli.main"]
    up = subprocess.run(
        [*metainf, "chain", "up", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        assert up.returncode == 0, up.stderr
        assert rpc_chain_id(f"http://127.0.0.1:{port}") == 31337
        deployment = json.loads((tmp_path / "deployments" / "31337.json").read_text())
        assert deployment["job_market"].startswith("0x")
        assert oct((tmp_path / "keys.json").stat().st_mode)[-3:] == "600"
    finally:
        down = subprocess.run(
            [*metainf, "chain", "down"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert down.returncode == 0, down.stderr
    assert "stopped hardhat node" in down.stdout
    assert rpc_chain_id(f"http://127.0.0.1:{port}") is None
