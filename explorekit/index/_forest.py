"""The annoy forest of one vector space: building (all cores, with progress), querying, files.

Annoy's metric follows the collection distance: ``angular`` for cosine (the stored vectors are
already unit length), ``dot``, ``euclidean`` and ``manhattan``. Annoy only proposes
candidates; explorekit scores them again with Qdrant's formulas.

annoy is optional (the ``annoy`` extra): PyPI has its source only, so installing it compiles
C++ and fails where no compiler is found. Without it :data:`AnnoyIndex` is None, an index
holds sign codes only (:func:`warn_annoy_missing` says so once) and an explicit request for
annoy raises :func:`annoy_missing_error`.

Examples
--------
>>> import numpy as np
>>> stored = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
>>> forest = Forest.build(stored, "euclid", n_trees=5)
>>> forest.nns(stored[7], 1, search_k=-1).tolist()
[7]
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from explorekit._support.errors import ExploreError
from explorekit._support.progress import task
from explorekit.scoring.distances import Distance

try:
    from annoy import AnnoyIndex
except ImportError:  # the optional extra is absent or did not build: sign codes only
    AnnoyIndex = None

METRICS: dict[str, str] = {"cosine": "angular", "dot": "dot", "euclid": "euclidean", "manhattan": "manhattan"}
_SEED = 42
ANNOY_FIX = "pip install 'explorekit[annoy]' (annoy builds from source: it needs a C++ compiler)"
_warned = False


def annoy_available() -> bool:
    """Whether the annoy package could be imported."""
    return AnnoyIndex is not None


def annoy_missing_error(what: str) -> ExploreError:
    """The error for an explicit request of annoy when it is not installed.

    >>> print(annoy_missing_error("index.method='annoy'"))  # doctest: +ELLIPSIS
    index.method='annoy' needs annoy, which is not installed. Install it: pip install 'explorekit[annoy]' ...
    """
    return ExploreError(
        f"{what} needs annoy, which is not installed. Install it: {ANNOY_FIX}; "
        "or leave it out: the index's sign codes answer without it."
    )


def warn_annoy_missing() -> None:
    """Say once per process that the approximate index holds sign codes only."""
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(
            "annoy is not installed: the approximate index uses its sign codes only (answers are "
            f"still rescored exactly). For annoy's forest too: {ANNOY_FIX}.",
            UserWarning,
            stacklevel=3,
        )


class Forest:
    """An annoy index whose item ``i`` is stored row ``i``."""

    def __init__(self, annoy: AnnoyIndex, metric: str, dim: int, n_trees: int, n_items: int) -> None:
        self.annoy, self.metric, self.dim = annoy, metric, dim
        self.n_trees, self.n_items = n_trees, n_items
        self.file: Path | None = None

    @classmethod
    def build(cls, stored: np.ndarray, distance: Distance, n_trees: int, status: Any = None) -> "Forest":
        """Add every row and build ``n_trees`` trees with all cores (``n_jobs=-1``).

        ``status`` is a :func:`explorekit._support.progress.task` handle to report the stages to
        (the build shows its own line when None).
        """
        if status is None:
            with task("explorekit: building the annoy index") as own:
                return cls.build(stored, distance, n_trees, own)
        n, dim = stored.shape
        metric = METRICS[distance]
        index = AnnoyIndex(dim, metric)
        index.set_seed(_SEED)
        for start in range(0, n, 4096):
            status.note(f"explorekit: annoy index of {n:,} x {dim}: adding vectors {start:,}/{n:,}")
            for i, row in enumerate(stored[start : start + 4096], start):
                index.add_item(i, row)
        status.note(f"explorekit: annoy index of {n:,} x {dim}: building {n_trees} trees on all cores")
        index.build(n_trees, n_jobs=-1)  # releases the GIL: the progress line keeps counting
        return cls(index, metric, dim, n_trees, n)

    def nns(self, vector: np.ndarray, n: int, search_k: int) -> np.ndarray:
        """Rows of (up to) the ``n`` nearest items annoy finds visiting ``search_k`` nodes."""
        found = self.annoy.get_nns_by_vector(vector, int(n), search_k=int(search_k))
        return np.asarray(found, dtype=np.int64)

    @property
    def nbytes(self) -> int:
        if self.file is not None and self.file.exists():
            return int(self.file.stat().st_size)
        # annoy does not report its size in memory: items plus split nodes, about two
        # nodes per leaf of up to dim+2 items per tree (close to the saved file's size).
        node = 4 * self.dim + 16
        per_tree = 2 * max(1, self.n_items // max(self.dim + 2, 2)) + 1
        return int(node * (self.n_items + self.n_trees * per_tree))

    def save(self, file: Path) -> None:
        """Write the forest; annoy then memory-maps the written file."""
        self.annoy.save(str(file))
        self.file = Path(file)

    @classmethod
    def load(
        cls, file: Path, dim: int, metric: str, n_trees: int | None = None, *, n_items: int | None = None
    ) -> "Forest":
        """Memory-map a saved forest (annoy's ``load`` does not read the file into memory).

        The file is checked first (:func:`check_file`): annoy trusts every number in it, and a
        damaged or crafted file would make a query read outside the mapping and crash Python.
        """
        check_file(Path(file), dim, metric, n_items)
        index = AnnoyIndex(dim, metric)
        index.load(str(file))
        forest = cls(index, metric, dim, int(index.get_n_trees()), int(index.get_n_items()))
        forest.file = Path(file)
        return forest


# Annoy's node (annoylib.h, annoy 1.17): an int32 ``n_descendants``, for the Minkowski metrics a
# float ``a``, two int32 ``children`` (a leaf stores up to K item ids there and over the vector),
# for dot a float ``dot_factor``, then the ``dim`` floats of the vector. Per metric: 4-byte words
# before the vector, and the word where ``children`` starts.
_NODE_LAYOUT: dict[str, tuple[int, int]] = {"angular": (3, 1), "dot": (4, 1), "euclidean": (4, 2), "manhattan": (4, 2)}


def check_file(file: Path, dim: int, metric: str, n_items: int | None = None) -> None:
    """Raise ValueError unless annoy can walk every node of ``file`` without leaving it.

    What annoy's search reads, node ``i`` of ``n_descendants`` ``k`` (annoy finds the roots as
    the last nodes of the file and takes the item count from the last one):

    * ``k == 1`` and ``i`` below the item count: an item, nothing more is followed;
    * ``k <= K`` (``K`` = the ids that fit in a node): a leaf whose first ``k`` ids are items,
      so they must lie in ``0 .. n_items - 1``;
    * otherwise a split node whose two children must be nodes *before* it (annoy writes
      children first), which keeps every walk inside the file and free of cycles.

    The file size must be a whole number of nodes and the item count the one expected. The
    check reads the file once, in blocks, at memory speed.

    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> bad = Path(tempfile.mkdtemp()) / "bad.ann"
    >>> items, root = [1, 0, 0, 0] * 2, [2, 0, 7, 0]     # 1-d angular nodes; the root lists items 0, 7
    >>> _ = bad.write_bytes(np.array(items + root, np.int32).tobytes())
    >>> try:
    ...     check_file(bad, 1, "angular")
    ... except ValueError as err:
    ...     print(err)
    node 2 (a leaf) lists an item outside 0..1
    """
    if metric not in _NODE_LAYOUT:
        raise ValueError(f"unknown annoy metric {metric!r}")
    header, offset = _NODE_LAYOUT[metric]
    words = header + int(dim)
    size = file.stat().st_size
    if size == 0 or size % (4 * words):
        raise ValueError(f"{size} bytes is not a whole number of {4 * words}-byte nodes ({dim}-d {metric})")
    nodes = np.memmap(file, dtype=np.int32, mode="r").reshape(-1, words)
    n_nodes, count = len(nodes), int(nodes[-1, 0])
    if n_items is not None and count != n_items:
        raise ValueError(f"its roots count {count} items, expected {n_items}")
    if not 0 <= count <= n_nodes:
        raise ValueError(f"its roots count {count} items in a file of {n_nodes} nodes")
    leaf_ids = words - offset
    step = max(1, (1 << 20) // words)
    for start in range(0, n_nodes, step):
        part = np.asarray(nodes[start : start + step])
        k = part[:, 0]
        row = np.arange(start, start + len(part))
        item = (k == 1) & (row < count)
        split = ~item & (k > leaf_ids)
        children = part[split, offset : offset + 2].view(np.uint32)  # negative ids become huge
        bad = children >= row[split, None]
        if bad.any():
            raise ValueError(
                f"node {int(row[split][bad.any(axis=1)][0])} (a split node) refers to a node that is not before it"
            )
        leaf = ~item & ~split & (k > 0)
        ids = part[leaf, offset:].view(np.uint32)
        bad = (ids >= count) & (np.arange(leaf_ids) < k[leaf, None])
        if bad.any():
            raise ValueError(f"node {int(row[leaf][bad.any(axis=1)][0])} (a leaf) lists an item outside 0..{count - 1}")
    del nodes
