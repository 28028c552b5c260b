"""Road segments: centre-lines split at intersections and into pieces of bounded length.

All geometries here are in a metric CRS (metres). A segment keeps its *chainage*, the
distance in metres along its road from the road's first vertex, as ``from_m`` /
``to_m``, so a position on a road can be written as (road, metres) and turned back
into a point (:func:`point_at`, :func:`chainage_of`).

Where two roads cross or touch, both are cut at the same intersection point, with
bitwise-identical coordinates, so the segments meet exactly and form a graph. A road
is not cut where it crosses itself. Where two roads overlap along a stretch, they are
cut at every vertex of the shared stretch.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike
from shapely.geometry.base import BaseGeometry

from geo.errors import ValidationError

ROAD_COLUMNS = ("road_id", "name", "road_class", "is_priority", "oneway", "jurisdiction_code")
SEGMENT_COLUMNS = (
    "segment_id", "road_id", "name", "road_class", "is_priority", "oneway",
    "seq", "from_m", "to_m", "length_m", "jurisdiction_code",
)
# Cuts closer than this to each other or to a road end are the same cut: GEOS places an
# intersection a few ulps off the line, and a T junction meets the road at its end.
_CUT_TOL_M = 1e-6
# A piece longer than max_len_m by less than this is not split again: float noise in
# lengths must not turn one 200 m piece into two of 100 m.
_LEN_TOL_M = 1e-3


def split_roads(roads_metric: gpd.GeoDataFrame, *, max_len_m: float = 200.0) -> gpd.GeoDataFrame:
    """Split road centre-lines into segments at intersections and at most ``max_len_m``.

    Parameters
    ----------
    roads_metric : geopandas.GeoDataFrame
        Columns ``road_id`` (unique), ``name``, ``road_class``, ``is_priority``,
        ``oneway``, ``jurisdiction_code``; LineStrings (or MultiLineStrings that
        merge into one line) in a metric CRS, each digitised from its start.
    max_len_m : float, keyword-only
        Longest segment in metres, default 200. Each stretch between two
        intersections is cut into the fewest equal pieces no longer than this.

    Returns
    -------
    geopandas.GeoDataFrame
        In the roads' CRS, one row per segment, ordered by ``road_id`` then ``seq``:
        ``segment_id`` (1, 2, … in that order), the road's attributes, ``seq``
        (1-based order along the road), ``from_m`` / ``to_m`` (chainage in metres from
        the road's start), ``length_m`` (``to_m - from_m``), LineString geometry in
        the road's direction.

    Raises
    ------
    geo.errors.ValidationError
        Missing columns, duplicate ``road_id``, a geographic CRS, empty or
        non-linear geometries, a MultiLineString whose parts do not join up, or a
        non-positive ``max_len_m``.
    """
    if not isinstance(max_len_m, (int, float)) or not math.isfinite(max_len_m) or max_len_m <= 0:
        raise ValidationError(f"max_len_m {max_len_m!r} must be a positive number of metres")
    lines = _validated_lines(roads_metric)
    n_roads = len(lines)
    length = shapely.length(lines)

    # 1. Intersection cuts: every pair of distinct roads that meet, all at once.
    tree = shapely.STRtree(lines)
    left, right = tree.query(lines, predicate="intersects")
    pair = left < right
    left, right = left[pair], right[pair]
    meet = shapely.intersection(lines[left], lines[right])
    # Points of point meetings, vertices of overlapping stretches.
    coords, owner = shapely.get_coordinates(meet, return_index=True)
    cut_x = np.concatenate([coords[:, 0], coords[:, 0]])
    cut_y = np.concatenate([coords[:, 1], coords[:, 1]])
    cut_road = np.concatenate([left[owner], right[owner]])
    cut_m = shapely.line_locate_point(lines[cut_road], shapely.points(cut_x, cut_y))
    cut_road, cut_m, cut_x, cut_y = _clean_cuts(cut_road, cut_m, cut_x, cut_y, length)

    # 2. Length cuts: each stretch between cuts into n equal pieces.
    bounds_road = np.concatenate([np.arange(n_roads), cut_road, np.arange(n_roads)])
    bounds_m = np.concatenate([np.zeros(n_roads), cut_m, length])
    order = np.lexsort((bounds_m, bounds_road))
    bounds_road, bounds_m = bounds_road[order], bounds_m[order]
    same = bounds_road[1:] == bounds_road[:-1]
    start_m, end_m, stretch_road = bounds_m[:-1][same], bounds_m[1:][same], bounds_road[:-1][same]
    n_pieces = np.maximum(np.ceil((end_m - start_m - _LEN_TOL_M) / max_len_m), 1).astype("int64")
    extra = n_pieces - 1
    stretch = np.repeat(np.arange(len(start_m)), extra)
    k = np.arange(extra.sum()) - np.repeat(np.cumsum(extra) - extra, extra) + 1
    div_m = start_m[stretch] + k * ((end_m - start_m) / n_pieces)[stretch]
    div_road = stretch_road[stretch]
    div_pts = shapely.line_interpolate_point(lines[div_road], div_m)
    div_xy = shapely.get_coordinates(div_pts)

    all_road = np.concatenate([cut_road, div_road])
    all_m = np.concatenate([cut_m, div_m])
    all_x = np.concatenate([cut_x, div_xy[:, 0]])
    all_y = np.concatenate([cut_y, div_xy[:, 1]])
    return _assemble(roads_metric, lines, length, all_road, all_m, all_x, all_y)


def _validated_lines(roads: gpd.GeoDataFrame) -> np.ndarray:
    """The roads' geometries as single LineStrings, after checking the frame."""
    if not isinstance(roads, gpd.GeoDataFrame):
        raise ValidationError(f"roads must be a GeoDataFrame, got {type(roads).__name__}")
    missing = [c for c in ROAD_COLUMNS if c not in roads.columns]
    if missing:
        raise ValidationError(f"roads frame lacks column(s) {missing!r}")
    if roads.crs is None or not roads.crs.is_projected:
        shown = None if roads.crs is None else roads.crs.to_string()
        raise ValidationError(f"roads must be in a metric (projected) CRS, got {shown!r}")
    dup = roads["road_id"][roads["road_id"].duplicated()]
    if len(dup):
        raise ValidationError(f"road_id {dup.iloc[0]!r} appears more than once")
    geoms = roads.geometry.to_numpy()
    kinds = shapely.get_type_id(geoms)
    bad = ~np.isin(kinds, (1, 5)) | shapely.is_empty(geoms)
    if bad.any():
        i = np.flatnonzero(bad)[0]
        raise ValidationError(
            f"road {roads['road_id'].iloc[i]!r} has geometry {shapely.to_wkt(geoms[i], trim=True)[:60]!r}; "
            "expected a non-empty LineString"
        )
    multi = kinds == 5
    if multi.any():
        geoms = geoms.copy()
        geoms[multi] = shapely.line_merge(geoms[multi])
        still = multi & (shapely.get_type_id(geoms) != 1)
        if still.any():
            i = np.flatnonzero(still)[0]
            raise ValidationError(
                f"road {roads['road_id'].iloc[i]!r} is a MultiLineString whose "
                f"{shapely.get_num_geometries(geoms[i])} parts do not join into one line; "
                "split it into separate roads"
            )
    return geoms


def _clean_cuts(road, m, x, y, length):
    """Drop cuts at road ends and merge cuts closer than the tolerance (keeps the first)."""
    inner = (m > _CUT_TOL_M) & (m < length[road] - _CUT_TOL_M)
    road, m, x, y = road[inner], m[inner], x[inner], y[inner]
    order = np.lexsort((m, road))
    road, m, x, y = road[order], m[order], x[order], y[order]
    keep = np.ones(road.size, dtype=bool)
    keep[1:] = (road[1:] != road[:-1]) | (np.diff(m) > _CUT_TOL_M)
    return road[keep], m[keep], x[keep], y[keep]


def _assemble(roads, lines, length, cut_road, cut_m, cut_x, cut_y) -> gpd.GeoDataFrame:
    """Build the segments from each road's vertices and its sorted cut points."""
    n_roads = len(lines)
    vcoords, vroad = shapely.get_coordinates(lines, return_index=True)
    step = np.hypot(np.diff(vcoords[:, 0]), np.diff(vcoords[:, 1]))
    step[vroad[1:] != vroad[:-1]] = 0.0
    vm = np.r_[0.0, np.cumsum(step)]
    vm -= vm[np.searchsorted(vroad, vroad)]  # restart the chainage at each road's first vertex

    # Each cut ends one piece and starts the next, so it appears twice; role orders
    # rows with equal chainage: piece end (0) before vertex (1) before piece start (2).
    n_cut = len(cut_road)
    road = np.concatenate([vroad, cut_road, cut_road])
    m = np.concatenate([vm, cut_m, cut_m])
    x = np.concatenate([vcoords[:, 0], cut_x, cut_x])
    y = np.concatenate([vcoords[:, 1], cut_y, cut_y])
    role = np.concatenate([np.ones(len(vroad), "int8"), np.zeros(n_cut, "int8"), np.full(n_cut, 2, "int8")])
    order = np.lexsort((role, m, road))
    road, m, x, y, role = road[order], m[order], x[order], y[order], role[order]
    # Piece number along the road = number of piece starts passed so far.
    starts = role == 2
    run = np.cumsum(starts)
    first_of_road = np.searchsorted(road, np.arange(n_roads))
    local = run - (run[first_of_road] - starts[first_of_road])[road]
    pieces_per_road = np.bincount(cut_road, minlength=n_roads) + 1
    piece_offset = np.r_[0, np.cumsum(pieces_per_road)[:-1]]
    piece = piece_offset[road] + local
    # A vertex that coincides with a cut would repeat a coordinate.
    dup = np.r_[False, (piece[1:] == piece[:-1]) & (x[1:] == x[:-1]) & (y[1:] == y[:-1])]
    piece, x, y = piece[~dup], x[~dup], y[~dup]
    geoms = shapely.linestrings(np.column_stack([x, y]), indices=piece)

    piece_road = np.repeat(np.arange(n_roads), pieces_per_road)
    ends_road = np.r_[cut_road, np.arange(n_roads)]
    ends_m = np.r_[cut_m, length]
    to_m = ends_m[np.lexsort((ends_m, ends_road))]
    from_m = np.r_[0.0, to_m[:-1]]
    first_piece = np.r_[True, piece_road[1:] != piece_road[:-1]]
    from_m[first_piece] = 0.0
    seq = np.arange(len(piece_road)) - piece_offset[piece_road] + 1

    attrs = roads.iloc[piece_road][list(ROAD_COLUMNS)].reset_index(drop=True)
    attrs["seq"] = seq
    attrs["from_m"] = from_m
    attrs["to_m"] = to_m
    attrs["length_m"] = to_m - from_m
    frame = gpd.GeoDataFrame(attrs, geometry=geoms, crs=roads.crs)
    frame = frame.sort_values(["road_id", "seq"], kind="stable", ignore_index=True)
    frame.insert(0, "segment_id", np.arange(1, len(frame) + 1, dtype="int64"))
    return frame[[*SEGMENT_COLUMNS, "geometry"]]


def chainage_of(points_metric: ArrayLike, road_line: BaseGeometry) -> np.ndarray:
    """Chainage of points along a road: metres from its start to each point's projection.

    Parameters
    ----------
    points_metric : array_like of shapely.Point
        Points in the road's metric CRS (a GeoSeries works too).
    road_line : shapely.LineString
        The road, metric CRS.

    Returns
    -------
    numpy.ndarray of float64
        Metres along the road, in ``[0, road_line.length]``, of the nearest point on
        the road to each input point.
    """
    if not isinstance(road_line, BaseGeometry) or road_line.geom_type != "LineString":
        raise ValidationError(f"road_line {road_line!r} must be a LineString")
    points = np.asarray(points_metric, dtype=object)
    if points.size and not (shapely.get_type_id(points) == 0).all():
        raise ValidationError("points_metric must hold only Point geometries")
    return np.asarray(shapely.line_locate_point(road_line, points), dtype="float64")


def point_at(road_line: BaseGeometry, chainage_m: ArrayLike) -> np.ndarray:
    """Points at given chainages along a road.

    Parameters
    ----------
    road_line : shapely.LineString
        The road, metric CRS.
    chainage_m : array_like of float
        Metres from the road's start, each within ``[0, road_line.length]``.

    Returns
    -------
    numpy.ndarray of shapely.Point
        Same shape as ``chainage_m``, metric CRS.
    """
    if not isinstance(road_line, BaseGeometry) or road_line.geom_type != "LineString":
        raise ValidationError(f"road_line {road_line!r} must be a LineString")
    m = np.asarray(chainage_m, dtype="float64")
    # Shapely counts negative distances back from the end; for chainage that is an error.
    bad = ~np.isfinite(m) | (m < 0) | (m > road_line.length)
    if bad.any():
        raise ValidationError(
            f"chainage {float(m[bad].flat[0])!r} m is outside the road (0 to {road_line.length:.3f} m)"
        )
    return shapely.line_interpolate_point(road_line, m)
