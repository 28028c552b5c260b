"""Pages for people (Simplified Chinese), one module per surface, all on :data:`~webmap.pages.blueprint.bp`.

:mod:`~webmap.pages.home` the home page and overview map, :mod:`~webmap.pages.issues` the issue
list, issue page and photos, :mod:`~webmap.pages.citizen` the citizen's report form and its
confirmation, :mod:`~webmap.pages.hotspots` hot and emerging hot spots,
:mod:`~webmap.pages.routes` the crews' routes, :mod:`~webmap.pages.accountability` coverage, league
table, plan tasks and weekly report, :mod:`~webmap.pages.greening` the priority roads' greening,
:mod:`~webmap.pages.crew` the crews' queue on the phone (我的待办), :mod:`~webmap.pages.dispatch` the
dispatcher's inbox and desk; :mod:`~webmap.pages.names` the names pages show for codes.
Maps are whole folium documents served under ``/maps/…`` and framed by the pages, so each keeps its
own scripts and styles. A handler parses its parameters (:mod:`webmap.params`), calls one use case
of ``geo`` and shapes the answer.
"""

from webmap.pages import accountability, citizen, crew, dispatch, greening, home, hotspots, issues, routes
from webmap.pages.blueprint import bp

__all__ = ["accountability", "bp", "citizen", "crew", "dispatch", "greening", "home", "hotspots", "issues", "routes"]
