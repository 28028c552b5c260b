"""GeoJSON (RFC 7946) text of GeoDataFrames: the writer of the REST and OGC API answers.

Pages of issues as JSON are written by the database instead (:func:`geo.store.issue_features`,
the same features); :func:`collection_utf8` wraps either kind of Feature text.

Features are written as text, not built as dicts and dumped: the properties of all
rows go through pandas' JSON writer at once (C speed), the geometries through
shapely's, and the pieces are joined. A page of 1,000 issues takes a few
milliseconds instead of the ~25 ms of ``to_dict`` and a ``json.dumps`` per feature.
"""

from __future__ import annotations

import json
from typing import Sequence

import geopandas as gpd
import numpy as np
import shapely

#: decimals of written coordinates: 6 (≈ 0.1 m), as RFC 7946 suggests
COORDINATE_DECIMALS = 6


def feature_texts(frame: gpd.GeoDataFrame, *, ids: Sequence | None = None) -> list[str]:
    """One GeoJSON Feature text per row, geometry in EPSG:4326 with 6 decimals.

    Parameters
    ----------
    frame : GeoDataFrame
        The rows; every column but the geometry becomes a property. Values must
        already be JSON types (text, numbers, booleans; missing values are written
        ``null``): format timestamps before.
    ids : sequence, optional
        The features' ``id`` members (numbers or text); none are written without.

    Returns
    -------
    list of str
    """
    if ids is not None and len(ids) != len(frame):
        raise ValueError(f"{len(ids)} ids for {len(frame)} features")
    if frame.empty:
        return []
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        frame = frame.to_crs(4326)
    geometries = frame.geometry.values
    if (shapely.get_type_id(geometries) == 0).all():
        # points: new ones from rounded coordinates (shapely.transform costs ~4 µs per point)
        rounded = shapely.points(np.round(shapely.get_coordinates(geometries), COORDINATE_DECIMALS))
    else:
        rounded = shapely.transform(geometries, lambda xy: np.round(xy, COORDINATE_DECIMALS))
    geometries = ["null" if g is None else g for g in shapely.to_geojson(rounded)]
    properties = frame.drop(columns=frame.geometry.name)
    if properties.columns.empty:
        records = ["{}"] * len(frame)
    else:
        # one JSON object per line; a newline inside a value is written escaped, so splitting at "\n" is
        # safe (not str.splitlines: it also splits at U+2028 and the other separators JSON leaves raw)
        records = properties.to_json(orient="records", lines=True, force_ascii=False,
                                     double_precision=15).rstrip("\n").split("\n")
    heads = ['{"type":"Feature",'] * len(frame) if ids is None else [
        f'{{"type":"Feature","id":{i},' for i in _id_texts(ids)]
    return [f'{head}"geometry":{g},"properties":{p}}}' for head, g, p in zip(heads, geometries, records)]


def _id_texts(ids: Sequence) -> list[str]:
    """Feature ids as JSON: whole numbers written as they are, text quoted."""
    values = [i.item() if isinstance(i, np.generic) else i for i in ids]
    if all(type(v) is int for v in values):
        return [str(v) for v in values]
    return [json.dumps(v, ensure_ascii=False) for v in values]


def feature_collection(frame: gpd.GeoDataFrame, *, ids: Sequence | None = None,
                       members: dict | None = None) -> bytes:
    """A FeatureCollection (UTF-8) of :func:`feature_texts`, with foreign ``members`` before the features."""
    return collection_utf8(feature_texts(frame, ids=ids), members=members)


def collection_utf8(features: Sequence[str], *, members: dict | None = None) -> bytes:
    """A FeatureCollection as UTF-8 bytes of Feature texts (:func:`feature_texts`, :func:`geo.store.issue_features`),
    with foreign ``members`` before the features.

    Each feature is encoded and the bytes joined: joining the texts first and encoding the
    whole (or adding to a joined text) copies ~1 MB of text twice more, 1.3 -> 0.4 ms a page
    of 1,000 issues.
    """
    head = json.dumps({"type": "FeatureCollection", **(members or {})}, ensure_ascii=False, separators=(",", ":"))
    return b"".join([head[:-1].encode(), b',"features":[', b",".join([f.encode() for f in features]), b"]}"])
