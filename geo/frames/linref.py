"""Linear referencing beyond single points: pieces of lines between two chainages.

:func:`geo.frames.segments.chainage_of` and :func:`geo.frames.segments.point_at` turn points into
chainages and back; :func:`line_substrings` cuts the stretch between two chainages
out of a line, for many stretches of many lines at once (what
``shapely.ops.substring`` does for one). All in a metric CRS, metres.
"""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import ArrayLike

from geo.errors import ValidationError

# Chainages this close to each other are the same place (float noise of interpolation).
_SAME_M = 1e-9


def line_substrings(lines: ArrayLike, line_of: ArrayLike, from_m: ArrayLike, to_m: ArrayLike) -> np.ndarray:
    """The stretches ``[from_m, to_m]`` of lines, following every vertex in between.

    Parameters
    ----------
    lines : array_like of shapely.LineString
        The lines (roads), metric CRS.
    line_of : array_like of int
        For each stretch, the position in ``lines`` of the line it lies on.
    from_m, to_m : array_like of float
        Chainage of each stretch's start and end, metres from the line's first
        vertex, with ``0 <= from_m <= to_m <= length``.

    Returns
    -------
    numpy.ndarray of shapely geometries
        One per stretch: a LineString in the line's direction, or the Point at
        ``from_m`` when ``from_m == to_m``.

    Raises
    ------
    geo.errors.ValidationError
        Non-LineString lines, a ``line_of`` out of range, or chainages outside the
        line or in the wrong order (the message quotes the first bad stretch).
    """
    lines = np.asarray(lines, dtype=object)
    if lines.size and not (shapely.get_type_id(lines) == 1).all():
        raise ValidationError("lines must all be LineStrings")
    line_of = np.asarray(line_of, dtype="int64")
    start = np.asarray(from_m, dtype="float64")
    end = np.asarray(to_m, dtype="float64")
    if not line_of.shape == start.shape == end.shape or line_of.ndim != 1:
        raise ValidationError("line_of, from_m and to_m must be 1-D and of the same length")
    if line_of.size and (line_of.min() < 0 or line_of.max() >= lines.size):
        raise ValidationError(
            f"line_of {int(line_of[(line_of < 0) | (line_of >= lines.size)][0])} "
            f"is not a position in the {lines.size} lines"
        )
    length = shapely.length(lines)
    bad = ~(np.isfinite(start) & np.isfinite(end)) | (start < 0) | (end < start) | (end > length[line_of])
    if bad.any():
        i = np.flatnonzero(bad)[0]
        raise ValidationError(
            f"stretch {start[i]!r}–{end[i]!r} m is not within line {int(line_of[i])} "
            f"(0 to {length[line_of[i]]:.3f} m) or ends before it starts"
        )

    out = shapely.line_interpolate_point(lines[line_of], start)
    stretch = np.flatnonzero(end - start > _SAME_M)
    if stretch.size == 0:
        return out
    road, a, b = line_of[stretch], start[stretch], end[stretch]

    # One increasing key over all vertices of all lines (each line shifted past the
    # previous one), so one searchsorted finds every stretch's inner vertices.
    coords, owner = shapely.get_coordinates(lines, return_index=True)
    step = np.hypot(np.diff(coords[:, 0]), np.diff(coords[:, 1]))
    step[owner[1:] != owner[:-1]] = 0.0
    vm = np.r_[0.0, np.cumsum(step)]
    vm -= vm[np.searchsorted(owner, owner)]
    offset = np.r_[0.0, np.cumsum(length + 1.0)[:-1]]
    key = vm + offset[owner]
    lo = np.searchsorted(key, a + offset[road], side="right")
    hi = np.searchsorted(key, b + offset[road], side="left")
    inner = hi - lo

    piece = np.repeat(np.arange(stretch.size), inner)
    rank = np.arange(inner.sum()) - np.repeat(np.cumsum(inner) - inner, inner)
    ends_xy = shapely.get_coordinates(shapely.line_interpolate_point(lines[np.r_[road, road]], np.r_[a, b]))
    n = stretch.size
    xy = np.concatenate([ends_xy[:n], coords[lo[piece] + rank], ends_xy[n:]])
    which = np.concatenate([np.arange(n), piece, np.arange(n)])
    order_in = np.concatenate([np.zeros(n), rank + 1.0, inner + 1.0])
    order = np.lexsort((order_in, which))
    xy, which = xy[order], which[order]
    # An end interpolated onto a vertex repeats it: drop the repeat.
    dup = np.r_[False, (which[1:] == which[:-1]) & (xy[1:] == xy[:-1]).all(axis=1)]
    out[stretch] = shapely.linestrings(xy[~dup], indices=which[~dup])
    return out
