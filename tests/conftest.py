import os

import pytest
from hypothesis import settings

import explorekit as ek

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
# `make mutate`: deterministic and short, since every mutant runs the tests again
settings.register_profile("mutation", derandomize=True, deadline=None, max_examples=20)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

# A query that finds no index starts a background build (issue 17, explorekit.index.background_builds);
# in tests only tests/test_never_block.py turns that on, so no other test races a build it did not ask for.
os.environ.setdefault("EXPLOREKIT_BACKGROUND_INDEX", "0")


# The bundled datasets as collections, one fresh copy per test module (tests add projections,
# indexes and quantizers to them, so modules must not share one).
@pytest.fixture(scope="module")
def fruit():
    return ek.datasets.load("clusters2d", as_collection=True)


@pytest.fixture(scope="module")
def digits():
    return ek.datasets.load("digits", as_collection=True)


@pytest.fixture(scope="module")
def text():
    return ek.datasets.load("stdlib_docs", as_collection=True)
