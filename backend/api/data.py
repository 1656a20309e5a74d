"""The data set (CSV and JSON) and recommendations from the promoted model."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from backend.api.recommend import RecommendError, recommend
from backend.api.schemas import DatasetView, Error, RecommendRequest, RecommendResponse
from backend.api.state import ApiState
from backend.db import session_scope
from backend.trainer import LoadedModel, current_model
from protocol.blobstore import BlobError


def _model(state: ApiState) -> LoadedModel:
    try:
        with session_scope(state.database_url) as session:
            model = current_model(session, state.store)
    except BlobError as exc:  # the trainer wrote it to a blob folder this API cannot see
        raise HTTPException(
            503, f"the promoted model's artifact cannot be loaded here: {exc}"
        ) from None
    if model is None:
        raise HTTPException(
            409,
            "no model has been trained and promoted yet: the trainer promotes one once the "
            "data set has enough cells (see GET /dataset.json and GET /health)",
        )
    return model


def data_router(state: ApiState) -> APIRouter:
    router = APIRouter(tags=["data"])

    @router.get("/dataset.json", response_model=DatasetView, response_model_by_alias=True)
    async def dataset_json() -> JSONResponse:
        """The current performance table: one row per (model, hardware, workload, method)."""
        dataset = await run_in_threadpool(state.dataset)
        return JSONResponse(dataset.to_json())

    @router.get(
        "/dataset.csv",
        response_class=Response,
        responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
    )
    async def dataset_csv() -> Response:
        """The same table as CSV (ids, names, figures, provenance)."""
        dataset = await run_in_threadpool(state.dataset)
        return Response(
            dataset.to_csv(),
            media_type="text/csv",
            headers={"ETag": f'"{dataset.data_hash}"'},
        )

    @router.post(
        "/recommend",
        response_model=RecommendResponse,
        responses={409: {"model": Error, "description": "no model promoted yet"}},
    )
    def post_recommend(req: RecommendRequest) -> RecommendResponse:
        """Methods for a task, ranked by the promoted MetaInf model, with predicted
        throughput, runtime and cost."""
        model = _model(state)
        try:
            return recommend(req, state.dataset(), model)
        except RecommendError as exc:
            raise HTTPException(422, str(exc)) from None

    return router
