"""Slow-to-import libraries bound at module level, loaded on their first use.

``name = lazy_module("networkx")`` at the top of a module stands for ``import networkx as name``
without paying the import until code reads an attribute of ``name``: a stand-in module is put in
``sys.modules`` and the first attribute it lacks runs the real import (the real module then
replaces it in ``sys.modules``; the stand-in forwards every later read to it). Modules that only
some views need (networkx for the graph tab, scipy for recall models and clusters) then cost
nothing when a notebook imports explorekit and draws its first map. A module already imported is
returned as it is; a module that is not installed raises ``ModuleNotFoundError`` at once, as
``import`` would. (The standard library's ``importlib.util.LazyLoader`` does not do here: in
Python 3.11 any later ``import name`` reads ``__spec__`` and so runs the module at once.)

``defer_import("nbformat")`` does the same for a library that explorekit does not use but that a
dependency imports at module level and uses only later (plotly's renderers import ``nbformat``,
which imports ``jsonschema``, whose optional ``rfc3987_syntax`` builds a grammar for ~2 s of CPU
at import, for ``fig.show()`` in a notebook; the Explorer's widgets never call it). It does
nothing when the library is missing or already imported.

Examples
--------
>>> json_module = lazy_module("json")  # already imported: the module itself
>>> json_module.dumps([1])
'[1]'
>>> colorsys = lazy_module("colorsys")
>>> colorsys.rgb_to_hsv(1.0, 0.0, 0.0)
(0.0, 1.0, 1.0)
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from types import ModuleType
from typing import Any

_LOCK = threading.RLock()


class _Deferred(ModuleType):
    """Stands for module ``__name__`` until an attribute is read; then imports it and forwards."""

    def __getattr__(self, attr: str) -> Any:
        return getattr(_load(self), attr)


def _load(stand_in: _Deferred) -> ModuleType:
    """The real module behind ``stand_in``, imported on the first call."""
    name = stand_in.__name__
    with _LOCK:
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]
        return importlib.import_module(name)


def lazy_module(name: str) -> ModuleType:
    """The module ``name``, imported on its first attribute access (``import name`` semantics).

    >>> lazy_module("textwrap").dedent("  a")
    'a'
    """
    if name in sys.modules:
        return sys.modules[name]
    if importlib.util.find_spec(name) is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    stand_in = _Deferred(name)
    sys.modules[name] = stand_in
    return stand_in


def defer_import(name: str) -> None:
    """Make the next ``import name`` (by any library) cheap: the module loads on first use.

    >>> defer_import("surely_not_installed_anywhere")  # missing: nothing happens
    """
    if name not in sys.modules and importlib.util.find_spec(name) is not None:
        lazy_module(name)
