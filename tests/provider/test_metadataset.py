"""The committed CPU meta-data set: its shape, and that the meta-learner reads it as shipped."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from meta.features import MetaFeaturizer
from meta.table import PerformanceTable
from provider_agent.methods import get_method

DATA = Path(__file__).resolve().parents[2] / "data" / "metadataset"
TASK = ["model", "hardware", "workload"]


def _rows() -> list[dict[str, str]]:
    return list(csv.DictReader((DATA / "cpu.csv").read_text().splitlines()))


def test_long_format_covers_the_grid():
    rows = _rows()
    assert list(rows[0])[:4] == [*TASK, "method"] and "output_tokens_per_s" in rows[0]
    names = {k: {r[k] for r in rows} for k in (*TASK, "method")}
    assert "smollm2-135m" in names["model"] and len(names["model"]) >= 2
    assert len(names["hardware"]) >= 2 and len(names["workload"]) >= 5
    assert len(names["method"]) >= 6
    for m in names["method"]:
        get_method(m)  # every method is one the agent knows
    cells = {tuple(r[k] for k in (*TASK, "method")) for r in rows}
    assert len(cells) == len(rows)  # one row per cell
    assert all(float(r["output_tokens_per_s"]) > 0 for r in rows)


def test_sidecars_agree_with_the_table():
    rows = _rows()
    table = json.loads((DATA / "cpu.json").read_text())
    assert [r["reportHash"][:2] for r in table["rows"]] == ["0x"] * len(rows)
    desc = json.loads((DATA / "cpu.descriptors.json").read_text())
    for role in (*TASK, "method"):
        assert {r[role] for r in rows} <= set(desc[role])
    summary = json.loads((DATA / "cpu.summary.json").read_text())
    thr = summary["objectives"]["output_tokens_per_s"]
    assert thr["tasks"] == len({tuple(r[k] for k in TASK) for r in rows})
    assert thr["distinct_winners"] >= 2  # the choice of method matters


def test_meta_learner_reads_it_with_descriptors():
    table = PerformanceTable.from_csv(DATA / "cpu.csv", TASK, "method", "output_tokens_per_s")
    desc = json.loads((DATA / "cpu.descriptors.json").read_text())
    feats = MetaFeaturizer(use_embeddings=False, descriptors=desc).fit(table)
    X = feats.transform_tasks(table.task_dicts())
    assert X.shape[0] == len(table.task_keys)
    # descriptors, not just names: model size and workload shape become features
    assert "workload.concurrency" in feats.numeric_names_
    assert any(n.startswith("model.") for n in feats.numeric_names_)
