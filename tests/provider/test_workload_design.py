"""The parametric workload design, the sampled task design, and host-qualified profiles."""

from __future__ import annotations

import collections
import dataclasses

import numpy as np
import pytest

from provider_agent.bench.design import sample_tasks
from provider_agent.bench.grid import GridSpec, expand_workloads, grid_from_options
from provider_agent.bench.runner import plan_grid
from provider_agent.hardware import HardwareError, host_tag, profile_by_name
from provider_agent.models import load_model
from provider_agent.workload_design import (
    DESIGNS,
    WorkloadDesign,
    design_workload,
    design_workloads,
)
from provider_agent.workloads import WorkloadSpec, get_workload


@pytest.fixture(scope="module")
def tok(tiny_model):
    return load_model(tiny_model)[1]


def test_design_is_space_filling_and_stable():
    design = DESIGNS["qmc"]
    specs = design_workloads("qmc")
    assert len(specs) == design.n == 32
    assert [w.name for w in specs] == [f"qmc-{i:02d}" for i in range(32)]
    # the same points on every call and host: the names stand for the same workloads
    assert [w.workload_id for w in WorkloadDesign("qmc", n=32).workloads()] == [
        w.workload_id for w in specs
    ]
    u = design.unit_points()
    # Sobol balance: every coordinate has one point in each of 32 equal strata
    assert all(len(set((u[:, j] * 32).astype(int))) == 32 for j in range(u.shape[1]))
    conc = {w.concurrency for w in specs}
    assert min(conc) == 1 and max(conc) >= 24  # a single stream to offline batches
    assert {w.kind for w in specs} == {"generated"}
    restate = [w.restate_percent for w in specs]
    assert min(restate) < 10 and max(restate) > 90
    assert any(w.shared_prefix_tokens > 100 for w in specs)


def test_caps_bound_the_work_of_every_workload():
    d = DESIGNS["qmc"]
    for w in design_workloads("qmc"):
        n = w.num_requests
        assert n == max(2, w.concurrency)
        mean_prompt = w.shared_prefix_tokens + sum(w.prompt_tokens) / 2
        assert n * mean_prompt <= d.max_prompt_total * 1.05 + n
        assert n * sum(w.output_tokens) / 2 <= d.max_output_total * 1.05 + n


def test_names_resolve_and_descriptors_round_trip():
    w = get_workload("qmc-07")
    assert w == design_workload("qmc-07") and w.descriptor()["restate_percent"] == w.restate_percent
    assert WorkloadSpec.from_descriptor(w.descriptor()) == w
    assert "restate_percent" not in get_workload("chat").descriptor()  # old ids unchanged
    for bad in ("qmc-99", "qmc-7", "nope-01", "qmc"):
        assert design_workload(bad) is None
    with pytest.raises(ValueError, match="unknown workload 'qmc-99'"):
        get_workload("qmc-99")
    assert expand_workloads(("chat", "qmc", "qmc-03")) == (
        "chat",
        *[f"qmc-{i:02d}" for i in range(32)],
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(name="Q-1"), "lowercase"),
        (dict(n=12), "power of two"),
        (dict(concurrency=(0, 4)), "concurrency"),
        (dict(shared_prefix=(0.0, 1.0)), "below 1"),
        (dict(restate=(0.5, 0.2)), "restate"),
        (dict(max_output_total=3), "max_output_total"),
    ],
)
def test_bad_designs_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        WorkloadDesign(**{"name": "x", "n": 8, **kwargs})


def test_restate_percent_splits_requests(tok):
    base = get_workload("qmc-07")
    spec = dataclasses.replace(base, restate_percent=50, num_requests=4, concurrency=4)
    reqs = spec.build(tok)
    restating = [r.prompt_ids[-8:] == r.prompt_ids[spec.shared_prefix_tokens :][:8] for r in reqs]
    assert restating.count(True) == 2
    none = dataclasses.replace(spec, restate_percent=0).build(tok)
    assert not any(r.prompt_ids[-8:] == r.prompt_ids[spec.shared_prefix_tokens :][:8] for r in none)
    n = spec.shared_prefix_tokens
    assert len({r.prompt_ids[:n] for r in reqs}) == 1  # the prefix is shared
    with pytest.raises(ValueError, match="generated workloads only"):
        get_workload("chat").with_(restate_percent=10)
    with pytest.raises(ValueError, match=r"\[0, 100\]"):
        base.with_(restate_percent=101)


def test_sampled_tasks_are_balanced():
    models = [f"m{i}" for i in range(7)]
    hw = ["cpu-1t", "cpu-2t"]
    wl = [f"w{i}" for i in range(32)]
    tasks = sample_tasks(models, hw, wl, per_workload=5)
    assert len(tasks) == len(set(tasks)) == 160
    per_workload = collections.Counter(w for _, _, w in tasks)
    assert set(per_workload.values()) == {5}
    per_pair = collections.Counter((m, h) for m, h, _ in tasks)
    assert len(per_pair) == 14 and max(per_pair.values()) - min(per_pair.values()) <= 1
    assert sample_tasks(models, hw, wl, 5) == tasks and sample_tasks(models, hw, wl, 5, 1) != tasks
    with pytest.raises(ValueError, match="per_workload"):
        sample_tasks(models, hw, wl, per_workload=15)


def test_design_grid_plans_one_group_per_pair_and_method(tiny_model, tiny_model_b):
    models = (str(tiny_model), str(tiny_model_b))
    tasks = ((models[0], "cpu-1t", "qmc-01"), (models[1], "cpu-1t", "qmc-05"))
    grid = GridSpec(models, ("cpu-1t",), ("qmc-01", "qmc-05"), ("hf-eager", "hf-int8"), tasks=tasks)
    plan = plan_grid(grid)
    assert plan.cells == 4
    assert [(g.model, [w.name for w in g.workloads]) for g in plan.groups] == [
        (models[0], ["qmc-01"]),
        (models[0], ["qmc-01"]),
        (models[1], ["qmc-05"]),
        (models[1], ["qmc-05"]),
    ]
    by_method = plan_grid(dataclasses.replace(grid, order="method"))
    assert [g.method.name for g in by_method.groups] == ["hf-eager"] * 2 + ["hf-int8"] * 2
    with pytest.raises(ValueError, match="not in the grid"):
        GridSpec(
            models,
            ("cpu-1t",),
            ("qmc-01",),
            ("hf-eager",),
            tasks=((models[0], "cpu-2t", "qmc-01"),),
        )


def test_cpu_preset_samples_its_design():
    grid = grid_from_options("cpu")
    assert grid.tasks is not None and len(grid.tasks) == 160 and len(grid.workloads) == 32
    assert len(grid.methods) >= 8


def test_only_models_keeps_the_design_and_drops_other_models():
    full = grid_from_options("cpu")
    part = grid_from_options("cpu", only_models=("random:7m", "random:mha-187m"))
    assert part.models == ("random:7m", "random:mha-187m")
    assert part.tasks == tuple(t for t in full.tasks if t[0] in part.models)
    assert part.tasks and {t[0] for t in part.tasks} == set(part.models)
    with pytest.raises(ValueError, match="only-models"):
        grid_from_options("cpu", only_models=("random:nope",))


def test_host_qualified_profiles():
    p = profile_by_name("cpu-1t@host")
    tag = host_tag(profile_by_name("cpu-1t"))
    assert p.name == f"cpu-1t@{tag}" and p.threads == 1
    assert profile_by_name(p.name) == p  # a worker resolves the name it was given
    assert host_tag(profile_by_name("cpu-2t")) == tag if p.cpu_cores >= 2 else True
    assert p.hardware_id == profile_by_name("cpu-1t").hardware_id  # the name is not the id
    with pytest.raises(HardwareError, match="belongs to host 'other-000000'"):
        profile_by_name("cpu-1t@other-000000")
    assert np.all([c.isalnum() or c == "-" for c in tag])
