"""provider_agent.bench.tables: the table files, merging, and the committed data set
rewritten unchanged from its own rows."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest

from meta.features import MetaFeaturizer
from meta.table import PerformanceTable
from protocol.blobstore import LocalBlobStore
from provider_agent.bench.cells import SKIPPED_BUDGET, Cell, GridResult, row_key
from provider_agent.bench.runner import run_grid
from provider_agent.bench.tables import (
    grid_summary,
    merge_results,
    result_from_table,
    table_json,
    write_csv,
    write_descriptors,
)
from provider_agent.methods import get_method
from tests.provider.grids import tiny_grid

DATA = Path(__file__).resolve().parents[2] / "data" / "metadataset"


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
    assert table_json(result_from_table(json.loads(json.dumps(tj)))) == tj


def test_update_merges_remeasured_cells(grid_result, tiny_model, tmp_path):
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


def _result(rows, failures=(), unavailable=(), descriptors=None, elapsed_s=1.0) -> GridResult:
    """A GridResult made by hand: key tuples -> a throughput, failures -> reasons."""
    desc = descriptors or {
        "model": {"m": {"n": 1}},
        "hardware": {"h": {"n": 2}},
        "workload": {"w1": {"n": 3}, "w2": {"n": 4}},
        "method": {"a": {"n": 5}, "b": {"n": 6}},
    }
    return GridResult(
        rows=[
            dict(zip(("model", "hardware", "workload", "method"), k, strict=True))
            | {"output_tokens_per_s": v}
            for k, v in rows.items()
        ],
        cells=[Cell(*k, metrics={"output_tokens_per_s": v}) for k, v in rows.items()]
        + [Cell.failed(*k, reason) for k, reason in dict(failures).items()],
        reports={k: f"0x{hash(k) & 0xFFFF:064x}" for k in rows},
        unavailable=list(unavailable),
        descriptors=desc,
        elapsed_s=elapsed_s,
    )


def test_merge_replaces_remeasured_cells_and_keeps_the_rest():
    a1, a2, b1, b2 = (("m", "h", w, m) for m in ("a", "b") for w in ("w1", "w2"))
    old = _result(
        {a1: 1.0, a2: 2.0, b1: 3.0},
        failures={b2: "load failed"},
        unavailable=[{"hardware": "h", "method": "c", "reason": "no GPU"}],
        elapsed_s=10.0,
    )
    new = _result({a2: 20.0, b2: 40.0}, failures={b1: "boom"}, elapsed_s=2.0)
    merged = merge_results(table_json(old), new)
    values = {
        tuple(r[k] for k in ("model", "hardware", "workload", "method")): r for r in merged.rows
    }
    assert {k: r["output_tokens_per_s"] for k, r in values.items()} == {a2: 20.0, b2: 40.0, a1: 1.0}
    assert "methodId" not in values[a1]  # ids are recomputed when written, not carried
    assert merged.reports[a1] == old.reports[a1] and merged.reports[a2] == new.reports[a2]
    assert [(c.key, c.error) for c in merged.failures()] == [(b1, "boom")]
    assert merged.unavailable == old.unavailable and merged.elapsed_s == 12.0


def test_merge_keeps_measurements_a_budgeted_run_did_not_reach():
    a1, a2, b1, b2 = (("m", "h", w, m) for m in ("a", "b") for w in ("w1", "w2"))
    old = _result({a1: 1.0, b1: 3.0}, failures={a2: "worker exited with status -9"})
    old_table = table_json(old)
    stale = dict(zip(("model", "hardware", "workload", "method"), b1, strict=True))
    old_table["failures"].append(stale | {"error": "worker exited with status -9"})  # b1 measured
    new = _result({a2: 20.0}, failures={a1: SKIPPED_BUDGET, b2: SKIPPED_BUDGET})
    merged = merge_results(old_table, new)
    values = {row_key(r): r["output_tokens_per_s"] for r in merged.rows}
    assert values == {a2: 20.0, a1: 1.0, b1: 3.0}
    assert [(c.key, c.error) for c in merged.failures()] == [(b2, SKIPPED_BUDGET)]


def test_merge_refuses_a_different_descriptor_under_the_same_name():
    old = _result({("m", "h", "w1", "a"): 1.0})
    other = json.loads(json.dumps(old.descriptors))
    other["method"]["a"] = {"n": 99}
    new = _result({("m", "h", "w2", "a"): 2.0}, descriptors=other)
    with pytest.raises(ValueError, match="method 'a' has a different descriptor"):
        merge_results(table_json(old), new)


def test_failed_cell_constructor():
    cell = Cell.failed("m", "h", "w", "a", "worker exited with status -9")
    assert cell.key == ("m", "h", "w", "a") and cell.error == "worker exited with status -9"
    assert not cell.metrics and not cell.outputs and cell.measured_at is None
    assert Cell.from_dict(json.loads(json.dumps(cell.to_dict()))) == cell
    with pytest.raises(ValueError, match="reason"):
        Cell.failed("m", "h", "w", "a", "")
    table = table_json(_result({}, failures={cell.key: cell.error}))
    assert table["failures"] == [
        {"model": "m", "hardware": "h", "workload": "w", "method": "a", "error": cell.error}
    ]


def test_committed_data_set_is_rewritten_unchanged(tmp_path):
    """Rows, ids and report hashes of data/metadataset/cpu.* come back byte for byte."""
    committed = (DATA / "cpu-v1.json").read_text()
    result = result_from_table(json.loads(committed))
    assert json.dumps(table_json(result), indent=1) + "\n" == committed
    write_csv(result.rows, tmp_path / "cpu.csv")
    assert (tmp_path / "cpu.csv").read_text() == (DATA / "cpu-v1.csv").read_text()
    write_descriptors(result, tmp_path / "cpu.descriptors.json")
    assert (tmp_path / "cpu.descriptors.json").read_text() == (
        DATA / "cpu-v1.descriptors.json"
    ).read_text()
    # the committed files were written from a checkpoint: every cell was resumed
    summary = grid_summary(dataclasses.replace(result, resumed=len(result.rows)))
    assert json.dumps(summary, indent=1) + "\n" == (DATA / "cpu-v1.summary.json").read_text()


def test_committed_ids_are_the_agents_ids():
    table = json.loads((DATA / "cpu-v1.json").read_text())
    for row in table["rows"]:
        method = get_method(row["method"])
        assert method.method_id == row["methodId"] == table["ids"]["method"][row["method"]]
        assert method.descriptor() == table["descriptors"]["method"][row["method"]]


def test_hardware_names_are_qualified_by_their_host():
    from provider_agent.bench.tables import qualify_hardware
    from provider_agent.hardware import descriptor_host_tag

    v1 = json.loads((DATA / "cpu-v1.json").read_text())
    q = qualify_hardware(result_from_table(v1))
    tag = descriptor_host_tag(v1["descriptors"]["hardware"]["cpu-1t"])
    assert tag.startswith("intel-xeon-")
    assert {r["hardware"] for r in q.rows} == {f"cpu-1t@{tag}", f"cpu-2t@{tag}"}
    assert set(q.descriptors["hardware"]) == {f"cpu-1t@{tag}", f"cpu-2t@{tag}"}
    assert sorted(q.reports.values()) == sorted(r["reportHash"] for r in v1["rows"])
    assert qualify_hardware(q).rows == q.rows  # qualified names stay as they are
    # the tag is the same for both profiles of a host and for the agent's own profiles
    assert tag == descriptor_host_tag(v1["descriptors"]["hardware"]["cpu-2t"])
