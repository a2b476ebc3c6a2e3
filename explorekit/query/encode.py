"""Query by text: texts at the example positions of a request become vectors through an encoder.

An *encoder* is any callable ``texts -> vectors``: it takes a list of strings and returns one
row per text, an array-like of shape ``(len(texts), dim)`` (a numpy array, a list of lists, a
CPU torch tensor). :func:`explorekit.encoders.sentence_transformer` is a ready one.

The rule that tells a text from a string id: **a string is a text only when ``encoder=`` is
given.** Without an encoder every string is a point id, as before (explorekit and Qdrant take
string and UUID ids); an unknown string id then says how to search by text instead. With an
encoder every string at an example position is a text; an id that is a string is still given as
``{"id": "cat"}`` (or a ``uuid.UUID``), integers stay ids, vectors stay vectors.

The example positions: ``query`` (search, query), ``positive``/``negative`` (recommend, as one
example or a list), ``target`` and ``context`` pairs (discover), and inside a ``/points/query``
body: ``query`` (a text, ``{"nearest": ...}``, ``{"recommend": {...}}``, ``{"discover": {...}}``,
``{"context": [...]}``), in ``prefetch`` stages too. All texts of one call go to the encoder in
one call; its answer is checked (shape, numbers, finite, the dimension of the vector ``using``
names) before anything runs.

Examples
--------
>>> import numpy as np
>>> import explorekit as ek
>>> col = ek.Collection.from_arrays([[1.0, 0.0], [0.0, 1.0]], payload=[{"w": "apple"}, {"w": "pear"}])
>>> def encoder(texts):          # a toy encoder: "apple" points along x, anything else along y
...     return np.array([[1.0, 0.0] if "apple" in t else [0.0, 1.0] for t in texts])
>>> col.search("a green apple", encoder=encoder, limit=1)["w"].tolist()
['apple']
>>> col.recommend(positive=["pear tart"], negative=[0], encoder=encoder, limit=1)["w"].tolist()
['pear']
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np

from explorekit._support.errors import DimensionError, NonFiniteError, RequestError, UnknownIdError, short_repr

#: ``texts -> vectors``: a list of strings in, an array-like of shape ``(len(texts), dim)`` out
Encoder = Callable[[list[str]], Any]

#: how to search by text, for the messages
FIX = "pass an encoder, e.g. encoder=ek.encoders.sentence_transformer() (any callable texts -> vectors)"

Swap = Callable[[str], Any]


def encode(
    encoder: Encoder, texts: list[str], dim: int, where: str = "encoder", vectors: str = "the query's vectors"
) -> np.ndarray:
    """The encoder's vectors of ``texts`` as float32 ``(len(texts), dim)``, checked.

    Raises a :class:`~explorekit.RequestError` for a wrong shape or non-numbers, a
    :class:`~explorekit.DimensionError` naming both dimensions, a
    :class:`~explorekit.NonFiniteError` for NaN or infinite values.

    >>> encode(lambda texts: [[1, 2, 3]] * len(texts), ["a", "b"], dim=3).shape
    (2, 3)
    >>> encode(lambda texts: [[1, 2]] * len(texts), ["a"], dim=3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    explorekit.DimensionError: encoder: returned vectors of dim 2, but the query's vectors have dim 3...
    """
    check_encoder(encoder, where)
    out = encoder(list(texts))
    try:
        array = np.asarray(out)
    except (TypeError, ValueError, RuntimeError):  # ragged lists, a GPU tensor
        array = np.asarray(None)
    if array.dtype.kind not in "fiu":
        raise RequestError(
            f"{where}: returned {short_repr(out, 60)} (dtype {array.dtype}); an encoder returns numbers, "
            f"one row per text: an array of shape ({len(texts)}, dim). A torch tensor on a GPU: add .cpu()."
        )
    if array.ndim != 2 or array.shape[0] != len(texts):
        raise RequestError(
            f"{where}: returned shape {array.shape} for {len(texts)} text(s); an encoder returns one row "
            f"per text, shape ({len(texts)}, dim). Wrap a one-text function: lambda texts: [f(t) for t in texts]."
        )
    if array.shape[1] != dim:
        raise DimensionError(
            f"{where}: returned vectors of dim {array.shape[1]}, but {vectors} have dim {dim}. "
            "Use the model the collection's vectors were made with (ek.encoders.for_dataset(name) for a "
            "bundled set), or pass using= to query another vector name."
        )
    with np.errstate(over="ignore"):
        vectors = array.astype(np.float32)
    if not np.isfinite(vectors).all():
        rows = np.flatnonzero(~np.isfinite(vectors).all(axis=1))[:5].tolist()
        raise NonFiniteError(
            f"{where}: returned NaN or infinite values (or values beyond float32's range) for the "
            f"text(s) {[texts[r] for r in rows]}. Fix the encoder, or leave those texts out."
        )
    return vectors


def encode_for(collection: Any, using: str | None, encoder: Encoder, texts: list[str], where: str) -> np.ndarray:
    """:func:`encode` checked against the dimension of ``collection``'s vector ``using`` (named in the error)."""
    dim = collection.space(using).dim  # UnknownVectorError for a wrong using=, before the encoder runs
    named = f"the collection's vectors {using!r}" if using else "the collection's vectors"
    return encode(encoder, texts, dim, where, named)


def check_encoder(encoder: Any, where: str = "encoder") -> None:
    """A RequestError unless ``encoder`` is callable (or None: no texts)."""
    if encoder is not None and not callable(encoder):
        raise RequestError(
            f"{where}: {short_repr(encoder)} is not callable. Pass a function texts -> vectors "
            "(list of str -> array of shape (n, dim)), e.g. ek.encoders.sentence_transformer()."
        )


# ------------------------------------------------------------------ where texts sit in a request
def _one(value: Any, swap: Swap) -> Any:
    """One example: a text is swapped; ids, ``{"id": ...}`` and vectors stay."""
    return swap(value) if isinstance(value, str) else value


def _many(value: Any, swap: Swap) -> Any:
    """One example or a list of them (``positive``, ``negative``); one text becomes a list of one vector."""
    if isinstance(value, str):
        swapped = swap(value)
        return swapped if isinstance(swapped, str) else [swapped]
    if isinstance(value, (list, tuple)):
        return type(value)(_one(item, swap) for item in value)
    return value


def _pair(pair: Any, swap: Swap) -> Any:
    if isinstance(pair, Mapping):
        return {key: _one(item, swap) if key in ("positive", "negative") else item for key, item in pair.items()}
    if isinstance(pair, (list, tuple)) and len(pair) == 2:
        return type(pair)(_one(item, swap) for item in pair)
    return pair


def _pairs(value: Any, swap: Swap) -> Any:
    """Context pairs: ``[(p, n), ...]``, ``[{"positive": p, "negative": n}, ...]`` or one dict."""
    if isinstance(value, Mapping):
        return _pair(value, swap)
    if isinstance(value, (list, tuple)):
        return type(value)(_pair(pair, swap) for pair in value)
    return value


#: the keyword arguments of search, recommend and discover that hold examples
SLOTS: dict[str, Callable[[Any, Swap], Any]] = {
    "query": _one,
    "target": _one,
    "positive": _many,
    "negative": _many,
    "context": _pairs,
}


def _query_value(value: Any, swap: Swap) -> Any:
    """The ``query`` of a ``/points/query`` body: a text, or a nearest/recommend/discover/context query."""
    if isinstance(value, str):
        return swap(value)
    if not isinstance(value, Mapping):
        return value
    out = dict(value)
    if "nearest" in out:
        out["nearest"] = _one(out["nearest"], swap)
    for kind, slots in (("recommend", ("positive", "negative")), ("discover", ("target", "context"))):
        if isinstance(out.get(kind), Mapping):
            out[kind] = {key: SLOTS[key](item, swap) if key in slots else item for key, item in out[kind].items()}
    if "context" in out:
        out["context"] = _pairs(out["context"], swap)
    return out


def _body(body: Any, swap: Swap) -> Any:
    """A ``/points/query`` body (and its ``prefetch`` stages) with the texts of its queries swapped."""
    if not isinstance(body, Mapping):
        return body
    out = dict(body)
    if "query" in out:
        out["query"] = _query_value(out["query"], swap)
    prefetch = out.get("prefetch")
    if isinstance(prefetch, Mapping):
        out["prefetch"] = _body(prefetch, swap)
    elif isinstance(prefetch, (list, tuple)):
        out["prefetch"] = [_body(stage, swap) for stage in prefetch]
    return out


def _swapped(
    walk: Callable[[Swap], Any], encoder: Encoder | None, collection: Any, using: str | None, where: str
) -> Any:
    """``walk(swap)`` once to gather the texts, once more with their vectors in their place."""
    texts: list[str] = []
    walk(lambda text: texts.append(text) or text)
    if encoder is None or not texts:
        return walk(lambda text: text)
    unique = list(dict.fromkeys(texts))
    vectors = dict(zip(unique, encode_for(collection, using, encoder, unique, f"{where}: encoder")))
    return walk(lambda text: vectors[text])


@contextmanager
def texts_embedded(
    collection: Any, encoder: Encoder | None, using: str | None, where: str, **examples: Any
) -> Iterator[dict[str, Any]]:
    """The keyword ``examples`` (names of :data:`SLOTS`) with their texts embedded by ``encoder``.

    Without an encoder they are yielded as given (strings are ids); an :class:`UnknownIdError`
    raised inside the block for a string example then adds how to search by text.
    ``collection.space(using).dim`` is the dimension the encoder's vectors must have.
    """
    check_encoder(encoder, f"{where}: encoder")
    strings: list[str] = []
    for name, value in examples.items():
        SLOTS[name](value, lambda text: strings.append(text) or text)

    def walk(swap: Swap) -> dict[str, Any]:
        return {name: SLOTS[name](value, swap) for name, value in examples.items()}

    swapped = _swapped(walk, encoder, collection, using, where)
    with text_hint(strings if encoder is None else []):
        yield swapped


def body_texts_embedded(collection: Any, encoder: Encoder | None, body: Any, where: str = "query") -> Any:
    """A ``/points/query`` body with the texts of its queries embedded (the body itself without an encoder).

    The vectors are checked against the dimension of the body's top-level ``using``.
    """
    check_encoder(encoder, f"{where}: encoder")
    if encoder is None:
        return body
    using = body.get("using") if isinstance(body, Mapping) else None
    return _swapped(lambda swap: _body(body, swap), encoder, collection, using, where)


def body_strings(body: Any) -> list[str]:
    """The strings at the example positions of a ``/points/query`` body (ids, without an encoder)."""
    strings: list[str] = []
    _body(body, lambda text: strings.append(text) or text)
    return strings


@contextmanager
def text_hint(strings: list[str]) -> Iterator[None]:
    """Add how to search by text to an UnknownIdError raised for one of ``strings``."""
    try:
        yield
    except UnknownIdError as err:
        if not strings:
            raise
        raise type(err)(
            f"{err} If {short_repr(strings[0], 60)} is a text to search by rather than a point id, {FIX}."
        ) from None
