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

Ownership (:mod:`.folder`): save writes only into a new or empty folder or a
collection folder (one with a collection ``manifest.json``), and removes only the entries it
creates (``v-<hex>/``, ``.v-<hex>.partial/``, ``.manifest-v-<hex>.json``); a lock file,
``.explorekit.lock``, serialises saves of one folder from threads and processes (last writer
wins). OS errors (a read-only folder, a full disk) become a PersistenceError naming the path,
and leave neither temporary files nor a changed collection.

Loading treats the manifest as untrusted input (:mod:`.manifest`): every path stays
inside the folder, every file read is listed with size and checksum, every field is checked,
and ids, vectors, payload, quantizer codes and index agree in length. ``verify=False`` skips
the checksums of the big array files only; those are checked structurally (shapes, dtypes,
every annoy node reference), so a damaged file gives an error, never a crash. A damaged index
is dropped with a warning; loading never builds one (queries scan exactly until
``col.build_index()`` or the collection's background build attaches one).

Checksums: ``sum64`` (the sum of the file's 64-bit words modulo 2**64, plus a CRC32 of the tail)
for large files, which numpy computes at memory speed, so a flipped byte anywhere is detected
without making a memory-mapped load slow; sizes catch truncation.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import warnings
import zlib
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from explorekit._support.errors import PersistenceError
from explorekit.data.ids import IdIndex
from explorekit.data.payload import Payload
from explorekit.data.payload_arrow import upgrade_first_layout
from explorekit.data.store import SavedState, Store, VectorSpace
from explorekit.index import METRICS, check_index_meta, load_index
from explorekit.persistence import folder as owned
from explorekit.persistence.manifest import FORMAT, MANIFEST, VERSION, Manifest, SpaceEntry, read_raw, verify_files
from explorekit.persistence.manifest import read as read_checked_manifest
from explorekit.quantization import load_quantizer, make_quantizer

__all__ = ["FORMAT", "VERSION", "checksum", "load", "read_manifest", "save"]
_LOAD_ATTEMPTS = 5  # an unlocked load that raced a save reads the manifest again


# ------------------------------------------------------------------ checksums
def checksum(path: Path) -> str:
    """``sum64:<hex>:<crc of the last bytes>`` of a file, read through a memory map."""
    size = path.stat().st_size
    if size == 0:
        return "sum64:0:0"
    raw = np.memmap(path, dtype=np.uint8, mode="r")
    words = size // 8
    total = int(np.add.reduce(raw[: words * 8].view(np.uint64), dtype=np.uint64)) if words else 0
    tail = zlib.crc32(bytes(raw[words * 8 :])) if size % 8 else 0
    head = zlib.crc32(bytes(raw[:4096]))
    del raw
    return f"sum64:{total:x}:{tail:x}:{head:x}"


# ------------------------------------------------------------------ payload
def _save_payload(payload: Payload, path: Path) -> dict:
    pq.write_table(payload.to_arrow(), path)
    return {"rows": len(payload)}


def _load_payload(path: Path, meta: dict) -> Payload:
    table = pq.read_table(path)
    if "keys" in meta:  # the first layout: v:/p:/n: columns, kinds in the manifest
        table = upgrade_first_layout(table, {k: meta["kinds"][k] for k in meta["keys"]}, meta["rows"])
    payload = Payload.from_arrow(table)
    if len(payload) != meta["rows"]:
        raise PersistenceError(
            f"load: {str(path)!r} holds {len(payload)} payload rows, the manifest says "
            f"{meta['rows']}. Restore it from a backup or save the collection again."
        )
    return payload


# ------------------------------------------------------------------ save
def save(store: Store, path: str | os.PathLike) -> Path:
    """Write ``store`` to the folder ``path``: a new or empty folder, or a collection folder.

    Refuses ``""``, ``None``, a file, a path under a file and a folder holding other files
    (PersistenceError naming the path and the fix). Holding the folder's lock, it removes
    leftovers of killed saves, writes the new version, switches the manifest to it and removes
    the older version; any other entry of the folder is left alone.
    """
    root = owned.as_folder(path, "save")
    created = not root.exists()
    try:
        owned.check_target(root)
        root.mkdir(parents=True, exist_ok=True)
        with owned.lock(root):
            owned.check_target(root)  # another writer may have been first
            current = owned.current_version(root)
            owned.remove_ours(root, keep={current} if current else set())  # killed saves' leftovers
            token = _write_and_switch(store, root)
            owned.remove_ours(root, keep={token, owned.current_version(root) or token})
    except OSError as err:
        if created:
            owned.remove_new_folder(root)
        raise owned.os_error(root, err) from None
    except BaseException:
        if created:
            owned.remove_new_folder(root)
        raise
    return root


def _write_and_switch(store: Store, root: Path) -> str:
    """Write a complete version folder, then point the manifest at it; returns its name.

    On any failure before the switch, what this call created is removed and the manifest
    still names the previous version.
    """
    token = f"v-{secrets.token_hex(6)}"
    partial, final, temp = root / f".{token}.partial", root / token, root / f".manifest-{token}.json"
    try:
        partial.mkdir()
        manifest = _write_version(store, partial)
        for child in partial.iterdir():
            _fsync(child)
        os.rename(partial, final)
        _fsync_dir(root)
        manifest.update(format=FORMAT, version=VERSION, folder=token)
        temp.write_text(json.dumps(manifest, indent=1))
        _fsync(temp)
        os.replace(temp, root / MANIFEST)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
        with suppress(OSError):
            temp.unlink(missing_ok=True)
        raise
    with suppress(OSError):  # the switch is done; this only hastens its way to the disk
        _fsync_dir(root)
    return token


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
        entry: dict[str, Any] = {
            "name": name,
            "distance": space.distance,
            "dim": space.dim,
            "vectors": f"vectors-{k}.npy",
        }
        np.save(folder / entry["vectors"], np.ascontiguousarray(space.stored), allow_pickle=False)
        if space.quantizer is not None:
            meta, arrays = space.quantizer.state()
            entry["quantizer"] = {"meta": meta, "file": f"quantizer-{k}.npz"}
            np.savez(folder / entry["quantizer"]["file"], **arrays)
        if space.index is not None:
            entry["index"] = {"file": f"index-{k}.ann", "meta": space.index.save(folder / f"index-{k}.ann")}
        extras = {
            key: _state_of(value)
            for key, value in space.extras.items()
            if isinstance(value, SavedState) or hasattr(value, "state")
        }
        if extras:
            arrays_all, metas = {}, {}
            for j, (key, value) in enumerate(extras.items()):
                metas[key] = {"meta": value.meta, "class": value.kind, "arrays": {a: f"e{j}_{a}" for a in value.arrays}}
                arrays = value.arrays
                arrays_all.update({f"e{j}_{a}": v for a, v in arrays.items()})
            entry["extras"] = {"file": f"extras-{k}.npz", "items": metas}
            np.savez(folder / entry["extras"]["file"], **arrays_all)
        spaces[str(k)] = entry
    for child in sorted(folder.iterdir()):
        files[child.name] = {"size": child.stat().st_size, "checksum": checksum(child)}
    return {
        "name": store.name,
        "points": len(store),
        "ids": ids_file,
        "payload": payload_meta,
        "spaces": spaces,
        "files": files,
    }


def _state_of(value: Any) -> SavedState:
    """What is saved of a cached object: its ``state()`` and class, or the SavedState it was loaded as."""
    if isinstance(value, SavedState):
        return value
    meta, arrays = value.state()
    return SavedState(meta, arrays, f"{type(value).__module__}:{type(value).__qualname__}")


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
    """The parsed manifest of a collection folder (format and version checked)."""
    return read_raw(Path(root))


def load(path: str | os.PathLike, mmap: bool = True, verify: bool = True) -> Store:
    """Read a collection saved with :func:`save`; vectors are memory-mapped when ``mmap``.

    The load holds the folder's lock while it opens the files (see :func:`.folder.reading`);
    without it, a load that overlaps a save may find its version removed, and then reads the
    manifest again and loads the version the new manifest names.
    """
    root = owned.as_folder(path, "load")
    with owned.reading(root):
        attempt = 1
        while True:
            named = owned.current_version(root)
            try:
                return _load_version(read_checked_manifest(root), mmap, verify)
            except PersistenceError:
                if attempt == _LOAD_ATTEMPTS or owned.current_version(root) == named:
                    raise
                attempt += 1


def _load_version(m: Manifest, mmap: bool, verify: bool) -> Store:
    index_files = {name for space in m.spaces for name in space.index_files()}
    verify_files(m, set(m.files) - index_files, verify, checksum)
    try:
        ids = _load_ids(m)
        _agree(m, len(ids), m.points, "points (the manifest's count)")
        _agree(m, len(ids), m.payload["rows"], "payload rows")
        payload = _load_payload(m.file("payload.parquet"), m.payload)
        spaces = {}
        for entry in m.spaces:
            spaces[entry.name] = _load_space(m, entry, len(ids), mmap, verify)
        return Store(ids, spaces, payload, m.name)
    except PersistenceError:
        raise
    except Exception as err:  # noqa: BLE001 - any failure to decode is reported with the file
        raise PersistenceError(f"load: {str(m.folder)!r} could not be read ({type(err).__name__}: {err}).") from None


def _all_finite(stored: np.ndarray, block: int = 65_536) -> bool:
    """No NaN or infinity in ``stored``, in blocks of rows (float64 row sums of float32 never overflow).

    >>> _all_finite(np.ones((3, 2), np.float32)), _all_finite(np.array([[1, np.nan]], np.float32))
    (True, False)
    """
    return all(
        np.isfinite(np.add.reduce(stored[i : i + block], axis=1, dtype=np.float64)).all()
        for i in range(0, len(stored), block)
    )


def _agree(m: Manifest, n: int, count: int | None, what: str) -> None:
    """PersistenceError unless ``count`` (when known) is the number of ids."""
    if count is not None and count != n:
        raise PersistenceError(
            f"load: {str(m.folder)!r} does not hold one collection: {n} ids but {count} {what}. "
            "Files of different saves were mixed or the manifest was edited; restore it from a "
            "backup or save the collection again."
        )


def _load_ids(m: Manifest) -> IdIndex:
    file = m.file(m.ids)
    if m.ids == "ids.npy":
        values = np.load(file, allow_pickle=False)
        if values.ndim != 1 or values.dtype.kind not in "ui":
            raise PersistenceError(
                f"load: {str(file)!r} holds {values.dtype} values of shape {values.shape}, not "
                "a list of integer ids. Restore it from a backup or save the collection again."
            )
        return IdIndex(values.tolist())
    values = json.loads(file.read_text())
    if not isinstance(values, list):
        raise PersistenceError(
            f"load: {str(file)!r} holds a {type(values).__name__}, not a list of ids. "
            "Restore it from a backup or save the collection again."
        )
    return IdIndex(values)


def _load_space(m: Manifest, entry: SpaceEntry, n: int, mmap: bool, verify: bool) -> VectorSpace:
    file = m.file(entry.vectors)
    stored = np.load(file, mmap_mode="r" if mmap else None, allow_pickle=False)
    if (
        stored.dtype != np.float32
        or stored.ndim != 2
        or stored.shape[1:] != (entry.dim,)
        or not stored.flags.c_contiguous
    ):
        raise PersistenceError(
            f"load: {str(file)!r} holds {stored.dtype} vectors of shape {stored.shape}, "
            f"expected float32 rows of {entry.dim}. Restore it from a backup or save the "
            "collection again."
        )
    _agree(m, n, len(stored), f"vectors in {entry.vectors}")
    if verify and not _all_finite(stored):
        raise PersistenceError(
            f"load: {str(file)!r} holds NaN or infinite vector values, which explorekit never "
            "saves. Restore it from a backup or save the collection again."
        )
    if not mmap:
        stored.setflags(write=False)
    space = VectorSpace(entry.name, entry.distance, stored)
    if entry.quantizer is not None:
        space.quantizer = _load_quantizer(m, entry, space)
    if entry.index is not None:
        space.index = _load_index(m, entry, space, verify)
    if entry.extras is not None:
        space.extras.update(_load_extras(m, entry, space))
    return space


def _load_quantizer(m: Manifest, entry: SpaceEntry, space: VectorSpace) -> Any:
    """The saved quantizer, checked against one fitted afresh on two rows: same method, config,
    distance and dimension, same arrays with the same dtypes and shapes (but for the row count)."""
    meta, name = entry.quantizer
    with np.load(m.file(name), allow_pickle=False) as arrays:
        quantizer = load_quantizer(meta, {key: arrays[key] for key in arrays.files})
    reference = make_quantizer(quantizer.config, space.distance)
    reference.fit(np.zeros((2, space.dim), np.float32), space.distance)
    (got_meta, got), (ref_meta, ref) = quantizer.state(), reference.state()
    problems = [key for key in ("method", "config", "distance", "dim") if got_meta.get(key) != ref_meta.get(key)]
    problems += [key for key, value in got_meta.items() if isinstance(value, float) and not math.isfinite(value)]
    problems += [
        key
        for key in set(got) | set(ref)
        if key not in got
        or key not in ref
        or got[key].dtype != ref[key].dtype
        or _without_rows(got[key], key, quantizer.row_axis) != _without_rows(ref[key], key, quantizer.row_axis)
    ]
    if problems:
        raise PersistenceError(
            f"load: the quantizer of {space.label} in {str(m.file(name))!r} does not fit its "
            f"vectors ({sorted(problems)} differ from a {space.dim}-d {space.distance} "
            f"quantizer). Restore it from a backup or quantize again."
        )
    _agree(m, len(space.stored), len(quantizer), f"quantizer codes in {name}")
    return quantizer


def _without_rows(array: np.ndarray, key: str, row_axis: int) -> tuple:
    shape = list(array.shape)
    if key == "codes" and len(shape) > row_axis:
        shape[row_axis] = -1
    return tuple(shape)


def _load_index(m: Manifest, entry: SpaceEntry, space: VectorSpace, verify: bool) -> Any:
    """The saved index, or None with a warning when its files are damaged (it is derived data:
    the planner rebuilds it from the vectors when a query needs it). A malformed description in
    the manifest is an error like any other malformed field."""
    meta, name = entry.index
    file = m.file(name)
    check_index_meta(meta, str(file), space.dim, METRICS[space.distance], space.distance, len(space.stored))
    try:
        verify_files(m, entry.index_files(), verify, checksum)
        return load_index(file, meta, space)
    except PersistenceError as err:
        reason = str(err).removesuffix(" Rebuild it with col.build_index().")
        warnings.warn(
            f"load: the approximate index of {space.label} was not loaded ({reason}) Queries scan "
            "exactly until it is built again in the background or now with col.build_index().",
            UserWarning,
            stacklevel=6,
        )
        return None


def _load_extras(m: Manifest, entry: SpaceEntry, space: VectorSpace) -> dict:
    """Cached objects (maps) as data: the layer that owns their class turns them back into objects."""
    items, name = entry.extras
    out = {}
    with np.load(m.file(name), allow_pickle=False) as arrays:
        for key, item in items.items():
            out[key] = SavedState(
                item["meta"], {a: np.asarray(arrays[f]) for a, f in item["arrays"].items()}, item["class"]
            )
    return out
