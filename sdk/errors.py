"""What can go wrong for a client, as exceptions that say what to do about it."""

from __future__ import annotations


class SdkError(Exception):
    """Base class of the SDK's errors."""


class InsufficientFunds(SdkError):
    """The account cannot pay the escrow (plus gas)."""


class BackendUnavailable(SdkError):
    """The backend's HTTP API did not answer, or refused a request."""


class NoProviderMatched(SdkError):
    """The backend found no feasible (provider, method) for the job; ``reason`` says why.
    The escrow is safe: cancel the job (``client.refund(job_id)``) to get it back."""

    def __init__(self, job_id: int, reason: str, candidates: list | None = None) -> None:
        self.job_id, self.reason, self.candidates = job_id, reason, candidates or []
        super().__init__(
            f"job {job_id}: no provider matched ({reason}); `refund` returns the escrow"
        )


class DeadlinePassed(SdkError):
    """The job's deadline passed without a result; ``client.refund(job_id)`` returns the
    escrow (with compensation from the provider's collateral if it had accepted)."""


class ResultHashMismatch(SdkError):
    """The delivered result is not the document whose hash the provider committed on
    chain, or it answers another job, spec or method: dispute it."""


class JobFailed(SdkError):
    """The job ended without a result for the client (cancelled, refunded)."""
