"""Geo conditions (geo_radius, geo_bounding_box, geo_polygon, also inside nested), has_vector
and slice, against qdrant-client local mode: hand cases on Qdrant's documented examples and
property tests on a coordinate grid (points on edges, vertices and circles)."""

from __future__ import annotations

import numpy as np
import pytest
from filter_strategies import GEO_PAYLOADS, LocalOracle, ek_rows, geo_filters, uuid_ids
from hypothesis import HealthCheck, given, settings
from qdrant_client import models
from qdrant_client.local.geo import geo_distance
from qdrant_client.local.siphash import point_id_slice

from explorekit._support.errors import FilterError
from explorekit.data.ids import IdIndex
from explorekit.query.filter_geo import EARTH_RADIUS, in_radius, slice_of
from explorekit.query.filters import validate_filter


@pytest.fixture(scope="module")
def local() -> LocalOracle:
    return LocalOracle()


# Qdrant's documentation examples (filtering page): Berlin area, London, Moscow.
CITIES = [
    {"location": {"lon": 13.4050, "lat": 52.5200}},  # Berlin
    {"location": {"lon": -0.1278, "lat": 51.5074}},  # London
    {"location": [{"lon": 37.6173, "lat": 55.7558}, {"lon": 13.0, "lat": 52.4}]},  # Moscow, Potsdam
    {"location": {"lon": 13.4050}},  # not a geo point
    {"location": {"lon": True, "lat": 52.52}},  # a bool is not a number
    {"other": 1},
    {"country": {"cities": [{"location": {"lon": 13.3, "lat": 52.5}}, {"location": {"lon": 2.35, "lat": 48.85}}]}},
]
BOX = {"top_left": {"lon": 13.08835, "lat": 52.67551}, "bottom_right": {"lon": 13.76116, "lat": 52.33826}}
RADIUS = {"center": {"lon": 13.403683, "lat": 52.520711}, "radius": 1000.0}
POLYGON = {
    "exterior": {
        "points": [
            {"lon": -70.0, "lat": -70.0},
            {"lon": 60.0, "lat": -70.0},
            {"lon": 60.0, "lat": 60.0},
            {"lon": -70.0, "lat": 60.0},
            {"lon": -70.0, "lat": -70.0},
        ]
    },
    "interiors": [
        {
            "points": [
                {"lon": 10.0, "lat": 50.0},
                {"lon": 20.0, "lat": 50.0},
                {"lon": 20.0, "lat": 55.0},
                {"lon": 10.0, "lat": 55.0},
                {"lon": 10.0, "lat": 50.0},
            ]
        }
    ],
}
HAND = [
    ("box", {"must": [{"key": "location", "geo_bounding_box": BOX}]}, [0]),
    ("radius", {"must": [{"key": "location", "geo_radius": RADIUS}]}, [0]),
    ("radius 1000 km", {"must": [{"key": "location", "geo_radius": {**RADIUS, "radius": 1e6}}]}, [0, 1, 2]),
    ("polygon with a hole", {"must": [{"key": "location", "geo_polygon": POLYGON}]}, [1, 2]),
    ("polygon no hole", {"must": [{"key": "location", "geo_polygon": {"exterior": POLYGON["exterior"]}}]}, [0, 1, 2]),
    (
        "path through arrays",
        {"must": [{"key": "country.cities[].location", "geo_radius": RADIUS | {"radius": 2e4}}]},
        [6],
    ),
    (
        "nested",
        {
            "must": [
                {
                    "nested": {
                        "key": "country.cities",
                        "filter": {"must": [{"key": "location", "geo_bounding_box": BOX}]},
                    }
                }
            ]
        },
        [6],
    ),
    ("must_not", {"must_not": [{"key": "location", "geo_radius": RADIUS}]}, [1, 2, 3, 4, 5, 6]),
    ("has_vector unnamed", {"must": [{"has_vector": ""}]}, [0, 1, 2, 3, 4, 5, 6]),
    ("has_vector unknown", {"must": [{"has_vector": "image"}]}, []),
    (
        "has_vector in nested",
        {"must": [{"nested": {"key": "country.cities", "filter": {"must": [{"has_vector": ""}]}}}]},
        [],
    ),
]


@pytest.mark.oracle
@pytest.mark.parametrize("label, flt, expected", HAND, ids=[c[0] for c in HAND])
def test_hand_cases(label, flt, expected, local):
    assert ek_rows(CITIES, flt) == expected
    assert local.rows(CITIES, flt) == expected


@pytest.mark.oracle
def test_boxes_across_the_antimeridian_and_on_their_sides(local):
    lons = [179.5, 180.0, -180.0, -179.5, 0.0, 170.0, -170.0, 179.0]
    payloads = [{"g": {"lat": lat, "lon": lon}} for lon in lons for lat in (0.0, 1.0, 2.0)]
    for left, right in [(179.5, -179.5), (170.0, -170.0), (-170.0, 170.0), (179.0, 179.5)]:
        box = {"top_left": {"lat": 2.0, "lon": left}, "bottom_right": {"lat": 0.0, "lon": right}}
        flt = {"must": [{"key": "g", "geo_bounding_box": box}]}
        assert ek_rows(payloads, flt) == local.rows(payloads, flt)


@pytest.mark.oracle
def test_qdrant_client_models(local):
    flt = models.Filter(
        must=[
            models.FieldCondition(
                key="location",
                geo_radius=models.GeoRadius(center=models.GeoPoint(lon=13.4, lat=52.52), radius=1e6),
            ),
            models.HasVectorCondition(has_vector=""),
        ],
        must_not=[models.FieldCondition(key="location", geo_polygon=models.GeoPolygon(**POLYGON))],
    )
    assert ek_rows(CITIES, flt) == local.rows(CITIES, flt) == [0]


@pytest.mark.oracle
@pytest.mark.parametrize("total", [1, 2, 3, 7])
def test_slice_with_int_and_uuid_ids(total, local):
    ints = [0, 1, 5, 2**40, 2**64 - 1, 17, 123456789]
    uuids = uuid_ids(7)
    payloads = [{} for _ in ints]
    for ids in (ints, uuids):
        seen = []
        for index in range(total):
            flt = {"must": [{"slice": {"total": total, "index": index}}]}
            rows = ek_rows(payloads, flt, ids)
            assert rows == local.rows(payloads, flt, ids)
            seen += rows
        assert sorted(seen) == list(range(len(ids)))  # disjoint slices covering every point


def test_slice_hash_is_qdrant_clients():
    ids = [0, 3, 2**63, "936da01f-9abd-4d9d-80c7-02af85c822a8"]
    assert slice_of(IdIndex(ids), 11).tolist() == [point_id_slice(i, 11) for i in ids]
    # explorekit's non-UUID string ids fall in a slice too (Qdrant has no such ids)
    assert 0 <= int(slice_of(IdIndex(["cat"]), 3)[0]) < 3


def test_distance_on_the_circle_is_decided_like_local_mode():
    lat, lon = np.array([0.0, 1.0, 0.5]), np.array([1.0, 0.0, 0.5])
    for clat, clon in [(0.0, 0.0), (1.0, 1.0)]:
        for i in range(3):
            r = geo_distance(lon[i], lat[i], clon, clat)
            want = [geo_distance(lon[j], lat[j], clon, clat) < r for j in range(3)]
            assert in_radius(lat, lon, (clat, clon, r)).tolist() == want
    assert EARTH_RADIUS == 6371008.8


@pytest.mark.oracle
@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(payloads=GEO_PAYLOADS, flt=geo_filters())
def test_matches_local_mode(payloads, flt, local):
    ids = [3 * i + 1 for i in range(len(payloads))]
    assert ek_rows(payloads, flt, ids) == local.rows(payloads, flt, ids)


BAD = [
    ({"key": "g", "geo_radius": {"center": {"lat": 0}, "radius": 1}}, ["['center']", "is not a geo point"]),
    ({"key": "g", "geo_radius": {"center": {"lat": 0, "lon": 0}}}, ["'radius' is missing"]),
    ({"key": "g", "geo_radius": {"center": {"lat": 91, "lon": 0}, "radius": 1}}, ["['lat']", "-90..90"]),
    ({"key": "g", "geo_radius": {"center": {"lat": 0, "lon": 0}, "radius": "far"}}, ["['radius']", "not a number"]),
    (
        {"key": "g", "geo_bounding_box": {"top_left": {"lat": 0, "lon": 200}, "bottom_right": {"lat": 0, "lon": 0}}},
        ["-180..180"],
    ),
    (
        {"key": "g", "geo_polygon": {"exterior": {"points": [{"lat": 0, "lon": 0}, {"lat": 1, "lon": 0}]}}},
        ["at least 4 points"],
    ),
    (
        {"key": "g", "geo_polygon": {"exterior": {"points": [{"lat": i, "lon": i * i} for i in range(4)]}}},
        ["first point repeated"],
    ),
    ({"key": "g", "geo_polygon": {"exterior": POLYGON["exterior"], "holes": []}}, ["'holes'", "interiors"]),
    ({"has_vector": 3}, ["['has_vector']: 3 is not a vector name"]),
    ({"slice": {"total": 0, "index": 0}}, ["['total']: 0 is below 1"]),
    ({"slice": {"total": 2, "index": 2}}, ["['index']: 2 is not in 0..1"]),
    ({"slice": {"total": 2}}, ["['slice']", '"index"']),
]


@pytest.mark.parametrize("cond, fragments", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_conditions(cond, fragments):
    with pytest.raises(FilterError) as info:
        validate_filter({"must": [cond]})
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))
