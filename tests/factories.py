"""Small, deterministic records for tests that need an attestation but no benchmark."""

from __future__ import annotations

from protocol.canonical import content_id
from protocol.eip712 import Measurement


def example_measurement(i: int, hardware_id: str) -> Measurement:
    """A measurement with distinct ids per ``i`` (content ids of small descriptors)."""
    return Measurement(
        hardwareId=hardware_id,
        modelId=content_id({"kind": "model", "name": f"model-{i % 4}"}),
        workloadId=content_id({"kind": "workload", "name": f"workload-{i % 8}"}),
        methodId=content_id({"kind": "method", "name": f"method-{i}"}),
        tokensPerSecX1000=100_000 + 1000 * i,
        ttftP50Us=50_000,
        tpotP50Us=10_000,
        peakMemBytes=2**30,
        reportHash=content_id({"report": i}),
    )
