from __future__ import annotations

import pytest

from provider_agent.engines.flags import ORTFlags
from provider_agent.hardware import GpuInfo, HardwareProfile, detect
from provider_agent.methods import (
    METHODS,
    MethodSpec,
    UnknownMethodError,
    available_methods,
    get_method,
    vllm_build,
)


def _gpu_profile(cc: str = "9.0") -> HardwareProfile:
    cpu = detect([1], gpu=False)[0]
    gpu = GpuInfo(0, "NVIDIA H100", 80 << 30, cc, "550", "12.4")
    return HardwareProfile(**{**cpu.__dict__, "name": "cuda0", "device": "cuda", "gpu": gpu})


def test_registry_has_the_paper_methods_with_unique_ids():
    for name in (
        "vllm-baseline",
        "vllm-prefix",
        "vllm-chunked",
        "vllm-batch64",
        "vllm-ngram",
        "vllm-all",
    ):
        assert get_method(name).engine == "vllm"
    for name in (
        "hf-eager",
        "hf-int8",
        "hf-compile",
        "hf-ngram",
        "hf-fp16",
        "ort-fp32",
        "ort-int8",
    ):
        assert name in METHODS
    ids = [m.method_id for m in METHODS.values()]
    assert len(set(ids)) == len(ids)
    for m in METHODS.values():
        assert m.reference in METHODS and METHODS[m.reference].exact


def test_vllm_baseline_switches_every_acceleration_off():
    f = get_method("vllm-baseline").flags
    assert f.enable_prefix_caching is False and f.enable_chunked_prefill is False
    assert f.enforce_eager is True and f.max_num_seqs <= 8 and f.speculative is None
    # written out explicitly: vLLM turns prefix caching and chunked prefill on by default
    written = get_method("vllm-baseline").descriptor()["flags"]
    assert written["enable_prefix_caching"] is False and "speculative" not in written
    both = get_method("vllm-all").flags
    assert both.enable_prefix_caching and both.enable_chunked_prefill and both.max_num_seqs == 64


def test_unknown_and_malformed_methods():
    with pytest.raises(UnknownMethodError, match="unknown method 'turbo'"):
        get_method("turbo")
    with pytest.raises(UnknownMethodError, match="engine"):
        MethodSpec("x", "tensorrt", {}, True, "x")
    with pytest.raises(UnknownMethodError, match="unknown hf flags"):
        MethodSpec("x", "hf", {"warp": 9}, True, "x")
    with pytest.raises(UnknownMethodError, match="x: attn must be one of"):
        MethodSpec("x", "hf", {"attn": "flash"}, True, "x")
    with pytest.raises(UnknownMethodError, match="take HFFlags"):
        MethodSpec("x", "hf", ORTFlags(), True, "x")
    with pytest.raises(UnknownMethodError, match="requirements"):
        MethodSpec("x", "hf", {}, True, "x", ("quantum",))


def test_cpu_host_lists_what_it_cannot_run_with_reasons():
    ok, no = available_methods(detect([1], gpu=False)[0])
    names = {m.name for m in ok}
    assert {"hf-eager", "hf-int8", "hf-ngram"} <= names
    reasons = {m.name: r for m, r in no}
    assert "CUDA" in reasons["hf-fp16"]
    if vllm_build() is None:
        assert "vllm is not installed" in reasons["vllm-baseline"]
    assert set(names).isdisjoint(reasons)


def test_gpu_profile_requirements():
    ok, no = available_methods(_gpu_profile())
    reasons = {m.name: r for m, r in no}
    assert "CPU-only" in reasons["hf-int8"]
    assert "hf-fp16" in {m.name for m in ok}
    _, no_old = available_methods(_gpu_profile("7.5"), ["hf-bf16"])
    assert "compute capability" in no_old[0][1]
