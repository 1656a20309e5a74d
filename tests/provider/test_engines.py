"""Every non-vLLM method available on this host runs the tiny model; exact ones match hf-eager."""

from __future__ import annotations

import pytest

from provider_agent.engines import EngineError, make_engine
from provider_agent.hardware import profile_by_name
from provider_agent.harness import agreement
from provider_agent.methods import available_methods, get_method
from provider_agent.models import load_model, model_info
from provider_agent.workloads import WorkloadSpec

CPU_METHODS = [
    m.name for m in available_methods(profile_by_name("cpu-1t"))[0] if m.engine != "vllm"
]

# mixed prompt lengths with concurrency 3 exercise left padding and a ragged last batch
WORKLOAD = WorkloadSpec(
    "t", "summarize", num_requests=4, concurrency=3, prompt_tokens=(12, 40), output_tokens=(6, 12)
)


@pytest.fixture(scope="module")
def requests(tiny_model):
    return WORKLOAD.build(load_model(tiny_model)[1])


@pytest.fixture(scope="module")
def reference(tiny_model, cpu1, requests):
    eng = make_engine(model_info(tiny_model), get_method("hf-eager"), cpu1, max_model_len=256)
    eng.load()
    return [r.output_ids for r in eng.run(requests, WORKLOAD.concurrency)]


def test_some_methods_are_available_here():
    assert {"hf-eager", "hf-sdpa", "hf-int8", "hf-ngram"} <= set(CPU_METHODS)


@pytest.mark.parametrize("name", CPU_METHODS)
def test_method_runs_and_exact_methods_match_baseline(name, tiny_model, cpu1, requests, reference):
    spec = get_method(name)
    eng = make_engine(model_info(tiny_model), spec, cpu1, max_model_len=256)
    eng.load()
    results = eng.run(requests, WORKLOAD.concurrency)
    assert [r.index for r in results] == [r.index for r in requests]
    for req, res in zip(requests, results, strict=True):
        assert len(res.output_ids) == req.max_new_tokens == len(res.token_times)
        assert res.t_submit <= res.token_times[0]
        assert res.token_times == sorted(res.token_times)
    q = agreement([r.output_ids for r in results], reference)
    if spec.exact:
        assert q["exact_match_rate"] == 1.0, f"{name} is exact but diverged: {q}"
    env = eng.environment()
    assert env["engine"] in ("transformers", "onnxruntime")
    eng.close()


def test_static_cache_too_small_is_a_clear_error(tiny_model, cpu1, requests):
    if "hf-compile" not in CPU_METHODS:
        pytest.skip("torch.compile unavailable here")
    eng = make_engine(model_info(tiny_model), get_method("hf-compile"), cpu1, max_model_len=16)
    eng.load()
    with pytest.raises(EngineError, match="static cache"):
        eng.run(requests, 1)
