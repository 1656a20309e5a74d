"""Engine flags: every methodId is what it was, defaults live once, vLLM's names are vLLM's."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from provider_agent.engines.flags import (
    DEFAULT_CHUNK_TOKENS,
    FLAGS,
    FlagError,
    HFFlags,
    NgramSpeculation,
    ORTFlags,
    VLLMFlags,
    engine_flags,
)
from provider_agent.methods import METHODS, get_method

DATA = Path(__file__).resolve().parents[2] / "data" / "metadataset"

# every method's id when its flags were plain dicts (before the flag dataclasses): the
# committed tables, reports and on-chain attestations name methods by these
METHOD_IDS = {
    "hf-eager": "0x9296c290dea391b4f5156f75ce8259de9924cd33050f9e8e90546e4809341c5f",
    "hf-sdpa": "0x991de151c38787fdd1d62946aa5c43bd453033930b8255bb4f474465a32d888b",
    "hf-int8": "0x1dfab5629d6d385fc8e3fe507fe7947b132a4ee4c82f67dcd5c94c8f7b4c01b9",
    "hf-compile": "0x5ba02353ca7085ef54d1e5ea2ba74a9135a0d405b934a603487d22d87e4a70e7",
    "hf-ngram": "0x2af87f9bd896347c642c1f5380c75c245cd69770537087507d88ca651dbf4f8e",
    "hf-bf16": "0x6a841c284097659685e2908ef17977ee04acb8e363ff0a62c1a66e1b1f1e4f45",
    "hf-fp16": "0x5abca59c5a4cfbdbb84477abaf451acdee355c2525ffdfc8a9c38bddfcf89598",
    "hf-fp16-compile": "0x75ab33e1bd8a91322c044011e04a7c1eec42fb1033cb2b2ef2f06723a890ef36",
    "ort-fp32": "0x238908ca043ee4bda731f6193e88fb0e44ea5209a7819b893242b972ababc66c",
    "ort-int8": "0x176d1508bdc2929b0978a04a79ed9d2e6846bd577b1f5bc2352256d3921e07c1",
    "vllm-baseline": "0x3700b00663821aded1fa9d52f9ea6baedfbd545d571855c042e754cd9bd42a6f",
    "vllm-prefix": "0x9ff68535bb000fc3168cca5cc919fe0704c839dbf0fefea829dcae69c7c41ef9",
    "vllm-chunked": "0x28fcb1c27ca7b1e67978fff13c8972335b6f34939c49e949ee216de21184f5c8",
    "vllm-batch64": "0xc453d7727fc335fe7a39c20ac936d2db277fa3a3458bd09a621fee0f8b98514c",
    "vllm-ngram": "0x3a87fc41808a9dc54e66eafe33468343ca80350e6739831051752357d5de05d1",
    "vllm-all": "0xe3512927b3f6edacf8ba26f17db415aa352d06f17a3e886c7ec902246be7f41a",
    "vllm-graphs": "0x5ad5a8bd18f164512beca2321bfbfa43c2a00f9aeea7ccdd64c6d4bb2d51632b",
    # added with the meta-data set v2
    "hf-int8-ngram": "0x266e1e65b07570c0dab1664a89e7021226eed197b9a15d7147ff9aea023949d8",
    "hf-fp16-ngram": "0xb5fabe00aaa502f2429968347fb3984638af83bd1d0cd7deb5a7c5ce997d4cae",
}


def test_every_method_id_is_unchanged():
    assert {n: m.method_id for n, m in METHODS.items()} == METHOD_IDS


@pytest.mark.parametrize(
    "name", sorted(p.name[: -len(".summary.json")] for p in DATA.glob("*.summary.json"))
)
def test_method_ids_and_descriptors_match_the_committed_data_sets(name):
    sidecar = json.loads((DATA / f"{name}.descriptors.json").read_text())
    table = json.loads((DATA / f"{name}.json").read_text())
    for name, desc in sidecar["method"].items():
        method = get_method(name)
        assert method.descriptor() == desc
        # same keys in the same order as written then, not only the same canonical id
        assert json.dumps(method.descriptor()) == json.dumps(table["descriptors"]["method"][name])
        assert method.method_id == sidecar["ids"]["method"][name] == table["ids"]["method"][name]
    for row in table["rows"]:
        assert get_method(row["method"]).method_id == row["methodId"]


@pytest.mark.parametrize("name", list(METHODS))
def test_flags_round_trip_through_the_descriptor(name):
    method = METHODS[name]
    flags = method.descriptor()["flags"]
    again = engine_flags(method.engine, flags)
    assert again == method.flags and again.to_dict() == flags
    assert hash(again) == hash(method.flags)  # frozen all the way down


def test_defaults_are_written_once_and_core_fields_always():
    assert HFFlags().to_dict() == {"dtype": "float32", "attn": "sdpa"}
    assert ORTFlags().to_dict() == {"precision": "fp32", "kv_cache": True}
    assert VLLMFlags().to_dict() == {
        "dtype": "bfloat16",
        "enable_prefix_caching": False,
        "enable_chunked_prefill": False,
        "enforce_eager": True,
        "max_num_seqs": 4,
    }
    assert HFFlags(prompt_lookup_tokens=8).max_ngram == 2
    assert engine_flags("vllm") == VLLMFlags()
    assert set(FLAGS) == {"hf", "ort", "vllm"}


@pytest.mark.parametrize(
    ("engine", "flags", "message"),
    [
        ("hf", {"warp": 9}, "unknown hf flags"),
        ("hf", {"dtype": "int4"}, "dtype must be one of"),
        ("hf", {"compile": True}, "go together"),
        ("hf", {"cache": "static"}, "go together"),
        ("hf", {"compile": 1, "cache": "static"}, "compile must be true or false"),
        ("hf", {"quantize": "dynamic-int8-per-channel", "dtype": "bfloat16"}, "float32"),
        ("hf", {"max_ngram": 3}, "needs prompt_lookup_tokens"),
        ("hf", {"prompt_lookup_tokens": -1}, "integer >= 0"),
        ("ort", {"precision": "int4"}, "precision must be one of"),
        ("ort", {"kv_cache": False}, "KV-cache"),
        ("vllm", {"max_num_seqs": 0}, "integer >= 1"),
        ("vllm", {"max_num_seqs": True}, "integer >= 1"),
        ("vllm", {"max_num_batched_tokens": 256}, "needs chunked prefill"),
        ("vllm", {"speculative": {"method": "eagle"}}, "must be one of"),
        ("vllm", {"speculative": {"prompt_lookup_min": 5}}, "prompt_lookup_min"),
        ("vllm", {"speculative": "ngram"}, "n-gram speculation"),
    ],
)
def test_bad_flags_are_refused_on_construction(engine, flags, message):
    with pytest.raises(FlagError, match=message):
        engine_flags(engine, flags)


def test_vllm_batched_tokens_and_speculation():
    assert VLLMFlags().batched_tokens(1024) == 1024
    assert VLLMFlags(max_num_seqs=2048).batched_tokens(1024) == 2048
    assert VLLMFlags(enable_chunked_prefill=True).batched_tokens(1024) == DEFAULT_CHUNK_TOKENS
    chunked = VLLMFlags(enable_chunked_prefill=True, max_num_batched_tokens=128)
    assert chunked.batched_tokens(1024) == 128
    spec = VLLMFlags(speculative={"num_speculative_tokens": 2})
    assert spec.speculative == NgramSpeculation(num_speculative_tokens=2)
    assert spec.engine_kwargs(512)["speculative_config"] == {
        "method": "ngram",
        "num_speculative_tokens": 2,
        "prompt_lookup_max": 4,
        "prompt_lookup_min": 2,
    }


def test_vllm_engine_args_are_what_they_were():
    """``LLM(**engine_args())`` for vllm-all and vllm-baseline, as before the dataclasses."""
    from provider_agent.engines.vllm import VLLMEngine

    def args(name, device):
        hw = SimpleNamespace(device=device, threads=1)
        info = SimpleNamespace(path="/m")
        return VLLMEngine(info, get_method(name), hw, max_model_len=1024).engine_args()

    base = {
        "model": "/m",
        "tokenizer": "/m",
        "dtype": "bfloat16",
        "max_model_len": 1024,
        "enable_prefix_caching": False,
        "enable_chunked_prefill": False,
        "enforce_eager": True,
        "max_num_seqs": 4,
        "seed": 0,
        "disable_log_stats": True,
        "max_num_batched_tokens": 1024,
    }
    assert args("vllm-baseline", "cpu") == base
    assert args("vllm-baseline", "cuda") == base | {"gpu_memory_utilization": 0.5}
    assert args("vllm-all", "cpu") == base | {
        "enable_prefix_caching": True,
        "enable_chunked_prefill": True,
        "max_num_seqs": 64,
        "max_num_batched_tokens": 256,
        "speculative_config": NgramSpeculation().to_dict(),
    }


def test_vllm_flag_names_are_engine_args_fields():
    """Our vLLM flags are named (or mapped) after vLLM's own EngineArgs fields."""
    pytest.importorskip("vllm")
    from vllm.config import SpeculativeConfig
    from vllm.engine.arg_utils import EngineArgs

    engine_args = {f.name for f in dataclasses.fields(EngineArgs)}
    mapped = VLLMFlags.engine_arg_names()
    assert set(mapped) == {f.name for f in dataclasses.fields(VLLMFlags)}
    assert set(mapped.values()) <= engine_args, set(mapped.values()) - engine_args
    # the only renamed field is the nested speculative config
    assert {k: v for k, v in mapped.items() if k != v} == {"speculative": "speculative_config"}
    for name in ("vllm-baseline", "vllm-all"):
        kwargs = get_method(name).flags.engine_kwargs(512)
        assert set(kwargs) <= engine_args
    spec_fields = {f.name for f in dataclasses.fields(SpeculativeConfig)}
    assert {f.name for f in dataclasses.fields(NgramSpeculation)} <= spec_fields
