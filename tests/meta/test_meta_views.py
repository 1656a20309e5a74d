"""bench/meta_views.py: each view alone next to the stack's weights, per held-out group."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location(
    "meta_views", Path(__file__).resolve().parents[2] / "bench" / "meta_views.py"
)
meta_views = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(meta_views)


def _run(per_group: dict[str, float], alors: dict[str, float], weights=None) -> dict:
    mean = sum(per_group.values()) / len(per_group)
    out = {
        "per_group": {g: {"MetaInf": v, "ALORS": alors[g]} for g, v in per_group.items()},
        "selectors": {
            "MetaInf": {"normalized_performance": mean},
            "ALORS": {"normalized_performance": sum(alors.values()) / len(alors)},
        },
    }
    if weights:
        out["fit_info"] = {"MetaInf": {g: {"weights": w} for g, w in weights.items()}}
    return out


def test_table_puts_each_view_beside_the_stack_and_its_weights(tmp_path):
    alors = {"h1": 0.8, "h2": 0.9}
    stack = _run(
        {"h1": 0.7, "h2": 0.95},
        alors,
        {"h1": {"physics": 0.6, "interaction/large": 0.3, "latent": 0.1}, "h2": {"latent": 1.0}},
    )
    (tmp_path / "throughput-exact-hardware.json").write_text(json.dumps(stack))
    for view, scores in {
        "large-1": {"h1": 1.0, "h2": 0.9},
        "physics": {"h1": 0.4, "h2": 0.92},
    }.items():
        (tmp_path / "views" / view).mkdir(parents=True)
        (tmp_path / "views" / view / "throughput-exact-hardware.json").write_text(
            json.dumps(_run(scores, alors))
        )
    table = meta_views.main(tmp_path, "throughput-exact-hardware").splitlines()
    assert table[0] == (
        "| held out | pair model (large) | physics | stack | stack's weights | ALORS |"
    )
    assert (
        table[2] == "| h1 | 1.000 | 0.400 | 0.700 | physics 0.60, large 0.30, latent 0.10 | 0.800 |"
    )
    assert table[3] == "| h2 | 0.900 | 0.920 | 0.950 | latent 1.00 | 0.900 |"
    assert table[4] == "| all | 0.950 | 0.660 | 0.825 |  | 0.850 |"


def test_missing_view_runs_say_which_script_makes_them(tmp_path):
    (tmp_path / "ttft-all-model.json").write_text(json.dumps(_run({"m": 1.0}, {"m": 1.0})))
    with pytest.raises(SystemExit, match="scripts/meta_views.sh"):
        meta_views.main(tmp_path, "ttft-all-model")
