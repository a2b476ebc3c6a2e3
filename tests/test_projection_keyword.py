"""One projection keyword and one default (issue 19, "start in seconds").

``projection=`` names the map everywhere (``ek.projection.project``/``place``, ``ek.plots.map``
and the other figures, ``ek.Explorer``, the remote collection's ``project``/``place``, the demo
report and the CLI); ``method=`` still works where it existed, with a FutureWarning. Every
default is :data:`explorekit.analysis.projection.DEFAULT_PROJECTION`: PCA at once (the plane
itself for 2-D vectors), never UMAP unless asked for.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import explorekit as ek
from explorekit import cli, demo, plots
from explorekit.analysis.projection import DEFAULT_PROJECTION, cached, place, project
from explorekit.backends.qdrant import QdrantCollection
from explorekit.widgets import Explorer

RNG = np.random.default_rng(19)
COL = ek.Collection.from_arrays(
    RNG.normal(size=(60, 5)).astype(np.float32), payload=[{"kind": ["a", "b"][i % 2]} for i in range(60)]
)
RESULTS = {
    "recommendation": COL.recommend(positive=[1], negative=[2], limit=5),
    "discovery": COL.discover(target=3, context=[(4, 5)], limit=5),
    "context": COL.discover(context=[(4, 5)], limit=5),
}
DRAWS = {
    "project": lambda **kw: project(COL, **kw),
    "place": lambda **kw: place(COL, [0, 1], **kw),
    "plots.map": lambda **kw: plots.map(COL, **kw),
    **{f"plots.{name}": (lambda name=name, **kw: getattr(plots, name)(COL, RESULTS[name], **kw)) for name in RESULTS},
}


def test_the_default_is_pca_at_once():
    assert DEFAULT_PROJECTION == "auto"
    frame = project(ek.Collection.from_arrays(RNG.normal(size=(30, 4))))
    assert frame.attrs["projection"]["method"] == "pca"


@pytest.mark.parametrize(
    "function",
    [
        project,
        place,
        plots.map,
        plots.recommendation,
        plots.discovery,
        plots.context,
        Explorer.__init__,
        QdrantCollection.project,
        QdrantCollection.place,
        demo.build,
    ],
    ids=lambda f: f.__qualname__,
)
def test_every_map_takes_projection_with_the_one_default(function):
    parameter = inspect.signature(function).parameters["projection"]
    assert parameter.default == DEFAULT_PROJECTION


def test_the_command_line_defaults_to_the_same_map():
    parser = cli.parser()
    assert parser.parse_args(["demo"]).projection == DEFAULT_PROJECTION
    assert parser.parse_args(["report", "--dataset", "clusters2d", "--out", "x.html"]).projection == DEFAULT_PROJECTION


def test_the_explorer_draws_pca_by_default_and_fits_no_umap():
    col = ek.Collection.from_arrays(RNG.normal(size=(50, 6)), payload=[{"kind": "a"}] * 50)
    Explorer(col)
    space = col.space(None)
    assert cached(space, "pca") is not None and cached(space, "umap") is None


@pytest.mark.parametrize("name", DRAWS)
def test_method_is_a_deprecated_alias_of_projection(name):
    draw = DRAWS[name]
    with pytest.warns(FutureWarning, match=r"method= is deprecated; use projection='pca'") as caught:
        old = draw(method="pca")
    assert all(w.filename == __file__ for w in caught if issubclass(w.category, FutureWarning))  # points here
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = draw(projection="pca")
    if isinstance(new, np.ndarray):
        np.testing.assert_array_equal(old, new)
    elif hasattr(new, "columns"):
        assert old.equals(new)
    else:
        assert old.to_json() == new.to_json()


@pytest.mark.parametrize("name", DRAWS)
def test_projection_and_method_naming_two_maps_is_refused(name):
    with pytest.raises(ek.ExploreError, match="name two maps.*pass only projection="):
        DRAWS[name](projection="umap", method="pca")


def test_unknown_projection_names_the_keyword():
    with pytest.raises(ek.ExploreError, match=r"Unknown projection method 'tsne'.*projection='pca'"):
        plots.map(COL, projection="tsne")
