"""The auditor role: verify attestations and job results, re-benchmark, challenge cheaters.

``Auditor(market, store, ...)`` (:mod:`auditor.core`) is the API; ``metainf audit ...``
its command line. Results are typed (:mod:`auditor.results`), each with ``to_dict()``.
"""

from auditor.challenge import AuditError
from auditor.core import Auditor
from auditor.rebench import TolerancePolicy
from auditor.results import (
    AttestationCheck,
    ChallengeResult,
    Finding,
    JobCheck,
    MetricComparison,
    RebenchResult,
    Ruling,
    VerifyReport,
    Withdrawal,
)

__all__ = [
    "AttestationCheck",
    "AuditError",
    "Auditor",
    "ChallengeResult",
    "Finding",
    "JobCheck",
    "MetricComparison",
    "RebenchResult",
    "Ruling",
    "TolerancePolicy",
    "VerifyReport",
    "Withdrawal",
]
