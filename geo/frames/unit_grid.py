"""The unit grid (万米单元网格): square cells over a jurisdiction, with stable codes.

All coordinates here are in a metric CRS (metres, by default EPSG:4548). The grid is
anchored at an origin ``(x0, y0)``, its south-west corner. Cell ``(col, row)`` is the
half-open square ``[x0 + col*s, x0 + (col+1)*s) × [y0 + row*s, y0 + (row+1)*s)``,
so a point on an edge shared by two cells belongs to the cell east / north of it,
and finding the cell of a point is arithmetic (:func:`cell_index`), not a spatial
query.

A cell's code is its community's 12-character code followed by a 3-digit sequence
that numbers the community's cells west→east within a row, rows north→south.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike
from shapely.geometry.base import BaseGeometry

from geo.errors import ValidationError

COMMUNITY_CODE_LEN = 12
MAX_CELLS_PER_COMMUNITY = 999


def _check_cell_size(cell_size_m: float) -> float:
    if not isinstance(cell_size_m, (int, float)) or not math.isfinite(cell_size_m) or cell_size_m <= 0:
        raise ValidationError(f"cell_size_m {cell_size_m!r} must be a positive number of metres")
    return float(cell_size_m)


def _check_origin(origin: tuple[float, float]) -> tuple[float, float]:
    try:
        x0, y0 = (float(v) for v in origin)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"origin {origin!r} must be a pair of numbers (x, y) in metres") from exc
    if not (math.isfinite(x0) and math.isfinite(y0)):
        raise ValidationError(f"origin {origin!r} must be finite")
    return x0, y0


def cell_index(
    x: ArrayLike, y: ArrayLike, *, origin: tuple[float, float], cell_size_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Column and row of the unit cell holding each point.

    Parameters
    ----------
    x, y : array_like
        Easting and northing in metres, in the grid's metric CRS. Must be finite.
    origin : tuple of float, keyword-only
        The grid's south-west corner ``(x0, y0)``, metres.
    cell_size_m : float, keyword-only
        Cell edge length, metres.

    Returns
    -------
    col, row : numpy.ndarray of int64
        ``floor((x - x0) / s)`` and ``floor((y - y0) / s)``: cells are half-open,
        so a point on a shared edge gets the cell east / north of it. Points
        outside the grid get indices outside it (possibly negative); look them up
        with :class:`CellLookup`, which reports them as missing.
    """
    s = _check_cell_size(cell_size_m)
    x0, y0 = _check_origin(origin)
    xa = np.asarray(x, dtype="float64")
    ya = np.asarray(y, dtype="float64")
    if xa.shape != ya.shape:
        raise ValidationError(f"x and y must have the same shape, got {xa.shape} and {ya.shape}")
    for name, values in (("x", xa), ("y", ya)):
        bad = ~np.isfinite(values)
        if bad.any():
            raise ValidationError(f"{name} {float(values[bad].flat[0])!r} is not a finite coordinate")
    col = np.floor((xa - x0) / s).astype("int64")
    row = np.floor((ya - y0) / s).astype("int64")
    return col, row


class CellLookup:
    """Constant-time map from ``(col, row)`` to a unit cell.

    A dense 2-D array covering the cells' bounding range of columns and rows holds
    each cell's position in the frame (or -1 where there is no cell), so a lookup is
    one fancy-indexing step for all points.

    Parameters
    ----------
    cells : pandas.DataFrame
        Columns ``col``, ``row`` (integers) and ``code``; one row per cell, no
        duplicate ``(col, row)``. Any CRS; geometry is not used.

    Attributes
    ----------
    codes : numpy.ndarray of object
        The cells' codes, in the frame's order; :meth:`position` indexes into it.
    """

    def __init__(self, cells: pd.DataFrame):
        missing = {"col", "row", "code"} - set(cells.columns)
        if missing:
            raise ValidationError(f"cells frame lacks column(s) {sorted(missing)!r}")
        col = cells["col"].to_numpy()
        row = cells["row"].to_numpy()
        if not (np.issubdtype(col.dtype, np.integer) and np.issubdtype(row.dtype, np.integer)):
            raise ValidationError(f"cell col/row must be integers, got dtypes {col.dtype} and {row.dtype}")
        self.codes = cells["code"].to_numpy(dtype=object)
        if len(cells) == 0:
            self._col0 = self._row0 = 0
            self._table = np.full((0, 0), -1, dtype="int64")
            return
        self._col0, self._row0 = int(col.min()), int(row.min())
        shape = (int(row.max()) - self._row0 + 1, int(col.max()) - self._col0 + 1)
        table = np.full(shape, -1, dtype="int64")
        r, c = row - self._row0, col - self._col0
        flat = r * shape[1] + c
        uniq, counts = np.unique(flat, return_counts=True)
        if (counts > 1).any():
            dup = uniq[counts > 1][0]
            raise ValidationError(
                f"two cells share (col, row) = ({dup % shape[1] + self._col0}, {dup // shape[1] + self._row0})"
            )
        table[r, c] = np.arange(len(cells))
        self._table = table

    def position(self, col: ArrayLike, row: ArrayLike) -> np.ndarray:
        """Position (0-based row of the cells frame) of each cell, -1 where none.

        Parameters
        ----------
        col, row : array_like of int
            Cell indices, as from :func:`cell_index`.

        Returns
        -------
        numpy.ndarray of int64
        """
        c = np.asarray(col, dtype="int64") - self._col0
        r = np.asarray(row, dtype="int64") - self._row0
        nrows, ncols = self._table.shape
        inside = (c >= 0) & (c < ncols) & (r >= 0) & (r < nrows)
        out = np.full(c.shape, -1, dtype="int64")
        out[inside] = self._table[r[inside], c[inside]]
        return out

    def code(self, col: ArrayLike, row: ArrayLike) -> np.ndarray:
        """Code of each cell, None where there is no cell.

        Parameters
        ----------
        col, row : array_like of int
            Cell indices, as from :func:`cell_index`.

        Returns
        -------
        numpy.ndarray of object
        """
        pos = self.position(col, row)
        # A trailing None lets position -1 index "no cell" without a mask.
        return np.append(self.codes, None)[pos]


def default_origin(boundary_metric: BaseGeometry, *, cell_size_m: float = 100.0) -> tuple[float, float]:
    """The south-west corner of a boundary's bounds, floored to a multiple of the cell size.

    Parameters
    ----------
    boundary_metric : shapely geometry
        The jurisdiction, metric CRS.
    cell_size_m : float, keyword-only
        Cell edge length, metres.

    Returns
    -------
    tuple of float
        ``(x0, y0)`` in metres.
    """
    s = _check_cell_size(cell_size_m)
    minx, miny, _, _ = boundary_metric.bounds
    return math.floor(minx / s) * s, math.floor(miny / s) * s


def build_unit_grid(
    boundary_metric: BaseGeometry,
    communities_metric: gpd.GeoDataFrame,
    *,
    jurisdiction_code: str,
    origin: tuple[float, float] | None = None,
    cell_size_m: float = 100.0,
) -> gpd.GeoDataFrame:
    """Lay the unit grid over a jurisdiction and code its cells.

    Parameters
    ----------
    boundary_metric : shapely.Polygon or shapely.MultiPolygon
        The jurisdiction's boundary, metric CRS.
    communities_metric : geopandas.GeoDataFrame
        Communities with a 12-character ``code`` and polygons in the same metric CRS.
    jurisdiction_code : str, keyword-only
        The 9-digit sub-district code written on every cell.
    origin : tuple of float, optional, keyword-only
        South-west corner of the grid in metres; default: the boundary's bounds
        floored to a multiple of ``cell_size_m`` (:func:`default_origin`).
    cell_size_m : float, keyword-only
        Cell edge length in metres, default 100.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per cell whose interior overlaps the boundary, kept whole (not
        clipped), in the communities' CRS, ordered by ``code``: columns ``code``,
        ``community_code``, ``col``, ``row``, ``jurisdiction_code``, geometry.

    Raises
    ------
    geo.errors.ValidationError
        Bad boundary, communities, codes or sizes; a cell that overlaps no
        community; a community with more than 999 cells.

    Notes
    -----
    A cell that only touches the boundary along an edge has no area inside the
    jurisdiction and is left out. A cell's community is the one covering its centre
    (the lowest code when the centre lies on a shared border); when no community
    covers the centre, the one overlapping the cell most (lowest code on a tie).
    """
    s = _check_cell_size(cell_size_m)
    if not isinstance(boundary_metric, BaseGeometry) or boundary_metric.geom_type not in ("Polygon", "MultiPolygon"):
        raise ValidationError(f"boundary {boundary_metric!r} must be a Polygon or MultiPolygon")
    if boundary_metric.is_empty:
        raise ValidationError("boundary is empty")
    if not isinstance(jurisdiction_code, str) or not jurisdiction_code:
        raise ValidationError(f"jurisdiction_code {jurisdiction_code!r} must be a non-empty string")
    if "code" not in communities_metric.columns or len(communities_metric) == 0:
        raise ValidationError("communities must be a non-empty frame with a 'code' column")
    if communities_metric.crs is not None and not communities_metric.crs.is_projected:
        raise ValidationError(f"communities must be in a metric CRS, got {communities_metric.crs.to_string()!r}")
    comm_codes = communities_metric["code"].to_numpy(dtype=object)
    bad = [c for c in comm_codes if not isinstance(c, str) or len(c) != COMMUNITY_CODE_LEN]
    if bad:
        raise ValidationError(f"community code {bad[0]!r} must be a string of {COMMUNITY_CODE_LEN} characters")
    x0, y0 = default_origin(boundary_metric, cell_size_m=s) if origin is None else _check_origin(origin)

    # Candidate cells: the whole bounding range of the boundary, filtered at once.
    minx, miny, maxx, maxy = boundary_metric.bounds
    c_lo, c_hi = math.floor((minx - x0) / s), math.floor((maxx - x0) / s)
    r_lo, r_hi = math.floor((miny - y0) / s), math.floor((maxy - y0) / s)
    cols, rows = np.meshgrid(np.arange(c_lo, c_hi + 1), np.arange(r_lo, r_hi + 1))
    cols, rows = cols.ravel().astype("int64"), rows.ravel().astype("int64")
    boxes = shapely.box(x0 + cols * s, y0 + rows * s, x0 + (cols + 1) * s, y0 + (rows + 1) * s)
    shapely.prepare(boundary_metric)
    keep = shapely.intersects(boundary_metric, boxes) & ~shapely.touches(boundary_metric, boxes)
    cols, rows, boxes = cols[keep], rows[keep], boxes[keep]

    community = _community_of_cells(boxes, cols, rows, x0, y0, s, communities_metric)
    order = np.lexsort((cols, -rows, community))
    cols, rows, boxes, community = cols[order], rows[order], boxes[order], community[order]
    comm_of_cell = comm_codes[community]
    seq = pd.Series(community).groupby(community).cumcount().to_numpy() + 1
    if (seq > MAX_CELLS_PER_COMMUNITY).any():
        worst = comm_of_cell[np.argmax(seq)]
        raise ValidationError(
            f"community {worst!r} has {int(seq.max())} cells; cell codes allow at most {MAX_CELLS_PER_COMMUNITY}"
        )
    codes = np.char.add(comm_of_cell.astype(str), np.char.zfill(seq.astype(str), 3)).astype(object)
    frame = gpd.GeoDataFrame(
        {
            "code": codes,
            "community_code": comm_of_cell,
            "col": cols,
            "row": rows,
            "jurisdiction_code": jurisdiction_code,
        },
        geometry=boxes,
        crs=communities_metric.crs,
    )
    return frame.sort_values("code", ignore_index=True)


def _community_of_cells(
    boxes: np.ndarray,
    cols: np.ndarray,
    rows: np.ndarray,
    x0: float,
    y0: float,
    s: float,
    communities: gpd.GeoDataFrame,
) -> np.ndarray:
    """Position (in ``communities``) of each cell's community; see build_unit_grid."""
    comm_geoms = communities.geometry.to_numpy()
    # Rank by code so "the first hit" is "the lowest code".
    rank = np.argsort(np.argsort(communities["code"].to_numpy(dtype=object), kind="stable"), kind="stable")
    tree = shapely.STRtree(comm_geoms)
    centres = shapely.points(x0 + (cols + 0.5) * s, y0 + (rows + 0.5) * s)
    cell_i, comm_i = tree.query(centres, predicate="intersects")
    result = _first_by_key(cell_i, comm_i, rank[comm_i], len(boxes))

    unset = np.flatnonzero(result < 0)
    if unset.size:
        cell_j, comm_j = tree.query(boxes[unset], predicate="intersects")
        area = shapely.area(shapely.intersection(boxes[unset][cell_j], comm_geoms[comm_j]))
        positive = area > 0
        cell_j, comm_j, area = cell_j[positive], comm_j[positive], area[positive]
        # Largest area first, then the lowest code.
        best = _first_by_key(cell_j, comm_j, np.lexsort((rank[comm_j], -area)).argsort(), unset.size)
        result[unset] = best
        if (best < 0).any():
            k = unset[np.flatnonzero(best < 0)[0]]
            raise ValidationError(
                f"unit cell (col {int(cols[k])}, row {int(rows[k])}) overlaps no community; "
                "communities must cover the jurisdiction"
            )
    return result


def _first_by_key(owner: np.ndarray, value: np.ndarray, key: np.ndarray, n: int) -> np.ndarray:
    """For each owner 0..n-1, the value with the smallest key (-1 when it has none)."""
    result = np.full(n, -1, dtype="int64")
    if owner.size == 0:
        return result
    order = np.lexsort((key, owner))
    owner_sorted = owner[order]
    first = np.r_[True, owner_sorted[1:] != owner_sorted[:-1]]
    result[owner_sorted[first]] = value[order][first]
    return result
