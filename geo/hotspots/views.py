"""Hot-spot views read from the database: what the CLI and the hotspot pages both ask for.

No view reads the issues of its period: they are counted in SQL (:func:`geo.store.count_issues_by`)
per unit cell, road segment, small square (the kernel density), time bin (emerging hot spots)
and, for the few cells and segments ranked, per value of their context columns; the
popups read the newest open issues of each cell (:func:`geo.store.newest_issues_by`). So a
page costs what its period's count costs, read from an index, whatever the table holds.
The analysis is :mod:`geo.loop.counts`, :mod:`geo.hotspots.gi_star`,
:mod:`geo.hotspots.density`, :mod:`geo.hotspots.emerging` and
:mod:`geo.hotspots.top_hotspots`, the same functions that run on frames of issues.
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
from geo.crs import WGS84
from geo.errors import NotFoundError, ValidationError
from geo.hotspots.density import kernel_density
from geo.hotspots.emerging import emerging_from_counts, time_bins
from geo.hotspots.gi_star import distance_band_weights, gi_star, queen_weights
from geo.hotspots.top_hotspots import ranked_cells, ranked_segments, top_cells, top_segments
from geo.issue_filter import IssueFilter
from geo.loop.counts import cell_counts, segment_counts
from geo.settings import Settings
from geo.statuses import OPEN_STATUSES
from geo.taxonomy import load_taxonomy

#: what a popup shows of an issue
POPUP_COLUMNS = ("id", "category_code", "reported_at", "address", "cell_code")
#: the columns a ranked cell's or segment's context is the most frequent value of
CONTEXT_COLUMNS = ("compound_code", "community_code", "segment_id", "category_code", "department_code")
#: the side (degrees, ≈ 17 × 22 m in Tianjin) of the squares the issues are counted on for the kernel density,
#: well under its 50 m pixels
DENSITY_GRID_DEG = 0.0002
DEFAULT_DAYS = 30
POPUP_ISSUES_PER_CELL = 2
#: the popups' newest open issues are sought among at most this many open issues, the most recently reported
POPUP_SCAN_LIMIT = 20_000
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
        Every unit cell with ``count``, ``gi_z``, ``gi_p``, ``gi_bin`` and ``open_count``
        (its issues open now that pass the value filters, whatever their report time).
    segments : GeoDataFrame
        Every road segment with ``count`` and ``issues_per_km``.
    n_issues, n_open : int
        The filtered issues, and those open now of any report time.
    majors : Series
        The filtered issues per major class (``"06"`` → n).
    density : GeoDataFrame
        :func:`geo.hotspots.density.kernel_density` of the issues (empty without ``with_density``).
    top_cells, top_segments : GeoDataFrame
        :mod:`geo.hotspots.top_hotspots` rankings.
    popup_issues : DataFrame
        The latest open issues of each cell (:data:`POPUP_COLUMNS`), for popups.
    cell_majors : Series or None
        The filtered issues per (cell_code, major), with ``per_major`` (a map that draws them itself).
    gi_withheld : bool
        The period holds fewer than :data:`MIN_GI_ISSUES` issues: every ``gi_bin`` is 0 (not
        significant) and the pages say why, instead of showing classes that mean nothing.
    """

    filters: IssueFilter
    cells: gpd.GeoDataFrame
    segments: gpd.GeoDataFrame
    n_issues: int
    n_open: int
    majors: pd.Series
    density: gpd.GeoDataFrame
    top_cells: gpd.GeoDataFrame
    top_segments: gpd.GeoDataFrame
    popup_issues: pd.DataFrame
    names: dict = field(default_factory=dict)
    cell_majors: pd.Series | None = None
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


def open_now(filters: IssueFilter) -> IssueFilter:
    """The issues open now that pass the value filters of ``filters``, whatever their report time."""
    return filters.narrowed(statuses=OPEN_STATUSES, since=None, until=None)


def _grouped(counts: pd.Series) -> pd.DataFrame:
    """Counted groups as rows with their number in ``n`` (:mod:`geo.hotspots.top_hotspots` weighs rows by it)."""
    return counts.rename("n").reset_index()


def issue_density(engine: Engine, settings: Settings, filters: IssueFilter) -> gpd.GeoDataFrame:
    """:func:`geo.hotspots.density.kernel_density` of the issues that pass ``filters``, counted per square of
    :data:`DENSITY_GRID_DEG` in SQL: each square's issues at its centre (≤ 12 m from where they are)."""
    grid = store.count_issues_by(engine, ("gx", "gy"), jurisdiction_code=settings.jurisdiction_code, where=filters,
                                 grid_deg=DENSITY_GRID_DEG)
    lon = (grid.index.get_level_values("gx").to_numpy(float) + 0.5) * DENSITY_GRID_DEG - 180.0
    lat = (grid.index.get_level_values("gy").to_numpy(float) + 0.5) * DENSITY_GRID_DEG - 90.0
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=WGS84)
    return kernel_density(points, weights=grid.to_numpy(float), metric_crs=settings.metric_crs)


def hotspot_view(engine: Engine, settings: Settings, filters: IssueFilter, *, band_m: float | None = None,
                 fdr: bool = False, top_n: int = 10, with_density: bool = True,
                 per_major: bool = False) -> HotspotView:
    """Counts, Gi*, density and rankings of the issues passing ``filters`` (which must hold a period).

    ``band_m`` switches the weights from queen contiguity to a distance band in metres;
    ``fdr`` applies the Benjamini–Hochberg correction to the Gi* bins; ``per_major`` adds
    the counts per cell and major class.
    """
    j = settings.jurisdiction_code
    filters = _period(filters)
    opened = open_now(filters)

    def count(by, where: IssueFilter = filters, **options) -> pd.Series:
        return store.count_issues_by(engine, by, jurisdiction_code=j, where=where, **options)

    cells = _cells(engine, settings)
    n_issues = store.count_issues(engine, jurisdiction_code=j, where=filters)
    open_cells = count("cell_code", opened)
    counted = cell_counts(count("cell_code"), cells)
    gi = gi_star(counted["count"], _weights(cells, settings, band_m), fdr=fdr)
    withheld = n_issues < MIN_GI_ISSUES
    if withheld:
        gi["gi_bin"] = 0
    cells = pd.concat([counted, gi], axis=1)
    cells["open_count"] = cells["code"].map(open_cells).fillna(0).astype("int64")
    segments = segment_counts(count("segment_id"), store.read_layer(engine, "segments", jurisdiction_code=j))
    names = reference_names(engine, settings)
    segment_names = dict(zip(segments["segment_id"], segments["name"]))
    # the context of the ranked cells and segments: their issues counted per value of each context column
    codes = ranked_cells(cells, n=top_n)["code"].tolist()
    ids = ranked_segments(segments, n=top_n)["segment_id"].astype(int).tolist()
    return HotspotView(
        filters=filters, cells=cells, segments=segments, n_issues=n_issues,
        n_open=store.count_issues(engine, jurisdiction_code=j, where=opened), majors=count("major"),
        density=(issue_density(engine, settings, filters) if with_density and n_issues
                 else kernel_density(gpd.GeoDataFrame(geometry=[], crs=WGS84))),
        top_cells=top_cells(cells, _grouped(count(("cell_code", *CONTEXT_COLUMNS), filters.narrowed(cells=codes),
                                                  with_nulls=True)),
                            _grouped(open_cells), segment_names=segment_names, names=names, n=top_n),
        top_segments=top_segments(segments, _grouped(count(CONTEXT_COLUMNS, filters.narrowed(segments=ids),
                                                           with_nulls=True)),
                                  _grouped(count("segment_id", opened.narrowed(segments=ids))), names=names, n=top_n),
        popup_issues=store.newest_issues_by(engine, "cell_code", jurisdiction_code=j, where=opened,
                                            per=POPUP_ISSUES_PER_CELL, columns=POPUP_COLUMNS,
                                            scan_limit=POPUP_SCAN_LIMIT),
        names=names, cell_majors=count(("cell_code", "major")) if per_major else None, gi_withheld=withheld,
    )


def emerging_view(engine: Engine, settings: Settings, filters: IssueFilter, *, bin_days: int = 7,
                  band_m: float | None = None, cell: str | None = None) -> tuple[gpd.GeoDataFrame, pd.DataFrame | None]:
    """Emerging hot spots (:func:`geo.hotspots.emerging.emerging_hotspots`) of the issues passing ``filters``.

    The issues are counted per unit cell and time bin in SQL. Returns the cells with their
    classes and, for ``cell`` (a unit-cell code), its series: one row per time bin with
    ``start`` (first day), ``count``, ``gi_z`` and ``gi_bin`` (None without ``cell``; a code
    that is no cell is a :class:`~geo.errors.NotFoundError`).
    """
    filters = _period(filters)
    cells = _cells(engine, settings)
    edges = time_bins(filters.since, filters.until, bin_days=bin_days)
    counts = store.count_issues_by(engine, ("cell_code", "bin"), jurisdiction_code=settings.jurisdiction_code,
                                   where=filters, time_bin=(edges[0].to_pydatetime(), bin_days))
    matrix = np.zeros((len(cells), len(edges) - 1))
    row = pd.Index(cells["code"]).get_indexer(counts.index.get_level_values("cell_code"))
    column = counts.index.get_level_values("bin").to_numpy(int)
    keep = (row >= 0) & (column >= 0) & (column < matrix.shape[1])
    np.add.at(matrix, (row[keep], column[keep]), counts.to_numpy(float)[keep])
    if cell is not None and not (cells["code"].to_numpy() == cell).any():
        raise NotFoundError(f"cell={cell!r}: no such unit cell")
    classified, series = emerging_from_counts(matrix, cells, starts=edges[:-1], bin_days=bin_days,
                                              weights=_weights(cells, settings, band_m))
    if cell is None:
        return classified, None
    at = int(np.flatnonzero(cells["code"].to_numpy() == cell)[0])
    return classified, pd.DataFrame({"start": series.starts, "count": series.counts[at].astype("int64"),
                                     "gi_z": series.z[at], "gi_bin": series.bins[at]})
