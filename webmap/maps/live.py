"""Live layers: the issues of a map's filter within the view, asked for by the map whenever the view changes.

A map document declares a live layer (:meth:`webmap.maps.document.MapDocument.add_live`):
its name, how an issue is drawn, and the path of its source ``<map>/points``, which
:func:`webmap.map_views.live_route` registers beside the map with the same guard. The map
page's script asks that path for the page's own query string plus ``view`` (the box shown,
``minlon,minlat,maxlon,maxlat``) and ``zoom``; the answer (:func:`live_answer`) holds the
issues one by one with the plain-text properties their popups show, or squares of counts
(:func:`geo.loop.points.map_points`) that the script draws as cluster bubbles — never more
than the setting ``map_max_features``, so a map of a million issues weighs what a map of a
thousand does. Every value is data the script puts in the page as text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
from flask_babel import gettext
from sqlalchemy import Engine

from geo.crs import gcj02_to_wgs84
from geo.issue_filter import IssueFilter
from geo.loop.points import map_points
from geo.settings import Settings
from webmap.maps.document import MapDocument

#: what a square of counts carries: its issues and the hover text
CLUSTER_PROPERTIES = ("n", "tip")


@dataclass(frozen=True)
class LiveIssues:
    """What a live layer shows: the issues of ``where``, each read with ``columns`` and drawn with
    the ``properties`` that ``describe`` adds to the frame of them."""

    where: IssueFilter
    columns: tuple[str, ...]
    describe: Callable[[gpd.GeoDataFrame], gpd.GeoDataFrame]
    properties: tuple[str, ...]


def data_view(view: Sequence[float], settings: Settings) -> tuple[float, float, float, float]:
    """The view a map asks about in WGS84: an AMap basemap's map draws, and so asks, in GCJ-02."""
    minx, miny, maxx, maxy = (float(v) for v in view)
    if settings.basemap != "amap":
        return minx, miny, maxx, maxy
    lon, lat = gcj02_to_wgs84(np.array([minx, maxx]), np.array([miny, maxy]))
    return float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1])


def live_answer(engine: Engine, settings: Settings, live: LiveIssues, *, view: Sequence[float], zoom: int) -> dict:
    """A live layer's answer for ``view`` (as the map draws it) at ``zoom``.

    Returns
    -------
    dict
        ``clustered`` (bool), ``total`` (the filter's issues in the view) and ``data``, a
        GeoJSON FeatureCollection of at most ``settings.map_max_features`` features: issues
        with ``live.properties``, or squares with ``n`` and ``tip``.
    """
    box = data_view(view, settings)
    shown = map_points(engine, settings, live.where, view=box, zoom=zoom, cap=settings.map_max_features,
                       columns=live.columns)
    document = MapDocument(box, settings)
    if shown.clustered:
        squares = shown.points.assign(tip=[gettext("%(n)s 件", n=int(n)) for n in shown.points["n"]])
        data = document.feature_collection(squares, CLUSTER_PROPERTIES, what="squares")
    else:
        data = document.feature_collection(live.describe(shown.points), live.properties, what="issues")
    return {"clustered": shown.clustered, "total": shown.total, "data": data}
