"""`metainf demo` runs one real marketplace round and reports where the money went."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from metainf_cli.main import cli


def test_demo_benchmarks_attests_and_pays_a_job(tmp_path: Path) -> None:
    out = tmp_path / "demo.json"
    run = CliRunner().invoke(
        cli, ["demo", "--work-dir", str(tmp_path / "work"), "--json", str(out)]
    )
    assert run.exit_code == 0, run.output
    result = json.loads(out.read_text())
    assert result["attestations_posted"] == result["attestations_verified"] == 8
    assert result["job_state"] == "finalized"
    tps = result["attested_tokens_per_s"]
    exact = {m: v for m, v in tps.items() if m != "hf-int8"}  # int8 is lossy, not eligible
    assert result["method"] == max(exact, key=exact.get)
    assert result["provider_paid_wei"] > 0 and result["client_refund_wei"] > 0
    assert result["provider_paid_wei"] + result["client_refund_wei"] < 10**16  # fee kept
