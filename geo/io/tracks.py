"""Inspection tracks and check-ins from GPX or vector files.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import ValidationError
from geo.io.tables import parse_times

_GPX_NS = {"gpx": "http://www.topografix.com/GPX/1/1"}
INSPECTION_KINDS = ("track", "checkin")


def read_inspection_file(path: str | Path, *, team: str, actor: str) -> gpd.GeoDataFrame:
    """Read inspection tracks and check-ins from a GPX 1.1 or GeoJSON file.

    GPX: each track segment (``trkseg``) becomes a track (LineString, at least two
    fixes) from its first to its last fix time; each waypoint (``wpt``) a check-in
    (Point) at its time. GeoJSON: LineString features are tracks, Point features
    check-ins; times come from the properties ``started_at`` / ``ended_at`` (or
    ``time`` for both); ``team`` and ``actor`` properties, when present, override
    the arguments. Coordinates must be WGS84; times with ``Z`` or an offset are
    converted to local (Asia/Shanghai) time, naive.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``.gpx``, ``.geojson`` or ``.json`` file.
    team, actor : str, keyword-only
        The team (department code) and the worker the file belongs to.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326 with ``team``, ``actor``, ``kind`` (track / checkin),
        ``started_at``, ``ended_at``, ``source`` (gpx / geojson).

    Raises
    ------
    geo.errors.ValidationError
        Unreadable file, no inspection in it, a fix without a time, a geometry
        of another type, or coordinates outside WGS84 ranges.
    """
    import xml.etree.ElementTree as ET

    path = Path(path)
    name = path.name
    for label, value in (("team", team), ("actor", actor)):
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(f"{name}: {label} {value!r} must be a non-empty name")
    suffix = path.suffix.lower()
    if suffix == ".gpx":
        try:
            root = ET.parse(path).getroot()
        except (ET.ParseError, OSError) as exc:
            raise ValidationError(f"{name}: not a readable GPX file ({exc})") from exc
        ns = _GPX_NS if root.tag.startswith("{" + _GPX_NS["gpx"]) else {"gpx": ""}
        q = (lambda tag: f"gpx:{tag}") if ns["gpx"] else (lambda tag: tag)
        parts, kinds, starts, ends = [], [], [], []
        for seg in root.iterfind(f".//{q('trkseg')}", ns):
            fixes = seg.findall(q("trkpt"), ns)
            times = pd.Series([p.findtext(q("time"), default="", namespaces=ns) for p in fixes], dtype=object)
            if len(fixes) < 2:
                continue
            parts.append(shapely.linestrings([(float(p.get("lon")), float(p.get("lat"))) for p in fixes]))
            kinds.append("track")
            starts.append(times.iloc[0])
            ends.append(times.iloc[-1])
        for wpt in root.iterfind(f".//{q('wpt')}", ns):
            parts.append(shapely.Point(float(wpt.get("lon")), float(wpt.get("lat"))))
            kinds.append("checkin")
            stamp = wpt.findtext(q("time"), default="", namespaces=ns)
            starts.append(stamp)
            ends.append(stamp)
        frame = gpd.GeoDataFrame({"team": team, "actor": actor, "kind": kinds, "started_at": starts,
                                  "ended_at": ends, "source": "gpx"}, geometry=parts, crs="EPSG:4326")
    elif suffix in (".geojson", ".json"):
        try:
            raw = gpd.read_file(path)
        except Exception as exc:  # pyogrio raises several error types for unreadable files
            raise ValidationError(f"{name}: not a readable GeoJSON file ({exc})") from exc
        if raw.crs is not None and not raw.crs.equals("EPSG:4326"):
            raise ValidationError(f"{name}: coordinates must be WGS84 (EPSG:4326), got {raw.crs}")
        types = raw.geom_type
        bad = types[~types.isin(("LineString", "Point"))]
        if len(bad):
            raise ValidationError(f"{name}: feature {int(bad.index[0]) + 1} is a {bad.iloc[0]}, "
                                  f"not a LineString track or a Point check-in")

        def prop(column: str, default: object) -> pd.Series:
            if column in raw:
                return raw[column].astype(object).where(raw[column].notna(), default)
            return pd.Series(default, index=raw.index, dtype=object)

        when = prop("time", "")
        frame = gpd.GeoDataFrame({
            "team": prop("team", team), "actor": prop("actor", actor),
            "kind": np.where(types == "LineString", "track", "checkin"),
            "started_at": prop("started_at", None).where(lambda s: s.notna(), when),
            "ended_at": prop("ended_at", None).where(lambda s: s.notna(), when),
            "source": "geojson"}, geometry=raw.geometry.values, crs="EPSG:4326")
    else:
        raise ValidationError(f"{name}: inspections are read from .gpx or .geojson files, not {suffix or 'this'}")
    if frame.empty:
        raise ValidationError(f"{name}: holds no track (two fixes or more) and no waypoint")
    for column in ("started_at", "ended_at"):
        frame[column] = parse_times(frame[column].astype(str).str.strip(), excel=False)
        missing = frame[column].isna()
        if missing.any():
            raise ValidationError(f"{name}: inspection {int(np.flatnonzero(missing)[0]) + 1} has no readable "
                                  f"time ({column})")
    xy = shapely.get_coordinates(frame.geometry.values)
    if not ((np.abs(xy[:, 0]) <= 180) & (np.abs(xy[:, 1]) <= 90)).all():
        raise ValidationError(f"{name}: coordinates outside WGS84 longitude/latitude ranges")
    return frame
