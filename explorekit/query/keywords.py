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
from explorekit.query.filter_parse import dump_model

#: qdrant-client's keyword -> (explorekit's keyword, the methods it belongs to; None: every method
#: that has that keyword)
ALIASES: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "query_filter": ("filter", ("search", "recommend", "discover", "query")),
    "scroll_filter": ("filter", ("scroll",)),
    "count_filter": ("filter", ("count",)),
    "search_params": ("params", None),
    "query_vector": ("query", ("search",)),
    "with_vector": ("with_vectors", None),  # Qdrant's REST name
    # the names nearest-neighbour libraries use for the result count (faiss, annoy, LangChain...)
    "k": ("limit", ("search", "recommend", "discover", "query")),
    "top_k": ("limit", ("search", "recommend", "discover", "query")),
}
#: accepted by every method and checked against the collection's name
COLLECTION_NAME = "collection_name"

_F = TypeVar("_F", bound=Callable[..., Any])


def plain(value: Any, where: str = "argument") -> Any:
    """``value`` with every qdrant-client model in it, at any depth, as plain JSON.

    Models are recognised by ``model_dump`` (qdrant-client stays an optional import). Lists of
    numbers (vectors) and numpy arrays are returned as they are.

    >>> plain({"filter": {"must": []}, "limit": 3})
    {'filter': {'must': []}, 'limit': 3}
    """
    if hasattr(value, "model_dump") and not isinstance(value, type):
        return dump_model(value, where, RequestError)
    if isinstance(value, Mapping):
        return {key: plain(item, f"{where}[{key!r}]") for key, item in value.items()}
    if isinstance(value, (list, tuple)) and value and not isinstance(value[0], (int, float)):
        converted = [plain(item, f"{where}[{i}]") for i, item in enumerate(value)]
        return converted if isinstance(value, list) else tuple(converted)
    return value


def qdrant_names(method: _F) -> _F:
    """Let ``method`` take qdrant-client's names and models too (see the module docstring).

    The accepted names are the method's own parameters plus the aliases of those, plus
    ``collection_name``; anything else is a RequestError that lists them.
    """
    signature = inspect.signature(method)
    own = [
        name
        for name, p in signature.parameters.items()
        if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    positional = [name for name in own if signature.parameters[name].kind == inspect.Parameter.POSITIONAL_OR_KEYWORD]
    aliases = {
        alias: target
        for alias, (target, methods) in ALIASES.items()
        if target in own and (methods is None or method.__name__ in methods)
    }
    accepted = sorted([*own, *aliases, COLLECTION_NAME])

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if len(args) > len(positional):
            raise RequestError(
                f"{method.__name__}() takes {len(positional)} positional argument(s) {positional} but got "
                f"{len(args)}; pass the others by name, e.g. {method.__name__}(..., limit=5)."
            )
        given = set(positional[: len(args)])
        renamed = {}
        for key, value in kwargs.items():
            if key == COLLECTION_NAME:
                _check_collection_name(self, value)
                continue
            target = aliases.get(key, key)
            if target not in own:
                raise RequestError(
                    unknown(
                        f"keyword argument of {method.__name__}()",
                        key,
                        accepted,
                        f"{method.__name__}() accepts {accepted} (qdrant-client's names included).",
                    )
                )
            if target in given or target in renamed:
                names = [f"{k}=" for k in kwargs if aliases.get(k, k) == target]
                if target in given:
                    names.insert(0, f"{target} (positionally)")
                raise RequestError(
                    f"{method.__name__}(): {' and '.join(names)} both give {target!r}; pass only one of them."
                )
            renamed[target] = plain(value, target)
        if "query_vector" in kwargs:
            _split_named_vector(renamed)
        args = tuple(plain(arg, name) for arg, name in zip(args, positional))
        return method(self, *args, **renamed)

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
