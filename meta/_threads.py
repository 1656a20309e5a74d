"""Keep native thread pools (OpenMP, BLAS) small while selectors fit and predict.

On a busy machine OpenMP workers spin at barriers: a boosted-tree fit that takes 0.6 s
on one thread took 30 s with two threads when the other core was busy, and a 20-row
prediction 60 ms instead of 1 ms. Selectors here work on small matrices, so one thread
is the fast and predictable choice; ``METAINF_THREADS`` raises it.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext

_controller = None


def limited_threads() -> AbstractContextManager:
    global _controller
    n = int(os.environ.get("METAINF_THREADS", "1"))
    if n <= 0:
        return nullcontext()
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=n)
