"""Finding points by name, and the points a click could have meant: plain Python for the Explorer.

No ipywidgets and no plotly here. :func:`match` is the one rule of the Explorer's search box
(prefix matches first, then substring matches, case-insensitive, the typed text taken
literally); :func:`near` lists the map points within a radius of a clicked one, and
:func:`data_per_pixel` turns a few pixels of the drawn map into that radius in map units.

Examples
--------
>>> import pandas as pd
>>> labels = pd.Series(["loads", "dumps", "json.dumps", "Dump"], index=[10, 11, 12, 13])
>>> hits, total = match(labels, "DUMP")
>>> hits.index.tolist(), total
([13, 11, 12], 3)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

HITS = 20  # hits listed under the search box
NEAR_PIXELS = 6  # a click "lands on several points" when others are this close (in screen pixels)


def fold(labels: pd.Series) -> pd.Series:
    """The labels as :func:`match` compares them: present ones only, as text, case-folded.

    >>> fold(pd.Series(["Straße", None, 7])).tolist()
    ['strasse', '7']
    """
    return labels.dropna().astype(str).str.casefold()


def match(labels: pd.Series, text: Any, cap: int = HITS, folded: pd.Series | None = None) -> tuple[pd.Series, int]:
    """The labels that match typed ``text``, best first, and how many match in all.

    Case-insensitive (``str.casefold``) and literal (``.``, ``*``, ``(`` are plain characters).
    Labels that *start* with the text come first, then labels that contain it elsewhere; within
    each group shorter labels first (an exact match leads), then the order of ``labels``.
    Missing labels (None, NaN) never match; numbers match by their text. Empty text matches nothing.

    ``labels`` is indexed by point id; the result keeps the ids and the labels as given, at most ``cap``.
    ``folded`` is :func:`fold` of ``labels``, for a caller that matches the same labels on every keystroke.

    >>> labels = pd.Series(["re.sub", "sub", "a.b*c", None, 42], index=[1, 2, 3, 4, 5])
    >>> match(labels, "sub")[0].tolist()
    ['sub', 're.sub']
    >>> match(labels, ".b*")[0].index.tolist(), match(labels, "4")[0].index.tolist()
    ([3], [5])
    >>> match(labels, "  ")
    (Series([], dtype: object), 0)
    """
    needle = "" if text is None else str(text).strip().casefold()
    folded = fold(labels) if folded is None else folded
    if not needle or folded.empty:
        return labels.iloc[:0].astype(object), 0
    inside = folded.str.contains(needle, regex=False).to_numpy(dtype=bool)
    if not inside.any():
        return labels.iloc[:0].astype(object), 0
    rows = np.flatnonzero(inside)
    found = folded.iloc[rows]
    starts = found.str.startswith(needle).to_numpy(dtype=bool)
    order = rows[np.lexsort((rows, found.str.len().to_numpy(), ~starts))]
    return labels.loc[folded.index[order[:cap]]].astype(object), len(rows)


def near(x: np.ndarray, y: np.ndarray, row: int, radius: float) -> np.ndarray:
    """Rows of the points within ``radius`` (map units) of point ``row``, nearest first, ``row`` itself first.

    >>> near(np.array([0.0, 0.1, 5.0, -0.05]), np.zeros(4), 0, 0.2).tolist()
    [0, 3, 1]
    """
    distance = np.hypot(x - x[row], y - y[row])
    rows = np.flatnonzero(distance <= radius)
    return rows[np.lexsort((rows, distance[rows]))]


def data_per_pixel(x_range: Any, y_range: Any, width: float, height: float) -> float:
    """Map units per screen pixel of a plot area ``width`` x ``height`` pixels showing these ranges.

    The larger of the two scales: with equal axis scales (a PCA map) plotly widens the tighter
    axis, so the larger one is the scale drawn.

    >>> data_per_pixel((0, 10), (0, 5), 500, 500)
    0.02
    """
    dx = abs(float(x_range[1]) - float(x_range[0])) / max(float(width), 1.0)
    dy = abs(float(y_range[1]) - float(y_range[0])) / max(float(height), 1.0)
    return max(dx, dy)
