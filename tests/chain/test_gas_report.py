"""`bench/gas_report.py` (part of `make bench`) measures every operation within the goals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OPERATIONS = {
    "register",
    "attest",
    "attest_batch32_per_item",
    "create_job",
    "assign_job",
    "accept_job",
    "submit_result",
    "finalize",
}


def test_gas_report_writes_every_operation_within_the_goals(tmp_path: Path) -> None:
    out, md = tmp_path / "gas.json", tmp_path / "gas.md"
    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "gas_report.py"),
            "--json",
            str(out),
            "--md",
            str(md),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    gas = json.loads(out.read_text())
    assert set(gas) == OPERATIONS
    assert all(isinstance(v, int) and v > 21_000 // 32 for v in gas.values())
    assert gas["attest"] <= 95_000
    assert gas["attest_batch32_per_item"] <= 10_000
    assert "| attest | " in md.read_text()
