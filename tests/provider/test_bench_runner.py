"""provider_agent.bench.runner and .worker: grids measured in-process and in workers,
time budgets, checkpoints, and the failures on the way."""

from __future__ import annotations

import json

import pytest

from protocol.blobstore import LocalBlobStore
from protocol.canonical import content_id
from provider_agent.bench import runner
from provider_agent.bench.cells import SKIPPED_BUDGET, Cell
from provider_agent.bench.runner import (
    Group,
    measure_group,
    plan_grid,
    resume,
    resumed_group,
    run_grid,
    with_references,
)
from provider_agent.bench.worker import decode_workloads, encode_job, run_in_worker
from provider_agent.harness import BenchConfig
from provider_agent.methods import get_method
from provider_agent.models import model_info
from tests.provider.grids import tiny_grid


def test_grid_rows_reports_and_reference(grid_result):
    result, store = grid_result
    assert not result.failures()
    # hf-eager is added as the reference of hf-sdpa / hf-int8 / ort-fp32
    methods = {r["method"] for r in result.rows}
    assert methods == {"hf-eager", "hf-sdpa", "hf-int8", "ort-fp32"}
    assert len(result.rows) == 8
    for row in result.rows:
        assert row["output_tokens_per_s"] > 0 and row["ttft_p50_ms"] > 0
        key = (row["model"], row["hardware"], row["workload"], row["method"])
        h = result.reports[key]
        rep = store.get_json(h)
        assert content_id(rep) == h
        assert rep["ids"]["methodId"] == content_id(rep["method"])
        assert len(rep["samples"]) == 3 and rep["environment"]["packages"]["torch"]
        assert rep["metrics"]["output_tokens_per_s"] == pytest.approx(
            row["output_tokens_per_s"], rel=1e-5
        )
        if row["method"] in ("hf-eager", "hf-sdpa", "ort-fp32"):
            assert row["exact_match_rate"] == 1.0 and rep["quality"]["ok"] is True


def test_references_come_first_and_plan_lists_groups(tiny_model):
    names = [m.name for m in with_references(["hf-sdpa", "vllm-prefix", "hf-eager"])]
    assert names == ["vllm-baseline", "hf-sdpa", "vllm-prefix", "hf-eager"]
    plan = plan_grid(tiny_grid(tiny_model, ("chat", "summarize"), ("hf-sdpa",)))
    assert [g.method.name for g in plan.groups] == ["hf-eager", "hf-sdpa"]
    assert plan.cells == 4 and not plan.unavailable
    assert set(plan.descriptors()) == {"model", "hardware", "workload", "method"}


def test_worker_process_group(tiny_model, tmp_path):
    """The isolated path (a worker process per method group) yields the same kind of rows."""
    grid = tiny_grid(tiny_model)
    result = run_grid(
        grid, store=LocalBlobStore(tmp_path), progress=False, isolate=True, log=tmp_path / "w.log"
    )
    assert not result.failures(), (tmp_path / "w.log").read_text()[-2000:]
    (row,) = result.rows
    assert row["method"] == "hf-eager" and row["exact_match_rate"] == 1.0


def test_worker_job_round_trip(tiny_model, cpu1):
    grid = tiny_grid(tiny_model, ("chat", "summarize"))
    workloads = grid.workload_specs()
    job = json.loads(
        json.dumps(
            encode_job(str(tiny_model), cpu1, get_method("hf-eager"), workloads, grid.config, 9.0)
        )
    )
    assert decode_workloads(job["workloads"]) == workloads
    assert BenchConfig(**job["config"]) == grid.config and job["budget_s"] == 9.0


def test_a_worker_that_dies_fails_its_cells(tiny_model, cpu1, tmp_path, monkeypatch):
    monkeypatch.setattr("provider_agent.bench.worker.MODULE", "provider_agent.no_such_worker")
    seen: list[Cell] = []
    workloads = tiny_grid(tiny_model, ("chat", "summarize")).workload_specs()
    cells = run_in_worker(
        str(tiny_model),
        cpu1,
        get_method("hf-eager"),
        workloads,
        BenchConfig(),
        on_cell=seen.append,
        timeout_s=60,
        log=tmp_path / "w.log",
    )
    assert cells == seen and [c.workload for c in cells] == ["chat", "summarize"]
    for c in cells:
        assert c.error.startswith("worker exited with status 1 before measuring this cell")
        assert str(tmp_path / "w.log") in c.error
    assert "No module named" in (tmp_path / "w.log").read_text()


def test_an_engine_that_does_not_load_fails_its_cells(tiny_model, cpu1, monkeypatch):
    class Broken:
        def __init__(self, *args, **kwargs) -> None:
            pass

        def load(self) -> None:
            raise RuntimeError("no such kernel")

    monkeypatch.setattr(runner, "make_engine", Broken)
    workloads = tiny_grid(tiny_model, ("chat", "summarize")).workload_specs()
    cells = measure_group(str(tiny_model), cpu1, get_method("hf-eager"), workloads, BenchConfig())
    name = model_info(tiny_model).name
    assert cells == [
        Cell.failed(name, "cpu-1t", w, "hf-eager", "load failed: RuntimeError: no such kernel")
        for w in ("chat", "summarize")
    ]


def test_time_budget_reports_unreached_cells(tiny_model, tmp_path):
    grid = tiny_grid(tiny_model, ("chat", "summarize"))
    result = run_grid(
        grid, store=LocalBlobStore(tmp_path), progress=False, isolate=False, budget_s=1e-9
    )
    assert not result.rows
    assert [c.error for c in result.failures()] == [SKIPPED_BUDGET] * 2


def test_resume_keeps_measured_cells_only(tiny_model, cpu1, tmp_path):
    ckpt = tmp_path / "new" / "cells.jsonl"
    assert resume(ckpt) == {} and ckpt.parent.is_dir()  # its folder is made up front
    workloads = tiny_grid(tiny_model, ("chat", "summarize")).workload_specs()
    info = model_info(tiny_model)
    group = Group(str(tiny_model), info, cpu1, get_method("hf-eager"), tuple(workloads))
    chat = Cell(*group.key("chat"), metrics={"output_tokens_per_s": 1.0})
    failed = Cell.failed(*group.key("summarize"), "boom")
    ckpt.write_text(json.dumps(chat.to_dict()) + "\n\n" + json.dumps(failed.to_dict()) + "\n")
    said: list[str] = []
    done = resume(ckpt, said.append)
    assert done == {chat.key: chat} and "resuming: 1 cells" in said[0]
    assert resumed_group(group, done) is None  # summarize must be measured again
    summarize = Cell(*group.key("summarize"), metrics={"output_tokens_per_s": 2.0})
    done[summarize.key] = summarize
    assert resumed_group(group, done) == [chat, summarize]


def test_checkpoint_resumes_measured_groups(tiny_model, tmp_path):
    ckpt = tmp_path / "not-yet" / "cells.jsonl"  # its folder is made before measuring
    grid = tiny_grid(tiny_model)
    store = LocalBlobStore(tmp_path)
    first = run_grid(grid, store=store, progress=False, isolate=False, checkpoint=ckpt)
    (key,) = first.reports
    (line,) = ckpt.read_text().splitlines()
    assert json.loads(line)["measured_at"] == store.get_json(first.reports[key])["measured_at"]
    # a report rebuilt from the checkpoint carries the cell's time, not the rebuild's
    ckpt.write_text(json.dumps(json.loads(line) | {"measured_at": "2000-01-01T00:00:00Z"}))
    again = run_grid(grid, store=store, progress=False, isolate=False, checkpoint=ckpt)
    assert len(ckpt.read_text().splitlines()) == 1  # nothing re-measured
    assert again.rows[0]["output_tokens_per_s"] == first.rows[0]["output_tokens_per_s"]
    assert store.get_json(again.reports[key])["measured_at"] == "2000-01-01T00:00:00Z"
    assert (again.resumed, first.resumed) == (1, 0)


def test_groups_already_in_a_table_are_skipped(tiny_model, tmp_path):
    grid = tiny_grid(tiny_model, ("chat", "summarize"))
    store = LocalBlobStore(tmp_path)
    first = run_grid(grid, store=store, progress=False, isolate=False)
    again = run_grid(grid, store=store, progress=False, isolate=False, skip=set(first.reports))
    assert first.rows and not again.rows and not again.cells
