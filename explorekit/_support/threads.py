"""How many BLAS threads a query uses.

Measured on the 2-core machines this project targets: for a small scan two OpenBLAS threads
spend more time synchronising than computing (5,000 x 64: 21 ms with 2 threads vs 0.9 ms with
1, on a loaded machine), while a large scan gains from both cores' memory bandwidth (100,000 x
384 on an idle machine: search 11.2 -> 6.3 ms, best_score 31.5 -> 20.4 ms). So a query uses
one thread when it reads fewer than ``LARGE_SCAN`` floats, and the library default otherwise.
The environment variable ``EXPLOREKIT_BLAS_THREADS`` overrides it (0: library default).

Examples
--------
>>> with blas_threads():
...     pass
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

from threadpoolctl import ThreadpoolController

_controller = None
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _blas():
    global _controller
    if _controller is None:
        _controller = ThreadpoolController().select(user_api="blas")
    return _controller


LARGE_SCAN = 4_000_000  # floats read by one request (about 10,000 x 384)


@contextlib.contextmanager
def blas_threads(limit: int | None = None, *, work: int = 0) -> Iterator[None]:
    """Limit BLAS threads inside the block.

    ``limit`` wins; else ``EXPLOREKIT_BLAS_THREADS``; else 1 thread below ``LARGE_SCAN``
    floats of ``work`` and the library default above.
    """
    if limit is None:
        setting = os.environ.get("EXPLOREKIT_BLAS_THREADS")
        limit = int(setting) if setting else (0 if work >= LARGE_SCAN else 1)
    if limit <= 0:
        yield
        return
    with _blas().limit(limits=limit):
        yield


def _forget_pool() -> None:
    """A forked child has none of the parent's threads: it starts its own pool when needed."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _scan_pool() -> ThreadPoolExecutor:
    """One long-lived pool for scans (starting threads per query would cost more than a scan)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(
                max_workers=max(1, (os.cpu_count() or 1) - 1), thread_name_prefix="explorekit-scan"
            )
        return _pool


def in_parts(func: Callable[[tuple[int, int]], None], n: int, split: bool, step: int = 1) -> None:
    """``func((start, stop))`` over runs of ``range(n)`` that cover it: one run per core when
    ``split`` (run boundaries on multiples of ``step``), else one run.

    For scans whose kernels release the GIL (numpy's, and the ``nogil`` compiled ones): the
    caller scans the first run itself, the others run on a long-lived pool. BLAS is held to
    one thread meanwhile (the runs already keep every core busy).

    >>> seen = []
    >>> in_parts(seen.append, 10, split=False)
    >>> seen
    [(0, 10)]
    """
    workers = os.cpu_count() or 1
    if workers <= 1 or not split or n < 2 * step:
        with blas_threads(1):
            func((0, n))
        return
    size = -(-n // (workers * step)) * step
    parts = [(s, min(s + size, n)) for s in range(0, n, size)]
    with blas_threads(1):
        pool = _scan_pool()
        futures = [pool.submit(func, part) for part in parts[1:]]
        try:
            func(parts[0])
        finally:
            for future in futures:
                future.result()
