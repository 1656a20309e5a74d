"""Malformed job specs are refused at the boundary with a message naming the field."""

from __future__ import annotations

import json

import pytest

from chain.canonical import canonical_json, content_id
from chain.jobspec import JobResult, JobSpec, JobSpecError

MODEL = content_id({"model": "tiny"})
WORKLOAD = content_id({"workload": "chat"})


def _doc(**over: object) -> dict:
    doc = JobSpec(
        model_id=MODEL, prompts=("hello",), max_new_tokens=8, workload_id=WORKLOAD
    ).to_document()
    doc.update(over)
    return doc


def test_round_trip_and_hash_is_content_id() -> None:
    spec = JobSpec.from_bytes(canonical_json(_doc()))
    assert spec.spec_hash == content_id(_doc())
    assert JobSpec.from_document(spec.to_document()) == spec


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"prompts": []}, "prompts: need 1"),
        ({"prompts": "hello"}, "prompts must be a list"),
        ({"prompts": [""]}, r"prompts\[0\] must be a non-empty string"),
        ({"max_new_tokens": 0}, "max_new_tokens must be an integer"),
        ({"max_new_tokens": True}, "max_new_tokens must be an integer"),
        ({"model_id": "llama"}, "model_id must be a 0x-prefixed"),
        ({"objective": "cheap"}, "objective must be one of"),
        ({"schema": "other/1"}, "schema must be"),
        ({"surprise": 1}, "unknown job spec fields: surprise"),
    ],
)
def test_malformed_specs_are_refused(change: dict, message: str) -> None:
    with pytest.raises(JobSpecError, match=message):
        JobSpec.from_document(_doc(**change))


def test_missing_fields_and_bad_json_are_refused() -> None:
    doc = _doc()
    del doc["prompts"]
    with pytest.raises(JobSpecError, match="missing job spec fields: prompts"):
        JobSpec.from_document(doc)
    with pytest.raises(JobSpecError, match="not valid JSON"):
        JobSpec.from_bytes(b"{not json")
    with pytest.raises(JobSpecError, match="must be a JSON object"):
        JobSpec.from_bytes(json.dumps([1]).encode())


def test_result_document_round_trip() -> None:
    result = JobResult(1, MODEL, "0x" + "11" * 20, WORKLOAD, ({"text": "hi", "token_ids": [1, 2]},))
    assert JobResult.from_document(result.to_document()) == result
    assert result.result_hash == content_id(result.to_document())
    with pytest.raises(JobSpecError):
        JobResult.from_document({"schema": "metainf.job-result/1"})
