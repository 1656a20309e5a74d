from __future__ import annotations

import numpy as np
import pytest

from meta.embeddings import HashingEmbedder
from meta.features import MetaFeaturizer
from meta.table import PerformanceTable


def test_roles_blocks_and_unseen_tasks(tiny_frame):
    t = PerformanceTable.from_frame(tiny_frame, ["model", "hardware", "batch"], "method", "tps")
    f = MetaFeaturizer(embedder=HashingEmbedder(16), embedding_components=None).fit(t)
    assert f.roles_ == {"model": "model", "hardware": "hardware", "batch": "workload"}
    assert f.numeric_cols_ == ["batch"]
    X = f.transform_tasks(t.task_dicts())
    blocks = f.block_slices()
    assert X.shape == (3, blocks["workload"].stop)
    assert set(blocks) == {"numeric", "model", "hardware", "workload"}
    # a task never seen in training still featurizes, with the same width
    new = f.transform_tasks([{"model": "other-13b", "hardware": "L4", "batch": 8}])
    assert new.shape == (1, X.shape[1]) and np.all(np.isfinite(new))
    # string-typed numbers (from JSON) featurize like numbers
    same = f.transform_tasks([{"model": "m7b", "hardware": "A100", "batch": "1"}])
    np.testing.assert_allclose(same[0], X[t.task_keys.index("m7b | A100 | 1")])


def test_descriptor_sidecar_wins(tiny_frame):
    t = PerformanceTable.from_frame(tiny_frame, ["model", "hardware", "batch"], "method", "tps")
    desc = {
        "model": {"m7b": {"params": 7e9, "layers": 32}, "m70b": {"params": 70e9, "layers": 80}},
        "hardware": {"A100": {"memory_gb": 80}, "H100": {"memory_gb": 80, "fp8": True}},
        "method": {"fast": {"engine": "trt", "bits": 8}},
    }
    f = MetaFeaturizer(embedder=HashingEmbedder(16), descriptors=desc).fit(t)
    assert "model.layers" in f.numeric_names_ and "hardware.fp8" in f.numeric_names_
    assert "derived.weight_mem_fraction" in f.numeric_names_
    assert "engine: trt" in f.method_description("fast")
    assert "bits" in f.method_numeric_names_
    assert f.transform_methods(["fast", "brand-new"]).shape[0] == 2
    # a misspelt role (the provider once wrote "models") is an error, not ignored data
    with pytest.raises(ValueError, match=r"unknown role\(s\) \['models'\]"):
        MetaFeaturizer(use_embeddings=False, descriptors={"models": desc["model"]}).fit(t)


def test_numeric_only_and_frameworks_names(tiny_frame):
    t = PerformanceTable.from_frame(tiny_frame, ["model", "hardware", "batch"], "method", "tps")
    f = MetaFeaturizer(use_embeddings=False).fit(t)
    X = f.transform_tasks(t.task_dicts())
    assert X.shape == (3, len(f.numeric_names_))
    assert np.allclose(X.mean(0), 0, atol=1e-9)  # standardized on the training tasks
    text = f.role_text({"model": "meta-llama/Llama-2-70b-hf", "hardware": "x", "batch": 1}, "model")
    assert "80 layers" in text and "grouped-query attention" in text


def test_embedding_projection_is_pca_of_the_training_descriptions(rule_table):
    """sklearn's PCA spans the same axes as the SVD it replaced (up to each axis' sign,
    which sklearn fixes); at most ``embedding_components`` of them."""
    f = MetaFeaturizer(embedder=HashingEmbedder(32), embedding_components=3).fit(rule_table)
    texts = sorted({f.role_text(t, "model") for t in rule_table.task_dicts()})
    E = f._embed_cached(texts).astype(np.float64)
    _, _, vt = np.linalg.svd(E - E.mean(0), full_matrices=False)
    projected = f._project(f._embed_cached(texts), "model")
    assert projected.shape == (len(texts), 3)
    np.testing.assert_allclose(np.abs(projected), np.abs((E - E.mean(0)) @ vt[:3].T), atol=1e-5)
    assert f.block_slices()["model"].stop - f.block_slices()["model"].start == 3
    # one distinct description: a single (degenerate) axis, no warning, finite features
    one = MetaFeaturizer(embedder=HashingEmbedder(8))
    assert one._pca(E[:1]).n_components_ == 1


def test_method_one_hot_ignores_unseen_methods(tiny_frame):
    t = PerformanceTable.from_frame(tiny_frame, ["model", "hardware", "batch"], "method", "tps")
    f = MetaFeaturizer(use_embeddings=False).fit(t)
    M = f.transform_methods(["mid", "brand-new", "fast"])
    onehot = M[:, -len(t.methods) :]
    np.testing.assert_array_equal(onehot, [[0, 1, 0], [0, 0, 0], [1, 0, 0]])


def test_a_flag_a_task_lacks_is_zero_not_unknown(tiny_frame):
    """A host without AVX-512 must not featurize like one with it: a word a flag field
    does not hold is 0 (before, NaN, which the scaler turned into the flag's own value)."""
    t = PerformanceTable.from_frame(tiny_frame, ["model", "hardware", "batch"], "method", "tps")
    desc = {
        "hardware": {"A100": {"cpu_flags": ["avx2", "avx512f"]}, "H100": {"cpu_flags": ["avx2"]}}
    }
    f = MetaFeaturizer(use_embeddings=False, descriptors=desc).fit(t)
    col = f.numeric_names_.index("hardware.cpu_flags.avx512f")
    X = f.transform_tasks(t.task_dicts())
    by_hw = {d["hardware"]: X[i, col] for i, d in enumerate(t.task_dicts())}
    assert by_hw["A100"] > 0 > by_hw["H100"]
    assert np.ptp(X[:, f.numeric_names_.index("hardware.cpu_flags.avx2")]) == 0  # all hold it
    # a host with no descriptor says nothing about its flags: unknown, the training mean
    unknown = f.transform_tasks([{"model": "m7b", "hardware": "L4", "batch": 1}])
    assert unknown[0, col] == 0.0
