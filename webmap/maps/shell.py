"""The page of a map: fixed code that fetches its map document (:mod:`webmap.maps.document`).

folium writes the Leaflet map with the configured basemap and the local assets; one
element of ours starts ``webmap/static/maps.js`` on it with the address of the map's data.
The page holds no data: it is the same for every request of a map under one set of
settings, so it is built once and cached, and the hashes of its inline scripts — all
written by this code — are what the page's Content-Security-Policy allows
(:func:`webmap.auth.trust_inline_scripts`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from typing import NamedTuple

import folium
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from jinja2 import Template

from geo.settings import Settings
from webmap.assets import localize

AMAP_TILES = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"
TIANDITU_TILES = ("https://t0.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec"
                  "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=")
#: the data address a page may carry: a path of this app, nothing that could leave a JavaScript string
_DATA_PATH = re.compile(r"/[A-Za-z0-9/_.-]*")
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.S | re.I)


class MapPage(NamedTuple):
    """A map page's HTML and the CSP sources (``'sha256-…'``) of its inline scripts."""

    html: str
    script_hashes: tuple[str, ...]


class _DrawDocument(JSCSSMixin, MacroElement):
    """Starts the renderer on the map: ``citymapMap.start(map, data_path)``."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            citymapMap.start({{ this._parent.get_name() }}, {{ this.data_path|tojson }});
        {% endmacro %}
    """)
    default_js = [("markerclusterjs", ""), ("leaflet-heat.js", ""), ("citymap-maps", "")]
    default_css = [("markerclustercss", ""), ("markerclusterdefaultcss", ""), ("citymap-maps-css", "")]

    def __init__(self, data_path: str | None):
        super().__init__()
        self._name = "citymap_document"
        self.data_path = data_path


def _add_basemap(m: folium.Map, settings: Settings) -> None:
    basemap = settings.basemap
    if basemap == "local" and settings.tile_url:
        folium.TileLayer(settings.tile_url, attr="本地瓦片", name="底图").add_to(m)
    elif basemap == "tianditu" and settings.tianditu_key:
        folium.TileLayer(TIANDITU_TILES + settings.tianditu_key, attr="天地图", name="天地图").add_to(m)
    elif basemap == "osm":
        folium.TileLayer("OpenStreetMap", name="OSM").add_to(m)
    elif basemap == "amap":
        # AMap draws in GCJ-02: the map documents shift our WGS84 geometries to match, for display only.
        # tile_url may name an intranet mirror of AMap's tiles.
        folium.TileLayer(settings.tile_url or AMAP_TILES, attr="高德地图", name="高德地图", subdomains="1234").add_to(m)


def script_hashes(html: str) -> tuple[str, ...]:
    """CSP source expressions of the inline scripts of a page this code wrote."""
    return tuple(dict.fromkeys(
        f"'sha256-{base64.b64encode(hashlib.sha256(body.encode('utf-8')).digest()).decode()}'"
        for body in _INLINE_SCRIPT.findall(html)))


def shell_map(settings: Settings, data_path: str | None) -> folium.Map:
    """The folium map of a page: basemap, local assets and the renderer; no data."""
    if data_path is not None and not _DATA_PATH.fullmatch(data_path):
        raise ValueError(f"map data path {data_path!r} is not a plain path of this app")
    # Without a tile layer Leaflet has no maximum zoom, which marker clustering needs; the renderer
    # adds a metric scale and fits the document's bounds.
    m = folium.Map(tiles=None, control_scale=False, prefer_canvas=True, maxZoom=19)
    _add_basemap(m, settings)
    _DrawDocument(data_path).add_to(m)
    return localize(m)


@lru_cache(maxsize=64)
def map_page(settings: Settings, data_path: str) -> MapPage:
    """The page of the map whose document is served at ``data_path`` (plus the page's query string).

    Parameters
    ----------
    settings : geo.settings.Settings
        Basemap settings.
    data_path : str
        A path of this app (``/maps/overview/data``); the page appends its own query string.
    """
    html = shell_map(settings, data_path).get_root().render()
    return MapPage(html, script_hashes(html))
