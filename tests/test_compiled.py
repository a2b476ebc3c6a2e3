"""The lazy loader of compiled kernels: built once, None for every caller when it cannot be,
and every kernel set of explorekit builds wherever numba imports (else the tests fail)."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import threading
import time

import pytest

import explorekit
from explorekit._support.compiled import Compiled


def test_built_once_and_shared():
    calls = []
    kernels = Compiled(lambda: calls.append(1) or {"twice": lambda x: 2 * x}, "doubling", warm=lambda k: k["twice"](1))
    assert kernels.get()["twice"](4) == 8 and kernels.get() is kernels.get() and calls == [1]
    assert kernels.error is None


def test_a_failed_build_gives_none_to_every_waiting_thread():
    def slow_failure():
        time.sleep(0.2)
        raise ImportError("no numba here")

    kernels = Compiled(slow_failure, "never")
    got = []
    threads = [threading.Thread(target=lambda: got.append(kernels.get())) for _ in range(4)]
    with pytest.warns(RuntimeWarning, match="never could not be compiled.*no numba here"):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert got == [None] * 4 and kernels.get() is None


def test_a_failed_build_warns_once_and_keeps_its_traceback(recwarn):
    def broken_build():
        raise TypeError("int8 kernel: cannot unify int32 and array(uint8)")

    kernels = Compiled(broken_build, "int8 scan kernels")
    assert kernels.get() is None and kernels.get() is None
    assert [str(w.message) for w in recwarn] == [
        "explorekit: the int8 scan kernels could not be compiled, so numpy answers instead "
        "(the same results, slower): TypeError: int8 kernel: cannot unify int32 and array(uint8)"
    ]
    assert "in broken_build" in kernels.error
    assert kernels.error.rstrip().endswith("TypeError: int8 kernel: cannot unify int32 and array(uint8)")


def _kernel_sets() -> dict[str, Compiled]:
    """Every module-level Compiled of explorekit, by module and name (imports every module)."""
    found = {}
    for info in pkgutil.walk_packages(explorekit.__path__, prefix="explorekit."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, Compiled):
                found[f"{info.name}.{name}"] = value
    return found


KERNEL_SETS = _kernel_sets()


def test_the_scan_modules_have_kernel_sets():
    assert {name.rsplit(".", 1)[0] for name in KERNEL_SETS} >= {
        "explorekit.quantization._sq_kernel",
        "explorekit.quantization._pq_kernel",
        "explorekit.index._codes_kernel",
    }


@pytest.mark.parametrize("name", sorted(KERNEL_SETS))
def test_every_kernel_set_builds_where_numba_imports(name):
    """numba is a core dependency: a kernel that does not compile is a bug, not a reason to
    skip the bit-identity tests (they would silently compare numpy with numpy)."""
    if importlib.util.find_spec("numba") is None:
        pytest.skip("numba is not installed: the numpy paths answer")
    compiled = KERNEL_SETS[name]
    kernels = compiled.get()
    assert compiled.error is None, f"{compiled.what} failed to build:\n{compiled.error}"
    assert kernels


def test_the_avx512_product_scan_builds_where_the_cpu_has_it():
    """The AVX-512 product scan is chosen by CPU; where the CPU has it, it must build and agree."""
    if importlib.util.find_spec("numba") is None:
        pytest.skip("numba is not installed: the numpy paths answer")
    from explorekit.quantization import _pq_kernel, _simd

    if not _simd.supported():
        pytest.skip("this CPU has no AVX-512 F/BW/VBMI: the scalar compiled scan answers")
    kernels = _pq_kernel._build_simd()  # raises the build or agreement error, if any
    _pq_kernel._warm_simd(kernels)
    assert "planes" in _pq_kernel._compiled.get()
