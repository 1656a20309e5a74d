"""sdk: the client library of MetaInf Market (submit paid jobs, get verified results)."""

from sdk.aio import AsyncClient, AsyncJobHandle
from sdk.client import Client, JobHandle, JobOutcome
from sdk.errors import (
    BackendUnavailable,
    DeadlinePassed,
    InsufficientFunds,
    JobFailed,
    NoProviderMatched,
    ResultHashMismatch,
    SdkError,
)

__all__ = [
    "AsyncClient",
    "AsyncJobHandle",
    "BackendUnavailable",
    "Client",
    "DeadlinePassed",
    "InsufficientFunds",
    "JobFailed",
    "JobHandle",
    "JobOutcome",
    "NoProviderMatched",
    "ResultHashMismatch",
    "SdkError",
]
