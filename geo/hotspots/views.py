"""Hot-spot views read from the database: what the CLI and the hotspot pages both ask for.

Reading goes through :mod:`geo.store` (issues of the period with their assignment
columns; unit cells, segments); the analysis through :mod:`geo.loop.counts`,
:mod:`geo.hotspots.gi_star`, :mod:`geo.hotspots.density`, :mod:`geo.hotspots.emerging` and :mod:`geo.hotspots.top_hotspots`.
Only the columns the analysis needs are read for the many issues; descriptions and
addresses are read for the few issues a map shows in its popups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import Engine

from geo import store
from geo.clock import local_now
from geo.errors import NotFoundError, ValidationError
from geo.hotspots.density import kernel_density
from geo.hotspots.emerging import emerging_hotspots, emerging_series
from geo.hotspots.gi_star import distance_band_weights, gi_star, queen_weights
from geo.hotspots.top_hotspots import latest_by, top_cells, top_segments
from geo.issue_filter import IssueFilter
from geo.loop.counts import cell_counts, segment_counts
from geo.settings import Settings
from geo.statuses import OPEN_STATUSES
from geo.taxonomy import load_taxonomy

#: what the analysis reads of every issue of the period
ANALYSIS_COLUMNS = ("id", "category_code", "source", "status", "reported_at", "cell_code", "segment_id",
                    "compound_code", "community_code", "department_code")
#: what a popup shows of an issue
POPUP_COLUMNS = ("id", "category_code", "reported_at", "address", "cell_code")
DEFAULT_DAYS = 30
POPUP_ISSUES_PER_CELL = 2
#: fewer issues than this in a period and the Gi* classes are withheld: ArcGIS's Hot Spot Analysis asks for
#: at least 30 features, and with fewer a handful of neighbouring issues reads as a "99 % hot spot"
MIN_GI_ISSUES = 30
#: how far back the default period looks for one that holds MIN_GI_ISSUES issues
MAX_LOOK_BACK_PERIODS = 24


def _period(filters: IssueFilter) -> IssueFilter:
    """``filters`` checked to hold the period an analysis needs."""
    if filters.since is None or filters.until is None:
        raise ValidationError("a hot-spot analysis needs a period: since and until")
    return filters


@dataclass
class HotspotView:
    """The hot-spot analysis of one filter with a period (frames in EPSG:4326).

    Attributes
    ----------
    cells : GeoDataFrame
        Every unit cell with ``count``, ``gi_z``, ``gi_p``, ``gi_bin``.
    segments : GeoDataFrame
        Every road segment with ``count`` and ``issues_per_km``.
    issues : GeoDataFrame
        The filtered issues (:data:`ANALYSIS_COLUMNS`).
    open_issues : GeoDataFrame
        The issues open now that pass the value filters (any report time).
    density : GeoDataFrame
        :func:`geo.hotspots.density.kernel_density` of ``issues``.
    top_cells, top_segments : GeoDataFrame
        :mod:`geo.hotspots.top_hotspots` rankings.
    popup_issues : DataFrame
        The latest open issues of each cell (:data:`POPUP_COLUMNS`), for popups.
    gi_withheld : bool
        The period holds fewer than :data:`MIN_GI_ISSUES` issues: every ``gi_bin`` is 0 (not
        significant) and the pages say why, instead of showing classes that mean nothing.
    """

    filters: IssueFilter
    cells: gpd.GeoDataFrame
    segments: gpd.GeoDataFrame
    issues: gpd.GeoDataFrame
    open_issues: gpd.GeoDataFrame
    density: gpd.GeoDataFrame
    top_cells: gpd.GeoDataFrame
    top_segments: gpd.GeoDataFrame
    popup_issues: pd.DataFrame
    names: dict = field(default_factory=dict)
    gi_withheld: bool = False


def default_period(engine: Engine, settings: Settings, *, days: int = DEFAULT_DAYS,
                   min_issues: int = MIN_GI_ISSUES) -> tuple[datetime, datetime]:
    """The latest ``days``-day period with data: up to the end of the day of the latest report.

    When that period holds fewer than ``min_issues`` issues (a report or two made today
    after a year of imported data), the period moves back to end with the latest report
    before it, and so on (at most :data:`MAX_LOOK_BACK_PERIODS` times), so the default
    shows a period worth analysing; without any issue it is the last ``days`` days to today.
    Each step counts through the ``reported_at`` index.
    """
    j = settings.jurisdiction_code
    span = store.issue_time_range(engine, jurisdiction_code=j)
    last = span[1] if span else local_now()
    until = datetime(last.year, last.month, last.day) + timedelta(days=1)
    fallback = (until - timedelta(days=days), until)
    for _ in range(MAX_LOOK_BACK_PERIODS):
        since = until - timedelta(days=days)
        if span is None or store.count_issues(engine, jurisdiction_code=j,
                                              where=IssueFilter(since=since, until=until)) >= min_issues:
            return since, until
        earlier = store.issue_time_range(engine, jurisdiction_code=j, before=since)
        if earlier is None:
            break
        until = datetime(earlier[1].year, earlier[1].month, earlier[1].day) + timedelta(days=1)
    return fallback


def read_filtered_issues(engine: Engine, settings: Settings, filters: IssueFilter, *,
                         open_now: bool = False) -> gpd.GeoDataFrame:
    """Issues passing ``filters`` (:data:`ANALYSIS_COLUMNS`); ``open_now``: the open ones of any report time."""
    where = filters.narrowed(statuses=OPEN_STATUSES, since=None, until=None) if open_now else filters
    return store.query_issues(engine, jurisdiction_code=settings.jurisdiction_code, where=where,
                              columns=ANALYSIS_COLUMNS)


def reference_names(engine: Engine, settings: Settings) -> dict[str, dict]:
    """Code → name of compounds, communities, categories and departments (for context columns)."""
    j = settings.jurisdiction_code
    taxonomy = load_taxonomy()
    names = {layer: dict(zip(frame["code"], frame["name"]))
             for layer in ("compounds", "communities")
             for frame in [store.read_layer(engine, layer, jurisdiction_code=j)]}
    names["categories"] = taxonomy.categories["name"].to_dict()
    departments = taxonomy.departments["name"].to_dict()
    # sanitation in a compound is the community's job (geo.frames.assign): name it after the community
    departments.update({f"community:{code}": f"{name}（社区）" for code, name in names["communities"].items()})
    names["departments"] = departments
    return names


def _cells(engine: Engine, settings: Settings) -> gpd.GeoDataFrame:
    cells = store.read_layer(engine, "unit_cells", jurisdiction_code=settings.jurisdiction_code)
    if cells.empty:
        raise NotFoundError("数据库中没有单元网格：请先运行 citymap load-sample 或导入图层")
    return cells


def _weights(cells: gpd.GeoDataFrame, settings: Settings, band_m: float | None):
    return queen_weights(cells) if band_m is None else distance_band_weights(
        cells, threshold_m=band_m, metric_crs=settings.metric_crs)


def hotspot_view(engine: Engine, settings: Settings, filters: IssueFilter, *, band_m: float | None = None,
                 fdr: bool = False, top_n: int = 10, with_density: bool = True) -> HotspotView:
    """Counts, Gi*, density and rankings of the issues passing ``filters`` (which must hold a period).

    ``band_m`` switches the weights from queen contiguity to a distance band in metres;
    ``fdr`` applies the Benjamini–Hochberg correction to the Gi* bins.
    """
    j = settings.jurisdiction_code
    filters = _period(filters)
    cells = _cells(engine, settings)
    issues = read_filtered_issues(engine, settings, filters)
    open_issues = read_filtered_issues(engine, settings, filters, open_now=True)
    counted = cell_counts(issues, cells)
    gi = gi_star(counted["count"], _weights(cells, settings, band_m), fdr=fdr)
    withheld = len(issues) < MIN_GI_ISSUES
    if withheld:
        gi["gi_bin"] = 0
    cells = pd.concat([counted, gi], axis=1)
    segments = segment_counts(issues, store.read_layer(engine, "segments", jurisdiction_code=j))
    names = reference_names(engine, settings)
    segment_names = dict(zip(segments["segment_id"], segments["name"]))
    latest = latest_by(open_issues, "cell_code", per=POPUP_ISSUES_PER_CELL)
    popup_issues = (store.query_issues(engine, jurisdiction_code=j, where=IssueFilter(ids=latest["id"].tolist()),
                                       columns=POPUP_COLUMNS)
                    if len(latest) else pd.DataFrame(columns=list(POPUP_COLUMNS)))
    return HotspotView(
        filters=filters, cells=cells, segments=segments, issues=issues, open_issues=open_issues,
        density=kernel_density(issues if with_density else issues.iloc[:0], metric_crs=settings.metric_crs),
        top_cells=top_cells(cells, issues, open_issues, segment_names=segment_names, names=names, n=top_n),
        top_segments=top_segments(segments, issues, open_issues, names=names, n=top_n),
        popup_issues=popup_issues, names=names, gi_withheld=withheld,
    )


def emerging_view(engine: Engine, settings: Settings, filters: IssueFilter, *, bin_days: int = 7,
                  band_m: float | None = None, cell: str | None = None) -> tuple[gpd.GeoDataFrame, pd.DataFrame | None]:
    """Emerging hot spots (:func:`geo.hotspots.emerging.emerging_hotspots`) of the issues passing ``filters``.

    Returns the cells with their classes and, for ``cell`` (a unit-cell code), its series: one
    row per time bin with ``start`` (first day), ``count``, ``gi_z`` and ``gi_bin`` (None
    without ``cell``; a code that is no cell is a :class:`~geo.errors.NotFoundError`).
    """
    filters = _period(filters)
    cells = _cells(engine, settings)
    issues = read_filtered_issues(engine, settings, filters)
    weights = _weights(cells, settings, band_m)
    classified = emerging_hotspots(issues, cells, since=filters.since, until=filters.until, bin_days=bin_days,
                                   weights=weights)
    if cell is None:
        return classified, None
    at = np.flatnonzero(cells["code"].to_numpy() == cell)
    if not len(at):
        raise NotFoundError(f"cell={cell!r}: no such unit cell")
    series = emerging_series(issues, cells, since=filters.since, until=filters.until, bin_days=bin_days,
                             weights=weights)
    row = int(at[0])
    return classified, pd.DataFrame({"start": series.starts, "count": series.counts[row].astype("int64"),
                                     "gi_z": series.z[row], "gi_bin": series.bins[row]})
