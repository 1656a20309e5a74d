"""provider_agent.bench: grids and presets, the quality guard, the package's names."""

from __future__ import annotations

import subprocess
import sys

import pytest

import provider_agent.bench as bench
from provider_agent.bench.cells import Cell
from provider_agent.bench.grid import GRIDS, GridSpec, grid_from_options
from provider_agent.bench.quality import QualityGuard
from provider_agent.methods import UnknownMethodError


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
    with pytest.raises(ValueError, match="at least one of methods"):
        GridSpec(models=("x",), hardware=("cpu-1t",), workloads=("chat",), methods=())
    with pytest.raises(
        ValueError, match=r"unknown grid 'gpu-tiny' \(have cpu, cpu-more, cpu-v1, cpu-quick"
    ):
        grid_from_options("gpu-tiny")


@pytest.mark.parametrize("name", list(GRIDS))
def test_every_preset_names_known_methods_and_workloads(name):
    grid = grid_from_options(name)  # validates every method and workload
    assert grid.methods == GRIDS[name]["methods"] and grid.config.repetitions >= 3


def test_a_later_model_gets_a_design_of_its_own():
    """Adding a model to the `cpu` zoo would re-deal every host's tasks; `cpu-more` does not."""
    cpu, more = grid_from_options("cpu"), grid_from_options("cpu-more")
    assert not set(more.models) & set(cpu.models)
    assert len(more.tasks) == len(more.models) * len(more.workloads)  # one profile each
    assert {t[2] for t in more.tasks} == set(more.workloads)
    assert {t[1] for t in more.tasks} == set(more.hardware)  # both profiles get some


def test_options_override_the_preset():
    grid = grid_from_options(None, models=("random:tiny",), methods=("hf-eager",), reps=5)
    assert grid.models == ("random:tiny",) and grid.methods == ("hf-eager",)
    assert grid.workloads == GRIDS["smoke"]["workloads"]  # the default grid's
    assert (grid.config.repetitions, grid.config.warmup) == (5, GRIDS["smoke"]["warmup"])


def _cell(method, outputs, error=None):
    return Cell("m", "h", "w", method, outputs=outputs, error=error)


def test_quality_guard_against_reference_and_baseline():
    cells = [
        _cell("hf-eager", [[1, 2, 3], [4, 5, 6]]),
        _cell("hf-sdpa", [[1, 2, 3], [4, 5, 7]]),  # exact, but one request diverges
        _cell("hf-int8", [[1, 9, 9], [4, 5, 6]]),  # lossy: reported, not judged
        _cell("vllm-baseline", [[1, 2, 3], [4, 5, 6]]),
        _cell("vllm-prefix", [[1, 2, 3], [4, 5, 6]]),
        _cell("vllm-chunked", [], error="load failed"),
    ]
    guard = QualityGuard(cells)
    sdpa = guard.check(cells[1])
    assert sdpa["reference"] == "hf-eager" and sdpa["exact"] is True
    assert sdpa["exact_match_rate"] == 0.5 and sdpa["ok"] is False
    assert "vs_hf_eager" not in sdpa  # its reference is hf-eager already
    int8 = guard.check(cells[2])
    assert int8["ok"] is True and int8["exact_match_rate"] == 0.5
    prefix = guard.check(cells[4])
    assert prefix["ok"] is True and prefix["vs_hf_eager"]["exact_match_rate"] == 1.0
    # no measured reference: nothing to judge against
    alone = QualityGuard([cells[4], cells[5]])
    assert alone.check(cells[4]) == {"reference": "vllm-baseline", "exact": True, "ok": None}


def test_package_names_load_lazily():
    for name in bench.__all__:
        assert getattr(bench, name) is not None
    with pytest.raises(AttributeError):
        bench.selection_summary  # noqa: B018 - moved to meta.summary
    # listing the grids (the CLI's --grid choice) imports neither the runner nor torch
    code = (
        "import sys; from provider_agent.bench.presets import GRID_NAMES; "
        "assert 'smoke' in GRID_NAMES; "
        "print(sorted(m for m in sys.modules if m.startswith(('provider_agent', 'torch'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert (
        out.stdout.strip()
        == "['provider_agent', 'provider_agent.bench', 'provider_agent.bench.presets']"
    )
