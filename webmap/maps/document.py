"""Map documents: the data of a map, served as JSON and drawn by ``webmap/static/maps.js``.

A map page is fixed code (:mod:`webmap.maps.shell`); what it shows is a *map document*
that the page fetches from the app: the bounds, the layers (GeoJSON with plain-text
properties and a declarative style, popup and tooltip), a legend and a message. No value
of a document ever becomes HTML, a script or template source: the browser puts each one
in the page as text. So nothing a user typed — a description, a road or team name, a
note — can run, on the server (branca renders a folium figure's output as a Jinja
template again) or in the browser.

Geometries arrive in any CRS and leave as EPSG:4326 lon/lat rounded to 6 decimals
(≈ 0.1 m), shifted to GCJ-02 for display when the basemap is AMap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from flask_babel import gettext

from geo.crs import wgs84_to_gcj02
from geo.settings import Settings

#: how a document's timestamps read in a popup (local time, as stored)
TIME_FORMAT = "%Y-%m-%d %H:%M"
#: coordinates keep this many decimals of a degree (≈ 0.1 m)
COORD_DECIMALS = 6
# Characters escaped when a document is written into an HTML file (a standalone map): nothing in it can
# end the <script> element or be read as markup; U+2028/2029 are line ends to older JavaScript parsers.
_INLINE_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def plain_values(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` as JSON-ready objects: timestamps as :data:`TIME_FORMAT` text, NaN/NaT/NA as None."""
    out = {}
    for name, column in frame.items():
        if pd.api.types.is_datetime64_any_dtype(column.dtype):
            column = column.dt.strftime(TIME_FORMAT)
        values = column.astype(object)
        out[name] = values.where(pd.notna(values), None)
    return pd.DataFrame(out, index=frame.index)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, pd.Timestamp):
        return value.strftime(TIME_FORMAT)
    raise TypeError(f"{type(value).__name__} {value!r} has no JSON form in a map document")


def document_json(document: dict) -> str:
    """A document as JSON text with ``<``, ``>``, ``&`` and the line separators escaped.

    The escapes keep the text inert wherever it lands: inside an HTML ``<script>``
    element (the standalone map) or in a browser that would sniff a JSON answer.
    """
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=_json_default, allow_nan=False)
    for char, escaped in _INLINE_ESCAPES.items():
        text = text.replace(char, escaped)
    return text


@dataclass
class MapDocument:
    """The layers of one map, built by the map builders of :mod:`webmap.maps`.

    Parameters
    ----------
    bounds : tuple of float
        (minlon, minlat, maxlon, maxlat), EPSG:4326: what the map shows first.
    settings : geo.settings.Settings
        The basemap setting decides whether geometries are shifted to GCJ-02 for display.
    """

    bounds: tuple[float, float, float, float]
    settings: Settings
    layers: list[dict] = field(default_factory=list)
    legend: dict | None = None
    message: str | None = None

    @property
    def gcj02(self) -> bool:
        return self.settings.basemap == "amap"

    def _lonlat(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.gcj02:
            lon, lat = wgs84_to_gcj02(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return np.round(lon, COORD_DECIMALS), np.round(lat, COORD_DECIMALS)

    def _geometries(self, frame: gpd.GeoDataFrame) -> np.ndarray:
        geometry = frame.geometry if frame.crs is None or frame.crs.to_epsg() == 4326 else frame.geometry.to_crs(4326)

        def transform(xy: np.ndarray) -> np.ndarray:
            return np.column_stack(self._lonlat(xy[:, 0], xy[:, 1]))

        return shapely.transform(geometry.values, transform) if len(geometry) else np.array([], dtype=object)

    def add_features(
        self,
        frame: gpd.GeoDataFrame,
        *,
        name: str | None,
        properties: Sequence[str] = (),
        kind: str = "geojson",
        show: bool = True,
        style: dict | None = None,
        style_props: dict[str, str] | None = None,
        point: str = "circle",
        label: str | None = None,
        angle: str | None = None,
        count: str | None = None,
        tooltip: Sequence[tuple[str, str]] | None = None,
        popup: dict | None = None,
    ) -> None:
        """Add a layer of ``frame``'s features with the columns ``properties`` as their properties.

        Parameters
        ----------
        frame : GeoDataFrame
            Features in any CRS with a CRS set; missing geometries are left out.
        name : str or None, keyword-only
            The layer's name in the layer control (plain text); None keeps it out of the control.
        kind : {"geojson", "cluster"}, keyword-only
            Drawn as they are, or points gathered into marker clusters (at most a few
            thousand points: a layer of many issues is :meth:`add_live`).
        style, style_props : dict, keyword-only
            Leaflet path options for every feature, and options taken from a property of each.
        point : {"circle", "badge", "arrow", "tag"}, keyword-only
            How points are drawn: circle markers, a round badge with ``label``, an arrow turned by
            ``angle`` degrees (clockwise), a text tag with ``label``.
        count : str, keyword-only
            Property holding how many issues a clustered point stands for (default one each).
        tooltip : sequence of (label, property), keyword-only
            Lines of the hover text ("" as label: the value alone).
        popup : dict, keyword-only
            ``title`` and ``href`` (properties: a bold title, a link when ``href`` holds a path
            of this app), ``fields`` (label, property) lines, ``items`` (property holding a list
            of lines), ``photos`` (property holding a list of photo paths), ``max_width`` (px).
        """
        layer = _layer_spec(name=name, kind=kind, show=show, style=style, style_props=style_props, point=point,
                            label=label, angle=angle, count=count, tooltip=tooltip, popup=popup)
        layer["data"] = self.feature_collection(frame, properties, what=name)
        self.layers.append(layer)

    def feature_collection(self, frame: gpd.GeoDataFrame, properties: Sequence[str] = (), *,
                           what: str | None = None) -> dict:
        """``frame``'s features as a GeoJSON FeatureCollection with the columns ``properties`` as plain values.

        Missing geometries are left out; coordinates as :meth:`add_features` writes them.
        """
        kept = frame[frame.geometry.notna() & ~frame.geometry.is_empty] if len(frame) else frame
        missing = [c for c in properties if c not in kept.columns]
        if missing:
            raise KeyError(f"map layer {what!r}: no column(s) {missing}")
        values = plain_values(pd.DataFrame(kept[list(properties)])).to_dict("records")
        geometries = self._geometries(kept)
        # one parse of every geometry together: a call per feature was most of a large layer's time
        shapes = json.loads("[" + ",".join(shapely.to_geojson(geometries).tolist()) + "]") if len(kept) else []
        features = [{"type": "Feature", "properties": props, "geometry": shape} for props, shape in zip(values, shapes)]
        return {"type": "FeatureCollection", "features": features}

    def add_live(self, *, name: str, source: str, params: dict[str, str] | None = None, show: bool = True,
                 style: dict | None = None, style_props: dict[str, str] | None = None,
                 tooltip: Sequence[tuple[str, str]] | None = None, popup: dict | None = None) -> None:
        """A layer of issues that the map asks ``source`` for whenever its view changes (:mod:`webmap.maps.live`).

        Parameters
        ----------
        name : str, keyword-only
            The layer's name in the layer control.
        source : str, keyword-only
            A path of this app answering :func:`webmap.maps.live.live_answer` for the page's
            query string plus ``params``, ``view`` and ``zoom``.
        params : dict, keyword-only
            Query parameters of this layer that replace the page's (a major class, …).
        style, style_props, tooltip, popup : keyword-only
            How each issue is drawn, as for :meth:`add_features`; squares of counts are
            drawn as cluster bubbles that zoom in when clicked.
        """
        layer = _layer_spec(name=name, kind="live", show=show, style=style, style_props=style_props,
                            tooltip=tooltip, popup=popup)
        layer.update(source=source, params=dict(params or {}))
        self.layers.append(layer)

    def add_heat(self, lon: Iterable[float], lat: Iterable[float], weight: Iterable[float], *, name: str,
                 show: bool = False, options: dict | None = None) -> None:
        """A heat layer (Leaflet.heat) of weighted points given in EPSG:4326."""
        x, y = self._lonlat(np.asarray(list(lon), dtype=float), np.asarray(list(lat), dtype=float))
        w = np.round(np.asarray(list(weight), dtype=float), 3)
        self.layers.append({"name": name, "kind": "heat", "show": show, "options": options or {},
                            "rows": np.column_stack([y, x, w]).tolist() if len(w) else []})

    def set_legend(self, title: str, rows: Sequence[tuple[str, str] | tuple[str, str, str]]) -> None:
        """A legend box: ``rows`` of (colour, label) or (colour, label, "dot")."""
        self.legend = {"title": title, "rows": [list(row) for row in rows]}

    def as_dict(self) -> dict:
        """The document as JSON-ready values, its words in the request's language.

        Layer names, tooltip and popup labels, the legend and the message are the builders'
        marked Chinese words (``N_("…")`` or already translated with ``gettext``) and are
        translated here; feature values are data and stay as they are.
        """
        minx, miny, maxx, maxy = self.bounds
        (west, east), (south, north) = self._lonlat(np.array([minx, maxx]), np.array([miny, maxy]))
        return {"bounds": [[float(south), float(west)], [float(north), float(east)]],
                "layers": [_translated_layer(layer) for layer in self.layers],
                "legend": None if self.legend is None else {
                    "title": _word(self.legend["title"]),
                    "rows": [[row[0], _word(row[1]), *row[2:]] for row in self.legend["rows"]]},
                "message": _word(self.message)}


def _layer_spec(*, name: str | None, kind: str, show: bool, style: dict | None = None,
                style_props: dict[str, str] | None = None, point: str = "circle", label: str | None = None,
                angle: str | None = None, count: str | None = None,
                tooltip: Sequence[tuple[str, str]] | None = None, popup: dict | None = None) -> dict:
    return {"name": name, "kind": kind, "show": show, "style": style or {}, "style_props": style_props or {},
            "point": point, "label": label, "angle": angle, "count": count,
            "tooltip": {"fields": [list(pair) for pair in tooltip]} if tooltip else None, "popup": popup}


def _word(text: str | None) -> str | None:
    # "" stays "": gettext("") is the catalogue's header
    return text if not text else gettext(text)


def _translated_layer(layer: dict) -> dict:
    out = {**layer, "name": _word(layer.get("name"))}
    if layer.get("tooltip"):
        out["tooltip"] = {"fields": [[_word(label), prop] for label, prop in layer["tooltip"]["fields"]]}
    if layer.get("popup"):
        out["popup"] = {**layer["popup"],
                        "fields": [[_word(label), prop] for label, prop in layer["popup"].get("fields", [])]}
    return out
