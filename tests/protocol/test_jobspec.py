"""Malformed job specs are refused at the boundary with a message naming the field."""

from __future__ import annotations

import json

import pytest

from protocol.canonical import canonical_json, content_id
from protocol.jobspec import JobResult, JobSpec, JobSpecError

MODEL = content_id({"model": "tiny"})
SPEC_HASH = "0x94a7e27acc31dfcaa1c8362a088dff28bbb82e339ef8f6b9dc3469e4bb7060aa"
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
        ({"prompts": []}, "prompts: List should have at least 1 item"),
        ({"prompts": "hello"}, "prompts: Input should be a valid list"),
        ({"prompts": [""]}, r"prompts\.0: String should have at least 1 character"),
        ({"prompts": ["x" * 32_769]}, r"prompts\.0: String should have at most 32768"),
        ({"prompts": ["x"] * 257}, "prompts: List should have at most 256"),
        ({"max_new_tokens": 0}, "max_new_tokens: Input should be greater than or equal to 1"),
        ({"max_new_tokens": True}, "max_new_tokens: Input should be a valid integer"),
        ({"max_new_tokens": "8"}, "max_new_tokens: Input should be a valid integer"),
        ({"model_id": "llama"}, "model_id: String should match pattern"),
        ({"objective": "cheap"}, "objective: Input should be 'throughput' or 'latency'"),
        ({"schema": "other/1"}, "schema must be"),
        ({"surprise": 1}, "surprise: Extra inputs are not permitted"),
        ({"quality": "fast"}, "quality"),
        ({"quality": 1.5}, "quality"),
    ],
)
def test_malformed_specs_are_refused(change: dict, message: str) -> None:
    with pytest.raises(JobSpecError, match=message):
        JobSpec.from_document(_doc(**change))


def test_missing_fields_and_bad_json_are_refused() -> None:
    doc = _doc()
    del doc["prompts"]
    with pytest.raises(JobSpecError, match="prompts: Field required"):
        JobSpec.from_document(doc)
    with pytest.raises(JobSpecError, match="not valid JSON"):
        JobSpec.from_bytes(b"{not json")
    with pytest.raises(JobSpecError, match="must be a JSON object"):
        JobSpec.from_bytes(json.dumps([1]).encode())


def test_hashes_are_pinned() -> None:
    """Spec and result documents keep their hashes across refactors (pinned values)."""
    spec = JobSpec(
        model_id=content_id({"m": 1}),
        prompts=("hello", "world"),
        max_new_tokens=8,
        workload_id=content_id({"w": 1}),
    )
    # re-pinned when the spec gained its `quality` field (no spec had gone on chain yet)
    assert spec.spec_hash == SPEC_HASH
    result = JobResult(
        job_id=1,
        spec_hash=spec.spec_hash,
        provider="0x" + "11" * 20,
        method_id=content_id({"x": 1}),
        outputs=({"text": "hi", "token_ids": [1, 2]},),
        metrics={"wall_s": 1.5},
        environment={"engine": "hf"},
    )
    assert result.result_hash == (
        "0xfef752d7bbfa14e12473342d853bd7f59d4493e8a109bffdaa08266a2e76e8a1"
    )


def test_result_document_round_trip() -> None:
    result = JobResult(
        job_id=1,
        spec_hash=MODEL,
        provider="0x" + "11" * 20,
        method_id=WORKLOAD,
        outputs=({"text": "hi", "token_ids": [1, 2]},),
    )
    assert JobResult.from_document(result.to_document()) == result
    assert result.result_hash == content_id(result.to_document())
    with pytest.raises(JobSpecError):
        JobResult.from_document({"schema": "metainf.job-result/1"})


def test_deeply_nested_documents_are_refused_before_parsing() -> None:
    """py_ecc raises the recursion limit: json.loads on this would kill the process."""

    bomb = b"[" * 100_000
    with pytest.raises(JobSpecError, match="nested 100000 levels deep"):
        JobSpec.from_bytes(bomb)


def test_blob_json_is_parsed_with_a_depth_limit(tmp_path) -> None:
    from protocol.blobstore import LocalBlobStore
    from protocol.jsonsafe import JSONTooDeep

    store = LocalBlobStore(tmp_path)
    h = store.put(b'{"a":' * 100 + b"1" + b"}" * 100)
    with pytest.raises(JSONTooDeep):
        store.get_json(h)
    ok = store.put(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}')
    assert store.get_json(ok)["a"].startswith("[[[[")
