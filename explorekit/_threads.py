"""How many BLAS threads a query uses.

Measured on the 2-core machines this project targets: a single query's product is
memory-bound and small, and two OpenBLAS threads spend more time synchronising than computing
(5,000 x 64 scan: 21 ms with 2 threads under load vs 0.9 ms with 1; 100,000 x 384 matvec:
30 ms vs 27 ms). So queries pin BLAS to one thread by default; set the environment variable
``EXPLOREKIT_BLAS_THREADS`` to change it (0 leaves the library default).

Examples
--------
>>> with blas_threads():
...     pass
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

_controller = None


def _blas():
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController
        _controller = ThreadpoolController().select(user_api="blas")
    return _controller


@contextlib.contextmanager
def blas_threads(limit: int | None = None) -> Iterator[None]:
    """Limit BLAS threads inside the block (default: ``EXPLOREKIT_BLAS_THREADS`` or 1)."""
    if limit is None:
        limit = int(os.environ.get("EXPLOREKIT_BLAS_THREADS", "1"))
    if limit <= 0:
        yield
        return
    with _blas().limit(limits=limit):
        yield
