"""The blob endpoint (the remote ``BlobStore``) and job spec uploads.

Anyone may upload (content-addressed, at most ``MAX_BLOB_BYTES``) and read reports and
specs. A job result is readable only by its job's client, the provider that produced it
and the auditors (``METAINF_AUDITORS``), by a signed request (:mod:`protocol.auth`). A
blob is a result when some job's ``result_hash`` names it, or when it is a
``metainf.job-result/1`` document (so a result is protected from its upload on, before
the indexer has seen ``submitResult``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.api.auth import authenticate
from backend.api.metrics import BLOB_BYTES
from backend.api.schemas import INT63_MAX, BlobHash, Error
from backend.api.state import ApiState
from backend.db import JobRow, session_scope
from protocol.blobstore import MAX_BLOB_BYTES
from protocol.canonical import CanonicalJSONError, canonical_json, keccak_hex
from protocol.jobspec import RESULT_SCHEMA, JobResult, JobSpec, JobSpecError
from protocol.jsonsafe import MAX_DEPTH, too_deep

HashPath = Annotated[
    str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="keccak256 of the blob, 0x-hex")
]
_RESULT_MARK = f'"schema":"{RESULT_SCHEMA}"'.encode()
_RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
_BLOB_RESPONSE = {
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    "description": "the blob's bytes",
}
_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Error, "description": "a job result needs a signed request"},
    403: {"model": Error, "description": "signed, but not by the job's client or an auditor"},
    404: {"model": Error, "description": "no such blob"},
}
_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "the bytes do not hash to the given name"},
    413: {"model": Error, "description": f"over {MAX_BLOB_BYTES} bytes"},
}


def _spec_body() -> dict[str, Any]:
    schema = JobSpec.model_json_schema()
    schema["properties"] = {"schema": {"const": JobSpec.SCHEMA}, **schema["properties"]}
    schema["required"] = ["schema", *schema.get("required", [])]
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _result_document(data: bytes | None) -> JobResult | None:
    if data is None or _RESULT_MARK not in data or too_deep(data):
        return None
    try:
        return JobResult.from_bytes(data)
    except (JobSpecError, RecursionError, ValueError):
        return None  # not a well-formed result: an ordinary blob


def _readers(session: Session, h: str, data: bytes | None) -> tuple[bool, set[str]]:
    """Whether the blob is a job result, and who may read it (lower-case addresses)."""
    clients = set(session.scalars(select(JobRow.client).where(JobRow.result_hash == h)))
    protected = bool(clients)
    doc = _result_document(data)
    if doc is not None:
        protected = True
        clients.add(doc.provider)
        if doc.job_id <= INT63_MAX:
            query = select(JobRow.client).where(
                JobRow.job_id == doc.job_id, JobRow.spec_hash == doc.spec_hash
            )
            clients.update(session.scalars(query))
    return protected, {c.lower() for c in clients}


def _read_checked(state: ApiState, request: Request, h: str) -> tuple[bytes, bool]:
    """The blob's bytes and whether it is a job result, after the access check."""
    data = state.store.get(h) if state.store.has(h) else None
    with session_scope(state.database_url) as session:
        protected, readers = _readers(session, h, data)
    if protected:
        address = authenticate(request, b"", state.seen, state.window_s).lower()
        if address not in readers and address not in state.auditors:
            raise HTTPException(
                403, f"{h} is a job result: only its client and the auditors may read it"
            )
    if data is None:
        raise HTTPException(404, f"no blob {h}")
    return data, protected


def _headers(h: str, size: int, protected: bool) -> dict[str, str]:
    return {
        "ETag": f'"{h}"',
        "Content-Length": str(size),
        "Cache-Control": "private, no-store"
        if protected
        else "public, max-age=31536000, immutable",
    }


async def _store(state: ApiState, data: bytes) -> BlobHash:
    h = await run_in_threadpool(state.store.put, data)
    BLOB_BYTES.labels(direction="in").inc(len(data))
    return BlobHash(hash=h, size=len(data))


def blob_router(state: ApiState) -> APIRouter:
    router = APIRouter(tags=["blobs"])

    @router.put("/blobs", response_model=BlobHash, openapi_extra=_RAW_BODY, responses=_WRITE_ERRORS)
    async def put_blob(request: Request) -> BlobHash:
        """Store the raw body; returns its keccak256."""
        return await _store(state, await request.body())

    @router.put(
        "/blobs/{h}", response_model=BlobHash, openapi_extra=_RAW_BODY, responses=_WRITE_ERRORS
    )
    async def put_named_blob(h: HashPath, request: Request) -> BlobHash:
        """Store the raw body under ``h``; refused (400) unless keccak256(body) == h."""
        data = await request.body()
        actual = keccak_hex(data)
        if actual != h.lower():
            raise HTTPException(400, f"the body hashes to {actual}, not to {h.lower()}")
        return await _store(state, data)

    @router.get(
        "/blobs/{h}", response_class=Response, responses={200: _BLOB_RESPONSE, **_READ_ERRORS}
    )
    async def get_blob(h: HashPath, request: Request) -> Response:
        """The blob's bytes (a job result: signed requests of its client or an auditor)."""
        h = h.lower()
        data, protected = await run_in_threadpool(_read_checked, state, request, h)
        BLOB_BYTES.labels(direction="out").inc(len(data))
        return Response(
            data, media_type="application/octet-stream", headers=_headers(h, len(data), protected)
        )

    @router.head("/blobs/{h}", response_class=Response, responses=_READ_ERRORS)
    async def head_blob(h: HashPath, request: Request) -> Response:
        """Whether the blob exists (200 with its size, 404), under the same access rule."""
        h = h.lower()
        data, protected = await run_in_threadpool(_read_checked, state, request, h)
        return Response(
            headers=_headers(h, len(data), protected),
            media_type="application/octet-stream",
        )

    @router.post(
        "/specs",
        response_model=BlobHash,
        openapi_extra=_spec_body(),
        responses={413: _WRITE_ERRORS[413], 422: {"model": Error, "description": "malformed"}},
        tags=["jobs"],
    )
    async def post_spec(request: Request) -> BlobHash:
        """Validate a job spec (``metainf.job-spec/1``) and store its canonical JSON;
        returns the spec hash that goes on chain."""
        body = await request.body()
        if too_deep(body):
            raise HTTPException(422, f"job spec is nested deeper than {MAX_DEPTH} levels")
        try:
            spec = JobSpec.from_bytes(body)
            data = canonical_json(spec.to_document())
        except (JobSpecError, CanonicalJSONError) as exc:
            raise HTTPException(422, str(exc)) from None
        except (RecursionError, ValueError) as exc:
            raise HTTPException(422, f"job spec is not valid JSON: {exc}") from None
        return await _store(state, data)

    return router
