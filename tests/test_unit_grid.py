"""geo.frames.unit_grid on a tiny hand-made jurisdiction in EPSG:4548."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal
from shapely import Polygon, box

from geo.errors import ValidationError
from geo.frames.unit_grid import CellLookup, build_unit_grid, cell_index, default_origin

CRS = "EPSG:4548"
X0, Y0 = 532_000.0, 4_331_000.0
J = "120110900"


def rect(x1, y1, x2, y2):
    return box(X0 + x1, Y0 + y1, X0 + x2, Y0 + y2)


def cell(col, row, s=100.0):
    return rect(col * s, row * s, (col + 1) * s, (row + 1) * s)


# An L whose inner edge runs along the grid line x = 200 (from y = 100 to 190): the
# cell east of it only touches the jurisdiction and is left out.
BOUNDARY = Polygon([(X0 + x, Y0 + y) for x, y in [(10, 10), (290, 10), (290, 90), (200, 90), (200, 190), (10, 190)]])
# West community stops at y = 140, so cell (0, 1) has its centre in no community and
# goes to the one it overlaps most; the border x = 150 runs through cell centres.
COMMUNITIES = gpd.GeoDataFrame(
    {"code": [J + "002", J + "001"]}, geometry=[rect(150, 0, 300, 200), rect(0, 0, 150, 140)], crs=CRS
)


def test_build_unit_grid_cells_codes_and_communities():
    got = build_unit_grid(BOUNDARY, COMMUNITIES, jurisdiction_code=J)
    expected = gpd.GeoDataFrame(
        {
            "code": [J + "001001", J + "001002", J + "001003", J + "002001", J + "002002"],
            "community_code": [J + "001"] * 3 + [J + "002"] * 2,
            "col": np.array([0, 0, 1, 1, 2], dtype="int64"),
            "row": np.array([1, 0, 0, 1, 0], dtype="int64"),
            "jurisdiction_code": J,
        },
        geometry=[cell(0, 1), cell(0, 0), cell(1, 0), cell(1, 1), cell(2, 0)],
        crs=CRS,
    )
    assert_geodataframe_equal(got, expected, check_dtype=False, check_index_type=False)


def test_origin_defaults_to_bounds_floored_to_cell_size():
    assert default_origin(BOUNDARY, cell_size_m=100) == (X0, Y0)
    shifted = build_unit_grid(BOUNDARY, COMMUNITIES, jurisdiction_code=J, origin=(X0 - 50, Y0))
    assert shifted["col"].min() == 0 and len(shifted) > 5


def test_too_many_cells_in_a_community():
    communities = gpd.GeoDataFrame({"code": [J + "001"]}, geometry=[rect(0, 0, 40, 30)], crs=CRS)
    with pytest.raises(ValidationError, match="1200 cells"):
        build_unit_grid(rect(0, 0, 40, 30), communities, jurisdiction_code=J, cell_size_m=1.0)


def test_cell_without_community_is_an_error():
    communities = gpd.GeoDataFrame({"code": [J + "001"]}, geometry=[rect(0, 0, 100, 100)], crs=CRS)
    with pytest.raises(ValidationError, match=r"\(col 1, row 0\) overlaps no community"):
        build_unit_grid(rect(0, 0, 200, 100), communities, jurisdiction_code=J)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cell_size_m": 0}, "cell_size_m 0"),
        ({"origin": ("a", 1)}, "origin"),
        ({"jurisdiction_code": ""}, "jurisdiction_code ''"),
    ],
)
def test_build_rejects_bad_options(kwargs, message):
    options = {"jurisdiction_code": J, **kwargs}
    with pytest.raises(ValidationError, match=message):
        build_unit_grid(BOUNDARY, COMMUNITIES, **options)


def test_build_rejects_bad_community_code():
    bad = COMMUNITIES.assign(code=["12011090001", J + "001"])
    with pytest.raises(ValidationError, match="'12011090001'"):
        build_unit_grid(BOUNDARY, bad, jurisdiction_code=J)


def test_cell_index_is_half_open():
    x = X0 + np.array([0.0, 99.999, 100.0, 250.0, -0.001])
    y = Y0 + np.array([0.0, 100.0, 199.999, 300.0, 50.0])
    col, row = cell_index(x, y, origin=(X0, Y0), cell_size_m=100)
    assert col.tolist() == [0, 0, 1, 2, -1]
    assert row.tolist() == [0, 1, 1, 3, 0]
    assert col.dtype == np.int64


def test_cell_index_rejects_non_finite():
    with pytest.raises(ValidationError, match="x nan"):
        cell_index([np.nan], [Y0], origin=(X0, Y0), cell_size_m=100)


def test_cell_lookup():
    cells = pd.DataFrame({"col": [3, 5, 4], "row": [-1, 2, 0], "code": ["a", "b", "c"]})
    lookup = CellLookup(cells)
    col = np.array([3, 5, 4, 4, 9, -7])
    row = np.array([-1, 2, 0, 1, 0, 0])
    assert lookup.position(col, row).tolist() == [0, 1, 2, -1, -1, -1]
    assert lookup.code(col, row).tolist() == ["a", "b", "c", None, None, None]
    assert CellLookup(cells.iloc[:0]).code(col, row).tolist() == [None] * 6


def test_cell_lookup_rejects_duplicates():
    with pytest.raises(ValidationError, match=r"\(col, row\) = \(3, 1\)"):
        CellLookup(pd.DataFrame({"col": [3, 3], "row": [1, 1], "code": ["a", "b"]}))
