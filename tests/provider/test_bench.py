from __future__ import annotations

import csv
import json

import pytest

from meta.features import MetaFeaturizer
from meta.table import PerformanceTable
from protocol.blobstore import LocalBlobStore
from protocol.canonical import content_id
from provider_agent.bench import (
    GridSpec,
    run_grid,
    selection_summary,
    table_json,
    write_csv,
    write_descriptors,
)
from provider_agent.harness import BenchConfig
from provider_agent.methods import UnknownMethodError

SMALL = {
    "chat": dict(num_requests=4, concurrency=4, prompt_tokens=(8, 24), output_tokens=(4, 8)),
    "summarize": dict(num_requests=1, prompt_tokens=(24, 32), output_tokens=(8, 8)),
}


def tiny_grid(model, workloads=("summarize",), methods=("hf-eager",), warmup=0) -> GridSpec:
    """One tiny random model on cpu-1t with the SMALL workloads: seconds per cell."""
    return GridSpec(
        models=(str(model),),
        hardware=("cpu-1t",),
        workloads=workloads,
        methods=methods,
        config=BenchConfig(warmup=warmup, repetitions=3),
        workload_overrides=SMALL,
    )


@pytest.fixture(scope="module")
def grid_result(tiny_model, tmp_path_factory):
    grid = tiny_grid(
        tiny_model, ("chat", "summarize"), ("hf-sdpa", "hf-int8", "ort-fp32"), warmup=1
    )
    store = LocalBlobStore(tmp_path_factory.mktemp("blobs"))
    return run_grid(grid, store=store, progress=False, isolate=False), store


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


def test_outputs_long_format(grid_result, tmp_path):
    result, _ = grid_result
    write_csv(result.rows, tmp_path / "t.csv")
    rows = list(csv.DictReader((tmp_path / "t.csv").read_text().splitlines()))
    assert list(rows[0])[:4] == ["model", "hardware", "workload", "method"]
    assert "output_tokens_per_s" in rows[0]
    write_descriptors(result, tmp_path / "d.json")
    d = json.loads((tmp_path / "d.json").read_text())
    assert set(d) == {"model", "hardware", "workload", "method", "ids"}
    assert d["workload"]["chat"]["num_requests"] == 4
    # the two files are what `metainf meta eval --descriptors` reads
    table = PerformanceTable.from_csv(
        tmp_path / "t.csv", ["model", "hardware", "workload"], "method", "output_tokens_per_s"
    )
    feats = MetaFeaturizer(use_embeddings=False, descriptors=d).fit(table)
    assert "workload.num_requests" in feats.numeric_names_
    assert "engine: hf" in feats.method_description("hf-int8")
    tj = table_json(result)
    assert all(r["reportHash"].startswith("0x") for r in tj["rows"])


def test_selection_summary():
    rows = []
    for wl, best in (("a", "m1"), ("b", "m1"), ("c", "m2")):
        for m in ("m1", "m2"):
            rows.append(
                dict(
                    model="x",
                    hardware="h",
                    workload=wl,
                    method=m,
                    output_tokens_per_s=2.0 if m == best else 1.0,
                )
            )
    s = selection_summary(rows)
    assert s["sbs"] == "m1" and s["sbs_top1"] == pytest.approx(2 / 3) and s["distinct_winners"] == 2
    assert s["winners_by_workload"]["c"] == {"m2": 1}


def test_bad_grid_is_a_clear_error(tiny_model):
    with pytest.raises(UnknownMethodError, match="unknown method"):
        GridSpec(
            models=(str(tiny_model),),
            hardware=("cpu-1t",),
            workloads=("chat",),
            methods=("warp-drive",),
        )
    with pytest.raises(ValueError, match="unknown workload"):
        GridSpec(
            models=(str(tiny_model),),
            hardware=("cpu-1t",),
            workloads=("poetry",),
            methods=("hf-eager",),
        )


def test_worker_process_group(tiny_model, tmp_path):
    """The isolated path (a worker process per method group) yields the same kind of rows."""
    grid = tiny_grid(tiny_model)
    result = run_grid(
        grid, store=LocalBlobStore(tmp_path), progress=False, isolate=True, log=tmp_path / "w.log"
    )
    assert not result.failures(), (tmp_path / "w.log").read_text()[-2000:]
    (row,) = result.rows
    assert row["method"] == "hf-eager" and row["exact_match_rate"] == 1.0


def test_time_budget_reports_unreached_cells(tiny_model, tmp_path):
    grid = tiny_grid(tiny_model, ("chat", "summarize"))
    result = run_grid(
        grid, store=LocalBlobStore(tmp_path), progress=False, isolate=False, budget_s=1e-9
    )
    assert not result.rows
    assert [c.error for c in result.failures()] == ["skipped: time budget spent"] * 2


def test_update_merges_remeasured_cells(grid_result, tiny_model, tmp_path):
    from provider_agent.bench import merge_results

    first, _ = grid_result
    previous = table_json(first)
    grid = tiny_grid(tiny_model)
    again = run_grid(grid, store=LocalBlobStore(tmp_path), progress=False, isolate=False)
    merged = merge_results(previous, again)
    assert len(merged.rows) == len(first.rows)
    key = (again.rows[0]["model"], "cpu-1t", "summarize", "hf-eager")
    assert merged.reports[key] == again.reports[key] != first.reports[key]
    untouched = next(k for k in first.reports if k[3] == "ort-fp32")
    assert merged.reports[untouched] == first.reports[untouched]
    assert {r["method"] for r in table_json(merged)["rows"]} == {r["method"] for r in first.rows}


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
