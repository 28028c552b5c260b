"""GCJ-02 / BD-09 conversions, metric projection and the coordinate-system switch."""

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Point

from geo import crs
from geo.errors import ValidationError

# A 5 × 5 lattice over Tianjin's urban area, Jinqiao (Dongli) included.
LON, LAT = (a.ravel() for a in np.meshgrid(np.linspace(117.05, 117.55, 5), np.linspace(38.95, 39.35, 5)))


def metres_apart(lon_a, lat_a, lon_b, lat_b):
    xa, ya = crs.lonlat_to_metric(lon_a, lat_a)
    xb, yb = crs.lonlat_to_metric(lon_b, lat_b)
    return np.hypot(xb - xa, yb - ya)


def test_constants():
    assert (crs.WGS84, crs.CGCS2000, crs.DEFAULT_METRIC_CRS) == ("EPSG:4326", "EPSG:4490", "EPSG:4548")
    assert crs.COORD_SYSTEMS == ("wgs84", "cgcs2000", "gcj02", "bd09")


def test_gcj02_round_trip_within_1m():
    back = crs.gcj02_to_wgs84(*crs.wgs84_to_gcj02(LON, LAT))
    assert metres_apart(LON, LAT, *back).max() < 1.0
    # The iterative inverse converges far below the 1 m the product needs.
    assert metres_apart(LON, LAT, *back).max() < 0.05


def test_bd09_round_trips_within_1m():
    assert metres_apart(LON, LAT, *crs.bd09_to_wgs84(*crs.wgs84_to_bd09(LON, LAT))).max() < 1.0
    gcj = crs.wgs84_to_gcj02(LON, LAT)
    assert metres_apart(*gcj, *crs.bd09_to_gcj02(*crs.gcj02_to_bd09(*gcj))).max() < 1.0


def test_offsets_have_the_known_size_over_tianjin():
    gcj_shift = metres_apart(LON, LAT, *crs.wgs84_to_gcj02(LON, LAT))
    # GCJ-02 moves Tianjin by a few hundred metres (about 550-600 m), to the north-east.
    assert gcj_shift.min() > 300 and gcj_shift.max() < 900
    gcj_lon, gcj_lat = crs.wgs84_to_gcj02(LON, LAT)
    assert (gcj_lon > LON).all() and (gcj_lat > LAT).all()
    # BD-09 adds roughly another 0.0065° / 0.006° on top of GCJ-02.
    bd_shift = metres_apart(LON, LAT, *crs.wgs84_to_bd09(LON, LAT))
    assert (bd_shift > gcj_shift + 500).all() and bd_shift.max() < 2000


def test_identity_outside_mainland_china():
    lon = np.array([2.3522, -74.006, 139.6917, 151.2093])  # Paris, New York, Tokyo, Sydney
    lat = np.array([48.8566, 40.7128, 35.6895, -33.8688])
    np.testing.assert_array_equal(crs.wgs84_to_gcj02(lon, lat), (lon, lat))
    np.testing.assert_array_equal(crs.gcj02_to_wgs84(lon, lat), (lon, lat))


def test_scalar_and_missing_points():
    lon, lat = crs.wgs84_to_gcj02(117.4, 39.17)
    assert lon.shape == () and 117.4 < float(lon) < 117.42
    lon, lat = crs.gcj02_to_wgs84([117.4, np.nan], [39.17, np.nan])
    assert np.isfinite(lon[0]) and np.isnan(lon[1])
    empty = crs.bd09_to_wgs84([], [])
    assert empty[0].shape == (0,)


def test_metric_round_trip_and_epsg_4548_input():
    x, y = crs.lonlat_to_metric(LON, LAT)
    # CM 117°E, false easting 500 000 m without a zone prefix; Tianjin lies just east of it.
    assert ((x > 500_000) & (x < 560_000)).all() and ((y > 4_300_000) & (y < 4_370_000)).all()
    np.testing.assert_allclose(crs.metric_to_lonlat(x, y), (LON, LAT), atol=1e-9)
    np.testing.assert_allclose(crs.convert_to_wgs84(x, y, "EPSG:4548"), (LON, LAT), atol=1e-9)
    np.testing.assert_allclose(crs.convert_to_wgs84(x, y, "epsg:4548"), (LON, LAT), atol=1e-9)


def test_convert_to_wgs84_by_system():
    gcj = crs.wgs84_to_gcj02(LON, LAT)
    bd = crs.wgs84_to_bd09(LON, LAT)
    assert metres_apart(LON, LAT, *crs.convert_to_wgs84(*gcj, "gcj02")).max() < 1.0
    assert metres_apart(LON, LAT, *crs.convert_to_wgs84(*gcj, "GCJ-02")).max() < 1.0
    assert metres_apart(LON, LAT, *crs.convert_to_wgs84(*bd, "bd09")).max() < 1.0
    np.testing.assert_array_equal(crs.convert_to_wgs84(LON, LAT, "cgcs2000"), (LON, LAT))
    np.testing.assert_array_equal(crs.convert_to_wgs84(LON, LAT, "WGS84"), (LON, LAT))
    np.testing.assert_allclose(crs.convert_to_wgs84(LON, LAT, "EPSG:4490"), (LON, LAT), atol=1e-6)


def test_unknown_system_names_value_and_choices():
    with pytest.raises(ValidationError) as err:
        crs.convert_to_wgs84(117.4, 39.17, "baidu")
    assert "'baidu'" in str(err.value)
    for name in crs.COORD_SYSTEMS:
        assert name in str(err.value)
    with pytest.raises(ValidationError, match="EPSG:999999"):
        crs.convert_to_wgs84(117.4, 39.17, "EPSG:999999")


def test_invalid_degrees_and_metric_crs_are_refused():
    with pytest.raises(ValidationError, match="lat 91.0"):
        crs.wgs84_to_gcj02(117.4, 91.0)
    with pytest.raises(ValidationError, match="EPSG:4326"):
        crs.lonlat_to_metric(117.4, 39.17, crs="EPSG:4326")


def test_frames_to_metric_and_back():
    gdf = gpd.GeoDataFrame({"id": [1]}, geometry=[Point(117.4, 39.17)], crs=crs.WGS84)
    metric = crs.to_metric(gdf)
    assert metric.crs.to_epsg() == 4548
    back = crs.to_wgs84(metric)
    assert back.crs.to_epsg() == 4326
    assert back.geometry.iloc[0].distance(Point(117.4, 39.17)) < 1e-9
    assert crs.to_metric(gdf.geometry).crs.to_epsg() == 4548
    with pytest.raises(ValidationError, match="no CRS"):
        crs.to_metric(gpd.GeoDataFrame(geometry=[Point(117.4, 39.17)]))
    with pytest.raises(ValidationError, match="no CRS"):
        crs.to_wgs84(gpd.GeoSeries([Point(117.4, 39.17)]))
