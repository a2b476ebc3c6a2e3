"""Qdrant's geometry for geo conditions, and its id hash for ``slice`` conditions.

Geo points are ``(lat, lon)`` in degrees (float64 arrays, one entry per point found).

* ``geo_radius``: the haversine distance on a sphere of radius ``EARTH_RADIUS`` metres (the
  IUGG mean radius Qdrant uses) is **strictly** below the radius.
* ``geo_bounding_box``: strictly inside, latitude between ``bottom`` and ``top``, longitude
  between ``left`` and ``right``; when ``left > right`` the box crosses the antimeridian and the
  longitude is outside ``right..left`` instead.
* ``geo_polygon``: the point is inside the exterior ring and inside no interior ring (hole), by
  ray casting; a point on the exterior's boundary is outside, a point on a hole's boundary is
  in the hole, so boundaries never pass.

Coordinates are compared exactly as qdrant-client's local mode computes them: the polygon test is
the same float64 arithmetic, vectorised; haversine distances are computed with numpy and the few
within 1e-9 (relative) of the radius are recomputed with Python's ``math``, as local mode does, so
that a point on the circle is decided the same way.

``slice``: a point is in slice ``index`` of ``total`` when ``SipHash-2-4(id bytes) % total ==
index`` (zero key; the 8 little-endian bytes of an integer id, the 16 bytes of a UUID). String
ids that are not UUIDs (explorekit accepts them, Qdrant does not) hash their UTF-8 bytes, so the
slices still cover every point.

Examples
--------
>>> import numpy as np
>>> lat, lon = np.array([52.52, 48.14]), np.array([13.40, 11.58])   # Berlin, Munich
>>> in_radius(lat, lon, (52.5, 13.4, 10_000.0)).tolist()
[True, False]
>>> in_box(lat, lon, (53.0, 13.0, 52.0, 14.0)).tolist()
[True, False]
"""

from __future__ import annotations

import math
import uuid
import weakref

import numpy as np
from siphash24 import siphash24

from explorekit.data.ids import IdIndex

__all__ = ["EARTH_RADIUS", "haversine", "in_box", "in_polygon", "in_radius", "slice_of"]

#: Mean earth radius in metres (IUGG), the one Qdrant's geo_radius uses.
EARTH_RADIUS = 6371008.8

_BAND = 1e-9  # distances this close to the radius (relative) are recomputed exactly


def haversine(lat1: np.ndarray, lon1: np.ndarray, lat2: float, lon2: float) -> np.ndarray:
    """Great-circle distances in metres from each ``(lat1, lon1)`` to ``(lat2, lon2)``.

    >>> round(float(haversine(np.array([55.7558]), np.array([37.6173]), 51.5074, -0.1278)[0]))
    2500539
    """
    p1, l1 = np.radians(lat1), np.radians(lon1)
    p2, l2 = math.radians(lat2), math.radians(lon2)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * math.cos(p2) * np.sin((l2 - l1) / 2) ** 2
    return EARTH_RADIUS * 2 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _haversine_exact(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """One haversine distance with Python floats, in local mode's order of operations."""
    lon1, lat1, lon2, lat2 = map(math.radians, (lon1, lat1, lon2, lat2))
    a = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return EARTH_RADIUS * (2 * math.asin(math.sqrt(a)))


def in_radius(lat: np.ndarray, lon: np.ndarray, circle: tuple[float, float, float]) -> np.ndarray:
    """Points strictly closer than ``radius`` metres to the centre; ``circle = (lat, lon, radius)``."""
    clat, clon, radius = circle
    dist = haversine(lat, lon, clat, clon)
    inside = dist < radius
    near = np.flatnonzero(np.abs(dist - radius) <= _BAND * max(abs(radius), 1.0))
    for i in near.tolist():
        inside[i] = _haversine_exact(float(lat[i]), float(lon[i]), clat, clon) < radius
    return inside


def in_box(lat: np.ndarray, lon: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Points strictly inside ``box = (top, left, bottom, right)`` (antimeridian-crossing when left > right)."""
    top, left, bottom, right = box
    if left > right:
        lon_ok = (lon > left) | (lon < right)
    else:
        lon_ok = (left < lon) & (lon < right)
    return lon_ok & (top > lat) & (lat > bottom)


def _in_ring(x: np.ndarray, y: np.ndarray, ring: tuple, boundary_inside: bool) -> np.ndarray:
    """Ray casting over one ring of ``(lat, lon)`` vertices (x = lat, y = lon, as local mode names them).

    A point on an edge is decided by ``boundary_inside`` at the first edge it lies on.
    """
    if ring[0] == ring[-1]:
        ring = ring[:-1]
    inside = np.zeros(len(x), dtype=bool)
    decided = np.zeros(len(x), dtype=bool)
    j = len(ring) - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(len(ring)):
            (xi, yi), (xj, yj) = ring[i], ring[j]
            on_edge = (
                (y * (xi - xj) + yi * (xj - x) + yj * (x - xi) == 0)
                & ((xi - x) * (xj - x) <= 0)
                & ((yi - y) * (yj - y) <= 0)
                & ~decided
            )
            inside[on_edge] = boundary_inside
            decided |= on_edge
            if yi != yj:
                crosses = ((yi > y) != (yj > y)) & (x < (xj - xi) * (y - yi) / (yj - yi) + xi) & ~decided
            else:  # a horizontal edge never crosses the ray
                crosses = np.zeros(len(x), dtype=bool)
            inside ^= crosses
            j = i
    return inside


def in_polygon(lat: np.ndarray, lon: np.ndarray, polygon: tuple) -> np.ndarray:
    """Points inside the exterior ring and outside every hole; ``polygon = (exterior, interiors)``."""
    exterior, holes = polygon
    inside = _in_ring(lat, lon, exterior, boundary_inside=False)
    for hole in holes:
        inside &= ~_in_ring(lat, lon, hole, boundary_inside=True)
    return inside


def _id_bytes(point_id: int | str) -> bytes:
    if isinstance(point_id, int):
        return point_id.to_bytes(8, "little")
    try:
        return uuid.UUID(point_id).bytes
    except ValueError:
        return point_id.encode("utf-8")


_HASHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _id_hashes(ids: IdIndex) -> np.ndarray:
    """SipHash-2-4 (zero key) of every id, in row order, as uint64 (cached per IdIndex)."""
    if ids not in _HASHES:
        key = bytes(16)
        _HASHES[ids] = np.fromiter(
            (int.from_bytes(siphash24(_id_bytes(v), key=key).digest(), "little") for v in ids.values),
            dtype=np.uint64,
            count=len(ids),
        )
    return _HASHES[ids]


def slice_of(ids: IdIndex, total: int) -> np.ndarray:
    """The slice (``0..total-1``) of every point, in row order.

    >>> slice_of(IdIndex([5]), 2**64 - 1).tolist()  # the hash itself, as qdrant-client computes it
    [14454559127837024772]
    """
    return _id_hashes(ids) % np.uint64(total)
