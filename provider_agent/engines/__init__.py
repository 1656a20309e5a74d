"""Inference engines behind one protocol (:class:`provider_agent.engines.base.Engine`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from provider_agent.engines.base import Engine, EngineError, RequestResult

if TYPE_CHECKING:
    from provider_agent.hardware import HardwareProfile
    from provider_agent.methods import MethodSpec
    from provider_agent.models import ModelInfo

__all__ = ["Engine", "EngineError", "RequestResult", "make_engine"]


def make_engine(
    model: ModelInfo, method: MethodSpec, hardware: HardwareProfile, max_model_len: int = 2048
) -> Engine:
    """The engine class for ``method.engine`` (imported lazily: vLLM must not load for hf runs)."""
    if method.engine == "hf":
        from provider_agent.engines.hf import HFEngine as cls
    elif method.engine == "ort":
        from provider_agent.engines.ort import ORTEngine as cls
    elif method.engine == "vllm":
        from provider_agent.engines.vllm import VLLMEngine as cls
    else:  # MethodSpec validation makes this unreachable
        raise EngineError(f"no engine {method.engine!r}")
    return cls(model, method, hardware, max_model_len=max_model_len)
