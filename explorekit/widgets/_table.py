"""Result frames as an HTML table for the Explorer: payload shown, image data URIs as thumbnails.

Plain Python (no ipywidgets). Every cell is escaped; a string that is an image ``data:`` URI
(``data:image/png;base64,...``) or an ``http(s)`` image URL becomes an ``<img>``; vectors are
left out (they are numbers nobody reads).

Examples
--------
>>> import pandas as pd
>>> html = to_html(pd.DataFrame({"id": [1], "score": [0.5], "name": ["<b>"]}))
>>> "&lt;b&gt;" in html and "0.5" in html
True
"""

from __future__ import annotations

import html
import re
from typing import Any

import numpy as np
import pandas as pd

_IMAGE = re.compile(r"^(data:image/[\w.+-]+;base64,|https?://\S+\.(png|jpe?g|gif|webp|svg)$)", re.I)
_STYLE = ("<style>.ek-results{border-collapse:collapse;font-size:12px}"
          ".ek-results th,.ek-results td{padding:2px 6px;border-bottom:1px solid #ddd;text-align:left;"
          "vertical-align:middle;max-width:260px;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}"
          ".ek-results img{height:32px;image-rendering:pixelated}</style>")


def _cell(value: Any) -> str:
    if isinstance(value, str):
        if _IMAGE.match(value):
            return f'<img src="{html.escape(value, quote=True)}" alt="thumbnail">'
        text = value if len(value) <= 120 else value[:117] + "..."
        return html.escape(text)
    if isinstance(value, (float, np.floating)):
        return "" if np.isnan(value) else f"{value:.6g}"
    if isinstance(value, (list, tuple, np.ndarray)):
        items = list(value)
        text = ", ".join(map(str, items[:6])) + (", ..." if len(items) > 6 else "")
        return html.escape(f"[{text}]")
    if value is None or value is pd.NA:
        return ""
    return html.escape(str(value))


def to_html(frame: pd.DataFrame | None, *, max_rows: int = 100, vector_columns: tuple[str, ...] = ()) -> str:
    """An HTML table of a result frame (``id``, ``score``, payload); ``None`` gives a placeholder."""
    if frame is None:
        return "<i>No result yet.</i>"
    if frame.empty:
        return "<i>The query matched no point (check the filter).</i>"
    columns = [c for c in frame.columns if c not in vector_columns]
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in ["#", *columns])
    rows = []
    for rank, values in enumerate(frame[columns].head(max_rows).itertuples(index=False, name=None)):
        cells = "".join(f"<td>{_cell(v)}</td>" for v in values)
        rows.append(f"<tr><td>{rank}</td>{cells}</tr>")
    more = f"<tr><td colspan={len(columns) + 1}><i>{len(frame) - max_rows} more rows</i></td></tr>" \
        if len(frame) > max_rows else ""
    return f'{_STYLE}<table class="ek-results"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}{more}</tbody></table>'
