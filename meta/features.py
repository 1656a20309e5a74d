"""Meta-features of tasks and methods: what selectors see instead of names.

A task is a dict of task-column values. Each column gets a *role* (model, hardware or
workload, guessed from its name or given), and each role becomes

* a sentence (from a structured descriptor when one is supplied, otherwise from the
  column values plus what :mod:`meta.descriptors` knows about those names), embedded
  with a sentence model, and
* numeric features (numeric columns as is, log-scaled; parameters, layers, memory,
  bandwidth, ... parsed from names or descriptors; a few cross-role ratios such as
  model bytes per device memory).

Methods get the same treatment (description embedding, numeric facts such as
quantization bits) plus a one-hot of the methods seen in training, so a predictor can
both learn per-method offsets and generalize to methods it has not seen.

:meth:`MetaFeaturizer.fit` only learns column roles, feature names and standardization
from the *training* tasks, so it can be refit inside every cross-validation fold.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from meta.descriptors import (
    ROLES,
    column_role,
    descriptor_features,
    descriptor_numeric,
    descriptor_text,
    hardware_text,
    logify,
    method_text,
    model_text,
    numeric_from_value,
)
from meta.embeddings import Embedder, default_embedder
from meta.physics import PAIR_FEATURES, method_physics, pair_physics, task_physics, workload_numbers
from meta.table import PerformanceTable

TASK_ROLES = ("model", "hardware", "workload")
# per task column: the plain numbers it gives and the flag fields (field -> words) it holds
_ColumnFacts = tuple[dict[str, float], dict[str, frozenset[str]]]
Descriptors = Mapping[str, Mapping[str, Mapping[str, Any]]]


def _is_number(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int | float | np.integer | np.floating):
        return math.isfinite(float(v))
    return False


def _signed_log(x: float) -> float:
    return math.copysign(math.log1p(abs(x)), x)


class MetaFeaturizer(BaseEstimator):
    """Task and method feature matrices for selectors.

    Parameters
    ----------
    embedder:
        Text embedder. ``None`` means the real :class:`SentenceEmbedder`, one per process
        (:func:`~meta.embeddings.default_embedder`); pass ``use_embeddings=False`` to get
        numeric features only. ``sklearn.base.clone`` shares the embedder instead of
        copying it: it is a service (a loaded model and its cache), not a setting.
    descriptors:
        Optional ``{"model": {name: dict}, "hardware": {...}, "workload": {...},
        "method": {...}}`` of structured descriptors (the provider agent's sidecar; its
        ``"ids"`` entry is ignored).
    roles:
        Optional ``{column: role}`` overriding the guess from column names.
    embedding_components:
        Each role's 384-d embedding is projected on the principal components of the
        *training* descriptions (at most this many; ``None`` keeps the full vectors).
        A table has only a handful of distinct models or GPUs, so a few components keep
        all of the variation while trees and neighbours stop drowning in 1,500 columns.
    """

    def __init__(
        self,
        embedder: Embedder | None = None,
        descriptors: Descriptors | None = None,
        roles: Mapping[str, str] | None = None,
        use_embeddings: bool = True,
        use_numeric: bool = True,
        method_identity: bool = True,
        embedding_components: int | None = 8,
    ) -> None:
        self.embedder = embedder
        self.descriptors = descriptors
        self.roles = roles
        self.use_embeddings = use_embeddings
        self.use_numeric = use_numeric
        self.method_identity = method_identity
        self.embedding_components = embedding_components

    def __sklearn_clone__(self) -> MetaFeaturizer:
        """Same settings, no fitted state; the embedder object (and its cache) is shared,
        every other parameter deep-copied as ``sklearn.base.clone`` would."""
        params = self.get_params(deep=False)
        embedder = params.pop("embedder")
        return type(self)(embedder=embedder, **copy.deepcopy(params))

    # ------------------------------------------------------------------ fitting
    def fit(self, table: PerformanceTable) -> MetaFeaturizer:
        unknown = set(self.descriptors or {}) - {*ROLES, "ids"}
        if unknown:
            # a misspelt role would silently drop every descriptor of that role
            raise ValueError(
                f"descriptors: unknown role(s) {sorted(unknown)}; expected keys among {ROLES}"
            )
        self.task_cols_ = list(table.task_cols)
        self.roles_ = {c: (self.roles or {}).get(c) or column_role(c) for c in self.task_cols_}
        for c, r in self.roles_.items():
            if r not in TASK_ROLES:
                raise ValueError(f"column {c!r}: role must be one of {TASK_ROLES}, got {r!r}")
        self.active_roles_ = [r for r in TASK_ROLES if r in self.roles_.values()]
        tasks = table.task_dicts()
        self.numeric_cols_ = [c for c in self.task_cols_ if all(_is_number(t[c]) for t in tasks)]
        self.flag_vocab_ = self._flag_vocab(tasks)
        raw = [self._numeric_dict(t) for t in tasks]
        self.numeric_names_ = sorted({k for d in raw for k in d}) if self.use_numeric else []
        self.scaler_ = None
        if self.numeric_names_:  # NaN (a fact unknown for a task) is ignored by the fit
            mat = self._dicts_to_matrix(raw, self.numeric_names_)
            self.scaler_ = StandardScaler().fit(mat)
        self.methods_ = list(table.methods)
        self.method_encoder_ = OneHotEncoder(
            categories=[self.methods_], handle_unknown="ignore", sparse_output=False
        ).fit(np.array(self.methods_, dtype=object)[:, None])
        meth_raw = [self._method_numeric(m) for m in self.methods_]
        self.method_numeric_names_ = sorted({k for d in meth_raw for k in d})
        self.pair_scaler_ = None
        if self.use_numeric:  # standardized on every (training task, training method) pair
            pairs = self._pair_matrix(tasks, self.methods_).reshape(-1, len(PAIR_FEATURES))
            if np.isfinite(pairs).any():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    self.pair_scaler_ = StandardScaler().fit(pairs)
        self._embedder_ = self._get_embedder()
        self._text_cache: dict[tuple, np.ndarray] = {}
        self.projections_: dict[str, PCA] = {}
        if self._embedder_ is not None and self.embedding_components is not None:
            for role in self.active_roles_:
                texts = sorted({self.role_text(t, role) for t in tasks})
                self.projections_[role] = self._pca(self._embed_cached(texts))
            texts = sorted({self.method_description(m) for m in self.methods_})
            self.projections_["method"] = self._pca(self._embed_cached(texts))
        return self

    def _pca(self, E: np.ndarray) -> PCA:
        """Principal axes of a set of embeddings: at most ``embedding_components``, and
        only those with a non-zero singular value (at least one)."""
        k = min(self.embedding_components or E.shape[1], max(len(E) - 1, 1))
        with warnings.catch_warnings():
            # one distinct text: the explained variance divides by n - 1 = 0
            warnings.simplefilter("ignore", RuntimeWarning)
            pca = PCA(n_components=k, svd_solver="full").fit(E)
            keep = max(1, int((pca.singular_values_ > 1e-6).sum()))
            return pca if keep == k else PCA(n_components=keep, svd_solver="full").fit(E)

    def _project(self, E: np.ndarray, role: str) -> np.ndarray:
        pca = getattr(self, "projections_", {}).get(role)
        return E if pca is None else pca.transform(E)

    def _projected(self, texts: Sequence[str], role: str) -> np.ndarray:
        """Projected embeddings of ``texts``, cached per (role, text): ``PCA.transform``
        (whose input checks alone take longer than a whole ``select``) runs once per new
        description, not once per call."""
        missing = sorted({t for t in texts if (role, t) not in self._text_cache})
        if missing:
            rows = self._project(self._embed_cached(missing), role)
            for t, row in zip(missing, rows, strict=True):
                self._text_cache[(role, t)] = row
        if not texts:
            return self._project(np.zeros((0, self.embedding_dim_), np.float32), role)
        return np.array([self._text_cache[(role, t)] for t in texts])

    def _get_embedder(self) -> Embedder | None:
        if not self.use_embeddings:
            return None
        return self.embedder if self.embedder is not None else default_embedder()

    @property
    def embedding_dim_(self) -> int:
        return self._embedder_.dim if self._embedder_ is not None else 0

    # ------------------------------------------------------------------ descriptions
    def _descriptor(self, role: str, value: Any) -> Mapping[str, Any] | None:
        if not self.descriptors:
            return None
        return (self.descriptors.get(role) or {}).get(str(value))

    def role_text(self, task: Mapping[str, Any], role: str) -> str:
        """The sentence that describes one role of a task (what gets embedded)."""
        parts = []
        for col in self.task_cols_:
            if self.roles_[col] != role:
                continue
            value = task[col]
            desc = self._descriptor(role, value)
            if desc is not None:
                parts.append(f"{col}: {value}; {descriptor_text(desc)}")
            elif role == "model" and not _is_number(value):
                parts.append(f"{col}: {model_text(str(value))}")
            elif role == "hardware" and not _is_number(value):
                parts.append(f"{col}: {hardware_text(str(value))}")
            else:
                v = int(value) if _is_number(value) and float(value).is_integer() else value
                parts.append(f"{col}: {v}")
        return "; ".join(parts)

    def method_description(self, method: str) -> str:
        desc = self._descriptor("method", method)
        if desc is not None:
            return f"inference method {method}; {descriptor_text(desc)}"
        return method_text(method)

    # ------------------------------------------------------------------ numeric
    def _numeric_dict(self, task: Mapping[str, Any]) -> dict[str, float]:
        facts = self._column_facts(task)
        raw = self._raw_numbers(task, facts)
        # a word that a flag field (CPU flags, a type) does not hold is a 0, not unknown:
        # left NaN, the scaler would map it to the mean, and a flag to the same 0 as its
        # absence (a host without AVX-512 would look like one with it)
        vocab = getattr(self, "flag_vocab_", {})  # models saved before it: none
        out: dict[str, float] = {}
        for col in self.task_cols_:
            if col not in facts:
                out[col] = _signed_log(float(task[col]))
                continue
            numbers, fields = facts[col]
            for k, v in logify(numbers).items():
                out[f"{col}.{k}"] = v
            for field in fields:
                for word in vocab.get(f"{col}.{field}", ()):
                    out.setdefault(f"{col}.{field}.{word}", 0.0)
        out.update(self._derived(raw))
        out.update(task_physics(raw["model"], raw["hardware"], raw["workload"]))
        return out

    def _column_facts(self, task: Mapping[str, Any]) -> dict[str, _ColumnFacts]:
        """Column -> the plain numbers its descriptor (or its value) gives and the flag
        fields the descriptor holds, one descriptor walk per column; count columns (plain
        numbers) are not in it."""
        facts: dict[str, _ColumnFacts] = {}
        for col in self.task_cols_:
            role, value = self.roles_[col], task[col]
            if col in self.numeric_cols_ and _is_number(value):
                continue
            desc = self._descriptor(role, value)
            if desc is None and isinstance(value, Mapping):
                desc = value
            if desc is not None:
                facts[col] = descriptor_features(desc)
            else:
                facts[col] = (numeric_from_value(role, value), {})
        return facts

    def _flag_vocab(self, tasks: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
        """'column.field' -> every word the training tasks hold there: the flags a task
        with that field has either set or not."""
        vocab: dict[str, set[str]] = {}
        for t in tasks:
            for col, (_, fields) in self._column_facts(t).items():
                for field, words in fields.items():
                    vocab.setdefault(f"{col}.{field}", set()).update(words)
        return {f: tuple(sorted(w)) for f, w in vocab.items()}

    def _raw_numbers(
        self, task: Mapping[str, Any], facts: Mapping[str, _ColumnFacts] | None = None
    ) -> dict[str, dict[str, float]]:
        """role -> the plain numbers its columns and descriptors give (not log-scaled)."""
        facts = self._column_facts(task) if facts is None else facts
        raw: dict[str, dict[str, float]] = {r: {} for r in TASK_ROLES}
        for col in self.task_cols_:
            role = self.roles_[col]
            if col in facts:
                raw[role].update(facts[col][0])
            else:
                raw[role][f"count:{col}"] = float(task[col])
        return raw

    @staticmethod
    def _derived(raw: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
        """Cross-role ratios that decide LLM inference speed (memory fit, bytes/bandwidth)."""
        model, hw = raw["model"], raw["hardware"]
        out: dict[str, float] = {}
        params = model.get("active_params") or model.get("params")
        total = model.get("params")
        mem = hw.get("memory_gb")
        bw = hw.get("bandwidth_gbs")
        devices = next((v for k, v in hw.items() if k.startswith("count:")), 1.0) or 1.0
        if total and mem:
            out["derived.weight_mem_fraction"] = (2 * total) / (mem * 1e9 * devices)
        if params and bw:
            out["derived.log_decode_step_s"] = math.log(2 * params / (bw * 1e9 * devices))
        return out

    def _method_numeric(self, method: str) -> dict[str, float]:
        desc = self._descriptor("method", method)
        feats = (
            descriptor_numeric(desc) if desc is not None else numeric_from_value("method", method)
        )
        return logify(feats)

    @staticmethod
    def _dicts_to_matrix(dicts: Sequence[Mapping[str, float]], names: Sequence[str]) -> np.ndarray:
        """Rows of named numbers; NaN where a dict lacks a name."""
        mat = np.full((len(dicts), len(names)), np.nan)
        for i, d in enumerate(dicts):
            for j, n in enumerate(names):
                if n in d:
                    mat[i, j] = d[n]
        return mat

    # ------------------------------------------------------------------ transforms
    def _as_dicts(self, tasks: Any) -> list[Mapping[str, Any]]:
        if isinstance(tasks, pd.DataFrame):
            return tasks[self.task_cols_].to_dict("records")
        if isinstance(tasks, Mapping):
            tasks = [tasks]
        return [self._coerce(t) for t in tasks]

    def _coerce(self, task: Mapping[str, Any]) -> Mapping[str, Any]:
        """Numbers that arrive as strings (JSON, CLI) become numbers again."""
        bad = [c for c in self.numeric_cols_ if c in task and isinstance(task[c], str)]
        if not bad:
            return task
        out = dict(task)
        for c in bad:
            try:
                out[c] = float(out[c])
            except ValueError as exc:
                raise ValueError(f"task column {c!r} must be numeric, got {out[c]!r}") from exc
        return out

    def numeric_task_features(self, tasks: Any) -> np.ndarray:
        """Standardized on the training tasks; an unknown fact is the training mean (0)."""
        dicts = self._as_dicts(tasks)
        if self.scaler_ is None:
            return np.zeros((len(dicts), 0))
        mat = self._dicts_to_matrix([self._numeric_dict(t) for t in dicts], self.numeric_names_)
        return np.nan_to_num(self.scaler_.transform(mat), nan=0.0)

    def role_embeddings(self, tasks: Any, role: str) -> np.ndarray:
        dicts = self._as_dicts(tasks)
        texts = [self.role_text(t, role) for t in dicts]
        return self._embed_cached(texts)

    def _embed_cached(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.embedding_dim_), dtype=np.float32)
        missing = sorted({t for t in texts if (t,) not in self._text_cache})
        if missing:
            for t, v in zip(missing, self._embedder_.embed(missing), strict=True):
                self._text_cache[(t,)] = v
        for i, t in enumerate(texts):
            out[i] = self._text_cache[(t,)]
        return out

    def transform_tasks(self, tasks: Any) -> np.ndarray:
        """[standardized numeric | model emb | hardware emb | workload emb] per task."""
        dicts = self._as_dicts(tasks)
        blocks = [self.numeric_task_features(dicts)]
        if self._embedder_ is not None:
            for r in self.active_roles_:
                blocks.append(self._projected([self.role_text(t, r) for t in dicts], r))
        return np.hstack(blocks).astype(np.float64)

    def transform_methods(self, methods: Sequence[str]) -> np.ndarray:
        """[method emb | numeric method facts | one-hot over training methods] per method."""
        blocks = []
        if self._embedder_ is not None:
            blocks.append(self._projected([self.method_description(m) for m in methods], "method"))
        if self.method_numeric_names_:
            mat = self._dicts_to_matrix(
                [self._method_numeric(m) for m in methods], self.method_numeric_names_
            )
            blocks.append(np.nan_to_num(mat, nan=0.0) / 16.0)
        if self.method_identity:  # a method unseen in training: all zeros
            ids = np.array(list(methods), dtype=object).reshape(-1, 1)
            blocks.append(self.method_encoder_.transform(ids))
        if not blocks:
            return np.zeros((len(methods), 0))
        return np.hstack(blocks).astype(np.float64)

    def _pair_matrix(
        self, tasks: Sequence[Mapping[str, Any]], methods: Sequence[str]
    ) -> np.ndarray:
        """Raw :func:`~meta.physics.pair_physics` features, tasks x methods x features."""
        infos = []
        for t in tasks:
            raw = self._raw_numbers(t)
            phys = task_physics(raw["model"], raw["hardware"], raw["workload"])
            infos.append(workload_numbers(raw["workload"]) | phys)
        meths = [method_physics(self._descriptor("method", m), m) for m in methods]
        out = np.full((len(infos), len(meths), len(PAIR_FEATURES)), np.nan)
        for i, info in enumerate(infos):
            for j, mp in enumerate(meths):
                feats = pair_physics(info, mp)
                out[i, j] = [feats.get(name, np.nan) for name in PAIR_FEATURES]
        return out

    def transform_pairs(self, tasks: Any, methods: Sequence[str]) -> np.ndarray:
        """Standardized pair physics (tasks x methods x features); 0 where unknown."""
        dicts = self._as_dicts(tasks)
        if getattr(self, "pair_scaler_", None) is None:
            return np.zeros((len(dicts), len(methods), 0))
        mat = self._pair_matrix(dicts, methods)
        flat = self.pair_scaler_.transform(mat.reshape(-1, len(PAIR_FEATURES)))
        return np.nan_to_num(flat, nan=0.0).reshape(mat.shape)

    def method_embedding_width(self) -> int:
        """Columns of :meth:`transform_methods` taken by the description embedding (the
        first ones); the rest are the method's numeric facts and one-hot id."""
        return self._embedding_width("method") if self._embedder_ is not None else 0

    def _embedding_width(self, role: str) -> int:
        """Columns one role's embedding takes: its projection's, else the full vector."""
        proj = self.projections_.get(role)
        return proj.n_components_ if proj is not None else self.embedding_dim_

    def block_slices(self) -> dict[str, slice]:
        """Where each block sits in :meth:`transform_tasks` output (for inspection)."""
        out, start = {}, 0
        out["numeric"] = slice(start, start + len(self.numeric_names_))
        start += len(self.numeric_names_)
        if self._embedder_ is not None:
            for r in self.active_roles_:
                width = self._embedding_width(r)
                out[r] = slice(start, start + width)
                start += width
        return out

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())  # a copy: the object keeps its cache
        state["_text_cache"] = {}
        return state


__all__ = ["MetaFeaturizer", "ROLES"]
