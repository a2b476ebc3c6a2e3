"""qdrant-client's keyword names and models on explorekit's query methods.

Code written for qdrant-client runs on a collection unchanged: ``col.search(query_vector=v,
query_filter=f, search_params=p)``, ``col.scroll(scroll_filter=f)``, ``col.query(query=
models.RecommendQuery(...), query_filter=...)``, with qdrant-client models anywhere (as keyword
values or inside a dict body). One table, :data:`ALIASES`, says which name means which
explorekit keyword, and one decorator, :func:`qdrant_names`, applies it to every query method:

* an alias is renamed to explorekit's keyword (giving both, ``filter=`` and ``query_filter=``,
  is a :class:`~explorekit.RequestError`);
* ``k=`` and ``top_k=`` are ``limit=`` on the nearest-neighbour methods (search, recommend,
  discover, query), as other vector libraries name it;
* ``collection_name`` is accepted and checked: a collection with a ``name`` refuses another
  name (the call was meant for another collection); an unnamed one ignores it;
* ``query_vector=("image", v)`` or ``models.NamedVector(name="image", vector=v)`` also sets
  ``using="image"``, as in qdrant-client;
* every qdrant-client model among the arguments, at any depth of lists and dicts, becomes
  plain JSON with Qdrant's REST names (:func:`plain`);
* a name that means nothing raises a RequestError naming it and listing the accepted names.

Examples
--------
>>> import explorekit as ek
>>> col = ek.Collection.from_arrays([[1.0, 0.0], [0.0, 1.0]])
>>> col.search(query_vector=[1, 0], query_filter={"must": []}, limit=1)["id"].tolist()
[0]
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from explorekit._support.errors import RequestError, short_repr, unknown
from explorekit.query.filter_parse import MAX_DEPTH, dump_model, is_model

#: qdrant-client's keyword -> (explorekit's keyword, the methods it belongs to; None: every method
#: that has that keyword)
ALIASES: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "query_filter": ("filter", ("search", "recommend", "discover", "query", "query_groups")),
    "scroll_filter": ("filter", ("scroll",)),
    "count_filter": ("filter", ("count",)),
    "search_params": ("params", None),
    "query_vector": ("query", ("search",)),
    "with_vector": ("with_vectors", None),  # Qdrant's REST name
    # the names nearest-neighbour libraries use for the result count (faiss, annoy, LangChain...)
    "k": ("limit", ("search", "recommend", "discover", "query")),
    "top_k": ("limit", ("search", "recommend", "discover", "query")),
}
#: containers walked by :func:`plain`: a filter level is a dict and a list, plus the body around it
_WALK_DEPTH = 2 * MAX_DEPTH + 8
#: accepted by every method and checked against the collection's name
COLLECTION_NAME = "collection_name"

_F = TypeVar("_F", bound=Callable[..., Any])


def plain(value: Any, where: str = "argument") -> Any:
    """``value`` with every qdrant-client model in it, at any depth a request can have, as plain JSON.

    Models are recognised by ``model_dump`` (qdrant-client stays an optional import). A value
    without models is returned as it is (the common case costs one walk, no copy); lists of
    numbers (vectors) and numpy arrays are never walked. Containers nested deeper than
    :data:`_WALK_DEPTH` (deeper than any filter may be) are left as given, for the parsers to
    refuse with their own depth error: a hostile body never reaches Python's recursion limit.

    >>> plain({"filter": {"must": []}, "limit": 3})
    {'filter': {'must': []}, 'limit': 3}
    """
    return _converted(value, where, 0) if _has_model(value) else value


def _has_model(value: Any) -> bool:
    """Whether a model sits anywhere in ``value`` (within :data:`_WALK_DEPTH`); no recursion."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if is_model(item):
            return True
        if depth < _WALK_DEPTH:
            stack.extend((child, depth + 1) for child in _children(item))
    return False


def _converted(value: Any, where: str, depth: int) -> Any:
    """``value`` rebuilt with its models dumped (one frame per level: no comprehensions)."""
    if is_model(value):
        return dump_model(value, where, RequestError)
    if depth >= _WALK_DEPTH:
        return value
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            out[key] = _converted(item, where, depth + 1)
        return out
    if _children(value):
        items = []
        for item in value:
            items.append(_converted(item, where, depth + 1))
        return items if isinstance(value, list) else tuple(items)
    return value


def _children(value: Any) -> Any:
    """The items to walk into: a dict's values, a list's or tuple's items (not a vector's numbers)."""
    if isinstance(value, Mapping):
        return list(value.values())
    if isinstance(value, (list, tuple)) and value and not isinstance(value[0], (int, float)):
        return value
    return ()


class Keywords:
    """The names one method accepts, and the one check that renames qdrant-client's to its own.

    ``own`` are the method's parameters; ``aliases`` the entries of :data:`ALIASES` that point to
    one of them for this method; ``collection_name`` is accepted everywhere.
    """

    def __init__(self, method: Callable[..., Any]) -> None:
        signature = inspect.signature(method)
        params = signature.parameters
        self.name = method.__name__
        self.own = [n for n, p in params.items() if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        self.positional = [n for n in self.own if params[n].kind == inspect.Parameter.POSITIONAL_OR_KEYWORD]
        self.aliases = {
            alias: target
            for alias, (target, methods) in ALIASES.items()
            if target in self.own and (methods is None or self.name in methods)
        }
        self.accepted = sorted([*self.own, *self.aliases, COLLECTION_NAME])

    def rename(self, collection: Any, args: tuple, kwargs: Mapping[str, Any]) -> tuple[tuple, dict[str, Any]]:
        """``(args, kwargs)`` in the method's own names, models made plain; RequestError on bad names."""
        if len(args) > len(self.positional):
            raise RequestError(
                f"{self.name}() takes {len(self.positional)} positional argument(s) {self.positional} but got "
                f"{len(args)}; pass the others by name, e.g. {self.name}(..., limit=5)."
            )
        given = set(self.positional[: len(args)])
        renamed: dict[str, Any] = {}
        for key, value in kwargs.items():
            if key == COLLECTION_NAME:
                _check_collection_name(collection, value)
                continue
            target = self.aliases.get(key, key)
            if target not in self.own:
                raise RequestError(
                    unknown(
                        f"keyword argument of {self.name}()",
                        key,
                        self.accepted,
                        f"{self.name}() accepts {self.accepted} (qdrant-client's names included).",
                    )
                )
            if target in given or target in renamed:
                names = [f"{k}=" for k in kwargs if self.aliases.get(k, k) == target]
                if target in given:
                    names.insert(0, f"{target} (positionally)")
                raise RequestError(f"{self.name}(): {' and '.join(names)} both give {target!r}; pass only one of them.")
            renamed[target] = plain(value, target)
        if "query_vector" in kwargs:
            _split_named_vector(renamed)
        return tuple(plain(arg, name) for arg, name in zip(args, self.positional)), renamed


def qdrant_names(method: _F) -> _F:
    """Let ``method`` take qdrant-client's names and models too (see the module docstring).

    The accepted names are the method's own parameters plus the aliases of those, plus
    ``collection_name``; anything else is a RequestError that lists them. The wrapper keeps the
    :class:`Keywords` as ``.keywords`` (batch items of the method are checked with it).
    """
    keywords = Keywords(method)

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        args, renamed = keywords.rename(self, args, kwargs)
        return method(self, *args, **renamed)

    wrapper.keywords = keywords  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def _check_collection_name(collection: Any, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise RequestError(f"collection_name: {short_repr(value)} is not a collection name (a non-empty string).")
    own = getattr(collection, "name", None)
    if own is not None and value != own:
        raise RequestError(
            f"collection_name={value!r}, but this collection is {own!r}. Call the method on the "
            f"collection {value!r} itself, or leave out collection_name (the collection you call it on is used)."
        )


def _split_named_vector(renamed: dict[str, Any]) -> None:
    """qdrant-client's ``query_vector=(name, vector)`` / ``NamedVector``: the name becomes ``using``."""
    value = renamed["query"]
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        name, vector = value
    elif isinstance(value, Mapping) and set(value) == {"name", "vector"}:
        name, vector = value["name"], value["vector"]
    else:
        return
    if renamed.get("using") not in (None, name):
        raise RequestError(f"query_vector names the vector {name!r} but using={renamed['using']!r}. Pass one of them.")
    renamed["query"], renamed["using"] = vector, name
