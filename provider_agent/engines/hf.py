"""transformers + torch engine (CPU and CUDA): eager, SDPA, int8, bf16/fp16, compile, n-gram.

Requests are served in static batches (left padding, greedy, every request generates its
own pinned number of tokens; a batch runs until its longest request is done, which is
what static batching costs). A streamer stamps each step's new tokens as they come out
of ``generate``, so token times are real. Prompt-lookup speculation in transformers is
batch-1 only, so that method serves the requests of a batch one after another.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from provider_agent.engines.base import Engine, EngineError, RequestResult, run_static_batches
from provider_agent.engines.flags import HFFlags
from provider_agent.workloads import Request


class _TimingStreamer:
    """A transformers streamer that records when each generated token appeared."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.times: list[list[float]] = [[] for _ in range(batch)]
        self.tokens: list[list[int]] = [[] for _ in range(batch)]
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        now = time.perf_counter()
        if not self._prompt_seen:  # generate() first hands over the prompt
            self._prompt_seen = True
            return
        if value.dim() == 1:  # one token per sequence
            for i, tok in enumerate(value.tolist()):
                self.tokens[i].append(int(tok))
                self.times[i].append(now)
        else:  # (1, k): k accepted tokens at once (assisted decoding, batch 1)
            if value.shape[0] != 1 or self.batch != 1:
                raise EngineError("multi-token streamer update with batch > 1")
            for tok in value[0].tolist():
                self.tokens[0].append(int(tok))
                self.times[0].append(now)

    def end(self) -> None:
        pass


class HFEngine(Engine):
    name = "hf"
    flags: HFFlags

    def load(self) -> None:
        import torch

        from provider_agent.models import load_model

        flags = self.flags
        self.device = "cuda" if self.hardware.device == "cuda" else "cpu"
        self.hardware.apply()
        self._torch = torch
        self.model, self.tok = load_model(
            self.info.path,
            dtype=flags.dtype,
            device=self.device,
            attn_implementation=flags.attn,
        )
        if flags.quantize:  # "dynamic-int8-per-channel", the one HFFlags accepts
            if self.device != "cpu":
                raise EngineError("dynamic int8 quantization runs on CPU only")
            from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

            # per-channel weight scales: per-tensor ones wreck a pretrained model's outputs
            spec = {torch.nn.Linear: per_channel_dynamic_qconfig}
            self.model = quantize_dynamic(self.model, spec, dtype=torch.qint8)
        self.pad_id = self.tok.pad_token_id if self.tok.pad_token_id is not None else 0
        gc = self.model.generation_config
        gc.eos_token_id = None  # pinned output lengths: never stop early
        gc.pad_token_id = self.pad_id
        gc.do_sample = False
        gc.temperature = gc.top_p = gc.top_k = None
        self._static_cache_len = 0
        if flags.compile:
            from transformers import CompileConfig

            mode = "reduce-overhead" if self.device == "cuda" else "default"
            cc = CompileConfig(mode=mode, fullgraph=False, dynamic=None)
            cc._compile_all_devices = True  # transformers only auto-compiles on GPUs otherwise
            gc.compile_config = cc
            self._static_cache_len = self.max_model_len

    def environment(self) -> dict[str, Any]:
        import torch
        import transformers

        env = {
            "engine": "transformers",
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "device": self.device,
            "torch_threads": torch.get_num_threads(),
            "attn_implementation": getattr(self.model.config, "_attn_implementation", None),
        }
        if self.device == "cuda":
            env["cuda"] = torch.version.cuda
            env["cudnn"] = torch.backends.cudnn.version()
        return env

    def peak_device_memory(self) -> int | None:
        if self.device == "cuda":
            return int(self._torch.cuda.max_memory_allocated())
        return None

    def reset_peak_memory(self) -> None:
        if self.device == "cuda":
            self._torch.cuda.reset_peak_memory_stats()

    def _generate(self, batch: list[Request]) -> list[tuple[list[int], list[float]]]:
        torch = self._torch
        width = max(len(r.prompt_ids) for r in batch)
        ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, r in enumerate(batch):
            ids[i, width - len(r.prompt_ids) :] = torch.tensor(r.prompt_ids)
            mask[i, width - len(r.prompt_ids) :] = 1
        n_new = max(r.max_new_tokens for r in batch)
        streamer = _TimingStreamer(len(batch))
        kwargs: dict[str, Any] = {}
        if self.flags.prompt_lookup:
            kwargs["prompt_lookup_num_tokens"] = self.flags.prompt_lookup_tokens
            kwargs["max_matching_ngram_size"] = self.flags.max_ngram
        if self._static_cache_len:
            if width + n_new > self._static_cache_len:
                raise EngineError(
                    f"{width + n_new} tokens exceed the static cache ({self._static_cache_len})"
                )
            from transformers import StaticCache

            try:
                cache = StaticCache(config=self.model.config, max_cache_len=self._static_cache_len)
            except TypeError:  # transformers 4.x signature
                cache = StaticCache(
                    config=self.model.config,
                    max_batch_size=len(batch),
                    max_cache_len=self._static_cache_len,
                    device=self.device,
                    dtype=self.model.dtype,
                )
            kwargs["past_key_values"] = cache
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=ids.to(self.device),
                attention_mask=mask.to(self.device),
                max_new_tokens=n_new,
                min_new_tokens=None,
                streamer=streamer,
                **kwargs,
            )
        if self.device == "cuda":
            torch.cuda.synchronize()
        gen = out[:, width:].tolist()
        results = []
        for i, r in enumerate(batch):
            toks, times = gen[i][: r.max_new_tokens], streamer.times[i][: r.max_new_tokens]
            if streamer.tokens[i][: r.max_new_tokens] != toks:
                raise EngineError("streamed tokens differ from generate()'s output")
            results.append((toks, times))
        return results

    def run(self, requests: Sequence[Request], concurrency: int) -> list[RequestResult]:
        if self.flags.prompt_lookup:

            def serial(batch: list[Request], t0: float) -> list[tuple[list[int], list[float]]]:
                return [self._generate([r])[0] for r in batch]

            return run_static_batches(requests, concurrency, serial)
        return run_static_batches(requests, concurrency, lambda b, t0: self._generate(b))

    def close(self) -> None:
        self.model = None
        if self.hardware.device == "cuda":
            self._torch.cuda.empty_cache()
