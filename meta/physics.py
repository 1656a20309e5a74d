"""Features that carry the physics of LLM inference, for tasks and for (task, method) pairs.

Which method is fastest is rarely a property of a model name: it follows from a few
ratios. Decoding streams every weight once per step, so bytes per generated token =
weight bytes / effective batch; prefill is compute, so FLOPs = 2 x parameters x prompt
tokens; a KV cache grows with layers x KV heads x head size x tokens; prefix caching saves
the shared part of the prompts, speculation the part of the output that repeats the input.
A selector that sees these numbers can carry what it learned on one model, workload or
machine to another; one that sees only names or embeddings must have seen it.

Every function here takes the plain numbers that :mod:`meta.descriptors` reads off
descriptors or names (``params``, ``layers``, ``concurrency``, ``prompt_tokens``, ...) and
returns only what it can compute: a table without workload descriptors simply gets no
workload physics. Pair features need the method's engine flags (the provider agent's
method descriptors) or a name that tells its precision.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

# column names of foreign tables that mean a workload number (LLM-Inference-Bench style)
_COLUMN_ALIASES = {
    "concurrency": ("concurrency", "batch size", "batch_size", "batch"),
    "prompt_tokens": ("prompt_tokens", "input length", "input_len", "input output length"),
    "output_tokens": ("output_tokens", "output length", "output_len", "input output length"),
}


def _first(d: Mapping[str, float], *keys: str) -> float | None:
    for k in keys:
        v = d.get(k)
        if v is not None and math.isfinite(v):
            return float(v)
    return None


def _log(x: float | None) -> float | None:
    return math.log(x) if x is not None and x > 0 else None


def workload_numbers(wl: Mapping[str, float]) -> dict[str, float]:
    """concurrency, requests, mean prompt / output tokens, shared and restated fractions."""
    low = {k.lower().split(":")[-1]: v for k, v in wl.items()}
    out: dict[str, float] = {}
    for name, aliases in _COLUMN_ALIASES.items():
        v = _first(low, *aliases)
        if v is not None:
            out[name] = v
    requests = _first(low, "num_requests")
    if requests is not None:
        out["requests"] = requests
    shared = _first(low, "shared_prefix_tokens")
    if shared is not None and "prompt_tokens" in out:
        out["prompt_tokens"] += shared  # descriptors count the prefix apart from the body
        out["shared_fraction"] = shared / out["prompt_tokens"] if out["prompt_tokens"] else 0.0
    restate = _first(low, "restate_percent")
    if restate is not None:
        out["restate_fraction"] = restate / 100.0
    elif low.get("type.summarize"):  # the v1 presets' restating kind
        out["restate_fraction"] = 1.0
    return out


def task_physics(
    model: Mapping[str, float], hardware: Mapping[str, float], workload: Mapping[str, float]
) -> dict[str, float]:
    """Task-level ratios (logs of sizes, work per thread, prefill share, KV footprint)."""
    w = workload_numbers(workload)
    params = _first(model, "active_params", "params")
    layers, kv, head = (_first(model, k) for k in ("layers", "kv_heads", "head_dim"))
    threads = _first(hardware, "threads")
    conc = w.get("concurrency")
    prompt, output = w.get("prompt_tokens"), w.get("output_tokens")
    requests = w.get("requests", conc)
    out: dict[str, float | None] = {
        "log_concurrency": _log(conc),
        "log_prompt_tokens": _log(prompt),
        "log_output_tokens": _log(output),
        "shared_fraction": w.get("shared_fraction"),
        "restate_fraction": w.get("restate_fraction"),
    }
    if prompt is not None and output is not None:
        out["prefill_share"] = prompt / (prompt + output)
    if params is not None:
        if conc:
            out["log_weights_per_token"] = math.log(params / conc)
        if requests and prompt:
            out["log_prefill_flops"] = math.log(2 * params * prompt * requests)
        if requests and output:
            out["log_decode_flops"] = math.log(2 * params * output * requests)
        if threads:
            out["log_params_per_thread"] = math.log(params / threads)
    if layers and kv and head and conc and prompt is not None and output is not None:
        kv_elems = 2 * layers * kv * head * (prompt + output) * conc
        out["log_kv_elements"] = math.log(kv_elems)
        if params:
            out["kv_to_weights"] = kv_elems / params
    return {f"physics.{k}": float(v) for k, v in out.items() if v is not None}


_BITS = {"float32": 32, "fp32": 32, "bfloat16": 16, "bf16": 16, "float16": 16, "fp16": 16}


def method_physics(method: Mapping[str, object] | None, name: str) -> dict[str, float]:
    """Precision bits, batch depth, speculation and prefix caching of a method.

    ``batch_depth`` is how many requests one forward pass serves: the vLLM scheduler's
    ``max_num_seqs``, unbounded (static batches of the whole concurrency) for transformers
    and ONNX Runtime, one for transformers' prompt lookup (batch 1 by construction).
    """
    flags = dict(method.get("flags") or {}) if isinstance(method, Mapping) else {}
    engine = str(method.get("engine", "")) if isinstance(method, Mapping) else ""
    text = " ".join(str(v) for v in flags.values()) + " " + name.lower()
    # "Weight = fp16, KV Cache = fp8": the weights' precision sets the bytes per token
    weights = re.search(r"weights?\s*[=:]\s*(\w+)", text)
    text = weights.group(1) if weights else text
    bits = 32.0
    if re.search(r"int8|w8|fp8|e4m3|e5m2", text):
        bits = 8.0
    elif re.search(r"int4|w4|awq|gptq", text):
        bits = 4.0
    else:
        for key, b in _BITS.items():
            if key in text:
                bits = float(min(b, bits))
    spec = bool(flags.get("speculative") or flags.get("prompt_lookup_tokens"))
    spec = spec or bool(re.search(r"ngram|spec|lookup|medusa|eagle", name.lower()))
    out = {
        "bits": bits,
        "speculative": float(spec),
        "prefix_caching": float(bool(flags.get("enable_prefix_caching"))),
        "chunked_prefill": float(bool(flags.get("enable_chunked_prefill"))),
    }
    if engine == "vllm":
        out["batch_depth"] = float(flags.get("max_num_seqs") or 256)
    elif engine in ("hf", "ort"):
        out["batch_depth"] = 1.0 if flags.get("prompt_lookup_tokens") else math.inf
    return out


def pair_physics(task: Mapping[str, float], method: Mapping[str, float]) -> dict[str, float]:
    """What a method does on a task: effective batch, bytes per token, savings it can reach.

    ``task`` is :func:`task_physics` output plus :func:`workload_numbers`; ``method`` is
    :func:`method_physics` output. Missing inputs give missing features, not guesses.
    """
    out: dict[str, float] = {}
    conc = task.get("concurrency")
    depth = method.get("batch_depth")
    eff = min(conc, depth) if conc and depth else conc
    bits = method.get("bits", 32.0)
    if eff:
        out["log_effective_batch"] = math.log(eff)
    lw = task.get("physics.log_weights_per_token")
    if lw is not None and conc:
        # weights per token at this method's batch, in bytes at its precision
        out["log_weight_bytes_per_token"] = lw + math.log(conc / (eff or conc)) + math.log(bits / 8)
    out["speculation_gain"] = method.get("speculative", 0.0) * task.get(
        "physics.restate_fraction", 0.0
    )
    out["prefix_gain"] = method.get("prefix_caching", 0.0) * task.get(
        "physics.shared_fraction", 0.0
    )
    out["chunked_prefill_share"] = method.get("chunked_prefill", 0.0) * task.get(
        "physics.prefill_share", 0.0
    )
    out["low_precision"] = math.log2(32.0 / bits)
    return {f"pair.{k}": float(v) for k, v in out.items()}


PAIR_FEATURES = (
    "pair.log_effective_batch",
    "pair.log_weight_bytes_per_token",
    "pair.speculation_gain",
    "pair.prefix_gain",
    "pair.chunked_prefill_share",
    "pair.low_precision",
)
