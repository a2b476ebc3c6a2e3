"""Saving never destroys what it does not own, serialises concurrent writers, and turns OS errors
into a PersistenceError that leaves the previous save intact (issue 15)."""

from __future__ import annotations

import ctypes
import errno
import inspect
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import explorekit as ek
from explorekit import PersistenceError
from explorekit.persistence import checksum


def build(seed):
    """The collection of these tests for ``seed`` (child processes get this function's source)."""
    rng = np.random.default_rng(seed)
    n = 40 + seed
    return ek.Collection.from_arrays(
        rng.normal(size=(n, 6)),
        ids=[i * 10 + seed for i in range(n)],
        payload=[{"seed": seed, "i": i} for i in range(n)],
        distance="euclid",
    )


_RECIPE = inspect.getsource(build)

VERSION_A, VERSION_B = "v-0123456789ab", "v-ba9876543210"


def state(col):
    """What a collection holds: ids, vectors and payload records."""
    return col.ids.tolist(), np.array(col.vectors()), col._payload.to_records()


def assert_same_state(got, want):
    a, b = state(got), state(want)
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])
    assert a[2] == b[2]


def assert_one_of(got, candidates):
    """``got`` equals exactly one of the collections (they differ in their payload's seed)."""
    seed = got._payload.record(0)["seed"]
    matches = [c for c in candidates if c._payload.record(0)["seed"] == seed]
    assert len(matches) == 1, seed
    assert_same_state(got, matches[0])


def snapshot(folder: Path) -> dict:
    """Every entry under ``folder`` with its bytes (None for folders), symbolic links not followed."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = str(path.relative_to(folder))
        out[rel] = ("link", os.readlink(path)) if path.is_symlink() else (path.read_bytes() if path.is_file() else None)
    return out


def own_entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------------- what save accepts
@pytest.mark.parametrize("path", ["", "   ", None, 3, b"bytes", ["a"]])
def test_save_refuses_paths_that_name_no_folder(tmp_path, monkeypatch, path):
    """``""`` means the working folder: it must be refused, not emptied."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "thesis.tex").write_text("years of work")
    before = snapshot(tmp_path)
    with pytest.raises(PersistenceError, match=r"save: path=.*e\.g\. col\.save\('my-collection'\)"):
        build(1).save(path)
    assert snapshot(tmp_path) == before


def test_save_refuses_a_file_and_a_path_under_a_file(tmp_path):
    (tmp_path / "data.csv").write_text("a,b\n")
    before = snapshot(tmp_path)
    with pytest.raises(PersistenceError, match=r"'.*data\.csv' is a file, not a folder"):
        build(1).save(tmp_path / "data.csv")
    with pytest.raises(PersistenceError, match=r"lies under '.*data\.csv', which is a file"):
        build(1).save(tmp_path / "data.csv" / "inside" / "c")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize(
    "foreign",
    [
        {"notes.txt": "mine"},
        {"manifest.json": json.dumps({"name": "my web app", "icons": []})},  # someone else's manifest
        {"sub/deep.txt": "x", "v-zzz/keep.txt": "y"},
    ],
)
def test_save_refuses_a_folder_that_is_not_a_collection(tmp_path, foreign):
    folder = tmp_path / "work"
    for name, text in foreign.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    before = snapshot(folder)
    with pytest.raises(PersistenceError, match=r"is not an explorekit collection.*Save into a new or empty folder"):
        build(1).save(folder)
    assert snapshot(folder) == before  # not even a lock file was added


def test_save_into_a_collection_keeps_everything_it_did_not_create(tmp_path):
    folder, outside = tmp_path / "c", tmp_path / "outside"
    build(1).save(folder)
    outside.mkdir()
    (outside / "precious.txt").write_text("do not delete")
    foreign = {
        "notes.txt": "my notes",
        "figures/plot.png": "png",
        "v-zzz/keep.txt": "looks like ours",
        ".v-abc.partial.bak/x": "1",
        "v-0123456789abc/x": "13 hex digits",
    }
    for name, text in foreign.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    (folder / VERSION_A).symlink_to(outside, target_is_directory=True)  # a link with our name: not ours
    for seed in (2, 3):
        build(seed).save(folder)
    for name, text in foreign.items():
        assert (folder / name).read_text() == text
    assert (folder / VERSION_A).is_symlink() and (outside / "precious.txt").read_text() == "do not delete"
    assert_same_state(ek.Collection.load(folder), build(3))


def test_save_removes_its_own_leftovers_only(tmp_path):
    """Leftovers of killed saves (temporary names, orphaned versions) are ours: they go."""
    folder = tmp_path / "c"
    build(1).save(folder)
    (folder / f".{VERSION_A}.partial").mkdir()
    (folder / f".{VERSION_A}.partial" / "vectors-0.npy").write_bytes(b"half")
    (folder / f".manifest-{VERSION_A}.json").write_text("{")
    (folder / VERSION_B).mkdir()
    (folder / "notes.txt").write_text("mine")
    build(2).save(folder)
    assert (folder / "notes.txt").read_text() == "mine"
    entries = own_entries(folder)
    assert entries[:3] == [".explorekit.lock", "manifest.json", "notes.txt"] and len(entries) == 4
    assert entries[3].startswith("v-") and entries[3] not in (VERSION_A, VERSION_B)


_KILLED_SAVER = textwrap.dedent("""
    import sys, numpy as np, explorekit as ek
    col = ek.Collection.from_arrays(np.random.default_rng(0).normal(size=(200_000, 64)))
    print("ready", flush=True)
    col.save(sys.argv[1])
""")


def test_a_killed_save_leaves_leftovers_the_next_save_cleans(tmp_path):
    """SIGKILL a save while its version is being written: its ``.v-*.partial`` stays behind; the
    next save removes it, keeps the user's file, and the folder loads as the new state."""
    folder = tmp_path / "c"
    (folder / "notes.txt").parent.mkdir()
    for _ in range(5):  # until the kill lands while the version is being written
        build(1).save(folder)
        (folder / "notes.txt").write_text("mine")
        child = subprocess.Popen([sys.executable, "-c", _KILLED_SAVER, str(folder)], stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().strip() == "ready"
        while not any(name.endswith(".partial") for name in own_entries(folder)) and child.poll() is None:
            time.sleep(0.001)
        child.kill()
        child.wait()
        if any(name.endswith(".partial") for name in own_entries(folder)):
            break
    else:
        pytest.fail("no kill landed while a version was being written")
    assert_same_state(ek.Collection.load(folder), build(1))  # the killed save changed nothing
    build(2).save(folder)
    assert (folder / "notes.txt").read_text() == "mine"
    entries = own_entries(folder)
    assert entries[:3] == [".explorekit.lock", "manifest.json", "notes.txt"] and len(entries) == 4
    assert_same_state(ek.Collection.load(folder), build(2))


# ---------------------------------------------------------------------- concurrent writers
def test_saves_from_threads_are_serialised(tmp_path):
    """Threads saving different collections to one path: no error, and the folder holds exactly
    one of the saved states (the last writer's) and nothing else."""
    folder = tmp_path / "c"
    cols = [build(seed) for seed in range(6)]
    start = threading.Barrier(len(cols))
    errors = []

    def work(col):
        start.wait()
        for _ in range(4):
            try:
                col.save(folder)
            except Exception as err:  # noqa: BLE001 - collected and shown below
                errors.append(err)

    workers = [threading.Thread(target=work, args=(col,)) for col in cols]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors, errors[:3]
    assert own_entries(folder)[:2] == [".explorekit.lock", "manifest.json"] and len(own_entries(folder)) == 3
    assert_one_of(ek.Collection.load(folder), cols)


_WRITER = textwrap.dedent("""
    import sys, numpy as np, explorekit as ek
    {recipe}
    path, seed = sys.argv[1], int(sys.argv[2])
    col = build(seed)
    print("ready", flush=True)
    sys.stdin.readline()
    for _ in range(6):
        col.save(path)
""")


def test_saves_from_processes_are_serialised_and_loads_always_succeed(tmp_path):
    """Processes saving different collections to one path while this one loads it again and
    again: every load succeeds as one of the saved states, and so does the final one."""
    folder = tmp_path / "c"
    build(0).save(folder)
    seeds = [1, 2, 3, 4]
    script = _WRITER.format(recipe=_RECIPE)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(folder), str(seed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in seeds
    ]
    for writer in writers:
        assert writer.stdout.readline().strip() == "ready"
    for writer in writers:
        writer.stdin.write("go\n")
        writer.stdin.flush()
    candidates = [build(seed) for seed in [0, *seeds]]
    loads = 0
    while any(writer.poll() is None for writer in writers) or loads == 0:
        assert_one_of(ek.Collection.load(folder, mmap=loads % 2 == 0), candidates)
        loads += 1
    errors = [writer.stderr.read() for writer in writers if writer.wait() != 0]
    assert not errors, errors[0][-2000:]
    assert own_entries(folder)[:2] == [".explorekit.lock", "manifest.json"] and len(own_entries(folder)) == 3
    assert_one_of(ek.Collection.load(folder), candidates[1:])


# ---------------------------------------------------------------------- OS errors while saving
def _leftovers(folder: Path) -> list[str]:
    return [name for name in own_entries(folder) if name.startswith((".v-", ".manifest-")) or name.endswith(".tmp")]


def test_a_full_disk_gives_a_persistence_error_and_keeps_the_previous_save(tmp_path, monkeypatch):
    """``np.save`` writes half a file, then the disk is full (ENOSPC)."""
    folder = tmp_path / "c"
    build(1).save(folder)
    real_save = np.save

    def full_disk(file, array, *args, **kwargs):
        Path(file).write_bytes(b"\x93NUMPY half a file")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "save", full_disk)
    with pytest.raises(
        PersistenceError,
        match=r"save: could not write the collection to '.*c': No space left on "
        r"device.*still loads\. Free some disk space",
    ):
        build(2).save(folder)
    monkeypatch.setattr(np, "save", real_save)
    assert not _leftovers(folder) and len(own_entries(folder)) == 3
    assert_same_state(ek.Collection.load(folder), build(1))


_LIMITED_SAVER = textwrap.dedent("""
    import resource, signal, sys, numpy as np, explorekit as ek
    col = ek.Collection.from_arrays(np.random.default_rng(0).normal(size=(20_000, 32)))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)      # writes past the limit then fail with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
    try:
        col.save(sys.argv[1])
    except Exception as err:
        print(type(err).__name__, err)
""")


@pytest.mark.skipif(not hasattr(os, "setrlimit") and sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_a_real_write_error_gives_a_persistence_error_and_keeps_the_previous_save(tmp_path):
    """A real short write (the kernel's file-size limit, as a full disk would do it)."""
    folder = tmp_path / "c"
    build(1).save(folder)
    out = subprocess.run(
        [sys.executable, "-c", _LIMITED_SAVER, str(folder)], capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith(f"PersistenceError save: could not write the collection to {str(folder)!r}"), out
    assert not _leftovers(folder) and len(own_entries(folder)) == 3
    assert_same_state(ek.Collection.load(folder), build(1))


_READ_ONLY_SAVER = textwrap.dedent("""
    import sys, numpy as np, explorekit as ek
    {recipe}
    for path in sys.argv[1:]:
        try:
            build(2).save(path)
            print("saved")
        except Exception as err:
            print(type(err).__name__, err)
""")


def _obey_permissions() -> None:
    """In the child, before exec: as root, drop the capabilities that let root write anywhere
    (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) from the bounding set, so file permissions apply."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.mark.skipif(
    os.name != "posix" or (os.geteuid() == 0 and not sys.platform.startswith("linux")),
    reason="permissions do not bind root here, and prctl is Linux only",
)
def test_a_read_only_folder_gives_a_persistence_error_and_keeps_the_previous_save(tmp_path):
    """Saving into a collection folder, and into a new folder, where this process may not write."""
    folder, parent = tmp_path / "c", tmp_path / "locked"
    build(1).save(folder)
    parent.mkdir()
    try:
        for path in (folder, parent):
            path.chmod(0o555)
        out = subprocess.run(
            [sys.executable, "-c", _READ_ONLY_SAVER.format(recipe=_RECIPE), str(folder), str(parent / "new")],
            capture_output=True,
            text=True,
            check=True,
            preexec_fn=_obey_permissions if os.geteuid() == 0 else None,
        ).stdout.splitlines()
    finally:
        for path in (folder, parent):
            path.chmod(0o755)
    assert len(out) == 2, out
    assert out[0].startswith(
        f"PersistenceError save: could not write the collection to {str(folder)!r}: Permission denied"
    ), out[0]
    assert (
        out[1].startswith("PersistenceError save: could not write the collection to")
        and "Choose a folder you may write to" in out[1]
    ), out[1]
    assert own_entries(folder)[:2] == [".explorekit.lock", "manifest.json"] and len(own_entries(folder)) == 3
    assert_same_state(ek.Collection.load(folder), build(1))
    assert not (parent / "new").exists()


def test_a_folder_named_like_a_version_is_not_ours(tmp_path):
    """A folder holding only ``v-0123456789ab/thesis.txt`` is the user's: save refuses it, deletes nothing."""
    folder = tmp_path / "mine"
    (folder / "v-0123456789ab").mkdir(parents=True)
    (folder / "v-0123456789ab" / "thesis.txt").write_text("precious")
    with pytest.raises(PersistenceError, match="not an explorekit collection"):
        build(1).save(folder)
    assert (folder / "v-0123456789ab" / "thesis.txt").read_text() == "precious"


def test_a_version_like_folder_inside_a_collection_survives_a_save(tmp_path):
    folder = tmp_path / "c"
    build(1).save(folder)
    (folder / "v-0123456789ab").mkdir()
    (folder / "v-0123456789ab" / "thesis.txt").write_text("precious")
    build(2).save(folder)
    assert (folder / "v-0123456789ab" / "thesis.txt").read_text() == "precious"
    assert_same_state(ek.Collection.load(folder), build(2))


def test_a_short_write_says_to_free_disk_space(tmp_path, monkeypatch):
    """numpy reports a short write (a full disk) as an OSError without errno."""
    folder = tmp_path / "c"
    build(1).save(folder)

    def short_write(file, array, *args, **kwargs):
        raise OSError("160000 requested and 30688 written")

    monkeypatch.setattr(np, "save", short_write)
    with pytest.raises(PersistenceError, match="160000 requested and 30688 written.*Free some disk space"):
        build(2).save(folder)


def test_a_failed_first_save_leaves_no_folder(tmp_path, monkeypatch):
    folder = tmp_path / "new" / "c"

    def full_disk(file, array, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "save", full_disk)
    with pytest.raises(PersistenceError, match="No space left"):
        build(1).save(folder)
    assert not folder.exists()


def test_non_finite_vectors_in_a_re_signed_file_are_refused_at_load(tmp_path):
    folder = tmp_path / "c"
    build(1).save(folder)
    version = next(p for p in folder.iterdir() if p.name.startswith("v-"))
    vectors = np.load(version / "vectors-0.npy")
    vectors[3, 1] = np.nan
    np.save(version / "vectors-0.npy", vectors, allow_pickle=False)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["vectors-0.npy"]["checksum"] = checksum(version / "vectors-0.npy")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PersistenceError, match="NaN or infinite"):
        ek.Collection.load(folder)
