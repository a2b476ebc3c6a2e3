"""A crasher after Qdrant's own: a child changes and saves collections, the parent SIGKILLs it.

One implementation for the bounded test (``tests/test_crasher.py``), the long run
(``benchmarks/soak.py``) and the SIGKILL test of ``tests/test_persistence.py``.

* :func:`fingerprint` names a collection's whole state: ids in row order, every vector space
  (distance, dtype, shape, bytes), the payload (canonical JSON of every point's object, with
  the column kinds and order), quantizer state (method, parameters, codes) and the saved
  approximate index. Two collections with one differing byte differ.
* The **child** (forked by a zygote process that imported explorekit once, so a kill point
  costs milliseconds, not an interpreter start) loads the folder, or builds a collection of
  one of :data:`CONFIGS`, then runs random upserts (new and overwriting ids), deletes,
  quantize (scalar, binary, product), build_index and saves. Before each save it appends
  ``saving <step> <fingerprint>`` to its log, after it ``saved <step>``.
* The **parent** kills the child with SIGKILL at a random moment (after a random delay, or a
  random delay after the child announced a save), loads the folder with ``verify=True`` and
  checks that the loaded fingerprint is *exactly* the state saved last, or the one whose save
  was in flight, and that no file it planted next to the collection went missing.
  :class:`Tally` counts kill points, where they landed and what went wrong.
* ``soak(mutant=...)`` makes every save of the children write a damaged copy (:data:`MUTANTS`,
  patched into ``Collection.save`` in the child), so a test can show the parent notices.

    python tests/crasher.py zygote [CONFIG ...]   # what the parent starts; reads jobs on stdin

Examples
--------
>>> import numpy as np, explorekit as ek
>>> col = ek.Collection.from_arrays(np.eye(3), ids=["a", "b", "c"], payload=[{"k": 1}, {}, {"k": None}])
>>> same = ek.Collection.from_arrays(np.eye(3), ids=["a", "b", "c"], payload=[{"k": 1}, {}, {"k": None}])
>>> fingerprint(col) == fingerprint(same)
True
>>> other = ek.Collection.from_arrays(np.eye(3), ids=["a", "b", "c"], payload=[{"k": 1}, {"k": None}, {}])
>>> differences(fingerprint(col), fingerprint(other))
['payload']
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import explorekit as ek
from explorekit import PersistenceError

HERE = Path(__file__).resolve().parent


# ====================================================================== fingerprint
def _digest(*chunks: bytes) -> str:
    """16 hex digits of SHA-256 over length-prefixed chunks (so chunk borders count)."""
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(len(chunk).to_bytes(8, "little"))
        h.update(chunk)
    return h.hexdigest()[:16]


def _canonical(value: Any) -> bytes:
    """JSON with sorted keys: 1, 1.0, "1", true and null all stay different."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _array_chunks(array: Any) -> list[bytes]:
    array = np.asarray(array)
    return [f"{array.dtype.str}{array.shape}".encode(), np.ascontiguousarray(array).tobytes()]


def _space(col: ek.Collection, name: str) -> Any:
    """The vector space behind ``name`` (quantizer and index have no public accessor)."""
    return col._space(name)


def _quantizer_digest(quantizer: Any) -> str:
    """Method, parameters and codes, exactly (``Quantizer.state`` is what a save must keep)."""
    if quantizer is None:
        return "none"
    meta, arrays = quantizer.state()
    chunks = [_canonical(meta)]
    for key in sorted(arrays):
        chunks += [key.encode(), *_array_chunks(arrays[key])]
    return _digest(*chunks)


def _index_digest(index: Any) -> str:
    """The approximate index a save keeps: description, tuning, sign codes and forest items."""
    if index is None or getattr(index, "stale", False):
        return "none"
    n = len(index)
    description = {
        "method": index.method,
        "n": n,
        "trees": index.n_trees,
        "dim": index.dim,
        "metric": index.metric,
        "distance": index.distance,
        "tuning": index.tuning,
    }
    codes = index.codes
    annoy = index.forest.annoy
    probes = sorted({0, n // 2, n - 1}) if n else []
    items = [annoy.get_item_vector(i) for i in probes]
    neighbours = [annoy.get_nns_by_item(i, min(n, 10)) for i in probes]
    return _digest(
        _canonical(description),
        *_array_chunks(codes.words),
        *_array_chunks(codes.mean),
        *_array_chunks(codes.centred_norm),
        *_array_chunks(codes.mean_dot),
        *_array_chunks(codes.sq_norm),
        *_array_chunks(np.asarray(items, np.float32)),
        _canonical(neighbours),
    )


def fingerprint(col: ek.Collection) -> dict[str, str]:
    """One digest per part of the collection's state; equal dicts mean equal collections.

    Parts: ``name``, ``ids`` (in row order), ``payload`` (every point's JSON object, missing
    and null apart, plus the column kinds in order), and per vector name ``vectors[name]``,
    ``quantizer[name]`` and ``index[name]`` (``"none"`` when absent).
    """
    payload = col.store.payload  # records keep missing vs null; the frame does not
    parts = {
        "name": _digest(_canonical(col.name)),
        "ids": _digest(_canonical(col.ids.tolist())),
        "payload": _digest(_canonical(list(payload.kinds().items())), _canonical(payload.to_records())),
    }
    for name in col.vector_names:
        space = _space(col, name)
        parts[f"vectors[{name}]"] = _digest(col.distance(name).encode(), *_array_chunks(col.vectors(name)))
        parts[f"quantizer[{name}]"] = _quantizer_digest(space.quantizer)
        parts[f"index[{name}]"] = _index_digest(space.index)
    return parts


def state_id(parts: dict[str, str] | None) -> str:
    """One short name for a whole fingerprint (``"none"``: no collection on disk)."""
    return "none" if parts is None else _digest(_canonical(parts))


def differences(a: dict[str, str] | None, b: dict[str, str] | None) -> list[str]:
    """The parts in which two fingerprints differ (``["collection"]`` if only one exists)."""
    if a is None or b is None:
        return [] if a is b else ["collection"]
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


# ====================================================================== configurations
@dataclass(frozen=True)
class Config:
    """A kind of collection the child builds and changes."""

    name: str
    dims: dict[str, int]  # vector name ("" = unnamed) -> dimension
    distances: dict[str, str]
    ids: str  # "int" | "str" | "uuid" | "mixed"
    quantize: dict[str, dict] = field(default_factory=dict)  # quantized when built
    index: tuple[str, ...] = ()  # indexed when built
    points: int = 120
    max_points: int = 400


CONFIGS: dict[str, Config] = {
    c.name: c
    for c in [
        Config("cosine-int", {"": 12}, {"": "cosine"}, "int"),
        Config("dot-str", {"": 8}, {"": "dot"}, "str", quantize={"": {"scalar": {"type": "int8", "quantile": 0.99}}}),
        Config(
            "euclid-uuid",
            {"": 16},
            {"": "euclid"},
            "uuid",
            quantize={"": {"binary": {"encoding": "two_bits"}}},
            index=("",),
        ),
        Config(
            "manhattan-mixed", {"": 10}, {"": "manhattan"}, "mixed", quantize={"": {"product": {"compression": "x4"}}}
        ),
        Config(
            "named",
            {"image": 16, "text": 6},
            {"image": "cosine", "text": "euclid"},
            "mixed",
            quantize={"text": {"scalar": {"type": "int8"}}},
            index=("image",),
        ),
    ]
}

QUANTIZATIONS = [
    {"scalar": {"type": "int8"}},
    {"scalar": {"type": "int8", "quantile": 0.95}},
    {"binary": {"encoding": "one_bit"}},
    {"binary": {"encoding": "one_and_half_bits"}},
    {"binary": {"encoding": "two_bits", "query_encoding": "scalar8bits"}},
    {"product": {"compression": "x4"}},
    {"product": {"compression": "x8"}},
    {"product": {"compression": "x16"}},
]


# ====================================================================== the child's random changes
def _new_id(rng: random.Random, kind: str) -> int | str:
    if kind == "mixed":
        kind = rng.choice(["int", "str", "uuid"])
    if kind == "int":
        return rng.choice([rng.randrange(10_000), rng.randrange(2**64)])
    if kind == "str":
        return rng.choice(["p-", "ü/", "", " "]) + format(rng.getrandbits(36), "x")
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


_VALUES: dict[str, Callable[[random.Random], Any]] = {
    "n": lambda r: r.randrange(-(10**6), 10**6),
    "big": lambda r: r.choice([2**63 - 1, -(2**63), 2**53 + 1, 0]),
    "x": lambda r: r.choice([r.uniform(-1e6, 1e6), 0.1, -0.0, 1e-300, 1.0, 2.5e300]),
    "s": lambda r: r.choice(["", "é", "a\nb", "🙂", "x" * 40, "null", "1"]),
    "flag": lambda r: r.random() < 0.5,
    "tags": lambda r: [r.choice("abc") for _ in range(r.randrange(4))],
    "nested": lambda r: {"k": r.randrange(9), "l": [1, "two", None, 2.5], "o": {"deep": r.random() < 0.5}},
    "mix": lambda r: r.choice([1, 1.0, "1", True, None, [1], {"a": 1}, [], {}]),
    "null": lambda r: None,
}


def random_payload(rng: random.Random) -> dict[str, Any]:
    """A JSON object with a random subset of keys of mixed types (``mix`` changes type per point)."""
    return {key: make(rng) for key, make in _VALUES.items() if rng.random() < 0.55}


def build(cfg: Config, rng: random.Random, nrng: np.random.Generator) -> ek.Collection:
    """A fresh collection of ``cfg``, quantized and indexed as it says."""
    ids = _fresh_ids(rng, cfg.ids, cfg.points, set())
    vectors = {name: nrng.normal(size=(cfg.points, dim)) for name, dim in cfg.dims.items()}
    col = ek.Collection.from_arrays(
        vectors[""] if list(vectors) == [""] else vectors,
        ids=ids,
        payload=[random_payload(rng) for _ in ids],
        distance=cfg.distances[""] if list(vectors) == [""] else cfg.distances,
    )
    for name, config in cfg.quantize.items():
        col.quantize(config, using=name or None)
    for name in cfg.index:
        col.build_index(using=name or None)
    return col


def _fresh_ids(rng: random.Random, kind: str, k: int, taken: set) -> list:
    out: dict = {}
    while len(out) < k:
        value = _new_id(rng, kind)
        if value not in taken:
            out[value] = None
    return list(out)


def _upsert(col: ek.Collection, cfg: Config, rng: random.Random, nrng: np.random.Generator, share_old: float) -> None:
    """Upsert 1..20 points; about ``share_old`` of them overwrite existing ids."""
    k = rng.randint(1, 20)
    existing = col.ids.tolist()
    old = rng.sample(existing, min(len(existing), round(k * share_old)))
    ids = old + _fresh_ids(rng, cfg.ids, k - len(old), set(existing) | set(old))
    rng.shuffle(ids)
    vectors = {name: nrng.normal(size=(len(ids), dim)) * rng.choice([1.0, 1e-3, 1e3]) for name, dim in cfg.dims.items()}
    col.upsert(ids, vectors, [random_payload(rng) for _ in ids])


def _delete(col: ek.Collection, rng: random.Random) -> None:
    existing = col.ids.tolist()
    col.delete(rng.sample(existing, rng.randint(1, max(1, min(25, len(existing) - 20)))))


def change(col: ek.Collection, cfg: Config, rng: random.Random, nrng: np.random.Generator) -> str:
    """One random change (not a save); returns its name."""
    if len(col) > cfg.max_points:
        op = "delete"
    else:
        op = rng.choices(
            ["upsert-new", "upsert-overwrite", "upsert-mixed", "delete", "quantize", "build_index"],
            [14, 12, 10, 10 if len(col) > 30 else 0, 6, 3],
        )[0]
    name = rng.choice(list(cfg.dims)) or None
    if op.startswith("upsert"):
        _upsert(col, cfg, rng, nrng, {"upsert-new": 0.0, "upsert-overwrite": 1.0, "upsert-mixed": 0.5}[op])
    elif op == "delete":
        _delete(col, rng)
    elif op == "quantize":
        col.quantize(rng.choice(QUANTIZATIONS), using=name)
    else:
        col.build_index(using=name)
    return op


# ====================================================================== the child and its zygote
def _emit(fd: int, line: str, *, sync: bool = True) -> None:
    """Append one line to the child's log in one ``write`` (a kill can only cut the last line);
    with ``sync``, on disk before the next step starts."""
    os.write(fd, (line + "\n").encode())
    if sync:
        os.fsync(fd)


def run_child(job: dict[str, Any]) -> None:
    """Load (or build) a collection, then change and save it until killed or ``deadline``."""
    cfg = CONFIGS[job["config"]]
    rng, nrng = random.Random(job["seed"]), np.random.default_rng(job["seed"])
    folder, step = Path(job["folder"]), int(job["step"])
    log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    col = ek.Collection.load(folder, verify=True) if job["resume"] else build(cfg, rng, nrng)
    _emit(log, f"start {step}")
    save_next = not job["resume"]  # a new folder: its first save comes first
    stop = time.monotonic() + float(job.get("deadline", 30.0))
    while time.monotonic() < stop:
        if save_next or rng.random() < 0.35:
            step += 1
            _emit(log, f"saving {step} {json.dumps(fingerprint(col), separators=(',', ':'))}")
            col.save(folder)
            _emit(log, f"saved {step}")
            save_next = False
        else:
            _emit(log, f"change {change(col, cfg, rng, nrng)}", sync=False)


def _warm_up(configs: list[str]) -> None:
    """Compile or load every kernel once in the zygote, so forked children start warm."""
    rng, nrng = random.Random(0), np.random.default_rng(0)
    for cfg in (CONFIGS[name] for name in configs):
        col = build(cfg, rng, nrng).build_index(using=next(iter(cfg.dims)) or None)
        for config in QUANTIZATIONS:
            col.quantize(config, using=next(iter(cfg.dims)) or None)
        fingerprint(col)


def zygote(configs: list[str]) -> None:
    """Read one JSON job per line; fork a child per job; report ``pid <pid>`` then ``exit <pid> <status>``."""
    _warm_up(configs)
    print("ready", flush=True)
    for line in iter(sys.stdin.readline, ""):
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child_main(job)
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"exit {pid} {status}", flush=True)


def _child_main(job: dict[str, Any]) -> None:
    """The forked child: run the job; any exception goes to its log; never returns."""
    code = 0
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)  # stdout is the zygote's channel to the parent
        _install_mutant(job.get("mutant"))
        run_child(job)
    except BaseException:  # noqa: BLE001 - reported to the parent through the log
        code = 3
        try:
            fd = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            _emit(fd, "error " + json.dumps(traceback.format_exc()))
        except OSError:
            pass
    finally:
        os._exit(code)


# ====================================================================== mutants (a save that lies)
def _reverse_vectors(col: ek.Collection) -> ek.Collection:
    spaces = {
        k: dataclasses.replace(s, stored=np.ascontiguousarray(s.stored[::-1])) for k, s in col.store.spaces.items()
    }
    return _with(col, spaces=spaces)


def _drop_payload_key(col: ek.Collection) -> ek.Collection:
    records = col.store.payload.to_records()
    row = next((i for i, r in enumerate(records) if r), None)
    if row is None:
        return col
    del records[row][min(records[row])]
    return _with(col, payload=type(col.store.payload).from_records(records))


def _shuffle_codes(col: ek.Collection) -> ek.Collection:
    spaces = {}
    for key, space in col.store.spaces.items():
        quantizer = space.quantizer
        if quantizer is not None and len(quantizer) > 1:
            quantizer = copy.copy(quantizer)
            quantizer.codes_ = np.ascontiguousarray(np.roll(quantizer.codes_, 1, axis=quantizer.row_axis))
        spaces[key] = dataclasses.replace(space, quantizer=quantizer)
    return _with(col, spaces=spaces)


def _with(col: ek.Collection, **parts: Any) -> ek.Collection:
    """A collection whose store has these parts replaced (``spaces=``, ``payload=``)."""
    return ek.Collection(dataclasses.replace(col.store, **parts, name=None))


MUTANTS: dict[str, Callable[[ek.Collection], ek.Collection]] = {
    "reverse_vectors": _reverse_vectors,
    "drop_payload_key": _drop_payload_key,
    "shuffle_codes": _shuffle_codes,
}


def _install_mutant(kind: str | None) -> None:
    """Make ``Collection.save`` write ``MUTANTS[kind](col)`` instead of ``col``."""
    if kind is None:
        return
    damage, save = MUTANTS[kind], ek.Collection.save

    def damaged_save(self: ek.Collection, path: Any, *args: Any, **kwargs: Any) -> Any:
        return save(damage(self), path, *args, **kwargs)

    ek.Collection.save = damaged_save


# ====================================================================== the parent
@dataclass
class Tally:
    """What a soak run saw. ``ok`` is true when nothing was lost, torn or foreign-deleted."""

    kill_points: int = 0
    saves_completed: int = 0
    kills_during_save: int = 0  # a save was announced and not finished when the kill came
    previous_state_loaded: int = 0  # ... and the folder held the state before it
    new_state_loaded: int = 0  # ... and the folder held the one being saved
    no_collection_yet: int = 0  # killed before a new folder's first save finished
    first_save_rounds: int = 0
    states: set = field(default_factory=set)
    by_config: Counter = field(default_factory=Counter)
    ops: Counter = field(default_factory=Counter)
    mismatches: list = field(default_factory=list)
    load_failures: list = field(default_factory=list)
    child_errors: list = field(default_factory=list)
    foreign_lost: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.mismatches or self.load_failures or self.child_errors or self.foreign_lost)

    def summary(self) -> dict[str, Any]:
        """Counts only (JSON-able), for printing and for the README."""
        return {
            "kill_points": self.kill_points,
            "saves_completed": self.saves_completed,
            "kills_during_save": self.kills_during_save,
            "previous_state_loaded": self.previous_state_loaded,
            "new_state_loaded": self.new_state_loaded,
            "no_collection_yet": self.no_collection_yet,
            "first_save_rounds": self.first_save_rounds,
            "distinct_states_loaded": len(self.states),
            "mismatches": len(self.mismatches),
            "load_failures": len(self.load_failures),
            "child_errors": len(self.child_errors),
            "foreign_files_lost": len(self.foreign_lost),
            "kill_points_by_config": dict(sorted(self.by_config.items())),
            "changes": dict(sorted(self.ops.items())),
        }


class Zygote:
    """The process that forks children (``python tests/crasher.py zygote``), driven over pipes."""

    def __init__(self, configs: list[str] | None = None) -> None:
        self.configs = list(configs or CONFIGS)
        path = [str(Path(ek.__file__).resolve().parent.parent), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]
        env = {**os.environ, "EXPLOREKIT_PROGRESS": "0", "PYTHONPATH": os.pathsep.join(p for p in path if p)}
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "crasher.py"), "zygote", *self.configs],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self._expect("ready")

    def _expect(self, word: str) -> list[str]:
        line = self.proc.stdout.readline()
        parts = line.split()
        if not parts or parts[0] != word:
            raise RuntimeError(f"crasher zygote: expected {word!r}, got {line!r} (exit code {self.proc.poll()})")
        return parts[1:]

    def start(self, job: dict[str, Any]) -> int:
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()
        return int(self._expect("pid")[0])

    def reap(self) -> int:
        """Wait for the child's exit; its wait status."""
        return int(self._expect("exit")[1])

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)

    def __enter__(self) -> Zygote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_log(path: Path) -> list[tuple[str, str]]:
    """Complete lines of a child's log as (word, rest); a line cut by the kill is dropped."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return []
    return [tuple((line.split(" ", 1) + [""])[:2]) for line in text.split("\n")[:-1]]


def _outcome(events: list[tuple[str, str]], known: dict | None) -> tuple[dict | None, dict | None, int]:
    """(last saved state, state whose save was in flight or None, saves completed) from a log."""
    saved, in_flight, completed = known, None, 0
    for word, rest in events:
        if word == "saving":
            in_flight = json.loads(rest.split(" ", 1)[1])
        elif word == "saved" and in_flight is not None:
            saved, in_flight, completed = in_flight, None, completed + 1
    return saved, in_flight, completed


def _alive(pid: int) -> bool:
    """False once the child has exited (the zygote reaps it at once)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_for(path: Path, word: str, count: int, pid: int, give_up: float) -> None:
    """Poll the log until it has ``count`` lines starting with ``word`` (or the child died)."""
    stop = time.monotonic() + give_up
    while time.monotonic() < stop and _alive(pid):
        if sum(1 for w, _ in read_log(path) if w == word) >= count:
            return
        time.sleep(0.002)


@dataclass
class _Slot:
    """One collection folder of the run and what the parent knows is in it."""

    config: str
    folder: Path
    known: dict | None = None
    step: int = 0
    planted: tuple[Path, bytes] | None = None  # a user's file inside the folder, and its content


def _plant(path: Path, rng: random.Random) -> bytes:
    content = f"a user's file {rng.getrandbits(64):x}\n".encode()
    path.write_bytes(content)
    return content


def soak(
    base: Path,
    *,
    rounds: int | None = None,
    minutes: float | None = None,
    seed: int = 0,
    configs: list[str] | None = None,
    mutant: str | None = None,
    fresh_share: float = 0.08,
    user_file_inside: bool = False,
    max_delay: float = 0.25,
    min_saves: int = 0,
    report: Callable[[Tally], None] | None = None,
    zygote: Zygote | None = None,
) -> Tally:
    """Kill, reload and check, ``rounds`` times or for ``minutes``; see the module docstring.

    ``min_saves``: each child is killed only after it completed that many saves (then after
    a random delay), so a run with a mutant is sure to load what a mutated save wrote.
    ``zygote``: a running :class:`Zygote` to fork from (else one is started and closed).

    ``fresh_share`` of the rounds start a new folder (kills then land in a first save).
    ``user_file_inside`` plants a user's file inside each collection folder once it holds a
    collection and checks that saves leave it alone (a sibling file is always checked).
    """
    if (rounds is None) == (minutes is None):
        raise ValueError("soak: give rounds= or minutes=")
    rng = random.Random(seed)
    base.mkdir(parents=True, exist_ok=True)
    sibling = base / "a-users-notes.txt"
    sibling_content = _plant(sibling, rng)
    names = configs or list(CONFIGS)
    slots = {name: _Slot(name, base / f"{name}-0") for name in names}
    tally, zyg = Tally(), zygote or Zygote(names)
    if not set(names) <= set(zyg.configs):
        raise ValueError(f"soak: the zygote was warmed for {zyg.configs}, not {names}")
    stop = None if minutes is None else time.monotonic() + 60 * minutes
    try:
        while (tally.kill_points < rounds) if rounds is not None else (time.monotonic() < stop):
            slot = slots[names[tally.kill_points % len(names)]]
            if slot.known is None and slot.folder.exists() or slot.known is not None and rng.random() < fresh_share:
                shutil.rmtree(slot.folder)  # a new folder: the next kill may land in its first save
                slot.folder, slot.known, slot.planted = base / f"{slot.config}-{tally.kill_points}", None, None
            _round(zyg, slot, rng, tally, base / "child.log", max_delay, min_saves, mutant)
            if sibling.read_bytes() != sibling_content:
                tally.foreign_lost.append((tally.kill_points, str(sibling)))
                sibling_content = _plant(sibling, rng)
            if user_file_inside:
                _check_inside(slot, rng, tally)
            if report is not None:
                report(tally)
    finally:
        if zygote is None:
            zyg.close()
    return tally


def _check_inside(slot: _Slot, rng: random.Random, tally: Tally) -> None:
    if slot.planted is not None:
        path, content = slot.planted
        if not path.exists() or path.read_bytes() != content:
            tally.foreign_lost.append((tally.kill_points, str(path)))
            slot.planted = None
    if slot.planted is None and slot.known is not None:
        path = slot.folder / "my-notes.txt"
        slot.planted = (path, _plant(path, rng))


def _round(
    zyg: Zygote,
    slot: _Slot,
    rng: random.Random,
    tally: Tally,
    log: Path,
    max_delay: float,
    min_saves: int,
    mutant: str | None,
) -> None:
    """One kill point: start a child on ``slot``, kill it, load the folder, compare."""
    log.unlink(missing_ok=True)
    fresh = slot.known is None
    tally.first_save_rounds += fresh
    pid = zyg.start(
        {
            "config": slot.config,
            "folder": str(slot.folder),
            "seed": rng.getrandbits(32),
            "step": slot.step,
            "log": str(log),
            "resume": not fresh,
            "mutant": mutant,
        }
    )
    if min_saves:
        _wait_for(log, "saved", min_saves, pid, give_up=120.0)
    if rng.random() < 0.5:
        time.sleep(rng.uniform(0, max_delay))
    else:  # aim at a save: a short delay after one starts
        _wait_for(log, "saving", rng.randint(1, 2), pid, give_up=30.0)
        time.sleep(rng.uniform(0, max_delay / 3))
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    status = zyg.reap()
    events = read_log(log)
    tally.kill_points += 1
    tally.by_config[slot.config] += 1
    tally.ops.update(rest for word, rest in events if word == "change")
    errors = [json.loads(rest) for word, rest in events if word == "error"]
    if errors or not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
        tally.child_errors.append((tally.kill_points, slot.config, errors[-1] if errors else f"wait status {status}"))
    saved, in_flight, completed = _outcome(events, slot.known)
    slot.step += sum(1 for word, _ in events if word == "saving")
    tally.saves_completed += completed
    _compare(slot, saved, in_flight, tally)


def _compare(slot: _Slot, saved: dict | None, in_flight: dict | None, tally: Tally) -> None:
    """Load the folder; it must hold exactly ``saved`` or ``in_flight``."""
    try:
        col = ek.Collection.load(slot.folder, verify=True)
        loaded = fingerprint(col)
        del col
    except PersistenceError as err:
        loaded = None
        if saved is not None:
            tally.load_failures.append((tally.kill_points, slot.config, f"PersistenceError: {err}"))
    except Exception as err:  # noqa: BLE001 - any other failure to load is a finding
        loaded = None
        tally.load_failures.append((tally.kill_points, slot.config, f"{type(err).__name__}: {err}"))
    if in_flight is not None:
        tally.kills_during_save += 1
    if loaded is None:
        tally.no_collection_yet += saved is None
    elif loaded == saved:
        tally.previous_state_loaded += in_flight is not None
    elif loaded == in_flight:
        tally.new_state_loaded += 1
    else:
        nearest = min(
            (differences(loaded, state) for state in (saved, in_flight) if state is not None),
            key=len,
            default=["collection"],
        )
        tally.mismatches.append((tally.kill_points, slot.config, nearest))
    if loaded is not None:
        tally.states.add(state_id(loaded))
    slot.known = loaded


if __name__ == "__main__":
    if sys.argv[1:2] == ["zygote"] and set(sys.argv[2:]) <= set(CONFIGS):
        zygote(sys.argv[2:] or list(CONFIGS))
    else:
        sys.exit(
            f"usage: python tests/crasher.py zygote [CONFIG ...]   (configs: {', '.join(CONFIGS)}; "
            "the long run is benchmarks/soak.py)"
        )
