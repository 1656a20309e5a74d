"""The benchmark: models x hardware profiles x methods x workloads -> performance table.

Modules (names load lazily, so that the CLI lists the grids without importing the agent,
and ``python -m provider_agent.bench.worker`` starts without the rest of the package):

presets   GRIDS, GRID_NAMES, DEFAULT_GRID: the preset grids, names only
grid      GridSpec (what to measure, validated), grid_from_options (a preset + overrides)
runner    run_grid; its steps plan_grid, resume, Execution.run_group, store_reports;
          measure_group (one engine load, every workload)
worker    the worker process: run_in_worker (parent side), main (``-m`` entry), CELL_MARK
quality   QualityGuard: agreement with the reference method and with hf-eager
cells     Cell (Cell.failed for a cell that was not measured), GridResult, KEY_COLUMNS
tables    rows, write_csv, table_json / result_from_table, merge_results,
          write_descriptors, descriptor_ids, grid_summary (over meta.summary)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from provider_agent.bench.cells import KEY_COLUMNS, Cell, GridResult
    from provider_agent.bench.grid import GridSpec, grid_from_options
    from provider_agent.bench.presets import DEFAULT_GRID, GRID_NAMES, GRIDS
    from provider_agent.bench.quality import QualityGuard
    from provider_agent.bench.runner import measure_group, run_grid
    from provider_agent.bench.tables import (
        OBJECTIVES,
        QUALITY_COLUMNS,
        descriptor_ids,
        grid_summary,
        merge_results,
        metric_columns,
        result_from_table,
        table_json,
        write_csv,
        write_descriptors,
    )

_EXPORTS = {
    "Cell": "cells",
    "GridResult": "cells",
    "KEY_COLUMNS": "cells",
    "GRIDS": "presets",
    "GRID_NAMES": "presets",
    "DEFAULT_GRID": "presets",
    "GridSpec": "grid",
    "grid_from_options": "grid",
    "QualityGuard": "quality",
    "run_grid": "runner",
    "measure_group": "runner",
    "OBJECTIVES": "tables",
    "QUALITY_COLUMNS": "tables",
    "descriptor_ids": "tables",
    "grid_summary": "tables",
    "merge_results": "tables",
    "metric_columns": "tables",
    "result_from_table": "tables",
    "table_json": "tables",
    "write_csv": "tables",
    "write_descriptors": "tables",
}

__all__ = [
    "DEFAULT_GRID",
    "GRIDS",
    "GRID_NAMES",
    "KEY_COLUMNS",
    "OBJECTIVES",
    "QUALITY_COLUMNS",
    "Cell",
    "GridResult",
    "GridSpec",
    "QualityGuard",
    "descriptor_ids",
    "grid_from_options",
    "grid_summary",
    "measure_group",
    "merge_results",
    "metric_columns",
    "result_from_table",
    "run_grid",
    "table_json",
    "write_csv",
    "write_descriptors",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
