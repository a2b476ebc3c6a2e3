"""Kernels compiled on first use, shared by the scan modules (quantization and the index).

A :class:`Compiled` holds a build function that imports numba, compiles (or loads from
numba's on-disk cache) and runs each kernel once on small inputs. The first :meth:`get`
builds under a lock, with a progress line when it takes more than a second. A build that
fails (no numba, or a numba that cannot compile here) is not tried again: :meth:`get` returns
None so that the caller keeps its numpy path (the same answers, slower), one ``RuntimeWarning``
says so, and :attr:`Compiled.error` keeps the build's traceback. The tests build every kernel
set wherever numba imports and fail with that traceback, so a kernel that does not compile
fails them instead of letting them fall back to numpy.

Examples
--------
>>> import warnings
>>> kernels = Compiled(lambda: {"twice": lambda x: 2 * x}, "doubling")
>>> kernels.get()["twice"](4)
8
>>> broken = Compiled(lambda: 1 / 0, "never")
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     answer = broken.get()
>>> answer, len(caught), broken.error.splitlines()[-1]
(None, 1, 'ZeroDivisionError: division by zero')
"""

from __future__ import annotations

import os
import threading
import traceback
import warnings
from collections.abc import Callable

from explorekit._support.progress import task


class Compiled:
    """Kernels made by ``build()`` on the first :meth:`get`; ``what`` names them in progress.

    ``warm(kernels)``, when given, runs each kernel once on tiny inputs of the types the
    callers pass, so that compiling (or loading from numba's cache) happens here, not mid-scan.
    ``error`` is None until a build fails, then the text of its traceback.
    """

    def __init__(
        self,
        build: Callable[[], dict[str, Callable]],
        what: str,
        warm: Callable[[dict[str, Callable]], None] | None = None,
    ) -> None:
        self._build, self.what, self._warm = build, what, warm
        self._kernels: dict[str, Callable] | None = None  # published whole, once built
        self._lock = threading.Lock()
        self.error: str | None = None
        if hasattr(os, "register_at_fork"):  # a child forked mid-build must not inherit the
            os.register_at_fork(after_in_child=self._new_lock)  # held lock

    def _new_lock(self) -> None:
        self._lock = threading.Lock()

    def get(self) -> dict[str, Callable] | None:
        """The kernels by name, or None when they cannot be compiled here (see :attr:`error`)."""
        if self._kernels is None and self.error is None:
            with self._lock:
                if self._kernels is None and self.error is None:
                    self._try_build()
        return self._kernels

    def _try_build(self) -> None:
        try:
            with task(f"explorekit: compiling the {self.what} (once per machine)"):
                kernels = self._build()
                if self._warm is not None:
                    self._warm(kernels)
            self._kernels = kernels
        except Exception as exc:  # no numba, or a numba that cannot compile here
            self.error = "".join(traceback.format_exception(exc))
            warnings.warn(
                f"explorekit: the {self.what} could not be compiled, so numpy answers "
                f"instead (the same results, slower): {type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=3,
            )  # get()'s caller
