"""The Explorer's overlays as plotly layout shapes: result rings, example marks, context-pair lines, the found ring.

Why shapes and not traces: in plotly.js any change to a trace's data drops the calculated data of
*every* trace and redraws the whole map (thousands of WebGL points) - 0.5-0.7 s per click on the
6,041-point text set in headless Chromium. A change to ``layout.shapes`` redraws the shapes only
(tens of ms). Shapes sit in the SVG layer above the WebGL canvas (``layer="above"``), take no
pointer events, so hovers and clicks reach the base point underneath (a click on a ring picks the
ringed point), and are fixed-size in pixels (``xsizemode/ysizemode="pixel"``) anchored at the
point's map position, so they stay on their points when zooming.

Every shape carries a ``name``, its overlay group (:data:`ORDER`); :func:`replace` swaps some
groups and keeps the others.

Examples
--------
>>> ring(1.0, 2.0, size=14, color="#111111", width=2.5, name="results")["xanchor"]
1.0
>>> marker_path("triangle-up", 16)
'M0,8L-6.93,-4L6.93,-4Z'
"""

from __future__ import annotations

import math
from typing import Any

ORDER = ("pair", "results", "examples", "found")  # drawn bottom to top: examples above result rings
# symbol -> (points, inner radius as a fraction of the outer; 1 = a polygon)
SYMBOLS = {
    "triangle-up": (3, 1.0, 90.0),
    "triangle-down": (3, 1.0, -90.0),
    "diamond": (4, 1.0, 90.0),
    "star": (5, 0.4, 90.0),
    "hexagram": (6, 0.58, 90.0),
}


def _pixels(x: float, y: float) -> dict[str, Any]:
    """A shape anchored at map position ``(x, y)`` whose own coordinates are pixels."""
    return dict(
        xref="x", yref="y", xsizemode="pixel", ysizemode="pixel", xanchor=float(x), yanchor=float(y), layer="above"
    )


def marker_path(symbol: str, size: float) -> str:
    """An SVG path (pixels, y up, centred on 0) of a plotly marker symbol ``size`` pixels across.

    Polygons (triangles, diamond) and stars (star, hexagram) drawn from their angles; an unknown
    symbol is a circle-like octagon.

    >>> marker_path("diamond", 10)
    'M0,5L-5,0L0,-5L5,0Z'
    """
    points, inner, start = SYMBOLS.get(symbol, (8, 1.0, 90.0))
    radius = size / 2
    corners = points if inner == 1.0 else 2 * points
    step = 360.0 / corners
    coords = []
    for k in range(corners):
        r = radius if inner == 1.0 or k % 2 == 0 else radius * inner
        angle = math.radians(start + k * step)
        coords.append(f"{_num(r * math.cos(angle))},{_num(r * math.sin(angle))}")
    return "M" + "L".join(coords) + "Z"


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def ring(
    x: float, y: float, *, size: float, color: str, width: float, name: str, text: str | None = None, font: Any = None
) -> dict[str, Any]:
    """An open circle ``size`` pixels across around map position ``(x, y)``; ``text`` written above it."""
    half = size / 2
    shape = dict(
        type="circle",
        name=name,
        **_pixels(x, y),
        x0=-half,
        x1=half,
        y0=-half,
        y1=half,
        line=dict(color=color, width=width),
        fillcolor="rgba(0,0,0,0)",
    )
    if text is not None:
        shape["label"] = dict(text=text, textposition="top center", yanchor="bottom", padding=4, font=font or {})
    return shape


def mark(x: float, y: float, *, symbol: str, size: float, fill: str, outline: str, width: float, name: str) -> dict:
    """A filled marker (:func:`marker_path`) at map position ``(x, y)`` with an outline."""
    return dict(
        type="path",
        name=name,
        **_pixels(x, y),
        path=marker_path(symbol, size),
        fillcolor=fill,
        line=dict(color=outline, width=width),
    )


def segment(x0: float, y0: float, x1: float, y1: float, *, line: dict, name: str) -> dict[str, Any]:
    """A straight line between two map positions."""
    return dict(
        type="line", name=name, xref="x", yref="y", x0=float(x0), y0=float(y0), x1=float(x1), y1=float(y1), line=line
    ) | {"layer": "above"}


def named(shapes: Any, name: str) -> list[Any]:
    """The shapes of one overlay group (dicts or plotly ``Shape`` objects), in drawing order."""
    return [s for s in shapes or () if _name(s) == name]


def _name(shape: Any) -> Any:
    return shape.get("name") if isinstance(shape, dict) else shape.name


def replace(figure: Any, groups: dict[str, list[dict[str, Any]]]) -> None:
    """Set the shapes of the overlay ``groups`` (name -> shapes) in ``figure.layout.shapes``,
    keeping the shapes of other groups, ordered by :data:`ORDER`. One assignment: a
    FigureWidget sends one ``relayout`` (nothing when the shapes are unchanged)."""
    kept = [s for s in figure.layout.shapes or () if _name(s) not in groups]
    every = [*kept, *(s for shapes in groups.values() for s in shapes)]
    rank = {name: i for i, name in enumerate(ORDER)}
    every.sort(key=lambda s: rank.get(_name(s), -1))  # stable: within a group, the given order
    figure.layout.shapes = every


def anchors(shapes: Any, name: str) -> tuple[list[float], list[float]]:
    """Map positions of one group's rings or marks, in drawing order.

    >>> anchors([ring(1.0, 2.0, size=14, color="#111111", width=2.5, name="results")], "results")
    ([1.0], [2.0])
    """
    group = named(shapes, name)
    return [_get(s, "xanchor") for s in group], [_get(s, "yanchor") for s in group]


def _get(shape: Any, key: str) -> Any:
    return shape.get(key) if isinstance(shape, dict) else shape[key]
