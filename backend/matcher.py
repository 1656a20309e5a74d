"""Matching a paid job to a provider and an acceleration method (the paper's budgeted
selection, with providers as a second choice axis).

For a job (model, workload, work = prompts x max_new_tokens, escrow, max runtime, quality):

1. **Candidates** are (provider, hardware profile, method) triples where the provider is
   active (registered, staked, not banned), offers that hardware profile, has attested
   the method on this model and hardware (it serves the model), is the client's allowed
   provider if one was named, is not saturated (fewer than ``max_open_jobs`` offered or
   accepted jobs), and whose method meets the job's quality requirement (``exact``: the
   measured exact-match rate is 1; a number: the measured token agreement is at least it;
   a method never measured for quality does not qualify).
2. **Prediction**: MetaInf (the newest promoted model) predicts throughput for each
   (hardware, method) on this (model, workload) in one vectorized call; runtime = work /
   throughput. Without a promoted model the attested throughput of the very same cell
   is used, and a triple without either is not feasible.
3. **Cost** = runtime x the provider's price per second for that hardware profile.
   Feasible: predicted cost <= escrow and predicted runtime <= the job's max runtime.
4. **Choice**: the fastest feasible candidate; ties go to the lower cost, then the lower
   provider address, then the lower method id (deterministic across workers).
5. **Offer price** = ceil(predicted cost x ``price_margin``), capped by the escrow and by
   rate x max runtime (the contract's bounds), so a prediction somewhat too optimistic
   still pays the provider for the time it really takes.

Every decision (the top candidates with predicted runtime, cost and the model version,
or the reason nothing fits) is stored once per job, which the API serves.
"""

from __future__ import annotations

import atexit
import gc
import logging
import math
import threading
import weakref
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.chainctx import MarketContext
from backend.dataset import Dataset, DatasetCache
from backend.db import JobRow, MatchDecision, ProviderRow, session_scope
from chain.clients import JobStatus
from chain.errors import ContractRevert
from protocol.blobstore import BlobError
from protocol.jobspec import JobSpec, JobSpecError

log = logging.getLogger(__name__)

TOP_K = 5
_datasets = DatasetCache()


@dataclass(frozen=True)
class MatchPolicy:
    max_open_jobs: int = 4  # offered or accepted jobs a provider holds at once
    price_margin: float = 1.25

    def __post_init__(self) -> None:
        if self.max_open_jobs < 1 or self.price_margin < 1.0:
            raise ValueError("max_open_jobs must be >= 1 and price_margin >= 1")


@dataclass(frozen=True)
class JobRequest:
    """What the matcher needs of a job (from the chain and its spec)."""

    job_id: int
    model_id: str
    workload_id: str
    work_tokens: int
    escrow_wei: int
    max_runtime_s: int
    quality: str | float = "exact"
    allowed_provider: str | None = None


@dataclass(frozen=True)
class ProviderOffer:
    """One provider's hardware profile as the market sees it."""

    provider: str
    hardware_id: str
    price_per_second_wei: int
    methods: frozenset[str]  # attested by this provider on (the job's model, this hardware)
    open_jobs: int = 0


@dataclass(frozen=True)
class Candidate:
    provider: str
    hardware_id: str
    method_id: str
    method_name: str | None
    predicted_tokens_per_s: float | None
    predicted_runtime_s: float | None
    predicted_cost_wei: int | None
    offer_price_wei: int | None
    feasible: bool
    why_not: str | None = None

    def sort_key(self) -> tuple:
        runtime = self.predicted_runtime_s if self.predicted_runtime_s is not None else math.inf
        cost = self.predicted_cost_wei if self.predicted_cost_wei is not None else math.inf
        return (not self.feasible, runtime, cost, self.provider.lower(), self.method_id)


@dataclass
class MatchResult:
    job_id: int
    status: str  # assigned | unmatched | decided-before | not-open
    reason: str
    provider: str | None = None
    hardware_id: str | None = None
    method_id: str | None = None
    price_wei: int | None = None
    model_version: int | None = None
    candidates: list[Candidate] = field(default_factory=list)
    tx_hash: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["candidates"] = [_candidate_json(c) for c in self.candidates]
        return out


def _candidate_json(c: Candidate) -> dict[str, Any]:
    d = asdict(c)
    for key in ("predicted_cost_wei", "offer_price_wei"):
        d[key] = None if d[key] is None else str(d[key])
    return d


# ------------------------------------------------------------------------- quality


class _Lru:
    """A small thread-safe LRU map (the API serves from threads)."""

    def __init__(self, size: int) -> None:
        self.size, self._items, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


_qualities = _Lru(256)


def quality_table(dataset: Dataset, model_id: str, workload_id: str) -> dict[tuple, dict]:
    """(hardware, method) -> measured quality: the cell's for this task, else the worst
    over this model's cells of that method (quality depends on the model, not the host).

    A pass over the whole data set, so it is kept per (data hash, model, workload): the
    next job on the same task of the same data set does not pay it again. Read-only."""
    key = (dataset.data_hash, model_id, workload_id)
    table = _qualities.get(key)
    if table is None:
        table = _quality_table(dataset, model_id, workload_id)
        _qualities.put(key, table)
    return table


def _quality_table(dataset: Dataset, model_id: str, workload_id: str) -> dict[tuple, dict]:
    cell: dict[tuple, dict] = {}
    worst: dict[str, dict] = {}
    for r in dataset.rows:
        if r["model"] != model_id:
            continue
        figures = {k: r.get(k) for k in ("exact_match_rate", "token_agreement")}
        if r["workload"] == workload_id:
            cell[(r["hardware"], r["method"])] = figures
        w = worst.setdefault(r["method"], dict(figures))
        for k, v in figures.items():
            w[k] = None if v is None or w[k] is None else min(w[k], v)
    out = {key: q for key, q in cell.items()}
    for r in dataset.rows:
        key = (r["hardware"], r["method"])
        if r["model"] == model_id and key not in out:
            out[key] = worst[r["method"]]
    return out


def meets_quality(required: str | float, q: Mapping[str, Any] | None) -> bool:
    if not q:
        return False
    if required == "exact":
        return q.get("exact_match_rate") == 1.0
    agreement = q.get("token_agreement")
    return agreement is not None and agreement >= float(required)


# ----------------------------------------------------------------------- prediction


def predicted_throughput(
    selector: Any, job: JobRequest, pairs: Iterable[tuple[str, str]], dataset: Dataset
) -> dict[tuple[str, str], float]:
    """(hardware, method) -> predicted output tokens/s (one call per hardware profile)."""
    by_hardware: dict[str, list[str]] = defaultdict(list)
    for hardware, method in pairs:
        by_hardware[hardware].append(method)
    out: dict[tuple[str, str], float] = {}
    if selector is None:  # no model yet: the attested figure of the very same cell
        observed = {
            (r["hardware"], r["method"]): r.get("output_tokens_per_s")
            for r in dataset.rows
            if r["model"] == job.model_id and r["workload"] == job.workload_id
        }
        for hardware, methods in by_hardware.items():
            for m in methods:
                if observed.get((hardware, m)):
                    out[(hardware, m)] = float(observed[(hardware, m)])
        return out
    known = set(selector.methods_)
    methods_all = sorted({m for ms in by_hardware.values() for m in ms if m in known})
    if not methods_all:
        return out
    hardware_order = sorted(by_hardware)
    log_perf = _predictions.log_performance(selector, job, hardware_order, methods_all)
    with np.errstate(over="ignore", invalid="ignore"):
        tps = np.where(np.isfinite(log_perf), np.exp(log_perf), np.nan)
    for hardware, row in zip(hardware_order, tps.tolist(), strict=True):  # plain floats
        wanted = set(by_hardware[hardware])
        for m, value in zip(methods_all, row, strict=True):
            if m in wanted and value == value:  # not NaN
                out[(hardware, m)] = value
    return out


class _PredictionCache:
    """MetaInf's log-performance of (model, hardware, workload, method) cells, per fitted
    selector (a pure function of it; a new model version is a new object, and an old one's
    entries go with it). One vectorized call predicts every hardware profile not seen yet
    for the job's (model, workload): a repeated task costs a lookup, not an inference."""

    def __init__(self, size: int = 200_000) -> None:
        self.size = size
        self._by_selector: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def _table(self, selector: Any) -> _Lru:
        with self._lock:
            table = self._by_selector.get(selector)
            if table is None:
                table = self._by_selector[selector] = _Lru(self.size)
            return table

    def log_performance(
        self, selector: Any, job: JobRequest, hardware: list[str], methods: list[str]
    ) -> np.ndarray:
        table = self._table(selector)
        rows = {h: table.get((job.model_id, h, job.workload_id)) for h in hardware}
        missing = [h for h, row in rows.items() if row is None or not row.keys() >= set(methods)]
        if missing:
            tasks = [
                {"model": job.model_id, "hardware": h, "workload": job.workload_id} for h in missing
            ]
            predicted = selector.predict_log_performance(tasks, methods)
            for i, h in enumerate(missing):
                row = dict(rows[h] or {}) | {
                    m: float(predicted[i, j]) for j, m in enumerate(methods)
                }
                table.put((job.model_id, h, job.workload_id), row)
                rows[h] = row
        return np.array([[rows[h][m] for m in methods] for h in hardware], dtype=float)


_predictions = _PredictionCache()


def _price(job: JobRequest, rate: int, cost: int, margin: float) -> int:
    return min(job.escrow_wei, rate * job.max_runtime_s, math.ceil(cost * margin))


def _candidate(
    job: JobRequest,
    offer: ProviderOffer,
    method: str,
    tps: float | None,
    names: Mapping[str, str],
    margin: float,
) -> Candidate:
    name = names.get(method)
    if tps is None or tps <= 0:
        return Candidate(
            offer.provider,
            offer.hardware_id,
            method,
            name,
            None,
            None,
            None,
            None,
            False,
            "no prediction for this method",
        )
    runtime = job.work_tokens / tps
    cost = math.ceil(runtime * offer.price_per_second_wei)
    why = None
    if cost > job.escrow_wei:
        why = "predicted cost exceeds the escrow"
    elif runtime > job.max_runtime_s:
        why = "predicted runtime exceeds the job's max runtime"
    price = _price(job, offer.price_per_second_wei, cost, margin) if why is None else None
    return Candidate(
        offer.provider,
        offer.hardware_id,
        method,
        name,
        round(tps, 3),
        round(runtime, 4),
        cost,
        price,
        why is None,
        why,
    )


_names = _Lru(16)


def _method_names(dataset: Dataset) -> dict[str, str]:
    names = _names.get(dataset.data_hash)
    if names is None:
        names = dataset.names().get("method", {})
        _names.put(dataset.data_hash, names)
    return names


_kept: tuple | None = None


def keep_out_of_gc(*version: Any) -> None:
    """Move what the process holds now (the data set, the loaded MetaInf, the libraries)
    out of the cyclic garbage collector's reach, once per data set and model ``version``.
    Ranking allocates a thousand candidates per job, so full collections come often, and
    each walked every object of the process: about 180 ms with a 5,000-cell data set and
    a model loaded, which was the whole tail (p99) of the matching latency."""
    global _kept
    if version != _kept:
        if _kept is None:  # at exit, let the last collection finalize everything again
            atexit.register(gc.unfreeze)
        gc.freeze()
        _kept = version


def rank_candidates(
    job: JobRequest,
    offers: list[ProviderOffer],
    dataset: Dataset,
    selector: Any,
    policy: MatchPolicy = MatchPolicy(),
) -> list[Candidate]:
    """Every eligible (provider, hardware, method), best first (pure: no chain, no DB)."""
    quality = quality_table(dataset, job.model_id, job.workload_id)
    eligible = []
    for offer in offers:
        if job.allowed_provider and offer.provider.lower() != job.allowed_provider.lower():
            continue
        if offer.open_jobs >= policy.max_open_jobs:
            continue
        for method in sorted(offer.methods):
            if meets_quality(job.quality, quality.get((offer.hardware_id, method))):
                eligible.append((offer, method))
    pairs = {(o.hardware_id, m) for o, m in eligible}
    tps = predicted_throughput(selector, job, pairs, dataset)
    names = _method_names(dataset)
    cands = [
        _candidate(job, o, m, tps.get((o.hardware_id, m)), names, policy.price_margin)
        for o, m in eligible
    ]
    return sorted(cands, key=Candidate.sort_key)


# ------------------------------------------------------------------------ the market


def market_offers(session: Session, chain_id: int, model_id: str, dataset: Dataset) -> list:
    """Active providers' hardware profiles with the methods each attested on the model."""
    served: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in dataset.rows:
        if r["model"] == model_id:
            for p in r.get("providers", []):
                served[(p.lower(), r["hardware"])].add(r["method"])
    busy = dict(
        session.execute(
            select(JobRow.provider, func.count())
            .where(JobRow.chain_id == chain_id, JobRow.status.in_(("assigned", "accepted")))
            .group_by(JobRow.provider)
        ).all()
    )
    offers = []
    providers = session.scalars(
        select(ProviderRow).where(ProviderRow.chain_id == chain_id, ProviderRow.active.is_(True))
    )
    for p in providers:
        for hw, price in (p.hardware_prices or {}).items():
            methods = served.get((p.address.lower(), hw))
            if methods:
                offers.append(
                    ProviderOffer(
                        p.address, hw, int(price), frozenset(methods), busy.get(p.address, 0)
                    )
                )
    return offers


def _job_request(ctx: MarketContext, job: JobRow) -> JobRequest:
    spec = JobSpec.from_bytes(ctx.store.get(job.spec_hash))
    if spec.model_id != job.model_id:
        raise JobSpecError(f"the spec names model {spec.model_id}, the job {job.model_id}")
    return JobRequest(
        job_id=job.job_id,
        model_id=job.model_id,
        workload_id=job.workload_id,
        work_tokens=spec.work_tokens,
        escrow_wei=int(job.escrow_wei),
        max_runtime_s=int(job.max_runtime_s),
        quality=spec.quality,
        allowed_provider=job.allowed_provider,
    )


def decide(session: Session, ctx: MarketContext, job: JobRow, policy: MatchPolicy) -> MatchResult:
    """The decision for one job, without touching the chain."""
    from backend.trainer import current_model

    try:
        request = _job_request(ctx, job)
    except (BlobError, JobSpecError) as exc:
        return MatchResult(job.job_id, "unmatched", f"job spec {job.spec_hash} unusable: {exc}")
    dataset = _datasets.get(session)
    model = current_model(session, ctx.store)
    keep_out_of_gc(dataset.data_hash, model.version if model else None)
    offers = market_offers(session, ctx.chain_id, request.model_id, dataset)
    cands = rank_candidates(request, offers, dataset, model.selector if model else None, policy)
    version = model.version if model else None
    best = cands[0] if cands and cands[0].feasible else None
    if best is None:
        reason = _unmatched_reason(offers, cands)
        return MatchResult(
            job.job_id, "unmatched", reason, model_version=version, candidates=cands[:TOP_K]
        )
    basis = f"MetaInf v{version}" if version else "attested throughput (no model promoted yet)"
    return MatchResult(
        job.job_id,
        "assigned",
        f"fastest predicted feasible candidate ({basis})",
        best.provider,
        best.hardware_id,
        best.method_id,
        best.offer_price_wei,
        version,
        cands[:TOP_K],
    )


def _unmatched_reason(offers: list[ProviderOffer], cands: list[Candidate]) -> str:
    if not offers:
        return "no active provider serves this model"
    if not cands:
        return "no provider is free with a method that meets the quality requirement"
    reasons = sorted({c.why_not for c in cands if c.why_not})
    return "no candidate is feasible: " + "; ".join(reasons)


def _record(session: Session, chain_id: int, result: MatchResult) -> bool:
    """Store the decision; False when another worker decided this job first."""
    session.add(
        MatchDecision(
            chain_id=chain_id,
            job_id=result.job_id,
            model_version=result.model_version,
            provider=result.provider,
            hardware_id=result.hardware_id,
            method_id=result.method_id,
            price_wei=result.price_wei,
            candidates=[_candidate_json(c) for c in result.candidates],
            reason=result.reason,
        )
    )
    try:
        session.flush()
        return True
    except IntegrityError:
        return False


def match_and_assign(
    ctx: MarketContext, job_id: int, policy: MatchPolicy | None = None
) -> MatchResult:
    """Decide once per job and offer it on chain (idempotent under redelivery)."""
    policy = policy or MatchPolicy()
    url = ctx.config.database_url
    with session_scope(url) as session:
        job = _job_row(session, ctx.chain_id, job_id)
        if job is None:
            return MatchResult(job_id, "not-open", "the job is not indexed yet")
        existing = session.scalar(select(MatchDecision).where(_decision_of(ctx.chain_id, job_id)))
        if existing is None:
            result = decide(session, ctx, job, policy)
            if result.status == "unmatched":
                job.unmatched_reason = result.reason
            if not _record(session, ctx.chain_id, result):
                return MatchResult(job_id, "decided-before", "another worker decided this job")
        else:
            result = _from_decision(existing)
    if result.status != "assigned" or (existing is not None and existing.tx_hash):
        return result
    return _assign(ctx, result)


def _from_decision(d: MatchDecision) -> MatchResult:
    status = "assigned" if d.provider else "unmatched"
    price = None if d.price_wei is None else int(d.price_wei)
    return MatchResult(
        d.job_id,
        status,
        d.reason or "",
        d.provider,
        d.hardware_id,
        d.method_id,
        price,
        d.model_version,
    )


class NonceConflict(ConnectionError):
    """Another process sent a transaction with the same key and nonce first (several
    workers, or pool children, share the matcher key): transient, the task retries."""


_NONCE_CONFLICTS = ("nonce too low", "replacement transaction underpriced", "already known")


def _send_assign(ctx: MarketContext, result: MatchResult):  # noqa: ANN202 - a TxReceipt
    try:
        return ctx.signed.jobs.assign_job(
            result.job_id, result.provider, result.hardware_id, result.method_id, result.price_wei
        )
    except ContractRevert:
        raise
    except Exception as exc:
        if any(text in str(exc).lower() for text in _NONCE_CONFLICTS):
            raise NonceConflict(f"assignJob of job {result.job_id}: {exc}") from exc
        raise


def _job_row(session: Session, chain_id: int, job_id: int) -> JobRow | None:
    return session.scalar(
        select(JobRow).where(JobRow.chain_id == chain_id, JobRow.job_id == job_id)
    )


def _decision_of(chain_id: int, job_id: int):  # noqa: ANN202 - a SQL condition
    return (MatchDecision.chain_id == chain_id) & (MatchDecision.job_id == job_id)


def _lock_decision(session: Session, chain_id: int, job_id: int) -> MatchDecision:
    """Hold the job's decision until the transaction ends, so that one worker at a time
    sends its ``assignJob``: a redelivered message and the sweep's copy of it both find
    the job open on chain while the first send is in flight, and the contract lets an
    assigned job be assigned again. An UPDATE rather than SELECT ... FOR UPDATE because
    SQLite has no row locks: there it takes the database's write lock instead."""
    mine = _decision_of(chain_id, job_id)
    session.execute(update(MatchDecision).where(mine).values(tx_hash=MatchDecision.tx_hash))
    return session.scalars(select(MatchDecision).where(mine)).one()


def _assign(ctx: MarketContext, result: MatchResult) -> MatchResult:
    with session_scope(ctx.config.database_url) as session:
        decision = _lock_decision(session, ctx.chain_id, result.job_id)
        if decision.tx_hash:  # another worker sent it while this one waited
            result.tx_hash = decision.tx_hash
            return result
        on_chain = ctx.market.jobs.get_job(result.job_id)
        if on_chain.status is not JobStatus.OPEN:
            result.status, result.reason = "not-open", f"job is {on_chain.status.name.lower()}"
            return result
        try:
            receipt = _send_assign(ctx, result)
        except ContractRevert as exc:
            result.status, result.reason = "unmatched", f"assignJob reverted: {exc}"
            job = _job_row(session, ctx.chain_id, result.job_id)  # the sweep leaves it be
            if job is not None:
                job.unmatched_reason = result.reason
            return result
        result.tx_hash = receipt["transactionHash"].to_0x_hex()
        decision.tx_hash = result.tx_hash
    return result
