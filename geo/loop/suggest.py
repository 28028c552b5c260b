"""What the dispatcher is offered: whom to dispatch an issue to, and which open issue it may duplicate.

Both are suggestions, made from the taxonomy (a category's lead and supporting departments,
its group of related categories) and the place (contractor zones, compounds, 门前三包
frontage units, nearby reports); the dispatcher decides. No I/O: the frames come from
:mod:`geo.store` (see :mod:`geo.loop.triage` for the use case that reads them).
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import to_metric
from geo.errors import ValidationError
from geo.statuses import OPEN_STATUSES
from geo.taxonomy import load_taxonomy


def suggest_department(
    issues: gpd.GeoDataFrame,
    *,
    frontage_units: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """Whom to dispatch each issue to, from its category and its place.

    The place rules of :mod:`geo.frames.assign` come first (its ``department_code``:
    a sanitation-led issue inside a compound → ``community:<code>``; on a road in
    a contractor zone → ``sanitation_west`` / ``sanitation_east``; otherwise the
    category's lead department). A sanitation-led issue inside a recorded 门前三包
    frontage unit then goes to that unit, ``frontage:<code>`` (the unit with the
    lowest code when frontages overlap): keeping its frontage clean is the
    unit's own duty.

    Parameters
    ----------
    issues : geopandas.GeoDataFrame
        Points (EPSG:4326) with ``category_code`` and ``department_code`` (as
        assigned by :func:`geo.frames.assign.assign_issues` and stored).
    frontage_units : geopandas.GeoDataFrame, optional, keyword-only
        Polygons (EPSG:4326) with ``code`` (:func:`geo.store.read_frontage_units`).

    Returns
    -------
    pandas.DataFrame
        On ``issues``' index: ``department_code`` (suggested), ``reason``
        (``frontage``, ``community``, ``zone`` or ``lead``), ``frontage_code``
        (None unless a frontage unit applies).
    """
    for name, frame in (("issues", issues), ("frontage_units", frontage_units)):
        if frame is not None and (not isinstance(frame, gpd.GeoDataFrame) or frame.crs is None
                                  or not frame.crs.equals("EPSG:4326")):
            raise ValidationError(f"{name} must be a GeoDataFrame in EPSG:4326")
    missing = [c for c in ("category_code", "department_code") if c not in issues]
    if missing:
        raise ValidationError(f"issues lack column(s) {', '.join(missing)}")
    departments = load_taxonomy().departments
    lead = issues["category_code"].map(load_taxonomy().categories["lead_department"])
    assigned = issues["department_code"].astype(object).where(issues["department_code"].notna(), None)
    suggested = assigned.where(assigned.notna(), lead)
    frontage = pd.Series(None, index=issues.index, dtype=object)
    if frontage_units is not None and len(frontage_units) and len(issues):
        units = frontage_units.sort_values("code")
        point_pos, unit_pos = shapely.STRtree(units.geometry.values).query(issues.geometry.values,
                                                                           predicate="intersects")
        # Sorted by code, the first hit of each point is the lowest code.
        first = pd.Series(unit_pos, index=point_pos).groupby(level=0).min()
        frontage.iloc[first.index.to_numpy()] = units["code"].to_numpy()[first.to_numpy()]
    frontage = frontage.where((lead == "sanitation") & frontage.notna(), None)
    suggested = suggested.where(frontage.isna(), "frontage:" + frontage.astype(str))
    zones = departments.index[departments["parent"] == "sanitation"]
    reason = np.select(
        [frontage.notna().to_numpy(), suggested.astype(str).str.startswith("community:").to_numpy(),
         suggested.isin(zones).to_numpy()],
        ["frontage", "community", "zone"], default="lead")
    return pd.DataFrame({"department_code": suggested, "reason": reason, "frontage_code": frontage},
                        index=issues.index)


def suggest_duplicates(
    issues: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame | None = None,
    *,
    radius_m: float,
    window_h: float,
    related: pd.Series | None = None,
    metric_crs: str = "EPSG:4548",
) -> pd.DataFrame:
    """Pairs (issue, earlier open issue) that look like one problem reported twice.

    Same category (or, with ``related``, categories of the same group), at most
    ``radius_m`` metres apart (in ``metric_crs``) and the candidate reported at most
    ``window_h`` hours before the issue (and not after it; of two reported in the same
    second, the lower id is the original); only candidates still open (status
    reported … verified) count.

    Parameters
    ----------
    issues : geopandas.GeoDataFrame
        Points (EPSG:4326) with ``id``, ``category_code``, ``reported_at``.
    candidates : geopandas.GeoDataFrame, optional
        The open issues to compare with (same columns plus ``status``); default
        ``issues`` itself (then an issue is never its own duplicate).
    radius_m, window_h : float, keyword-only
        The settings ``duplicate_radius_m`` and ``duplicate_window_h``.
    related : pandas.Series, optional, keyword-only
        Category code → its group of related categories (the taxonomy's
        ``related_group``; None for a category of no group).
    metric_crs : str, keyword-only
        CRS in metres for the distances.

    Returns
    -------
    pandas.DataFrame
        ``issue_id``, ``duplicate_of`` (the earlier issue's id), ``dist_m``,
        ``hours_apart``, ``same_category`` (bool: False for a related one); nearest
        first within each issue, issues in input order.
    """
    for name, value in (("radius_m", radius_m), ("window_h", window_h)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValidationError(f"{name} {value!r} must be a non-negative number")
    candidates = issues if candidates is None else candidates
    for name, frame, columns in (("issues", issues, ("id", "category_code", "reported_at")),
                                 ("candidates", candidates, ("id", "category_code", "reported_at", "status"))):
        missing = [c for c in columns if c not in frame]
        if missing:
            raise ValidationError(f"{name} lack column(s) {', '.join(missing)}")
    empty = pd.DataFrame({"issue_id": pd.Series(dtype="int64"), "duplicate_of": pd.Series(dtype="int64"),
                          "dist_m": pd.Series(dtype="float64"), "hours_apart": pd.Series(dtype="float64"),
                          "same_category": pd.Series(dtype="bool")})
    open_ = candidates[candidates["status"].isin(OPEN_STATUSES)]
    if issues.empty or open_.empty:
        return empty
    a = to_metric(issues.geometry, crs=metric_crs).values
    b = to_metric(open_.geometry, crs=metric_crs).values
    i, j = shapely.STRtree(b).query(a, predicate="dwithin", distance=float(radius_m))
    ids_a, ids_b = issues["id"].to_numpy("int64")[i], open_["id"].to_numpy("int64")[j]
    hours = ((pd.to_datetime(issues["reported_at"]).to_numpy()[i] - pd.to_datetime(open_["reported_at"]).to_numpy()[j])
             / np.timedelta64(1, "h")).astype(float)
    codes_a, codes_b = issues["category_code"].to_numpy()[i], open_["category_code"].to_numpy()[j]
    same = codes_a == codes_b
    if related is not None:
        group_a, group_b = pd.Series(codes_a).map(related).to_numpy(), pd.Series(codes_b).map(related).to_numpy()
        alike = same | (pd.notna(group_a) & (group_a == group_b))
    else:
        alike = same
    keep = alike & (ids_a != ids_b) & ((hours > 0) | ((hours == 0) & (ids_b < ids_a))) & (hours <= window_h)
    if not keep.any():
        return empty
    pairs = pd.DataFrame({"issue_id": ids_a[keep], "duplicate_of": ids_b[keep],
                          "dist_m": shapely.distance(a[i[keep]], b[j[keep]]), "hours_apart": hours[keep],
                          "same_category": same[keep], "_order": i[keep]})
    return pairs.sort_values(["_order", "dist_m", "duplicate_of"]).drop(columns="_order").reset_index(drop=True)
