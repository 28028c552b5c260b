"""The worst cells and road segments, ranked, each with its context (no I/O).

Context comes from the issues' assignment columns (:mod:`geo.frames.assign`), so a cell's
compound, community, road and department are those its issues were assigned to:

* ``compound_code`` / ``community_code`` — the most frequent among the place's issues
  (a cell's own community when none of its issues has one);
* ``road_name`` — the name of the most frequent road segment among the place's issues;
* ``dominant_category`` — the most frequent event code; ``department_code`` — the most
  frequent responsible department;
* ``open_now`` — how many of ``open_issues`` (the issues open now, whatever the period
  analysed) lie there.

Ties go to the smallest code, so the answer does not depend on row order. The issues may
come one per row (the pandas reference) or as groups of identical rows with their number in
``n`` (as :func:`geo.store.count_issues_by` counts them), with the same result.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import ValidationError


def _weights(frame: pd.DataFrame) -> pd.Series:
    """How many issues each row stands for: its ``n``, or one."""
    return frame["n"] if "n" in frame else pd.Series(1, index=frame.index, dtype="int64")


def mode_by(frame: pd.DataFrame, key: str, column: str) -> pd.Series:
    """Most frequent non-missing ``column`` value per ``key`` (ties: the smallest value), rows weighted by ``n``."""
    pairs = frame[[key, column]].assign(n=_weights(frame)).dropna(subset=[key, column])
    if pairs.empty:
        return pd.Series(dtype=object)
    counted = pairs.groupby([key, column], observed=True)["n"].sum().rename("n").reset_index()
    counted = counted.sort_values([key, "n", column], ascending=[True, False, True], kind="stable")
    return counted.drop_duplicates(key).set_index(key)[column]


def latest_by(issues: pd.DataFrame, key: str, *, per: int = 3) -> pd.DataFrame:
    """The ``per`` most recently reported issues of each ``key`` value, newest first."""
    ordered = issues.dropna(subset=[key]).sort_values(["reported_at", "id"], ascending=False, kind="stable")
    return ordered.groupby(key, sort=False).head(per)


def _context(issues: pd.DataFrame, open_issues: pd.DataFrame, key: str, keys: pd.Series,
             segment_names: Mapping, names: Mapping[str, Mapping]) -> pd.DataFrame:
    named = issues.assign(road_name=pd.to_numeric(issues["segment_id"], errors="coerce").map(segment_names))
    out = pd.DataFrame({key: keys.to_numpy()})
    for column in ("compound_code", "community_code", "road_name", "category_code", "department_code"):
        out[column] = keys.map(mode_by(named, key, column)).to_numpy()
    out = out.rename(columns={"category_code": "dominant_category"})
    open_now = _weights(open_issues).groupby(open_issues[key]).sum()
    out["open_now"] = keys.map(open_now).fillna(0).astype("int64").to_numpy()
    for column, table in (("compound_code", "compounds"), ("community_code", "communities"),
                          ("dominant_category", "categories"), ("department_code", "departments")):
        label = column.removesuffix("_code") + "_name" if column.endswith("_code") else "dominant_category_name"
        out[label] = out[column].map(names.get(table, {}))
    return out


def _check(frame: pd.DataFrame, columns: set[str], what: str) -> None:
    missing = columns - set(frame.columns)
    if missing:
        raise ValidationError(f"{what} lacks column(s) {sorted(missing)}; it has {list(frame.columns)}")


def ranked_cells(cells: gpd.GeoDataFrame, *, n: int = 10) -> gpd.GeoDataFrame:
    """The ``n`` cells :func:`top_cells` ranks, hottest first (the rows of ``cells``)."""
    _check(cells, {"code", "community_code", "count", "gi_z", "gi_p", "gi_bin"}, "cells")
    if n < 1:
        raise ValidationError(f"n={n!r}: expected at least 1")
    return cells[cells["count"] > 0].sort_values(["gi_z", "count", "code"], ascending=[False, False, True],
                                                 kind="stable").head(n)


def ranked_segments(segments: gpd.GeoDataFrame, *, n: int = 10, min_length_m: float = 50.0) -> gpd.GeoDataFrame:
    """The ``n`` segments :func:`top_segments` ranks, most issues per km first (the rows of ``segments``)."""
    _check(segments, {"segment_id", "name", "length_m", "count", "issues_per_km"}, "segments")
    if n < 1:
        raise ValidationError(f"n={n!r}: expected at least 1")
    eligible = segments[(segments["count"] > 0) & (segments["length_m"] >= min_length_m)]
    return eligible.sort_values(["issues_per_km", "count", "segment_id"], ascending=[False, False, True],
                                kind="stable").head(n)


def top_cells(
    cells: gpd.GeoDataFrame,
    issues: pd.DataFrame,
    open_issues: pd.DataFrame,
    *,
    segment_names: Mapping,
    names: Mapping[str, Mapping],
    n: int = 10,
) -> gpd.GeoDataFrame:
    """The ``n`` hottest unit cells with their context.

    Parameters
    ----------
    cells : GeoDataFrame
        Unit cells with ``code``, ``community_code``, ``count`` and the Gi* columns
        ``gi_z``, ``gi_p``, ``gi_bin`` (:func:`geo.hotspots.gi_star.gi_star`).
    issues : DataFrame
        The issues analysed (assignment columns, ``category_code``; ``n`` when a row
        stands for several).
    open_issues : DataFrame
        The issues open now, with ``cell_code`` (and ``n``).
    segment_names : mapping
        ``segment_id`` → road name.
    names : mapping
        ``"compounds"``, ``"communities"``, ``"categories"``, ``"departments"`` → code → name.
    n : int, keyword-only
        How many cells.

    Returns
    -------
    GeoDataFrame
        ``rank`` (1 = hottest: highest Gi* z-score, then count, then code), the cell
        columns, and ``compound_code``/``_name``, ``community_name``, ``road_name``,
        ``dominant_category``/``_name``, ``department_code``/``_name``, ``open_now``.
        Only cells with at least one issue are ranked.
    """
    ranked = ranked_cells(cells, n=n)
    context = _context(issues, open_issues, "cell_code", ranked["code"], segment_names, names)
    context["community_code"] = context["community_code"].fillna(pd.Series(ranked["community_code"].to_numpy()))
    context["community_name"] = context["community_code"].map(names.get("communities", {}))
    out = ranked.drop(columns=["community_code"]).reset_index(drop=True)
    out = pd.concat([out, context.drop(columns=["cell_code"])], axis=1)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return gpd.GeoDataFrame(out, geometry=cells.geometry.name, crs=cells.crs)


def top_segments(
    segments: gpd.GeoDataFrame,
    issues: pd.DataFrame,
    open_issues: pd.DataFrame,
    *,
    names: Mapping[str, Mapping],
    n: int = 10,
    min_length_m: float = 50.0,
) -> gpd.GeoDataFrame:
    """The ``n`` road segments with the most issues per km, with their context.

    Parameters
    ----------
    segments : GeoDataFrame
        :func:`geo.loop.counts.segment_counts` output (``segment_id``, ``name``,
        ``length_m``, ``count``, ``issues_per_km``).
    issues, open_issues, names
        As for :func:`top_cells` (``segment_id`` instead of ``cell_code``).
    min_length_m : float, keyword-only
        Shorter segments are not ranked: on a 20 m stub one issue is 50 per km.

    Returns
    -------
    GeoDataFrame
        ``rank`` (by ``issues_per_km``, then ``count``, then ``segment_id``), the
        segment columns and the context columns of :func:`top_cells`.
    """
    ranked = ranked_segments(segments, n=n, min_length_m=min_length_m)
    with_ids = issues.assign(segment_id=pd.to_numeric(issues["segment_id"], errors="coerce"))
    open_ids = open_issues.assign(segment_id=pd.to_numeric(open_issues["segment_id"], errors="coerce"))
    names_by_id = dict(zip(segments["segment_id"], segments["name"]))
    context = _context(with_ids, open_ids, "segment_id", ranked["segment_id"].astype(float), names_by_id, names)
    out = pd.concat([ranked.reset_index(drop=True), context.drop(columns=["segment_id", "road_name"])], axis=1)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return gpd.GeoDataFrame(out, geometry=segments.geometry.name, crs=segments.crs)
