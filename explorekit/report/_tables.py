"""The request that made a result table (the table itself: :mod:`explorekit.report.tables`).

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
from typing import Any

from explorekit._support.text import shorten
from explorekit.report.tables import listing


def _example(value: Any) -> str:
    """An example of a request (an id or a vector) in a few characters."""
    if isinstance(value, list):
        return f"a vector ({len(value)}-d)"
    if isinstance(value, dict) and "id" in value:
        return repr(value["id"])
    return repr(value) if isinstance(value, str) else str(value)


def _examples(values: list[Any]) -> str:
    return listing(values, _example)


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
        parts += [
            "discover",
            f"target {_example(disc.get('target'))}",
            f"{len(disc.get('context', []))} context pair(s)",
        ]
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
        parts.append("filter " + shorten(text, 80))
    parts.append(f"limit {body.get('limit', 10)}")
    if body.get("offset"):
        parts.append(f"offset {body['offset']}")
    if body.get("score_threshold") is not None:
        parts.append(f"score_threshold {body['score_threshold']}")
    if body.get("params"):
        parts.append("params " + json.dumps(body["params"], default=str))
    return " \u00b7 ".join(parts)


def request_html(body: dict[str, Any] | None) -> str:
    """The request line and the full body under a fold (or a note when none was recorded)."""
    if body is None:
        return (
            '<p class="ek-request ek-note">No request recorded: this frame has no '
            '<code>attrs["query"]</code> (pass request= to add()).</p>'
        )
    text = json.dumps(body, indent=2, default=str)
    return (
        f'<p class="ek-request"><b>Request</b> {html.escape(describe(body))}</p>'
        f'<details class="ek-body"><summary>Qdrant <code>/points/query</code> body</summary>'
        f"<pre><code>{html.escape(text, quote=False)}</code></pre></details>"
    )
