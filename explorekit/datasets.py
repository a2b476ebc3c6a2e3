"""Bundled datasets: real vectors with payload, ready to explore.

- ``stdlib_docs``: 6,041 docstrings of Python's standard library embedded with all-MiniLM-L6-v2;
  vector ``embedding`` (384-d, cosine); payload module, kind, name, qualname, parent, signature,
  n_params, first_line, doc_length, deprecated, tags (list), text.
- ``digits``: scikit-learn's 1,797 8x8 handwritten digits; vectors ``pixels`` (64-d, euclid)
  and ``pca`` (16-d whitened, cosine); payload digit, label, ink, thumbnail (PNG data URI).
- ``clusters2d``: 300 points in the plane in seven named fruit clusters, for teaching discovery
  and context search; vector ``xy`` (2-d, euclid); payload fruit, family, x, y, sweetness,
  colours (list), price (sometimes missing), organic.

``load(name)`` returns a DataFrame: an ``id`` column (0..n-1), the payload columns, then one
column per vector name holding a 1-D float32 array per row. ``load(name, as_collection=True)``
returns the same data as an :class:`explorekit.Collection` with each vector's default distance
(a dataset with one vector gets it as the unnamed vector). The files live in ``datasets/`` (in a
wheel: ``explorekit/_datasets``); each folder has a ``CARD.md`` with source, licence and how it
was built (``datasets/build.py``). Only numpy, pandas and pyarrow are needed to load them.

Every vector of every set also ships its 2-D maps, seeded PCA and UMAP (``layout-<vector>-
<method>.npz``, listed in ``meta.json`` with SHA-256s): a loaded collection draws its first map,
UMAP included, without fitting. Changing the collection (upsert, delete) drops them; the next
map is computed from the changed vectors.

Examples
--------
>>> import explorekit as ek
>>> ek.datasets.list()["name"].tolist()
['clusters2d', 'digits', 'stdlib_docs']
>>> df = ek.datasets.load("digits")
>>> df.shape, df["pixels"][0].shape, df["pca"][0].dtype
((1797, 7), (64,), dtype('float32'))
"""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import pandas as pd

from explorekit._support.errors import ExploreError, PersistenceError, unknown
from explorekit.collection import Collection
from explorekit.data.store import SavedState

if TYPE_CHECKING:
    from explorekit.collection import Collection

__all__ = ["card", "list", "load", "load_clusters2d", "load_digits", "load_stdlib_docs", "path"]

_HERE = Path(__file__).resolve().parent
#: The class a shipped layout becomes on first use (the name persistence gives a saved map).
LAYOUT_CLASS = "explorekit.analysis.projection:Projection"
_ROOTS = (_HERE / "_datasets", _HERE.parent / "datasets")  # wheel, then editable checkout


def _root() -> Path:
    for root in _ROOTS:
        if root.is_dir() and any(root.glob("*/meta.json")):
            return root
    raise PersistenceError(
        f"No bundled datasets found (looked in {[str(r) for r in _ROOTS]}). Reinstall explorekit, "
        "or rebuild them from a checkout with: python datasets/build.py"
    )


def _names() -> builtins.list[str]:
    return sorted(p.parent.name for p in _root().glob("*/meta.json"))


def path(name: str) -> Path:
    """The folder of dataset ``name`` (its data files, ``meta.json`` and ``CARD.md``).

    >>> path("digits").name
    'digits'
    """
    names = _names()
    if not isinstance(name, str) or name not in names:
        raise ExploreError(unknown("dataset", name, names, f"Pass one of {names} (see explorekit.datasets.list())."))
    return _root() / name


def _meta(name: str) -> dict[str, Any]:
    return json.loads((path(name) / "meta.json").read_text())


def card(name: str) -> str:
    """The dataset card (Markdown): source, licence, size, fields, how it was made.

    >>> card("clusters2d").splitlines()[0]
    '# clusters2d'
    """
    return (path(name) / "CARD.md").read_text()


def list() -> pd.DataFrame:  # noqa: A001 - the name the API asks for; builtins.list is used below
    """The bundled datasets, one row each.

    Returns
    -------
    DataFrame with columns ``name``, ``rows``, ``dims`` (``{vector: dim}``), ``vectors`` (the
    vector names), ``distance`` (``{vector: distance}``) and ``description``.

    >>> list().set_index("name").loc["stdlib_docs", "distance"]
    {'embedding': 'cosine'}
    """
    rows = []
    for name in _names():
        meta = _meta(name)
        vectors = meta["vectors"]
        rows.append(
            {
                "name": name,
                "rows": int(meta["rows"]),
                "dims": {k: int(v["dim"]) for k, v in vectors.items()},
                "vectors": builtins.list(vectors),
                "distance": {k: v["distance"] for k, v in vectors.items()},
                "description": meta["description"],
            }
        )
    return pd.DataFrame(rows, columns=["name", "rows", "dims", "vectors", "distance", "description"])


def _list_columns(frame: pd.DataFrame) -> None:
    """Parquet list columns come back as numpy arrays; payload lists should be Python lists."""
    for column in frame.columns:
        if frame[column].dtype == object:
            values = frame[column].tolist()
            if any(isinstance(v, np.ndarray) for v in values):
                frame[column] = [v.tolist() if isinstance(v, np.ndarray) else v for v in values]


def _read(name: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    return _read_folder(path(name), name)


def _read_folder(folder: Path, name: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The DataFrame and meta of the dataset in ``folder`` (``datasets/build.py`` reads what it wrote)."""
    meta = json.loads((folder / "meta.json").read_text())
    try:
        frame = pd.read_parquet(folder / meta["payload"])
        _list_columns(frame)
        n = len(frame)
        for vname, spec in meta["vectors"].items():
            matrix = np.load(folder / spec["file"], allow_pickle=False).astype(np.float32)
            if matrix.shape != (n, spec["dim"]):
                raise PersistenceError(
                    f"Dataset {name!r}: {spec['file']} has shape {matrix.shape}, expected "
                    f"{(n, spec['dim'])}. Rebuild it with: python datasets/build.py {name}"
                )
            matrix.setflags(write=False)  # rows below are views of this block
            frame[vname] = pd.Series(builtins.list(matrix), index=frame.index, dtype=object)
    except OSError as err:
        raise PersistenceError(
            f"Dataset {name!r} could not be read from {folder}: {err}. Rebuild it with: python datasets/build.py {name}"
        ) from err
    return frame, meta


def _as_collection(frame: pd.DataFrame, meta: dict[str, Any], name: str) -> Collection:
    """The dataset as a Collection with each vector's default distance (no shipped maps yet)."""
    specs = meta["vectors"]
    if len(specs) == 1:
        ((vname, spec),) = specs.items()
        return Collection.from_dataframe(frame, vectors=vname, id=meta["id"], distance=spec["distance"], name=name)
    return Collection.from_dataframe(
        frame,
        vectors={k: k for k in specs},
        id=meta["id"],
        distance={k: v["distance"] for k, v in specs.items()},
        name=name,
    )


def _attach_layouts(col: Collection, folder: Path, meta: dict[str, Any], name: str) -> None:
    """Put the shipped 2-D maps (``meta["layouts"]``, written by ``datasets/build.py``) on the
    collection's vector spaces, where :func:`explorekit.analysis.projection.project` looks for a
    cached map. They stay data (:class:`SavedState`) until a map is drawn; a change to the
    collection (upsert, delete) makes new vector spaces without them, so a changed collection
    never shows a stale layout.
    """
    ids = col.ids.to_numpy()
    rebuild = f"Rebuild it with: python datasets/build.py --layouts-only {name}"
    for vname, methods in meta.get("layouts", {}).items():
        space = col.space(vname if len(meta["vectors"]) > 1 else None)
        for method, entry in methods.items():
            try:
                with np.load(folder / entry["file"], allow_pickle=False) as stored:
                    arrays = {key: np.asarray(stored[key]) for key in stored.files}
            except (OSError, ValueError) as err:
                raise PersistenceError(
                    f"Dataset {name!r}: the {method} layout of {vname!r} could not be read from "
                    f"{entry['file']}: {err}. {rebuild}"
                ) from err
            layout_ids, coords = arrays.pop("ids", None), arrays.get("coords")
            if (
                layout_ids is None
                or coords is None
                or coords.shape != (len(ids), 2)
                or not np.array_equal(layout_ids, ids)
            ):
                raise PersistenceError(
                    f"Dataset {name!r}: {entry['file']} does not hold one 2-D point per id of the "
                    f"dataset ({len(ids)} rows). {rebuild}"
                )
            space.extras[f"projection:{method}"] = SavedState(entry["projection"], arrays, LAYOUT_CLASS)


@overload
def load(name: str, as_collection: Literal[False] = ...) -> pd.DataFrame: ...
@overload
def load(name: str, as_collection: Literal[True]) -> Collection: ...


def load(name: str, as_collection: bool = False) -> pd.DataFrame | Collection:
    """Load a bundled dataset as a DataFrame, or as a ready :class:`~explorekit.Collection`.

    Parameters
    ----------
    name : str
        One of ``list()["name"]``: ``"stdlib_docs"``, ``"digits"``, ``"clusters2d"``.
    as_collection : bool, default False
        Return ``Collection.from_dataframe(df, vectors=..., id="id", distance=..., name=name)``
        with each vector's default distance instead of the DataFrame, carrying the dataset's
        shipped 2-D maps (seeded PCA and UMAP from ``datasets/build.py``): the first
        ``ek.plots.map(col, projection="umap")`` draws at once instead of fitting UMAP.

    Returns
    -------
    DataFrame (``id``, payload columns, one float32 vector column per vector name) or Collection.

    Raises
    ------
    ExploreError
        ``name`` is not a bundled dataset (the message lists close matches).

    Examples
    --------
    >>> col = load("clusters2d", as_collection=True)
    >>> col.search([-6.0, 4.0], limit=3)["fruit"].tolist()
    ['apple', 'apple', 'apple']
    """
    if not isinstance(as_collection, bool):
        raise ExploreError(
            f"as_collection: {as_collection!r} is not a bool. Pass True for a Collection or False for a DataFrame."
        )
    frame, meta = _read(name)
    if not as_collection:
        return frame

    col = _as_collection(frame, meta, name)
    _attach_layouts(col, path(name), meta, name)
    return col


def load_stdlib_docs(as_collection: bool = False) -> pd.DataFrame | Collection:
    """6,041 docstrings of Python 3.11's standard library, embedded with all-MiniLM-L6-v2.

    One row per documented module, class, function, method and property. Vector
    ``embedding`` (384-d, cosine) embeds the ``text`` column (``"module.qualname: summary"``).
    Payload: ``module``, ``kind`` (module/class/function/method/property), ``name``,
    ``qualname``, ``parent`` (the class of a method or property, else missing), ``signature``
    (missing when Python cannot tell), ``n_params`` (Int64, missing with the signature),
    ``first_line``, ``doc_length``, ``deprecated``, ``tags`` (list of str), ``text``.
    Source: the CPython standard library (PSF licence); see ``card("stdlib_docs")``.

    >>> df = load_stdlib_docs()
    >>> df.loc[(df["module"] == "json") & (df["name"] == "dumps"), "kind"].tolist()
    ['function']
    """
    return load("stdlib_docs", as_collection)


def load_digits(as_collection: bool = False) -> pd.DataFrame | Collection:
    """1,797 8x8 handwritten digits (scikit-learn's copy of the UCI test set).

    Vectors: ``pixels`` (64-d, the raw 0-16 intensities, euclid) and ``pca`` (16-d,
    PCA-whitened pixels, cosine). Payload: ``digit`` (0-9), ``label`` ("zero".."nine"),
    ``ink`` (sum of intensities), ``thumbnail`` (a 24x24 PNG as a ``data:`` URI, for hover).
    Licence: CC BY 4.0 (UCI); see ``card("digits")``.

    >>> load_digits()["digit"].value_counts().sort_index().tolist()[:3]
    [178, 182, 177]
    """
    return load("digits", as_collection)


def load_clusters2d(as_collection: bool = False) -> pd.DataFrame | Collection:
    """300 points in the plane: seven named fruit clusters, for teaching discovery and context.

    Vector ``xy`` (2-d, euclid, equal to the payload ``x``, ``y``), so discovery zones and
    context pairs can be drawn exactly (a context pair splits the plane along the perpendicular
    bisector of its two points). Payload: ``fruit``, ``family`` (pome/stone/citrus), ``x``,
    ``y``, ``sweetness`` (0-10), ``colours`` (list of str), ``price`` (sometimes missing),
    ``organic`` (bool). Synthetic, CC0; see ``card("clusters2d")``.

    >>> load_clusters2d().groupby("family").size().to_dict()
    {'citrus': 125, 'pome': 90, 'stone': 85}
    """
    return load("clusters2d", as_collection)
