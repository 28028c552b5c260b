"""What every citymap map shares: the basemap setting, local assets, escaping."""

from __future__ import annotations

import html

import folium
import geopandas as gpd
import pandas as pd

from geo.settings import Settings
from webmap.assets import localize
from webmap.maps.gcj02 import shift_map_to_gcj02

ROAD_STYLE = {
    "arterial": {"color": "#555555", "weight": 4},
    "secondary": {"color": "#777777", "weight": 3},
    "branch": {"color": "#999999", "weight": 2},
    "alley": {"color": "#bbbbbb", "weight": 1.5},
}
PRIORITY_COLOR = "#d62728"
AMAP_TILES = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"


# folium puts popup HTML inside a JavaScript template literal: a backtick would end it,
# ``${…}`` would run, and a backslash could make the script fail to parse.
_TEMPLATE_LITERAL = str.maketrans({"`": "&#96;", "$": "&#36;", "\\": "&#92;"})


def esc(value: object) -> str:
    """Escape user text for folium: HTML markup, and the characters live in a JS template literal."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    return html.escape(str(value), quote=True).translate(_TEMPLATE_LITERAL)


def new_map(bounds: tuple[float, float, float, float], settings: Settings) -> folium.Map:
    """An empty map fitted to ``bounds`` (minlon, minlat, maxlon, maxlat) with the configured basemap."""
    # Without a tile layer Leaflet has no maximum zoom, which marker clustering needs.
    m = folium.Map(tiles=None, control_scale=True, prefer_canvas=True, maxZoom=19)
    basemap = settings.basemap
    if basemap == "local" and settings.tile_url:
        folium.TileLayer(settings.tile_url, attr="本地瓦片", name="底图").add_to(m)
    elif basemap == "tianditu" and settings.tianditu_key:
        folium.TileLayer(
            f"https://t0.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec&STYLE=default"
            f"&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={settings.tianditu_key}",
            attr="天地图", name="天地图",
        ).add_to(m)
    elif basemap == "osm":
        folium.TileLayer("OpenStreetMap", name="OSM").add_to(m)
    elif basemap == "amap":
        # AMap draws in GCJ-02: finish() shifts our WGS84 geometries to match, for display only.
        # tile_url may name an intranet mirror of AMap's tiles.
        folium.TileLayer(settings.tile_url or AMAP_TILES, attr="高德地图", name="高德地图", subdomains="1234").add_to(m)
        m.gcj02_display = True
    minx, miny, maxx, maxy = bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


def add_boundary(m: folium.Map, boundary: gpd.GeoDataFrame, *, name: str = "街道边界") -> None:
    folium.GeoJson(
        boundary[[boundary.geometry.name]].__geo_interface__, name=name,
        style_function=lambda _f: {"color": "#1f3b73", "weight": 2, "fill": False, "dashArray": "6 4"},
    ).add_to(m)


def add_roads(m: folium.Map, roads: gpd.GeoDataFrame, *, name: str = "道路") -> None:
    """Roads by class; priority roads (津北公路, 先锋东路, main roads) in red."""
    data = roads.assign(name=roads["name"].map(esc))[["name", "road_class", "is_priority", roads.geometry.name]]
    folium.GeoJson(
        data.__geo_interface__, name=name,
        style_function=lambda f: {
            **ROAD_STYLE.get(f["properties"]["road_class"], ROAD_STYLE["branch"]),
            **({"color": PRIORITY_COLOR} if f["properties"]["is_priority"] else {}),
        },
        tooltip=folium.GeoJsonTooltip(fields=["name"], aliases=["道路"]),
    ).add_to(m)


def finish(m: folium.Map) -> folium.Map:
    """Layer control, the GCJ-02 display shift on AMap basemaps, and local assets: call last."""
    if getattr(m, "gcj02_display", False):
        shift_map_to_gcj02(m)
    folium.LayerControl(collapsed=True).add_to(m)
    return localize(m)
