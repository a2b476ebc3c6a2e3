"""The manifest of a saved collection, read as untrusted input.

``manifest.json`` may have been edited, damaged or written by someone else. :func:`read` checks
every field before anything is opened, and returns a :class:`Manifest` whose paths all lie
inside the collection folder:

* the version folder is a real folder named ``v-<12 hex digits>`` directly in the collection
  folder (no ``..``, no absolute path, no symbolic link);
* every file a load reads (ids, payload, vectors, quantizer, index, extras) is a plain name
  listed in ``files`` with its size and checksum, and is a regular file of the version folder;
* types and ranges are those :func:`explorekit.persistence.save` writes (``dim`` a positive
  integer, ``distance`` one of the four, ``rows`` a count...).

Anything else raises a :class:`PersistenceError` naming the field, never a ``KeyError`` or
``TypeError``. What the files then hold (lengths, shapes) is checked by the loader.

Examples
--------
>>> import json, tempfile
>>> from pathlib import Path
>>> root = Path(tempfile.mkdtemp())
>>> _ = (root / MANIFEST).write_text(json.dumps({"format": FORMAT, "version": 1, "folder": "../x"}))
>>> try:
...     read(root)
... except PersistenceError as err:
...     print(str(err).split(", expected")[0])               # doctest: +ELLIPSIS
load: '/.../manifest.json' is malformed: folder is '../x'
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from explorekit._support.errors import PersistenceError, short_repr
from explorekit.scoring.distances import DISTANCES

FORMAT = "explorekit-collection"
VERSION = 1
MANIFEST = "manifest.json"
VERSION_NAME = re.compile(r"v-[0-9a-f]{12}")  # the version folders save() creates
# What a saved extras item may be (its class, by the name it had when saved): read back as data only.
EXTRAS_CLASSES = ("explorekit.projection:Projection", "explorekit.analysis.projection:Projection")
INDEX_SIBLINGS = (".codes.npy", ".rows.npy")  # read next to index-<k>.ann
_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # what save() writes into a version folder


@dataclass(frozen=True)
class Listed:
    """One file of the version folder, as ``files`` describes it."""

    path: Path
    size: int
    checksum: str


@dataclass(frozen=True)
class SpaceEntry:
    """One vector space: its checked fields and the files it reads."""

    key: str
    name: str
    distance: str
    dim: int
    vectors: str
    quantizer: tuple[dict, str] | None = None  # (meta, file)
    index: tuple[dict, str] | None = None  # (meta, file .ann)
    extras: tuple[dict, str] | None = None  # (items, file)

    def index_files(self) -> tuple[str, ...]:
        """The files of the saved index (the forest, its sign codes and its description)."""
        if self.index is None:
            return ()
        ann = self.index[1]
        return (ann, *(ann + s for s in INDEX_SIBLINGS), ann + ".json")


@dataclass(frozen=True)
class Manifest:
    """A checked manifest: the folder to read, and what it must hold."""

    path: Path  # manifest.json
    folder: Path  # the version folder (inside the collection folder)
    name: str | None
    points: int | None  # absent in no manifest save() wrote, kept optional
    ids: str
    payload: dict
    spaces: tuple[SpaceEntry, ...]
    files: dict[str, Listed]

    def file(self, name: str) -> Path:
        """The path of a listed file (every name the entries use is listed)."""
        return self.files[name].path


class _Fields:
    """Typed reads of manifest fields; any surprise is a PersistenceError naming the field."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, value: Any, expected: str) -> NoReturn:
        raise PersistenceError(
            f"load: {str(self.path)!r} is malformed: {where} is {short_repr(value)}, expected "
            f"{expected}. It was edited or damaged; restore it from a backup or save the "
            "collection again."
        )

    def get(self, obj: dict, key: str, where: str) -> Any:
        if key not in obj:
            raise PersistenceError(
                f"load: {str(self.path)!r} is malformed: {where}.{key} is missing. It was "
                "edited or damaged; restore it from a backup or save the collection again."
            )
        return obj[key]

    def obj(self, value: Any, where: str) -> dict:
        if not isinstance(value, dict):
            self.fail(where, value, "an object")
        return value

    def count(self, value: Any, where: str, low: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            self.fail(where, value, f"an integer >= {low}")
        return value

    def text(self, value: Any, where: str, choices: tuple[str, ...] | None = None) -> str:
        if not isinstance(value, str) or (choices is not None and value not in choices):
            self.fail(where, value, "a string" if choices is None else f"one of {list(choices)}")
        return value

    def number(self, value: Any, where: str, optional: bool = False) -> float | None:
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(where, value, "a finite number" + (" or null" if optional else ""))
        return float(value)


# ------------------------------------------------------------------ reading
def read_raw(root: Path) -> dict:
    """The parsed ``manifest.json`` of ``root`` after the format and version checks."""
    path = root / MANIFEST
    if not root.is_dir():
        raise PersistenceError(
            f"load: no saved collection at {str(root)!r} (not a folder). Pass the folder given to col.save(...)."
        )
    if not path.exists():
        raise PersistenceError(
            f"load: {str(path)!r} is missing; {str(root)!r} is not a saved collection or its save never completed."
        )
    try:
        manifest = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as err:
        raise PersistenceError(f"load: {str(path)!r} is corrupted ({err}).") from None
    except OSError as err:
        raise PersistenceError(f"load: {str(path)!r} cannot be read ({err.strerror or err}).") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise PersistenceError(f"load: {str(path)!r} is not an explorekit collection manifest.")
    version = manifest.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version > VERSION:
        raise PersistenceError(
            f"load: {str(path)!r} has format version {short_repr(version)}, newer than "
            f"this explorekit reads ({VERSION}). Upgrade explorekit to load it."
        )
    if version < 1:
        _Fields(path).fail("version", version, f"an integer from 1 to {VERSION}")
    return manifest


def read(root: Path) -> Manifest:
    """Read and check the manifest of the collection folder ``root``."""
    raw = read_raw(root)
    path = root / MANIFEST
    f = _Fields(path)
    folder_name = f.get(raw, "folder", "manifest")
    if not isinstance(folder_name, str) or not VERSION_NAME.fullmatch(folder_name):
        f.fail("folder", folder_name, "a version folder name like 'v-0123456789ab' inside the collection folder")
    folder = root / folder_name
    if not _is_real(folder, stat.S_ISDIR):
        raise PersistenceError(
            f"load: the version folder {str(folder)!r} named by {str(path)!r} is missing "
            "or not a folder. The saved collection is incomplete; restore it from a backup."
        )
    files = _files(f, f.obj(f.get(raw, "files", "manifest"), "files"), folder)
    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or not name):
        f.fail("name", name, "a non-empty string or null")
    points = raw.get("points")
    if points is not None:
        f.count(points, "points")
    ids = f.text(f.get(raw, "ids", "manifest"), "ids", ("ids.npy", "ids.json"))
    payload = _payload(f, f.obj(f.get(raw, "payload", "manifest"), "payload"))
    spaces = _spaces(f, f.obj(f.get(raw, "spaces", "manifest"), "spaces"))
    manifest = Manifest(path, folder, name, points, ids, payload, spaces, files)
    for where, used in _used_files(manifest):
        if used not in files:
            f.fail(where, used, "a file listed in 'files' (every file a load reads is listed and checksummed)")
    return manifest


def _is_real(path: Path, kind: Any) -> bool:
    """True if ``path`` exists as this kind of entry itself (``lstat``: a symbolic link is not)."""
    try:
        return bool(kind(os.lstat(path).st_mode))
    except OSError:
        return False


def _files(f: _Fields, raw: dict, folder: Path) -> dict[str, Listed]:
    out = {}
    for name, info in raw.items():
        if not _FILE_NAME.fullmatch(name):
            f.fail("a name in files", name, "a plain file name inside the version folder")
        where = f"files[{name!r}]"
        info = f.obj(info, where)
        size = f.count(f.get(info, "size", where), where + ".size")
        checksum = f.text(f.get(info, "checksum", where), where + ".checksum")
        out[name] = Listed(folder / name, size, checksum)
    return out


def _payload(f: _Fields, raw: dict) -> dict:
    out = {"rows": f.count(f.get(raw, "rows", "payload"), "payload.rows")}
    if "keys" in raw:  # the first layout: kinds in the manifest
        keys = raw["keys"]
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) or len(set(keys)) != len(keys):
            f.fail("payload.keys", keys, "a list of distinct column names")
        kinds = f.obj(f.get(raw, "kinds", "payload"), "payload.kinds")
        for key in keys:
            f.text(f.get(kinds, key, "payload.kinds"), f"payload.kinds[{key!r}]")
        out.update(keys=keys, kinds={k: kinds[k] for k in keys})
    return out


def _spaces(f: _Fields, raw: dict) -> tuple[SpaceEntry, ...]:
    if not raw:
        f.fail("spaces", raw, "at least one vector space")
    out, names = [], set()
    for key, entry in raw.items():
        where = f"spaces[{key!r}]"
        entry = f.obj(entry, where)
        name = f.text(f.get(entry, "name", where), where + ".name")
        if name in names:
            f.fail(where + ".name", name, "a name no other space has")
        names.add(name)
        space = SpaceEntry(
            key,
            name,
            f.text(f.get(entry, "distance", where), where + ".distance", DISTANCES),
            f.count(f.get(entry, "dim", where), where + ".dim", 1),
            f.text(f.get(entry, "vectors", where), where + ".vectors"),
            _part(f, entry, "quantizer", where, "meta"),
            _part(f, entry, "index", where, "meta"),
            _part(f, entry, "extras", where, "items"),
        )
        if space.extras is not None:
            _extras_items(f, space.extras[0], where + ".extras.items")
        out.append(space)
    return tuple(out)


def _part(f: _Fields, entry: dict, part: str, where: str, described_by: str) -> tuple[dict, str] | None:
    """``(meta, file)`` of an optional quantizer / index / extras entry."""
    if part not in entry:
        return None
    where = f"{where}.{part}"
    body = f.obj(entry[part], where)
    meta = f.obj(f.get(body, described_by, where), f"{where}.{described_by}")
    return meta, f.text(f.get(body, "file", where), where + ".file")


def _extras_items(f: _Fields, items: dict, where: str) -> None:
    for key, item in items.items():
        here = f"{where}[{key!r}]"
        item = f.obj(item, here)
        f.obj(f.get(item, "meta", here), here + ".meta")
        f.text(f.get(item, "class", here), here + ".class", EXTRAS_CLASSES)
        arrays = f.obj(f.get(item, "arrays", here), here + ".arrays")
        for name, stored in arrays.items():
            f.text(stored, f"{here}.arrays[{name!r}]")


def _used_files(manifest: Manifest) -> list[tuple[str, str]]:
    """``(field, file name)`` of every file a load reads."""
    used = [("ids", manifest.ids), ("payload file", "payload.parquet")]
    for space in manifest.spaces:
        where = f"spaces[{space.key!r}]"
        used.append((where + ".vectors", space.vectors))
        for part in ("quantizer", "extras"):
            if getattr(space, part) is not None:
                used.append((f"{where}.{part}.file", getattr(space, part)[1]))
        used += [(f"{where}.index.file", name) for name in space.index_files()[:3]]
    return used


# ------------------------------------------------------------------ checking the files
def big_array_files(manifest: Manifest) -> set[str]:
    """Files whose checksum ``verify=False`` skips: arrays the loader checks structurally.

    Vectors, quantizer codes and the index (forest and sign codes) are the bulk of a saved
    collection; their shapes, dtypes and (for the annoy forest) every node reference are
    checked when they are opened, so skipping their sums never lets a damaged file crash.
    """
    names = set()
    for space in manifest.spaces:
        names.add(space.vectors)
        if space.quantizer is not None:
            names.add(space.quantizer[1])
        names.update(space.index_files()[:3])
    return names


def verify_files(manifest: Manifest, names: list[str] | set[str], verify: bool, checksum: Any) -> None:
    """Each listed file exists as a regular file with its size, and (when asked) its checksum."""
    skip = set() if verify else big_array_files(manifest)
    for name in sorted(names):
        info = manifest.files[name]
        file = info.path
        if not _is_real(file, stat.S_ISREG):
            raise PersistenceError(
                f"load: {str(file)!r} is missing (or not a regular file). The saved "
                "collection is incomplete; restore it from a backup or save it again."
            )
        size = file.stat().st_size
        if size != info.size:
            raise PersistenceError(
                f"load: {str(file)!r} is truncated or changed: {size} bytes, expected "
                f"{info.size}. Restore it from a backup or save the collection again."
            )
        if name not in skip and checksum(file) != info.checksum:
            raise PersistenceError(
                f"load: {str(file)!r} is corrupted (checksum mismatch). Restore it from a "
                "backup or save the collection again."
            )
