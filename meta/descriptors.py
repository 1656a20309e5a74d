"""Numeric features and text descriptions parsed from names and descriptor dicts.

Performance tables often carry only names ("meta-llama/Llama-2-7b-hf", "Nvidia A100
GPU"). The predictor generalizes better from what those names *mean* (7e9 parameters,
80 GB of HBM at 2 TB/s), so this module turns names into numbers and sentences:

1. a structured descriptor dict, when the caller has one (the provider agent's sidecar
   JSON), always wins;
2. otherwise a small catalog of public model configs, accelerator spec sheets and
   inference methods fills in what a name alone cannot say (layer counts, bandwidth);
3. otherwise regular expressions pull what they can from the name ("7b", "80GB", "x4").

Nothing here looks at measured performance: these are meta-features only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

ROLES = ("model", "hardware", "workload", "method")

# Public architecture facts (from each model's config.json / model card).
MODEL_CATALOG: dict[str, dict[str, float]] = {
    "llama-2-7b": dict(params=6.74e9, layers=32, hidden=4096, heads=32, kv_heads=32, context=4096),
    "llama-2-13b": dict(params=13.0e9, layers=40, hidden=5120, heads=40, kv_heads=40, context=4096),
    "llama-2-70b": dict(params=68.98e9, layers=80, hidden=8192, heads=64, kv_heads=8, context=4096),
    "meta-llama-3-8b": dict(
        params=8.03e9, layers=32, hidden=4096, heads=32, kv_heads=8, context=8192
    ),
    "meta-llama-3-70b": dict(
        params=70.6e9, layers=80, hidden=8192, heads=64, kv_heads=8, context=8192
    ),
    "llama-3.1-8b": dict(
        params=8.03e9, layers=32, hidden=4096, heads=32, kv_heads=8, context=131072
    ),
    "llama-7b": dict(params=6.74e9, layers=32, hidden=4096, heads=32, kv_heads=32, context=2048),
    "mistral-7b": dict(params=7.24e9, layers=32, hidden=4096, heads=32, kv_heads=8, context=32768),
    "mixtral-8x7b": dict(
        params=46.7e9,
        active_params=12.9e9,
        experts=8,
        layers=32,
        hidden=4096,
        heads=32,
        kv_heads=8,
        context=32768,
    ),
    "qwen2-7b": dict(params=7.6e9, layers=28, hidden=3584, heads=28, kv_heads=4, context=32768),
    "qwen2-72b": dict(params=72.7e9, layers=80, hidden=8192, heads=64, kv_heads=8, context=32768),
    "qwen1.5-7b": dict(params=7.7e9, layers=32, hidden=4096, heads=32, kv_heads=32, context=32768),
    "decilm-7b": dict(params=7.04e9, layers=32, hidden=4096, heads=32, kv_heads=4, context=8192),
    "aquila-7b": dict(params=7.0e9, layers=32, hidden=4096, heads=32, kv_heads=32, context=2048),
    "bloom-7b1": dict(params=7.07e9, layers=30, hidden=4096, heads=32, kv_heads=32, context=2048),
    "gpt-j-6b": dict(params=6.05e9, layers=28, hidden=4096, heads=16, kv_heads=16, context=2048),
    "opt-6.7b": dict(params=6.7e9, layers=32, hidden=4096, heads=32, kv_heads=32, context=2048),
    "smollm2-135m": dict(params=1.35e8, layers=30, hidden=576, heads=9, kv_heads=3, context=8192),
    "smollm2-360m": dict(params=3.62e8, layers=32, hidden=960, heads=15, kv_heads=5, context=8192),
}

# Spec sheets (SXM variants where several exist): memory GB, bandwidth GB/s, dense bf16 TFLOPS.
HARDWARE_CATALOG: dict[str, dict[str, float]] = {
    "gh200": dict(memory_gb=96, bandwidth_gbs=4000, tflops=989, fp8=1, generation=9, unified_cpu=1),
    "h200": dict(memory_gb=141, bandwidth_gbs=4800, tflops=989, fp8=1, generation=9),
    "h100": dict(memory_gb=80, bandwidth_gbs=3350, tflops=989, fp8=1, generation=9),
    "a100": dict(memory_gb=80, bandwidth_gbs=2039, tflops=312, fp8=0, generation=8),
    "l40s": dict(memory_gb=48, bandwidth_gbs=864, tflops=362, fp8=1, generation=8.9),
    "l4": dict(memory_gb=24, bandwidth_gbs=300, tflops=121, fp8=1, generation=8.9),
    "a10g": dict(memory_gb=24, bandwidth_gbs=600, tflops=70, fp8=0, generation=8.6),
    "a10": dict(memory_gb=24, bandwidth_gbs=600, tflops=125, fp8=0, generation=8.6),
    "rtx 4090": dict(memory_gb=24, bandwidth_gbs=1008, tflops=165, fp8=1, generation=8.9),
    "v100": dict(memory_gb=32, bandwidth_gbs=900, tflops=125, fp8=0, generation=7),
    "t4": dict(memory_gb=16, bandwidth_gbs=320, tflops=65, fp8=0, generation=7.5),
    "mi300x": dict(memory_gb=192, bandwidth_gbs=5300, tflops=1307, fp8=1, generation=9),
    "mi250": dict(memory_gb=128, bandwidth_gbs=3277, tflops=362, fp8=0, generation=8),
    "cpu": dict(memory_gb=0, bandwidth_gbs=50, tflops=1, fp8=0, generation=0),
}

HARDWARE_TEXT: dict[str, str] = {
    "gh200": "NVIDIA Grace Hopper superchip: H100-class Hopper GPU with HBM3 tightly coupled to a Grace ARM CPU over NVLink-C2C",
    "h200": "NVIDIA H200 Hopper datacenter GPU with 141 GB HBM3e",
    "h100": "NVIDIA H100 Hopper datacenter GPU with HBM3, FP8 tensor cores and Transformer Engine",
    "a100": "NVIDIA A100 Ampere datacenter GPU with HBM2e and third-generation tensor cores",
    "cpu": "general-purpose CPU host without an accelerator",
}

# What each inference engine / acceleration method does, for method embeddings.
METHOD_TEXT: dict[str, str] = {
    "tensorrt-llm": "NVIDIA TensorRT-LLM: ahead-of-time compiled TensorRT engines with fused attention kernels, in-flight batching, paged KV cache and tensor parallelism; NVIDIA GPUs only",
    "vllm": "vLLM: open-source LLM serving engine with PagedAttention KV-cache memory management, continuous batching, CUDA graphs and tensor parallelism",
    "llama.cpp": "llama.cpp: lightweight C/C++ inference engine for GGUF models, optimized for CPUs and consumer GPUs, limited batching and multi-GPU splitting by layers",
    "deepspeed-mii": "DeepSpeed-MII: Microsoft DeepSpeed inference with blocked KV cache, continuous batching with Dynamic SplitFuse and tensor parallelism",
    "prefix": "prefix caching: reuse KV cache of shared prompt prefixes across requests",
    "chunked": "chunked prefill: split long prompt prefill into chunks interleaved with decoding",
    "spec": "speculative decoding: draft tokens (n-gram or small model) verified by the large model in one step",
    "ngram": "n-gram speculative decoding: draft tokens looked up from the prompt and verified in one step",
    "compile": "torch.compile: graph capture and kernel fusion of the PyTorch model",
    "onnx": "ONNX Runtime: exported graph executed by ONNX Runtime with graph optimizations",
    "int8": "int8 dynamic quantization of linear layers",
    "fp8": "fp8 quantization of weights or KV cache",
    "awq": "AWQ 4-bit weight quantization",
    "batch": "continuous batching with a deeper running batch (max_num_seqs)",
    "baseline": "baseline with every acceleration switched off",
}

_UNIT = {"k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}
_BITS = {
    "fp32": 32,
    "fp16": 16,
    "bf16": 16,
    "fp8": 8,
    "int8": 8,
    "int4": 4,
    "awq": 4,
    "gptq": 4,
    "nf4": 4,
}


def _norm(text: str) -> str:
    return text.lower().split("/")[-1].replace("_", "-")


@lru_cache(maxsize=4096)
def model_catalog_entry(name: str) -> dict[str, float]:
    n = _norm(name)
    best = ""
    for key in MODEL_CATALOG:  # longest matching key wins ("llama-2-7b" over "llama-7b")
        if key in n and len(key) > len(best):
            best = key
    return dict(MODEL_CATALOG[best]) if best else {}


@lru_cache(maxsize=4096)
def parse_param_count(name: str) -> float | None:
    """Parameters from a model name: "Llama-2-7b" -> 7e9, "Mixtral-8x7B" -> 5.6e10, "135M" -> 1.35e8."""
    n = _norm(name)
    moe = re.search(r"(\d+)x(\d+(?:\.\d+)?)([bm])", n)
    if moe:
        return float(moe.group(1)) * float(moe.group(2)) * _UNIT[moe.group(3)]
    hits = re.findall(r"(?<![a-z0-9.])(\d+(?:\.\d+)?)([bm])(\d?)(?![a-z])", n)
    if not hits:
        return None
    num, unit, frac = hits[-1]
    value = float(num) + (float("0." + frac) if frac else 0.0)
    return value * _UNIT[unit]


@lru_cache(maxsize=4096)
def hardware_catalog_entry(name: str) -> dict[str, float]:
    n = name.lower()
    for key in sorted(HARDWARE_CATALOG, key=len, reverse=True):
        if re.search(rf"(?<![a-z0-9]){re.escape(key)}(?![0-9])", n):
            entry = dict(HARDWARE_CATALOG[key])
            mem = parse_memory_gb(name)
            if mem is not None:
                entry["memory_gb"] = mem
            return entry
    return {}


@lru_cache(maxsize=4096)
def parse_memory_gb(text: str) -> float | None:
    """Device memory from text: "A100 80GB" -> 80.0, "24 GiB" -> 24.0."""
    m = re.search(r"(\d+(?:\.\d+)?)\s*(gb|gib|g)\b", text.lower())
    return float(m.group(1)) if m else None


@lru_cache(maxsize=4096)
def parse_bits(text: str) -> dict[str, float]:
    """Precision mentions: "Weight = fp16, KV Cache = fp8" -> weight_bits 16, kv_bits 8."""
    t = text.lower()
    out: dict[str, float] = {}
    for part in re.split(r"[,;]", t):
        bits = [_BITS[k] for k in _BITS if re.search(rf"\b{k}\b", part)]
        if not bits:
            continue
        if "kv" in part:
            out["kv_bits"] = float(min(bits))
        elif "weight" in part:
            out["weight_bits"] = float(min(bits))
        else:
            out.setdefault("bits", float(min(bits)))
    return out


def method_text(name: str) -> str:
    """Sentence describing a method; catalog text when the name is known."""
    n = name.lower()
    parts = [text for key, text in METHOD_TEXT.items() if key in n]
    return f"inference method {name}" + (": " + "; ".join(parts) if parts else "")


def hardware_text(name: str) -> str:
    n = name.lower()
    for key in sorted(HARDWARE_TEXT, key=len, reverse=True):
        if key in n:
            return f"{name}: {HARDWARE_TEXT[key]}"
    return str(name)


def model_text(name: str) -> str:
    entry = model_catalog_entry(name)
    params = entry.get("params") or parse_param_count(name)
    bits = [str(name)]
    if params:
        bits.append(f"{params / 1e9:.1f} billion parameters")
    if "experts" in entry:
        bits.append(f"mixture of {int(entry['experts'])} experts")
    if "layers" in entry:
        bits.append(f"{int(entry['layers'])} layers, hidden size {int(entry['hidden'])}")
    if entry.get("kv_heads") and entry.get("heads") and entry["kv_heads"] < entry["heads"]:
        bits.append("grouped-query attention")
    return ", ".join(bits)


def numeric_from_value(role: str, value: Any) -> dict[str, float]:
    """Numeric facts a single task/method value implies (names -> raw numbers)."""
    if isinstance(value, Mapping):
        return descriptor_numeric(value)
    text = str(value)
    if role == "model":
        entry = model_catalog_entry(text)
        if "params" not in entry:
            p = parse_param_count(text)
            if p:
                entry["params"] = p
        if entry:
            entry.setdefault("active_params", entry.get("params", 0.0))
        return entry
    if role == "hardware":
        entry = hardware_catalog_entry(text)
        mem = parse_memory_gb(text)
        if mem is not None:
            entry["memory_gb"] = mem
        return entry
    return dict(parse_bits(text))


# descriptor keys that identify rather than describe (a version, a generator seed)
_NOT_FEATURES = frozenset({"v", "seed"})
# categorical descriptor fields that become one flag per value (``engine.vllm = 1``)
_CATEGORICAL = frozenset(
    {"type", "engine", "family", "device", "dtype", "quantize", "precision", "attn", "cache"}
)


def _is_finite_number(x: Any) -> bool:
    return isinstance(x, bool) or isinstance(x, int | float) and math.isfinite(float(x))


def descriptor_numeric(desc: Mapping[str, Any]) -> dict[str, float]:
    """All numeric leaves of a descriptor dict (nested keys joined with '.'): a list of
    numbers gives its mean (a (min, max) range), a list of words one flag per word
    (``cpu_flags.avx512_bf16 = 1``), a categorical field one flag for its value
    (``flags.dtype.bfloat16 = 1``); versions and seeds are left out. A word the field does
    not hold is left out too: :func:`descriptor_flag_fields` says which fields are there,
    so that a featurizer can write 0 for it (absent, which is not unknown)."""
    return descriptor_features(desc)[0]


def descriptor_flag_fields(desc: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """The word-list and categorical fields of a descriptor (nested key -> the words it
    holds): where :func:`descriptor_numeric` makes one flag per word."""
    return descriptor_features(desc)[1]


def descriptor_features(
    desc: Mapping[str, Any],
) -> tuple[dict[str, float], dict[str, frozenset[str]]]:
    """Both of the above from one walk of the descriptor."""
    numbers: dict[str, float] = {}
    fields: dict[str, frozenset[str]] = {}

    def walk(prefix: str, obj: Any) -> None:
        if prefix.rsplit(".", 1)[-1] in _NOT_FEATURES:
            return
        if isinstance(obj, Mapping):
            for k, v in obj.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif _is_finite_number(obj):
            numbers[prefix] = float(obj)
        elif isinstance(obj, list | tuple) and obj and all(_is_finite_number(x) for x in obj):
            numbers[prefix] = float(sum(obj)) / len(obj)
        elif isinstance(obj, list | tuple) and all(isinstance(x, str) for x in obj):
            fields[prefix] = frozenset(obj)
            for word in obj:
                numbers[f"{prefix}.{word}"] = 1.0
        elif isinstance(obj, str) and prefix.rsplit(".", 1)[-1] in _CATEGORICAL:
            fields[prefix] = frozenset([obj])
            numbers[f"{prefix}.{obj}"] = 1.0

    walk("", desc)
    return numbers, fields


def _is_identifier(key: str, value: Any) -> bool:
    """Hashes and content ids say which item it is, not what it is like."""
    return bool(re.search(r"sha\d*$|hash$|Id$", str(key))) or (
        isinstance(value, str) and re.fullmatch(r"(0x)?[0-9a-f]{32,}", value) is not None
    )


def descriptor_text(desc: Mapping[str, Any]) -> str:
    """A flat "key: value" sentence of a descriptor dict, for embedding (identifiers such
    as weight hashes left out: they would only add noise to the sentence)."""
    parts = []
    for k, v in desc.items():
        if _is_identifier(k, v):
            continue
        if isinstance(v, Mapping):
            v = descriptor_text(v)
        parts.append(f"{k}: {v}")
    return "; ".join(parts)


def logify(d: Mapping[str, float]) -> dict[str, float]:
    """log1p of large positive magnitudes (parameters, bytes): ratios matter, not differences."""
    return {k: (math.log1p(v) if v > 100 else float(v)) for k, v in d.items()}


def column_role(col: str) -> str:
    """Which role a task column plays, guessed from its name."""
    c = col.lower()
    if re.search(r"model|llm|checkpoint", c):
        return "model"
    if re.search(r"hardware|gpu|device|accelerator|instance|chip|node|provider", c):
        return "hardware"
    return "workload"
