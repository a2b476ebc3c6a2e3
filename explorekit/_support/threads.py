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
from collections.abc import Iterator

from threadpoolctl import ThreadpoolController

_controller = None


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
