"""Job specs and job results: the two documents whose hashes go on chain for a paid job.

Both are plain JSON documents stored content-addressed (see ``provider_agent.blobstore``);
``specHash = content_id(spec.to_document())`` and likewise for results. Validation happens
once, here, at the boundary: a spec that parses is one a provider can act on.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from chain.canonical import content_id

SPEC_SCHEMA = "metainf.job-spec/1"
RESULT_SCHEMA = "metainf.job-result/1"
_ID = re.compile(r"0x[0-9a-f]{64}")
OBJECTIVES = ("throughput", "latency")
MAX_PROMPTS = 256
MAX_PROMPT_CHARS = 32_768
MAX_NEW_TOKENS = 4096


class JobSpecError(ValueError):
    """A job spec or result document is malformed; the message says which field and why."""


def _require(cond: bool, msg: str) -> None:
    if not cond:
        raise JobSpecError(msg)


@dataclass(frozen=True)
class JobSpec:
    """What the client wants run. Greedy decoding, so any honest provider's output is checkable."""

    model_id: str
    prompts: tuple[str, ...]
    max_new_tokens: int
    workload_id: str
    model_name: str = ""
    ignore_eos: bool = True
    objective: str = "throughput"
    concurrency: int = 0  # 0 = as many prompts as the engine takes at once

    def __post_init__(self) -> None:
        object.__setattr__(self, "prompts", tuple(self.prompts))
        for name in ("model_id", "workload_id"):
            value = getattr(self, name)
            _require(
                isinstance(value, str) and bool(_ID.fullmatch(value)),
                f"{name} must be a 0x-prefixed lowercase 32-byte hex id, got {value!r}",
            )
        _require(
            1 <= len(self.prompts) <= MAX_PROMPTS,
            f"prompts: need 1 to {MAX_PROMPTS}, got {len(self.prompts)}",
        )
        for i, prompt in enumerate(self.prompts):
            _require(
                isinstance(prompt, str) and prompt != "", f"prompts[{i}] must be a non-empty string"
            )
            _require(
                len(prompt) <= MAX_PROMPT_CHARS,
                f"prompts[{i}] is longer than {MAX_PROMPT_CHARS} characters",
            )
        _require(
            isinstance(self.max_new_tokens, int)
            and not isinstance(self.max_new_tokens, bool)
            and 1 <= self.max_new_tokens <= MAX_NEW_TOKENS,
            f"max_new_tokens must be an integer in 1..{MAX_NEW_TOKENS}, got {self.max_new_tokens!r}",
        )
        _require(
            self.objective in OBJECTIVES,
            f"objective must be one of {OBJECTIVES}, got {self.objective!r}",
        )
        _require(isinstance(self.ignore_eos, bool), "ignore_eos must be a boolean")
        _require(
            isinstance(self.concurrency, int) and 0 <= self.concurrency <= MAX_PROMPTS,
            f"concurrency must be an integer in 0..{MAX_PROMPTS}",
        )
        _require(isinstance(self.model_name, str), "model_name must be a string")

    def to_document(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["prompts"] = list(self.prompts)
        return {"schema": SPEC_SCHEMA, **doc}

    @property
    def spec_hash(self) -> str:
        return content_id(self.to_document())

    @classmethod
    def from_document(cls, doc: Any) -> JobSpec:
        _require(isinstance(doc, dict), "a job spec must be a JSON object")
        _require(
            doc.get("schema") == SPEC_SCHEMA,
            f"schema must be {SPEC_SCHEMA!r}, got {doc.get('schema')!r}",
        )
        body = {k: v for k, v in doc.items() if k != "schema"}
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(body) - known)
        _require(not unknown, f"unknown job spec fields: {', '.join(unknown)}")
        missing = sorted(
            k for k in ("model_id", "prompts", "max_new_tokens", "workload_id") if k not in body
        )
        _require(not missing, f"missing job spec fields: {', '.join(missing)}")
        _require(isinstance(body["prompts"], list), "prompts must be a list of strings")
        return cls(**body)

    @classmethod
    def from_bytes(cls, data: bytes) -> JobSpec:
        try:
            doc = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise JobSpecError(f"job spec is not valid JSON: {exc}") from exc
        return cls.from_document(doc)


@dataclass(frozen=True)
class JobResult:
    """What the provider delivered: greedy outputs plus how it ran them."""

    job_id: int
    spec_hash: str
    provider: str
    method_id: str
    outputs: tuple[dict[str, Any], ...]  # {"text": str, "token_ids": [int]}
    metrics: dict[str, float] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)

    def to_document(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["outputs"] = list(self.outputs)
        return {"schema": RESULT_SCHEMA, **doc}

    @property
    def result_hash(self) -> str:
        return content_id(self.to_document())

    @classmethod
    def from_document(cls, doc: Any) -> JobResult:
        _require(
            isinstance(doc, dict) and doc.get("schema") == RESULT_SCHEMA,
            f"not a {RESULT_SCHEMA} document",
        )
        body = {k: v for k, v in doc.items() if k != "schema"}
        try:
            return cls(**{**body, "outputs": tuple(body["outputs"])})
        except (TypeError, KeyError) as exc:
            raise JobSpecError(f"malformed job result: {exc}") from exc
