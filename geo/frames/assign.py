"""Assign issue points to unit cell, road segment, compound, community, grid, zone, department.

:func:`prepare` turns a :class:`~geo.frames.reference.Layers` bundle into metric-coordinate
indexes once; :func:`assign_issues` (lon/lat) and :func:`assign_xy` (metric x/y)
then place any number of points, all at once.

Rules at edges and ties
-----------------------
* **Unit cell**: arithmetic, ``floor((x - x0) / s)``. Cells are half-open, so a
  point on an edge shared by two cells belongs to the cell east / north of it; a
  point whose cell is not part of the grid gets none, even when it lies on the
  west / south edge of a grid cell.
* **Segment**: the segment nearest to the point, if it is at most ``max_dist_m``
  metres away (inclusive: a point exactly ``max_dist_m`` away is assigned). Equal
  distances go to the lowest ``segment_id``. Distances are computed in the metric
  CRS with the same floating-point formula as GEOS, so results agree with
  ``geopandas.sjoin_nearest`` to the last bit.
* **Compound, community, management grid, contractor zone**: the polygon that
  *covers* the point; a point on a polygon's boundary counts as inside. A point
  on a border shared by two polygons goes to the one with the lowest ``code``.
* **Department** (only when the issues' lead departments are given):

  - a ``sanitation``-led issue inside a compound goes to that compound's community
    team, ``"community:<community_code>"`` (the compound's own community code);
  - a ``sanitation``-led issue outside every compound but on a road (a segment
    was found) goes to the contractor zone's ``department_code``
    (``sanitation_west`` / ``sanitation_east``), if a zone covers it;
  - every other issue, and a sanitation-led one matching neither case, goes to
    its lead department; a missing lead department gives a missing department.

Points with NaN coordinates get missing values everywhere.

How it is fast
--------------
The metric plane is divided into square buckets of :data:`BUCKET_M` metres. For
each polygon layer, :func:`prepare` records per bucket whether one polygon covers
it entirely (the answer for every point in it), none touches it, or several
candidates need an exact test; only points in that last kind of bucket go through
a point-in-polygon test (shapely ``intersects_xy`` on prepared polygons). For
segments, each bucket lists the straight pieces (edges) of the segments within
``max_dist_m`` of it (an STRtree ``dwithin`` query, once per distance); a point's
distances to its bucket's edges are computed with NumPy. Points are processed in
chunks on a thread pool, as NumPy, shapely and pyproj release the GIL.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike

from geo.crs import lonlat_to_metric, to_metric
from geo.errors import ValidationError
from geo.frames.reference import Layers
from geo.frames.unit_grid import CellLookup, cell_index

# A quarter of a 100 m cell: polygon borders then cross only a few per cent of the
# buckets, and a bucket plus a 30 m reach holds only a handful of road edges.
BUCKET_M = 25.0
# Points per chunk: large enough to amortise NumPy call overhead, small enough to
# keep a chunk's temporaries in cache and to spread work over the threads.
CHUNK_POINTS = 1 << 16
SANITATION = "sanitation"
OUTPUT_COLUMNS = (
    "cell_code", "segment_id", "segment_dist_m", "compound_code",
    "community_code", "grid_code", "zone_code", "department_code",
)
# Buckets are tested against edges this much beyond max_dist_m, so that rounding in
# GEOS's box distance can never drop an edge a point is exactly max_dist_m from.
_REACH_SLACK_M = 1e-6
# Buckets are classified as slightly larger boxes, so that a point that floor() puts in
# a bucket while lying a rounding error outside it still gets that bucket's answer.
_BOX_PAD_M = 1e-6
_NONE, _MIXED = -1, -2


@dataclass(frozen=True)
class _BucketGrid:
    """Square buckets over a rectangle; bucket id = iy * nx + ix."""

    x0: float
    y0: float
    size: float
    nx: int
    ny: int

    @classmethod
    def covering(cls, bounds: tuple[float, float, float, float], *, size: float, margin: float) -> _BucketGrid:
        minx, miny, maxx, maxy = bounds
        x0, y0 = minx - margin, miny - margin
        nx = max(1, math.ceil((maxx + margin - x0) / size) + 1)
        ny = max(1, math.ceil((maxy + margin - y0) / size) + 1)
        return cls(x0, y0, size, nx, ny)

    @property
    def count(self) -> int:
        return self.nx * self.ny

    def boxes(self, *, pad: float = 0.0) -> np.ndarray:
        """Each bucket as a polygon, grown by ``pad`` metres on every side."""
        ix, iy = np.meshgrid(np.arange(self.nx), np.arange(self.ny))
        ix, iy = ix.ravel(), iy.ravel()
        s = self.size
        return shapely.box(
            self.x0 + ix * s - pad, self.y0 + iy * s - pad, self.x0 + (ix + 1) * s + pad, self.y0 + (iy + 1) * s + pad
        )

    def index(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Bucket of each point, -1 outside the grid."""
        fx = np.floor((x - self.x0) / self.size)
        fy = np.floor((y - self.y0) / self.size)
        inside = (fx >= 0) & (fx < self.nx) & (fy >= 0) & (fy < self.ny)
        return np.where(inside, fy * self.nx + fx, -1).astype("int64")


def _expand(points: np.ndarray, buckets: np.ndarray, start: np.ndarray, values: np.ndarray):
    """Pairs (point, value) for every value listed (CSR ``start``/``values``) under each point's bucket."""
    first = start[buckets]
    counts = start[buckets + 1] - first
    total = int(counts.sum())
    pair_point = np.repeat(points, counts)
    offset = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(first, counts)
    return pair_point, values[offset]


def _csr(keys: np.ndarray, values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR arrays listing ``values`` under each key 0..n-1; keys must be sorted."""
    return np.r_[0, np.cumsum(np.bincount(keys, minlength=n))], values


@dataclass
class _PolygonIndex:
    """One polygon layer: codes in ascending order, prepared polygons, per-bucket answers."""

    codes: np.ndarray
    geoms: np.ndarray
    attrs: dict[str, np.ndarray]
    grid: _BucketGrid
    state: np.ndarray
    cand_start: np.ndarray
    cand: np.ndarray

    @classmethod
    def build(cls, frame: gpd.GeoDataFrame, grid: _BucketGrid, *, attrs: tuple[str, ...] = ()) -> _PolygonIndex:
        codes = frame["code"].to_numpy(dtype=object)
        # Position in code order, so "first hit" means "lowest code".
        order = np.argsort(codes.astype(str), kind="stable")
        codes = codes[order]
        geoms = frame.geometry.to_numpy()[order]
        shapely.prepare(geoms)
        boxes = grid.boxes(pad=_BOX_PAD_M)
        bucket, poly = shapely.STRtree(geoms).query(boxes, predicate="intersects")
        o = np.lexsort((poly, bucket))
        bucket, poly = bucket[o], poly[o]
        touching = np.bincount(bucket, minlength=grid.count)
        single = touching[bucket] == 1
        covered = np.zeros(len(bucket), dtype=bool)
        covered[single] = shapely.covers(geoms[poly[single]], boxes[bucket[single]])
        state = np.full(grid.count, _NONE, dtype="int64")
        state[touching > 0] = _MIXED
        state[bucket[covered]] = poly[covered]
        keep = ~covered
        cand_start, cand = _csr(bucket[keep], poly[keep], grid.count)
        return cls(
            codes=codes,
            geoms=geoms,
            attrs={name: frame[name].to_numpy(dtype=object)[order] for name in attrs},
            grid=grid,
            state=state,
            cand_start=cand_start,
            cand=cand,
        )

    def locate(self, bucket: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Position of the covering polygon with the lowest code, -1 for none."""
        state = np.where(bucket >= 0, self.state[bucket], _NONE)
        out = np.where(state >= 0, state, -1)
        mixed = np.flatnonzero(state == _MIXED)
        if mixed.size:
            pt, poly = _expand(mixed, bucket[mixed], self.cand_start, self.cand)
            hit = shapely.intersects_xy(self.geoms[poly], x[pt], y[pt])
            pt, poly = pt[hit], poly[hit]
            # Pairs are ordered by point, then by polygon position (= code).
            first = np.r_[True, pt[1:] != pt[:-1]] if pt.size else np.zeros(0, dtype=bool)
            out[pt[first]] = poly[first]
        return out


@dataclass
class _SegmentIndex:
    """Segment edges as coordinate arrays, ordered by segment_id, plus per-distance bucket lists."""

    ids: np.ndarray
    owner: np.ndarray
    ax: np.ndarray
    ay: np.ndarray
    bx: np.ndarray
    by: np.ndarray
    ex: np.ndarray
    ey: np.ndarray
    len2: np.ndarray
    length: np.ndarray
    tree: shapely.STRtree
    bounds: tuple[float, float, float, float]
    _reach: dict[float, tuple[_BucketGrid, np.ndarray, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def build(cls, frame: gpd.GeoDataFrame) -> _SegmentIndex:
        ids = frame["segment_id"].to_numpy(dtype="int64")
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        lines = frame.geometry.to_numpy()[order]
        coords, seg = shapely.get_coordinates(lines, return_index=True)
        edge = np.flatnonzero(seg[1:] == seg[:-1])
        ax, ay = coords[edge, 0], coords[edge, 1]
        bx, by = coords[edge + 1, 0], coords[edge + 1, 1]
        ex, ey = bx - ax, by - ay
        len2 = ex * ex + ey * ey
        edges = shapely.linestrings(
            np.column_stack([np.c_[ax, ay], np.c_[bx, by]]).reshape(-1, 2), indices=np.repeat(np.arange(edge.size), 2)
        )
        return cls(
            ids=ids, owner=seg[edge], ax=ax, ay=ay, bx=bx, by=by, ex=ex, ey=ey,
            # GEOS measures a zero-length edge from its start; an infinite length
            # makes r = 0 below and so does the same without a branch.
            len2=np.where(len2 == 0, np.inf, len2),
            length=np.sqrt(len2),
            tree=shapely.STRtree(edges),
            bounds=tuple(shapely.total_bounds(lines)) if len(lines) else (0.0, 0.0, 0.0, 0.0),
        )

    def _reach_lists(self, max_dist_m: float) -> tuple[_BucketGrid, np.ndarray, np.ndarray]:
        """Bucket grid and, per bucket, the edges within max_dist_m of it (cached per distance)."""
        if max_dist_m not in self._reach:
            grid = _BucketGrid.covering(self.bounds, size=BUCKET_M, margin=max_dist_m + BUCKET_M)
            bucket, edge = self.tree.query(grid.boxes(), predicate="dwithin", distance=max_dist_m + _REACH_SLACK_M)
            # Within a bucket, edges in segment_id order: the first minimum is the lowest id.
            o = np.lexsort((edge, bucket))
            start, edges = _csr(bucket[o], edge[o], grid.count)
            self._reach[max_dist_m] = (grid, start, edges)
        return self._reach[max_dist_m]

    def nearest(self, x: np.ndarray, y: np.ndarray, max_dist_m: float) -> tuple[np.ndarray, np.ndarray]:
        """Position of the nearest segment within max_dist_m (-1: none) and its distance (NaN: none)."""
        grid, start, edges = self._reach_lists(max_dist_m)
        pos = np.full(x.shape, -1, dtype="int64")
        dist = np.full(x.shape, np.nan)
        bucket = grid.index(x, y)
        pts = np.flatnonzero(bucket >= 0)
        pt, e = _expand(pts, bucket[pts], start, edges)
        if pt.size == 0:
            return pos, dist
        d = self._distance(x[pt], y[pt], e)
        # Pairs are grouped by point; the minimum of each group, then its first pair.
        group_start = np.flatnonzero(np.r_[True, pt[1:] != pt[:-1]])
        group_min = np.minimum.reduceat(d, group_start)
        sizes = np.diff(np.r_[group_start, pt.size])
        is_min = d == np.repeat(group_min, sizes)
        first = np.flatnonzero(is_min)
        first = first[np.r_[True, pt[first][1:] != pt[first][:-1]]]
        ok = d[first] <= max_dist_m
        winner = first[ok]
        pos[pt[winner]] = self.owner[e[winner]]
        dist[pt[winner]] = d[winner]
        return pos, dist

    def _distance(self, px: np.ndarray, py: np.ndarray, e: np.ndarray) -> np.ndarray:
        """Point–edge distances, written as GEOS's Distance::pointToSegment so ties and
        the inclusive max_dist_m compare exactly as in GEOS."""
        ax, ay, ex, ey, len2 = self.ax[e], self.ay[e], self.ex[e], self.ey[e], self.len2[e]
        dxa, dya = px - ax, py - ay
        r = (dxa * ex + dya * ey) / len2
        dist_a = np.sqrt(dxa * dxa + dya * dya)
        dxb, dyb = px - self.bx[e], py - self.by[e]
        dist_b = np.sqrt(dxb * dxb + dyb * dyb)
        perp = np.abs((dxa * ey - dya * ex) / len2) * self.length[e]
        return np.where(r <= 0.0, dist_a, np.where(r >= 1.0, dist_b, perp))


@dataclass
class PreparedLayers:
    """A jurisdiction's layers in metric coordinates with their indexes, built once by :func:`prepare`.

    Attributes
    ----------
    metric_crs : str
        CRS of all coordinates held here (metres).
    cell_size_m : float
        Unit-cell edge length, metres.
    grid_origin : tuple of float
        South-west corner of the unit grid, metres.
    cells : geo.frames.unit_grid.CellLookup
        ``(col, row)`` → cell code.
    compounds, communities, grids, zones
        Point-in-polygon indexes (internal).
    segments
        Nearest-segment index (internal).
    """

    metric_crs: str
    cell_size_m: float
    grid_origin: tuple[float, float]
    cells: CellLookup
    compounds: _PolygonIndex
    communities: _PolygonIndex
    grids: _PolygonIndex
    zones: _PolygonIndex
    segments: _SegmentIndex


def prepare(layers: Layers) -> PreparedLayers:
    """Build the metric-coordinate indexes :func:`assign_issues` needs, once per layer set.

    Parameters
    ----------
    layers : geo.frames.reference.Layers
        The jurisdiction's frames. Each is reprojected from its own CRS to
        ``layers.metric_crs`` (a frame already in that CRS is used as it is).

    Returns
    -------
    PreparedLayers
        Reusable and read-only in use (the per-distance segment bucket lists are
        built on first use and cached), so one instance can serve many calls.
    """
    crs = layers.metric_crs
    polys = {
        name: to_metric(getattr(layers, name), crs=crs)
        for name in ("compounds", "communities", "grids", "zones")
    }
    for name, frame in polys.items():
        kinds = set(frame.geom_type.unique())
        if not kinds <= {"Polygon", "MultiPolygon"}:
            raise ValidationError(f"layer {name!r} has geometry types {sorted(kinds)!r}; expected polygons")
    bounds = np.array([f.total_bounds for f in polys.values() if len(f)])
    extent = (
        (bounds[:, 0].min(), bounds[:, 1].min(), bounds[:, 2].max(), bounds[:, 3].max())
        if len(bounds) else (0.0, 0.0, 0.0, 0.0)
    )
    grid = _BucketGrid.covering(extent, size=BUCKET_M, margin=BUCKET_M)
    return PreparedLayers(
        metric_crs=crs,
        cell_size_m=float(layers.cell_size_m),
        grid_origin=(float(layers.grid_origin[0]), float(layers.grid_origin[1])),
        cells=CellLookup(layers.unit_cells),
        compounds=_PolygonIndex.build(polys["compounds"], grid, attrs=("community_code",)),
        communities=_PolygonIndex.build(polys["communities"], grid),
        grids=_PolygonIndex.build(polys["grids"], grid),
        zones=_PolygonIndex.build(polys["zones"], grid, attrs=("department_code",)),
        segments=_SegmentIndex.build(to_metric(layers.segments, crs=crs)),
    )


def assign_issues(
    lon: ArrayLike,
    lat: ArrayLike,
    prepared: PreparedLayers,
    *,
    max_dist_m: float = 30.0,
    category_codes: ArrayLike | None = None,
    lead_departments: ArrayLike | Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Assign WGS84 points to cell, segment, compound, community, grid, zone and department.

    Parameters
    ----------
    lon, lat : array_like of float
        One-dimensional, degrees, EPSG:4326. NaN marks a point without position.
    prepared : PreparedLayers
        From :func:`prepare`.
    max_dist_m : float, keyword-only
        Farthest a point may be from a segment to be assigned to it, metres
        (inclusive), default 30.
    category_codes : array_like of str, optional, keyword-only
        Each point's event category code; needed only when ``lead_departments``
        is a mapping.
    lead_departments : array_like of str or mapping, optional, keyword-only
        Each point's lead department code (``"sanitation"``, ``"enforcement"``,
        …), or a mapping from category code to lead department code applied to
        ``category_codes``. Without it, ``department_code`` is missing.

    Returns
    -------
    pandas.DataFrame
        One row per point, in input order, columns ``cell_code``, ``segment_id``
        (Int64), ``segment_dist_m`` (float, metres, NaN when none),
        ``compound_code``, ``community_code``, ``grid_code``, ``zone_code``,
        ``department_code`` (string dtype, ``<NA>`` when none). The rules at
        edges, for ties and for departments are in the module docstring.
    """
    lon_a, lat_a = _xy_arrays(lon, lat, names=("lon", "lat"))
    x, y = lonlat_to_metric(lon_a, lat_a, crs=prepared.metric_crs)
    return assign_xy(
        x, y, prepared, max_dist_m=max_dist_m, category_codes=category_codes, lead_departments=lead_departments
    )


def assign_xy(
    x: ArrayLike,
    y: ArrayLike,
    prepared: PreparedLayers,
    *,
    max_dist_m: float = 30.0,
    category_codes: ArrayLike | None = None,
    lead_departments: ArrayLike | Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Like :func:`assign_issues`, for points already in ``prepared.metric_crs``.

    Parameters
    ----------
    x, y : array_like of float
        One-dimensional easting and northing, metres, in ``prepared.metric_crs``.
    prepared, max_dist_m, category_codes, lead_departments
        As for :func:`assign_issues`.

    Returns
    -------
    pandas.DataFrame
        As for :func:`assign_issues`.
    """
    xa, ya = _xy_arrays(x, y, names=("x", "y"))
    if isinstance(max_dist_m, bool) or not isinstance(max_dist_m, (int, float)) or not (
        math.isfinite(max_dist_m) and max_dist_m >= 0
    ):
        raise ValidationError(f"max_dist_m {max_dist_m!r} must be a non-negative number of metres")
    lead = _lead_departments(category_codes, lead_departments, len(xa))
    n = len(xa)
    cell = np.full(n, -1, dtype="int64")
    seg = np.full(n, -1, dtype="int64")
    dist = np.full(n, np.nan)
    found = {name: np.full(n, -1, dtype="int64") for name in ("compounds", "communities", "grids", "zones")}
    valid = np.flatnonzero(np.isfinite(xa) & np.isfinite(ya))

    def work(chunk: np.ndarray) -> None:
        cx, cy = xa[chunk], ya[chunk]
        col, row = cell_index(cx, cy, origin=prepared.grid_origin, cell_size_m=prepared.cell_size_m)
        cell[chunk] = prepared.cells.position(col, row)
        seg[chunk], dist[chunk] = prepared.segments.nearest(cx, cy, float(max_dist_m))
        bucket = prepared.communities.grid.index(cx, cy)  # all polygon layers share one bucket grid
        for name, out in found.items():
            out[chunk] = getattr(prepared, name).locate(bucket, cx, cy)

    # Build the per-distance lists before the threads start, so they are built once.
    prepared.segments._reach_lists(float(max_dist_m))
    chunks = [valid[i : i + CHUNK_POINTS] for i in range(0, valid.size, CHUNK_POINTS)]
    workers = min(len(chunks), len(os.sched_getaffinity(0)))
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(work, chunks))
    else:
        for chunk in chunks:
            work(chunk)

    compounds, zones = prepared.compounds, prepared.zones
    department = None
    if lead is not None:
        department = _departments(
            lead,
            on_road=seg >= 0,
            in_compound=found["compounds"] >= 0,
            compound_community=_take(compounds.attrs["community_code"], found["compounds"]),
            zone_department=_take(zones.attrs["department_code"], found["zones"]),
        )
    seg_id = pd.arrays.IntegerArray(_take(prepared.segments.ids, seg, fill=0).astype("int64"), seg < 0)
    return pd.DataFrame(
        {
            "cell_code": _codes(prepared.cells.codes, cell),
            "segment_id": seg_id,
            "segment_dist_m": dist,
            "compound_code": _codes(compounds.codes, found["compounds"]),
            "community_code": _codes(prepared.communities.codes, found["communities"]),
            "grid_code": _codes(prepared.grids.codes, found["grids"]),
            "zone_code": _codes(zones.codes, found["zones"]),
            "department_code": pd.array(np.full(n, None, dtype=object) if department is None else department,
                                        dtype="string"),
        }
    )


def assign_frame(
    issues: gpd.GeoDataFrame,
    prepared: PreparedLayers,
    *,
    max_dist_m: float = 30.0,
    category_codes: ArrayLike | None = None,
    lead_departments: ArrayLike | Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Assign the points of a GeoDataFrame (any CRS) with :func:`assign_xy`.

    Parameters
    ----------
    issues : geopandas.GeoDataFrame
        Point geometries with a CRS; empty or missing geometries get missing values.
    prepared, max_dist_m, category_codes, lead_departments
        As for :func:`assign_issues`.

    Returns
    -------
    pandas.DataFrame
        As for :func:`assign_issues`, indexed like ``issues``.
    """
    if not isinstance(issues, gpd.GeoDataFrame):
        raise ValidationError(f"issues must be a GeoDataFrame, got {type(issues).__name__}")
    geoms = to_metric(issues.geometry, crs=prepared.metric_crs).to_numpy()
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    kinds = shapely.get_type_id(geoms[present])
    if (kinds != 0).any():
        bad = geoms[present][kinds != 0][0]
        raise ValidationError(f"issue geometry {shapely.to_wkt(bad, trim=True)[:60]!r} is not a Point")
    x = np.full(len(geoms), np.nan)
    y = np.full(len(geoms), np.nan)
    x[present], y[present] = shapely.get_x(geoms[present]), shapely.get_y(geoms[present])
    result = assign_xy(
        x, y, prepared, max_dist_m=max_dist_m, category_codes=category_codes, lead_departments=lead_departments
    )
    result.index = issues.index
    return result


def _xy_arrays(a: ArrayLike, b: ArrayLike, *, names: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    try:
        aa, ba = np.asarray(a, dtype="float64"), np.asarray(b, dtype="float64")
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{names[0]}/{names[1]} must be numbers: {exc}") from exc
    if aa.ndim != 1 or aa.shape != ba.shape:
        raise ValidationError(
            f"{names[0]} and {names[1]} must be one-dimensional and of equal length, "
            f"got shapes {aa.shape} and {ba.shape}"
        )
    return aa, ba


def _lead_departments(category_codes, lead_departments, n: int) -> np.ndarray | None:
    """Each point's lead department as an object array (None where missing), or None."""
    if lead_departments is None:
        if category_codes is not None:
            raise ValidationError("category_codes needs lead_departments (a mapping from category to department)")
        return None
    if isinstance(lead_departments, Mapping):
        if category_codes is None:
            raise ValidationError("lead_departments given as a mapping needs category_codes")
        cats = pd.Series(np.asarray(category_codes, dtype=object))
        lead = cats.map(lead_departments)
        unknown = lead.isna() & cats.notna()
        if unknown.any():
            raise ValidationError(f"category code {cats[unknown].iloc[0]!r} has no lead department")
    else:
        lead = pd.Series(np.asarray(lead_departments, dtype=object))
    if len(lead) != n:
        raise ValidationError(f"{len(lead)} lead departments / category codes given for {n} points")
    values = lead.to_numpy(dtype=object)
    values[pd.isna(values)] = None
    return values


def _departments(
    lead: np.ndarray,
    *,
    on_road: np.ndarray,
    in_compound: np.ndarray,
    compound_community: np.ndarray,
    zone_department: np.ndarray,
) -> np.ndarray:
    """The department rule of the module docstring, on object arrays."""
    department = lead.copy()
    sanitation = lead == SANITATION
    to_community = sanitation & in_compound
    department[to_community] = "community:" + compound_community[to_community].astype(str)
    to_zone = sanitation & ~in_compound & on_road & (zone_department != None)  # noqa: E711
    department[to_zone] = zone_department[to_zone]
    return department


def _take(values: np.ndarray, positions: np.ndarray, *, fill=None) -> np.ndarray:
    """values[positions], with ``fill`` for position -1."""
    return np.append(values, fill)[positions]


def _codes(codes: np.ndarray, positions: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """codes[positions] as a string array, <NA> for position -1."""
    # Converting the few distinct codes once and taking from them avoids checking
    # a million Python strings one by one.
    return pd.array(codes, dtype="string").take(positions, allow_fill=True)
