"""The Explorer's query state: examples, query kind, strategy, limit, filter, search params.

Plain Python (no ipywidgets, no plotly). Every number comes from a public method of the
collection (``search``, ``recommend``, ``discover``, ``retrieve``, ``scroll``), so the state
works with any object that has the query API: a local :class:`~explorekit.Collection` or a
:class:`~explorekit.backends.qdrant.QdrantCollection`.

Changes are checked before they are applied: bad input (an unknown id, a malformed filter)
raises an :class:`~explorekit.ExploreError` and leaves the state as it was. A valid state whose
examples do not make a query yet (negatives only with ``average_vector``, a discovery without
target) has ``result = None`` and says why in ``hint``.

Examples
--------
>>> import explorekit as ek
>>> col = ek.Collection.from_arrays([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
>>> state = ExplorerState(col)
>>> state.click("positive", 0)["id"].tolist()
[2, 1]
>>> state.query["query"]
{'recommend': {'positive': [0], 'negative': [], 'strategy': 'average_vector'}}
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from explorekit._support.errors import ExploreError, FilterError, RequestError, short_repr
from explorekit.data.ids import is_id
from explorekit.query.filter_parse import depth_error
from explorekit.query.params import SearchParams
from explorekit.query.requests import STRATEGIES, Request
from explorekit.query.stage_bodies import staged_body
from explorekit.widgets._model import KINDS, Selection, check_mode, parse_ids_or_query

ADD_CAP = 100  # a box, lasso or typed query adds at most this many examples


def parse_filter(text: str | None) -> Any:
    """Filter box text -> None, a Qdrant filter dict (JSON) or a pandas query string.

    >>> parse_filter('{"must": [{"key": "digit", "match": {"value": 3}}]}')["must"][0]["key"]
    'digit'
    >>> parse_filter("  ink > 300 "), parse_filter("")
    ('ink > 300', None)
    """
    if text is None or not str(text).strip():
        return None
    text = str(text).strip()
    if text[0] in "{[":
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            raise FilterError(
                f"filter: {short_repr(text, 60)} is not valid JSON ({err.msg} at line {err.lineno}, "
                f"column {err.colno}). Write a Qdrant filter such as "
                '{"must": [{"key": "digit", "match": {"value": 3}}]}, or a pandas query such as '
                "digit == 3."
            ) from None
        except RecursionError:  # json stops at the recursion limit (~1,000 brackets), far beyond 64 levels
            raise depth_error("filter: the JSON in the filter box") from None
        if not isinstance(value, dict):
            raise FilterError(
                f"filter: {short_repr(value, 60)} is JSON but not an object. A Qdrant filter is "
                'an object with must / should / must_not, e.g. {"must": [...]}.'
            )
        return value
    return text


class ExplorerState:
    """Examples plus query settings, and the result of running them through the public API."""

    def __init__(self, col: Any, using: str | None = None, names: Mapping[Any, Any] | None = None) -> None:
        self.col, self.using = col, using
        self.names = {} if names is None else names  # id -> label: examples are shown by name
        self.selection = Selection(self.names)
        self.kind, self.strategy, self.limit = "auto", "average_vector", 10
        self.filter: Any = None
        self.params: dict[str, Any] | None = None
        self.stages: dict[str, Any] = {}  # diversity / boost: run as staged_body(...) through col.query
        self.result: pd.DataFrame | None = None
        self.hint = ""  # why there is no result, when the examples are incomplete
        self.note = ""  # what the last change did, for the status line

    # ------------------------------------------------------------------ the request
    def resolved_kind(self) -> str | None:
        """The query kind that runs: the chosen one, or the one the examples suggest (auto)."""
        return self.selection.suggested_kind() if self.kind == "auto" else self.kind

    def request(self) -> tuple[str, dict[str, Any]]:
        """``(method name, keyword arguments)`` of the public call for the current state."""
        kind = self.resolved_kind()
        if kind is None:
            raise RequestError(
                "no examples chosen yet: click points on the map (mode positive, negative, "
                "target or context pair) or type ids in the add box."
            )
        kwargs = self.selection.query_kwargs(kind)
        if kind == "recommend":
            kwargs["strategy"] = self.strategy
        kwargs.update(using=self.using, filter=self.filter, limit=self.limit, params=self.params)
        return ("discover" if kind in ("discover", "context") else kind), kwargs

    def run(self) -> pd.DataFrame | None:
        """Run the current request; an incomplete one gives ``result = None`` and a ``hint``."""
        try:
            method, kwargs = self.request()
            if self.stages:
                result = self.col.query(staged_body(Request.build(method, **kwargs).to_body(), **self.stages))
            else:
                result = getattr(self.col, method)(**kwargs)
        except ExploreError as err:
            self.result, self.hint = None, str(err)
            return None
        self.result, self.hint = result, ""
        return result

    def unused(self) -> list[str]:
        """Roles that have examples the current query kind does not use (shown in the status)."""
        used = {
            "search": ("positive",),
            "recommend": ("positive", "negative"),
            "discover": ("target", "context"),
            "context": ("context",),
        }.get(self.resolved_kind() or "", ())
        sel = self.selection
        chosen = {
            "positive": sel.positive,
            "negative": sel.negative,
            "target": sel.target is not None,
            "context": sel.context,
        }
        return [role for role, have in chosen.items() if have and role not in used]

    @property
    def query(self) -> dict | None:
        """The current result's request as a Qdrant ``/points/query`` body (``col.query`` takes it)."""
        return None if self.result is None else copy.deepcopy(self.result.attrs.get("query"))

    # ------------------------------------------------------------------ changes (checked, then applied)
    def _change(self, apply: Callable[[], Any], new_ids: list | None = None) -> pd.DataFrame | None:
        """Apply a change on copies; check new ids exist; commit and rerun, or raise with nothing changed."""
        saved = (self.selection.copy(), self.kind, self.strategy, self.limit, self.filter, self.params, self.stages)
        self.note = ""
        try:
            apply()
            if new_ids:
                self.col.retrieve(list(new_ids), with_payload=False)  # UnknownIdError names the id
        except ExploreError:
            (self.selection, self.kind, self.strategy, self.limit, self.filter, self.params, self.stages) = saved
            raise
        return self.run()

    def click(self, mode: str, point: Any) -> pd.DataFrame | None:
        """A click on a point of the map (an id from the map itself, so not looked up again).

        In ``"inspect"`` mode nothing changes (the view shows the point).
        """
        check_mode(mode)
        if mode == "inspect":
            return self.result
        before = self.selection.copy()
        self.note = self.selection.click(mode, point)  # a map point: known, so not looked up again
        if mode == "context pair" and before.context == self.selection.context:
            return self.result  # half a pair: the request did not change
        return self.run()

    def add(self, mode: str, points: list) -> pd.DataFrame | None:
        """Add several ids (a box or lasso selection, or typed ids) in ``mode``; ids are checked."""
        check_mode(mode)
        if len(points) > ADD_CAP:
            raise RequestError(
                f"add: {len(points)} points selected; at most {ADD_CAP} are added as examples "
                "at once. Select fewer points, or use inspect mode to look at a large selection."
            )
        return self._change(
            lambda: setattr(self, "note", self.selection.add(mode, points)), new_ids=[p for p in points if is_id(p)]
        )

    def find(self, text: str, cap: int = ADD_CAP) -> tuple[list, bool]:
        """Ids from typed text: ids (checked to exist) or a pandas query over the payload.

        Returns the ids (at most ``cap`` from a query, first by id) and whether more matched.
        """
        how, value = parse_ids_or_query(text)
        if how == "ids":
            self.col.retrieve([v for v in value if is_id(v)], with_payload=False)  # UnknownIdError names it
            return value, False
        found = self.col.scroll(filter=value, limit=cap + 1, with_payload=False)["id"].tolist()
        if not found:
            raise FilterError(f"add: the query {short_repr(value, 60)} matches no point. Loosen it, or type ids.")
        return found[:cap], len(found) > cap

    def add_text(self, mode: str, text: str) -> pd.DataFrame | None:
        """Typed ids (``3, 17, 42``) or a pandas query over the payload (``digit == 3``) in ``mode``."""
        check_mode(mode)
        ids, more = self.find(text)
        result = self.add(mode, ids)
        if more:
            self.note += f" (the query matches more than {ADD_CAP} points; the first {ADD_CAP} by id were added)"
        return result

    def swap(self, mode: str, old: Any, new: Any) -> pd.DataFrame | None:
        """Use ``new`` instead of ``old``, which a click in ``mode`` just chose (the click landed on a
        neighbour); if ``old`` is not chosen in that role (the click removed it), ``new`` is added.

        >>> import explorekit as ek
        >>> state = ExplorerState(ek.Collection.from_arrays([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]]))
        >>> _ = state.click("positive", 0); _ = state.swap("positive", 0, 2)
        >>> state.selection.positive, state.note
        ([2], 'positive 2 added instead of 0')
        """
        check_mode(mode)
        sel = self.selection

        def apply() -> None:
            chosen = {"positive": sel.positive, "negative": sel.negative, "target": [sel.target]}.get(mode, [])
            replaced = False
            if old in chosen:
                sel.click(mode, old)  # a second click on a chosen example removes it
                replaced = True
            elif mode == "context pair" and sel.pending == old:
                sel.pending, replaced = None, True
            elif mode == "context pair" and sel.context and sel.context[-1][1] == old:
                sel.pending, replaced = sel.context.pop()[0], True
            note = sel.add(mode, [new]) if mode != "inspect" else sel.click(mode, new)
            self.note = f"{note} instead of {sel.name(old)}" if replaced else note

        return self._change(apply, new_ids=[new] if is_id(new) else None)

    def add_embedded(self, mode: str, text: str, vector: Any) -> pd.DataFrame | None:
        """A typed text, embedded (by the Explorer's encoder) into ``vector``, as an example of
        ``mode``: it replaces the text that role had (:meth:`Selection.add_text`)."""
        return self._change(lambda: setattr(self, "note", self.selection.add_text(mode, text, vector)))

    def remove(self, role: str, index: int = 0) -> pd.DataFrame | None:
        return self._change(lambda: setattr(self, "note", self.selection.remove(role, index)))

    def set_examples(self, value: Mapping[str, Any]) -> pd.DataFrame | None:
        staged = Selection(self.names)
        staged.replace(value)  # structure checked before anything changes
        return self._change(lambda: self._set("selection", staged, "examples set"), new_ids=staged.ids())

    def clear(self) -> pd.DataFrame | None:
        return self._change(lambda: self._set("selection", Selection(self.names), "examples cleared"))

    def set_kind(self, kind: str) -> pd.DataFrame | None:
        if kind not in KINDS:
            raise RequestError(f"kind: {short_repr(kind)} is not a query kind. Use one of {list(KINDS)}.")
        return self._change(lambda: self._set("kind", kind, f"query kind {kind}"))

    def set_strategy(self, strategy: str) -> pd.DataFrame | None:
        if strategy not in STRATEGIES:
            raise RequestError(f"strategy: {short_repr(strategy)} is not a strategy. Use one of {list(STRATEGIES)}.")
        return self._change(lambda: self._set("strategy", strategy, f"strategy {strategy}"))

    def set_limit(self, limit: int) -> pd.DataFrame | None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise RequestError(f"limit: {short_repr(limit)} is not a positive integer. Use e.g. 10.")
        return self._change(lambda: self._set("limit", limit, f"limit {limit}"))

    def set_filter(self, text: Any) -> pd.DataFrame | None:
        """Filter box text (JSON or pandas query) or a filter value; checked on the collection first."""
        value = parse_filter(text) if isinstance(text, str) or text is None else text
        if value is not None:
            self.col.scroll(filter=value, limit=1, with_payload=False)  # FilterError before any change
        return self._change(lambda: self._set("filter", value, "filter cleared" if value is None else "filter applied"))

    def set_params(self, params: Mapping[str, Any] | None) -> pd.DataFrame | None:
        """Search params (``{"quantization": {"rescore": ..., "oversampling": ...}}``), checked first."""
        checked = SearchParams.parse(params)  # RequestError on bad values
        return self._change(lambda: self._set("params", checked.to_dict() or None, "search params changed"))

    def set_stages(self, diversity: float | None = None, boost: tuple[str, float] | None = None) -> pd.DataFrame | None:
        """Diversity (MMR, 0..1) and/or a payload boost ``(field, weight)`` on top of the examples' query
        (:func:`explorekit.query.stage_bodies.staged_body`); None or 0 turns one off. Checked first."""
        settings = {k: v for k, v in {"diversity": diversity, "boost": boost}.items() if v}
        staged_body({"query": {"nearest": 0}}, **settings)  # RequestError on bad values, before any change
        return self._change(lambda: self._set("stages", settings, "stages changed"))

    def _set(self, name: str, value: Any, note: str) -> None:
        setattr(self, name, value)
        self.note = note
