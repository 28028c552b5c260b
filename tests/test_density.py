"""Kernel density in the metric CRS."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest

from geo.crs import metric_to_lonlat
from geo.errors import ValidationError
from geo.hotspots.density import kernel_density

X0, Y0 = 530000.0, 4330000.0


def _points(xy: np.ndarray) -> gpd.GeoDataFrame:
    lon, lat = metric_to_lonlat(xy[:, 0], xy[:, 1])
    return gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def test_surface_integrates_to_the_number_of_points_and_peaks_at_the_cluster():
    rng = np.random.default_rng(0)
    cluster = rng.normal([X0 + 1000, Y0 + 500], 30, size=(300, 2))
    scatter = rng.uniform([X0, Y0], [X0 + 2000, Y0 + 2000], size=(100, 2))
    surface = kernel_density(_points(np.vstack([cluster, scatter])), bandwidth_m=200, pixel_m=25, min_share=0)
    # density per km² × pixel area in km² sums to the number of points (the kernel integrates to 1)
    assert surface["density_per_km2"].sum() * (25 / 1000) ** 2 == pytest.approx(400, rel=0.02)
    peak = surface.loc[surface["density_per_km2"].idxmax()]
    assert peak["share"] == 1.0
    lon, lat = metric_to_lonlat(X0 + 1000, Y0 + 500)
    assert abs(peak.geometry.x - lon) < 0.001 and abs(peak.geometry.y - lat) < 0.001  # within ~100 m


def test_single_point_gives_the_quartic_kernel():
    surface = kernel_density(_points(np.array([[X0 + 10, Y0 + 10]])), bandwidth_m=100, pixel_m=20, min_share=0)
    # the peak pixel holds the point: K(d) = 3/(pi h^2) (1 - d^2/h^2)^2 with d ≤ half a pixel diagonal
    top = surface["density_per_km2"].max() / 1e6
    assert 3 / (np.pi * 100**2) * (1 - 2 * 10**2 / 100**2) ** 2 <= top <= 3 / (np.pi * 100**2)
    # nothing beyond the bandwidth (plus a pixel of binning)
    assert len(surface) <= (2 * 100 / 20 + 1) ** 2


def test_min_share_drops_the_faint_pixels_and_empty_input_is_empty():
    pts = _points(np.array([[X0, Y0], [X0 + 5000, Y0]]))
    assert len(kernel_density(pts, min_share=0.5)) < len(kernel_density(pts, min_share=0.0))
    assert kernel_density(pts.iloc[:0]).empty


@pytest.mark.parametrize("options, message", [
    ({"bandwidth_m": 0}, "bandwidth_m=0"), ({"pixel_m": 500}, "pixel_m=500"), ({"min_share": 1.5}, "min_share=1.5")])
def test_bad_options_are_refused(options, message):
    with pytest.raises(ValidationError, match=message):
        kernel_density(_points(np.array([[X0, Y0]])), **options)
