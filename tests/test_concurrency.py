"""One lock for readers and writers: every read sees one whole state, and what quantize() and
build_index() build ends on the vectors that are current when they return.

The deterministic tests put a change exactly where it does harm: a trainer that waits for an
upsert, or a reader that lets a writer run between computing its rows and reading them. To
let the writer run without ever deadlocking, the collection's lock is swapped for
:class:`WriterProbe`, a real re-entrant lock that lets the test know when the writer thread has
either finished or found the lock taken (then the reader goes on, and the writer waits for it).
No test depends on timing: the waits only have a generous safety timeout.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

import explorekit.collection as collection_module
from explorekit import UnknownIdError
from explorekit.collection import Collection
from explorekit.data.store import Store
from explorekit.quantization import ScalarQuantizer

WAIT = 120  # seconds; a safety net against a hang, never reached when things work
SCALAR = {"scalar": {"type": "int8"}}
DIM = 4


# ------------------------------------------------------------------------------------ helpers
def vector(key: int, version: int) -> list[float]:
    """Each point's vector says which point and which version it is."""
    return [float(key), float(version), 1.0, float(key % 7)]


def points(keys, version: int = 0, name: str | None = None) -> Collection:
    keys = list(keys)
    payload = pd.DataFrame({"key": keys, "version": [version] * len(keys)})
    return Collection.from_arrays(
        np.array([vector(k, version) for k in keys], np.float32),
        ids=keys,
        payload=payload,
        distance="euclid",
        name=name,
    )


def upsert(col: Collection, keys, version: int) -> None:
    keys = list(keys)
    col.upsert(
        keys,
        np.array([vector(k, version) for k in keys], np.float32),
        payload=pd.DataFrame({"key": keys, "version": [version] * len(keys)}),
    )


def assert_consistent(frame: pd.DataFrame, query: np.ndarray | None = None) -> None:
    """Ids, payload and vectors of every row belong to one point of one state (and scores too)."""
    for point, key, version, stored in zip(frame["id"], frame["key"], frame["version"], frame["vector"]):
        assert point == key == stored[0], f"id {point} shows the payload of {key} and the vector of {stored[0]}"
        assert version == stored[1], f"id {point}: payload version {version}, vector version {stored[1]}"
    if query is not None:
        distances = [float(np.linalg.norm(query - np.asarray(v))) for v in frame["vector"]]
        np.testing.assert_allclose(frame["score"], distances, rtol=1e-5, atol=1e-5)


def assert_quantizer_current(col: Collection) -> None:
    """The current vectors carry a quantizer with exactly one code per point, made from them."""
    space = col._space(None)
    quantizer = space.quantizer
    assert quantizer is not None, "the quantization was lost"
    assert len(quantizer) == len(col)
    np.testing.assert_array_equal(quantizer.codes_, quantizer._encode_rows(np.asarray(space.stored)))
    assert col.memory_usage().loc["", "quantization"] == "scalar"
    assert col.search(vector(1, 0), limit=3).attrs["path"] == "quantized"


def assert_index_current(col: Collection) -> None:
    """The current vectors carry an approximate index built on exactly them."""
    space = col._space(None)
    index = space.index
    assert index is not None, "the index was lost"
    assert len(index) == len(col) == len(index.codes)
    items = np.array([index.forest.annoy.get_item_vector(i) for i in range(len(col))], np.float32)
    np.testing.assert_array_equal(items, space.stored)


class Worker(threading.Thread):
    """A thread running ``func``; :meth:`finish` joins it and re-raises what it raised."""

    def __init__(self, func: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.func, self.error, self.result = func, None, None
        self.start()

    def run(self) -> None:
        try:
            self.result = self.func()
        except BaseException as err:  # noqa: BLE001 - handed to the test thread
            self.error = err

    def finish(self) -> Any:
        self.join(WAIT)
        assert not self.is_alive(), "the thread did not finish"
        if self.error is not None:
            raise self.error
        return self.result


class WriterProbe:
    """A re-entrant lock that tells the test when the writer thread is done or must wait.

    ``settled`` is set once the writer either finished its change or found the lock taken by
    another thread (it then waits for it like any other lock user).
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.writer: threading.Thread | None = None
        self.settled = threading.Event()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if threading.current_thread() is self.writer:
            if self._lock.acquire(blocking=False):
                return True
            self.settled.set()  # taken by the reader: the writer waits for it
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> WriterProbe:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def run_writer(self, change: Callable[[], Any]) -> Worker:
        """Start ``change`` in a writer thread and wait until it finished or waits for the lock."""
        started = threading.Event()

        def write() -> Any:
            self.writer = threading.current_thread()
            started.set()
            try:
                return change()
            finally:
                self.settled.set()

        worker = Worker(write)
        assert started.wait(WAIT) and self.settled.wait(WAIT)
        return worker


# ------------------------------------------------------------ quantize/build_index vs upserts
def test_quantize_racing_an_upsert_ends_on_the_current_vectors(monkeypatch):
    col = points(range(200))
    training, upserted = threading.Event(), threading.Event()
    fit = ScalarQuantizer._fit
    calls = []

    def fit_after_the_upsert(self, stored, seed):
        calls.append(len(stored))
        if len(calls) == 1:  # the first training waits while the vectors change
            training.set()
            assert upserted.wait(WAIT)
        return fit(self, stored, seed)

    monkeypatch.setattr(ScalarQuantizer, "_fit", fit_after_the_upsert)
    worker = Worker(lambda: col.quantize(SCALAR))
    assert training.wait(WAIT)
    upsert(col, [5, 500], version=1)  # a replaced point and a new one, mid-training
    upserted.set()
    assert worker.finish() is col
    assert len(col) == 201
    assert_quantizer_current(col)


def test_quantize_overtaken_every_time_still_ends_on_the_current_vectors(monkeypatch):
    """Vectors that change during every training: quantize still returns with them quantized."""
    col = points(range(100))
    probe = col._lock = WriterProbe()
    fit = ScalarQuantizer._fit
    versions = iter(range(1, 100))

    def fit_while_writing(self, stored, seed):
        probe.settled.clear()
        writer = probe.run_writer(lambda: upsert(col, [next(versions)], version=7))
        result = fit(self, stored, seed)
        writers.append(writer)
        return result

    writers: list[Worker] = []
    monkeypatch.setattr(ScalarQuantizer, "_fit", fit_while_writing)
    col.quantize(SCALAR)
    for writer in writers:
        writer.finish()
    assert_quantizer_current(col)


def test_build_index_racing_an_upsert_ends_on_the_current_vectors(monkeypatch):
    from explorekit.index import _ann

    col = points(range(300))
    tuning, upserted = threading.Event(), threading.Event()
    tune = _ann.tune
    calls = []

    def tune_after_the_upsert(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            tuning.set()
            assert upserted.wait(WAIT)
        return tune(*args, **kwargs)

    monkeypatch.setattr(_ann, "tune", tune_after_the_upsert)
    worker = Worker(lambda: col.build_index(n_trees=2))
    assert tuning.wait(WAIT)
    col.delete([3, 4])
    upsert(col, [7, 900], version=2)
    upserted.set()
    assert worker.finish() is col
    assert len(col) == 299
    assert_index_current(col)


# ------------------------------------------------------- readers with a writer at the worst moment
READERS = {
    "retrieve": (lambda col: col.retrieve([9, 0, 5], with_vectors=True), None),
    "scroll": (lambda col: col.scroll(with_vectors=True), None),
    "search": (lambda col: col.search(vector(9, 0), limit=40, with_vectors=True), np.array(vector(9, 0))),
    "search_batch": (
        lambda col: col.search_batch([{"query": vector(3, 0), "limit": 50, "with_vectors": True}])[0],
        np.array(vector(3, 0)),
    ),
    "query body": (
        lambda col: col.query({"query": vector(4, 0), "limit": 45, "with_vector": True}),
        np.array(vector(4, 0)),
    ),
}
WRITERS = {
    "delete": lambda col: col.delete(list(range(40))),
    "upsert": lambda col: upsert(col, list(range(0, 50, 3)), version=1),
}


@pytest.mark.parametrize("writer", WRITERS)
@pytest.mark.parametrize("reader", READERS)
def test_a_reader_sees_one_state_while_a_writer_changes_it(monkeypatch, reader, writer):
    col = points(range(50))
    probe = col._lock = WriterProbe()
    read, query = READERS[reader]
    to_frame = collection_module.to_frame
    writers: list[Worker] = []

    def to_frame_after_a_write(*args, **kwargs):
        if not writers:  # rows are chosen: now the writer runs
            writers.append(probe.run_writer(lambda: WRITERS[writer](col)))
        return to_frame(*args, **kwargs)

    monkeypatch.setattr(collection_module, "to_frame", to_frame_after_a_write)
    frame = read(col)
    assert writers, "the reader never built a frame"
    writers[0].finish()
    assert_consistent(frame, query)
    if reader == "retrieve":
        assert frame["id"].tolist() == [9, 0, 5]
    if reader == "scroll":
        assert frame["id"].tolist() == list(range(50))
    assert len(col) == (10 if writer == "delete" else 50)


def test_a_lookup_reads_the_other_collection_in_one_state(monkeypatch):
    """An example id looked up in another collection that changes meanwhile."""
    col = points(range(60))
    other = points(range(20))
    probe = other._lock = WriterProbe()
    space_of = Store.space
    writers: list[Worker] = []

    def space_then_write(self, using, where="using"):
        space = space_of(self, using, where)
        if self is other.store and where == "lookup_from vector" and not writers:
            writers.append(probe.run_writer(lambda: upsert(other, [5], version=3)))
        return space

    monkeypatch.setattr(Store, "space", space_then_write)
    frame = col.recommend(positive=[5], lookup_from=other, limit=5)  # the nearest to point 5
    writers[0].finish()
    monkeypatch.undo()
    answers = [col.search(vector(5, version), limit=5) for version in (0, 3)]
    assert any(frame["id"].tolist() == a["id"].tolist() and np.allclose(frame["score"], a["score"]) for a in answers), (
        f"the query used neither vector of point 5: {frame['id'].tolist()}"
    )


# ----------------------------------------------------------------------------------- the hammer
def test_many_threads_reading_and_writing_see_whole_states():
    """Writers upsert and delete while readers scroll, retrieve, search, look up, quantize and
    build the index: nothing raises (but an honest unknown id) and every answer is one state."""
    stable = list(range(100))  # replaced by writers, never deleted
    col = points(stable, name="hammer-target")
    other = points(range(30), name="hammer-source")
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def loop(rounds: int, step: Callable[[random.Random], None], seed: int) -> Callable[[], None]:
        def run() -> None:
            rng = random.Random(seed)
            start.wait(WAIT)
            for _ in range(rounds):
                try:
                    step(rng)
                except BaseException as err:  # noqa: BLE001 - every failure is reported
                    errors.append(err)

        return run

    extra: set[int] = set()

    def churn(rng: random.Random) -> None:
        if extra and rng.random() < 0.5:
            gone = rng.sample(sorted(extra), rng.randint(1, len(extra)))
            col.delete(gone)
            extra.difference_update(gone)
        else:
            new = rng.sample(range(100, 400), rng.randint(1, 30))
            upsert(col, new, version=rng.randint(0, 9))
            extra.update(new)

    def replace(rng: random.Random) -> None:
        upsert(col, rng.sample(stable, rng.randint(1, 20)), version=rng.randint(0, 9))
        upsert(other, rng.sample(range(30), 3), version=rng.randint(0, 9))

    def read(rng: random.Random) -> None:
        query = np.array(vector(rng.randint(0, 99), rng.randint(0, 9)), np.float32)
        keys = rng.sample(stable, 5)
        frame = col.retrieve(keys, with_vectors=True)
        assert frame["id"].tolist() == keys
        assert_consistent(frame)
        assert_consistent(col.scroll(with_vectors=True, limit=rng.randint(1, 400)))
        exact_scores = {"quantization": {"rescore": True}}  # also when quantized
        assert_consistent(col.search(query, limit=20, with_vectors=True, params=exact_scores), query)
        for frame in col.search_batch([{"query": query, "limit": 7, "with_vectors": True, "params": exact_scores}] * 2):
            assert_consistent(frame, query)
        payload = col.payload  # indexed by id, one state
        assert (payload["key"].to_numpy() == payload.index.to_numpy()).all()

    def look_up(rng: random.Random) -> None:
        try:
            frame = col.recommend(
                positive=[rng.randint(0, 29)], lookup_from="hammer-source", limit=10, with_vectors=True
            )
        except UnknownIdError:
            return
        assert_consistent(frame)

    def build(rng: random.Random) -> None:
        if rng.random() < 0.7:
            col.quantize(SCALAR)
        else:
            col.build_index(n_trees=2)
        space = col._space(None)
        if space.quantizer is not None:
            assert len(space.quantizer) == len(space.stored)

    threads = [
        Worker(loop(rounds, step, seed))
        for seed, (rounds, step) in enumerate(
            [(40, churn), (40, replace), (25, read), (25, read), (40, look_up), (8, build)]
        )
    ]
    for thread in threads:
        thread.finish()
    assert not errors, f"{len(errors)} failures, the first: {errors[0]!r}"
    assert sorted(col.ids) == sorted(stable + sorted(extra))
    col.quantize(SCALAR)
    assert_quantizer_current(col)


def test_two_collections_looking_ids_up_in_each_other_do_not_deadlock():
    """Each query holds its own collection's lock while it reads the other's state."""
    left, right = points(range(40)), points(range(40))
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def loop(col, other):
        try:
            start.wait(WAIT)
            for _ in range(200):
                col.recommend(positive=[3], lookup_from=other, limit=3)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=loop, args=pair, daemon=True) for pair in ((left, right), (right, left))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert not any(t.is_alive() for t in threads), "the two lookups deadlocked"
    assert not errors, errors
