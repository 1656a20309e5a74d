"""scripts/gpu_bench.sh degrades cleanly on a host without a GPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "gpu_bench.sh"


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHON": sys.executable}
    return subprocess.run(
        ["bash", str(SCRIPT), "--out", str(tmp_path / "out"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=ROOT,
    )


def test_dry_run_lists_hardware_and_methods(tmp_path):
    r = _run(tmp_path, "--dry-run")
    assert r.returncode == 0, r.stderr[-2000:]
    hw = json.loads((tmp_path / "out" / "hardware.json").read_text())
    assert hw and hw[0]["hardwareId"].startswith("0x")
    methods = (tmp_path / "out" / "methods.txt").read_text()
    assert "available on" in methods and "hf-eager" in methods
    assert "dry run" in r.stderr


@pytest.mark.slow
def test_tiny_mode_writes_a_table(tmp_path):
    r = _run(tmp_path, "--tiny")
    assert r.returncode == 0, r.stderr[-3000:]
    out = tmp_path / "out"
    table = json.loads((out / "gpu.json").read_text())
    methods = {row["method"] for row in table["rows"]}
    assert {"hf-eager", "hf-ngram"} <= methods
    if not any("cuda" in h["name"] for h in json.loads((out / "hardware.json").read_text())):
        assert {u["method"] for u in table["unavailable"]} >= {"hf-fp16", "hf-fp16-ngram"}
    assert (out / "gpu.csv").read_text().startswith("model,hardware,workload,method,")
