"""Which payload field names a point and which colours the map: one rule for every view.

The Explorer, the report, the maps and the result tables all show points by name, not by id
alone. Which payload column is the *name* (the label field) and which one is a good *colour*
(a categorical field) is decided here, from the payload frame, so every view agrees.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({
...     "id": [0, 1, 2, 3],
...     "module": ["json", "json", "os", "os"],
...     "name": ["dumps", "loads", "walk", "path"],
...     "thumbnail": ["data:image/png;base64,AAAA"] * 4,
... })
>>> label_field(frame)
'name'
>>> category_field(frame)
'module'
>>> name_with_id("dumps", 2778)
'dumps (2778)'
>>> format_score(0.763749), format_score(1.0), format_score(12345.6)
('0.7637', '1', '1.235e+04')
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any

import pandas as pd

from explorekit._support.errors import RequestError

MAX_CATEGORIES = 12  # more distinct values than this and a colour per value stops being readable
MAX_LABEL_LENGTH = 80  # a label longer than this (median) is a text, not a name
MIN_LABEL_UNIQUE = 0.5  # share of distinct values a label field must exceed (names tell points apart)
SAMPLE = 5_000  # rows the rules look at (the payload of a huge collection is not scanned)
SCORE_DIGITS = 4  # significant digits of a score wherever one is shown (tables, hover, panels)
_SCORE_CONTEXT = Context(prec=SCORE_DIGITS, rounding=ROUND_HALF_UP, Emax=999_999, Emin=-999_999)


def _text_values(series: pd.Series) -> pd.Series | None:
    """The non-missing values of a column if they are text (not data URIs), else None."""
    values = series.dropna()
    if values.empty or not all(isinstance(v, str) for v in values.iloc[:200]):
        return None
    if values.iloc[:200].str.startswith("data:").any():
        return None
    return values.astype(str)


def _check_preferred(frame: pd.DataFrame, preferred: str, what: str) -> str:
    if preferred not in frame.columns or preferred == "id":
        known = ", ".join(repr(c) for c in frame.columns if c != "id") or "none"
        raise RequestError(
            f"{what}={preferred!r} is not a payload field of this collection; fields: {known}. "
            f"Pass one of them, or {what}=None to let explorekit choose."
        )
    return preferred


def label_field(frame: pd.DataFrame, preferred: str | None = None) -> str | None:
    """The payload column that names a point: ``preferred`` if given, else the first text column
    whose values mostly differ (more than half distinct) and are short (median at most 80
    characters), else the first text column, else None.

    >>> label_field(pd.DataFrame({"id": [1, 2], "kind": ["a", "a"], "title": ["x", "y"]}))
    'title'
    >>> label_field(pd.DataFrame({"id": [1, 2], "n": [3, 4]})) is None
    True
    """
    if preferred is not None:
        return _check_preferred(frame, preferred, "label")
    sample = frame.iloc[:SAMPLE]
    first = None
    for column in sample.columns:
        if column == "id":
            continue
        values = _text_values(sample[column])
        if values is None:
            continue
        first = first or column
        unique = values.nunique() / max(len(values), 1)
        if unique > MIN_LABEL_UNIQUE and values.str.len().median() <= MAX_LABEL_LENGTH:
            return str(column)
    return None if first is None else str(first)


def category_field(frame: pd.DataFrame, preferred: str | None = None) -> str | None:
    """The payload column to colour a map by: ``preferred`` if given, else the first text,
    boolean or integer column with 2 to 12 distinct values (each value its own colour) that
    repeat (a column whose every value differs names points, it does not group them), else None.

    >>> category_field(pd.DataFrame({"id": [1, 2, 3], "fruit": ["pear", "fig", "pear"]}))
    'fruit'
    >>> category_field(pd.DataFrame({"id": [1, 2], "price": [0.5, 0.7]})) is None
    True
    >>> category_field(pd.DataFrame({"id": [1, 2, 3], "rank": [1, 2, 3]})) is None
    True
    """
    if preferred is not None:
        return _check_preferred(frame, preferred, "color")
    sample = frame.iloc[:SAMPLE]
    for column in sample.columns:
        if column == "id":
            continue
        series = sample[column]
        text = _text_values(series)
        if text is None and not (pd.api.types.is_bool_dtype(series) or pd.api.types.is_integer_dtype(series)):
            continue
        values = series.dropna() if text is None else text
        if 2 <= values.nunique() <= min(MAX_CATEGORIES, len(values) - 1):
            return str(column)
    return None


def name_with_id(label: Any, point_id: Any) -> str:
    """A point as people read it: its label with the id beside it (the id alone without a label).

    >>> name_with_id(None, 7)
    '7'
    >>> name_with_id("json.dumps", 2778)
    'json.dumps (2778)'
    """
    if label is None or (isinstance(label, float) and pd.isna(label)) or str(label) == "":
        return str(point_id)
    return f"{label} ({point_id})"


def names(ids: Iterable[Any], labels: dict[Any, Any]) -> list[str]:
    """:func:`name_with_id` for many ids, with their labels looked up in ``labels`` (id -> label).

    >>> names([3, 4], {3: "pear"})
    ['pear (3)', '4']
    """
    return [name_with_id(labels.get(i), i) for i in ids]


def format_score(value: float) -> str:
    """A score as every view shows it: 4 significant digits, trailing zeros dropped, and an
    exponent (``e-05``, ``e+04``) below 1e-4 or from 1e4 on, as Python's ``'.4g'`` writes it.

    The exact value of the float is rounded half away from zero (``1.0625`` -> ``'1.063'``),
    which is what JavaScript's ``toExponential`` does, so the report's script (``formatScore``
    in ``report/_assets/report.js``) prints the same strings; ``-0.0`` is ``'0'``, and NaN and
    the infinities are ``'nan'``, ``'inf'`` and ``'-inf'``.

    >>> [format_score(v) for v in (0.76118, 0.763749, 0, -0.00012, 1e-7, 2.5e-5)]
    ['0.7612', '0.7637', '0', '-0.00012', '1e-07', '2.5e-05']
    """
    number = float(value)
    if not math.isfinite(number):
        return "nan" if math.isnan(number) else ("inf" if number > 0 else "-inf")
    if number == 0:
        return "0"
    rounded = _SCORE_CONTEXT.plus(Decimal(number))  # the exact binary value, rounded once
    sign, digits, _ = rounded.as_tuple()
    exponent = rounded.adjusted()
    text = "".join(map(str, digits)).ljust(SCORE_DIGITS, "0").rstrip("0") or "0"
    minus = "-" if sign else ""
    if exponent < -4 or exponent >= SCORE_DIGITS:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    if exponent < 0:
        return f"{minus}0.{'0' * (-exponent - 1)}{text}"
    whole, fraction = text[: exponent + 1].ljust(exponent + 1, "0"), text[exponent + 1 :]
    return minus + whole + ("." + fraction if fraction else "")
