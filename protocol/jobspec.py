"""Job specs and job results: the two documents whose hashes go on chain for a paid job.

Both are JSON documents stored content-addressed (:mod:`protocol.blobstore`):
``specHash = content_id(spec.to_document())`` and likewise for results. Validation
happens once, here, at the boundary: a spec that parses is one a provider can act on,
and a malformed one is refused with a message naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints, ValidationError

from protocol import jsonsafe
from protocol.canonical import content_id

SPEC_SCHEMA = "metainf.job-spec/1"
RESULT_SCHEMA = "metainf.job-result/1"
MAX_PROMPTS = 256
MAX_PROMPT_CHARS = 32_768
MAX_NEW_TOKENS = 4096
MAX_OUTPUT_CHARS = 1_000_000

Id32 = Annotated[str, StringConstraints(strict=True, pattern=r"^0x[0-9a-f]{64}$")]
Address = Annotated[str, StringConstraints(strict=True, pattern=r"^0x[0-9a-fA-F]{40}$")]
Prompt = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=MAX_PROMPT_CHARS)]
StrictInt = Annotated[int, Strict()]
StrictBool = Annotated[bool, Strict()]
StrictFloat = Annotated[float, Strict()]


class JobSpecError(ValueError):
    """A job spec or result document is malformed; the message says which field and why."""


def _explain(exc: ValidationError, what: str) -> JobSpecError:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or what
        problems.append(f"{where}: {err['msg']}")
    return JobSpecError(f"invalid {what}: " + "; ".join(problems))


class _Document(BaseModel):
    """An immutable document with a schema tag and a content id.

    Scalars are strict (no "8" for 8, no true for 1); sequences take lists or tuples.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    SCHEMA: ClassVar[str] = ""
    WHAT: ClassVar[str] = "document"

    def to_document(self) -> dict[str, Any]:
        return {"schema": self.SCHEMA, **self.model_dump(mode="json")}

    @property
    def content_id(self) -> str:
        return content_id(self.to_document())

    @classmethod
    def from_document(cls, doc: Any):  # noqa: ANN206 - returns cls
        if not isinstance(doc, dict):
            raise JobSpecError(f"a {cls.WHAT} must be a JSON object")
        if doc.get("schema") != cls.SCHEMA:
            raise JobSpecError(f"schema must be {cls.SCHEMA!r}, got {doc.get('schema')!r}")
        try:
            return cls.model_validate({k: v for k, v in doc.items() if k != "schema"})
        except ValidationError as exc:
            raise _explain(exc, cls.WHAT) from None

    @classmethod
    def from_bytes(cls, data: bytes):  # noqa: ANN206 - returns cls
        try:
            doc = jsonsafe.loads(data)
        except (UnicodeDecodeError, ValueError) as exc:
            raise JobSpecError(f"{cls.WHAT} is not valid JSON: {exc}") from exc
        return cls.from_document(doc)


class JobSpec(_Document):
    """What the client wants run. Greedy decoding, so any honest provider's output is checkable."""

    SCHEMA: ClassVar[str] = SPEC_SCHEMA
    WHAT: ClassVar[str] = "job spec"

    model_id: Id32
    prompts: list[Prompt] = Field(min_length=1, max_length=MAX_PROMPTS)
    max_new_tokens: StrictInt = Field(ge=1, le=MAX_NEW_TOKENS)
    workload_id: Id32
    model_name: Annotated[str, StringConstraints(max_length=200)] = ""
    ignore_eos: StrictBool = True
    objective: Literal["throughput", "latency"] = "throughput"
    concurrency: StrictInt = Field(0, ge=0, le=MAX_PROMPTS)  # 0: as many as the engine takes
    # "exact": only methods that reproduce the reference greedy tokens; a number: lossy
    # methods whose measured token agreement with the reference is at least that
    quality: Literal["exact"] | Annotated[float, Strict(), Field(ge=0.0, le=1.0)] = "exact"

    @property
    def work_tokens(self) -> int:
        """Output tokens the job asks for (what runtime = work / throughput is about)."""
        return len(self.prompts) * self.max_new_tokens

    @property
    def spec_hash(self) -> str:
        return self.content_id


class Output(BaseModel):
    """One request's greedy output."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: Annotated[str, StringConstraints(max_length=MAX_OUTPUT_CHARS)]
    token_ids: list[Annotated[int, Strict(), Field(ge=0)]] = Field(max_length=MAX_NEW_TOKENS)


class JobResult(_Document):
    """What the provider delivered: greedy outputs plus how it ran them."""

    SCHEMA: ClassVar[str] = RESULT_SCHEMA
    WHAT: ClassVar[str] = "job result"

    job_id: StrictInt = Field(ge=0)
    spec_hash: Id32
    provider: Address
    method_id: Id32
    outputs: list[Output] = Field(max_length=MAX_PROMPTS)
    metrics: dict[str, StrictFloat] = Field(default_factory=dict, max_length=64)
    environment: dict[str, Any] = Field(default_factory=dict)

    @property
    def result_hash(self) -> str:
        return self.content_id
