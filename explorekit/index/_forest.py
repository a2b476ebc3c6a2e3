"""The annoy forest of one vector space: building (all cores, with progress), querying, files.

Annoy's metric follows the collection distance: ``angular`` for cosine (the stored vectors are
already unit length), ``dot``, ``euclidean`` and ``manhattan``. Annoy only proposes
candidates; explorekit scores them again with Qdrant's formulas.

Examples
--------
>>> import numpy as np
>>> stored = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
>>> forest = Forest.build(stored, "euclid", n_trees=5)
>>> forest.nns(stored[7], 1, search_k=-1).tolist()
[7]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from annoy import AnnoyIndex

from explorekit._support.progress import task
from explorekit.scoring.distances import Distance

METRICS: dict[str, str] = {"cosine": "angular", "dot": "dot", "euclid": "euclidean",
                           "manhattan": "manhattan"}
_SEED = 42


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
            for i, row in enumerate(stored[start:start + 4096], start):
                index.add_item(i, row)
        status.note(f"explorekit: annoy index of {n:,} x {dim}: building {n_trees} trees on all cores")
        index.build(n_trees, n_jobs=-1)          # releases the GIL: the progress line keeps counting
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
    def load(cls, file: Path, dim: int, metric: str, n_trees: int | None = None) -> "Forest":
        """Memory-map a saved forest (annoy's ``load`` does not read the file into memory)."""
        index = AnnoyIndex(dim, metric)
        index.load(str(file))
        forest = cls(index, metric, dim, int(index.get_n_trees()), int(index.get_n_items()))
        forest.file = Path(file)
        return forest
