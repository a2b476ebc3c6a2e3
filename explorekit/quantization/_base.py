"""What every quantizer shares: fitted state, row bookkeeping, progress and saving.

A quantizer holds one code per stored vector, in a layout chosen for its scan kernel: rows
first (``row_axis = 0``, scalar int8) or words/sub-spaces first (``row_axis = 1``, binary and
product codes, so that a scan walks long contiguous runs). Upserts append codes made with the
fitted parameters and deletes keep a subset of rows; nothing is re-fitted, as in a Qdrant
segment between optimisations.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, TypeVar

import numpy as np

from explorekit._support.errors import QuantizationError
from explorekit._support.progress import task
from explorekit._support.threads import in_parts
from explorekit.scoring.distances import DISTANCES, Distance
from explorekit.scoring.distances import display as _display

FORMAT_VERSION = 1
_ENCODE_ELEMENTS = 1 << 18  # vector components encoded at a time (elementwise encoders)
PARALLEL_SCAN = 1 << 21  # codes read by one scan above which it is split across the cores
_T = TypeVar("_T")


def parallel_map(func: Callable[[_T], Any], items: Iterable[_T], workers: int | None = None) -> list[Any]:
    """``[func(x) for x in items]`` on a few threads (numpy releases the GIL in its kernels)."""
    items = list(items)
    workers = min(workers or os.cpu_count() or 1, len(items))
    if workers <= 1:
        return [func(x) for x in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(func, items))


def scan_parts(func: Callable[[tuple[int, int]], None], n: int, work: int, step: int = 1) -> None:
    """``func((start, stop))`` over runs of ``range(n)`` that cover it, one run per core.

    A scan converting codes or reading lookup tables is bound by one core's speed (numpy's
    kernels and ours are single-threaded), so a scan reading more than ``PARALLEL_SCAN`` codes
    is split into one run per core (run boundaries on multiples of ``step``; see
    :func:`explorekit._support.threads.in_parts`). Each output element is computed by exactly
    the same operations however the rows are split.
    """
    in_parts(func, n, work >= PARALLEL_SCAN, step)


class Quantizer:
    """Base class of the scalar, binary and product quantizers (one per vector space).

    Attributes
    ----------
    method : str
        ``"scalar"``, ``"binary"`` or ``"product"``.
    config : dict
        The normalised Qdrant config, e.g. ``{"scalar": {"type": "int8", "quantile": None}}``.
    default_rescore : bool
        Qdrant's choice when a search leaves ``rescore`` unset: true for binary only.
    distance : str
        The collection distance the codes are scored with.
    """

    method: ClassVar[str] = ""
    default_rescore: ClassVar[bool] = False
    row_axis: ClassVar[int] = 0
    chunked_encoding: ClassVar[bool] = True

    def __init__(self, config: dict, distance: Distance) -> None:
        if distance not in DISTANCES:
            raise QuantizationError(f"Unknown distance {distance!r} for a quantizer. Use one of {list(DISTANCES)}.")
        self.config = config
        self.distance: Distance = distance
        self.dim_: int | None = None
        self.codes_: np.ndarray | None = None

    # ------------------------------------------------------------------ fitting and rows
    def fit(self, stored: np.ndarray, distance: str | None = None, *, seed: int = 0) -> "Quantizer":
        """Learn the parameters from ``stored`` (vectors as Qdrant stores them) and encode them."""
        if distance is not None and distance != self.distance:
            if distance not in DISTANCES:
                raise QuantizationError(f"Unknown distance {distance!r} passed to fit(). Use one of {list(DISTANCES)}.")
            self.distance = distance  # type: ignore[assignment]
        stored = self._check(stored, "fit()", fitted=False)
        self.dim_ = stored.shape[1]
        with task(f"{self.method} quantization: training on {len(stored):,} x {self.dim_}") as status:
            self._fit(stored, seed)
            status.note(f"{self.method} quantization: encoding {len(stored):,} vectors")
            self.codes_ = self._encode_rows(stored)
        return self

    def add(self, stored_new: np.ndarray) -> None:
        """Encode more rows with the fitted parameters (an upsert appends at the end)."""
        stored_new = self._check(stored_new, "add()")
        new = self._encode_rows(stored_new)
        self.codes_ = np.concatenate([self.codes_, new], axis=self.row_axis)

    def keep(self, rows: np.ndarray) -> None:
        """Keep only these row positions, in this order (a delete)."""
        self._require_fitted("keep()")
        rows = np.asarray(rows, dtype=np.intp)
        self.codes_ = np.ascontiguousarray(np.take(self.codes_, rows, axis=self.row_axis))

    def copy(self) -> "Quantizer":
        """An independent quantizer: ``keep``/``add`` on the copy leave this one unchanged."""
        return copy.copy(self)  # keep/add replace arrays, they never write into them

    def __len__(self) -> int:
        return 0 if self.codes_ is None else int(self.codes_.shape[self.row_axis])

    # ------------------------------------------------------------------ scoring
    def similarity(self, queries: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Qdrant's quantized internal similarity (higher is better), shape ``(k, n)`` float32.

        ``queries`` are preprocessed like stored vectors (cosine: unit length). ``rows``
        selects row positions (default: all rows, in order).
        """
        queries = self._check(queries, "similarity()")
        if rows is not None:
            rows = np.asarray(rows, dtype=np.intp)
            if rows.ndim != 1:
                raise QuantizationError(f"rows must be a 1-D array of row positions, got shape {rows.shape}.")
            rows = np.ascontiguousarray(rows)  # the layout the compiled kernels are built for
        return self._similarity(queries, rows)

    def display(self, scores: np.ndarray) -> np.ndarray:
        """The score Qdrant returns for a nearest search without rescoring.

        Qdrant post-processes quantized scores with the collection distance's rule, as it does
        exact ones: euclid shows ``sqrt(abs(s))``, manhattan ``abs(s)``, the others ``s``.
        """
        return _display(np.asarray(scores, dtype=np.float32), self.distance)

    @property
    def nbytes(self) -> int:
        """Bytes of the codes and of the learned parameters (codebooks, ranges, statistics)."""
        codes = 0 if self.codes_ is None else int(self.codes_.nbytes)
        return codes + sum(int(a.nbytes) for a in self._params().values())

    # ------------------------------------------------------------------ saving
    def state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """JSON-able description plus the arrays needed to rebuild this quantizer exactly."""
        self._require_fitted("state()")
        meta = {
            "format": FORMAT_VERSION,
            "method": self.method,
            "config": self.config,
            "distance": self.distance,
            "dim": self.dim_,
            **self._meta(),
        }
        arrays = {"codes": self.codes_, **self._params()}
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict, arrays: dict[str, np.ndarray]) -> "Quantizer":
        """Rebuild a quantizer saved with :meth:`state` (no re-fitting)."""
        if meta.get("format", 0) > FORMAT_VERSION:
            raise QuantizationError(
                f"Saved quantizer format {meta.get('format')} is newer than "
                f"this explorekit reads ({FORMAT_VERSION}). Upgrade explorekit."
            )
        if cls.method and meta.get("method") != cls.method:
            raise QuantizationError(f"Saved quantizer is {meta.get('method')!r}, not {cls.method!r}.")
        obj = cls(meta["config"], meta["distance"])
        obj.dim_ = int(meta["dim"])
        obj._load(meta, arrays)
        obj.codes_ = np.ascontiguousarray(arrays["codes"])
        return obj

    def __repr__(self) -> str:
        fitted = f"n={len(self)}, dim={self.dim_}" if self.dim_ is not None else "not fitted"
        return f"{type(self).__name__}({self.config}, distance={self.distance!r}, {fitted})"

    # ------------------------------------------------------------------ for subclasses
    def _fit(self, stored: np.ndarray, seed: int) -> None:
        raise NotImplementedError

    def _encode(self, stored: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _encode_rows(self, stored: np.ndarray) -> np.ndarray:
        """:meth:`_encode` on cache-sized runs of rows (elementwise encoders), joined."""
        step = max(1, _ENCODE_ELEMENTS // max(stored.shape[1], 1))
        if not self.chunked_encoding or len(stored) <= step:
            return self._encode(stored)
        parts = parallel_map(self._encode, [stored[i : i + step] for i in range(0, len(stored), step)])
        return np.ascontiguousarray(np.concatenate(parts, axis=self.row_axis))

    def _similarity(self, queries: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    def _params(self) -> dict[str, np.ndarray]:
        return {}

    def _meta(self) -> dict[str, Any]:
        return {}

    def _load(self, meta: dict, arrays: dict[str, np.ndarray]) -> None:
        pass

    def _code_width(self) -> int:
        raise NotImplementedError

    def _rows_codes(self, rows: np.ndarray | None) -> np.ndarray:
        """The codes of the selected rows (all rows when ``rows`` is None)."""
        if rows is None:
            return self.codes_
        return np.take(self.codes_, rows, axis=self.row_axis)

    def _kernel_can_read(self, rows: np.ndarray | None) -> bool:
        """Whether a compiled scan may read the codes in place: contiguous uint8 and every row
        position in range (numpy wraps negative positions; the kernels do not), else numpy."""
        codes = self.codes_
        if codes.dtype != np.uint8 or not codes.flags.c_contiguous:
            return False
        if rows is None or len(rows) == 0:
            return True
        return bool(rows.min() >= 0 and rows.max() < codes.shape[self.row_axis])

    def _require_fitted(self, where: str) -> None:
        if self.codes_ is None:
            raise QuantizationError(
                f"{type(self).__name__}.{where} needs a fitted quantizer. "
                "Call fit(stored) first (col.quantize(config) does)."
            )

    def _check(self, vectors: np.ndarray, where: str, fitted: bool = True) -> np.ndarray:
        if fitted:
            self._require_fitted(where)
        arr = np.asarray(vectors, dtype=np.float32)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2:
            raise QuantizationError(
                f"{where}: expected a 2-D array of vectors, got shape {arr.shape}. Pass one vector per row."
            )
        if fitted and arr.shape[1] != self.dim_:
            raise QuantizationError(
                f"{where}: vectors have dimension {arr.shape[1]}, the quantizer was fitted on dimension {self.dim_}."
            )
        if not np.isfinite(arr).all():
            bad = np.flatnonzero(~np.isfinite(arr).all(axis=1))[:10].tolist()
            raise QuantizationError(f"{where}: NaN or infinite values in rows {bad}. Quantize finite vectors only.")
        return np.ascontiguousarray(arr)


def round_half_away(x: np.ndarray) -> np.ndarray:
    """Rust's ``f32::round`` for non-negative inputs: halves go up (numpy's rint goes to even)."""
    r = np.floor(x)
    r += (x - r) >= 0.5
    return r
