"""The one place that decides how progress is shown: tqdm.auto bars, one per long task.

In a notebook a bar is a widget (tqdm's ipywidgets bar, never text on stderr, which JupyterLab
shows on a red background); in a terminal it is tqdm's text bar on stderr. Every bar waits
:data:`THRESHOLD` seconds (tqdm's ``delay``) before it appears, so quick work shows nothing.
Each task has a bar of its own: tasks running at the same time in several threads get one line
each (tqdm places them), never one shared line.

Three forms:

* :func:`progress` wraps an iterable of steps (``desc: 40%|####   | 2/5 [00:03<00:04]``);
* :func:`counter` is a bar advanced by hand (points scrolled from a server);
* :func:`task` wraps one long call (a UMAP fit, an index build, a numba compile) whose bar keeps
  counting seconds from a background thread, so a notebook never looks frozen.

``EXPLOREKIT_PROGRESS=0`` silences every bar; ``EXPLOREKIT_PROGRESS=1`` shows every bar at once
(no delay). Work the user did not start (a background index build) runs inside :func:`quiet`:
its thread draws no bar (in a notebook a bar would land in whatever cell is running then). :func:`bar_options` gives the same settings to other libraries' bars (UMAP's epochs).

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
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from tqdm.auto import tqdm

ENVIRONMENT = "EXPLOREKIT_PROGRESS"
THRESHOLD = 1.0  # seconds of work before a bar appears
_BEAT = 0.5  # seconds between two refreshes of a task's bar
_QUIET = threading.local()  # .on is True in a thread running quiet() work


@contextmanager
def quiet() -> Iterator[None]:
    """Draw no bar from this thread while the block runs (background work nobody asked to watch).

    >>> with quiet():
    ...     bar_options("index build")["disable"]
    True
    """
    before = getattr(_QUIET, "on", False)
    _QUIET.on = True
    try:
        yield
    finally:
        _QUIET.on = before


def _mode() -> str:
    if getattr(_QUIET, "on", False):
        return "off"
    value = os.environ.get(ENVIRONMENT, "").strip().lower()
    if value in ("0", "off", "false", "no"):
        return "off"
    if value in ("1", "on", "always", "true", "yes"):
        return "always"
    return "auto"


def bar_options(desc: str) -> dict[str, Any]:
    """The tqdm keyword arguments of every explorekit bar: silenced, delayed or shown at once.

    >>> bar_options("UMAP: epochs")["desc"]
    'UMAP: epochs'
    """
    mode = _mode()
    return {"desc": desc, "disable": mode == "off", "delay": 0.0 if mode == "always" else THRESHOLD, "leave": True}


def progress(iterable: Iterable, total: int | None = None, desc: str = "") -> Iterator:
    """Yield from ``iterable`` with a bar ``desc: i/total`` once the loop has run a second.

    Parameters
    ----------
    iterable : the steps (chunks of work, not single rows).
    total : the number of steps; ``len(iterable)`` when it has one.
    desc : what is being done, e.g. ``"UMAP: placing the other 90,000 points"``.
    """
    return iter(tqdm(iterable, total=total, unit="step", **bar_options(desc)))


def counter(desc: str, total: int | None = None, unit: str = "point", show: bool = True) -> Any:
    """A bar to advance by hand (``bar.update(n)``), for loops that learn their sizes as they go.

    Use it as a context manager; ``show=False`` gives a bar that shows nothing.

    >>> with counter("scrolling", total=4) as bar:
    ...     bar.update(4)
    """
    options = bar_options(desc)
    options["disable"] = options["disable"] or not show
    return tqdm(total=total, unit=unit, unit_scale=True, **options)


class _Task:
    """Handle given by :func:`task`: ``note(text)`` replaces the description shown."""

    def __init__(self, desc: str) -> None:
        self.desc = desc
        self.bar = tqdm(total=None, bar_format="{desc} [{elapsed}]", **bar_options(desc))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def note(self, text: str) -> None:
        """Show ``text`` instead of the description from now on (at the next refresh)."""
        self.desc = text
        self.bar.set_description_str(text, refresh=False)

    def _beat(self) -> None:
        while not self._stop.wait(_BEAT):
            self.bar.update(0)  # tqdm redraws once the delay has passed (elapsed time moves on)

    def start(self) -> None:
        if not self.bar.disable:
            self._thread = threading.Thread(target=self._beat, name="explorekit-progress", daemon=True)
            self._thread.start()

    def finish(self, ok: bool) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if not ok:
            self.bar.set_description_str(f"{self.desc} (failed)", refresh=False)
        self.bar.update(0)
        self.bar.close()


@contextmanager
def task(desc: str) -> Iterator[_Task]:
    """Show a bar ``desc [00:12]`` (refreshed twice a second) while the block runs over a second.

    On a failure the bar's text ends with ``(failed)``; quick blocks show nothing.
    """
    handle = _Task(desc)
    handle.start()
    ok = False
    try:
        yield handle
        ok = True
    finally:
        handle.finish(ok)
