"""The state of a collection: ids, named vector spaces and payload, and the one rule that picks a space.

A :class:`Store` is what every layer below the facade works on: the engine scores its spaces,
persistence writes and reads it, results read ids and payload from it. The facade
(:class:`explorekit.Collection`) wraps one and swaps in a new one on every change, so a query
holding a store sees one consistent state.

Examples
--------
>>> import numpy as np
>>> from explorekit.data.ids import IdIndex
>>> from explorekit.data.payload import Payload
>>> store = Store(IdIndex([7, 8]), {"": VectorSpace("", "dot", np.eye(2, dtype=np.float32))}, Payload.empty(2))
>>> len(store), store.space(None).dim, store.space(None).label
(2, 2, '(the unnamed vector)')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from explorekit._support.errors import UnknownVectorError, unknown
from explorekit._support.validation import check_name
from explorekit.data.ids import IdIndex
from explorekit.data.payload import Payload


@dataclass
class SavedState:
    """A cached object of a vector space as persistence read it: JSON ``meta`` and numpy ``arrays``.

    Persistence never imports the class that wrote it; the layer that owns the class turns it
    back into an object on first use (e.g. ``Projection.from_state`` in analysis).
    """

    meta: dict
    arrays: dict[str, np.ndarray]
    kind: str = ""  # the class that wrote it, "module:QualName"


@dataclass
class VectorSpace:
    """One vector name: its distance, the stored (preprocessed) matrix and what is built on it."""

    name: str
    distance: str
    stored: np.ndarray
    index: Any = None  # approximate index (explorekit.index): col.build_index or a background build
    quantizer: Any = None  # explorekit.quantization.Quantizer, from col.quantize
    extras: dict = field(default_factory=dict)  # cached projections and the like (or their SavedState)

    @property
    def dim(self) -> int:
        return int(self.stored.shape[1])

    @property
    def label(self) -> str:
        return "(the unnamed vector)" if self.name == "" else repr(self.name)


@dataclass
class Store:
    """Point ids, vector spaces by name and payload, row-aligned; ``name`` for ``lookup_from``."""

    ids: IdIndex
    spaces: dict[str, VectorSpace]
    payload: Payload
    name: str | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def space(self, using: str | None, where: str = "using") -> VectorSpace:
        """The vector space ``using`` names (None or "": the unnamed one, or the only one)."""
        return self.spaces[resolve_vector_name(list(self.spaces), using, where)]


def resolve_vector_name(names: list[str], using: str | None, where: str = "using") -> str:
    """Which of ``names`` (``""`` = unnamed) a request's ``using`` means: the one rule, local and remote.

    >>> resolve_vector_name(["text"], None)
    'text'
    >>> resolve_vector_name(["", "image"], "")
    ''
    """
    check_name(using, where, "Vector names are strings (see col.vector_names), or None for the default.")
    if using is None or using == "":
        if "" in names:
            return ""
        if len(names) == 1 and using is None:
            return names[0]
        raise UnknownVectorError(
            f"{where}: this collection has named vectors {names}; say which one to search, e.g. using={names[0]!r}."
        )
    if using not in names:
        known = [n or "<unnamed: using=None>" for n in names]
        raise UnknownVectorError(unknown(f"vector name ({where})", using, known, f"Pass {where}= one of {known}."))
    return using
