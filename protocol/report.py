"""Benchmark reports: the canonical document behind every attestation.

A report is a plain JSON object; ``reportHash = content_id(report)`` (keccak256 of its
canonical JSON), and the report is stored under that hash in a blob store. The
attestation carries a few headline integers that anyone can recompute from the report
(:func:`headline`); that conversion lives here and nowhere else.

Latencies in a report's ``metrics`` are milliseconds, throughput is output tokens per
second, memory is bytes. On chain: tokens/s x1000, microseconds, bytes (uint64).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from protocol.canonical import content_id

SCHEMA = "metainf.bench-report/1"
UINT64_MAX = 2**64 - 1
ID_KEYS = {
    "model": "modelId",
    "hardware": "hardwareId",
    "workload": "workloadId",
    "method": "methodId",
}


class ReportError(ValueError):
    """A document is not a well-formed benchmark report, or does not support a claim."""


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
    outputs_hash: str | None = None,
) -> dict[str, Any]:
    """Assemble a report (descriptors, ids, metrics, quality, raw samples, environment)."""
    descriptors = {"model": model, "hardware": hardware, "workload": workload, "method": method}
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "measured_at": measured_at or utc_now(),
        "ids": {ID_KEYS[role]: content_id(d) for role, d in descriptors.items()},
        **descriptors,
        "config": config,
        "environment": env,
        "metrics": {k: round(v, 6) for k, v in sorted(metrics.items())},
        "quality": quality,
        "samples": samples,
    }
    if outputs_hash is not None:
        report["outputs_hash"] = outputs_hash
    return report


def report_hash(report: dict[str, Any]) -> str:
    return content_id(report)


class Headline(BaseModel):
    """The integer figures an attestation carries, in the contract's units."""

    model_config = ConfigDict(frozen=True, strict=True)

    tokensPerSecX1000: int = Field(ge=0, le=UINT64_MAX)
    ttftP50Us: int = Field(ge=0, le=UINT64_MAX)
    tpotP50Us: int = Field(ge=0, le=UINT64_MAX)
    peakMemBytes: int = Field(ge=0, le=UINT64_MAX)


def headline(report: dict[str, Any]) -> Headline:
    """Recompute the headline integers from a report's metrics (the one conversion)."""
    try:
        m = report["metrics"]
        return Headline(
            tokensPerSecX1000=round(m["output_tokens_per_s"] * 1000),
            ttftP50Us=round(m["ttft_p50_ms"] * 1000),
            tpotP50Us=round(m.get("tpot_p50_ms", 0.0) * 1000),
            peakMemBytes=int(m.get("peak_device_memory_bytes", m["peak_rss_bytes"])),
        )
    except (KeyError, TypeError) as exc:
        raise ReportError(f"report metrics lack a headline figure: {exc!r}") from exc
    except ValidationError as exc:
        raise ReportError(f"report metrics are out of range: {exc}") from exc


def check_descriptor_ids(report: dict[str, Any]) -> dict[str, str]:
    """The report's ids, after checking that each is the content id of its descriptor."""
    if not isinstance(report, dict) or report.get("schema") != SCHEMA:
        raise ReportError(f"not a {SCHEMA} document")
    ids = report.get("ids")
    if not isinstance(ids, dict):
        raise ReportError("report has no ids")
    for role, key in ID_KEYS.items():
        if role not in report or content_id(report[role]) != ids.get(key):
            raise ReportError(f"report {key} is not the id of its {role} descriptor")
    return {key: ids[key] for key in ID_KEYS.values()}
