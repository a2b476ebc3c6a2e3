"""The crasher (``tests/crasher.py``): SIGKILLed children never leave anything but a saved state.

The long run is ``make soak`` (``benchmarks/soak.py --minutes 10``); here a bounded one.
"""

from __future__ import annotations

import os
import random

import crasher
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import explorekit as ek

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="the crasher's zygote forks its children (POSIX)")

ROUNDS = 80  # about 40 s on a busy 2-core machine


@pytest.fixture(scope="module")
def zygote():
    """One forking process for the module (it imports explorekit and warms the kernels once)."""
    with crasher.Zygote() as zyg:
        yield zyg


def _failures(tally: crasher.Tally) -> str:
    return (
        f"{tally.summary()}\nmismatches {tally.mismatches[:3]}\nload failures {tally.load_failures[:3]}\n"
        f"child errors {tally.child_errors[:1]}\nforeign files lost {tally.foreign_lost[:3]}"
    )


@pytest.mark.slow
@needs_fork
def test_killed_children_leave_exactly_a_saved_state(tmp_path, zygote):
    """Every configuration, kills at random moments and inside saves: the folder always loads as
    exactly the last saved state or the one being saved, and files next to it survive."""
    tally = crasher.soak(tmp_path, rounds=ROUNDS, seed=15, zygote=zygote)
    assert tally.ok, _failures(tally)
    summary = tally.summary()
    assert summary["kill_points"] == ROUNDS
    assert set(summary["kill_points_by_config"]) == set(crasher.CONFIGS)
    assert summary["saves_completed"] > 0 and summary["kills_during_save"] > 0, summary
    assert summary["first_save_rounds"] >= len(crasher.CONFIGS), summary


@pytest.mark.slow
@needs_fork
@pytest.mark.parametrize(
    ("mutant", "part"),
    [("reverse_vectors", "vectors[]"), ("drop_payload_key", "payload"), ("shuffle_codes", "quantizer[]")],
)
def test_the_soak_catches_a_save_that_lies(tmp_path, zygote, mutant, part):
    """A save that writes reversed vectors, drops one payload key or shifts the codes by one row
    loads fine: the parent must still report a mismatch, in that part and no other."""
    tally = crasher.soak(tmp_path, rounds=3, seed=4, configs=["dot-str"], mutant=mutant, min_saves=1, zygote=zygote)
    assert tally.mismatches, _failures(tally)
    assert {p for _, _, parts in tally.mismatches for p in parts} == {part}, tally.mismatches
    assert not tally.load_failures and not tally.child_errors, _failures(tally)


@pytest.mark.slow
@needs_fork
def test_saves_under_kills_leave_a_users_file_in_the_folder(tmp_path, zygote):
    """A file the user put into a collection folder survives every save and every kill."""
    tally = crasher.soak(
        tmp_path, rounds=4, seed=7, configs=["cosine-int"], user_file_inside=True, min_saves=1, zygote=zygote
    )
    assert not tally.foreign_lost, _failures(tally)
    assert tally.ok, _failures(tally)


@pytest.mark.parametrize("mutant", sorted(crasher.MUTANTS))
def test_fingerprint_sees_each_mutant(mutant):
    col = crasher.build(crasher.CONFIGS["named"], random.Random(0), np.random.default_rng(0))
    col.quantize({"product": {"compression": "x4"}}, using="image")
    parts = crasher.differences(crasher.fingerprint(col), crasher.fingerprint(crasher.MUTANTS[mutant](col)))
    assert (
        parts
        == {
            "reverse_vectors": ["vectors[image]", "vectors[text]"],
            "drop_payload_key": ["payload"],
            "shuffle_codes": ["quantizer[image]", "quantizer[text]"],
        }[mutant]
    )


def test_fingerprint_parts():
    """Each part of the state has its own digest; type and missing-vs-null changes count."""
    base = ek.Collection.from_arrays(np.eye(3), ids=[1, 2, 3], payload=[{"k": 1}, {"k": None}, {}])
    fp = crasher.fingerprint(base)
    variants = {
        "ids": ek.Collection.from_arrays(np.eye(3), ids=[1, 2, "3"], payload=[{"k": 1}, {"k": None}, {}]),
        "payload": ek.Collection.from_arrays(np.eye(3), ids=[1, 2, 3], payload=[{"k": 1.0}, {"k": None}, {}]),
        "vectors[]": ek.Collection.from_arrays(
            np.eye(3), ids=[1, 2, 3], payload=[{"k": 1}, {"k": None}, {}], distance="dot"
        ),
        "name": ek.Collection.from_arrays(
            np.eye(3), ids=[1, 2, 3], payload=[{"k": 1}, {"k": None}, {}], name="crasher-fingerprint-parts"
        ),
    }
    for part, other in variants.items():
        assert crasher.differences(fp, crasher.fingerprint(other)) == [part]
    assert crasher.differences(fp, crasher.fingerprint(base.quantize({"binary": {}}))) == ["quantizer[]"]
    assert crasher.differences(fp, None) == ["collection"] and crasher.state_id(None) == "none"


@settings(max_examples=12, deadline=None)
@given(config=st.sampled_from(sorted(crasher.CONFIGS)), seed=st.integers(0, 2**32 - 1), changes=st.integers(0, 12))
def test_a_saved_state_loads_with_the_same_fingerprint(tmp_path_factory, config, seed, changes):
    """What the child reports (the fingerprint before a save) is what a load gives back."""
    cfg, rng, nrng = crasher.CONFIGS[config], random.Random(seed), np.random.default_rng(seed)
    col = crasher.build(cfg, rng, nrng)
    for _ in range(changes):
        crasher.change(col, cfg, rng, nrng)
    folder = tmp_path_factory.mktemp("fp") / "c"
    col.save(folder)
    assert crasher.fingerprint(ek.Collection.load(folder)) == crasher.fingerprint(col)
