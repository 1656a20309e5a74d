"""The usual mistakes with the chain-facing commands get a message saying what to do.

Each case runs the real command against a real chain (a hardhat node) or against nothing
at all, with its own key file and working directory.
"""

from __future__ import annotations

import json
from contextlib import chdir
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from metainf_cli.main import cli
from tests.conftest import free_port


def metainf(tmp_path: Path, *args: str, rpc: str | None = None) -> Result:
    env = {"METAINF_KEY_FILE": str(tmp_path / "keys.json"), "METAINF_RPC_URL": rpc}
    with chdir(tmp_path):
        return CliRunner().invoke(cli, list(args), env={k: v for k, v in env.items() if v})


def assert_fails(result: Result, *fragments: str) -> None:
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    for fragment in fragments:
        assert fragment in result.output, result.output


def test_a_bad_rpc_url_is_named(tmp_path: Path) -> None:
    assert_fails(metainf(tmp_path, "chain", "deploy", "--rpc", "ftp://nowhere"), "http(s) URL")


def test_no_chain_running_says_how_to_start_one(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert_fails(metainf(tmp_path, "chain", "deploy", "--rpc", url), "metainf chain up")
    assert_fails(
        metainf(tmp_path, "provider", "register", "--rpc", url, "--hardware", "cpu-1t"),
        "no JSON-RPC node answers",
        "metainf chain up",
    )


def test_an_in_process_chain_is_refused_by_commands_that_need_a_lasting_one(tmp_path) -> None:
    assert_fails(
        metainf(tmp_path, "provider", "register", "--hardware", "cpu-1t"),
        "metainf chain up",
        "METAINF_RPC_URL",
    )


@pytest.mark.hardhat
def test_no_deployment_on_a_running_chain_says_to_deploy(tmp_path: Path, hardhat_url) -> None:
    result = metainf(tmp_path, "provider", "register", "--hardware", "cpu-1t", rpc=hardhat_url)
    assert_fails(result, "no deployment for chain 31337", "metainf chain deploy")


def test_unknown_hardware_model_and_method_are_named(tmp_path: Path) -> None:
    assert_fails(
        metainf(tmp_path, "provider", "run", "--model", "random:tiny", "--hardware", "cuda9"),
        "no hardware profile 'cuda9'",
    )
    assert_fails(
        metainf(tmp_path, "provider", "run", "--model", str(tmp_path / "nope")),
        "neither a directory nor a known name",
    )
    assert_fails(
        metainf(tmp_path, "provider", "run", "--model", "random:tiny", "--method", "warp-drive"),
        "unknown method 'warp-drive'",
    )


def test_attest_names_a_wrong_table_and_missing_reports(tmp_path: Path) -> None:
    csv = tmp_path / "table.csv"
    csv.write_text("model,hardware\nx,y\n")
    assert_fails(
        metainf(tmp_path, "provider", "attest", "--table", str(csv)), "not a readable JSON table"
    )
    sidecar = tmp_path / "descriptors.json"
    sidecar.write_text(json.dumps({"model": {}, "ids": {}}))
    assert_fails(
        metainf(tmp_path, "provider", "attest", "--table", str(sidecar)),
        "has no rows with a reportHash",
        "metainf provider bench --json",
    )
    committed = Path(__file__).resolve().parents[2] / "data" / "metadataset" / "cpu-v1.json"
    assert_fails(
        metainf(
            tmp_path,
            "provider",
            "attest",
            "--table",
            str(committed),
            "--blob-store",
            str(tmp_path / "empty"),
        ),
        "288 of the 288 reports",
        "are not in the blob store",
        "--blob-store",
    )
    assert_fails(
        metainf(tmp_path, "provider", "attest", "--table", str(tmp_path / "missing.json")),
        "does not exist",
    )
