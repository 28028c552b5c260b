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


def cell_counts(issues: pd.DataFrame, cells: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Issues per unit cell.

    Parameters
    ----------
    issues : DataFrame
        With ``cell_code`` (issues without a cell are not counted).
    cells : GeoDataFrame
        Unit cells with ``code``, any CRS.

    Returns
    -------
    GeoDataFrame
        ``cells`` (same index, order, CRS) with ``count`` (int64, 0 where none).
    """
    if "code" not in cells:
        raise ValidationError(f"cells frame lacks column 'code'; it has {list(cells.columns)}")
    per_cell = issues["cell_code"].value_counts()
    return cells.assign(count=cells["code"].map(per_cell).fillna(0).astype("int64"))


def segment_counts(issues: pd.DataFrame, segments: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Issues per road segment and per kilometre of it.

    Parameters
    ----------
    issues : DataFrame
        With ``segment_id`` (nullable; issues off every road are not counted).
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
    ids = pd.to_numeric(issues["segment_id"], errors="coerce").dropna().astype("int64")
    count = segments["segment_id"].astype("int64").map(ids.value_counts()).fillna(0).astype("int64")
    km = segments["length_m"].astype(float).to_numpy() / 1000.0
    with np.errstate(divide="ignore", invalid="ignore"):
        per_km = np.where(km > 0, count.to_numpy() / np.where(km > 0, km, 1.0), np.nan)
    return segments.assign(count=count, issues_per_km=per_km)
