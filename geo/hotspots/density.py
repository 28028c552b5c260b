"""Kernel density of issues in the metric CRS, for the heat layer (no I/O).

The kernel is the quartic (biweight) kernel that ArcGIS's Kernel Density uses,

.. math:: K(d) = \\frac{3}{\\pi h^2}\\left(1 - \\frac{d^2}{h^2}\\right)^2 \\quad (d < h),

which integrates to 1, so the surface is in issues per unit area (reported per km²).
Points are binned to a raster of ``pixel_m`` first and the binned counts convolved with
the kernel sampled on the same raster (FFT): the cost depends on the raster, not on the
number of issues, and a point is displaced by at most half a pixel diagonal.

Default bandwidth: :data:`DEFAULT_BANDWIDTH_M` = 200 m, two unit cells — about a street
block or a compound's frontage, the scale at which a garbage corner or a cluster of
small ads is one place for a crew; narrower bandwidths split such a place into
single points, wider ones merge neighbouring blocks.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
from scipy.signal import fftconvolve

from geo.crs import DEFAULT_METRIC_CRS, metric_to_lonlat, to_metric
from geo.errors import ValidationError

DEFAULT_BANDWIDTH_M = 200.0
DEFAULT_PIXEL_M = 50.0
#: densities below this share of the maximum are dropped from the output (invisible on a heat layer)
DEFAULT_MIN_SHARE = 0.01


def _quartic_kernel(bandwidth_m: float, pixel_m: float) -> np.ndarray:
    reach = int(np.ceil(bandwidth_m / pixel_m))
    offsets = np.arange(-reach, reach + 1) * pixel_m
    d2 = offsets[None, :] ** 2 + offsets[:, None] ** 2
    inside = d2 < bandwidth_m ** 2
    return np.where(inside, 3.0 / (np.pi * bandwidth_m ** 2) * (1.0 - d2 / bandwidth_m ** 2) ** 2, 0.0)


def kernel_density(
    points: gpd.GeoDataFrame,
    *,
    bandwidth_m: float = DEFAULT_BANDWIDTH_M,
    pixel_m: float = DEFAULT_PIXEL_M,
    min_share: float = DEFAULT_MIN_SHARE,
    metric_crs: str = DEFAULT_METRIC_CRS,
    weights: np.ndarray | None = None,
) -> gpd.GeoDataFrame:
    """Kernel density surface of points, as the centres of the raster pixels that carry it.

    Parameters
    ----------
    points : GeoDataFrame
        Points with a CRS (issues, EPSG:4326).
    weights : array of float, optional, keyword-only
        How many issues each point stands for (issues counted per small square in SQL,
        :data:`geo.hotspots.views.DENSITY_GRID_DEG`); one each by default.
    bandwidth_m : float, keyword-only
        Kernel radius, metres (default 200 m, see the module notes).
    pixel_m : float, keyword-only
        Raster pixel edge, metres (default 50 m); at most ``bandwidth_m``.
    min_share : float, keyword-only
        Pixels whose density is below this share of the maximum are left out
        (default 1 %); 0 keeps every pixel with a positive density.
    metric_crs : str, keyword-only
        The projected CRS in metres in which distances are measured.

    Returns
    -------
    GeoDataFrame
        One point per pixel kept (its centre, EPSG:4326) with ``density_per_km2``
        (issues per km²) and ``share`` (density / maximum, 0…1). Empty when there
        is no point.
    """
    if not (np.isfinite(bandwidth_m) and bandwidth_m > 0):
        raise ValidationError(f"bandwidth_m={bandwidth_m!r}: expected a positive distance in metres")
    if not (np.isfinite(pixel_m) and 0 < pixel_m <= bandwidth_m):
        raise ValidationError(f"pixel_m={pixel_m!r}: expected a positive size no larger than bandwidth_m")
    if not 0 <= min_share < 1:
        raise ValidationError(f"min_share={min_share!r}: expected a share in [0, 1)")
    empty = gpd.GeoDataFrame({"density_per_km2": [], "share": []}, geometry=gpd.GeoSeries([], crs="EPSG:4326"))
    if len(points) == 0:
        return empty
    metric = to_metric(points.geometry, crs=metric_crs)
    x, y = metric.x.to_numpy(), metric.y.to_numpy()
    reach = int(np.ceil(bandwidth_m / pixel_m))
    # the raster is aligned to multiples of pixel_m so the same points always give the same pixels
    x0 = (np.floor(x.min() / pixel_m) - reach) * pixel_m
    y0 = (np.floor(y.min() / pixel_m) - reach) * pixel_m
    col = np.floor((x - x0) / pixel_m).astype(np.int64)
    row = np.floor((y - y0) / pixel_m).astype(np.int64)
    shape = (int(row.max()) + reach + 1, int(col.max()) + reach + 1)
    w = None if weights is None else np.asarray(weights, dtype=float)
    if w is not None and (w.shape != (len(points),) or not np.isfinite(w).all() or (w < 0).any()):
        raise ValidationError(f"weights: expected {len(points)} finite counts >= 0")
    binned = np.bincount(row * shape[1] + col, weights=w, minlength=shape[0] * shape[1]).reshape(shape).astype(float)
    surface = fftconvolve(binned, _quartic_kernel(bandwidth_m, pixel_m), mode="same")
    peak = surface.max()
    keep_r, keep_c = np.nonzero(surface > max(peak * min_share, peak * 1e-9))
    density = surface[keep_r, keep_c] * 1e6
    lon, lat = metric_to_lonlat(x0 + (keep_c + 0.5) * pixel_m, y0 + (keep_r + 0.5) * pixel_m, crs=metric_crs)
    return gpd.GeoDataFrame({"density_per_km2": density, "share": surface[keep_r, keep_c] / peak},
                            geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
