"""Leaflet, plugin and chart files served by the app itself: the intranet has no internet.

The map files come from Python packages installed with citymap (XStatic-Leaflet,
XStatic-Leaflet-MarkerCluster, XStatic-jQuery (folium's popups use it), and folium's own wheel for
leaflet-heat). The charts are Apache ECharts, an npm package (:data:`NPM_ASSETS`): the set-up
(``make setup``, ``scripts/fetch_npm_assets.py``) fetches the pinned version with npm, checks the
tarball against the SHA-512 pinned here and keeps the files listed, with the package's licence,
in :data:`NPM_DIR`, so an offline install needs the two package indexes at set-up and nothing at
run time. :func:`localize` rewrites a folium map's script and style links to the local copies.
"""

from __future__ import annotations

from pathlib import Path

import folium
import xstatic.pkg.jquery as _jquery
import xstatic.pkg.leaflet as _leaflet
import xstatic.pkg.leaflet_markercluster as _markercluster
from branca.element import Element

#: npm package → (version, npm's integrity of its tarball, the files kept); the charts' library, why it was
#: chosen and its licence (Apache-2.0, its LICENSE and NOTICE kept beside it) are in docs/architecture.md
NPM_ASSETS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "echarts": ("6.1.0",
                "sha512-q0yaFPggC9FUdsWH4blavRWFmxdrIodbkoKNAjJudAI6CA9gNPxHtV2RcZNEepZVlk4yvBYkOkbk6HIVpIyHZA==",
                ("dist/echarts.common.min.js", "LICENSE", "NOTICE", "licenses/LICENSE-d3")),
}
#: where the set-up puts the files of :data:`NPM_ASSETS` (one folder per package; not in git)
NPM_DIR = Path(__file__).parent / "npm"

#: URL prefix → directory of files served under it
ASSET_DIRS: dict[str, Path] = {
    "leaflet": Path(_leaflet.BASE_DIR),
    "jquery": Path(_jquery.BASE_DIR),
    "markercluster": Path(_markercluster.BASE_DIR),
    "folium": Path(folium.__file__).parent / "templates",
    # the map renderer (webmap.maps.shell) and its styles
    "citymap": Path(__file__).parent / "static",
    **{name: NPM_DIR / name for name in NPM_ASSETS},
}

#: folium asset name → (prefix, file); names folium uses that are absent here are dropped
LOCAL_JS = {
    "leaflet": ("leaflet", "leaflet.js"),
    "jquery": ("jquery", "jquery.min.js"),
    "markerclusterjs": ("markercluster", "leaflet.markercluster.js"),
    "leaflet-heat.js": ("folium", "leaflet_heat.min.js"),
    "citymap-maps": ("citymap", "maps.js"),
}
LOCAL_CSS = {
    "leaflet_css": ("leaflet", "leaflet.css"),
    "markerclustercss": ("markercluster", "MarkerCluster.css"),
    "markerclusterdefaultcss": ("markercluster", "MarkerCluster.Default.css"),
    "citymap-maps-css": ("citymap", "maps.css"),
}


def asset_path(prefix: str, filename: str) -> Path | None:
    """The file behind ``/vendor/<prefix>/<filename>``, or None if there is none."""
    base = ASSET_DIRS.get(prefix)
    if base is None or "\x00" in filename:
        return None
    path = (base / filename).resolve()
    if base.resolve() not in path.parents or not path.is_file():
        return None
    return path


def localize(element: Element, *, url_prefix: str = "/vendor") -> Element:
    """Point every script and stylesheet of a folium element tree at the local copies.

    Bootstrap and Awesome-Markers, which folium adds for features we do not
    use (glyph icons), are dropped rather than fetched from a CDN.
    """
    def local(table: dict[str, tuple[str, str]], items: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(name, f"{url_prefix}/{table[name][0]}/{table[name][1]}") for name, _ in items if name in table]

    stack = [element]
    while stack:
        node = stack.pop()
        if hasattr(node, "default_js"):
            node.default_js = local(LOCAL_JS, node.default_js)
        if hasattr(node, "default_css"):
            node.default_css = local(LOCAL_CSS, node.default_css)
        stack.extend(node._children.values())
    return element
