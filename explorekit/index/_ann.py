"""AnnIndex: the approximate index of one vector space, and how it is built, saved and loaded.

An ``AnnIndex`` holds two candidate generators over the same stored rows, and what was
measured when it was built:

* ``forest`` - an annoy forest (``n_trees`` random-projection trees, built with all cores),
  or None where annoy is not installed (the optional ``annoy`` extra);
* ``codes`` - centred sign codes (:mod:`._codes`), scanned with ``np.bitwise_count``;
* ``tuning`` - per generator, the smallest search effort (``ef``) that reached recall@10 of
  ``TARGET_RECALL`` on sample queries, and its latency next to an exact scan
  (see :mod:`._tune`).

Neither generator ever decides a score: candidates are always rescored exactly.

Examples
--------
>>> import numpy as np
>>> from explorekit.collection import VectorSpace
>>> stored = np.random.default_rng(0).normal(size=(2000, 16)).astype(np.float32)
>>> index = build_index(VectorSpace("", "euclid", stored), n_trees=8)
>>> index.n_trees, len(index), index.method
(8, 2000, 'auto')
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from explorekit._support.errors import ExploreError, PersistenceError, short_repr
from explorekit._support.progress import task
from explorekit.data.store import VectorSpace
from explorekit.index._codes import SignCodes
from explorekit.index._forest import METRICS, Forest, annoy_available, annoy_missing_error, warn_annoy_missing
from explorekit.index._tune import tune

FORMAT_VERSION = 1
METHODS = ("auto", "annoy", "sign_codes")
# "binary" was the sign codes' name before they were told apart from binary quantization; still accepted.
_ALIASES = {"binary": "sign_codes"}
_TUNING_KEY = {"annoy": "annoy", "sign_codes": "binary"}  # keys of the saved tuning (unchanged format)
MAX_TREES = 1024  # each tree costs about 8 bytes a point; recall stops rising long before this


def default_n_trees(n: int, dim: int) -> int:
    """Trees for ``n`` points of ``dim`` dimensions: more for larger and wider data, 10..64.

    ``max(10, min(64, round(log2(n) + dim / 16)))``; e.g. 6,000 x 384 -> 37, 100,000 x 384 -> 41,
    1,800 x 64 -> 15, 300 x 2 -> 10. More trees raise recall at a given ``search_k`` and cost
    build time and memory (about ``8 n`` bytes per tree).
    """
    if n <= 1:
        return 1
    return int(max(10, min(64, round(math.log2(n) + dim / 16))))


class AnnIndex:
    """The approximate index of one vector space (annoy forest + sign codes + tuning).

    Attributes
    ----------
    method : str
        ``"auto"`` (default: the planner picks the faster generator for each request from the
        tuning), ``"annoy"`` or ``"sign_codes"`` to use one generator whenever the index is used
        (``"binary"``, the sign codes' former name, is accepted).
    tuning : dict
        What :func:`explorekit.index._tune.tune` measured at build time.
    """

    def __init__(self, forest: Forest | None, codes: SignCodes, distance: str, tuning: dict[str, Any]) -> None:
        self.forest, self.codes, self.distance, self.tuning = forest, codes, distance, tuning
        self._method = "auto"

    @property
    def method(self) -> str:
        return self._method

    @method.setter
    def method(self, value: str) -> None:
        value = _ALIASES.get(value, value) if isinstance(value, str) else value
        if value not in METHODS:
            raise ExploreError(
                f"AnnIndex.method: {short_repr(value)} is not one of {list(METHODS)}. "
                "Use 'auto' (the planner decides), 'annoy' or 'sign_codes'."
            )
        self._method = value

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def n_trees(self) -> int:
        """Trees of the annoy forest (0 without one: annoy is not installed)."""
        return self.forest.n_trees if self.forest is not None else 0

    @property
    def dim(self) -> int:
        return self.codes.dim

    @property
    def metric(self) -> str:
        """Annoy's metric name (``angular`` for cosine)."""
        return METRICS[self.distance]

    @property
    def nbytes(self) -> int:
        """Bytes of the annoy forest (its file once saved) and of the sign codes."""
        return (self.forest.nbytes if self.forest is not None else 0) + self.codes.nbytes

    def default_ef(self, method: str) -> int:
        """The search effort tuned at build time for ``"annoy"`` or ``"sign_codes"``."""
        return int(self.tuning["ef"][_TUNING_KEY[method]])

    def eligible(self, method: str) -> bool:
        """Whether tuning found ``"annoy"`` or ``"sign_codes"`` worth using on this data
        (never annoy when the index has no forest)."""
        if method == "annoy" and self.forest is None:
            return False
        return bool(self.tuning["eligible"][_TUNING_KEY[method]])

    def __repr__(self) -> str:
        ef = self.tuning.get("ef", {})
        return (
            f"AnnIndex({len(self):,} x {self.dim}, {self.metric}, {self.n_trees} trees, "
            f"method={self.method!r}, default ef {ef})"
        )

    # ------------------------------------------------------------------ saving
    def save(self, path: str | Path) -> dict[str, Any]:
        """Write the index next to ``path``; returns its description (JSON-able).

        Files: ``path`` (the annoy forest, which annoy then memory-maps; an empty file and
        ``n_trees`` 0 for an index without one), ``path.codes.npy`` and ``path.rows.npy`` (the
        sign codes) and ``path.json`` (the returned description: sizes, tuning, the codes' mean).
        """
        path = Path(path)
        if self.forest is not None:
            self.forest.save(path)
        else:
            path.write_bytes(b"")
        mean = self.codes.save(_sibling(path, ".codes.npy"), _sibling(path, ".rows.npy"))
        meta = {
            "format": FORMAT_VERSION,
            "distance": self.distance,
            "metric": self.metric,
            "dim": self.dim,
            "n_items": len(self),
            "n_trees": self.n_trees,
            "method": self.method,
            "tuning": self.tuning,
            "mean": mean,
            "files": [path.name] + [_sibling(path, s).name for s in (".codes.npy", ".rows.npy", ".json")],
        }
        _sibling(path, ".json").write_text(json.dumps(meta))
        return meta

    @classmethod
    def load(cls, path: str | Path, dim: int, metric: str, meta: dict[str, Any] | None = None) -> "AnnIndex":
        """Open an index written by :meth:`save`; the forest and the codes are memory-mapped.

        ``metric`` is annoy's metric or the collection distance (``"cosine"`` -> ``angular``);
        ``meta`` is what :meth:`save` returned (read from ``path.json`` when not given). The
        description and the files are checked first (:func:`check_meta`,
        :func:`._forest.check_file`, :meth:`SignCodes.load`): nothing in them can make a query
        read outside the files.
        """
        path = Path(path)
        where = str(path)
        try:
            if meta is None:
                meta = json.loads(_sibling(path, ".json").read_text())
        except (OSError, ValueError) as err:
            raise PersistenceError(
                f"Approximate index {where!r} cannot be read ({err}). Rebuild it with col.build_index()."
            ) from None
        metric = METRICS.get(metric, metric)
        check_meta(meta, where, dim, metric)
        try:
            forest = _load_forest(path, dim, metric, meta)
            codes = SignCodes.load(
                _sibling(path, ".codes.npy"), _sibling(path, ".rows.npy"), meta["mean"], meta["distance"]
            )
        except (OSError, ValueError, IndexError) as err:
            raise PersistenceError(
                f"Approximate index files of {where!r} cannot be read ({err}). Rebuild it with col.build_index()."
            ) from None
        items = forest.n_items if forest is not None else len(codes)
        if items != meta["n_items"] or len(codes) != meta["n_items"]:
            raise PersistenceError(
                f"Approximate index {where!r} is truncated: {items} forest "
                f"items and {len(codes)} codes for {meta['n_items']} points. "
                "Rebuild it with col.build_index()."
            )
        index = cls(forest, codes, meta["distance"], meta["tuning"])
        index.method = meta.get("method", "auto")
        return index


def _load_forest(path: Path, dim: int, metric: str, meta: dict[str, Any]) -> Forest | None:
    """The saved forest; None for an index saved without one (``n_trees`` 0, an empty file) and
    where annoy is not installed (the sign codes still answer; said once)."""
    if meta.get("n_trees") == 0:
        if path.stat().st_size:
            raise ValueError("n_trees is 0 but the forest file is not empty")
        return None
    if not annoy_available():
        warn_annoy_missing()
        return None
    return Forest.load(path, dim, metric, n_items=meta["n_items"])


def load_index(path: str | Path, meta: dict[str, Any], space: "VectorSpace") -> AnnIndex:
    """The saved index of ``space`` (what persistence calls), checked against its rows."""
    check_meta(meta, str(path), space.dim, METRICS[space.distance], space.distance, len(space.stored))
    index = AnnIndex.load(path, space.dim, space.distance, meta)
    if len(index) != len(space.stored):
        raise PersistenceError(
            f"Approximate index {str(path)!r} covers {len(index)} points, the vectors "
            f"have {len(space.stored)}. Rebuild it with col.build_index()."
        )
    return index


def check_meta(
    meta: Any, where: str, dim: int, metric: str, distance: str | None = None, n_items: int | None = None
) -> None:
    """Raise PersistenceError unless ``meta`` describes an index of this space as :meth:`AnnIndex.save` does.

    Every field a load or a query reads is checked: types, ranges, and agreement with the
    space (``dim``, annoy ``metric``, and when given its ``distance`` and number of points).

    >>> try:
    ...     check_meta({"format": 1, "dim": 8}, "index-0.ann", 8, "angular")
    ... except PersistenceError as err:
    ...     print(str(err).split(". ")[0])
    Approximate index 'index-0.ann': its description has no 'metric'
    """

    def fail(problem: str) -> NoReturn:
        raise PersistenceError(
            f"Approximate index {where!r}: its description {problem}. Rebuild it with col.build_index()."
        )

    if not isinstance(meta, dict):
        fail(f"is {short_repr(meta)}, not an object")
    for key in ("dim", "metric", "distance", "n_items", "mean", "tuning"):
        if key not in meta:
            fail(f"has no {key!r}")
    version = meta.get("format", 0)
    if not _is_count(version):
        fail(f"has format {short_repr(version)}, not a version number")
    if version > FORMAT_VERSION:
        raise PersistenceError(
            f"Approximate index format {version} in {where!r} is newer than this explorekit "
            f"reads ({FORMAT_VERSION}). Upgrade explorekit."
        )
    if meta["dim"] != dim or meta["metric"] != metric or not isinstance(meta["dim"], int):
        raise PersistenceError(
            f"Approximate index {where!r} is {str(meta['dim'])[:20]}-d "
            f"{str(meta['metric'])[:20]}, expected {dim}-d {metric}. "
            "Rebuild it with col.build_index()."
        )
    if (
        not isinstance(meta["distance"], str)
        or METRICS.get(meta["distance"]) != metric
        or (distance is not None and meta["distance"] != distance)
    ):
        fail(f"has distance {short_repr(meta['distance'])}, expected {distance or 'the one of ' + metric!r}")
    if not _is_count(meta["n_items"]) or (n_items is not None and meta["n_items"] != n_items):
        fail(f"covers {short_repr(meta['n_items'])} points, expected {n_items if n_items is not None else 'a count'}")
    if meta.get("method", "auto") not in METHODS:
        fail(f"has method {short_repr(meta.get('method'))}, expected one of {list(METHODS)}")
    mean = meta["mean"]
    if not isinstance(mean, list) or len(mean) != dim or not all(_is_number(v) for v in mean):
        fail(f"has a mean {short_repr(mean)} that is not {dim} finite numbers")
    problem = _tuning_problem(meta["tuning"])
    if problem:
        fail(f"has tuning {problem}")


def _tuning_problem(tuning: Any) -> str | None:
    """What is wrong with a saved ``tuning`` (see :func:`._tune.tune`), or None."""
    if not isinstance(tuning, dict):
        return f"{short_repr(tuning)}, not an object"
    parts = {key: tuning.get(key) for key in ("ef", "ms", "eligible")}
    if not all(isinstance(v, dict) for v in parts.values()):
        return "without the objects 'ef', 'ms' and 'eligible'"
    ef, ms, eligible = parts["ef"], parts["ms"], parts["eligible"]
    for gen in ("binary", "annoy"):
        if not _is_count(ef.get(gen), low=1) or not isinstance(eligible.get(gen), bool):
            return f"ef/eligible of {gen!r} that are not a positive integer and a bool"
    needed = {"annoy": ("annoy",), "binary": ("binary_scan", "rescore_row")}  # what the planner reads
    for key in ("exact", "annoy", "binary", "binary_scan", "rescore_row"):
        value = ms.get(key)
        if (key in ("exact", "annoy") and key not in ms) or not (value is None or _is_number(value, low=0.0)):
            return f"ms[{key!r}] = {short_repr(value)}, not a duration"
    for gen, keys in needed.items():
        if eligible[gen] and any(ms.get(key) is None for key in keys):
            return f"no durations {list(keys)} for the eligible {gen!r}"
    factors = tuning.get("kind_factor", {})
    if not isinstance(factors, dict) or not all(_is_number(v, low=0.0) for v in factors.values()):
        return f"kind_factor {short_repr(factors)} that are not numbers >= 0"
    if not _is_number(tuning.get("sigma", 0.0), low=0.0):
        return f"sigma {short_repr(tuning.get('sigma'))} that is not a number >= 0"
    return None


def _is_count(value: Any, low: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _is_number(value: Any, low: float = -math.inf) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= low


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def build_index(space: "VectorSpace", n_trees: int | None = None, *, tune_queries: int = 100) -> AnnIndex:
    """Build the approximate index of one vector space: annoy forest, sign codes, tuning.

    Parameters
    ----------
    space : VectorSpace
        The vector space (its ``stored`` preprocessed float32 matrix and ``distance``).
    n_trees : int, optional
        Annoy trees; default :func:`default_n_trees` of the size and dimension. Where annoy is
        not installed the index holds sign codes only (a warning says so once), and an explicit
        ``n_trees`` raises ExploreError naming the fix.
    tune_queries : int
        Stored points used as sample queries to tune the default search effort.

    Progress is shown on stderr (:mod:`explorekit._support.progress`) when the build takes over a
    second; ``EXPLOREKIT_PROGRESS=0`` silences it.

    Examples
    --------
    >>> import numpy as np
    >>> from explorekit.collection import VectorSpace
    >>> space = VectorSpace("", "cosine", np.eye(3, dtype=np.float32))
    >>> build_index(space).n_trees      # default_n_trees(3, 3)
    10
    """
    stored = space.stored
    n, dim = stored.shape
    if not annoy_available():
        if n_trees is not None:
            raise annoy_missing_error(f"build_index(n_trees={short_repr(n_trees)})")
        warn_annoy_missing()
    if n_trees is None:
        n_trees = default_n_trees(n, dim)
    elif isinstance(n_trees, bool) or not isinstance(n_trees, (int, np.integer)) or not 1 <= n_trees <= MAX_TREES:
        raise ExploreError(
            f"build_index: n_trees={short_repr(n_trees)} is not a positive integer <= {MAX_TREES:,}. "
            "Use e.g. n_trees=50, or None for a default chosen by size and dimension."
        )
    with task(f"explorekit: approximate index of {n:,} x {dim}") as status:
        forest = Forest.build(stored, space.distance, int(n_trees), status) if annoy_available() else None
        status.note(f"explorekit: approximate index of {n:,} x {dim}: sign codes")
        codes = SignCodes.fit(stored, space.distance)
        status.note(f"explorekit: approximate index of {n:,} x {dim}: tuning the search effort")
        tuning = tune(forest, codes, stored, space.distance, n_queries=tune_queries)
    return AnnIndex(forest, codes, space.distance, tuning)
