"""The lazy loader of compiled kernels: built once, None for every caller when it cannot be."""

from __future__ import annotations

import threading
import time

from explorekit._support.compiled import Compiled


def test_built_once_and_shared():
    calls = []
    kernels = Compiled(lambda: calls.append(1) or {"twice": lambda x: 2 * x}, "doubling",
                       warm=lambda k: k["twice"](1))
    assert kernels.get()["twice"](4) == 8 and kernels.get() is kernels.get() and calls == [1]


def test_a_failed_build_gives_none_to_every_waiting_thread():
    def slow_failure():
        time.sleep(0.2)
        raise ImportError("no numba here")

    kernels = Compiled(slow_failure, "never")
    got = []
    threads = [threading.Thread(target=lambda: got.append(kernels.get())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert got == [None] * 4 and kernels.get() is None
