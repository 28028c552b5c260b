"""Issue counts per unit cell and per road segment, after filtering the issues (no I/O).

The issues are a frame of assigned issues (:func:`geo.frames.assign.assign_issues` columns:
``cell_code``, ``segment_id``, ``community_code``, ``department_code``) with
``category_code``, ``source``, ``status`` and ``reported_at``, as
:func:`geo.store.query_issues` returns them. Counting uses the assignment columns, never
the geometry, so a count agrees with every other figure of the same issue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import ValidationError

_CATEGORY_RE = re.compile(r"\d{2}|\d{5}")


def _values(name: str, values: Iterable[str] | str | None) -> list[str] | None:
    if values is None:
        return None
    listed = [values] if isinstance(values, str) else [str(v) for v in values]
    if not listed:
        raise ValidationError(f"{name}: an empty list selects nothing; pass None for no filter")
    return listed


def filter_issues(
    issues: pd.DataFrame,
    *,
    categories: Iterable[str] | str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    sources: Iterable[str] | str | None = None,
    departments: Iterable[str] | str | None = None,
    communities: Iterable[str] | str | None = None,
    statuses: Iterable[str] | str | None = None,
) -> pd.DataFrame:
    """The issues that pass every filter given (a filter left as None passes all).

    Parameters
    ----------
    issues : DataFrame or GeoDataFrame
        Issues with the columns of the filters used.
    categories : str or iterable of str, keyword-only
        5-digit event codes (``"06010"``) and/or 2-digit major classes (``"06"``,
        matching every code that starts with it).
    since, until : datetime or ISO string, keyword-only
        ``reported_at`` in ``[since, until)`` (naive local time).
    sources, departments, communities, statuses : str or iterable of str, keyword-only
        Values of ``source``, ``department_code``, ``community_code``, ``status``.

    Returns
    -------
    Same type as ``issues``
        The matching rows, index kept, order kept.
    """
    keep = np.ones(len(issues), dtype=bool)
    wanted = _values("categories", categories)
    if wanted is not None:
        bad = [c for c in wanted if not _CATEGORY_RE.fullmatch(c)]
        if bad:
            raise ValidationError(f"category {bad[0]!r}: expected a 5-digit event code or a 2-digit major class")
        codes = issues["category_code"].astype("string")
        keep &= (codes.isin([c for c in wanted if len(c) == 5])
                 | codes.str[:2].isin([c for c in wanted if len(c) == 2])).fillna(False).to_numpy(bool)
    times = None
    for bound, value in (("since", since), ("until", until)):
        if value is None:
            continue
        try:
            stamp = pd.Timestamp(value)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"{bound}={value!r}: expected a date or time such as 2025-12-01") from exc
        times = pd.to_datetime(issues["reported_at"]) if times is None else times
        keep &= (times >= stamp if bound == "since" else times < stamp).to_numpy(bool)
    for name, column, values in (("sources", "source", sources), ("departments", "department_code", departments),
                                 ("communities", "community_code", communities), ("statuses", "status", statuses)):
        listed = _values(name, values)
        if listed is not None:
            keep &= issues[column].isin(listed).to_numpy(bool)
    return issues[keep]


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
