from __future__ import annotations

import time

import numpy as np

from meta.embeddings import HashingEmbedder, SentenceEmbedder, find_model_dir


def test_hashing_embedder_is_deterministic_and_normalized():
    e = HashingEmbedder(64)
    a = e.embed(["Nvidia A100 GPU", "Nvidia A100 GPU", "llama"])
    np.testing.assert_array_equal(a[0], a[1])
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, rtol=1e-6)


def test_real_model_similarity_and_disk_cache(tmp_path):
    """all-MiniLM-L6-v2 loads offline; similar descriptions are closer; cache skips the model."""
    assert (find_model_dir() / "config.json").exists()
    texts = [
        "NVIDIA H100 datacenter GPU with 80 GB HBM3",
        "NVIDIA A100 datacenter GPU with 80 GB HBM2e",
        "a recipe for chocolate chip cookies",
    ]
    emb = SentenceEmbedder(cache_dir=tmp_path)
    v = emb.embed(texts)
    assert v.shape == (3, 384) and emb.n_encoded == 3
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2
    fresh = SentenceEmbedder(cache_dir=tmp_path)  # a second run: new process, same cache
    t0 = time.perf_counter()
    again = fresh.embed(texts)
    elapsed = time.perf_counter() - t0
    assert fresh.n_encoded == 0 and fresh._model is None
    np.testing.assert_allclose(again, v)
    assert elapsed < 0.5
