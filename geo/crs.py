"""Coordinate reference systems: WGS84, CGCS2000, the metric CRS, GCJ-02 and BD-09.

Geometries are stored in WGS84 lon/lat (EPSG:4326); lengths, areas, buffers and
distances are computed in a metric CRS, by default EPSG:4548 (CGCS2000 / 3-degree
Gauss-Krüger CM 117°E, which fits Tianjin).

Chinese phone apps and web maps publish coordinates in two obfuscated systems that
no EPSG code describes:

* GCJ-02 ("Mars coordinates"), used by AMap/Gaode and Tencent: WGS84 plus a
  deterministic, location-dependent shift of a few hundred metres, applied only
  inside mainland China;
* BD-09, used by Baidu: GCJ-02 with a further rotation and offset.

The functions here convert them to and from WGS84 on NumPy arrays, all points at
once. The GCJ-02 forward formula is the publicly documented one; its inverse has no
closed form and is solved iteratively.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pyproj
from numpy.typing import ArrayLike

from geo.errors import ValidationError

if TYPE_CHECKING:
    import geopandas as gpd

    Frame = gpd.GeoDataFrame | gpd.GeoSeries

WGS84 = "EPSG:4326"
CGCS2000 = "EPSG:4490"
DEFAULT_METRIC_CRS = "EPSG:4548"

COORD_SYSTEMS = ("wgs84", "cgcs2000", "gcj02", "bd09")

# Krasovsky 1940 ellipsoid, which the GCJ-02 formula is defined on.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
# Rough box of mainland China; GCJ-02 leaves points outside it unshifted.
_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)
_BD_X_PI = np.pi * 3000.0 / 180.0
_INVERSE_TOL_DEG = 1e-7
# The shifts vary slowly in space, so each fixed-point step cuts the residual by
# orders of magnitude and a handful of steps converge; 30 is only a safety cap.
_INVERSE_MAX_ITER = 30


@lru_cache(maxsize=64)
def _parse_crs(crs: str, *, what: str) -> pyproj.CRS:
    # Cached: parsing a CRS from the PROJ database costs more than converting a few points.
    try:
        return pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise ValidationError(f"{what} {crs!r} is not a CRS pyproj knows") from exc


@lru_cache(maxsize=64)
def _metric_crs(crs: str) -> str:
    parsed = _parse_crs(crs, what="metric CRS")
    units = {axis.unit_name for axis in parsed.axis_info}
    if not parsed.is_projected or units != {"metre"}:
        raise ValidationError(
            f"metric CRS {crs!r} must be a projected CRS in metres (for example {DEFAULT_METRIC_CRS!r})"
        )
    return crs


@lru_cache(maxsize=64)
def _transformer(src: str, dst: str) -> pyproj.Transformer:
    # Building a Transformer costs milliseconds; requests convert a few points each.
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def _as_arrays(x: ArrayLike, y: ArrayLike, *, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    try:
        ax, ay = np.broadcast_arrays(np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64"))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{names[0]}/{names[1]} must be numbers of matching shape: {exc}") from exc
    return ax.copy(), ay.copy()


def _lonlat(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validated float arrays; NaN passes through (a missing point stays missing)."""
    lon_a, lat_a = _as_arrays(lon, lat, names=("lon", "lat"))
    for name, values, limit in (("lon", lon_a, 180.0), ("lat", lat_a, 90.0)):
        bad = np.abs(values) > limit
        if bad.any():
            raise ValidationError(f"{name} {float(values[bad].flat[0])!r} is outside ±{limit:g} degrees")
    return lon_a, lat_a


def lonlat_to_metric(
    lon: ArrayLike, lat: ArrayLike, *, crs: str = DEFAULT_METRIC_CRS
) -> tuple[np.ndarray, np.ndarray]:
    """Project WGS84 longitude/latitude to a metric CRS.

    Parameters
    ----------
    lon, lat : array_like
        Degrees, EPSG:4326. NaN stays NaN.
    crs : str, keyword-only
        Projected CRS in metres, default EPSG:4548.

    Returns
    -------
    x, y : numpy.ndarray
        Easting and northing in metres, shaped like the broadcast inputs.
    """
    lon_a, lat_a = _lonlat(lon, lat)
    return _transformer(WGS84, _metric_crs(crs)).transform(lon_a, lat_a)


def metric_to_lonlat(
    x: ArrayLike, y: ArrayLike, *, crs: str = DEFAULT_METRIC_CRS
) -> tuple[np.ndarray, np.ndarray]:
    """Unproject metric coordinates to WGS84 longitude/latitude.

    Parameters
    ----------
    x, y : array_like
        Easting and northing in metres in ``crs``.
    crs : str, keyword-only
        Projected CRS in metres, default EPSG:4548.

    Returns
    -------
    lon, lat : numpy.ndarray
        Degrees, EPSG:4326.
    """
    x_a, y_a = _as_arrays(x, y, names=("x", "y"))
    return _transformer(_metric_crs(crs), WGS84).transform(x_a, y_a)


def _require_crs(frame: "Frame", what: str) -> None:
    if frame.crs is None:
        raise ValidationError(
            f"{what} has no CRS; set it with .set_crs(...) before converting (geometries are expected in {WGS84})"
        )


def to_metric(gdf: "Frame", *, crs: str = DEFAULT_METRIC_CRS) -> "Frame":
    """Reproject a GeoDataFrame or GeoSeries to a metric CRS.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame or geopandas.GeoSeries
        Must carry a CRS.
    crs : str, keyword-only
        Projected CRS in metres, default EPSG:4548.

    Returns
    -------
    geopandas.GeoDataFrame or geopandas.GeoSeries
        A new frame in ``crs``; the input is not modified.
    """
    _require_crs(gdf, "the frame to project")
    return gdf.to_crs(_metric_crs(crs))


def to_wgs84(gdf: "Frame") -> "Frame":
    """Reproject a GeoDataFrame or GeoSeries to WGS84 lon/lat (EPSG:4326).

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame or geopandas.GeoSeries
        Must carry a CRS.

    Returns
    -------
    geopandas.GeoDataFrame or geopandas.GeoSeries
        A new frame in EPSG:4326.
    """
    _require_crs(gdf, "the frame to convert to WGS84")
    return gdf.to_crs(WGS84)


def _outside_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon < _CHINA_LON[0]) | (lon > _CHINA_LON[1]) | (lat < _CHINA_LAT[0]) | (lat > _CHINA_LAT[1])


def _gcj_shift(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The GCJ-02 offset (degrees) to add to a WGS84 point; zero outside China."""
    x = lon - 105.0
    y = lat - 35.0
    ripple = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    d_lat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
        + ripple
        + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    )
    d_lon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
        + ripple
        + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    # Turn the metre-like offsets into degrees on the Krasovsky ellipsoid.
    rad_lat = np.radians(lat)
    magic = 1.0 - _GCJ_EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = d_lat * 180.0 / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = d_lon * 180.0 / (_GCJ_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    outside = _outside_china(lon, lat)
    return np.where(outside, 0.0, d_lon), np.where(outside, 0.0, d_lat)


def _invert(forward, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(src) == (lon, lat)`` for ``src`` by fixed-point iteration."""
    src_lon, src_lat = lon.copy(), lat.copy()
    for _ in range(_INVERSE_MAX_ITER):
        fwd_lon, fwd_lat = forward(src_lon, src_lat)
        d_lon, d_lat = fwd_lon - lon, fwd_lat - lat
        src_lon -= d_lon
        src_lat -= d_lat
        # Comparisons with NaN are false, so missing points never keep the loop running.
        if not ((np.abs(d_lon) >= _INVERSE_TOL_DEG) | (np.abs(d_lat) >= _INVERSE_TOL_DEG)).any():
            break
    return src_lon, src_lat


def _wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d_lon, d_lat = _gcj_shift(lon, lat)
    return lon + d_lon, lat + d_lat


def _gcj02_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _BD_X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _BD_X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Shift WGS84 lon/lat to GCJ-02 (AMap/Gaode, Tencent).

    Parameters
    ----------
    lon, lat : array_like
        Degrees, WGS84. Points outside mainland China (a rough bounding box) are
        returned unchanged, as GCJ-02 does not shift them.

    Returns
    -------
    lon, lat : numpy.ndarray
        Degrees, GCJ-02.
    """
    return _wgs84_to_gcj02(*_lonlat(lon, lat))


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 lon/lat back to WGS84.

    The forward shift has no closed-form inverse; this iterates until every point
    reproduces its GCJ-02 input to better than 1e-7 degree (about 1 cm).

    Parameters
    ----------
    lon, lat : array_like
        Degrees, GCJ-02.

    Returns
    -------
    lon, lat : numpy.ndarray
        Degrees, WGS84.
    """
    return _invert(_wgs84_to_gcj02, *_lonlat(lon, lat))


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert GCJ-02 lon/lat to Baidu BD-09.

    Parameters
    ----------
    lon, lat : array_like
        Degrees, GCJ-02.

    Returns
    -------
    lon, lat : numpy.ndarray
        Degrees, BD-09.
    """
    return _gcj02_to_bd09(*_lonlat(lon, lat))


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert Baidu BD-09 lon/lat to GCJ-02.

    Solved iteratively (to 1e-7 degree) rather than with the usual one-step
    approximate inverse, which is off by up to a metre or so.

    Parameters
    ----------
    lon, lat : array_like
        Degrees, BD-09.

    Returns
    -------
    lon, lat : numpy.ndarray
        Degrees, GCJ-02.
    """
    return _invert(_gcj02_to_bd09, *_lonlat(lon, lat))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert WGS84 lon/lat to Baidu BD-09 (via GCJ-02).

    Parameters
    ----------
    lon, lat : array_like
        Degrees, WGS84.

    Returns
    -------
    lon, lat : numpy.ndarray
        Degrees, BD-09.
    """
    return _gcj02_to_bd09(*_wgs84_to_gcj02(*_lonlat(lon, lat)))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Convert Baidu BD-09 lon/lat to WGS84 (via GCJ-02).

    Parameters
    ----------
    lon, lat : array_like
        Degrees, BD-09.

    Returns
    -------
    lon, lat : numpy.ndarray
        Degrees, WGS84.
    """
    return _invert(_wgs84_to_gcj02, *_invert(_gcj02_to_bd09, *_lonlat(lon, lat)))


def convert_to_wgs84(lon: ArrayLike, lat: ArrayLike, system: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert coordinates given in a named system to WGS84 lon/lat.

    Parameters
    ----------
    lon, lat : array_like
        Coordinates in ``system``: degrees for the geographic systems; for a
        projected ``EPSG:nnnn`` CRS, easting and northing in its units (metres).
    system : str
        One of :data:`COORD_SYSTEMS` (case, hyphens and underscores ignored, so
        ``"GCJ-02"`` works), or any ``"EPSG:nnnn"`` code pyproj knows, geographic or
        projected. ``"cgcs2000"`` geographic coordinates are taken as WGS84 as they
        are: the two realisations differ by centimetres, far below GPS and
        hand-placed map-pin error.

    Returns
    -------
    lon, lat : numpy.ndarray
        Degrees, EPSG:4326.

    Raises
    ------
    geo.errors.ValidationError
        For an unknown system (the message names it and the accepted ones), an
        unknown EPSG code, or out-of-range degrees.
    """
    if not isinstance(system, str):
        raise ValidationError(
            f"coordinate system {system!r} must be a string: one of {', '.join(COORD_SYSTEMS)} or 'EPSG:nnnn'"
        )
    key = system.strip().lower().replace("-", "").replace("_", "")
    if key in ("wgs84", "cgcs2000"):
        return _lonlat(lon, lat)
    if key == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    if key == "bd09":
        return bd09_to_wgs84(lon, lat)
    if key.startswith("epsg:") and key[5:].isdigit():
        src = system.strip().upper()
        geographic = _parse_crs(src, what="coordinate system").is_geographic
        x, y = _lonlat(lon, lat) if geographic else _as_arrays(lon, lat, names=("x", "y"))
        return _transformer(src, WGS84).transform(x, y)
    raise ValidationError(
        f"unknown coordinate system {system!r}; accepted: {', '.join(COORD_SYSTEMS)} or 'EPSG:nnnn'"
    )
