"""Seeded synthetic workloads: descriptor -> workloadId -> the same requests every time.

A workload is a list of requests (prompt token ids, a pinned number of output tokens)
plus the client's concurrency: how many requests it keeps in flight (1 = a single
latency-sensitive stream; ``num_requests`` = one offline batch). Prompts are pseudo-English
text from a seeded generator, tokenized by the model's tokenizer and cut to the exact
token counts, so the descriptor (and its id) does not depend on the tokenizer while the
token counts are exact for every model.

Kinds:

* ``chat``: mixed prompt and output lengths;
* ``prefill_heavy``: long prompts, a few output tokens;
* ``decode_heavy``: short prompts, long outputs;
* ``shared_prefix``: every prompt starts with the same long system prefix (RAG); prefix
  caching can skip most of the prefill;
* ``summarize``: a document followed by an instruction to restate it, so the output
  overlaps the input and n-gram (prompt-lookup) speculation can accept drafts;
* ``generated``: a point of the parametric design (:mod:`provider_agent.workload_design`):
  any mix of the above, set by its numbers alone: a shared prefix of
  ``shared_prefix_tokens`` in front of every prompt, and ``restate_percent`` % of the
  requests asking to restate their document (the rest continue it).
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from typing import Any

from protocol.canonical import content_id

GENERATOR_VERSION = 1
KINDS = ("chat", "prefill_heavy", "decode_heavy", "shared_prefix", "summarize", "generated")

_VOCABULARY = """
the of and to in is was for on that with as by at from this be are or it an which has
model data system time first new two other more after year city world state people work
network market price value energy water light power river house school music history
science language paper method result table figure number report group service research
small large early late high low long short fast slow open close north south east west
train learn measure build write read find keep give take make show send move change
engine memory cache token batch prefix query answer question document summary section
author reader village mountain garden window station bridge harbor market island forest
because while although during before under between within across around against without
"""
_WORDS = tuple(_VOCABULARY.split())
_ENDS = (".", ".", ".", "?", "!", ";")


def _sentence(rng: random.Random) -> str:
    n = rng.randint(6, 16)
    words = [rng.choice(_WORDS) for _ in range(n)]
    words[0] = words[0].capitalize()
    return " ".join(words) + rng.choice(_ENDS)


def _text(rng: random.Random, n_chars: int) -> str:
    parts: list[str] = []
    size = 0
    while size < n_chars:
        s = _sentence(rng)
        parts.append(s)
        size += len(s) + 1
    return " ".join(parts)


@dataclass(frozen=True)
class Request:
    """One generation request: prompt token ids and the pinned number of output tokens."""

    index: int
    prompt_ids: tuple[int, ...]
    max_new_tokens: int


@dataclass(frozen=True)
class WorkloadSpec:
    """A seeded workload; validated on construction, ``workloadId = content_id(descriptor)``."""

    name: str
    kind: str
    num_requests: int
    concurrency: int
    prompt_tokens: tuple[int, int]
    output_tokens: tuple[int, int]
    shared_prefix_tokens: int = 0
    seed: int = 0
    restate_percent: int = 0  # generated workloads: share of requests that restate their text
    notes: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"workload kind must be one of {KINDS}, not {self.kind!r}")
        if self.num_requests < 1:
            raise ValueError("num_requests must be >= 1")
        if not 1 <= self.concurrency <= self.num_requests:
            raise ValueError(f"concurrency must be in [1, num_requests={self.num_requests}]")
        for label, (lo, hi) in (
            ("prompt_tokens", self.prompt_tokens),
            ("output_tokens", self.output_tokens),
        ):
            if not 1 <= lo <= hi:
                raise ValueError(f"{label} must be (min, max) with 1 <= min <= max, not {(lo, hi)}")
        if self.shared_prefix_tokens < 0:
            raise ValueError("shared_prefix_tokens must be >= 0")
        if self.kind == "shared_prefix" and self.shared_prefix_tokens == 0:
            raise ValueError("a shared_prefix workload needs shared_prefix_tokens > 0")
        if isinstance(self.restate_percent, bool) or not isinstance(self.restate_percent, int):
            raise ValueError(f"restate_percent must be an integer, not {self.restate_percent!r}")
        if not 0 <= self.restate_percent <= 100:
            raise ValueError(f"restate_percent must be in [0, 100], not {self.restate_percent}")
        if self.restate_percent and self.kind != "generated":
            raise ValueError("restate_percent is a field of generated workloads only")

    @classmethod
    def from_descriptor(cls, d: dict[str, Any]) -> WorkloadSpec:
        """The spec whose :meth:`descriptor` is ``d`` (KeyError/TypeError/ValueError if none)."""
        spec = cls(
            name=d["name"],
            kind=d["type"],
            num_requests=d["num_requests"],
            concurrency=d["concurrency"],
            prompt_tokens=tuple(d["prompt_tokens"]),
            output_tokens=tuple(d["output_tokens"]),
            shared_prefix_tokens=d.get("shared_prefix_tokens", 0),
            seed=d.get("seed", 0),
            restate_percent=d.get("restate_percent", 0),
        )
        return spec

    @property
    def restates(self) -> bool:
        """Whether some requests ask for their document back (n-gram speculation pays)."""
        return self.kind == "summarize" or self.restate_percent > 0

    @property
    def max_prompt_tokens(self) -> int:
        # restating: document + instruction (<= 48 tokens, even byte-level) + 8 restated tokens
        extra = 56 if self.restates else 0
        return self.shared_prefix_tokens + self.prompt_tokens[1] + extra

    @property
    def max_total_tokens(self) -> int:
        return self.max_prompt_tokens + self.output_tokens[1]

    def descriptor(self) -> dict[str, Any]:
        return {
            "kind": "workload",
            "v": GENERATOR_VERSION,
            "name": self.name,
            "type": self.kind,
            "num_requests": self.num_requests,
            "concurrency": self.concurrency,
            "prompt_tokens": list(self.prompt_tokens),
            "output_tokens": list(self.output_tokens),
            "shared_prefix_tokens": self.shared_prefix_tokens,
            "seed": self.seed,
        } | ({"restate_percent": self.restate_percent} if self.kind == "generated" else {})

    @property
    def workload_id(self) -> str:
        return content_id(self.descriptor())

    def with_(self, **changes: Any) -> WorkloadSpec:
        return dataclasses.replace(self, **changes)

    def build(self, tokenizer: Any) -> list[Request]:
        """The requests for ``tokenizer`` (deterministic in seed and tokenizer)."""
        rng = random.Random(f"{self.name}/{self.kind}/{self.seed}")

        def encode(text: str) -> list[int]:
            return list(tokenizer(text, add_special_tokens=False)["input_ids"])

        def exact(text_rng: random.Random, n: int) -> list[int]:
            ids: list[int] = []
            chars = 6 * n + 64
            while len(ids) < n:
                ids = encode(_text(text_rng, chars))
                chars *= 2
            return ids[:n]

        prefix = exact(rng, self.shared_prefix_tokens) if self.shared_prefix_tokens else []
        instruction = encode("\n\nRepeat the text above word for word.\n\n")[:48]
        requests = []
        # generated workloads: which requests restate, spread evenly over the list
        restate = [
            (i * self.restate_percent) // 100 != ((i + 1) * self.restate_percent) // 100
            for i in range(self.num_requests)
        ]
        for i in range(self.num_requests):
            n_prompt = rng.randint(*self.prompt_tokens)
            n_out = rng.randint(*self.output_tokens)
            body = exact(rng, n_prompt)
            if self.kind == "summarize" or restate[i]:
                # The restatement starts with the document's opening, as a copying model would.
                ids = prefix + body + instruction + body[: min(8, len(body))]
            else:
                ids = prefix + body
            requests.append(Request(index=i, prompt_ids=tuple(ids), max_new_tokens=n_out))
        return requests


def _presets() -> dict[str, WorkloadSpec]:
    # Sized so that one pass of every preset takes ~10-20 s for a 135M model on one CPU
    # thread (the CPU meta-data set runs 4 passes x 48 method groups); see docs/provider.md.
    specs = [
        WorkloadSpec("chat", "chat", 8, 8, (16, 96), (8, 24)),
        WorkloadSpec("chat-stream", "chat", 3, 1, (16, 64), (16, 16)),
        WorkloadSpec("prefill-heavy", "prefill_heavy", 2, 2, (256, 320), (4, 4)),
        WorkloadSpec("decode-heavy", "decode_heavy", 4, 4, (8, 16), (48, 64)),
        WorkloadSpec(
            "shared-prefix", "shared_prefix", 6, 6, (16, 24), (8, 8), shared_prefix_tokens=192
        ),
        WorkloadSpec("summarize", "summarize", 2, 1, (96, 128), (48, 48)),
        WorkloadSpec("offline-64", "chat", 64, 64, (8, 16), (8, 8)),
    ]
    return {s.name: s for s in specs}


WORKLOADS: dict[str, WorkloadSpec] = _presets()


def get_workload(name: str) -> WorkloadSpec:
    """A preset, or a point of a parametric design (``<design>-<index>``, e.g. ``qmc32-07``)."""
    if name in WORKLOADS:
        return WORKLOADS[name]
    from provider_agent.workload_design import design_workload

    spec = design_workload(name)
    if spec is None:
        raise ValueError(
            f"unknown workload {name!r} (have {', '.join(WORKLOADS)}, or <design>-<index>)"
        )
    return spec
