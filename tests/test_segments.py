"""geo.frames.segments: splitting at crossings and T junctions, equal pieces, chainage."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from shapely import LineString, MultiLineString, Point

from geo.errors import ValidationError
from geo.frames.segments import chainage_of, point_at, split_roads

CRS = "EPSG:4548"
X0, Y0 = 532_000.0, 4_331_000.0
J = "120110900"


def line(*xy):
    return LineString([(X0 + x, Y0 + y) for x, y in xy])


def roads(geoms: dict[str, object]) -> gpd.GeoDataFrame:
    ids = list(geoms)
    return gpd.GeoDataFrame(
        {
            "road_id": ids,
            "name": [f"路{r}" for r in ids],
            "road_class": "branch",
            "is_priority": [r == "A" for r in ids],
            "oneway": False,
            "jurisdiction_code": J,
        },
        geometry=list(geoms.values()),
        crs=CRS,
    )


def expected(rows: list[tuple], geoms: list) -> gpd.GeoDataFrame:
    """Rows of (road_id, seq, from_m, to_m)."""
    frame = pd.DataFrame(rows, columns=["road_id", "seq", "from_m", "to_m"])
    return gpd.GeoDataFrame(
        {
            "segment_id": np.arange(1, len(rows) + 1, dtype="int64"),
            "road_id": frame["road_id"],
            "name": "路" + frame["road_id"],
            "road_class": "branch",
            "is_priority": frame["road_id"] == "A",
            "oneway": False,
            "seq": frame["seq"].astype("int64"),
            "from_m": frame["from_m"].astype(float),
            "to_m": frame["to_m"].astype(float),
            "length_m": (frame["to_m"] - frame["from_m"]).astype(float),
            "jurisdiction_code": J,
        },
        geometry=geoms,
        crs=CRS,
    )


def test_x_crossing_and_t_junction():
    got = split_roads(roads({
        "A": line((0, 100), (180, 100)),                # crossed by B at x = 100
        "B": line((100, 0), (100, 60), (100, 190)),     # crosses A between its vertices
        "C": line((150, 100), (150, 20)),               # starts on A: a T junction
    }))
    want = expected(
        [("A", 1, 0, 100), ("A", 2, 100, 150), ("A", 3, 150, 180),
         ("B", 1, 0, 100), ("B", 2, 100, 190), ("C", 1, 0, 80)],
        [
            line((0, 100), (100, 100)), line((100, 100), (150, 100)), line((150, 100), (180, 100)),
            line((100, 0), (100, 60), (100, 100)), line((100, 100), (100, 190)),
            line((150, 100), (150, 20)),
        ],
    )
    assert_geodataframe_equal(got, want, check_dtype=False)


def test_pieces_meet_at_identical_nodes_on_diagonal_crossing():
    got = split_roads(roads({"A": line((0, 0), (200, 200)), "B": line((0, 200), (200, 0))}))
    assert len(got) == 4
    ends = shapely.get_coordinates(shapely.get_point(got.geometry.to_numpy(), -1))
    starts = shapely.get_coordinates(shapely.get_point(got.geometry.to_numpy(), 0))
    # The end of each road's first piece is the start of its second, bit for bit,
    # and both roads share that node.
    np.testing.assert_array_equal(ends[[0, 2]], starts[[1, 3]])
    np.testing.assert_array_equal(ends[0], ends[2])
    np.testing.assert_allclose(got["to_m"].iloc[[0, 2]], [np.hypot(100, 100)] * 2)


def test_long_road_is_cut_into_equal_pieces():
    got = split_roads(roads({"A": line((0, 0), (450, 0))}))
    want = expected(
        [("A", 1, 0, 150), ("A", 2, 150, 300), ("A", 3, 300, 450)],
        [line((0, 0), (150, 0)), line((150, 0), (300, 0)), line((300, 0), (450, 0))],
    )
    assert_geodataframe_equal(got, want, check_dtype=False)


def test_equal_pieces_between_intersections_follow_bends():
    got = split_roads(
        roads({"A": line((0, 0), (300, 0), (300, 250)), "B": line((100, -50), (100, 50))}), max_len_m=200
    )
    a = got[got["road_id"] == "A"]
    # 100 m to the crossing, then 450 m in three pieces of 150 m, one round the bend.
    assert a["from_m"].tolist() == [0.0, 100.0, 250.0, 400.0]
    assert a["to_m"].tolist() == [100.0, 250.0, 400.0, 550.0]
    assert a.geometry.iloc[2].equals(line((250, 0), (300, 0), (300, 100)))
    np.testing.assert_allclose(a.geometry.length, a["length_m"])


def test_multilinestring_that_joins_is_accepted_and_one_that_does_not_is_refused():
    joined = MultiLineString([line((0, 0), (50, 0)), line((50, 0), (100, 0))])
    got = split_roads(roads({"A": joined}))
    assert got.geometry.iloc[0].equals(line((0, 0), (100, 0)))
    gap = MultiLineString([line((0, 0), (50, 0)), line((60, 0), (100, 0))])
    with pytest.raises(ValidationError, match="road 'A' is a MultiLineString whose 2 parts"):
        split_roads(roads({"A": gap}))


def test_split_roads_validates_input():
    good = roads({"A": line((0, 0), (100, 0))})
    with pytest.raises(ValidationError, match="max_len_m 0"):
        split_roads(good, max_len_m=0)
    with pytest.raises(ValidationError, match="'EPSG:4326'"):
        split_roads(good.to_crs("EPSG:4326"))
    with pytest.raises(ValidationError, match=r"\['oneway'\]"):
        split_roads(good.drop(columns="oneway"))
    with pytest.raises(ValidationError, match="road_id 'A' appears more than once"):
        split_roads(pd.concat([good, good]))
    with pytest.raises(ValidationError, match="road 'A' has geometry 'POINT"):
        split_roads(good.set_geometry([Point(X0, Y0)], crs=CRS))


def test_chainage_and_point_at_round_trip():
    road = line((0, 0), (100, 0), (100, 100))
    m = chainage_of(gpd.GeoSeries([Point(X0 + 30, Y0 - 5), Point(X0 + 104, Y0 + 60)], crs=CRS), road)
    np.testing.assert_allclose(m, [30.0, 160.0])
    pts = point_at(road, [0.0, 150.0, 200.0])
    assert shapely.equals(pts, [Point(X0, Y0), Point(X0 + 100, Y0 + 50), Point(X0 + 100, Y0 + 100)]).all()
    with pytest.raises(ValidationError, match="chainage -1.0 m is outside the road"):
        point_at(road, [-1.0])
    with pytest.raises(ValidationError, match="Point geometries"):
        chainage_of([road], road)
