"""Map routes: each map is a page of fixed code at ``<rule>``, its document at ``<rule>/data`` and,
for a map with a live layer of issues, the layer's source at ``<rule>/points`` (:func:`live_route`).

:func:`map_route` registers both from one function that builds the map document
(:class:`webmap.maps.document.MapDocument`) for the request. The page is the cached shell
(:func:`webmap.maps.shell.map_page`), the same for every query string: the page's script
fetches ``<rule>/data`` with the page's own query string, and errors of the document
(a bad parameter, an issue one may not see) come back as JSON that the map shows.

Both answers carry an ETag (the SHA-256 of the body): a browser that asks again with
``If-None-Match`` gets a 304 without the body while the data have not changed. They stay
``private`` (:func:`webmap.auth`'s headers): what a map shows depends on who asks, so only the
user's own browser may keep it, never a shared cache.
"""

from __future__ import annotations

from typing import Callable

import hashlib

from flask import Blueprint, Response, current_app, g, request, url_for

from geo.loop.points import MAX_ZOOM
from webmap import params
from webmap.context import engine_of, settings_of
from webmap.maps.document import MapDocument, document_json
from webmap.maps.live import LiveIssues, live_answer
from webmap.maps.shell import map_page

#: the suffix of a map document's endpoint and rule
DATA_SUFFIX = "_data"
#: the suffix of a map's live layer source (:func:`live_route`)
POINTS_SUFFIX = "_points"


def wants_json_errors() -> bool:
    """Whether the request being answered is a map document's (its errors are JSON)."""
    return bool(g.get("map_document"))


def conditional(response: Response) -> Response:
    """``response`` with a strong ETag of its body, answered 304 when the request's ``If-None-Match`` holds it."""
    response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32])
    return response.make_conditional(request)


def map_route(bp: Blueprint, rule: str, *, endpoint: str) -> Callable:
    """Register the map page ``rule`` and its document ``rule + "/data"`` on ``bp``.

    The decorated function takes the rule's arguments and returns a :class:`MapDocument`.
    The document's endpoint is ``endpoint + "_data"``.
    """
    def register(build: Callable[..., MapDocument]) -> Callable[..., MapDocument]:
        def page(**kwargs):
            from webmap.auth import trust_inline_scripts

            shell = map_page(settings_of(current_app), url_for(f"{bp.name}.{endpoint}{DATA_SUFFIX}", **kwargs))
            trust_inline_scripts(shell.script_hashes)
            return conditional(Response(shell.html, mimetype="text/html"))

        def data(**kwargs):
            g.map_document = True
            return conditional(Response(document_json(build(**kwargs).as_dict()), mimetype="application/json"))

        page.__doc__ = f"The map page of {endpoint} (fixed code; it fetches {rule}/data)."
        data.__doc__ = build.__doc__
        bp.add_url_rule(rule, endpoint, page, methods=["GET"])
        bp.add_url_rule(rule + "/data", endpoint + DATA_SUFFIX, data, methods=["GET"])
        return build

    return register


def live_route(bp: Blueprint, rule: str, *, endpoint: str) -> Callable:
    """Register ``rule + "/points"``, the source of a map's live layer (:mod:`webmap.maps.live`), on ``bp``.

    The decorated function takes the rule's arguments, reads the page's query string and
    returns the :class:`webmap.maps.live.LiveIssues` it shows; the route adds ``view``
    (a bbox, required) and ``zoom`` (0…22, required), each a 400 when bad. The endpoint is
    ``endpoint + "_points"``; its errors are JSON, as a map document's.
    """
    def register(build: Callable[..., LiveIssues]) -> Callable[..., LiveIssues]:
        def points(**kwargs):
            g.map_document = True
            view = params.bbox(request.args, "view", required=True)
            zoom = params.whole(request.args, "zoom", lo=0, hi=MAX_ZOOM, required=True)
            answer = live_answer(engine_of(current_app), settings_of(current_app), build(**kwargs), view=view,
                                 zoom=zoom)
            return conditional(Response(document_json(answer), mimetype="application/json"))

        points.__doc__ = f"The issues of {endpoint}'s live layer in the view ``view`` at ``zoom``."
        bp.add_url_rule(rule + "/points", endpoint + POINTS_SUFFIX, points, methods=["GET"])
        return build

    return register
