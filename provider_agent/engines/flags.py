"""Engine flags: one frozen dataclass per engine, each default written once, validated once.

A method is an engine plus its flags (:class:`provider_agent.methods.MethodSpec`). The
flags are part of the method's descriptor and therefore of its ``methodId``, which is on
chain and in every committed table, so :meth:`EngineFlags.to_dict` must keep producing
the exact dict an existing method has always had. Two kinds of field do that:

* *core* fields are always written, even at their default: they say what the method is
  (``hf-sdpa`` writes ``dtype`` and ``attn``; every vLLM method writes the switches that
  its baseline turns off explicitly, since vLLM turns them on by default);
* *optional* fields (:func:`_optional`) are written only when they differ from their
  default (``hf-int8`` writes ``quantize``, ``hf-eager`` does not).

Field order is the order in which the keys are written. Like vLLM's ``EngineArgs``, the
values are checked once, on construction (:class:`FlagError` says which value is wrong),
so that the engines read attributes and repeat no default and no check. ``VLLMFlags``
fields are named after ``vllm.engine.arg_utils.EngineArgs`` fields (``engine_arg`` in a
field's metadata where our name differs); a test holds them to that.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self


class FlagError(ValueError):
    """A flag that does not exist for the engine, or a value it cannot take."""


def _optional(default: Any, **metadata: Any) -> Any:
    """A field written to the descriptor only when it differs from ``default``."""
    return field(default=default, metadata={"optional": True, **metadata})


def _one_of(name: str, value: Any, choices: tuple[Any, ...]) -> None:
    if value not in choices:
        raise FlagError(f"{name} must be one of {list(choices)}, not {value!r}")


def _is_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise FlagError(f"{name} must be true or false, not {value!r}")


def _is_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise FlagError(f"{name} must be an integer >= {minimum}, not {value!r}")


class _FlagsBase:
    """Serialization shared by the flag classes (they are frozen dataclasses)."""

    def to_dict(self) -> dict[str, Any]:
        """The flags as they go into the method descriptor (see the module docstring)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.metadata.get("optional") and value == f.default:
                continue
            out[f.name] = value.to_dict() if isinstance(value, _FlagsBase) else value
        return out

    @classmethod
    def from_dict(cls, flags: Mapping[str, Any]) -> Self:
        """The flags from a descriptor's dict; unknown keys are an error."""
        known = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        unknown = sorted(set(flags) - set(known))
        if unknown:
            raise FlagError(f"unknown {cls._label()} flags {unknown} (have {known})")
        return cls(**flags)

    @classmethod
    def _label(cls) -> str:
        return getattr(cls, "engine", cls.__name__)


# ------------------------------------------------------------------------ transformers

HF_DTYPES = ("float32", "bfloat16", "float16")
HF_ATTENTION = ("eager", "sdpa")
HF_QUANTIZATION = (None, "dynamic-int8-per-channel")
HF_CACHES = (None, "static")


@dataclass(frozen=True)
class HFFlags(_FlagsBase):
    """transformers + torch: precision, attention kernels, quantization, compile, n-gram."""

    engine: ClassVar[str] = "hf"

    dtype: str = "float32"
    attn: str = "sdpa"  # attn_implementation
    quantize: str | None = _optional(None)  # torch dynamic int8 of every Linear (CPU)
    cache: str | None = _optional(None)  # "static": the KV cache torch.compile compiles
    compile: bool = _optional(False)  # torch.compile (inductor) of the decode step
    prompt_lookup_tokens: int = _optional(0)  # prompt-lookup draft length; 0 = off
    max_ngram: int = _optional(2)  # longest n-gram matched by prompt lookup

    def __post_init__(self) -> None:
        _one_of("dtype", self.dtype, HF_DTYPES)
        _one_of("attn", self.attn, HF_ATTENTION)
        _one_of("quantize", self.quantize, HF_QUANTIZATION)
        _one_of("cache", self.cache, HF_CACHES)
        _is_bool("compile", self.compile)
        _is_int("prompt_lookup_tokens", self.prompt_lookup_tokens, 0)
        _is_int("max_ngram", self.max_ngram, 1)
        if self.quantize and self.dtype != "float32":
            raise FlagError("dynamic int8 quantization starts from float32 weights")
        if self.compile != (self.cache == "static"):
            raise FlagError("compile and cache='static' go together (the static cache is compiled)")
        if self.max_ngram != 2 and not self.prompt_lookup_tokens:
            raise FlagError("max_ngram needs prompt_lookup_tokens > 0")

    @property
    def prompt_lookup(self) -> bool:
        """Prompt-lookup speculation (batch 1 per request in transformers)."""
        return self.prompt_lookup_tokens > 0


# ------------------------------------------------------------------------ ONNX Runtime

ORT_PRECISIONS = ("fp32", "int8-dynamic-per-channel")


@dataclass(frozen=True)
class ORTFlags(_FlagsBase):
    """ONNX Runtime on the exported KV-cache step graph."""

    engine: ClassVar[str] = "ort"

    precision: str = "fp32"
    kv_cache: bool = True  # the only export there is; written so the id says so

    def __post_init__(self) -> None:
        _one_of("precision", self.precision, ORT_PRECISIONS)
        _is_bool("kv_cache", self.kv_cache)
        if not self.kv_cache:
            raise FlagError("the ORT engine exports the model with KV-cache inputs only")


# -------------------------------------------------------------------------------- vLLM

VLLM_DTYPES = ("bfloat16", "float16", "float32", "auto")
# max_num_batched_tokens with chunked prefill when the method names none: the chunk size
DEFAULT_CHUNK_TOKENS = 256


@dataclass(frozen=True)
class NgramSpeculation(_FlagsBase):
    """vLLM's n-gram (prompt lookup) speculation, its ``speculative_config`` dict."""

    method: str = "ngram"
    num_speculative_tokens: int = 4
    prompt_lookup_max: int = 4
    prompt_lookup_min: int = 2

    def __post_init__(self) -> None:
        _one_of("speculative method", self.method, ("ngram",))
        _is_int("num_speculative_tokens", self.num_speculative_tokens, 1)
        _is_int("prompt_lookup_max", self.prompt_lookup_max, 1)
        _is_int("prompt_lookup_min", self.prompt_lookup_min, 1)
        if self.prompt_lookup_min > self.prompt_lookup_max:
            raise FlagError("prompt_lookup_min must be <= prompt_lookup_max")


@dataclass(frozen=True)
class VLLMFlags(_FlagsBase):
    """vLLM engine arguments. The defaults are the baseline: every acceleration off.

    vLLM enables prefix caching and chunked prefill by default; the baseline writes them
    off explicitly (core fields), so that the descriptor says what ran.
    """

    engine: ClassVar[str] = "vllm"

    dtype: str = "bfloat16"
    enable_prefix_caching: bool = False
    enable_chunked_prefill: bool = False
    enforce_eager: bool = True  # no CUDA graphs / torch.compile
    max_num_seqs: int = 4
    # only with chunked prefill (the chunk); without it a whole prompt fits one step
    max_num_batched_tokens: int | None = _optional(None)
    speculative: NgramSpeculation | None = _optional(None, engine_arg="speculative_config")

    def __post_init__(self) -> None:
        _one_of("dtype", self.dtype, VLLM_DTYPES)
        for name in ("enable_prefix_caching", "enable_chunked_prefill", "enforce_eager"):
            _is_bool(name, getattr(self, name))
        _is_int("max_num_seqs", self.max_num_seqs, 1)
        if self.max_num_batched_tokens is not None:
            _is_int("max_num_batched_tokens", self.max_num_batched_tokens, 1)
            if not self.enable_chunked_prefill:
                raise FlagError("max_num_batched_tokens is the chunk size: needs chunked prefill")
        if isinstance(self.speculative, Mapping):  # a descriptor's nested dict
            object.__setattr__(self, "speculative", NgramSpeculation.from_dict(self.speculative))
        if self.speculative is not None and not isinstance(self.speculative, NgramSpeculation):
            raise FlagError(f"speculative must be n-gram speculation, not {self.speculative!r}")

    def batched_tokens(self, max_model_len: int) -> int:
        """``max_num_batched_tokens`` for an engine of ``max_model_len``."""
        if self.enable_chunked_prefill:
            return self.max_num_batched_tokens or DEFAULT_CHUNK_TOKENS
        return max(max_model_len, self.max_num_seqs)  # a whole prompt must fit in one step

    def engine_kwargs(self, max_model_len: int) -> dict[str, Any]:
        """The ``EngineArgs`` keyword arguments these flags set (the engine adds the rest)."""
        args: dict[str, Any] = {
            "dtype": self.dtype,
            "enable_prefix_caching": self.enable_prefix_caching,
            "enable_chunked_prefill": self.enable_chunked_prefill,
            "enforce_eager": self.enforce_eager,
            "max_num_seqs": self.max_num_seqs,
            "max_num_batched_tokens": self.batched_tokens(max_model_len),
        }
        if self.speculative is not None:
            args["speculative_config"] = self.speculative.to_dict()
        return args

    @classmethod
    def engine_arg_names(cls) -> dict[str, str]:
        """Our field name -> the ``EngineArgs`` field it sets."""
        return {f.name: f.metadata.get("engine_arg", f.name) for f in dataclasses.fields(cls)}


EngineFlags = HFFlags | ORTFlags | VLLMFlags
FLAGS: dict[str, type[HFFlags] | type[ORTFlags] | type[VLLMFlags]] = {
    "hf": HFFlags,
    "ort": ORTFlags,
    "vllm": VLLMFlags,
}


def engine_flags(engine: str, flags: EngineFlags | Mapping[str, Any] | None = None) -> EngineFlags:
    """``flags`` as the flag class of ``engine`` (a dict is read as a descriptor's flags)."""
    cls = FLAGS[engine]
    if flags is None:
        return cls()
    if isinstance(flags, Mapping):
        return cls.from_dict(flags)
    if not isinstance(flags, cls):
        raise FlagError(f"{engine} methods take {cls.__name__}, not {type(flags).__name__}")
    return flags
