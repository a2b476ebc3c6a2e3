"""Kernels compiled on first use, shared by the scan modules (quantization and the index).

A :class:`Compiled` holds a build function that imports numba, compiles (or loads from
numba's on-disk cache) and runs each kernel once on small inputs. The first :meth:`get`
builds under a lock, with a progress line when it takes more than a second; a build that
fails (no numba, or a numba that cannot compile here) is not tried again, and :meth:`get`
returns None so that the caller keeps its numpy path.

Examples
--------
>>> kernels = Compiled(lambda: {"twice": lambda x: 2 * x}, "doubling")
>>> kernels.get()["twice"](4)
8
>>> Compiled(lambda: 1 / 0, "never").get() is None
True
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from explorekit._support.progress import task


class Compiled:
    """Kernels made by ``build()`` on the first :meth:`get`; ``what`` names them in progress.

    ``warm(kernels)``, when given, runs each kernel once on tiny inputs of the types the
    callers pass, so that compiling (or loading from numba's cache) happens here, not mid-scan.
    """

    def __init__(self, build: Callable[[], dict[str, Callable]], what: str,
                 warm: Callable[[dict[str, Callable]], None] | None = None) -> None:
        self._build, self._what, self._warm = build, what, warm
        self._kernels: dict[str, Callable] | None = None     # published whole, once built
        self._lock = threading.Lock()
        self._failed = False
        if hasattr(os, "register_at_fork"):     # a child forked mid-build must not inherit the
            os.register_at_fork(after_in_child=self._new_lock)          # held lock

    def _new_lock(self) -> None:
        self._lock = threading.Lock()

    def get(self) -> dict[str, Callable] | None:
        """The kernels by name, or None when they cannot be compiled here."""
        if self._kernels is None and not self._failed:
            with self._lock:
                if self._kernels is None and not self._failed:
                    try:
                        with task(f"explorekit: compiling the {self._what} (once per machine)"):
                            kernels = self._build()
                            if self._warm is not None:
                                self._warm(kernels)
                        self._kernels = kernels
                    except Exception:      # no numba, or a numba that cannot compile here
                        self._failed = True
        return self._kernels
