from __future__ import annotations

import pytest

from provider_agent.models import load_model
from provider_agent.workloads import KINDS, WORKLOADS, WorkloadSpec, get_workload


@pytest.fixture(scope="module")
def tok(tiny_model):
    return load_model(tiny_model)[1]


def test_presets_cover_every_kind_and_concurrency_range():
    assert {w.kind for w in WORKLOADS.values()} == set(KINDS) - {"generated"}  # see design tests
    conc = {w.concurrency for w in WORKLOADS.values()}
    assert 1 in conc and 64 in conc


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_requests_are_deterministic_with_exact_lengths(name, tok):
    spec = get_workload(name)
    a, b = spec.build(tok), spec.build(tok)
    assert a == b and len(a) == spec.num_requests
    for r in a:
        assert spec.output_tokens[0] <= r.max_new_tokens <= spec.output_tokens[1]
        body = len(r.prompt_ids) - spec.shared_prefix_tokens
        if spec.kind != "summarize":
            assert spec.prompt_tokens[0] <= body <= spec.prompt_tokens[1]
        assert len(r.prompt_ids) <= spec.max_prompt_tokens


def test_shared_prefix_is_shared(tok):
    spec = get_workload("shared-prefix")
    reqs = spec.build(tok)
    n = spec.shared_prefix_tokens
    assert len({r.prompt_ids[:n] for r in reqs}) == 1
    assert len({r.prompt_ids[n:] for r in reqs}) == len(reqs)


def test_summarize_prompt_repeats_its_document(tok):
    r = get_workload("summarize").build(tok)[0]
    tail = r.prompt_ids[-8:]
    assert r.prompt_ids[:8] == tail  # the restatement starts as the document does


def test_seed_and_ids():
    a = get_workload("chat")
    assert a.workload_id == get_workload("chat").workload_id
    assert a.with_(seed=1).workload_id != a.workload_id
    assert a.with_(concurrency=1).workload_id != a.workload_id


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(kind="poetry"), "kind"),
        (dict(num_requests=0), "num_requests"),
        (dict(concurrency=0), "concurrency"),
        (dict(concurrency=99), "concurrency"),
        (dict(prompt_tokens=(5, 2)), "prompt_tokens"),
        (dict(kind="shared_prefix"), "shared_prefix_tokens"),
    ],
)
def test_validation(kwargs, match):
    base = dict(
        name="w",
        kind="chat",
        num_requests=4,
        concurrency=2,
        prompt_tokens=(4, 8),
        output_tokens=(2, 2),
    )
    with pytest.raises(ValueError, match=match):
        WorkloadSpec(**{**base, **kwargs})
