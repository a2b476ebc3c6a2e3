"""The request that made a result table (the table itself: :mod:`explorekit.report.tables`).

A result frame carries its request in ``attrs["query"]`` (a Qdrant ``/points/query`` body);
the table shows a one-line summary of it ("recommend · positive [dumps (2778), loads (2779)] ·
best_score · limit 10", examples named by their label with
:func:`explorekit.query.display.name_with_id` when the report knows it) and the whole body under
a fold, so a reader can paste it into Qdrant.

>>> describe({"query": {"recommend": {"positive": [3], "negative": [], "strategy": "best_score"}},
...           "limit": 5})
'recommend · positive [3] · strategy best_score · limit 5'
>>> describe({"query": {"recommend": {"positive": [3]}}, "limit": 5}, {"3": "dumps"})
'recommend · positive [dumps (3)] · strategy average_vector · limit 5'
"""

from __future__ import annotations

import html
import json
from typing import Any

from explorekit._support.text import shorten
from explorekit.query.display import name_with_id
from explorekit.report._neighbours import point_key
from explorekit.report.tables import listing

Names = dict[str, str]  # point key (explorekit.report._neighbours.point_key) -> label


def _point_id(value: Any) -> Any:
    """The point id an example names (``{"id": 5}`` is 5), or None for a vector."""
    if isinstance(value, dict) and "id" in value:
        value = value["id"]
    return None if isinstance(value, (list, dict)) or value is None else value


def _example(value: Any, names: Names | None = None) -> str:
    """An example of a request (an id or a vector) in a few characters, named by its label."""
    if isinstance(value, list):
        return f"a vector ({len(value)}-d)"
    pid = _point_id(value)
    if pid is None:
        return str(value)
    shown = repr(pid) if isinstance(pid, str) else str(pid)
    return name_with_id((names or {}).get(point_key(pid)), shown)


def _examples(values: list[Any], names: Names | None) -> str:
    return listing(values, lambda v: _example(v, names))


def _pairs(pairs: Any, names: Names | None) -> list[str]:
    """Context pairs as ``["[+a / −b, …]"]``, or ``[]`` unless every pair names both examples."""
    if not isinstance(pairs, list) or not pairs:
        return []
    if not all(isinstance(p, dict) and p.get("positive") is not None and p.get("negative") is not None for p in pairs):
        return []
    return [listing(pairs, lambda p: f"+{_example(p['positive'], names)} / \u2212{_example(p['negative'], names)}")]


def example_ids(body: dict[str, Any] | None) -> list[Any]:
    """The point ids a ``/points/query`` body names as examples (positive, negative, target,
    context pairs, nearest), in order, each once.

    >>> example_ids({"query": {"discover": {"target": 3, "context": [{"positive": 1, "negative": 2}]}}})
    [3, 1, 2]
    """
    query = body.get("query") if isinstance(body, dict) else None
    if not isinstance(query, dict):
        return []
    found: list[Any] = []
    inner = query.get("recommend") or query.get("discover") or {}
    pairs = query.get("context") if "context" in query else inner.get("context") if isinstance(inner, dict) else None
    values = [query.get("nearest")]
    if isinstance(inner, dict):
        values += [inner.get("target"), *(inner.get("positive") or []), *(inner.get("negative") or [])]
    for pair in pairs if isinstance(pairs, list) else []:
        if isinstance(pair, dict):
            values += [pair.get("positive"), pair.get("negative")]
    for value in values:
        pid = _point_id(value)
        if pid is not None and pid not in found:
            found.append(pid)
    return found


def describe(body: dict[str, Any], names: Names | None = None) -> str:
    """A one-line, human summary of a ``/points/query`` body; ``names`` (point key -> label)
    names the examples ("positive [dumps (2778)]")."""
    query = body.get("query", {})
    parts: list[str] = []
    if isinstance(query, dict) and "nearest" in query:
        parts += ["search", f"near {_example(query['nearest'], names)}"]
    elif isinstance(query, dict) and "recommend" in query:
        rec = query["recommend"]
        parts.append("recommend")
        for role in ("positive", "negative"):
            if rec.get(role):
                parts.append(f"{role} {_examples(rec[role], names)}")
        parts.append(f"strategy {rec.get('strategy', 'average_vector')}")
    elif isinstance(query, dict) and "discover" in query:
        disc = query["discover"]
        context = disc.get("context", [])
        parts += ["discover", f"target {_example(disc.get('target'), names)}", f"{len(context)} context pair(s)"]
        parts += _pairs(context, names)
    elif isinstance(query, dict) and "context" in query:
        parts += ["context search", f"{len(query['context'])} pair(s)"]
        parts += _pairs(query["context"], names)
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


def request_html(body: dict[str, Any] | None, names: Names | None = None) -> str:
    """The request line (examples named by ``names``) and the full body under a fold (or a note
    when none was recorded)."""
    if body is None:
        return (
            '<p class="ek-request ek-note">No request recorded: this frame has no '
            '<code>attrs["query"]</code> (pass request= to add()).</p>'
        )
    text = json.dumps(body, indent=2, default=str)
    return (
        f'<p class="ek-request"><b>Request</b> {html.escape(describe(body, names))}</p>'
        f'<details class="ek-body"><summary>Qdrant <code>/points/query</code> body</summary>'
        f"<pre><code>{html.escape(text, quote=False)}</code></pre></details>"
    )
