"""Getis-Ord Gi* hot spots on the unit grid: analytic, vectorised on scipy.sparse weights (no I/O).

For values :math:`x_1 … x_n` and weights :math:`w_{ij}` with :math:`w_{ii} = 1` (the
"star": a cell counts in its own neighbourhood),

.. math::

    G_i^* = \\frac{\\sum_j w_{ij} x_j - \\bar x \\sum_j w_{ij}}
                 {S \\sqrt{\\left(n \\sum_j w_{ij}^2 - (\\sum_j w_{ij})^2\\right) / (n - 1)}},
    \\qquad S = \\sqrt{\\tfrac1n \\sum_j x_j^2 - \\bar x^2},

which is the z-score of Getis & Ord (1992) / Ord & Getis (1995) as ArcGIS's Hot Spot
Analysis reports it, and equals ``esda.G_Local(y, w, transform="B", star=True).Zs`` for
binary weights. The p-value is two-sided under the normal approximation.

Where the denominator is zero the z-score is defined as 0 and the p-value as 1 (no
evidence of clustering): a constant field (S = 0: every cell has the same count), or a
cell whose neighbourhood is the whole study area. esda answers NaN there.

Weights are binary, symmetric ``scipy.sparse.csr_matrix`` with a zero diagonal, aligned
with the cells frame (row i = i-th cell): :func:`queen_weights` (the 8 surrounding
unit cells, from ``col``/``row``; the default) or :func:`distance_band_weights` (cell
centres within a distance in metres, in the metric CRS).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.spatial import cKDTree
from scipy.stats import norm

from geo.crs import DEFAULT_METRIC_CRS, to_metric
from geo.errors import ValidationError
from geo.frames.unit_grid import CellLookup

#: (bin, two-sided significance level): bin ±3 at 99 %, ±2 at 95 %, ±1 at 90 % confidence
CONFIDENCE_LEVELS = ((3, 0.01), (2, 0.05), (1, 0.10))
_QUEEN_OFFSETS = np.array([(dc, dr) for dc in (-1, 0, 1) for dr in (-1, 0, 1) if (dc, dr) != (0, 0)])


def _symmetric_binary(i: np.ndarray, j: np.ndarray, n: int) -> sp.csr_matrix:
    weights = sp.csr_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    weights.sum_duplicates()
    weights.data[:] = 1.0
    return weights


def queen_weights(cells: pd.DataFrame) -> sp.csr_matrix:
    """Queen contiguity of unit cells: each cell's up to 8 neighbours by ``col``/``row``.

    Parameters
    ----------
    cells : DataFrame
        ``code``, ``col``, ``row`` (integers; no two cells share a position). Cells
        missing from the frame (holes, the area's edge) are simply not neighbours.

    Returns
    -------
    scipy.sparse.csr_matrix
        n × n binary, symmetric, zero diagonal, rows in the frame's order.
    """
    lookup = CellLookup(cells)
    n = len(cells)
    col, row = cells["col"].to_numpy("int64"), cells["row"].to_numpy("int64")
    # one lookup per offset for all cells at once: 8 vectorised steps, whatever n is
    neighbour = lookup.position(col[None, :] + _QUEEN_OFFSETS[:, :1], row[None, :] + _QUEEN_OFFSETS[:, 1:])
    focal = np.broadcast_to(np.arange(n), neighbour.shape)
    found = neighbour >= 0
    return _symmetric_binary(focal[found], neighbour[found], n)


def distance_band_weights(cells: gpd.GeoDataFrame, *, threshold_m: float,
                          metric_crs: str = DEFAULT_METRIC_CRS) -> sp.csr_matrix:
    """Cells whose centres lie within ``threshold_m`` metres of each other (fixed distance band).

    Parameters
    ----------
    cells : GeoDataFrame
        Polygons (any CRS with its CRS set).
    threshold_m : float, keyword-only
        Band in metres, measured between centroids in ``metric_crs`` (inclusive).
        On the 100 m grid, 100 gives rook contiguity and 150 queen contiguity.
    metric_crs : str, keyword-only
        Projected CRS in metres (default EPSG:4548).

    Returns
    -------
    scipy.sparse.csr_matrix
        n × n binary, symmetric, zero diagonal.
    """
    if not (np.isfinite(threshold_m) and threshold_m > 0):
        raise ValidationError(f"threshold_m={threshold_m!r}: expected a positive distance in metres")
    centres = to_metric(cells.geometry, crs=metric_crs).centroid
    xy = np.column_stack([centres.x.to_numpy(), centres.y.to_numpy()])
    pairs = cKDTree(xy).query_pairs(float(threshold_m), output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    return _symmetric_binary(np.concatenate([i, j]), np.concatenate([j, i]), len(cells))


def gi_star_z(values: np.ndarray, weights: sp.spmatrix) -> np.ndarray:
    """Gi* z-scores of one field (shape n) or of several at once (shape n × t, one per column).

    Parameters
    ----------
    values : array_like
        Counts (or any finite numbers) per cell, aligned with ``weights``.
    weights : scipy.sparse matrix
        n × n spatial weights; the diagonal is set to 1 here (the star).

    Returns
    -------
    numpy.ndarray
        z-scores, same shape as ``values``; 0 where undefined (see the module notes).
    """
    x = np.asarray(values, dtype=float)
    n = weights.shape[0]
    if weights.shape != (n, n) or x.shape[0] != n or x.ndim not in (1, 2):
        raise ValidationError(f"values of shape {x.shape} do not match weights of shape {weights.shape}")
    if not np.isfinite(x).all():
        raise ValidationError("values must be finite numbers (counts); found NaN or infinity")
    if n < 2:
        raise ValidationError(f"Gi* needs at least 2 cells, got {n}")
    w = sp.csr_matrix(weights, dtype=float, copy=True)
    w = w - sp.diags(w.diagonal()) + sp.identity(n, format="csr")
    w1 = np.asarray(w.sum(axis=1)).ravel()
    w2 = np.asarray(w.multiply(w).sum(axis=1)).ravel()
    mean = x.mean(axis=0)
    spread = np.sqrt(np.maximum((x * x).mean(axis=0) - mean * mean, 0.0))
    shape = (slice(None),) + (None,) * (x.ndim - 1)
    numerator = w @ x - w1[shape] * mean
    scale = np.sqrt(np.maximum(n * w2 - w1 * w1, 0.0) / (n - 1))
    denominator = scale[shape] * spread
    # Rounding leaves a constant field with a spread of ~1e-16 instead of 0: treat a spread
    # this small against the values' magnitude as none.
    flat = spread <= 1e-12 * np.maximum(np.abs(mean), 1.0)
    undefined = (denominator == 0) | flat
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(undefined, 0.0, numerator / np.where(undefined, 1.0, denominator))
    return z


def fdr_thresholds(p: np.ndarray, alpha: float) -> np.ndarray:
    """Benjamini–Hochberg cut-off per column: the largest ``p_(k)`` with ``p_(k) <= k alpha / m``.

    Parameters
    ----------
    p : numpy.ndarray
        p-values, shape m or m × t (one test family per column).
    alpha : float
        False-discovery rate.

    Returns
    -------
    numpy.ndarray
        One threshold per column (a scalar array for 1-D input); -1 where nothing is
        significant. A p-value is significant when it is at most its column's threshold.
    """
    p = np.asarray(p, dtype=float)
    ordered = np.sort(p, axis=0)
    m = p.shape[0]
    ranks = np.arange(1, m + 1).reshape((m,) + (1,) * (p.ndim - 1))
    passing = ordered <= ranks * alpha / m
    any_pass = passing.any(axis=0)
    last = m - 1 - np.argmax(passing[::-1], axis=0)
    cut = np.take_along_axis(ordered, np.expand_dims(last, 0), axis=0)[0]
    return np.where(any_pass, cut, -1.0)


def confidence_bins(z: np.ndarray, p: np.ndarray, *, fdr: bool = False) -> np.ndarray:
    """Hot/cold-spot bins −3…+3 from z-scores and two-sided p-values.

    ±3: significant at 99 % confidence, ±2 at 95 %, ±1 at 90 %, 0 not significant;
    the sign is the z-score's. With ``fdr`` each level's cut-off is the
    Benjamini–Hochberg threshold of the p-values (per column for 2-D input), as in
    ArcGIS's Hot Spot Analysis with the FDR correction.

    Returns
    -------
    numpy.ndarray of int8
    """
    z, p = np.asarray(z, dtype=float), np.asarray(p, dtype=float)
    level = np.zeros(p.shape, dtype=np.int8)
    for bin_, alpha in reversed(CONFIDENCE_LEVELS):
        cut = fdr_thresholds(p, alpha) if fdr else alpha
        level = np.where((p <= cut) if fdr else (p < cut), np.int8(bin_), level)
    return (np.sign(z) * level).astype(np.int8)


def gi_star(values: pd.Series | np.ndarray, weights: sp.spmatrix, *, fdr: bool = False) -> pd.DataFrame:
    """Getis-Ord Gi* of one field: z-score, two-sided p-value and confidence bin per cell.

    Parameters
    ----------
    values : Series or array
        Counts per cell, aligned with ``weights`` (a Series keeps its index).
    weights : scipy.sparse matrix
        From :func:`queen_weights` or :func:`distance_band_weights`.
    fdr : bool, keyword-only
        Benjamini–Hochberg false-discovery-rate correction of the bins.

    Returns
    -------
    DataFrame
        ``gi_z`` (float), ``gi_p`` (float, two-sided), ``gi_bin`` (int8, −3…+3).
    """
    index = values.index if isinstance(values, pd.Series) else None
    z = gi_star_z(np.asarray(values, dtype=float), weights)
    p = 2.0 * norm.sf(np.abs(z))
    return pd.DataFrame({"gi_z": z, "gi_p": p, "gi_bin": confidence_bins(z, p, fdr=fdr)}, index=index)
