"""Result DataFrames as HTML tables: the one renderer of the report and of the Explorer.

Every cell follows the same rule wherever the table is shown:

* ``score`` (and every score column, :func:`is_score_column`): 4 significant digits, by
  :func:`explorekit.query.display.format_score` (the report's script prints the same);
  every number keeps its exact value in ``data-v`` (for sorting);
* integers (ids too) as they are, other floats with 6 significant digits, booleans as JSON
  (``true`` / ``false``), missing values (None, NaN, NA) empty (class ``ek-na``);
* a vector (a list or array of more than four numbers) abbreviated: ``[0.1, 0.2, 0.3, 0.4, …] (6-d)``;
  other lists show up to six items (``[a, b, c, d, e, f, … 2 more]``), objects are JSON;
* text without its reStructuredText markup (:func:`explorekit._support.text.clean_rst`: a
  docstring's ``:func:`json.dumps``` reads json.dumps), cut after :data:`TEXT_LIMIT` characters;
  an image data URI (``data:image/...``) is a thumbnail; an ``http(s)`` image address only where the page may load from the web
  (``web_images=True``: the Explorer, never the offline report);
* every string (headers, ids, values, addresses) is escaped.

A row carries ``data-id`` and ``data-key`` (the point id as shown and its page key, see
:func:`explorekit.report._neighbours.point_key`), which the report's script links to its maps.

>>> import pandas as pd
>>> page = result_table(pd.DataFrame({"id": [7], "score": [0.123456], "tag": ["<b>"],
...                                   "v": [[0.5, 1.0, 1.5, 2.0, 2.5]]}), max_rows=10)
>>> "0.1235" in page and "&lt;b&gt;" in page and "(5-d)" in page and 'data-id="7"' in page
True
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from explorekit._support.text import clean_rst, shorten
from explorekit.data.images import is_image
from explorekit.data.jsonvalues import is_top_missing
from explorekit.query.display import format_score
from explorekit.report._neighbours import json_id, point_key

#: characters of text a cell shows before it is cut
TEXT_LIMIT = 1000
#: numbers of a vector a cell shows, items of any other list
VECTOR_HEAD, LIST_HEAD = 4, 6
_WEB_IMAGE = re.compile(r"^https?://\S+\.(png|jpe?g|gif|webp|svg)$", re.IGNORECASE)

Cell = tuple[str, str, str]  # (html, sort value, css class)


def is_score_column(name: str) -> bool:
    """Whether a column holds scores (``score``, ``exact_score``, ``score_before``...), shown with
    :func:`~explorekit.query.display.format_score`.

    >>> is_score_column("score"), is_score_column("quantized_score"), is_score_column("price")
    (True, True, False)
    """
    return name == "score" or name.endswith("_score") or name.startswith("score_")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def _item(value: Any) -> str:
    """One item of a list, as JSON would write it (strings without quotes)."""
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, (bool, np.bool_)):
        return json.dumps(None if value is None else bool(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return json.dumps(value, default=str)


def listing(items: Sequence[Any], text: Callable[[Any], str] = str, head: int = LIST_HEAD) -> str:
    """The first ``head`` items as ``text`` gives them, in brackets, and how many more there are.

    >>> listing(["a", "b"]), listing("abcdefgh")
    ('[a, b]', '[a, b, c, d, e, f, … 2 more]')
    """
    more = f", \u2026 {len(items) - head} more" if len(items) > head else ""
    return "[" + ", ".join(text(v) for v in items[:head]) + more + "]"


def _sequence(values: list) -> str:
    """A list: a vector abbreviated to its first numbers and dimension, else its first items."""
    if len(values) > VECTOR_HEAD and all(_is_number(v) for v in values):
        head = ", ".join(f"{float(v):.3g}" for v in values[:VECTOR_HEAD])
        return f"[{head}, \u2026] ({len(values)}-d)"
    return listing(values, _item)


def _is_image(text: str, web_images: bool) -> bool:
    return is_image(text) or (web_images and _WEB_IMAGE.match(text) is not None)


def cell(value: Any, *, score: bool = False, web_images: bool = False) -> Cell:
    """(html, sort value, css class) of one cell; ``score`` for the ``score`` column.

    >>> cell(0.25, score=True), cell(True), cell(None)
    (('0.25', '0.25', 'ek-num'), ('true', '1', ''), ('', '', 'ek-na'))
    """
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list) and is_top_missing(value):
        return "", "", "ek-na"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower(), str(int(value)), ""
    if isinstance(value, (int, np.integer)):
        return str(int(value)), str(int(value)), "ek-num"
    if isinstance(value, (float, np.floating)):
        text = format_score(value) if score else f"{float(value):.6g}"
        return text, repr(float(value)), "ek-num"
    if isinstance(value, str) and _is_image(value, web_images):
        return f'<img alt="" src="{html.escape(value)}">', "", ""
    if isinstance(value, list):
        text = _sequence(value)
    elif isinstance(value, dict):
        text = json.dumps(value, default=str)
    else:
        text = clean_rst(str(value))
    return html.escape(shorten(text, TEXT_LIMIT)), "", ""


def _row_attributes(pid: Any) -> str:
    if is_top_missing(pid):
        return ""
    return f' data-id="{html.escape(str(json_id(pid)))}" data-key="{html.escape(point_key(pid))}"'


def result_table(
    frame: pd.DataFrame, *, max_rows: int, css_class: str = "ek-table", rank: bool = False, web_images: bool = False
) -> str:
    """The first ``max_rows`` rows of ``frame`` as one ``<table>`` (cells as the module says).

    ``rank`` adds a first column ``#`` with the row number; ``web_images`` shows ``http(s)``
    image addresses as images too (only for pages that may load from the web).
    """
    shown = frame.head(max_rows)
    names = [str(c) for c in shown.columns]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in (["#"] if rank else []) + names)
    columns = [shown.iloc[:, j].tolist() for j in range(shown.shape[1])]
    ids = shown["id"].tolist() if "id" in shown.columns and shown["id"].ndim == 1 else [None] * len(shown)
    rows = []
    for i, pid in enumerate(ids):
        cells = [f'<td class="ek-num" data-v="{i}">{i}</td>'] if rank else []
        for name, values in zip(names, columns):
            text, sort, cls = cell(values[i], score=is_score_column(name), web_images=web_images)
            attrs = (f' class="{cls}"' if cls else "") + (f' data-v="{html.escape(sort)}"' if sort else "")
            cells.append(f"<td{attrs}>{text}</td>")
        rows.append(f"<tr{_row_attributes(pid)}>{''.join(cells)}</tr>")
    return (
        f'<table class="{html.escape(css_class)}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )
