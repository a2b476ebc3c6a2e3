"""Issue 17, "never block": no query waits on an index build it did not ask for.

The build is patched to wait on an event the test releases (a build that "sleeps" until the
test lets it go): a query that waited on it would never return before the release, so the
assertions need no clock. ``HANG_GUARD`` only ends a broken run instead of hanging it.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

import explorekit as ek
import explorekit.collection as collection_module
import explorekit.engine.approximate as approximate_module
from explorekit import index
from explorekit._support import progress
from explorekit.engine import planner
from explorekit.index import BACKGROUND_ENVIRONMENT, AnnIndex

HANG_GUARD = 60  # seconds a patched build waits for its release before giving up


class SlowBuild:
    """``build_index`` that waits until :meth:`release`, then builds for real (counts calls)."""

    def __init__(self) -> None:
        self.real = index.build_index
        self.started = threading.Event()
        self.released = threading.Event()
        self.calls = 0
        self.threads: list[str] = []

    def __call__(self, space, n_trees=None, **kwargs) -> AnnIndex:
        self.calls += 1
        self.threads.append(threading.current_thread().name)
        self.started.set()
        if not self.released.wait(HANG_GUARD):
            raise AssertionError("the patched build was never released: a caller waited on it")
        return self.real(space, n_trees=n_trees, **kwargs)

    def release(self) -> None:
        self.released.set()


@pytest.fixture
def slow_build(monkeypatch):
    """Every build_index the library calls waits for the test's release."""
    build = SlowBuild()
    monkeypatch.setattr(collection_module, "build_index", build)
    monkeypatch.setattr(approximate_module, "build_index", build, raising=False)  # where 64f7593 built
    monkeypatch.setattr(index, "INDEXING_THRESHOLD_KB", 0)  # small data would be scanned anyway
    monkeypatch.setattr(index, "FULL_SCAN_THRESHOLD_KB", 0)
    yield build
    build.release()  # never leave a background build waiting


@pytest.fixture
def background(monkeypatch):
    monkeypatch.setenv(BACKGROUND_ENVIRONMENT, "1")


@pytest.fixture
def no_background(monkeypatch):
    monkeypatch.setenv(BACKGROUND_ENVIRONMENT, "0")


def _collection(n: int = 600) -> tuple[ek.Collection, np.ndarray]:
    vectors = np.random.default_rng(1).normal(size=(n, 8)).astype(np.float32)
    return ek.Collection.from_arrays(vectors), vectors


def _exact(col: ek.Collection, query: np.ndarray, limit: int = 5) -> list:
    return col.search(query, limit=limit, params={"exact": True})["id"].tolist()


def test_first_query_answers_exactly_while_the_background_build_waits(slow_build, background):
    col, vectors = _collection()
    found = col.search(vectors[3], limit=5)  # returns while the build is held: it did not wait
    assert found.attrs["path"] == "exact"
    assert found.attrs["reason"].startswith(planner.NO_INDEX)
    assert "col.build_index()" in found.attrs["reason"] and "background" in found.attrs["reason"]
    assert found["id"].tolist() == _exact(col, vectors[3])
    assert slow_build.started.wait(HANG_GUARD)  # the build did start, in another thread
    assert slow_build.threads == ["explorekit-index-"]
    assert col.index_status() == {"": "building in the background"}
    again = col.search(vectors[4], limit=5)  # still exact, and no second build is started
    assert again.attrs["path"] == "exact" and slow_build.calls == 1
    slow_build.release()
    col.wait_for_index()
    assert col.index_status()[""].startswith("built")
    after = col.search(vectors[3], limit=5)
    assert planner.NO_INDEX not in after.attrs["reason"]
    assert after["id"].tolist() == found["id"].tolist()


def test_a_multi_stage_query_does_not_wait_either(slow_build, background):
    col, vectors = _collection()
    body = {"prefetch": {"query": vectors[0].tolist(), "limit": 20}, "query": vectors[0].tolist(), "limit": 3}
    assert len(col.query(body)) == 3  # returned while the build is held
    assert slow_build.started.wait(HANG_GUARD)
    assert col.index_status() == {"": "building in the background"}


def test_background_builds_can_be_turned_off(slow_build, no_background):
    col, vectors = _collection()
    found = col.search(vectors[3], limit=5)
    assert found.attrs["path"] == "exact" and f"{BACKGROUND_ENVIRONMENT}=0" in found.attrs["reason"]
    assert slow_build.calls == 0 and col.index_status() == {"": "not built"}
    slow_build.release()
    col.build_index()  # asked for: builds in the caller's thread
    assert slow_build.calls == 1 and col.index_status()[""].startswith("built")


def test_changes_during_a_background_build_end_with_an_index_of_the_new_vectors(slow_build, background):
    col, vectors = _collection()
    col.search(vectors[0], limit=5)
    assert slow_build.started.wait(HANG_GUARD)
    col.upsert([10_000], vectors[:1] * 2)  # replaces the vectors the build is working on
    slow_build.release()
    col.wait_for_index()
    assert len(col._space(None).index) == len(col) == 601
    assert slow_build.calls == 2  # overtaken once, built again on the new vectors


def test_build_index_waits_for_a_running_background_build_and_keeps_it(slow_build, background):
    col, vectors = _collection()
    col.search(vectors[0], limit=5)
    assert slow_build.started.wait(HANG_GUARD)
    slow_build.release()
    col.build_index()
    assert slow_build.calls == 1 and col.index_status()[""].startswith("built")


def test_a_failed_background_build_is_reported_and_queries_stay_exact(monkeypatch, background):
    monkeypatch.setattr(index, "INDEXING_THRESHOLD_KB", 0)

    def broken(space, n_trees=None, **kwargs):
        raise MemoryError("no room")

    monkeypatch.setattr(collection_module, "build_index", broken)
    col, vectors = _collection()
    col.search(vectors[0], limit=5)
    col.wait_for_index()
    assert col.index_status() == {"": "not built: the background build failed (MemoryError: no room)"}
    assert col.search(vectors[0], limit=5).attrs["path"] == "exact"


def test_load_uses_the_saved_index_and_builds_nothing(tmp_path, monkeypatch, background):
    col, vectors = _collection()
    col.build_index(n_trees=5)
    col.save(tmp_path / "with")
    monkeypatch.setattr(index, "INDEXING_THRESHOLD_KB", 0)
    never = SlowBuild()
    never.release()
    monkeypatch.setattr(collection_module, "build_index", never)
    monkeypatch.setattr(approximate_module, "build_index", never, raising=False)
    loaded = ek.Collection.load(tmp_path / "with")
    assert loaded.index_status() == {"": "built (5 trees)"}
    found = loaded.search(vectors[2], limit=5)
    assert planner.NO_INDEX not in found.attrs["reason"]
    assert never.calls == 0


def test_load_without_an_index_answers_exactly_and_builds_nothing(tmp_path, slow_build, no_background):
    col, vectors = _collection()
    col.save(tmp_path / "without")
    loaded = ek.Collection.load(tmp_path / "without")
    found = loaded.search(vectors[2], limit=5)
    assert found.attrs["path"] == "exact" and found.attrs["reason"].startswith(planner.NO_INDEX)
    assert found["id"].tolist() == _exact(loaded, vectors[2])
    assert slow_build.calls == 0 and loaded.index_status() == {"": "not built"}


def test_a_multi_stage_query_builds_only_for_the_vectors_it_searched(slow_build, background):
    rng = np.random.default_rng(2)
    col = ek.Collection.from_arrays({"a": rng.normal(size=(300, 4)), "b": rng.normal(size=(300, 6))})
    query = rng.normal(size=4).tolist()
    body = {"prefetch": {"query": query, "using": "a", "limit": 20, "params": {"exact": True}}, "query": query}
    col.query({**body, "using": "a", "limit": 3, "params": {"exact": True}})
    assert slow_build.calls == 0 and col.index_status() == {"a": "not built", "b": "not built"}
    col.query({**body, "using": "a", "limit": 3})
    assert slow_build.started.wait(HANG_GUARD)
    assert col.index_status() == {"a": "building in the background", "b": "not built"}


def test_a_background_build_draws_no_progress_bar(slow_build, background, monkeypatch):
    """In a notebook a bar drawn from the build's thread would land in whatever cell runs then."""
    monkeypatch.setenv(progress.ENVIRONMENT, "1")  # every bar shown at once, for the caller's own work
    seen = []
    real = slow_build.real

    def watching_build(space, n_trees=None, **kwargs):
        seen.append(progress.bar_options("index build")["disable"])
        return real(space, n_trees=n_trees, **kwargs)

    slow_build.real = watching_build
    col, vectors = _collection()
    col.search(vectors[0], limit=5)
    slow_build.release()
    col.wait_for_index()
    assert seen == [True]  # silenced in the background thread
    assert progress.bar_options("index build")["disable"] is False  # and not in the caller's
