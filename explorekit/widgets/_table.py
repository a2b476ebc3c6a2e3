"""Result frames as an HTML table for the Explorer: the report's table renderer, with a rank column.

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

from explorekit.report.tables import result_table

_STYLE = (
    "<style>.ek-results{border-collapse:collapse;font-size:12px}"
    ".ek-results th,.ek-results td{padding:2px 6px;border-bottom:1px solid #ddd;text-align:left;"
    "vertical-align:middle;max-width:260px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}"
    ".ek-results td.ek-num{text-align:right;font-variant-numeric:tabular-nums}"
    ".ek-results img{height:32px;image-rendering:pixelated}</style>"
)


def to_html(frame: pd.DataFrame | None, *, max_rows: int = 100, vector_columns: tuple[str, ...] = ()) -> str:
    """An HTML table of a result frame (``id``, ``score``, payload); ``None`` gives a placeholder.

    ``vector_columns`` are left out (vectors in other columns are abbreviated).
    """
    if frame is None:
        return "<i>No result yet.</i>"
    if frame.empty:
        return "<i>The query matched no point (check the filter).</i>"
    shown = frame.drop(columns=[c for c in vector_columns if c in frame.columns])
    more = f"<div><i>{len(frame) - max_rows} more rows</i></div>" if len(frame) > max_rows else ""
    return _STYLE + result_table(shown, max_rows=max_rows, css_class="ek-results", rank=True, web_images=True) + more
