"""Issue counts per unit cell and per road segment (no I/O).

The issues are a frame of assigned issues (:func:`geo.frames.assign.assign_issues` columns:
``cell_code``, ``segment_id``, ``community_code``, ``department_code``) with
``category_code``, ``source``, ``status`` and ``reported_at``, as
:func:`geo.store.query_issues` returns them (filtered there, or with
:meth:`geo.issue_filter.IssueFilter.apply`). Counting uses the assignment columns, never
the geometry, so a count agrees with every other figure of the same issue.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import ValidationError


def _per_key(issues: pd.DataFrame | pd.Series, key: str) -> pd.Series:
    """Issues per value of ``key``: counted from a frame of issues, or given (a Series of counts by value)."""
    if isinstance(issues, pd.Series):
        return issues
    values = issues[key] if key != "segment_id" else pd.to_numeric(issues[key], errors="coerce").dropna().astype("int64")
    return values.value_counts()


def cell_counts(issues: pd.DataFrame | pd.Series, cells: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Issues per unit cell.

    Parameters
    ----------
    issues : DataFrame or Series
        Issues with ``cell_code`` (issues without a cell are not counted), or their
        counts per cell code already made (:func:`geo.store.count_issues_by`).
    cells : GeoDataFrame
        Unit cells with ``code``, any CRS.

    Returns
    -------
    GeoDataFrame
        ``cells`` (same index, order, CRS) with ``count`` (int64, 0 where none).
    """
    if "code" not in cells:
        raise ValidationError(f"cells frame lacks column 'code'; it has {list(cells.columns)}")
    per_cell = _per_key(issues, "cell_code")
    return cells.assign(count=cells["code"].map(per_cell).fillna(0).astype("int64"))


def segment_counts(issues: pd.DataFrame | pd.Series, segments: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Issues per road segment and per kilometre of it.

    Parameters
    ----------
    issues : DataFrame or Series
        Issues with ``segment_id`` (nullable; issues off every road are not counted), or
        their counts per segment id already made.
    segments : GeoDataFrame
        Road segments with ``segment_id`` and ``length_m`` (metres, metric CRS).

    Returns
    -------
    GeoDataFrame
        ``segments`` with ``count`` (int64) and ``issues_per_km`` (count / length in
        km; NaN for a segment of zero length).
    """
    missing = {"segment_id", "length_m"} - set(segments.columns)
    if missing:
        raise ValidationError(f"segments frame lacks column(s) {sorted(missing)}")
    per_segment = _per_key(issues, "segment_id")
    count = segments["segment_id"].astype("int64").map(per_segment).fillna(0).astype("int64")
    km = segments["length_m"].astype(float).to_numpy() / 1000.0
    with np.errstate(divide="ignore", invalid="ignore"):
        per_km = np.where(km > 0, count.to_numpy() / np.where(km > 0, km, 1.0), np.nan)
    return segments.assign(count=count, issues_per_km=per_km)
