"""The folder a collection is saved in: which paths save accepts, what it owns, its lock.

A collection folder is recognised by its ``manifest.json`` (format ``explorekit-collection``).
``save`` writes into a new or empty folder, or into a collection folder, and nowhere else: a
folder holding other files is refused, so ``col.save("")`` or ``col.save("~/thesis")`` can never
empty someone's folder.

Inside a collection folder, save touches only the names it creates (:func:`is_ours`):

* ``v-<12 hex digits>/``           version folders (the manifest names the current one)
* ``.v-<12 hex digits>.partial/``  a version being written
* ``.manifest-v-<12 hex>.json``    a manifest being written
* ``.explorekit.lock``             the lock file (kept: removing it would race with waiters)

Anything else (a user's ``notes.txt``, a symbolic link named like a version) stays untouched.

Saves of one folder are serialised by an exclusive lock on ``.explorekit.lock`` (``filelock``:
``flock`` on POSIX, ``msvcrt`` on Windows), taken by every thread and process, so the last writer
wins and no save ever removes a version that another save's manifest names. Loads take the same
lock while they open the files (when the folder has a lock file and it can be taken), so a save
cannot remove the version a load is reading.

Examples
--------
>>> is_ours(".v-0123456789ab.partial"), is_ours("v-0123456789ab"), is_ours("notes.txt")
(True, True, False)
>>> try:
...     as_folder("", "save")
... except PersistenceError as err:
...     print(str(err)[:52])
save: path='' is empty, which would mean the current
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from filelock import FileLock

from explorekit._support.errors import PersistenceError, short_repr
from explorekit.persistence.manifest import FORMAT, MANIFEST, VERSION_NAME

LOCK = ".explorekit.lock"
PARTIAL_NAME = re.compile(r"\.v-[0-9a-f]{12}\.partial")
TEMP_MANIFEST_NAME = re.compile(r"\.manifest-v-[0-9a-f]{12}\.json")
# the files save writes into a version folder (a folder named like a version holding anything else is not ours)
SAVED_FILE_NAME = re.compile(
    r"ids\.(npy|json)|payload\.parquet|vectors-\d+\.npy|quantizer-\d+\.npz|extras-\d+\.npz"
    r"|index-\d+\.ann(\.codes\.npy|\.rows\.npy|\.json)?"
)
_SPACE = (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC))
_ACCESS = (errno.EACCES, errno.EPERM, errno.EROFS)


def as_folder(path: object, action: str) -> Path:
    """The folder ``path`` names, or a PersistenceError that says what is accepted.

    >>> as_folder("runs/my-collection", "save").name
    'my-collection'
    """
    example = f"col.{action}('my-collection')" if action == "save" else "ek.Collection.load('my-collection')"
    if not isinstance(path, (str, os.PathLike)):
        raise PersistenceError(
            f"{action}: path={short_repr(path)} of type {type(path).__name__} is not a folder "
            f"path. Pass a str or pathlib.Path naming a folder, e.g. {example}."
        )
    text = os.fspath(path)
    if not isinstance(text, str):
        raise PersistenceError(
            f"{action}: path={short_repr(path)} is a bytes path. Pass a str or pathlib.Path, e.g. {example}."
        )
    if not text.strip():
        raise PersistenceError(
            f"{action}: path={text!r} is empty, which would mean the current folder. Name the "
            f"folder of the collection, e.g. {example}."
        )
    if "\0" in text:
        raise PersistenceError(f"{action}: path={short_repr(text)} contains a NUL character. Pass a folder path.")
    return Path(text)


# ------------------------------------------------------------------ ownership
def is_ours(name: str) -> bool:
    """True for the names save creates in a collection folder (besides ``manifest.json``)."""
    return bool(
        name == LOCK
        or VERSION_NAME.fullmatch(name)
        or PARTIAL_NAME.fullmatch(name)
        or TEMP_MANIFEST_NAME.fullmatch(name)
    )


def made_by_save(entry: Path) -> bool:
    """True if ``entry`` is named like save's own and holds only what save writes there.

    A folder named like a version (``v-0123456789ab``) that holds a user's ``thesis.txt`` is not ours.
    """
    if not is_ours(entry.name) or entry.is_symlink():
        return False
    if entry.name == LOCK or TEMP_MANIFEST_NAME.fullmatch(entry.name):
        return entry.is_file()
    if not entry.is_dir():
        return False
    try:
        return all(
            SAVED_FILE_NAME.fullmatch(child.name) and not child.is_symlink() and child.is_file()
            for child in entry.iterdir()
        )
    except OSError:
        return False


def is_collection(root: Path) -> bool:
    """True if ``root/manifest.json`` is an explorekit collection manifest (any version)."""
    try:
        manifest = json.loads((root / MANIFEST).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == FORMAT


def check_target(root: Path) -> None:
    """Refuse a path save must not write to: a file, a path under a file, a foreign folder."""
    if root.exists() or root.is_symlink():
        if not root.is_dir():
            raise PersistenceError(
                f"save: {str(root)!r} is a file, not a folder. Save into a new or empty folder, e.g. a path next to it."
            )
        names = sorted(child.name for child in root.iterdir())
        if names and not is_collection(root) and not all(made_by_save(root / n) for n in names):
            shown = ", ".join(repr(n) for n in names[:5]) + (", ..." if len(names) > 5 else "")
            raise PersistenceError(
                f"save: {str(root)!r} is a folder with other files ({shown}) and is not an explorekit "
                "collection (it has no collection manifest.json). Save into a new or empty folder, e.g. "
                f"{str(root / 'collection')!r}; save never writes into a folder it does not own."
            )
        return
    blocker = _file_above(root)
    if blocker is not None:
        raise PersistenceError(
            f"save: {str(root)!r} lies under {str(blocker)!r}, which is a file, so the folder "
            "cannot be created. Choose a path whose parent folders are folders."
        )


def _file_above(root: Path) -> Path | None:
    """The first existing entry above ``root`` when it is not a folder, else None."""
    for parent in Path(os.path.abspath(root)).parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def lock(root: Path) -> FileLock:
    """The exclusive lock of a collection folder (``with lock(root): ...``), for threads and processes."""
    return FileLock(root / LOCK)


@contextmanager
def reading(root: Path) -> Iterator[bool]:
    """Hold the folder's lock while a load opens its files, when the folder has a lock file.

    A load never creates the lock file (the folder may not be a collection, or not writable);
    without one, or when it cannot be taken (a read-only folder), the load goes on unlocked
    and relies on re-reading the manifest if a save removed the version it was reading.
    Yields whether the lock is held.
    """
    held = None
    if (root / LOCK).is_file() and not (root / LOCK).is_symlink():
        held = lock(root)
        try:
            held.acquire()
        except OSError:
            held = None
    try:
        yield held is not None
    finally:
        if held is not None:
            held.release()


def remove_ours(root: Path, keep: set[str]) -> None:
    """Remove save's own entries of ``root`` except ``keep``: old versions, killed saves' leftovers.

    Symbolic links and every name save does not create are left alone. Call it holding the lock.
    """
    for child in root.iterdir():
        name = child.name
        if name in keep or name == LOCK or not made_by_save(child):
            continue
        try:
            if TEMP_MANIFEST_NAME.fullmatch(name):
                if stat.S_ISREG(os.lstat(child).st_mode):
                    child.unlink()
            elif child.is_dir():
                shutil.rmtree(child)
        except OSError:
            pass  # a leftover stays; the next save tries again


def remove_new_folder(root: Path) -> None:
    """After a failed first save into a folder this save created: remove it when it holds nothing but
    the lock file (so a failed save leaves nothing behind); anything else in it stays."""
    with suppress(OSError):
        if {child.name for child in root.iterdir()} <= {LOCK}:
            (root / LOCK).unlink(missing_ok=True)
            root.rmdir()


def current_version(root: Path) -> str | None:
    """The version folder the manifest names now (None when there is none yet)."""
    try:
        name = json.loads((root / MANIFEST).read_text()).get("folder")
    except (OSError, ValueError, UnicodeDecodeError, AttributeError):
        return None
    return name if isinstance(name, str) else None


def os_error(root: Path, err: OSError) -> PersistenceError:
    """A PersistenceError for an OS error while saving into ``root``, with the file and the fix."""
    where = f" ({err.filename})" if err.filename else ""
    if err.errno in _SPACE or (err.errno is None and "requested and" in str(err)):  # numpy's short write
        fix = "Free some disk space (or raise the quota) and save again."
    elif err.errno in _ACCESS:
        fix = "Choose a folder you may write to, or change its permissions, and save again."
    else:
        fix = "Check the folder and save again."
    return PersistenceError(
        f"save: could not write the collection to {str(root)!r}: {err.strerror or err}{where}. "
        f"Nothing was changed: the previous save, if any, still loads. {fix}"
    )
