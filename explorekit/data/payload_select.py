"""Payload selectors: which parts of each point's payload a result shows (Qdrant's ``with_payload``).

A selector names key paths (``"city"``, ``"country.name"``, ``"country.cities[].name"``) to
**include** or to **exclude**. Qdrant's rules, as qdrant-client's local mode applies them:

* the paths are merged into a tree; a path that is a prefix of another selects everything below
  it (``["a", "a.b"]`` is ``["a"]``);
* include keeps, in each object, only the keys on a path, and goes on inside them; exclude drops
  the keys at the end of a path and keeps everything else;
* inside an array only ``[]`` applies (to every element): an array under a path that goes on
  with a key or an index is included as ``[]`` and left whole by exclude;
* a path that meets a scalar (a number, a string, null) keeps it whole.

A top-level name that is a payload column as written (``"my key"``) is that column, even when it
is not a valid key path.

Examples
--------
>>> tree = selector_tree(["country.name", "country.cities[].name"], ["country"])
>>> include({"name": "DE", "capital": "Berlin", "cities": [{"name": "Bonn", "pop": 0.3}]}, tree["country"])
{'name': 'DE', 'cities': [{'name': 'Bonn'}]}
>>> exclude({"name": "DE", "capital": "Berlin"}, selector_tree(["country.capital"], ["country"])["country"])
{'name': 'DE'}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from explorekit.data.jsonpath import parse_key

__all__ = ["ALL", "exclude", "include", "selector_tree"]

#: A tree leaf: everything below is selected.
ALL = True


def selector_tree(paths: Sequence[str], columns: Sequence[str] = ()) -> dict:
    """The paths as a prefix tree ``{part: ALL | subtree}`` (str keys, int indexes, None = ``[]``).

    A path equal to one of ``columns`` is that top-level column as written. Raises FilterError
    (from :func:`~explorekit.data.jsonpath.parse_key`) for a path that is neither.

    >>> selector_tree(["a.b", "a", "c[].d", "e[0]"])
    {'a': True, 'c': {None: {'d': True}}, 'e': {0: True}}
    """
    tree: dict = {}
    names = set(columns)
    for path in paths:
        parts = (path,) if path in names else parse_key(path, f"with_payload {path!r}")
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if node is ALL:  # a shorter path already selects everything below
                break
        else:
            node[parts[-1]] = ALL
    return tree


def include(value: Any, tree: dict) -> Any:
    """The parts of ``value`` on the tree's paths (a new object; leaves are shared, not copied)."""
    if type(value) is dict:
        return {k: v if tree[k] is ALL else include(v, tree[k]) for k, v in value.items() if k in tree}
    if type(value) is list:
        below = tree.get(None)
        if below is None:
            return []
        return value if below is ALL else [include(item, below) for item in value]
    return value


def exclude(value: Any, tree: dict) -> Any:
    """``value`` without the parts at the tree's leaves (a new object; leaves are shared)."""
    if type(value) is dict:
        return {k: v if k not in tree else exclude(v, tree[k]) for k, v in value.items() if tree.get(k) is not ALL}
    if type(value) is list:
        below = tree.get(None)
        if below is None:
            return value
        return [] if below is ALL else [exclude(item, below) for item in value]
    return value
