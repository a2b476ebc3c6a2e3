"""The one skip rule of the tests that compare a compiled kernel with its numpy twin.

Skip only where numba is not installed (then the numpy path is all there is). Where it is
installed, a kernel set that does not build fails the test with the build's traceback: a
skip there would hide a broken kernel behind a green run.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest


def require(module: ModuleType) -> None:
    """Skip without numba; fail with the build error when ``module``'s kernels did not build.

    ``module`` is a scan module with ``load()`` and its ``_compiled`` kernel set, e.g.
    ``explorekit.quantization._sq_kernel``.
    """
    if importlib.util.find_spec("numba") is None:
        pytest.skip("numba is not installed: only the numpy scan exists here")
    if module.load() is None:
        pytest.fail(
            f"numba is installed but {module.__name__}'s kernels did not build:\n{module._compiled.error}",
            pytrace=False,
        )
