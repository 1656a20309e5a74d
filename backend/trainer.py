"""Training, evaluating and promoting the MetaInf selector.

:func:`train_if_due` (the periodic Celery task calls it) retrains when at least
``min_new_cells`` cells are new or re-measured since the newest model (or when no model
of this ``code_version`` exists yet). A model version is keyed by (data hash, code
version); its artifact (the joblib file of :func:`meta.persistence.save_selector`) lives
in the blob store under its keccak256, so it is loaded exactly as it was written.

Promotion: the newest ``holdout_fraction`` of the tasks that have at least two measured
methods (newest = highest attestation id among their cells; imported history is oldest)
is held out. The candidate recipe is fit on the other tasks and, on the held-out ones,
must choose methods whose mean normalized performance (chosen / best measured) is no
worse than that of the currently promoted model and of the single best method (SBS, fit
on the same training tasks). The evaluation is recorded in the ``model_versions`` row.
A promoted model is then refit on all the data; a refused one keeps the evaluated
(training-slice) fit as its artifact, for inspection.

Features: ``MetaFeaturizer(use_embeddings=False)`` with the descriptors of the data set.
The descriptors carry the numbers a sentence embedding would mostly restate (parameters,
layers, threads, concurrency, token counts), and no sentence model has to load in a
worker; training on the 288-cell CPU table takes about a second.
"""

from __future__ import annotations

import logging
import math
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.dataset import Dataset, build_dataset
from backend.db import ModelVersion
from protocol.blobstore import BlobStore

log = logging.getLogger(__name__)

SMALL_TABLE_CELLS = 500  # below: one model capacity ("small"), no capacity search
_CACHE_SIZE = 4


@dataclass(frozen=True)
class TrainOutcome:
    """What one call of :func:`train_if_due` did."""

    status: str  # "empty" | "not-due" | "exists" | "promoted" | "refused" | "failed"
    reason: str
    new_cells: int = 0
    version: int | None = None
    data_hash: str | None = None
    evaluation: dict[str, Any] = field(default_factory=dict)

    @property
    def promoted(self) -> bool:
        return self.status == "promoted"


@dataclass(frozen=True)
class LoadedModel:
    """A promoted selector, ready to rank."""

    version: int
    data_hash: str
    code_version: str
    artifact_hash: str
    selector: Any  # meta.selectors.Selector
    metadata: dict[str, Any]
    evaluation: dict[str, Any]


# ------------------------------------------------------------------------------ recipe


def make_selector(n_cells: int, random_state: int = 0):
    from meta.selectors import MetaInfSelector

    complexity = "small" if n_cells < SMALL_TABLE_CELLS else "auto"
    return MetaInfSelector(complexity=complexity, random_state=random_state)


def make_featurizer(dataset: Dataset):
    from meta.features import MetaFeaturizer

    return MetaFeaturizer(use_embeddings=False, descriptors=dataset.sidecar())


def _fit(table, dataset: Dataset, random_state: int):
    return make_selector(int(table.available.sum()), random_state).fit(
        table, make_featurizer(dataset)
    )


# ------------------------------------------------------------------------------ evaluation


def _task_seq(dataset: Dataset) -> dict[tuple[str, str, str], int]:
    seq: dict[tuple[str, str, str], int] = {}
    for (model, hardware, workload, _), s in dataset.cell_seq().items():
        key = (model, hardware, workload)
        seq[key] = max(seq.get(key, 0), s)
    return seq


def holdout_split(table, dataset: Dataset, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(train, holdout) task indices: the newest comparative tasks are held out."""
    seq = _task_seq(dataset)
    tasks = table.task_dicts()
    comparative = np.flatnonzero(table.available.sum(axis=1) >= 2)
    order = sorted(
        comparative,
        key=lambda i: (seq.get(tuple(tasks[i][c] for c in table.task_cols), 0), i),
    )
    n_hold = min(len(order) - 1, max(1, math.ceil(fraction * len(order)))) if order else 0
    hold = np.array(sorted(order[len(order) - n_hold :]), dtype=int)
    train = np.setdiff1d(np.arange(table.n_tasks), hold)
    return train, hold


def score_on(selector, table, rows: np.ndarray) -> dict[str, float]:
    """Mean normalized performance and top-1 accuracy of ``selector``'s choices."""
    from meta.selectors.base import Task

    norm, tasks, hits = table.normalized, table.task_dicts(), []
    values = []
    for i in rows:
        avail = [m for m, ok in zip(table.methods, table.available[i], strict=True) if ok]
        ranked = selector.rank(Task(values=tasks[i], available=avail))
        j = table.methods.index(ranked[0])
        values.append(float(norm[i, j]))
        hits.append(bool(norm[i, j] >= 1.0 - 1e-12))
    return {
        "normalized_performance": round(float(np.mean(values)), 6) if values else math.nan,
        "top1_accuracy": round(float(np.mean(hits)), 6) if hits else math.nan,
    }


def _verdict(scores: dict[str, dict[str, float]], tolerance: float) -> tuple[bool, str]:
    cand = scores["candidate"]["normalized_performance"]
    for other in ("current", "sbs"):
        if other in scores and cand < scores[other]["normalized_performance"] - tolerance:
            return False, (
                f"worse than the {other} on the held-out tasks "
                f"({cand:.4f} < {scores[other]['normalized_performance']:.4f})"
            )
    return True, "no worse than the current model and the single best method"


def evaluate(
    dataset: Dataset, current: LoadedModel | None, holdout_fraction: float, random_state: int = 0
) -> tuple[Any, dict[str, Any]]:
    """Fit the recipe on the training slice; score it, the current model and SBS on the
    held-out slice. Returns (the training-slice fit, the evaluation record)."""
    from meta.selectors import SingleBestSelector

    table = dataset.to_table()
    train, hold = holdout_split(table, dataset, holdout_fraction)
    if len(hold) == 0 or len(train) == 0:
        raise ValueError("too little data: need at least two tasks with two measured methods")
    train_table = table.subset(train)
    candidate = _fit(train_table, dataset, random_state)
    scores = {
        "candidate": score_on(candidate, table, hold),
        "sbs": score_on(SingleBestSelector().fit(train_table), table, hold),
    }
    if current is not None:
        scores["current"] = score_on(current.selector, table, hold)
    record = {
        "holdout_fraction": holdout_fraction,
        "n_train_tasks": len(train),
        "n_holdout_tasks": len(hold),
        "holdout_tasks": [table.task_keys[i] for i in hold],
        "scores": scores,
        "compared_with_version": current.version if current is not None else None,
        "fit_info": _jsonable(candidate.fit_info()),
    }
    return candidate, record


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN (PostgreSQL refuses it)
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


# ------------------------------------------------------------------------------ artifacts


def save_artifact(store: BlobStore, selector, metadata: dict[str, Any]) -> str:
    from meta.persistence import save_selector

    with tempfile.TemporaryDirectory() as tmp:
        path = save_selector(selector, Path(tmp) / "selector.joblib", metadata)
        return store.put(path.read_bytes())


def load_artifact(store: BlobStore, artifact_hash: str) -> tuple[Any, dict[str, Any]]:
    from meta.persistence import load_selector

    data = store.get(artifact_hash)  # verified against its hash: the bytes we wrote
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "selector.joblib"
        path.write_bytes(data)
        return load_selector(path)


_cache: OrderedDict[tuple[int, str], LoadedModel] = OrderedDict()
_cache_lock = threading.Lock()


def promoted_version(session: Session) -> ModelVersion | None:
    return session.scalars(
        select(ModelVersion)
        .where(ModelVersion.promoted.is_(True))
        .order_by(ModelVersion.id.desc())
        .limit(1)
    ).first()


def current_model(session: Session, store: BlobStore) -> LoadedModel | None:
    """The newest promoted model (loaded once per version and process), or None."""
    row = promoted_version(session)
    if row is None:
        return None
    key = (row.id, row.artifact_hash)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    selector, info = load_artifact(store, row.artifact_hash)
    model = LoadedModel(
        version=row.id,
        data_hash=row.data_hash,
        code_version=row.code_version,
        artifact_hash=row.artifact_hash,
        selector=selector,
        metadata=info.get("metadata", {}),
        evaluation=dict(row.evaluation or {}),
    )
    with _cache_lock:
        _cache[key] = model
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return model


# ------------------------------------------------------------------------------ training


def _latest(session: Session) -> ModelVersion | None:
    return session.scalars(select(ModelVersion).order_by(ModelVersion.id.desc()).limit(1)).first()


def count_new_cells(dataset: Dataset, last: ModelVersion | None) -> int:
    """Cells with an attestation (or an imported row) newer than what ``last`` saw."""
    if last is None:
        return dataset.n_cells
    mark = (last.evaluation or {}).get("watermark", {})
    att, ext = int(mark.get("attestation_id", 0)), int(mark.get("external_id", 0))
    return sum(
        1
        for r in dataset.rows
        if max(r["attestation_ids"], default=0) > att or max(r["external_ids"], default=0) > ext
    )


def _due(
    session: Session, dataset: Dataset, code_version: str, min_new_cells: int
) -> tuple[TrainOutcome | None, int]:
    """An outcome when there is nothing to train, else (None, number of new cells)."""
    if dataset.n_cells == 0:
        return TrainOutcome("empty", "the data set has no cells yet"), 0
    done = session.scalars(
        select(ModelVersion).where(
            ModelVersion.data_hash == dataset.data_hash, ModelVersion.code_version == code_version
        )
    ).first()
    if done is not None:
        why = f"version {done.id} was trained on this data with this code"
        return TrainOutcome("exists", why, 0, done.id, dataset.data_hash, done.evaluation), 0
    new = count_new_cells(dataset, _latest(session))
    same_code = session.scalars(
        select(ModelVersion.id).where(ModelVersion.code_version == code_version).limit(1)
    ).first()
    if new < min_new_cells and same_code is not None:
        why = f"{new} new cell(s) since the last model, {min_new_cells} needed"
        return TrainOutcome("not-due", why, new, data_hash=dataset.data_hash), new
    return None, new


def _record(session: Session, row: ModelVersion) -> ModelVersion | None:
    """Insert ``row``; None when another trainer stored the same version first."""
    try:
        with session.begin_nested():
            session.add(row)
        return row
    except IntegrityError:
        return None


def train_if_due(
    session: Session,
    store: BlobStore,
    *,
    min_new_cells: int,
    holdout_fraction: float,
    code_version: str,
    tolerance: float = 0.0,
    random_state: int = 0,
) -> TrainOutcome:
    """Retrain MetaInf if due, evaluate it on the newest data, promote it if it is no worse."""
    if not 0.0 < holdout_fraction < 1.0:
        raise ValueError("holdout_fraction must be in (0, 1)")
    dataset = build_dataset(session)
    outcome, new = _due(session, dataset, code_version, min_new_cells)
    if outcome is not None:
        return outcome
    started = time.perf_counter()
    current = current_model(session, store)
    try:
        candidate, evaluation = evaluate(dataset, current, holdout_fraction, random_state)
    except ValueError as exc:
        log.warning("training refused: %s", exc)
        return TrainOutcome("failed", str(exc), new, data_hash=dataset.data_hash)
    promote, reason = _verdict(evaluation["scores"], tolerance)
    if promote:
        candidate = _fit(dataset.to_table(), dataset, random_state)
    evaluation.update(
        decision=reason,
        artifact_fit="all data" if promote else "training slice",
        watermark=dataset.watermark,
        new_cells=new,
        train_seconds=round(time.perf_counter() - started, 3),
    )
    meta = {"data_hash": dataset.data_hash, "code_version": code_version}
    row = ModelVersion(
        data_hash=dataset.data_hash,
        code_version=code_version,
        artifact_hash=save_artifact(store, candidate, meta),
        n_cells=dataset.n_cells,
        evaluation=_jsonable(evaluation),
        promoted=promote,
    )
    if _record(session, row) is None:
        return TrainOutcome("exists", "another trainer stored this version first", new)
    status = "promoted" if promote else "refused"
    log.info("model version %s %s: %s", row.id, status, reason)
    return TrainOutcome(status, reason, new, row.id, dataset.data_hash, row.evaluation)
