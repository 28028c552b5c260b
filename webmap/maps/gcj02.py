"""Display-only GCJ-02 shift of a folium map, for basemaps drawn in GCJ-02 (AMap/Gaode).

AMap tiles are in GCJ-02, offset from WGS84 by a few hundred metres around Tianjin;
our geometries are stored and exchanged in WGS84. When the basemap is AMap, every
coordinate a map draws is shifted to GCJ-02 just before the page is written, so the
roads and issues sit on AMap's streets. Nothing else (data, APIs, exports) changes.
"""

from __future__ import annotations

import folium
import numpy as np
import shapely
import shapely.geometry
from branca.element import Element
from folium.plugins import HeatMap
from folium.vector_layers import BaseMultiLocation

from geo.crs import wgs84_to_gcj02


def _walk(element: Element):
    yield element
    for child in list(element._children.values()):
        yield from _walk(child)


def _shift_latlon(pairs: np.ndarray) -> np.ndarray:
    """(…, ≥2) array of [lat, lon, (extra…)] → the same with lat/lon in GCJ-02."""
    out = np.array(pairs, dtype=float)
    lon, lat = wgs84_to_gcj02(out[..., 1].ravel(), out[..., 0].ravel())
    out[..., 0], out[..., 1] = lat.reshape(out.shape[:-1]), lon.reshape(out.shape[:-1])
    return out


def _shift_nested(locations):
    """Nested lists ending in [lat, lon] pairs → the same, shifted."""
    try:
        return _shift_latlon(np.asarray(locations, dtype=float)).tolist()
    except ValueError:  # ragged (multi-lines, polygons with holes): part by part
        return [_shift_nested(part) for part in locations]


def _shift_geojson(data: dict) -> dict:
    """A GeoJSON dict (FeatureCollection, Feature or geometry) with every geometry shifted."""
    if data.get("type") == "FeatureCollection":
        features = data["features"]
    elif data.get("type") == "Feature":
        features = [data]
    else:
        return shapely.geometry.mapping(_shift_geometries([shapely.geometry.shape(data)])[0])
    present = [f for f in features if f.get("geometry")]
    shifted = _shift_geometries([shapely.geometry.shape(f["geometry"]) for f in present])
    for feature, geometry in zip(present, shifted):
        feature["geometry"] = shapely.geometry.mapping(geometry)
    return data


def _shift_geometries(geometries: list) -> np.ndarray:
    def to_gcj02(xy: np.ndarray) -> np.ndarray:
        lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(np.asarray(geometries, dtype=object), to_gcj02)


def shift_map_to_gcj02(m: folium.Map) -> folium.Map:
    """Shift, in place, every location, line, GeoJSON layer, heat point and fitted bound of ``m`` to GCJ-02.

    Call once, after every layer is added (``webmap.maps.base.finish`` does).
    """
    point_holders = []
    for element in _walk(m):
        if isinstance(element, folium.GeoJson) and isinstance(element.data, dict):
            element.data = _shift_geojson(element.data)
        elif isinstance(element, HeatMap):
            element.data = _shift_latlon(element.data).tolist()
        elif isinstance(element, BaseMultiLocation):
            element.locations = _shift_nested(element.locations)
        elif isinstance(element, folium.FitBounds):
            element.bounds = _shift_latlon(element.bounds).tolist()
        elif getattr(element, "location", None) is not None:
            point_holders.append(element)
    # markers are many: shift all their locations in one call
    if point_holders:
        shifted = _shift_latlon([element.location[:2] for element in point_holders])
        for element, location in zip(point_holders, shifted.tolist()):
            element.location = location
    return m
