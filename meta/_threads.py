"""Keep native thread pools (OpenMP, BLAS) small while selectors fit and predict.

On a busy machine OpenMP workers spin at barriers: a boosted-tree fit that takes 0.6 s
on one thread took 30 s with two threads when the other core was busy, and a 20-row
prediction 60 ms instead of 1 ms. Selectors here work on small matrices, so one thread
is the fast and predictable choice; ``METAINF_THREADS`` raises it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from functools import cache

_controller = None


@cache
def thread_limit() -> int:
    """``METAINF_THREADS`` (read once per process; 0 means no limit)."""
    from protocol.settings import Settings

    return Settings().threads


def limited_threads() -> AbstractContextManager:
    global _controller
    n = thread_limit()
    if n <= 0:
        return nullcontext()
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=n)
