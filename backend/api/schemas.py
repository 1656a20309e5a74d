"""Request and response models of the HTTP API (what the OpenAPI schema shows).

Amounts in wei are decimal strings: a uint256 does not fit a JSON number that every
client parses exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

Hash = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{64}$")]
Address = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{40}$")]
Wei = Annotated[str, Field(description="an amount in wei, as a decimal string")]


def _as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


Timestamp = Annotated[datetime | None, AfterValidator(_as_utc)]
UINT256_MAX = 2**256 - 1
INT63_MAX = 2**63 - 1  # BIGINT columns


class Error(BaseModel):
    detail: Any = Field(description="what was wrong, in words (or FastAPI's field list)")


# on every route: what the middlewares and the validation of inputs may answer
COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "malformed request (e.g. a bad Content-Length)"},
    413: {"model": Error, "description": "request body over the route's limit"},
    422: {"model": Error, "description": "invalid input: a sentence or FastAPI's field list"},
    503: {"model": Error, "description": "the database is unavailable"},
}


class BlobHash(BaseModel):
    hash: Hash = Field(description="keccak256 of the stored bytes")
    size: int = Field(ge=0)


class DecisionView(BaseModel):
    model_version: int | None
    provider: str | None
    method_id: str | None
    price_wei: Wei | None
    reason: str | None
    tx_hash: str | None
    decided_at: Timestamp
    candidates: list[dict[str, Any]] = Field(
        description="the top candidates as the matcher recorded them: provider, method, "
        "predicted runtime and cost"
    )


class JobView(BaseModel):
    chain_id: int
    job_id: int
    client: str
    spec_hash: str
    model_id: str
    workload_id: str
    escrow_wei: Wei
    deadline: int
    max_runtime_s: int
    allowed_provider: str | None
    status: str
    provider: str | None
    hardware_id: str | None
    method_id: str | None
    price_wei: Wei | None
    result_hash: str | None
    unmatched_reason: str | None
    decision: DecisionView | None


class Page(BaseModel):
    total: int
    limit: int
    offset: int


class JobPage(Page):
    items: list[JobView]


class ProviderView(BaseModel):
    chain_id: int
    address: str
    agent: str
    hardware_ids: list[Any]
    price_per_second_wei: Wei
    stake_wei: Wei
    active: bool
    slashed: bool
    metadata_uri: str
    updated_at: Timestamp


class ProviderPage(Page):
    items: list[ProviderView]


class AttestationView(BaseModel):
    id: int
    chain_id: int
    block_number: int | None
    tx_hash: str | None
    provider: str
    nonce: int
    batch_index: int | None
    hardware_id: str
    model_id: str
    workload_id: str
    method_id: str
    tokens_per_s_x1000: int
    ttft_p50_us: int
    tpot_p50_us: int
    peak_mem_bytes: int
    report_hash: str
    timestamp: int
    signer: str | None
    signature_ok: bool | None
    report_ok: bool | None
    problem: str | None


class AttestationPage(Page):
    items: list[AttestationView]


class DatasetRow(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str
    hardware: str
    workload: str
    method: str
    output_tokens_per_s: float
    source: str
    n_repeats: int
    attestation_ids: list[int]


class DatasetView(BaseModel):
    schema_: str = Field(alias="schema", serialization_alias="schema")
    data_hash: str
    n_cells: int
    key_columns: list[str]
    metric: str
    rows: list[DatasetRow]
    descriptors: dict[str, dict[str, dict[str, Any]]]


Descriptor = Annotated[
    dict[str, Any], Field(description="a descriptor object; its content id is the id")
]


class RecommendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Hash | Descriptor
    hardware: Hash | Descriptor
    workload: Hash | Descriptor
    budget_wei: Annotated[int, Field(ge=0, le=UINT256_MAX)] | None = None
    price_per_second_wei: Annotated[int, Field(ge=0, le=UINT256_MAX)] | None = None
    quality: Literal["exact"] | Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        "exact",
        description='"exact": only methods that reproduced their reference output exactly; '
        "a number: the least token agreement with the reference output",
    )
    work_tokens: Annotated[int, Field(ge=1, le=10**12)] | None = Field(
        None,
        description="output tokens to generate (default: from the workload descriptor)",
    )
    top_k: Annotated[int, Field(ge=1, le=100)] = 10


class MethodPrediction(BaseModel):
    rank: int
    method_id: str
    method_name: str | None
    predicted_tokens_per_s: float | None
    predicted_runtime_s: float | None
    predicted_cost_wei: Wei | None
    within_budget: bool | None
    exact_match_rate: float | None
    token_agreement: float | None
    measured: bool = Field(description="this method was measured on this very task")


class RecommendResponse(BaseModel):
    model_version: int
    data_hash: str
    model_id: str
    hardware_id: str
    workload_id: str
    known: dict[str, bool] = Field(description="which of the task's ids the data set knows")
    work_tokens: int
    work_basis: str
    candidates_basis: str
    choice: str | None
    reason: str
    methods: list[MethodPrediction]


class IndexerView(BaseModel):
    chain_id: int
    last_indexed_block: int
    updated_at: Timestamp
    seconds_since_update: float | None


class ModelInfo(BaseModel):
    version: int
    data_hash: str
    code_version: str
    n_cells: int
    created_at: Timestamp


class HealthView(BaseModel):
    status: Literal["ok", "degraded", "down"]
    database: bool
    error: str | None = None
    schema_revision: str | None
    schema_head: str | None
    indexer: list[IndexerView]
    model: ModelInfo | None
