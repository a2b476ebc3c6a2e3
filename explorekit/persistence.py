"""Saving and loading collections: a folder with a manifest, checksums and atomic switch-over.

Layout of ``path/``::

    manifest.json            format version, the active version folder, and for every file
                             its size and checksum
    v-<token>/ids.npy | ids.json
    v-<token>/payload.parquet
    v-<token>/vectors-<k>.npy          one per vector name (memory-mapped on load)
    v-<token>/quantizer-<k>.npz        codes and parameters (no pickle)
    v-<token>/index-<k>.ann            the annoy index (memory-mapped by annoy on load)
    v-<token>/extras-<k>.npz           cached projections

A save writes a new version folder completely (and fsyncs it), then replaces ``manifest.json``
with ``os.replace`` (atomic), then removes older version folders. A save killed at any moment
leaves a manifest that names a complete version: the previous one or the new one.

Checksums: ``sum64`` (the sum of the file's 64-bit words modulo 2**64, plus a CRC32 of the tail)
for large files, which numpy computes at memory speed, so a flipped byte anywhere is detected
without making a memory-mapped load slow; sizes catch truncation.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from explorekit._support.errors import PersistenceError
from explorekit.data.ids import IdIndex
from explorekit.data.payload import Payload
from explorekit.data.payload_arrow import upgrade_first_layout
from explorekit.data.store import SavedState, Store, VectorSpace
from explorekit.index import load_index
from explorekit.quantization import load_quantizer


FORMAT = "explorekit-collection"
VERSION = 1


# ------------------------------------------------------------------ checksums
def checksum(path: Path) -> str:
    """``sum64:<hex>:<crc of the last bytes>`` of a file, read through a memory map."""
    size = path.stat().st_size
    if size == 0:
        return "sum64:0:0"
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    words = size // 8
    total = int(np.add.reduce(raw[: words * 8].view(np.uint64), dtype=np.uint64)) if words else 0
    tail = zlib.crc32(bytes(raw[words * 8:])) if size % 8 else 0
    head = zlib.crc32(bytes(raw[:4096]))
    del raw
    return f"sum64:{total:x}:{tail:x}:{head:x}"


# ------------------------------------------------------------------ payload
def _save_payload(payload: Payload, path: Path) -> dict:
    pq.write_table(payload.to_arrow(), path)
    return {"rows": len(payload)}


def _load_payload(path: Path, meta: dict) -> Payload:
    table = pq.read_table(path)
    if "keys" in meta:                      # the first layout: v:/p:/n: columns, kinds in the manifest
        table = upgrade_first_layout(table, {k: meta["kinds"][k] for k in meta["keys"]}, meta["rows"])
    payload = Payload.from_arrow(table)
    if len(payload) != meta["rows"]:
        raise PersistenceError(f"load: {str(path)!r} holds {len(payload)} payload rows, the manifest says "
                               f"{meta['rows']}. Restore it from a backup or save the collection again.")
    return payload


# ------------------------------------------------------------------ save
def save(store: Store, path: str | os.PathLike) -> Path:
    """Write ``store`` to the folder ``path`` (created or replaced atomically)."""
    root = Path(path)
    if root.exists() and not root.is_dir():
        raise PersistenceError(f"save: {str(root)!r} exists and is not a folder. Choose a folder path.")
    root.mkdir(parents=True, exist_ok=True)
    token = f"v-{secrets.token_hex(6)}"
    folder = root / f".{token}.partial"
    folder.mkdir()
    try:
        manifest = _write_version(store, folder)
        for child in folder.iterdir():
            _fsync(child)
        final = root / token
        os.rename(folder, final)
        _fsync_dir(root)
        manifest.update(format=FORMAT, version=VERSION, folder=token)
        tmp = root / f".manifest-{token}.json"
        tmp.write_text(json.dumps(manifest, indent=1))
        _fsync(tmp)
        os.replace(tmp, root / "manifest.json")
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    for child in root.iterdir():            # older versions and leftovers of killed saves
        if child.name != token and child.name != "manifest.json":
            shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
    return root


def _write_version(store: Store, folder: Path) -> dict:
    files: dict[str, Any] = {}
    ids = store.ids
    if ids.all_int and len(ids):
        np.save(folder / "ids.npy", ids.array(), allow_pickle=False)
        ids_file = "ids.npy"
    else:
        (folder / "ids.json").write_text(json.dumps(ids.values))
        ids_file = "ids.json"
    payload_meta = _save_payload(store.payload, folder / "payload.parquet")
    spaces = {}
    for k, (name, space) in enumerate(store.spaces.items()):
        entry: dict[str, Any] = {"name": name, "distance": space.distance, "dim": space.dim,
                                 "vectors": f"vectors-{k}.npy"}
        np.save(folder / entry["vectors"], np.ascontiguousarray(space.stored), allow_pickle=False)
        if space.quantizer is not None:
            meta, arrays = space.quantizer.state()
            entry["quantizer"] = {"meta": meta, "file": f"quantizer-{k}.npz"}
            np.savez(folder / entry["quantizer"]["file"], **arrays)
        if space.index is not None:
            entry["index"] = {"file": f"index-{k}.ann", "meta": space.index.save(folder / f"index-{k}.ann")}
        extras = {key: _state_of(value) for key, value in space.extras.items()
                  if isinstance(value, SavedState) or hasattr(value, "state")}
        if extras:
            arrays_all, metas = {}, {}
            for j, (key, value) in enumerate(extras.items()):
                meta, arrays = value.meta, value.arrays
                metas[key] = {"meta": meta, "arrays": {a: f"e{j}_{a}" for a in arrays}}
                arrays_all.update({f"e{j}_{a}": v for a, v in arrays.items()})
            entry["extras"] = {"file": f"extras-{k}.npz", "items": metas}
            np.savez(folder / entry["extras"]["file"], **arrays_all)
        spaces[str(k)] = entry
    for child in sorted(folder.iterdir()):
        files[child.name] = {"size": child.stat().st_size, "checksum": checksum(child)}
    return {"name": store.name, "points": len(store), "ids": ids_file, "payload": payload_meta,
            "spaces": spaces, "files": files}


def _state_of(value: Any) -> SavedState:
    """What is saved of a cached object: its ``state()``, or the SavedState it was loaded as."""
    return value if isinstance(value, SavedState) else SavedState(*value.state())


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ------------------------------------------------------------------ load
def read_manifest(root: Path) -> dict:
    path = root / "manifest.json"
    if not root.is_dir():
        raise PersistenceError(f"load: no saved collection at {str(root)!r} (not a folder). "
                               "Pass the folder given to col.save(...).")
    if not path.exists():
        raise PersistenceError(f"load: {str(path)!r} is missing; {str(root)!r} is not a saved collection "
                               "or its save never completed.")
    try:
        manifest = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise PersistenceError(f"load: {str(path)!r} is corrupted ({err}).") from None
    if manifest.get("format") != FORMAT:
        raise PersistenceError(f"load: {str(path)!r} is not an explorekit collection manifest.")
    if not isinstance(manifest.get("version"), int) or manifest["version"] > VERSION:
        raise PersistenceError(f"load: {str(path)!r} has format version {manifest.get('version')!r}, newer than "
                               f"this explorekit reads ({VERSION}). Upgrade explorekit to load it.")
    return manifest


def load(path: str | os.PathLike, mmap: bool = True, verify: bool = True) -> Store:
    """Read a collection saved with :func:`save`; vectors are memory-mapped when ``mmap``."""
    root = Path(path)
    manifest = read_manifest(root)
    folder = root / manifest["folder"]
    for name, info in manifest["files"].items():
        file = folder / name
        if not file.exists():
            raise PersistenceError(f"load: {str(file)!r} is missing. The saved collection is incomplete.")
        size = file.stat().st_size
        if size != info["size"]:
            raise PersistenceError(f"load: {str(file)!r} is truncated or changed: {size} bytes, expected "
                                   f"{info['size']}. Restore it from a backup or save the collection again.")
        if verify and checksum(file) != info["checksum"]:
            raise PersistenceError(f"load: {str(file)!r} is corrupted (checksum mismatch). Restore it from a "
                                   "backup or save the collection again.")
    try:
        if manifest["ids"] == "ids.npy":
            ids = IdIndex(np.load(folder / "ids.npy", allow_pickle=False).tolist())
        else:
            ids = IdIndex(json.loads((folder / "ids.json").read_text()))
        payload = _load_payload(folder / "payload.parquet", manifest["payload"])
        spaces = {}
        for entry in manifest["spaces"].values():
            stored = np.load(folder / entry["vectors"], mmap_mode="r" if mmap else None, allow_pickle=False)
            if not mmap:
                stored.setflags(write=False)
            space = VectorSpace(entry["name"], entry["distance"], stored)
            if "quantizer" in entry:
                with np.load(folder / entry["quantizer"]["file"], allow_pickle=False) as arrays:
                    space.quantizer = load_quantizer(entry["quantizer"]["meta"], dict(arrays))
            if "index" in entry:
                space.index = load_index(folder / entry["index"]["file"], entry["index"]["meta"], space)
            if "extras" in entry:
                with np.load(folder / entry["extras"]["file"], allow_pickle=False) as arrays:
                    for key, item in entry["extras"]["items"].items():
                        space.extras[key] = SavedState(item["meta"], {a: np.asarray(arrays[f]) for a, f in item["arrays"].items()})
            spaces[entry["name"]] = space
    except PersistenceError:
        raise
    except Exception as err:  # noqa: BLE001 - any failure to decode is reported with the file
        raise PersistenceError(f"load: {str(folder)!r} could not be read ({type(err).__name__}: {err}).") from None
    return Store(ids, spaces, payload, manifest.get("name"))
