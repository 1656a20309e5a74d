"""`metainf audit ...` against a real hardhat node, deployed with `metainf chain deploy`:
verify (table + JSON), rebench refusing what this host cannot reproduce, job on a job
without a result, challenge with the arbiter's ruling, withdraw."""

from __future__ import annotations

import copy
import json
from contextlib import chdir
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from chain.clients import Market
from chain.connection import connect
from chain.deploy import Deployment, MarketParams
from metainf_cli.main import cli
from protocol.canonical import content_id
from protocol.eip712 import Measurement
from protocol.keys import load_account
from protocol.settings import Settings
from tests.auditor.conftest import STREAM, Measured, make_world

pytestmark = [pytest.mark.hardhat]

PARAMS = MarketParams()


def metainf(tmp_path: Path, rpc: str, *args: str) -> Result:
    env = {"METAINF_KEY_FILE": str(tmp_path / "keys.json"), "METAINF_RPC_URL": rpc}
    with chdir(tmp_path):
        return CliRunner().invoke(cli, list(args), env=env)


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_audit_commands_on_a_hardhat_node(
    tmp_path: Path, hardhat_url: str, measured: Measured
) -> None:
    ok(metainf(tmp_path, hardhat_url, "chain", "deploy", "--rpc", hardhat_url))
    w3 = connect(hardhat_url)
    deployment = Deployment.load(tmp_path / "deployments", w3.eth.chain_id)
    admin = load_account("admin", Settings(key_file=tmp_path / "keys.json"))
    world = make_world(w3, measured, deployment, admin)
    assert world.market == Market.at(w3, deployment)
    honest = measured.report(STREAM)
    good = world.post(world.honest, honest)
    claim = Measurement.from_report(honest)
    lie = world.post_measurements(
        world.cheat, claim.model_copy(update={"tokensPerSecX1000": 3 * claim.tokensPerSecX1000})
    )
    unknown = copy.deepcopy(honest)
    unknown["model"]["weights_sha256"] = "0" * 64
    unknown["ids"]["modelId"] = content_id(unknown["model"])
    elsewhere = world.post(world.cheat, unknown)
    store = ["--blob-store", str(measured.blobs)]

    out = ok(metainf(tmp_path, hardhat_url, "audit", "verify", *store, "--json", "v.json"))
    assert "3 attestations" in out and "2 ok, 1 flagged" in out
    assert "report-mismatch: attested fields disagree with the report: tokensPerSecX1000" in out
    doc = json.loads((tmp_path / "v.json").read_text())
    status = {(a["tx_hash"], a["index"]): a["status"] for a in doc["attestations"]}
    assert status == {
        (good.tx_hash, 0): "ok",
        (lie.tx_hash, 0): "flagged",
        (elsewhere.tx_hash, 0): "ok",
    }
    assert metainf(tmp_path, hardhat_url, "audit", "verify", *store, "--strict").exit_code == 1

    out = ok(
        metainf(tmp_path, hardhat_url, "audit", "rebench", *store, "--tx", f"{elsewhere.tx_hash}:0")
    )
    assert "tolerance = max(100%, 3 x combined uncertainty of the medians)" in out
    assert "not comparable (model 'llama-random-tiny'" in out

    out = ok(metainf(tmp_path, hardhat_url, "audit", "job", *store, "1", "--json", "j.json"))
    assert (
        "not checkable (there is no job 1)" in out
        and json.loads((tmp_path / "j.json").read_text())["job_id"] == 1
    )

    counter = measured.reports[STREAM]
    args = ["audit", "challenge", *store, "--tx", lie.tx_hash, "--counter-report", counter]
    out = ok(metainf(tmp_path, hardhat_url, *args, "--resolve-as-arbiter", "--json", "c.json"))
    reward = PARAMS.attestation_slash_wei * PARAMS.challenger_share_bps // 10_000
    credited = PARAMS.min_challenge_bond_wei + reward
    assert "challenge #1 opened" in out and "ruling: upheld" in out
    assert f"provider slashed {PARAMS.attestation_slash_wei} wei" in out
    assert f"withdrawable by the auditor: {credited} wei" in out
    assert json.loads((tmp_path / "c.json").read_text())["ruling"]["status"] == "UPHELD"

    out = ok(metainf(tmp_path, hardhat_url, "audit", "withdraw", *store))
    assert f"withdrew {credited} wei" in out
    assert "withdrew 0 wei" in ok(metainf(tmp_path, hardhat_url, "audit", "withdraw", *store))
    bad = metainf(tmp_path, hardhat_url, *args)  # an upheld claim cannot be challenged again
    assert bad.exit_code == 1 and "ClaimAlreadyUpheld" in bad.output, bad.output
