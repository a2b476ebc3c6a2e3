"""The Explorer's selection model: the chosen examples per role, in plain Python.

No ipywidgets and no plotly here: the view (:mod:`explorekit.widgets.explorer`) turns clicks,
box selections and typed text into calls on a :class:`Selection`, and tests can drive it directly.

Roles are Qdrant's: ``positive`` and ``negative`` (recommend, or ``search`` with one positive),
``target`` (discover) and ``context`` pairs (discover and context search). Click modes add to
them; ``"context pair"`` takes two clicks, the positive side first.

Examples
--------
>>> sel = Selection()
>>> sel.click("positive", 3); sel.click("negative", 7); sel.click("positive", 3)
'positive 3 added'
'negative 7 added'
'positive 3 removed'
>>> sel.as_dict()
{'positive': [], 'negative': [7], 'target': None, 'context': []}
>>> sel.click("context pair", 1); sel.click("context pair", 2)
'context pair started with 1: now click its negative side'
'context pair (1, 2) added'
>>> sel.suggested_kind()
'context'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from explorekit._support.errors import RequestError, short_repr
from explorekit.data.ids import is_id, normalize_id
from explorekit.query.display import name_with_id

ROLES: tuple[str, ...] = ("positive", "negative", "target", "context")
MODES: tuple[str, ...] = ("positive", "negative", "target", "context pair", "inspect")
KINDS: tuple[str, ...] = ("auto", "search", "recommend", "discover", "context")


def _key(example: Any) -> Any:
    """A hashable key: the id itself, or the bytes of a raw vector."""
    return example if is_id(example) else ("vector", np.asarray(example, np.float32).tobytes())


def _example(value: Any, where: str) -> Any:
    """An id in canonical form, or a raw vector as a float32 array (checked by the core later)."""
    if is_id(value):
        try:
            return normalize_id(value)
        except Exception as err:  # ExploreError from ids, re-labelled with where it was given
            raise RequestError(f"{where}: {err}") from None
    if isinstance(value, float) and value.is_integer():
        return normalize_id(value)
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        array = None
    if array is None or array.ndim != 1 or array.size == 0:
        raise RequestError(
            f"{where}: {short_repr(value)} is neither a point id nor a vector. "
            "Use an id (unsigned int, string or UUID) or a flat list of numbers."
        )
    return array


def label(example: Any) -> str:
    """How an example is shown in the list: the id, or the first numbers of a raw vector."""
    if is_id(example):
        return repr(example) if isinstance(example, str) else str(example)
    values = ", ".join(f"{v:.3g}" for v in example[:3])
    return f"vector[{values}{', ...' if len(example) > 3 else ''}]"


class Selection:
    """Examples per role: positive and negative lists, one target, context pairs.

    An id is in at most one of positive, negative and target: choosing it for another role
    moves it. Clicking a chosen example again in its own mode removes it.

    ``names`` (id -> label, e.g. a Series of the label field indexed by id) names the examples in
    the list and in the notes, with the id beside the label (:func:`~explorekit.query.display.name_with_id`):

    >>> sel = Selection({2778: "dumps"})
    >>> sel.click("positive", 2778), sel.entries()
    ('positive dumps (2778) added', [('positive', 0, 'dumps (2778)')])
    """

    def __init__(self, names: Mapping[Any, Any] | None = None) -> None:
        self.names = {} if names is None else names
        self.positive: list[Any] = []
        self.negative: list[Any] = []
        self.target: Any = None
        self.context: list[tuple[Any, Any]] = []
        self.pending: Any = None  # the positive side of a context pair waiting for its negative
        self.texts: dict[Any, str] = {}  # key of a vector example -> the text it was embedded from

    # ------------------------------------------------------------------ reading
    def name(self, example: Any) -> str:
        """How an example is shown: a typed text in quotes, an id with its label beside it, else
        :func:`label`."""
        text = self.text_of(example)
        if text is not None:
            return f"\u201c{text}\u201d"
        if not is_id(example):
            return label(example)
        return name_with_id(self.names.get(example), label(example))

    def as_dict(self) -> dict[str, Any]:
        """``{"positive": [...], "negative": [...], "target": x or None, "context": [(p, n), ...]}``."""
        return {
            "positive": list(self.positive),
            "negative": list(self.negative),
            "target": self.target,
            "context": [tuple(pair) for pair in self.context],
        }

    def ids(self) -> list[Any]:
        """Every example that is a point id (pending pair side included), each once."""
        out: dict[Any, None] = {}
        for e in [*self.positive, *self.negative, self.target, *(x for p in self.context for x in p), self.pending]:
            if e is not None and is_id(e):
                out.setdefault(e)
        return list(out)

    def entries(self) -> list[tuple[str, int, str]]:
        """``(role, index, text)`` per listed example, for the view's remove buttons."""
        rows = [("positive", i, self.name(e)) for i, e in enumerate(self.positive)]
        rows += [("negative", i, self.name(e)) for i, e in enumerate(self.negative)]
        if self.target is not None:
            rows.append(("target", 0, self.name(self.target)))
        rows += [("context", i, f"{self.name(p)} vs {self.name(n)}") for i, (p, n) in enumerate(self.context)]
        if self.pending is not None:
            rows.append(("pending", 0, f"{self.name(self.pending)} vs ?"))
        return rows

    def text_of(self, example: Any) -> str | None:
        """The text a vector example was embedded from (:meth:`add_text`), or None."""
        return None if is_id(example) else self.texts.get(_key(example))

    def is_empty(self) -> bool:
        return not (self.positive or self.negative or self.context) and self.target is None

    def suggested_kind(self) -> str | None:
        """The query the examples ask for: discover (a target), context (pairs only),
        recommend (positives/negatives), or None when nothing is chosen."""
        if self.target is not None:
            return "discover"
        if self.context:
            return "context"
        if self.positive or self.negative:
            return "recommend"
        return None

    # ------------------------------------------------------------------ changing
    def copy(self) -> "Selection":
        other = Selection(self.names)
        other.positive, other.negative = list(self.positive), list(self.negative)
        other.target, other.context, other.pending = self.target, list(self.context), self.pending
        other.texts = dict(self.texts)
        return other

    def clear(self) -> None:
        self.positive, self.negative, self.target, self.context, self.pending = [], [], None, [], None

    def _drop(self, key: Any, roles: Iterable[str]) -> None:
        for role in roles:
            if role == "target":
                if self.target is not None and _key(self.target) == key:
                    self.target = None
            else:
                setattr(self, role, [e for e in getattr(self, role) if _key(e) != key])

    def click(self, mode: str, point: Any) -> str:
        """One click in ``mode`` on ``point`` (toggles); returns what happened, for the status line."""
        check_mode(mode)
        point = _example(point, "click")
        key = _key(point)
        if mode in ("positive", "negative"):
            if any(_key(e) == key for e in getattr(self, mode)):
                self._drop(key, [mode])
                return f"{mode} {self.name(point)} removed"
            self._drop(key, ("positive", "negative", "target"))
            getattr(self, mode).append(point)
            return f"{mode} {self.name(point)} added"
        if mode == "target":
            if self.target is not None and _key(self.target) == key:
                self.target = None
                return f"target {self.name(point)} removed"
            self._drop(key, ("positive", "negative"))
            self.target = point
            return f"target set to {self.name(point)}"
        if mode == "context pair":
            if self.pending is None:
                self.pending = point
                return f"context pair started with {self.name(point)}: now click its negative side"
            if _key(self.pending) == key:
                self.pending = None
                return "context pair cancelled"
            pair, self.pending = (self.pending, point), None
            self.context.append(pair)
            return f"context pair ({self.name(pair[0])}, {self.name(pair[1])}) added"
        return f"point {self.name(point)}"  # inspect: nothing changes

    def add(self, mode: str, points: Iterable[Any]) -> str:
        """Add several points at once (a box, a lasso, typed ids); never toggles off.

        In ``"context pair"`` mode consecutive points form pairs (a pending side first).
        ``"target"`` takes exactly one point.
        """
        check_mode(mode)
        values = [_example(p, f"{mode}[{i}]") for i, p in enumerate(points)]
        if mode == "inspect":
            raise RequestError("add: 'inspect' mode does not choose examples. Pick a mode such as 'positive'.")
        if mode == "target" and len(values) != 1:
            raise RequestError(
                f"target: {len(values)} points given; a discovery has one target. "
                "Give one id, or click a single point in target mode."
            )
        if mode == "target":
            return (
                self.click("target", values[0])
                if (self.target is None or _key(self.target) != _key(values[0]))
                else f"target is already {self.name(values[0])}"
            )
        if mode == "context pair":
            for value in values:
                self.click("context pair", value)
            return f"{len(values)} points added as context pair sides"
        seen = {_key(e) for e in getattr(self, mode)}
        new = []
        for value in values:
            if _key(value) not in seen:
                seen.add(_key(value))
                new.append(value)
        for value in new:
            self._drop(_key(value), ("positive", "negative", "target"))
        getattr(self, mode).extend(new)
        if len(values) == 1:
            return f"{mode} {self.name(values[0])} {'added' if new else 'is already chosen'}"
        return f"{len(new)} {mode} example(s) added" + (
            f" ({len(values) - len(new)} already chosen)" if len(new) < len(values) else ""
        )

    def add_text(self, mode: str, text: str, vector: Any) -> str:
        """A text's vector as the example of ``mode`` (positive, negative or target); it replaces
        the text example that role had, so typing a new text moves the query."""
        if mode not in ("positive", "negative", "target"):
            raise RequestError(f"text: {mode!r} takes no text example. Use 'positive', 'negative' or 'target'.")
        vector = _example(vector, "text")
        if mode == "target":
            self.target = None if self.text_of(self.target) is not None else self.target
        else:
            setattr(self, mode, [e for e in getattr(self, mode) if self.text_of(e) is None])
        self.texts[_key(vector)] = text
        self.add(mode, [vector])
        return f"{mode} text {text!r} added"

    def remove(self, role: str, index: int = 0) -> str:
        """Remove the ``index``-th example of ``role`` (``"pending"`` drops a half-made pair)."""
        if role == "pending":
            self.pending = None
            return "context pair cancelled"
        if role not in ROLES:
            raise RequestError(f"remove: unknown role {role!r}. Use one of {list(ROLES)} or 'pending'.")
        if role == "target":
            self.target = None
            return "target removed"
        items = getattr(self, role)
        if not 0 <= index < len(items):
            raise RequestError(f"remove: {role} has {len(items)} example(s); index {index} is out of range.")
        removed = items.pop(index)
        return f"{role} {self.name(removed) if role != 'context' else 'pair'} removed"

    def replace(self, value: Mapping[str, Any]) -> None:
        """Set every role from a dict like :meth:`as_dict` (missing roles become empty).

        Everything is checked first; on error nothing changes.
        """
        if not isinstance(value, Mapping):
            raise RequestError(
                f"examples: {short_repr(value)} is not a dict. Assign e.g. "
                "{'positive': [1, 2], 'negative': [3]} or {'target': 5, 'context': [(1, 2)]}."
            )
        extra = set(value) - set(ROLES)
        if extra:
            raise RequestError(f"examples: unknown role(s) {sorted(extra)}. Use {list(ROLES)}.")
        lists = {}
        for role in ("positive", "negative"):
            items = value.get(role) or []
            if is_id(items) or isinstance(items, np.ndarray) and items.ndim == 1:
                items = [items]
            lists[role] = [_example(v, f"examples[{role!r}][{i}]") for i, v in enumerate(items)]
        target = value.get("target")
        target = None if target is None else _example(target, "examples['target']")
        pairs = []
        for i, pair in enumerate(value.get("context") or []):
            if isinstance(pair, Mapping):
                pair = (pair.get("positive"), pair.get("negative"))
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise RequestError(f"examples['context'][{i}]: {short_repr(pair)} is not a (positive, negative) pair.")
            pairs.append(
                (_example(pair[0], f"examples['context'][{i}][0]"), _example(pair[1], f"examples['context'][{i}][1]"))
            )
        self.positive, self.negative, self.target, self.context = lists["positive"], lists["negative"], target, pairs
        self.pending = None

    def query_kwargs(self, kind: str) -> dict[str, Any]:
        """The examples as keyword arguments of the public query method for ``kind``."""
        if kind == "search":
            chosen = [*self.positive] or ([self.target] if self.target is not None else [])
            if len(chosen) != 1 or self.negative:
                raise RequestError(
                    f"search: takes exactly one example (a positive); {len(self.positive)} "
                    f"positive and {len(self.negative)} negative are chosen. Keep one positive, "
                    "or switch the query kind to recommend."
                )
            return {"query": chosen[0]}
        if kind == "recommend":
            return {"positive": list(self.positive), "negative": list(self.negative)}
        if kind == "discover":
            if self.target is None:
                raise RequestError(
                    "discover: needs a target. Click a point in 'target' mode, or switch the query kind to context."
                )
            return {"target": self.target, "context": [tuple(p) for p in self.context]}
        if kind == "context":
            if not self.context:
                raise RequestError(
                    "context: needs at least one context pair. Click two points in "
                    "'context pair' mode (positive side first)."
                )
            return {"target": None, "context": [tuple(p) for p in self.context]}
        raise RequestError(f"kind: unknown query kind {kind!r}. Use one of {list(KINDS)}.")


def check_mode(mode: str) -> None:
    if mode not in MODES:
        raise RequestError(f"mode: {short_repr(mode)} is not a mode. Use one of {list(MODES)}.")


_INT = re.compile(r"^\d+$")
_QUOTED = re.compile(r"""^(['"])(.*)\1$""")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_BARE = re.compile(r"^[A-Za-z_][\w.\-:/]*$")
_TOKEN = re.compile(r"""'[^']*'|"[^"]*"|[^\s,]+""")
_QUERY_WORDS = re.compile(r"[=<>!~()@`]|\b(and|or|not|in)\b")


def parse_ids_or_query(text: str) -> tuple[str, Any]:
    """Typed text -> ``("ids", [ids])`` or ``("query", text)`` (a pandas query over the payload).

    Ids are separated by commas (or spaces): integers, quoted strings, UUIDs, or bare words
    when the text has no comparison or boolean operator.

    >>> parse_ids_or_query("3, 17 42")
    ('ids', [3, 17, 42])
    >>> parse_ids_or_query("'apple-1', 'pear-2'")
    ('ids', ['apple-1', 'pear-2'])
    >>> parse_ids_or_query("digit == 3 and ink > 300")
    ('query', 'digit == 3 and ink > 300')
    """
    if not isinstance(text, str) or not text.strip():
        raise RequestError("add: nothing typed. Type ids such as 3, 17 or a pandas query such as digit == 3.")
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    tokens = _TOKEN.findall(text)
    ids: list[Any] = []
    for token in tokens:
        quoted = _QUOTED.match(token)
        if _INT.match(token):
            ids.append(int(token))
        elif quoted:
            ids.append(normalize_id(quoted.group(2)))
        elif _UUID.match(token):
            ids.append(normalize_id(token))
        elif _BARE.match(token) and not _QUERY_WORDS.search(text):
            ids.append(token)
        else:
            return "query", text
    return "ids", ids
