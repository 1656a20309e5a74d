from __future__ import annotations

import json

import pytest

from provider_agent.models import (
    UnknownModelError,
    load_model,
    make_random_llama,
    model_info,
    resolve_model,
)


def test_random_model_card_and_id(tiny_model, tiny_model_b):
    a, b = model_info(tiny_model), model_info(tiny_model_b)
    assert a.descriptor["family"] == "llama" and a.descriptor["layers"] == 2
    assert a.descriptor["source"] == {
        "type": "random",
        "size": "tiny",
        "seed": 0,
        "tokenizer": "bytes",
    }
    assert len(a.descriptor["weights_sha256"]) == 64
    # same architecture, other weights -> another id
    assert a.model_id != b.model_id
    assert a.model_id.startswith("0x") and len(a.model_id) == 66


def test_random_model_is_deterministic(tmp_path, tiny_model):
    again = make_random_llama(tmp_path / "again", size="tiny", seed=0)
    assert model_info(again).descriptor == model_info(tiny_model).descriptor


def test_load_and_tokenize(tiny_model):
    model, tok = load_model(tiny_model)
    ids = tok("hello world", add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == "hello world"
    assert model.config.num_hidden_layers == 2
    assert tok.pad_token_id is not None


def test_unknown_models_are_clear_errors(tmp_path):
    with pytest.raises(UnknownModelError, match="neither a directory nor a known name"):
        resolve_model(str(tmp_path / "missing"))
    with pytest.raises(UnknownModelError, match="no config.json"):
        model_info(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(UnknownModelError, match="not a decoder LM config"):
        model_info(tmp_path)
    with pytest.raises(UnknownModelError, match="unknown random model size"):
        make_random_llama(tmp_path / "x", size="huge")


def test_unloadable_weights_are_clear_errors(tmp_path, tiny_model):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    (broken / "metainf_model.json").unlink()
    with pytest.raises(UnknownModelError, match="cannot load"):
        load_model(broken)


def test_random_spec_is_made_in_the_cache():
    path = resolve_model("random:tiny:3")
    assert path.name == "random-tiny-s3-bytes"
    assert model_info("random:tiny:3").descriptor["source"]["seed"] == 3
