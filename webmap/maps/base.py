"""What every citymap map shares: the base layers (boundary, roads), statuses and their colours."""

from __future__ import annotations

import geopandas as gpd

from geo.settings import Settings
from webmap.i18n import N_
from webmap.maps.document import MapDocument

ROAD_STYLE = {
    "arterial": {"color": "#555555", "weight": 4},
    "secondary": {"color": "#777777", "weight": 3},
    "branch": {"color": "#999999", "weight": 2},
    "alley": {"color": "#bbbbbb", "weight": 1.5},
}
PRIORITY_COLOR = "#d62728"
def new_document(boundary: gpd.GeoDataFrame, settings: Settings, *,
                 bounds: tuple[float, float, float, float] | None = None) -> MapDocument:
    """A map document showing ``bounds`` (default: the jurisdiction's) with the boundary drawn.

    Parameters
    ----------
    boundary : GeoDataFrame
        The jurisdiction's boundary, EPSG:4326.
    bounds : tuple of float, keyword-only
        (minlon, minlat, maxlon, maxlat) to show first, EPSG:4326.
    """
    document = MapDocument(tuple(boundary.total_bounds) if bounds is None else bounds, settings)
    document.add_features(boundary, name=N_("街道边界"),
                          style={"color": "#1f3b73", "weight": 2, "fill": False, "dashArray": "6 4"})
    return document


def add_roads(document: MapDocument, roads: gpd.GeoDataFrame, *, name: str = N_("道路"),
              mark_priority: bool = True) -> None:
    """Roads by class, with their names as tooltips; priority roads (津北公路, 先锋东路, main roads) in red."""
    styles = roads["road_class"].map(lambda c: ROAD_STYLE.get(c, ROAD_STYLE["branch"]))
    priority = roads["is_priority"].fillna(False).astype(bool) & mark_priority
    coloured = roads.assign(color=styles.map(lambda s: s["color"]).where(~priority, PRIORITY_COLOR),
                            weight=styles.map(lambda s: s["weight"]))
    document.add_features(coloured, name=name, properties=["name", "color", "weight"],
                          style_props={"color": "color", "weight": "weight"}, tooltip=[(N_("道路"), "name")])
