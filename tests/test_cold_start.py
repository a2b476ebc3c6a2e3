"""A fresh kernel's first map pays for what it draws only: slow libraries load on first use.

The Explorer on a bundled set in a new process must not import (run) networkx, scipy's special
functions or sparse graphs, nor jsonschema's ``rfc3987_syntax`` (a grammar built for ~2 s of
CPU at import, reached through plotly's renderers -> nbformat -> jsonschema). Each stays a
stand-in from ``explorekit._support.lazy`` until code reads it, and then works as the module.
Not timed: it checks which modules ran.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from explorekit._support.lazy import defer_import, lazy_module

SLOW = ["networkx", "scipy.special", "scipy.sparse", "jsonschema", "rfc3987_syntax", "lark", "umap", "sklearn"]
PROBE = """
import json, sys
import explorekit as ek
col = ek.datasets.load("stdlib_docs", as_collection=True)
explorer = ek.Explorer(col)
ran = {name: type(sys.modules[name]).__name__ for name in %r if name in sys.modules}
print(json.dumps({name: kind for name, kind in ran.items() if kind != "_Deferred"}))
"""


def test_the_first_map_in_a_fresh_process_runs_none_of_the_slow_libraries():
    code = PROBE % (SLOW,)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {}


def test_a_lazy_module_imports_on_first_use_and_then_is_the_module():
    code = (
        "import sys; from explorekit._support.lazy import lazy_module; m = lazy_module('fractions'); "
        "before = type(sys.modules['fractions']).__name__; half = m.Fraction(1, 2); "
        "import fractions; print(before, half, type(sys.modules['fractions']).__name__, fractions.Fraction is m.Fraction)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["_Deferred", "1/2", "module", "True"]


def test_a_deferred_import_is_the_module_for_whoever_imports_it():
    code = (
        "import sys; from explorekit._support.lazy import defer_import; defer_import('difflib'); "
        "import difflib; from difflib import SequenceMatcher; import difflib as again; "
        "print(SequenceMatcher(None, 'ab', 'ab').ratio(), type(sys.modules['difflib']).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1.0", "module"]


def test_a_missing_module_fails_at_once_and_a_missing_deferred_one_is_left_alone():
    with pytest.raises(ModuleNotFoundError, match="surely_not_installed"):
        lazy_module("surely_not_installed")
    defer_import("surely_not_installed")
    assert "surely_not_installed" not in sys.modules


def test_the_first_figure_of_a_live_kernel_carries_plotlys_code_and_no_other_does():
    code = (
        "from explorekit.widgets._figure import bundle_to_carry, plotly_bundle, LeanFigureWidget; "
        "print(bundle_to_carry(live=False) == b'', bundle_to_carry(live=True) == plotly_bundle(), "
        "bundle_to_carry(live=True) == b'', LeanFigureWidget()._bundle == b'')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True"] * 4
