"""The performance table a grid run writes: rows, CSV, ``bench --json``, the descriptor
sidecar, merging into an earlier table, and the summary of how much the choice matters.

A row is one cell: the key columns (model, hardware, workload, method), then the metrics,
the quality columns and the engine's load time. ``bench --json`` adds each row's ids and
report hash; :func:`result_from_table` reads such a table back, so that ``--update`` can
merge re-measured cells into it and a committed table can be rewritten unchanged.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from meta.summary import selection_summary
from protocol.canonical import content_id
from provider_agent.bench.cells import KEY_COLUMNS, SKIPPED_BUDGET, Cell, GridResult, row_key
from provider_agent.methods import get_method

__all__ = [
    "KEY_COLUMNS",
    "OBJECTIVES",
    "QUALITY_COLUMNS",
    "TABLE_SCHEMA",
    "cell_row",
    "descriptor_ids",
    "grid_summary",
    "merge_results",
    "metric_columns",
    "qualify_hardware",
    "result_from_table",
    "table_json",
    "write_csv",
    "write_descriptors",
]

TABLE_SCHEMA = "metainf.performance-table/1"
QUALITY_COLUMNS = ("token_agreement", "prefix_agreement", "exact_match_rate")
ID_FIELDS = ("modelId", "hardwareId", "workloadId", "methodId", "reportHash")
# the objectives the summary covers, and whether each is maximized or minimized
OBJECTIVES = {"output_tokens_per_s": "max", "ttft_p50_ms": "min", "e2e_p90_ms": "min"}


def cell_row(cell: Cell, quality: dict[str, Any]) -> dict[str, Any]:
    """The table row of a measured cell."""
    row: dict[str, Any] = dict(zip(KEY_COLUMNS, cell.key, strict=True))
    row.update(cell.metrics)
    row.update({q: quality[q] for q in QUALITY_COLUMNS if q in quality})
    row["load_s"] = cell.load_s
    return row


def metric_columns(rows: list[dict[str, Any]]) -> list[str]:
    cols: dict[str, None] = {}
    for r in rows:
        cols.update((k, None) for k in r if k not in KEY_COLUMNS)
    return list(cols)


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = [*KEY_COLUMNS, *metric_columns(rows)]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for r in sorted(rows, key=row_key):
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})


def descriptor_ids(descriptors: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    """role -> name -> content id (modelId, hardwareId, ...) of its descriptor."""
    return {
        role: {n: content_id(d) for n, d in named.items()} for role, named in descriptors.items()
    }


def table_json(result: GridResult) -> dict[str, Any]:
    """The long-format table with ids and report hashes (``bench --json``)."""
    d = result.descriptors
    ids = descriptor_ids(d)
    rows = [
        r
        | {f"{role}Id": ids[role][r[role]] for role in KEY_COLUMNS}
        | {"reportHash": result.reports[row_key(r)]}
        for r in result.rows
    ]
    return {
        "schema": TABLE_SCHEMA,
        "key_columns": list(KEY_COLUMNS),
        "metric_columns": metric_columns(result.rows),
        "rows": rows,
        "unavailable": result.unavailable,
        "failures": [
            {k: getattr(c, k) for k in (*KEY_COLUMNS, "error")} for c in result.failures()
        ],
        "descriptors": d,
        "ids": ids,
        "elapsed_s": round(result.elapsed_s, 1),
    }


def result_from_table(table: dict[str, Any]) -> GridResult:
    """A ``bench --json`` table read back: rows without their ids, failures as failed cells.

    ``table_json(result_from_table(t))`` is ``t`` again (ids are recomputed from the
    descriptors, report hashes kept).
    """
    rows = table.get("rows", [])
    return GridResult(
        rows=[{k: v for k, v in r.items() if k not in ID_FIELDS} for r in rows],
        cells=[Cell.failed(*row_key(f), f["error"]) for f in table.get("failures", [])],
        reports={row_key(r): r["reportHash"] for r in rows},
        unavailable=list(table.get("unavailable", [])),
        descriptors={kind: dict(named) for kind, named in table.get("descriptors", {}).items()},
        elapsed_s=float(table.get("elapsed_s", 0.0)),
    )


def _merge_descriptors(
    old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    for kind in KEY_COLUMNS:  # the descriptor roles are the key columns
        named = dict(old.get(kind, {}))
        for name, desc in new.get(kind, {}).items():
            if name in named and named[name] != desc:
                raise ValueError(f"{kind} {name!r} has a different descriptor than in the table")
            named[name] = desc
        merged[kind] = named
    return merged


def merge_results(previous: dict[str, Any], result: GridResult) -> GridResult:
    """``result`` measured on top of an earlier ``bench --json`` table.

    Cells measured in ``result`` (rows or failures) replace the earlier table's cells with
    the same (model, hardware, workload, method); everything else is kept, so a few cells
    can be re-measured without re-running the grid. A cell the run did not reach keeps its
    earlier measurement, and a measurement supersedes an earlier failure of its cell.
    Descriptors must agree where names meet.
    """
    old = result_from_table(previous)
    new_rows = {row_key(r): r for r in result.rows}
    # re-measured and failed: the old figure is no longer the host's; a cell the run did
    # not reach (time budget) keeps its earlier measurement
    failed = {c.key for c in result.failures() if c.error != SKIPPED_BUDGET}
    old_rows = {k: r for r in old.rows if (k := row_key(r)) not in new_rows and k not in failed}
    measured = new_rows.keys() | old_rows.keys()
    new_cells = {c.key for c in result.cells}
    seen = {(u["hardware"], u["method"]) for u in result.unavailable}
    return GridResult(
        rows=[*new_rows.values(), *old_rows.values()],
        # a measurement in either table supersedes a failure of the same cell
        cells=[c for c in result.cells if not (c.error and c.key in measured)]
        + [c for c in old.cells if c.key not in new_cells and c.key not in measured],
        reports={k: h for k, h in old.reports.items() if k in old_rows} | result.reports,
        unavailable=result.unavailable
        + [u for u in old.unavailable if (u["hardware"], u["method"]) not in seen],
        descriptors=_merge_descriptors(old.descriptors, result.descriptors),
        elapsed_s=result.elapsed_s + old.elapsed_s,
    )


def qualify_hardware(result: GridResult) -> GridResult:
    """``result`` with every hardware name that does not name its host yet (``cpu-1t``)
    renamed ``<name>@<host tag>`` from its descriptor, so that tables of several hosts
    can be merged without one host's ``cpu-1t`` standing for another's."""
    from provider_agent.hardware import descriptor_host_tag

    hw = result.descriptors.get("hardware", {})
    new = {n: n if "@" in n else f"{n}@{descriptor_host_tag(d)}" for n, d in hw.items()}

    def rename(d: dict[str, Any]) -> dict[str, Any]:
        return d | {"hardware": new.get(d["hardware"], d["hardware"])}

    cells = [Cell.from_dict(rename(c.to_dict())) for c in result.cells]
    return GridResult(
        rows=[rename(r) for r in result.rows],
        cells=cells,
        reports={
            row_key(rename(dict(zip(KEY_COLUMNS, k, strict=True)))): h
            for k, h in result.reports.items()
        },
        unavailable=[rename(u) for u in result.unavailable],
        descriptors=result.descriptors | {"hardware": {new[n]: d for n, d in hw.items()}},
        elapsed_s=result.elapsed_s,
        resumed=result.resumed,
    )


def write_descriptors(result: GridResult, path: Path) -> None:
    """The sidecar `metainf meta eval --descriptors` reads: role -> name -> descriptor, + ids."""
    out = result.descriptors | {"ids": descriptor_ids(result.descriptors)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")


def grid_summary(result: GridResult) -> dict[str, Any]:
    """Per objective, how much the choice of method matters (:func:`meta.summary.
    selection_summary`): over every method, and over the exact ones only (lossy methods
    change the outputs, so a client may rule them out)."""
    exact_rows = [r for r in result.rows if get_method(r["method"]).exact]
    return {
        "elapsed_s": round(result.elapsed_s, 1),
        "cells": len(result.rows),
        "resumed_cells": result.resumed,
        "failures": sum(c.error != SKIPPED_BUDGET for c in result.failures()),
        "not_reached": sum(c.error == SKIPPED_BUDGET for c in result.failures()),
        "objectives": {m: selection_summary(result.rows, m, s) for m, s in OBJECTIVES.items()},
        "objectives_exact_methods": {
            m: selection_summary(exact_rows, m, s) for m, s in OBJECTIVES.items()
        },
    }
