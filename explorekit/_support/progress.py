"""The one place that decides how progress is shown: one status line on stderr.

Two forms, both quiet when the work is quick (under :data:`THRESHOLD` seconds):

* :func:`progress` wraps an iterable of steps and shows ``desc: i/total (pct%) 3.2 s``;
* :func:`task` wraps one long call (a UMAP fit, a numba compile) and shows a line that keeps
  counting seconds from a background thread, so a notebook never looks frozen.

``EXPLOREKIT_PROGRESS=0`` silences everything; ``EXPLOREKIT_PROGRESS=1`` shows every line
at once (no threshold). The line goes to ``sys.stderr`` (Jupyter shows it under the cell and
honours the carriage return that rewrites it).

Examples
--------
>>> total = 0
>>> for chunk in progress(range(3), desc="summing"):
...     total += chunk
>>> with task("fitting") as status:
...     status.note("fitting: almost done")
>>> total
3
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

THRESHOLD = 1.0  # seconds of work before anything is printed
_REFRESH = 0.5  # seconds between two updates of the same line


def _mode() -> str:
    value = os.environ.get("EXPLOREKIT_PROGRESS", "").strip().lower()
    if value in ("0", "off", "false", "no"):
        return "off"
    if value in ("1", "on", "always", "true", "yes"):
        return "always"
    return "auto"


class _Line:
    """One rewritable status line; thread-safe, silent until the threshold has passed."""

    def __init__(self, desc: str) -> None:
        self.desc, self.start, self.shown, self.last = desc, time.perf_counter(), False, 0.0
        self.width = 0
        self.mode = _mode()
        self.lock = threading.Lock()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def show(self, text: str, force: bool = False) -> None:
        if self.mode == "off":
            return
        now = self.elapsed()
        if self.mode == "auto" and now < THRESHOLD:
            return
        with self.lock:
            if not force and self.shown and now - self.last < _REFRESH:
                return
            self.shown, self.last = True, now
            self._write(text, "")

    def _write(self, text: str, end: str) -> None:
        pad = " " * max(0, self.width - len(text))  # plain spaces: no ANSI codes in notebooks
        self.width = len(text)
        sys.stderr.write(f"\r{text}{pad}{end}")
        sys.stderr.flush()

    def close(self, text: str) -> None:
        if self.shown:
            with self.lock:
                self._write(text, "\n")


def progress(iterable: Iterable, total: int | None = None, desc: str = "") -> Iterator:
    """Yield from ``iterable``, showing ``desc: i/total`` once the loop has run a second.

    Parameters
    ----------
    iterable : the steps (chunks of work, not single rows).
    total : the number of steps; ``len(iterable)`` when it has one.
    desc : what is being done, e.g. ``"UMAP: placing the other 90,000 points"``.
    """
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    line = _Line(desc)
    done = 0

    def text() -> str:
        count = f"{done}/{total} ({100 * done / total:.0f}%)" if total else f"{done}"
        return f"{desc}: {count} {line.elapsed():.1f} s"

    try:
        for item in iterable:
            line.show(text())
            yield item
            done += 1
    finally:
        line.close(text() if done == total or total is None else f"{text()} (stopped)")


class _Task:
    """Handle given by :func:`task`: ``note(text)`` replaces the description shown."""

    def __init__(self, desc: str) -> None:
        self.line, self.desc = _Line(desc), desc
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def note(self, text: str) -> None:
        """Show ``text`` instead of the description from now on."""
        self.desc = text
        self.line.show(self._text(), force=self.line.shown)

    def _text(self) -> str:
        return f"{self.desc} ... {self.line.elapsed():.0f} s"

    def _beat(self) -> None:
        wait = 0.0 if self.line.mode == "always" else THRESHOLD
        while not self._stop.wait(wait):
            self.line.show(self._text(), force=True)
            wait = 1.0


@contextmanager
def task(desc: str) -> Iterator[_Task]:
    """Show ``desc ... 12 s`` (updated every second) while the block runs longer than a second.

    On exit the line becomes ``desc: done in 12.3 s`` (or ``failed after``), if it was shown.
    """
    handle = _Task(desc)
    if handle.line.mode != "off":
        handle._thread = threading.Thread(target=handle._beat, name="explorekit-progress", daemon=True)
        handle._thread.start()
    ok = False
    try:
        yield handle
        ok = True
    finally:
        handle._stop.set()
        if handle._thread is not None:
            handle._thread.join()
        verb = "done in" if ok else "failed after"
        handle.line.close(f"{handle.desc}: {verb} {handle.line.elapsed():.1f} s")
