"""Result DataFrames as HTML tables, with the request that made them.

A result frame carries its request in ``attrs["query"]`` (a Qdrant ``/points/query`` body);
the table shows a one-line summary of it ("recommend · positive [3, 17] · best_score ·
limit 10") and the whole body under a fold, so a reader can paste it into Qdrant.

>>> describe({"query": {"recommend": {"positive": [3], "negative": [], "strategy": "best_score"}},
...           "limit": 5})
'recommend · positive [3] · strategy best_score · limit 5'
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

import numpy as np
import pandas as pd

from explorekit.report._neighbours import json_id, point_key

_NUMBER_LIMIT = 6


def _example(value: Any) -> str:
    """An example of a request (an id or a vector) in a few characters."""
    if isinstance(value, list):
        return f"a vector ({len(value)}-d)"
    if isinstance(value, dict) and "id" in value:
        return repr(value["id"])
    return repr(value) if isinstance(value, str) else str(value)


def _examples(values: list[Any]) -> str:
    shown = [_example(v) for v in values[:_NUMBER_LIMIT]]
    more = f", \u2026 {len(values) - _NUMBER_LIMIT} more" if len(values) > _NUMBER_LIMIT else ""
    return "[" + ", ".join(shown) + more + "]"


def describe(body: dict[str, Any]) -> str:
    """A one-line, human summary of a ``/points/query`` body."""
    query = body.get("query", {})
    parts: list[str] = []
    if isinstance(query, dict) and "nearest" in query:
        parts += ["search", f"near {_example(query['nearest'])}"]
    elif isinstance(query, dict) and "recommend" in query:
        rec = query["recommend"]
        parts.append("recommend")
        for role in ("positive", "negative"):
            if rec.get(role):
                parts.append(f"{role} {_examples(rec[role])}")
        parts.append(f"strategy {rec.get('strategy', 'average_vector')}")
    elif isinstance(query, dict) and "discover" in query:
        disc = query["discover"]
        parts += ["discover", f"target {_example(disc.get('target'))}",
                  f"{len(disc.get('context', []))} context pair(s)"]
    elif isinstance(query, dict) and "context" in query:
        parts += ["context search", f"{len(query['context'])} pair(s)"]
    else:
        parts.append("query")
    if body.get("using"):
        parts.append(f"using {body['using']!r}")
    if body.get("lookup_from"):
        parts.append(f"lookup_from {body['lookup_from'].get('collection')!r}")
    if body.get("filter") is not None:
        text = body["filter"] if isinstance(body["filter"], str) else json.dumps(body["filter"], default=str)
        parts.append("filter " + (text if len(text) <= 80 else text[:79] + "\u2026"))
    parts.append(f"limit {body.get('limit', 10)}")
    if body.get("offset"):
        parts.append(f"offset {body['offset']}")
    if body.get("score_threshold") is not None:
        parts.append(f"score_threshold {body['score_threshold']}")
    if body.get("params"):
        parts.append("params " + json.dumps(body["params"], default=str))
    return " \u00b7 ".join(parts)


def _cell(value: Any) -> tuple[str, str, str]:
    """(html, sort value, css class) of one table cell."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "", "", "ek-na"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower(), str(int(value)), ""
    if isinstance(value, (int, np.integer)):
        return str(int(value)), str(int(value)), "ek-num"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}", repr(float(value)), "ek-num"
    if isinstance(value, str) and value.startswith("data:image/"):
        return f'<img alt="" src="{html.escape(value)}">', "", ""
    if isinstance(value, list):
        if value and all(isinstance(v, (int, float)) for v in value) and len(value) > 4:
            head = ", ".join(f"{v:.3g}" for v in value[:4])
            return html.escape(f"[{head}, \u2026] ({len(value)}-d)"), "", ""
        return html.escape(", ".join(str(v) for v in value)), "", ""
    if isinstance(value, dict):
        return html.escape(json.dumps(value, default=str)), "", ""
    text = str(value)
    return html.escape(text), "", ""


def table_html(frame: pd.DataFrame, *, max_rows: int) -> str:
    """The rows of ``frame`` (at most ``max_rows``) as a sortable HTML table."""
    shown = frame.head(max_rows)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    rows = []
    ids = shown["id"].tolist() if "id" in shown.columns else [None] * len(shown)
    columns = [shown[c].tolist() for c in shown.columns]
    for i, pid in enumerate(ids):
        cells = []
        for values in columns:
            text, sort, cls = _cell(values[i])
            attrs = (f' class="{cls}"' if cls else "") + (f' data-v="{html.escape(sort)}"' if sort else "")
            cells.append(f"<td{attrs}>{text}</td>")
        data_id = "" if pid is None else (f' data-id="{html.escape(str(json_id(pid)))}"'
                                          f' data-key="{html.escape(point_key(pid))}"')
        rows.append(f"<tr{data_id}>{''.join(cells)}</tr>")
    return (f'<div class="ek-scroll"><table class="ek-table"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def request_html(body: dict[str, Any] | None) -> str:
    """The request line and the full body under a fold (or a note when none was recorded)."""
    if body is None:
        return ('<p class="ek-request ek-note">No request recorded: this frame has no '
                '<code>attrs["query"]</code> (pass request= to add()).</p>')
    text = json.dumps(body, indent=2, default=str)
    return (f'<p class="ek-request"><b>Request</b> {html.escape(describe(body))}</p>'
            f'<details class="ek-body"><summary>Qdrant <code>/points/query</code> body</summary>'
            f"<pre><code>{html.escape(text, quote=False)}</code></pre></details>")
