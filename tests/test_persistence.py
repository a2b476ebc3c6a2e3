"""Save, load and survive: round trips, killed saves, corrupted files, changes, threads."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from crasher import differences, fingerprint  # tests/crasher.py
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import explorekit as ek
from explorekit import PersistenceError, UnknownIdError
from explorekit.persistence import checksum

DISTANCES = ["cosine", "dot", "euclid", "manhattan"]


def make(distance="cosine", n=300, seed=0, named=False):
    rng = np.random.default_rng(seed)
    payload = [
        {
            "group": ["a", "b", "c"][i % 3],
            "n": i,
            "tags": [f"t{i % 4}"],
            **({"opt": None} if i % 5 == 0 else {}),
            **({"nested": {"x": i % 7, "y": [1, 2]}} if i % 2 else {}),
        }
        for i in range(n)
    ]
    if named:
        vectors = {"image": rng.normal(size=(n, 8)), "text": rng.normal(size=(n, 5))}
        distance = {"image": distance, "text": "cosine"}
    else:
        vectors = rng.normal(size=(n, 8))
    return ek.Collection.from_arrays(
        vectors,
        ids=[f"p{i}" if i % 7 == 0 else i for i in range(n)] if False else None,
        payload=payload,
        distance=distance,
    )


def queries(col, using=None):
    dim = col.vectors(using).shape[1]
    q = np.linspace(-1, 1, dim)
    flt = {"must": [{"key": "group", "match": {"value": "a"}}]}
    return [
        dict(kind="search", query=q, using=using, limit=7),
        dict(kind="search", query=3, using=using, limit=5, filter=flt),
        dict(kind="recommend", positive=[1, q], negative=[2], strategy="average_vector", using=using),
        dict(kind="recommend", positive=[1, 4], negative=[2], strategy="best_score", using=using, filter=flt),
        dict(kind="recommend", negative=[5], strategy="sum_scores", using=using, offset=2),
        dict(kind="discover", target=q, context=[(1, 2), (3, 4)], using=using),
        dict(kind="discover", target=None, context=[(1, 2)], using=using, limit=20),
    ]


def run_all(col, using=None):
    out = []
    for q in queries(col, using):
        q = dict(q)
        kind = q.pop("kind")
        frame = getattr(col, kind)(**q)
        out.append(frame)
    return out


def assert_same_answers(a, b, using=None):
    for x, y in zip(run_all(a, using), run_all(b, using)):
        pd.testing.assert_frame_equal(x, y)


@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("mmap", [True, False])
def test_round_trip(tmp_path, distance, mmap):
    col = make(distance)
    col.save(tmp_path / "c")
    back = ek.Collection.load(tmp_path / "c", mmap=mmap)
    assert back.ids.tolist() == col.ids.tolist()
    pd.testing.assert_frame_equal(back.payload, col.payload)
    assert back._payload.to_records() == col._payload.to_records()  # missing vs null kept
    np.testing.assert_array_equal(back.vectors(), col.vectors())
    assert isinstance(back.vectors(), np.memmap) == mmap
    assert_same_answers(col, back)


def test_round_trip_named_and_string_ids(tmp_path):
    rng = np.random.default_rng(1)
    ids = [f"item-{i}" for i in range(50)]
    col = ek.Collection.from_arrays(
        {"image": rng.normal(size=(50, 4)), "text": rng.normal(size=(50, 3))},
        ids=ids,
        payload=pd.DataFrame({"k": range(50)}),
        distance={"image": "euclid", "text": "dot"},
        name="saved_named",
    )
    col.save(tmp_path / "n")
    back = ek.Collection.load(tmp_path / "n")
    assert back.ids.tolist() == ids and back.name == "saved_named"
    for using in ("image", "text"):
        a = col.recommend(positive=["item-1"], negative=["item-2"], strategy="best_score", using=using)
        b = back.recommend(positive=["item-1"], negative=["item-2"], strategy="best_score", using=using)
        pd.testing.assert_frame_equal(a, b)


def test_save_replaces_and_cleans_up(tmp_path):
    col = make()
    col.save(tmp_path / "c")
    col.upsert([10_000], np.ones((1, 8)), [{"group": "z"}])
    col.save(tmp_path / "c")
    entries = sorted(p.name for p in (tmp_path / "c").iterdir())
    assert len(entries) == 3 and entries[:2] == [".explorekit.lock", "manifest.json"]  # the lock file stays
    assert len(ek.Collection.load(tmp_path / "c")) == len(col)


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x10
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("target", ["vectors-0.npy", "payload.parquet", "ids.npy"])
@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_flipped_bytes_are_detected(tmp_path, target, where):
    make().save(tmp_path / "c")
    folder = next(p for p in (tmp_path / "c").iterdir() if p.is_dir())
    file = folder / target
    size = file.stat().st_size
    _flip(file, {"start": 200 if size > 400 else 0, "middle": size // 2, "end": size - 1}[where])
    with pytest.raises(PersistenceError, match=target):
        ek.Collection.load(tmp_path / "c")


@pytest.mark.parametrize("target", ["vectors-0.npy", "payload.parquet"])
def test_truncated_files_are_detected(tmp_path, target):
    make().save(tmp_path / "c")
    folder = next(p for p in (tmp_path / "c").iterdir() if p.is_dir())
    file = folder / target
    file.write_bytes(file.read_bytes()[:-17])
    with pytest.raises(PersistenceError, match="truncated"):
        ek.Collection.load(tmp_path / "c")


def test_newer_format_and_garbage(tmp_path):
    make().save(tmp_path / "c")
    manifest = tmp_path / "c" / "manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "version": 99}))
    with pytest.raises(PersistenceError, match="newer"):
        ek.Collection.load(tmp_path / "c")
    manifest.write_text("{not json")
    with pytest.raises(PersistenceError, match="manifest.json"):
        ek.Collection.load(tmp_path / "c")
    with pytest.raises(PersistenceError, match="not a folder"):
        ek.Collection.load(tmp_path / "nothing-here")


def saver_state(seed: int) -> ek.Collection:
    """What the saver child of ``seed`` saves over and over (-1: the folder's first state)."""
    n = 5 if seed < 0 else 20000
    rng = np.random.default_rng(seed + 1)
    return ek.Collection.from_arrays(rng.normal(size=(n, 32)), payload=[{"v": seed, "row": i} for i in range(n)])


_SAVER = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[3])
    from test_persistence import saver_state
    path, seed = sys.argv[1], int(sys.argv[2])
    col = saver_state(seed)
    print("ready", flush=True)
    while True:
        col.save(path)
""")


@pytest.mark.slow
def test_killed_saves_leave_a_loadable_state(tmp_path):
    """SIGKILL a process that saves over and over, at random moments: the folder always loads,
    as exactly one of the complete states that was saved (ids, vectors, payload: the fingerprint
    of tests/crasher.py), the one before the killed process or the one it saved."""
    path = tmp_path / "c"
    saver_state(-1).save(path)
    on_disk = fingerprint(saver_state(-1))
    rng = random.Random(5)
    seen = set()
    for seed in range(8):
        expected = fingerprint(saver_state(seed))
        proc = subprocess.Popen(
            [sys.executable, "-c", _SAVER, str(path), str(seed), str(Path(__file__).parent)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.6))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        loaded = fingerprint(ek.Collection.load(path, verify=True))
        assert loaded in (on_disk, expected), (
            f"seed {seed}: differs from the state before in {differences(loaded, on_disk)}"
            f" and from the saved one in {differences(loaded, expected)}"
        )
        on_disk = loaded
        seen.add(ek.Collection.load(path)._payload.record(0)["v"])
    assert len(seen) > 1  # saves did complete between kills


def test_upsert_replaces_and_appends():
    col = make(n=30)
    before = col.search(np.ones(8), limit=30)
    col.upsert([3, 1000], np.vstack([np.ones(8), -np.ones(8)]), [{"group": "new"}, {"group": "new2"}])
    assert len(col) == 31
    assert col.retrieve([3])["group"].tolist() == ["new"]
    top = col.search(np.ones(8), limit=1)
    assert top["id"].tolist() == [3] and top["score"][0] == pytest.approx(1.0)
    fresh = ek.Collection.from_arrays(col.vectors(), ids=col.ids.tolist(), payload=col._payload.to_records())
    pd.testing.assert_frame_equal(col.search(np.ones(8), limit=31), fresh.search(np.ones(8), limit=31))
    assert len(before) == 30


def test_delete_and_failed_changes_change_nothing():
    col = make(n=40)
    col.delete([5, 6])
    assert 5 not in col.ids and len(col) == 38
    snapshot = (col.ids.tolist(), col.vectors().copy(), col.payload.copy())
    with pytest.raises(UnknownIdError):
        col.delete([7, 404])
    with pytest.raises(ek.DimensionError):
        col.upsert([1, 2], np.ones((2, 3)))
    with pytest.raises(ek.NonFiniteError):
        col.upsert([1], np.full((1, 8), np.nan))
    with pytest.raises(ek.DuplicateIdError):
        col.upsert([1, 1], np.ones((2, 8)))
    with pytest.raises(ek.ExploreError):
        col.upsert([1, 2], np.ones((2, 8)), payload=[{"a": 1}])
    assert col.ids.tolist() == snapshot[0]
    np.testing.assert_array_equal(col.vectors(), snapshot[1])
    pd.testing.assert_frame_equal(col.payload, snapshot[2])


def test_queries_from_threads_during_changes():
    """Queries from widget callbacks while a cell upserts and deletes: no crash, no torn state."""
    col = make(n=2000)
    errors = []
    stop = threading.Event()

    def query():
        while not stop.is_set():
            try:
                frame = col.recommend(positive=[1], negative=[2], strategy="best_score", limit=5)
                assert len(frame) == 5 and frame["score"].is_monotonic_decreasing
            except Exception as err:  # noqa: BLE001
                errors.append(err)

    workers = [threading.Thread(target=query) for _ in range(3)]
    for w in workers:
        w.start()
    rng = np.random.default_rng(0)
    for i in range(30):
        col.upsert([5000 + i], rng.normal(size=(1, 8)))
        col.delete([5000 + i])
    stop.set()
    for w in workers:
        w.join()
    assert not errors, errors[:3]
    assert len(col) == 2000


@pytest.mark.parametrize(
    "config",
    [
        {"scalar": {"type": "int8", "quantile": 0.99}},
        {"binary": {"encoding": "two_bits"}},
        {"product": {"compression": "x4"}},
    ],
)
@pytest.mark.parametrize("distance", ["cosine", "euclid"])
def test_round_trip_quantized(tmp_path, config, distance):
    col = make(distance).quantize(config)
    col.save(tmp_path / "q")
    back = ek.Collection.load(tmp_path / "q")
    assert back._space(None).quantizer.method == col._space(None).quantizer.method
    pd.testing.assert_frame_equal(back.memory_usage(), col.memory_usage())
    for params in (None, {"quantization": {"rescore": False, "oversampling": 2.0}}, {"exact": True}):
        for q in queries(col):
            q = dict(q)
            kind = q.pop("kind")
            a, b = getattr(col, kind)(**q, params=params), getattr(back, kind)(**q, params=params)
            pd.testing.assert_frame_equal(a, b)
            assert a.attrs["path"] == b.attrs["path"]


@pytest.mark.parametrize("method", ["auto", "annoy", "sign_codes"])
def test_round_trip_with_index(tmp_path, monkeypatch, method):
    from explorekit import index

    monkeypatch.setattr(index, "INDEXING_THRESHOLD_KB", 0)
    monkeypatch.setattr(index, "FULL_SCAN_THRESHOLD_KB", 0)
    col = make("cosine", n=2000).build_index()
    col._space(None).index.method = method  # force a generator ("auto" picks exact here)
    col.save(tmp_path / "i")
    back = ek.Collection.load(tmp_path / "i")
    assert back._space(None).index is not None and back._space(None).index.method == method
    paths = []
    for q in queries(col):
        q = dict(q)
        kind = q.pop("kind")
        a, b = getattr(col, kind)(**q), getattr(back, kind)(**q)
        assert a.attrs["path"] == b.attrs["path"]
        paths.append(a.attrs["path"])
        pd.testing.assert_frame_equal(a, b)
    assert method == "auto" or method in paths, paths


# ---------------------------------------------------------------------- the manifest is untrusted input (issue 15)
N_RICH = 600


@pytest.fixture(scope="module")
def rich(tmp_path_factory):
    """A saved collection with every part a manifest describes: two named vectors, int ids,
    payload, a scalar and a product quantizer, an annoy index and a cached PCA map."""
    rng = np.random.default_rng(3)
    col = ek.Collection.from_arrays(
        {"image": rng.normal(size=(N_RICH, 8)), "text": rng.normal(size=(N_RICH, 5))},
        ids=[i * 3 for i in range(N_RICH)],
        payload=[{"g": i % 3, "s": f"x{i}"} for i in range(N_RICH)],
        distance={"image": "cosine", "text": "euclid"},
    )
    col.quantize({"scalar": {"type": "int8", "quantile": 0.99}}, using="image")
    col.quantize({"product": {"compression": "x4"}}, using="text")
    col.build_index(using="image")
    ek.projection.project(col, using="text", projection="pca")
    folder = tmp_path_factory.mktemp("rich") / "c"
    col.save(folder)
    return folder


def _copy(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest, symlinks=True)
    return dest


def _read(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def _write(folder: Path, manifest) -> None:
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _version(folder: Path) -> Path:
    return folder / _read(folder)["folder"]


def _resign(folder: Path) -> None:
    """Update every size and checksum in the manifest: what someone who changed the files would do."""
    manifest = _read(folder)
    for name in manifest["files"]:
        file = folder / manifest["folder"] / name
        manifest["files"][name] = {"size": file.stat().st_size, "checksum": checksum(file)}
    _write(folder, manifest)


def _edit(change):
    """A case that changes the parsed manifest in place (``change(manifest, folder)``)."""

    def apply(folder: Path) -> None:
        manifest = _read(folder)
        change(manifest, folder)
        _write(folder, manifest)

    return apply


def _outside_copy(manifest, folder, rel):
    """Copy the version folder outside the collection and point the manifest at it through ``rel``."""
    outside = folder.parent / "outside"
    shutil.copytree(folder / manifest["folder"], outside / manifest["folder"])
    manifest["folder"] = rel(outside / manifest["folder"])


def _linked_version(manifest, folder):
    outside = folder.parent / "elsewhere"
    shutil.copytree(folder / manifest["folder"], outside)
    (folder / "v-aaaaaaaaaaaa").symlink_to(outside, target_is_directory=True)
    manifest["folder"] = "v-aaaaaaaaaaaa"


def _linked_file(folder):
    version = _version(folder)
    outside = folder.parent / "secret.npy"
    shutil.copy(version / "vectors-0.npy", outside)
    (version / "vectors-0.npy").unlink()
    (version / "vectors-0.npy").symlink_to(outside)


def _rewrite_npy(name, change, also=None):
    """Re-save one array file changed by ``change`` and re-sign (the manifest then vouches for it)."""

    def apply(folder):
        file = _version(folder) / name
        np.save(file, change(np.load(file)), allow_pickle=False)
        if also:
            _edit(also)(folder)
        _resign(folder)

    return apply


def _shorter_codes(folder):
    file = _version(folder) / "quantizer-1.npz"
    with np.load(file) as arrays:
        parts = {k: arrays[k] for k in arrays.files}
    parts["codes"] = parts["codes"][:, :-1]  # product codes: rows on axis 1
    np.savez(file, **parts)
    _resign(folder)


def _shorter_payload(folder):
    import pyarrow.parquet as pq

    file = _version(folder) / "payload.parquet"
    pq.write_table(pq.read_table(file).slice(0, N_RICH - 1), file)
    _edit(lambda m, f: m["payload"].update(rows=N_RICH - 1))(folder)
    _resign(folder)


def _space(manifest, name):
    return next(s for s in manifest["spaces"].values() if s["name"] == name)


BAD_MANIFESTS = {
    "a list": _edit(lambda m, f: (m.clear(), m.update(format="explorekit-collection", version=1, folder=[]))),
    "version 0": _edit(lambda m, f: m.update(version=0)),
    "version true": _edit(lambda m, f: m.update(version=True)),
    "no folder": _edit(lambda m, f: m.pop("folder")),
    "folder an int": _edit(lambda m, f: m.update(folder=5)),
    "folder ../": _edit(lambda m, f: _outside_copy(m, f, lambda p: f"../outside/{p.name}")),
    "folder absolute": _edit(lambda m, f: _outside_copy(m, f, str)),
    "folder a link out": _edit(_linked_version),
    "files a list": _edit(lambda m, f: m.update(files=list(m["files"]))),
    "files entry without size": _edit(lambda m, f: m["files"]["ids.npy"].pop("size")),
    "files size a string": _edit(lambda m, f: m["files"]["ids.npy"].update(size="128")),
    "files name ../": _edit(lambda m, f: m["files"].update({"../manifest.json": m["files"]["ids.npy"]})),
    "vectors not listed": _edit(lambda m, f: m["files"].pop("vectors-0.npy")),
    "index not listed": _edit(lambda m, f: m["files"].pop("index-0.ann")),
    "index codes not listed": _edit(lambda m, f: m["files"].pop("index-0.ann.codes.npy")),
    "vectors ../": _edit(lambda m, f: _space(m, "image").update(vectors="../../secret.npy")),
    "vectors a link out": _linked_file,
    "ids unknown": _edit(lambda m, f: m.update(ids="ids.csv")),
    "no ids": _edit(lambda m, f: m.pop("ids")),
    "payload a string": _edit(lambda m, f: m.update(payload="rows")),
    "payload rows negative": _edit(lambda m, f: m["payload"].update(rows=-1)),
    "payload rows wrong": _edit(lambda m, f: m["payload"].update(rows=N_RICH + 1)),
    "points wrong": _edit(lambda m, f: m.update(points=N_RICH - 1)),
    "points a string": _edit(lambda m, f: m.update(points="many")),
    "name an int": _edit(lambda m, f: m.update(name=5)),
    "spaces a list": _edit(lambda m, f: m.update(spaces=list(m["spaces"].values()))),
    "spaces empty": _edit(lambda m, f: m.update(spaces={})),
    "space an int": _edit(lambda m, f: m["spaces"].update({"0": 7})),
    "space without name": _edit(lambda m, f: _space(m, "image").pop("name")),
    "two spaces one name": _edit(lambda m, f: _space(m, "text").update(name="image")),
    "distance unknown": _edit(lambda m, f: _space(m, "image").update(distance="cosinus")),
    "distance a list": _edit(lambda m, f: _space(m, "image").update(distance=["cosine"])),
    "dim negative": _edit(lambda m, f: _space(m, "image").update(dim=-8)),
    "dim wrong": _edit(lambda m, f: _space(m, "image").update(dim=7)),
    "dim a string": _edit(lambda m, f: _space(m, "image").update(dim="8")),
    "quantizer meta a list": _edit(lambda m, f: _space(m, "image")["quantizer"].update(meta=[])),
    "quantizer without file": _edit(lambda m, f: _space(m, "image")["quantizer"].pop("file")),
    "quantizer dim wrong": _edit(lambda m, f: _space(m, "image")["quantizer"]["meta"].update(dim=7)),
    "quantizer config odd": _edit(
        lambda m, f: _space(m, "text")["quantizer"]["meta"].update(
            config={"product": {"compression": "x4", "always_ram": "yes"}}
        )
    ),
    "quantizer distance swapped": _edit(lambda m, f: _space(m, "image")["quantizer"]["meta"].update(distance="dot")),
    "index tuning without ms": _edit(lambda m, f: _space(m, "image")["index"]["meta"]["tuning"].pop("ms")),
    "index ef zero": _edit(lambda m, f: _space(m, "image")["index"]["meta"]["tuning"]["ef"].update(annoy=0)),
    "index method unknown": _edit(lambda m, f: _space(m, "image")["index"]["meta"].update(method="fast")),
    "index dim wrong": _edit(lambda m, f: _space(m, "image")["index"]["meta"].update(dim=4)),
    "index metric wrong": _edit(lambda m, f: _space(m, "image")["index"]["meta"].update(metric="euclidean")),
    "index mean short": _edit(lambda m, f: _space(m, "image")["index"]["meta"].update(mean=[0.0])),
    "index n_items wrong": _edit(lambda m, f: _space(m, "image")["index"]["meta"].update(n_items=N_RICH + 5)),
    "extras class foreign": _edit(
        lambda m, f: next(iter(_space(m, "text")["extras"]["items"].values())).update(
            {"class": "explorekit.persistence:save"}
        )
    ),
    "extras items a list": _edit(lambda m, f: _space(m, "text")["extras"].update(items=[])),
    "extras array unknown": _edit(
        lambda m, f: next(iter(_space(m, "text")["extras"]["items"].values()))["arrays"].update(coords="e9_coords")
    ),
    "re-signed: one id fewer": _rewrite_npy("ids.npy", lambda a: a[:-1]),
    "re-signed: one id fewer, points too": _rewrite_npy(
        "ids.npy", lambda a: a[:-1], also=lambda m, f: m.update(points=N_RICH - 1)
    ),
    "re-signed: one vector fewer": _rewrite_npy("vectors-0.npy", lambda a: a[:-1]),
    "re-signed: vectors float64": _rewrite_npy("vectors-0.npy", lambda a: a.astype(np.float64)),
    "re-signed: ids 2-d": _rewrite_npy("ids.npy", lambda a: a.reshape(-1, 2)),
    "re-signed: one code fewer": _shorter_codes,
    "re-signed: one payload row fewer": _shorter_payload,
}


def test_every_malformed_manifest_gives_a_persistence_error(rich, tmp_path):
    """Malformed fields, paths leaving the folder, files not listed, and files of different
    lengths (re-signed, so checksums cannot tell): each load raises PersistenceError, never a
    KeyError/TypeError, and never loads."""
    wrong = {}
    for k, (case, damage) in enumerate(BAD_MANIFESTS.items()):
        folder = _copy(rich, tmp_path / f"case{k}" / "c")
        damage(folder)
        for verify in (True, False):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ek.Collection.load(folder, verify=verify)
                wrong[case] = "loaded"
            except PersistenceError:
                pass
            except Exception as err:  # noqa: BLE001 - every other outcome is reported
                wrong[case] = f"{type(err).__name__}: {str(err)[:120]}"
    assert not wrong, f"{len(wrong)} of {len(BAD_MANIFESTS)} cases: {wrong}"


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(
        [
            "../x",
            "/etc/passwd",
            "v-0123456789ab",
            "vectors-0.npy",
            "index-0.ann",
            "ids.json",
            "cosine",
            "manhattan",
            "explorekit.projection:Projection",
            "scalar",
            "angular",
        ]
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _nodes(node, at=()):
    """Paths of every value inside a JSON document."""
    yield at
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from _nodes(child, (*at, key))


def _mutate(manifest, data) -> dict:
    """One to three random edits: replace a value (by another anywhere in the manifest, a nearby
    number or any JSON value) or delete it."""
    manifest = json.loads(json.dumps(manifest))
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        paths = [p for p in _nodes(manifest) if p]
        if not paths:
            break
        path = data.draw(st.sampled_from(paths), label="where")
        parent = manifest
        for key in path[:-1]:
            parent = parent[key]
        old = parent[path[-1]]
        how = data.draw(st.sampled_from(["delete", "other", "near", "any"]), label="how")
        if how == "delete":
            del parent[path[-1]]
            continue
        if how == "other":
            source = manifest
            for key in data.draw(st.sampled_from(paths), label="from"):
                source = source[key]
            new = json.loads(json.dumps(source))
        elif how == "near" and isinstance(old, (int, float)) and not isinstance(old, bool):
            new = data.draw(st.sampled_from([old + 1, old - 1, -old, old * 2, 0, float(old), 2**64]), label="near")
        else:
            new = data.draw(_JSON_VALUES, label="value")
        parent[path[-1]] = new
    return manifest


def _use(col):
    """Queries on every vector space through each path (exact, index, quantized): a collection
    that loaded must answer them."""
    from explorekit import index

    old = index.INDEXING_THRESHOLD_KB, index.FULL_SCAN_THRESHOLD_KB
    index.INDEXING_THRESHOLD_KB = index.FULL_SCAN_THRESHOLD_KB = 0
    try:
        first = col.ids.tolist()[0]
        for name in list(col._spaces):  # a manifest without a space is a smaller collection
            query = np.linspace(-1, 1, col.vectors(name).shape[1])
            for params in ({"exact": True}, None, {"quantization": {"rescore": False}}):
                if params is None and col._space(name).index is None:
                    col.build_index(using=name)  # queries never build one (issue 17: never block)
                assert len(col.search(query, using=name, limit=5, params=params)) == 5
            col.recommend(positive=[first], using=name, limit=3)
            space = col._space(name)
            if space.index is not None:
                for method in ("annoy", "binary"):
                    space.index.method = method
                    assert len(col.search(query, using=name, limit=5)) == 5
        col.retrieve([first])
    finally:
        index.INDEXING_THRESHOLD_KB, index.FULL_SCAN_THRESHOLD_KB = old


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_a_mutated_manifest_gives_a_persistence_error_or_a_working_collection(rich, data):
    """Random replacements and deletions anywhere in manifest.json: only PersistenceError
    escapes the load, and a collection that does load answers queries on every path."""
    original = (rich / "manifest.json").read_text()
    mutated = _mutate(json.loads(original), data)
    try:
        (rich / "manifest.json").write_text(json.dumps(mutated))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                col = ek.Collection.load(rich, verify=data.draw(st.booleans(), label="verify"))
            except PersistenceError:
                return
            _use(col)
    finally:
        (rich / "manifest.json").write_text(original)


# ---------------------------------------------------------------------- damaged index files never crash
_INDEXED_LOADER = textwrap.dedent("""
    import sys, warnings, numpy as np, explorekit as ek
    from explorekit import index
    for path, verify in zip(sys.argv[1::2], sys.argv[2::2]):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            col = ek.Collection.load(path, verify=verify == "1")
        space = col._space(None)
        kept = space.index is not None
        index.INDEXING_THRESHOLD_KB = index.FULL_SCAN_THRESHOLD_KB = 0 if kept else 10_000
        for method in ("annoy", "binary") if kept else ("exact",):
            if kept:
                space.index.method = method          # walk the loaded files on every path
            for query in np.random.default_rng(0).normal(size=(20, 8)):
                assert len(col.search(query, limit=10)) == 10
        print("kept" if kept else "dropped", sum("approximate index" in str(w.message) for w in caught), flush=True)
""")


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    col = ek.Collection.from_arrays(np.random.default_rng(0).normal(size=(2000, 8)), distance="cosine").build_index()
    folder = tmp_path_factory.mktemp("indexed") / "c"
    col.save(folder)
    return folder


_NODE = 12 + 4 * 8  # annoy's angular node for 8-d vectors: 3 int32 words, then 8 floats


def _damage_ann(change):
    def apply(folder):
        file = _version(folder) / "index-0.ann"
        nodes = np.fromfile(file, np.int32).reshape(-1, _NODE // 4)
        change(nodes)
        nodes.tofile(file)

    return apply


def _leaves(nodes):
    k = nodes[:, 0]
    return np.flatnonzero((k > 1) & (k <= 2 + 8) & (np.arange(len(nodes)) >= 2000))


def _splits(nodes):
    return np.flatnonzero((nodes[:, 0] > 2 + 8) & (np.arange(len(nodes)) >= 2000))[:-20]


def _set_padding_bits(folder):
    file = _version(folder) / "index-0.ann.codes.npy"
    words = np.load(file)
    words[-1] |= np.uint64(0xFFFF_FFFF_FFFF_FF00)  # the 56 bits past dimension 8
    np.save(file, words, allow_pickle=False)


DAMAGED_INDEXES = {
    "split children past the file": _damage_ann(lambda n: n.__setitem__((_splits(n), slice(1, 3)), 10**8)),
    "split children negative": _damage_ann(lambda n: n.__setitem__((_splits(n), 1), -5)),
    "a cycle": _damage_ann(lambda n: n.__setitem__((_splits(n), 1), _splits(n))),
    "leaf items past the file": _damage_ann(lambda n: n.__setitem__((_leaves(n), slice(1, 3)), 10**7)),
    "item count": _damage_ann(lambda n: n.__setitem__((-1, 0), 10**6)),
    "sign-code padding bits": _set_padding_bits,
}


@pytest.mark.parametrize("damage", DAMAGED_INDEXES, ids=list(DAMAGED_INDEXES))
def test_a_damaged_index_never_crashes(indexed, tmp_path, damage):
    """A damaged annoy forest or sign-code file, loaded with verify=False or re-signed (the
    checksums then match): the load drops the index with a warning, queries answer, and nothing
    crashes (in a child process: before the fix, annoy segfaults or loops forever). The intact
    index, loaded with verify=False, is kept without a warning."""
    raw, signed = _copy(indexed, tmp_path / "raw"), _copy(indexed, tmp_path / "signed")
    for folder in (raw, signed):
        DAMAGED_INDEXES[damage](folder)
    _resign(signed)
    try:
        run = subprocess.run(
            [sys.executable, "-c", _INDEXED_LOADER, str(indexed), "0", str(raw), "0", str(signed), "1"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the load or the queries never finished (a cycle in the forest)")
    assert run.returncode == 0, f"exit {run.returncode}: {run.stderr[-1500:]}"
    assert run.stdout.split("\n")[:3] == ["kept 0", "dropped 1", "dropped 1"], run.stdout
