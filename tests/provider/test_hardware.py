from __future__ import annotations

import dataclasses

import pytest

from protocol.canonical import content_id
from provider_agent.hardware import (
    GpuInfo,
    HardwareError,
    HardwareProfile,
    detect,
    profile_by_name,
    usable_cpus,
)


def test_detect_cpu_profiles_have_stable_ids():
    a = detect([1], gpu=False)
    b = detect([1], gpu=False)
    assert [p.hardware_id for p in a] == [p.hardware_id for p in b]
    d = a[0].descriptor()
    assert d["kind"] == "hardware" and d["device"] == "cpu" and d["threads"] == 1
    assert d["ram_bytes"] % (1 << 30) == 0 and d["ram_bytes"] > 0
    assert d["cpu_cores"] >= 1 and isinstance(d["cpu_model"], str)
    assert a[0].hardware_id == content_id(d)


def test_thread_count_is_part_of_identity():
    if usable_cpus() < 2:
        pytest.skip("needs 2 CPUs")
    one, two = detect([1, 2], gpu=False)
    assert one.name == "cpu-1t" and two.name == "cpu-2t"
    assert one.hardware_id != two.hardware_id


def test_bad_profiles_are_clear_errors():
    with pytest.raises(HardwareError, match="usable CPUs"):
        detect([usable_cpus() + 1])
    with pytest.raises(HardwareError, match="no hardware profile"):
        profile_by_name("tpu7")
    with pytest.raises(HardwareError):
        dataclasses.replace(detect([1], gpu=False)[0], device="cuda")  # cuda without a GPU


def test_gpu_descriptor_fields():
    cpu = detect([1], gpu=False)[0]
    gpu = GpuInfo(0, "NVIDIA H100", 80 << 30, "9.0", "550.54", "12.4")
    p = HardwareProfile(**{**cpu.__dict__, "name": "cuda0", "device": "cuda", "gpu": gpu})
    d = p.descriptor()["gpu"]
    assert d == {
        "name": "NVIDIA H100",
        "memory_bytes": 80 << 30,
        "compute_capability": "9.0",
        "driver": "550.54",
        "cuda": "12.4",
        "count": 1,
    }
    assert p.hardware_id != cpu.hardware_id
