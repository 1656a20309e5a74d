"""`metainf demo` runs the whole marketplace once and reports where the money went.

The slowest test of the suite (a few minutes on 2 cores): it is the product's main job."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from metainf_cli.main import cli

KEYS = {
    "attestations_posted",
    "attestations_verified",
    "job_state",
    "provider",
    "method",
    "predicted_best_method",
    "measured_best_method",
    "speedup_vs_baseline",
    "chosen_vs_best_throughput",
    "provider_paid_wei",
    "client_refund_wei",
    "false_attestation_slashed",
}


@pytest.mark.slow
@pytest.mark.serial  # its auditor judges a claim by re-measuring it on this host
def test_demo_runs_the_marketplace_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "demo.json"
    run = CliRunner().invoke(
        cli, ["demo", "--work-dir", str(tmp_path / "work"), "--json", str(out)]
    )
    assert run.exit_code == 0, run.output
    result = json.loads(out.read_text())
    assert set(result) >= KEYS
    assert result["job_state"] == "finalized"
    assert result["provider_paid_wei"] > 0 and result["client_refund_wei"] > 0
    # every honest attestation verifies; the false one is caught and slashed
    assert result["attestations_verified"] == result["attestations_posted"] - 1
    assert result["false_attestation_slashed"] is True
    assert result["method"] in result["details"]["measured_tokens_per_s"]
    report = tmp_path / "work" / "report"
    assert (report / "report.md").read_text().startswith("# MetaInf Market demo")
    assert (report / "predicted_vs_measured.png").stat().st_size > 1000
