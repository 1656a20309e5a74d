"""`metainf meta eval|train|recommend`: the interface other tools call."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from meta.synthetic import make_rule_table
from metainf_cli.meta_cmd import meta

SELECTORS = [
    "MetaInf",
    "SBS",
    "ISAC",
    "ALORS",
    "RandomForest",
    "GradientBoosting",
    "kNN",
    "Random",
    "VBS",
]
METRICS = ["top1_accuracy", "normalized_performance", "regret", "gap_closed", "ndcg3"]
TASK_COLS = "model,hardware,batch_size,input_len,output_len,prefix_share"


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory) -> Path:
    d = make_rule_table(n_tasks=90, random_state=5)
    path = tmp_path_factory.mktemp("cli") / "perf.csv"
    frame = d.frame.assign(price=1.5, tokens=1000.0)
    frame.to_csv(path, index=False)
    return path


def _table_args(csv_path: Path) -> list[str]:
    """The options every `metainf meta` command needs to read the synthetic table."""
    return [
        "--table",
        str(csv_path),
        "--task-cols",
        TASK_COLS,
        "--method-col",
        "method",
        "--metric",
        "throughput",
    ]


def _check_schema(out: dict) -> None:
    assert isinstance(out["n_tasks"], int) and isinstance(out["n_methods"], int)
    assert out["n_methods"] == 5 and isinstance(out["groups"], list)
    assert list(out["selectors"]) == SELECTORS
    for s in out["selectors"].values():
        for m in METRICS:
            assert m in s


def test_eval_cli_runner(csv_path, tmp_path):
    out_json = tmp_path / "res.json"
    args = [
        "eval",
        *_table_args(csv_path),
        "--group-by",
        "hardware",
        "--json",
        str(out_json),
        "--plots",
        str(tmp_path / "plots"),
        "--no-embeddings",
        "--bootstrap",
        "100",
        "--budget-quantile",
        "0.5",
        "--price-col",
        "price",
        "--work-col",
        "tokens",
    ]
    res = CliRunner().invoke(meta, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = json.loads(out_json.read_text())
    _check_schema(out)
    assert out["groups"] == sorted(out["groups"]) and len(out["groups"]) == 5
    assert out["selectors"]["VBS"]["normalized_performance"] == 1.0
    assert out["selectors"]["VBS"]["budget_feasibility"] == 1.0
    assert "budget_feasibility" in out["selectors"]["MetaInf"]
    assert (tmp_path / "plots" / "selectors.png").exists()
    assert "| MetaInf |" in res.output


def test_train_and_recommend(csv_path, tmp_path):
    model = tmp_path / "model.joblib"
    runner = CliRunner()
    res = runner.invoke(
        meta,
        [
            "train",
            *_table_args(csv_path),
            "--out",
            str(model),
            "--no-embeddings",
        ],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    task = {
        "model": "synth-70b",
        "hardware": "GPU-24GB",
        "batch_size": 1,
        "input_len": 512,
        "output_len": 1024,
        "prefix_share": 0.0,
    }
    args = [
        "recommend",
        "--model",
        str(model),
        "--task",
        json.dumps(task),
        "--available",
        "baseline,int8-quant,prefix-caching",
        "--price-per-second",
        "0.001",
        "--work",
        "1000",
        "--budget",
        "1e9",
    ]
    res = runner.invoke(meta, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert sorted(out["ranking"]) == ["baseline", "int8-quant", "prefix-caching"]
    assert out["selected"] == out["ranking"][0] == "int8-quant"  # big model, small GPU
    assert "fits the budget" in out["reason"]
    assert [c["method"] for c in out["candidates"]] == out["ranking"]
    for rank, c in enumerate(out["candidates"], 1):
        assert c["rank"] == rank and c["fits_budget"] is True
        assert c["predicted_cost"] == pytest.approx(c["predicted_runtime_s"] * 0.001)
        assert c["predicted_runtime_s"] == pytest.approx(1000 / c["predicted_metric"])
    # a budget nothing fits: no choice, and the reason says so
    res = runner.invoke(meta, [*args[:-1], "1e-12"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["selected"] is None and "no available method" in out["reason"]
    assert all(c["fits_budget"] is False for c in out["candidates"])


def test_recommend_errors(csv_path, tmp_path):
    model = tmp_path / "sbs.joblib"
    runner = CliRunner()
    res = runner.invoke(
        meta, ["train", *_table_args(csv_path), "--out", str(model), "--selector", "SBS"]
    )
    assert res.exit_code == 0, res.output
    task = json.dumps(dict.fromkeys(TASK_COLS.split(","), 1))
    cases = [
        (["--task", '{"model": "x"}'], "lacks columns"),
        (["--task", "{not json"], "not JSON"),
        (["--task", "[1, 2]"], "JSON object"),
        (["--task", task, "--budget", "1"], "needs --price-per-second"),
        (["--task", task, "--budget", "1", "--price-per-second", "1"], "cannot predict cost"),
    ]
    for extra, message in cases:
        res = runner.invoke(meta, ["recommend", "--model", str(model), *extra])
        assert res.exit_code == 2 and message in res.output, (extra, res.output)
    res = runner.invoke(meta, ["recommend", "--model", str(model), "--task", task])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["selector"] == "SBS" and out["selected"] == out["ranking"][0]
    assert out["candidates"][0]["predicted_cost"] is None  # SBS only ranks


def test_table_and_selector_errors(csv_path, tmp_path):
    runner = CliRunner()
    out = ["--out", str(tmp_path / "m.joblib"), "--no-embeddings"]
    res = runner.invoke(meta, ["train", *_table_args(csv_path), *out, "--selector", "VBS"])
    assert res.exit_code == 2 and "must be one of" in res.output and "'VBS'" not in res.output
    bad_cols = [*_table_args(csv_path)]
    bad_cols[bad_cols.index("--metric") + 1] = "no_such_column"
    res = runner.invoke(meta, ["train", *bad_cols, *out])
    assert res.exit_code == 2 and "no_such_column" in res.output
    evaluate = ["eval", *_table_args(csv_path), "--json", str(tmp_path / "r.json")]
    res = runner.invoke(meta, [*evaluate, "--selectors", "SBS,Nope"])
    assert res.exit_code == 2 and "Nope" in res.output
    res = runner.invoke(meta, [*evaluate, "--candidate-param", "nope=1"])
    assert res.exit_code == 2 and "no parameter 'nope'" in res.output


def test_eval_via_installed_entry_point(csv_path, tmp_path):
    """Once through the real `metainf` script, with the real sentence embeddings."""
    exe = Path(sys.executable).parent / "metainf"
    if not exe.exists():
        pytest.skip("metainf entry point not installed in this environment")
    out_json = tmp_path / "res.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [
            str(exe),
            "meta",
            "eval",
            *_table_args(csv_path),
            "--group-by",
            "model",
            "--json",
            str(out_json),
            "--bootstrap",
            "50",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    _check_schema(json.loads(out_json.read_text()))
