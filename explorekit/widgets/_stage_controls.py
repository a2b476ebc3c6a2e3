"""The Explorer's "diversity" and "boost by payload" controls (a multi-stage query on top of the examples').

The controls only collect settings; :func:`explorekit.query.stage_bodies.staged_body` builds
the body and the collection answers it (``col.query``), through
:meth:`explorekit.widgets._state.ExplorerState.set_stages`:

* **diversity** (a slider 0..1): MMR on the nearest query,
  ``{"nearest": ..., "mmr": {"diversity": d, "candidates_limit": 4 * limit}}``; 0 is off;
* **boost by** (a numeric payload field) and **weight**: the query as a prefetch of
  ``4 * limit`` candidates re-ordered by ``{"sum": ["$score", {"mult": [weight, field]}]}``
  with ``defaults: {field: 0}``.

The explanation tab then shows the query's stage chart (:func:`explorekit.plots.stages`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as W
import numpy as np

from explorekit._support.errors import ExploreError

FIELD_SAMPLE = 256  # points read to find the numeric payload fields


def numeric_fields(col: Any) -> list[str]:
    """Top-level payload fields holding numbers (not booleans) in a sample of the collection, sorted.

    >>> import explorekit as ek
    >>> numeric_fields(ek.Collection.from_arrays([[1.0], [2.0]], payload=[{"a": 1, "b": "x", "c": True}, {"a": 2.5}]))
    ['a']
    """
    try:
        sample = col.scroll(limit=FIELD_SAMPLE, with_payload=True)
    except ExploreError:
        return []
    fields = []
    for column in sample.columns:
        if column == "id":
            continue
        values = sample[column].dropna().tolist()
        if values and all(
            isinstance(v, (int, float, np.number)) and not isinstance(v, (bool, np.bool_)) for v in values
        ):
            fields.append(str(column))
    return sorted(fields)


class StageControls(W.HBox):
    """A diversity slider and a boost (field, weight); ``on_change(settings)`` gets
    ``{"diversity": d or None, "boost": (field, weight) or None}`` after every change."""

    def __init__(self, col: Any, on_change: Callable[[dict[str, Any]], Any]) -> None:
        self.diversity = W.FloatSlider(
            value=0.0,
            min=0.0,
            max=1.0,
            step=0.05,
            description="diversity",
            continuous_update=False,
            readout_format=".2f",
            tooltip="MMR on a nearest query (one positive example); 0 is off",
            layout=W.Layout(width="300px"),
        )
        fields = numeric_fields(col)
        self.boost_field = W.Dropdown(
            options=[("no boost", None), *[(f, f) for f in fields]],
            value=None,
            description="boost by",
            layout=W.Layout(width="220px", display=None if fields else "none"),
        )
        self.boost_weight = W.FloatText(
            value=0.1,
            step=0.05,
            description="weight",
            layout=W.Layout(width="160px", display=None if fields else "none"),
        )
        self._on_change = on_change
        for control in (self.diversity, self.boost_field, self.boost_weight):
            control.observe(lambda _change: self._on_change(self.settings()), names="value")
        super().__init__([self.diversity, self.boost_field, self.boost_weight])

    def settings(self) -> dict[str, Any]:
        """The current settings, as :meth:`ExplorerState.set_stages` takes them."""
        field = self.boost_field.value
        return {
            "diversity": float(self.diversity.value) or None,
            "boost": None if field is None else (field, float(self.boost_weight.value)),
        }
