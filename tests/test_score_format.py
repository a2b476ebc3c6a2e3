"""One score format everywhere: Python's ``format_score`` and the report script's ``formatScore``.

The JavaScript function is cut out of ``report.js`` (between its ``formatScore: begin`` and
``end`` comments) and run with node on the same values; both must print the same strings.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from explorekit.plots._path import _head
from explorekit.query.display import format_score
from explorekit.query.results import results_text, with_ties
from explorekit.report.tables import result_table

REPORT_JS = Path(__file__).resolve().parent.parent / "explorekit" / "report" / "_assets" / "report.js"
TABLE = [0.76118, 0.763749, 1.0, 0.0, -0.00012, 12345.6, 1e-7]
EDGES = [
    -0.0,
    0.5,
    0.1,
    0.2,
    0.3,
    1.0625,
    -1.0625,
    0.03125,
    9999.4,
    9999.5,
    99995.0,
    0.00099995,
    0.0001,
    0.00009999,
    123.456,
    1e300,
    1.7976931348623157e308,
    5e-324,
    2.2250738585072014e-308,
    -3.5,
    12.34567,
    3e-05,
]


def js_format(values: list[float]) -> list[str]:
    """``formatScore`` of report.js, run by node on each value."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    source = REPORT_JS.read_text(encoding="utf-8")
    body = re.search(r"// formatScore: begin.*?\n(.*?)// formatScore: end", source, re.S)
    assert body, "report.js lost its formatScore: begin/end markers"
    encoded = json.dumps([v if math.isfinite(v) else repr(v) for v in values])
    script = (
        body.group(1)
        + f"const xs = {encoded}.map(v => typeof v === 'string' ? Number(v.replace('inf', 'Infinity')) : v);\n"
        + "process.stdout.write(JSON.stringify(xs.map(formatScore)));\n"
    )
    done = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def test_the_table_of_the_issue():
    want = ["0.7612", "0.7637", "1", "0", "-0.00012", "1.235e+04", "1e-07"]
    assert [format_score(v) for v in TABLE] == want
    assert js_format(TABLE) == want  # toFixed(4)/toExponential(3) printed 1.0000, 0.0000, 1.235e+4, 1.000e-7


def test_python_and_javascript_agree_on_edges():
    values = EDGES + [float("nan"), float("inf"), float("-inf")]
    assert js_format(values) == [format_score(v) for v in values]


def test_python_matches_format_g_away_from_exact_ties():
    for v in EDGES:
        if v not in (1.0625, -1.0625, -0.0):  # exact binary halves round away from zero (as JS does)
            assert format_score(v) == f"{v:.4g}", v


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=60))
def test_python_and_javascript_agree(values):
    assert js_format(values) == [format_score(v) for v in values]


@settings(max_examples=15, deadline=None)
@given(st.lists(st.floats(-2.0, 2.0).map(lambda v: round(v, 6)), min_size=1, max_size=60))
def test_python_and_javascript_agree_on_scores_as_reports_store_them(values):
    assert js_format(values) == [format_score(v) for v in values]


def test_tables_format_every_score_column_alike():
    frame = pd.DataFrame({"id": [1], "score": [0.76118], "exact_score": [0.763749], "price": [0.763749]})
    page = result_table(frame, max_rows=5)
    assert ">0.7612<" in page and ">0.7637<" in page and ">0.763749<" in page


# ---------------------------------------------------------------- the other places a score is written
# Python's '.4g' rounds an exact binary tie half to even (0.15625 -> '0.1562'); format_score rounds it
# away from zero ('0.1563'), as the report's script does. Each string below once used '.4g'.
TIE = 0.15625


def test_the_tie_sentence_writes_its_score_with_format_score():
    frame = with_ties(pd.DataFrame({"id": range(3), "score": [TIE] * 3}), TIE, 40, 3)
    assert f"tied at score {format_score(TIE)} (" in results_text(frame)


def test_the_path_points_write_scores_with_format_score():
    # (the Explorer's result rings wrote scores too; they are layout shapes without hover text now:
    # the table beside the map shows rank and score)
    part = pd.DataFrame({"t": [0.5], "offset": [0.0], "score": [TIE]})
    assert _head(part)[0].endswith(f"score {format_score(TIE)}")
