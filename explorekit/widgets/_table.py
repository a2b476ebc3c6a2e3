"""Result frames as an HTML table for the Explorer: the report's table renderer, with a rank column.

The first screen shows the columns that say what a point is (:func:`first_columns`: rank, id,
score, the label field, the category field); the other payload columns on demand.

Plain Python (no ipywidgets). Cells follow :mod:`explorekit.report.tables` (the same rule as in
the report: scores with 4 significant digits, vectors abbreviated, every string escaped, image
data URIs as thumbnails); in the notebook ``http(s)`` image addresses are thumbnails too.

Examples
--------
>>> import pandas as pd
>>> html = to_html(pd.DataFrame({"id": [1], "score": [0.5], "name": ["<b>"]}))
>>> "&lt;b&gt;" in html and "0.5" in html
True
"""

from __future__ import annotations

import pandas as pd

from explorekit.query.display import category_field, label_field
from explorekit.report.tables import result_table

_STYLE = (
    "<style>.ek-results{border-collapse:collapse;font-size:12px}"
    ".ek-results th,.ek-results td{padding:2px 6px;border-bottom:1px solid #ddd;text-align:left;"
    "vertical-align:middle;max-width:260px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}"
    ".ek-results td.ek-num{text-align:right;font-variant-numeric:tabular-nums}"
    ".ek-results img{height:32px;image-rendering:pixelated}</style>"
)


def to_html(
    frame: pd.DataFrame | None,
    *,
    max_rows: int = 100,
    vector_columns: tuple[str, ...] = (),
    columns: list[str] | None = None,
) -> str:
    """An HTML table of a result frame (``id``, ``score``, payload); ``None`` gives a placeholder.

    ``vector_columns`` are left out (vectors in other columns are abbreviated). ``columns``: the
    payload columns to show after ``id`` and ``score`` (None: all); the table then says how many
    it left out.
    """
    if frame is None:
        return "<i>No result yet.</i>"
    if frame.empty:
        return "<i>The query matched no point (check the filter).</i>"
    shown = frame.drop(columns=[c for c in vector_columns if c in frame.columns])
    hidden = 0
    if columns is not None:
        keep = [c for c in shown.columns if c in ("id", "score") or c in columns]
        hidden = shown.shape[1] - len(keep)
        shown = shown[keep]
    notes = [f"{len(frame) - max_rows} more rows"] if len(frame) > max_rows else []
    if hidden:
        notes.append(
            f"{hidden} more column{'s' if hidden > 1 else ''}: tick <b>all columns</b>, or read <code>explorer.result</code>"
        )
    more = "".join(f"<div><i>{note}</i></div>" for note in notes)
    return _STYLE + result_table(shown, max_rows=max_rows, css_class="ek-results", rank=True, web_images=True) + more


def first_columns(frame: pd.DataFrame) -> list[str]:
    """The payload columns a result table shows first: the label field and the category field
    (:mod:`explorekit.query.display`), else the first two payload columns.

    Choose them on the collection's payload (a result's few rows may all share one category).

    >>> first_columns(pd.DataFrame({"kind": ["f", "f", "c", "c"], "name": ["dumps", "loads", "walk", "Path"],
    ...                             "doc": ["Serialize obj.", "Deserialize s.", "Walk a tree.", "A path."]}))
    ['name', 'kind']
    """
    payload = frame.drop(columns=[c for c in ("score",) if c in frame.columns])
    chosen = [label_field(payload), category_field(payload)]
    picked = list(dict.fromkeys(c for c in chosen if c is not None))
    return picked or [c for c in payload.columns if c != "id"][:2]
