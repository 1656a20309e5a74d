"""The same client for asyncio code: every call runs in a worker thread.

Example::

    client = AsyncClient(rpc_url=..., backend_url=..., private_key=...)
    job = await client.submit_job(model=model_id, prompts=["Hi"], max_new_tokens=16,
                                  budget_wei=10**16)
    outcome = await job.wait(timeout=600)
"""

from __future__ import annotations

import asyncio
from typing import Any

from sdk.client import Client, JobHandle, JobOutcome


class AsyncJobHandle:
    def __init__(self, handle: JobHandle) -> None:
        self.sync = handle
        self.job_id = handle.job_id

    async def wait(self, timeout: float = 600.0, until: str = "final") -> JobOutcome:
        return await asyncio.to_thread(self.sync.wait, timeout, 0.5, until)

    async def dispute(self, reason: str, bond_wei: int | None = None) -> str:
        return await asyncio.to_thread(self.sync.dispute, reason, bond_wei)


class AsyncClient:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sync = Client(*args, **kwargs)

    async def submit_job(self, *args: Any, **kwargs: Any) -> AsyncJobHandle:
        return AsyncJobHandle(await asyncio.to_thread(self.sync.submit_job, *args, **kwargs))

    async def jobs(self) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self.sync.jobs)

    async def refund(self, job_id: int) -> int:
        return await asyncio.to_thread(self.sync.refund, job_id)
