from __future__ import annotations

import json

from click.testing import CliRunner

from metainf_cli.provider_cmd import provider


def run(*args):
    return CliRunner().invoke(provider, list(args), catch_exceptions=False)


def test_hardware_and_methods():
    r = run("hardware", "--threads", "1", "--json")
    assert r.exit_code == 0
    (p,) = json.loads(r.output)
    assert p["name"] == "cpu-1t" and p["hardwareId"].startswith("0x")
    r = run("methods", "--hardware", "cpu-1t")
    assert r.exit_code == 0 and "hf-eager" in r.output and "unavailable:" in r.output
    assert "needs a CUDA GPU" in r.output
    r = run("methods", "--hardware", "cuda7")
    assert r.exit_code != 0 and "no hardware profile 'cuda7'" in r.output


def test_workloads_and_make_model(tmp_path):
    r = run("workloads")
    assert r.exit_code == 0 and "shared-prefix" in r.output
    r = run("make-model", str(tmp_path / "m"), "--size", "tiny")
    assert r.exit_code == 0, r.output
    assert "llama-random-tiny" in r.output and (tmp_path / "m" / "config.json").exists()
    r = run("make-model", str(tmp_path / "m2"), "--size", "galactic")
    assert r.exit_code != 0 and "unknown random model size" in r.output


def test_bench_bad_inputs_are_clear_errors(tmp_path, tiny_model):
    r = run("bench", "--models", str(tiny_model), "--methods", "warp-drive")
    assert r.exit_code != 0 and "unknown method 'warp-drive'" in r.output
    r = run("bench", "--models", str(tmp_path / "nope"), "--methods", "hf-eager")
    assert r.exit_code != 0 and "neither a directory nor a known name" in r.output
    r = run("bench", "--grid", "nebula")
    assert r.exit_code != 0 and "'nebula' is not one of" in r.output


def test_bench_offers_the_real_grids():
    from provider_agent.bench.presets import GRIDS

    r = run("bench", "--help")
    assert r.exit_code == 0 and f"[{'|'.join(GRIDS)}]" in r.output
    assert "gpu-tiny" not in r.output


def test_bench_writes_table(tmp_path, tiny_model):
    out = tmp_path / "t.json"
    r = run(
        "bench",
        "--models",
        str(tiny_model),
        "--hardware",
        "cpu-1t",
        "--workloads",
        "summarize",
        "--methods",
        "hf-eager",
        "--warmup",
        "0",
        "--json",
        str(out),
        "--csv",
        str(tmp_path / "t.csv"),
        "--blob-store",
        str(tmp_path / "blobs"),
        "--no-progress",
        "--in-process",
    )
    assert r.exit_code == 0, r.output
    table = json.loads(out.read_text())
    assert table["key_columns"] == ["model", "hardware", "workload", "method"]
    (row,) = table["rows"]
    assert row["method"] == "hf-eager" and row["output_tokens_per_s"] > 0


def test_merge_tables_of_hosts(tmp_path):
    from pathlib import Path

    v1 = Path(__file__).resolve().parents[2] / "data" / "metadataset" / "cpu-v1.json"
    table = json.loads(v1.read_text())
    one_host = dict(table, rows=[r for r in table["rows"] if r["hardware"] == "cpu-1t"])
    (tmp_path / "a.json").write_text(json.dumps(one_host))
    out = tmp_path / "merged.json"
    r = run(
        "merge",
        str(tmp_path / "a.json"),
        str(v1),
        "--json",
        str(out),
        "--csv",
        str(tmp_path / "m.csv"),
    )
    assert r.exit_code == 0, r.output
    merged = json.loads(out.read_text())
    assert len(merged["rows"]) == len(table["rows"])  # the second table's cells win, no copies
    assert all("@intel-xeon-" in row["hardware"] for row in merged["rows"])
    assert "24 tasks from 2 tables" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    r = run("merge", str(bad), "--json", str(out))
    assert r.exit_code != 0 and "not a `bench --json` table" in r.output
