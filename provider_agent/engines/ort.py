"""ONNX Runtime engine: the model exported to ONNX with KV-cache inputs and outputs.

Export (``torch.onnx.export(dynamo=True)``) wraps the transformers model in a one-step
function ``(input_ids, attention_mask, position_ids, past...) -> (last logits, present...)``
with dynamic batch, sequence and past lengths. The prefill step gets a one-slot dummy
past that the attention mask hides, so one graph serves prefill and decode. Exports are
cached by model weights hash and torch version; ``int8-dynamic-per-channel`` is ONNX
Runtime's dynamic quantization of that graph (per-channel int8 weights, activations
quantized per batch).

Generation is greedy, in static batches with left padding, with position ids computed
as transformers computes them, so fp32 outputs match the transformers baseline.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from provider_agent.engines.base import Engine, EngineError, RequestResult, run_static_batches
from provider_agent.engines.flags import ORTFlags
from provider_agent.workloads import Request

EXPORT_VERSION = 1


def _export_dir(info_path: Path, weights_sha: str) -> Path:
    import torch

    from provider_agent.models import cache_dir

    tag = f"{weights_sha[:16]}-torch{torch.__version__}-v{EXPORT_VERSION}"
    return cache_dir().parent / "onnx" / tag


def export_onnx(model_dir: Path, weights_sha: str) -> Path:
    """Export (once) the KV-cache step graph of the model in ``model_dir``; returns its path."""
    out_dir = _export_dir(model_dir, weights_sha)
    target = out_dir / "model.onnx"
    if target.exists() and (out_dir / "io.json").exists():
        return target
    import torch
    from transformers import AutoModelForCausalLM, DynamicCache

    model = AutoModelForCausalLM.from_pretrained(
        model_dir, dtype=torch.float32, attn_implementation="sdpa", local_files_only=True
    ).eval()
    cfg = model.config
    n_layers = cfg.num_hidden_layers
    kv_heads = cfg.num_key_value_heads or cfg.num_attention_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads

    class Step(torch.nn.Module):
        def __init__(self, m: torch.nn.Module) -> None:
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, position_ids, *past):  # type: ignore[no-untyped-def]
            cache = DynamicCache(config=cfg)
            for i in range(n_layers):
                cache.update(past[2 * i], past[2 * i + 1], i)
            out = self.m(
                input_ids=input_ids,
                attention_mask=attention_mask,
                position_ids=position_ids,
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            )
            present = []
            for layer in out.past_key_values.layers:
                present += [layer.keys, layer.values]
            return (out.logits[:, -1, :], *present)

    b, s, p = 2, 3, 2  # example sizes other than 0/1 so that no dimension is specialized
    ids = torch.randint(0, cfg.vocab_size, (b, s))
    mask = torch.ones(b, p + s, dtype=torch.long)
    pos = torch.arange(p, p + s).expand(b, s)
    past = tuple(torch.zeros(b, kv_heads, p, head_dim) for _ in range(2 * n_layers))
    dim_b = torch.export.Dim("batch", max=1024)
    dim_s = torch.export.Dim("seq", max=8192)
    dim_p = torch.export.Dim("past", max=8192)
    dim_t = torch.export.Dim("total", max=16384)
    dynamic = {
        "input_ids": {0: dim_b, 1: dim_s},
        "attention_mask": {0: dim_b, 1: dim_t},
        "position_ids": {0: dim_b, 1: dim_s},
        "past": tuple({0: dim_b, 2: dim_p} for _ in range(2 * n_layers)),
    }
    inputs = ["input_ids", "attention_mask", "position_ids"]
    inputs += [f"past.{i}.{kv}" for i in range(n_layers) for kv in ("key", "value")]
    outputs = ["logits"] + [f"present.{i}.{kv}" for i in range(n_layers) for kv in ("key", "value")]
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / "model.onnx.tmp"
    step = Step(model).eval()
    try:
        with torch.no_grad():
            torch.onnx.export(
                step,
                (ids, mask, pos, *past),
                str(tmp),
                dynamo=True,
                dynamic_shapes=dynamic,
                input_names=inputs,
                output_names=outputs,
                external_data=False,
                verbose=False,
            )
    except Exception as exc:
        raise EngineError(f"ONNX export of {model_dir} failed: {exc}") from exc
    tmp.rename(target)
    io = {"layers": n_layers, "kv_heads": kv_heads, "head_dim": head_dim, "inputs": inputs}
    (out_dir / "io.json").write_text(json.dumps(io))
    return target


def quantize_int8(fp32: Path) -> Path:
    """ONNX Runtime dynamic int8 quantization (per-channel weights) of ``fp32``, cached beside it."""
    target = fp32.with_name("model.int8pc.onnx")
    if target.exists():
        return target
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = fp32.with_name("model.int8pc.onnx.tmp")
    quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
    tmp.rename(target)
    return target


class ORTEngine(Engine):
    name = "ort"
    flags: ORTFlags

    def load(self) -> None:
        import numpy as np
        import onnxruntime as ort
        from transformers import AutoTokenizer

        self._np = np
        self.hardware.apply()
        sha = self.info.descriptor.get("weights_sha256") or "nohash"
        fp32 = export_onnx(self.info.path, sha)
        self.io = json.loads((fp32.parent / "io.json").read_text())
        # ORTFlags admits fp32 and int8-dynamic-per-channel
        path = fp32 if self.flags.precision == "fp32" else quantize_int8(fp32)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.hardware.threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        if self.hardware.device == "cuda":
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        else:
            providers = ["CPUExecutionProvider"]
        try:
            self.sess = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
        except Exception as exc:
            raise EngineError(f"ONNX Runtime could not load {path}: {exc}") from exc
        self.model_file = path
        tok = AutoTokenizer.from_pretrained(self.info.path, local_files_only=True)
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
        self.tok = tok

    def environment(self) -> dict[str, Any]:
        import onnxruntime as ort
        import torch

        return {
            "engine": "onnxruntime",
            "onnxruntime": ort.__version__,
            "torch_exporter": torch.__version__,
            "providers": self.sess.get_providers(),
            "intra_op_num_threads": self.hardware.threads,
            "model_file": os.path.basename(self.model_file),
        }

    def _generate(self, batch: list[Request]) -> list[tuple[list[int], list[float]]]:
        np = self._np
        n, width = len(batch), max(len(r.prompt_ids) for r in batch)
        ids = np.full((n, width), self.pad_id, dtype=np.int64)
        real = np.zeros((n, width), dtype=np.int64)
        for i, r in enumerate(batch):
            ids[i, width - len(r.prompt_ids) :] = r.prompt_ids
            real[i, width - len(r.prompt_ids) :] = 1
        pos = np.cumsum(real, axis=1) - 1
        pos[real == 0] = 1
        # one hidden dummy past slot so that the prefill uses the same graph as decode
        mask = np.concatenate([np.zeros((n, 1), dtype=np.int64), real], axis=1)
        kv_shape = (n, self.io["kv_heads"], 1, self.io["head_dim"])
        feeds: dict[str, Any] = {"input_ids": ids, "attention_mask": mask, "position_ids": pos}
        names = self.io["inputs"][3:]
        for name in names:
            feeds[name] = np.zeros(kv_shape, dtype=np.float32)
        steps = max(r.max_new_tokens for r in batch)
        tokens = np.zeros((n, steps), dtype=np.int64)
        times: list[float] = []
        last_pos = pos[:, -1:]
        for t in range(steps):
            outs = self.sess.run(None, feeds)
            nxt = outs[0].argmax(axis=-1)
            times.append(time.perf_counter())
            tokens[:, t] = nxt
            if t + 1 == steps:
                break
            last_pos = last_pos + 1
            mask = np.concatenate([mask, np.ones((n, 1), dtype=np.int64)], axis=1)
            feeds = {"input_ids": nxt[:, None].astype(np.int64), "attention_mask": mask}
            feeds["position_ids"] = last_pos
            for name, value in zip(names, outs[1:], strict=True):
                feeds[name] = value
        return [
            (tokens[i, : r.max_new_tokens].tolist(), times[: r.max_new_tokens])
            for i, r in enumerate(batch)
        ]

    def run(self, requests: Sequence[Request], concurrency: int) -> list[RequestResult]:
        return run_static_batches(requests, concurrency, lambda b, t0: self._generate(b))

    def close(self) -> None:
        self.sess = None
