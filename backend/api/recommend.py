"""``POST /recommend``: ranked methods for a (model, hardware, workload) from the promoted model.

* Each of model, hardware and workload is an id or a descriptor (whose content id is
  the id). The model was trained with the descriptors of every id in the data set; an
  id it never saw is still ranked, from the method offsets alone (``known`` says so).
* Candidates: the methods measured on this (model, hardware) in the data set, else on
  this hardware, else every method the model knows (``candidates_basis``).
* Quality: ``"exact"`` keeps methods whose ``exact_match_rate`` is 1; a number keeps
  methods whose ``token_agreement`` is at least that. The figure is the cell's when the
  task was measured, else the method's worst over the data set; unknown quality fails.
* Work: ``work_tokens``, else ``num_requests`` x mean ``output_tokens`` of the workload
  descriptor, else 1 token (runtime is then seconds per output token).
* Runtime = work / predicted tokens per second; cost = ceil(runtime x price); the
  choice is the best-ranked method whose predicted cost fits the budget (the paper's
  budgeted selection), or the best-ranked one without a budget.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from backend.api.schemas import MethodPrediction, RecommendRequest, RecommendResponse
from backend.dataset import Dataset
from backend.trainer import LoadedModel
from protocol.canonical import CanonicalJSONError, content_id

ROLES = ("model", "hardware", "workload")


class RecommendError(ValueError):
    """The request cannot be answered as asked (HTTP 422)."""


def resolve(value: str | dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """(id, descriptor or None) of an id or a descriptor."""
    if isinstance(value, str):
        return value.lower(), None
    try:
        return content_id(value), value
    except (CanonicalJSONError, TypeError, ValueError, RecursionError) as exc:
        raise RecommendError(f"descriptor has no canonical JSON form: {exc}") from None


def work_tokens(req: RecommendRequest, workload: Mapping[str, Any] | None) -> tuple[int, str]:
    if req.work_tokens is not None:
        return req.work_tokens, "request"
    workload = workload or {}
    n, out = workload.get("num_requests"), workload.get("output_tokens")
    if isinstance(out, list) and len(out) == 2 and all(isinstance(x, int | float) for x in out):
        out = (out[0] + out[1]) / 2
    if isinstance(n, int | float) and isinstance(out, int | float) and n > 0 and out > 0:
        return max(1, min(10**12, round(n * out))), "workload descriptor"
    return 1, "one output token (no work given)"


def _candidates(dataset: Dataset, model: str, hardware: str, known: list[str]) -> tuple[list, str]:
    on_pair = {
        r["method"] for r in dataset.rows if r["model"] == model and r["hardware"] == hardware
    }
    on_hw = {r["method"] for r in dataset.rows if r["hardware"] == hardware}
    for methods, basis in (
        (on_pair, "measured on this model and hardware"),
        (on_hw, "measured on this hardware"),
    ):
        chosen = [m for m in known if m in methods]
        if chosen:
            return chosen, basis
    return list(known), "every method the model knows"


def _quality(dataset: Dataset, task: tuple[str, str, str]) -> dict[str, dict[str, Any]]:
    """method -> {exact_match_rate, token_agreement, measured}: the cell's, else worst."""
    worst: dict[str, dict[str, Any]] = {}
    cell: dict[str, dict[str, Any]] = {}
    for r in dataset.rows:
        figures = {k: r.get(k) for k in ("exact_match_rate", "token_agreement")}
        if (r["model"], r["hardware"], r["workload"]) == task:
            cell[r["method"]] = {**figures, "measured": True}
        w = worst.setdefault(r["method"], {"exact_match_rate": 1.0, "token_agreement": 1.0})
        for k, v in figures.items():
            w[k] = None if v is None or w[k] is None else min(w[k], v)
    return {m: cell.get(m, {**w, "measured": False}) for m, w in worst.items()}


def _passes(quality: str | float, q: Mapping[str, Any] | None) -> bool:
    if q is None:
        return False
    if quality == "exact":
        return q.get("exact_match_rate") == 1.0
    agreement = q.get("token_agreement")
    return agreement is not None and agreement >= float(quality)


def _predictions(selector, task: dict[str, str], methods: list[str], work: int) -> list:
    from meta.selectors.base import Task

    try:
        runtimes = selector.predict_runtime(Task(values=task, work=float(work)), methods)
    except (TypeError, ValueError):  # a selector that predicts no runtime
        return [None] * len(methods)
    return [float(r) if math.isfinite(r) and r > 0 else None for r in runtimes]


def recommend(req: RecommendRequest, dataset: Dataset, model: LoadedModel) -> RecommendResponse:
    from meta.selectors.base import Task

    if req.budget_wei is not None and req.price_per_second_wei is None:
        raise RecommendError("budget_wei needs price_per_second_wei (cost = runtime x price)")
    ids, given = {}, {}
    for role in ROLES:
        ids[role], given[role] = resolve(getattr(req, role))
    known = {role: ids[role] in dataset.descriptors.get(role, {}) for role in ROLES}
    workload = given["workload"] or dataset.descriptors.get("workload", {}).get(ids["workload"])
    work, work_basis = work_tokens(req, workload)
    selector = model.selector
    methods, basis = _candidates(dataset, ids["model"], ids["hardware"], list(selector.methods_))
    quality = _quality(dataset, (ids["model"], ids["hardware"], ids["workload"]))
    methods = [m for m in methods if _passes(req.quality, quality.get(m))]
    task = {role: ids[role] for role in ROLES}
    ranked = selector.rank(Task(values=task, available=methods)) if methods else []
    runtimes = _predictions(selector, task, ranked, work) if ranked else []
    names = dataset.names().get("method", {})
    rows = _rows(req, names, ranked, runtimes, quality, work)
    choice = next((r.method_id for r in rows if r.within_budget is not False), None)
    return RecommendResponse(
        model_version=model.version,
        data_hash=model.data_hash,
        model_id=ids["model"],
        hardware_id=ids["hardware"],
        workload_id=ids["workload"],
        known=known,
        work_tokens=work,
        work_basis=work_basis,
        candidates_basis=basis,
        choice=choice,
        reason=_reason(req, rows, choice),
        methods=rows[: req.top_k],
    )


def _rows(
    req: RecommendRequest,
    names: Mapping[str, str],
    ranked: list[str],
    runtimes: list[float | None],
    quality: Mapping[str, Mapping[str, Any]],
    work: int,
) -> list[MethodPrediction]:
    out = []
    for i, (method, runtime) in enumerate(zip(ranked, runtimes, strict=True)):
        cost = None
        if runtime is not None and req.price_per_second_wei is not None:
            cost = math.ceil(runtime * req.price_per_second_wei)
        fits = None if cost is None or req.budget_wei is None else cost <= req.budget_wei
        q = quality.get(method, {})
        out.append(
            MethodPrediction(
                rank=i + 1,
                method_id=method,
                method_name=names.get(method),
                predicted_tokens_per_s=None if runtime is None else _round(work / runtime),
                predicted_runtime_s=None if runtime is None else _round(runtime),
                predicted_cost_wei=None if cost is None else str(cost),
                within_budget=fits,
                exact_match_rate=q.get("exact_match_rate"),
                token_agreement=q.get("token_agreement"),
                measured=bool(q.get("measured")),
            )
        )
    return out


def _round(x: float) -> float:
    return float(f"{x:.6g}")


def _reason(req: RecommendRequest, rows: list[MethodPrediction], choice: str | None) -> str:
    if not rows:
        return "no method meets the quality requirement on this model and hardware"
    if choice is None:
        return "no method's predicted cost fits the budget"
    if req.budget_wei is not None:
        return "the best-ranked method whose predicted cost fits the budget"
    return "the best-ranked method (no budget given)"
