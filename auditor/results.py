"""What the auditor finds: typed, JSON-ready results (every one has ``to_dict()``).

A :class:`Finding` is one reason, with a stable ``code`` (what the CLI's JSON and the
tests match on), a ``severity`` and a sentence saying why. An attestation, a rebench or a
job check is *flagged* when it has a finding of severity ``error``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]

# Finding codes (stable; docs/auditor.md lists them with their meaning)
SIGNATURE = "signature"  # not signed by the provider's agent key bound at the time
UNDECODABLE = "undecodable"  # the posting transaction is not an attest/attestBatch call
EVENT_MISMATCH = "event-mismatch"  # the Attested event differs from the signed item
NOT_POSTED = "not-posted"  # the claim's digest was never posted on chain
CLOCK_SKEW = "clock-skew"  # signed timestamp far from the block time
PROVIDER = "provider"  # provider not registered, banned, or under-staked
REPORT_MISSING = "report-missing"  # no report under the attested hash in the blob store
REPORT_CORRUPT = "report-corrupt"  # the stored bytes do not hash to the attested hash
REPORT_INVALID = "report-invalid"  # not a benchmark report, or its descriptor ids are wrong
REPORT_MISMATCH = "report-mismatch"  # attested figures/ids are not what the report recomputes to
NEGATIVE = "negative"  # a negative, NaN or missing figure
MEMORY = "memory"  # peak memory not positive
PERCENTILES = "percentiles"  # p50 <= p90 <= p99 violated (or TTFT above end-to-end)
SAMPLES = "samples"  # fewer than 3 raw samples, or samples that contradict themselves
THROUGHPUT = "throughput"  # throughput not what the samples / per-token latencies give
LATENCY = "latency"  # latency percentiles not what the raw samples give
CHALLENGED = "challenged"  # a challenge against this claim (info: its status)


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    severity: Severity = "error"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def _errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]


@dataclass
class AttestationCheck:
    """One attested item (a single attestation, or one item of a batch) and what was found."""

    tx_hash: str
    index: int  # item index in its transaction (0 for a single attestation)
    claim_hash: str | None  # what a challenge names (None when the input could not be decoded)
    block_number: int
    provider: str
    kind: str  # "single" | "batch"
    signer: str | None = None
    report_hash: str = ""
    ids: dict[str, str] = field(default_factory=dict)  # hardwareId, modelId, workloadId, methodId
    headline: dict[str, int] = field(default_factory=dict)  # the attested integers
    names: dict[str, str] = field(default_factory=dict)  # model/hardware/workload/method names
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not _errors(self.findings)

    @property
    def status(self) -> str:
        return "ok" if self.ok else "flagged"

    @property
    def reasons(self) -> list[str]:
        return [str(f) for f in _errors(self.findings)]

    def codes(self, severity: Severity | None = "error") -> set[str]:
        return {f.code for f in self.findings if severity is None or f.severity == severity}

    def flag(self, code: str, message: str, severity: Severity = "error") -> None:
        self.findings.append(Finding(code, message, severity))

    def to_dict(self) -> dict[str, Any]:
        return {
            "tx_hash": self.tx_hash,
            "index": self.index,
            "claim_hash": self.claim_hash,
            "block_number": self.block_number,
            "provider": self.provider,
            "signer": self.signer,
            "kind": self.kind,
            "report_hash": self.report_hash,
            "ids": self.ids,
            "headline": self.headline,
            "names": self.names,
            "status": self.status,
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass
class VerifyReport:
    """Every attestation of a block range, checked."""

    chain_id: int
    from_block: int
    to_block: int
    checks: list[AttestationCheck]

    @property
    def ok(self) -> list[AttestationCheck]:
        return [c for c in self.checks if c.ok]

    @property
    def flagged(self) -> list[AttestationCheck]:
        return [c for c in self.checks if not c.ok]

    def find(self, tx_hash: str, index: int = 0) -> AttestationCheck:
        for c in self.checks:
            if c.tx_hash.lower() == tx_hash.lower() and c.index == index:
                return c
        raise KeyError(f"no attestation {tx_hash} item {index} in this report")

    def summary(self) -> dict[str, int]:
        return {"attestations": len(self.checks), "ok": len(self.ok), "flagged": len(self.flagged)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "from_block": self.from_block,
            "to_block": self.to_block,
            "summary": self.summary(),
            "attestations": [c.to_dict() for c in self.checks],
        }


@dataclass(frozen=True)
class MetricComparison:
    """One figure: the provider's claim against the auditor's measurement."""

    metric: str  # "output_tokens_per_s" | "ttft_p50_ms"
    claimed: float
    measured: float
    advantage: float  # how much better the claim is than the measurement (+2.0 = 3x)
    tolerance: float  # allowed |advantage| (symmetric in log space)
    cv_provider: float  # per-repetition coefficient of variation in the provider's report
    cv_auditor: float  # ... in the auditor's run (all rounds)
    n_provider: int  # repetitions behind each median
    n_auditor: int
    within: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RebenchResult:
    """One attestation measured again on the auditor's hardware."""

    tx_hash: str
    index: int
    claim_hash: str | None
    verdict: str  # "consistent" | "inconsistent" | "not comparable"
    reason: str = ""
    comparisons: list[MetricComparison] = field(default_factory=list)
    counter_report_hash: str | None = None
    rounds: int = 0
    notes: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)

    @property
    def consistent(self) -> bool:
        return self.verdict == "consistent"

    @property
    def over_claim(self) -> bool:
        """Inconsistent in the provider's favour (grounds for a challenge)."""
        return any(not c.within and c.advantage > 0 for c in self.comparisons)

    @property
    def summary(self) -> str:
        if self.verdict == "inconsistent":
            worst = max(self.comparisons, key=lambda c: abs(c.advantage) - c.tolerance)
            return f"inconsistent (by {worst.advantage:+.0%} on {worst.metric})"
        if self.verdict == "not comparable":
            return f"not comparable ({self.reason})"
        return "consistent"

    def to_dict(self) -> dict[str, Any]:
        return {
            "tx_hash": self.tx_hash,
            "index": self.index,
            "claim_hash": self.claim_hash,
            "verdict": self.verdict,
            "summary": self.summary,
            "reason": self.reason,
            "over_claim": self.over_claim,
            "comparisons": [c.to_dict() for c in self.comparisons],
            "counter_report_hash": self.counter_report_hash,
            "rounds": self.rounds,
            "notes": self.notes,
            "names": self.names,
        }


@dataclass
class JobCheck:
    """A finished job's delivered result against the auditor's re-execution of its spec."""

    job_id: int
    verdict: str  # "ok" | "mismatch" | "not checkable"
    status: str  # the job's status on chain
    provider: str = ""
    method: str = ""
    exact: bool | None = None
    spec_hash: str = ""
    result_hash: str = ""
    token_agreement: float | None = None  # delivered vs the reference (lossy) or the re-run (exact)
    required: str | float | None = None  # the spec's quality: "exact" or a minimum agreement
    findings: list[Finding] = field(default_factory=list)
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    def codes(self) -> set[str]:
        return {f.code for f in self.findings if f.severity == "error"}

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["findings"] = [f.to_dict() for f in self.findings]
        return d


@dataclass(frozen=True)
class ChallengeResult:
    challenge_id: int
    claim_hash: str
    provider: str
    tx_hash: str
    bond_wei: int
    counter_report_hash: str
    status: str  # ChallengeStatus name
    stake_locked_wei: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Ruling:
    challenge_id: int
    upheld: bool
    status: str
    slashed_wei: int
    challenger_reward_wei: int
    tx_hash: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Withdrawal:
    settled: list[int]  # challenge ids settled for this auditor
    credited_wei: int  # bond + reward credited by those settlements
    withdrawn_wei: int  # paid out to the auditor's address
    tx_hashes: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
