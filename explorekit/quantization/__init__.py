"""Quantizers with Qdrant's configs and Qdrant's quantized scores.

``make_quantizer(config, distance)`` reads a Qdrant quantization config (the collection-config
shape, as a dict or a qdrant-client model) and returns an unfitted quantizer:

* ``{"scalar": {"type": "int8", "quantile": 0.99}}`` -> :class:`ScalarQuantizer`
* ``{"binary": {"encoding": "one_bit" | "one_and_half_bits" | "two_bits",
  "query_encoding": "default" | "binary" | "scalar4bits" | "scalar8bits"}}``
  -> :class:`BinaryQuantizer`
* ``{"product": {"compression": "x4" | "x8" | "x16" | "x32" | "x64"}}`` -> :class:`ProductQuantizer`

Kernels and their speed (``benchmarks/bench_quantization.py``, medians of three runs on 100,000
x 384 real embeddings, one query, two Zen 4 cores; one float32 matrix-vector product on one BLAS
thread takes 12-13 ms): binary codes are compared 64 bits at a time with ``np.bitwise_count``
(0.5 ms one bit, 1.2 ms two bits); int8 codes are multiplied in a compiled kernel that sums in
int32 (:mod:`._sq_kernel`, 1.0-1.4 ms: about as fast as the codes can be read); product codes
are summed from per-query lookup tables by a compiled kernel that looks 64 codes up at once in
AVX-512 registers (:mod:`._pq_kernel`; x4 2.5 ms, x8 1.6 ms, x16 0.8 ms, x64 0.5 ms). End to
end, ``col.search`` at oversampling 4 takes 0.7-3.0 ms against 6.5-7.6 ms for the exact scan
(product x4 is the slowest: one table entry per component), and a batch of 100 searches
0.5-2.3 ms a query (one ``similarity`` call for the batch; the exact path answers such a batch
with one matrix product, 1.1 ms a query). Every kernel has a numpy fallback
that gives the same scores, bit for bit.

``always_ram`` and ``memory`` are accepted and ignored (they place data, they do not change
scores). Every quantizer has ``fit(stored)``, ``add``, ``keep``, ``similarity(queries, rows)``
(Qdrant's quantized internal similarity), ``display(scores)`` (what Qdrant returns for a
nearest search without rescoring), ``nbytes`` and ``state()``/``from_state()``.

Examples
--------
>>> import numpy as np
>>> q = make_quantizer({"binary": {}}, "cosine")
>>> q.config
{'binary': {'encoding': 'one_bit', 'query_encoding': 'default'}}
>>> q.fit(np.array([[1.0, -1.0], [-1.0, 1.0]], np.float32)).similarity([[0.5, -0.5]])
array([[ 2., -2.]], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any

import numpy as np

from explorekit._support.errors import QuantizationError, short_repr, unknown
from explorekit.quantization._base import Quantizer
from explorekit.quantization.binary import ENCODINGS, QUERY_ENCODINGS, BinaryQuantizer
from explorekit.quantization.product import COMPRESSIONS, ProductQuantizer
from explorekit.quantization.scalar import ScalarQuantizer
from explorekit.scoring.distances import Distance, normalize_distance

__all__ = [
    "BinaryQuantizer",
    "ProductQuantizer",
    "Quantizer",
    "ScalarQuantizer",
    "load_quantizer",
    "make_quantizer",
    "normalize_config",
]

_METHODS = {"scalar": ScalarQuantizer, "binary": BinaryQuantizer, "product": ProductQuantizer}
_PLACEMENT = ("always_ram", "memory")
_ALLOWED = {"scalar": ("type", "quantile"), "binary": ("encoding", "query_encoding"), "product": ("compression",)}
_EXAMPLE = (
    '{"scalar": {"type": "int8", "quantile": 0.99}}, {"binary": {"encoding": '
    '"one_bit"}} or {"product": {"compression": "x16"}}'
)


def _plain(value: Any) -> Any:
    """qdrant-client models and enums -> plain dicts and strings."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(exclude_none=True)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _choice(body: Mapping, key: str, method: str, options: tuple[str, ...], default: str | None) -> str:
    value = body.get(key, default)
    if value is None:
        raise QuantizationError(
            f"Missing {key!r} in the {method} quantization config {short_repr(dict(body))}. "
            f'Add "{key}": one of {list(options)}.'
        )
    text = value.lower() if isinstance(value, str) else value
    if text not in options:
        raise QuantizationError(unknown(f"{method} {key}", value, options, f"Use one of {list(options)}."))
    return text


def normalize_config(config: Any) -> dict:
    """Check a Qdrant quantization config and return its normalised dict form.

    Raises
    ------
    QuantizationError
        For anything that is not exactly one of Qdrant's three config shapes.

    Examples
    --------
    >>> normalize_config({"product": {"compression": "X16", "always_ram": True}})
    {'product': {'compression': 'x16'}}
    """
    config = _plain(config)
    if not isinstance(config, Mapping) or len(config) != 1:
        raise QuantizationError(
            f"Quantization config {short_repr(config)} is not a dict with exactly "
            f"one method key. Use one of {_EXAMPLE}."
        )
    ((method, body),) = config.items()
    if method in ("turbo", "turboquant", "turbo_quant"):
        raise QuantizationError(
            f"Quantization method {method!r} (TurboQuant) is not supported by explorekit. Use one of {_EXAMPLE}."
        )
    if method not in _METHODS:
        raise QuantizationError(unknown("quantization method", method, _METHODS, f"Use one of {_EXAMPLE}."))
    body = {} if body is None else body
    if not isinstance(body, Mapping):
        raise QuantizationError(
            f"The {method} quantization config {short_repr(body)} is not a dict. Use one of {_EXAMPLE}."
        )
    for key in body:
        if key not in _ALLOWED[method] + _PLACEMENT:
            raise QuantizationError(
                unknown(
                    f"key in the {method} quantization config",
                    key,
                    _ALLOWED[method] + _PLACEMENT,
                    f"Accepted keys: {list(_ALLOWED[method])}.",
                )
            )
    if method == "scalar":
        kind = _choice(body, "type", "scalar", ("int8",), None)
        quantile = body.get("quantile")
        if quantile is not None:
            if (
                isinstance(quantile, bool)
                or not isinstance(quantile, (int, float, np.floating))
                or not 0.5 <= float(quantile) <= 1.0
            ):
                raise QuantizationError(
                    f"Scalar quantile {short_repr(quantile)} is not a number in "
                    "[0.5, 1.0] (Qdrant's range). Use e.g. 0.99, or leave it "
                    "out to use the full min/max range."
                )
            quantile = float(quantile)
        return {"scalar": {"type": kind, "quantile": quantile}}
    if method == "binary":
        return {
            "binary": {
                "encoding": _choice(body, "encoding", "binary", ENCODINGS, "one_bit"),
                "query_encoding": _choice(body, "query_encoding", "binary", QUERY_ENCODINGS, "default"),
            }
        }
    return {"product": {"compression": _choice(body, "compression", "product", COMPRESSIONS, None)}}


def make_quantizer(config: Any, distance: str | Distance) -> Quantizer:
    """An unfitted quantizer for ``config`` (Qdrant's shape) and the collection ``distance``.

    Examples
    --------
    >>> make_quantizer({"scalar": {"type": "int8"}}, "Euclid")
    ScalarQuantizer({'scalar': {'type': 'int8', 'quantile': None}}, distance='euclid', not fitted)
    >>> make_quantizer({"scalar": {"type": "int4"}}, "cosine")   # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    explorekit.QuantizationError: Unknown scalar type 'int4'. Did you mean 'int8'? ...
    """
    normalized = normalize_config(config)
    (method,) = normalized
    return _METHODS[method](normalized, normalize_distance(distance))


def load_quantizer(meta: dict, arrays: dict[str, np.ndarray]) -> Quantizer:
    """Rebuild a quantizer from ``Quantizer.state()`` output (used by ``Collection.load``)."""
    method = meta.get("method") if isinstance(meta, Mapping) else None
    if method not in _METHODS:
        raise QuantizationError(
            f"Saved quantizer has unknown method {method!r}; expected one of "
            f"{list(_METHODS)}. The file is corrupted or from another tool."
        )
    return _METHODS[method].from_state(dict(meta), arrays)
