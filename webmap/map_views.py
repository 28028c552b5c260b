"""Map routes: each map is a page of fixed code at ``<rule>`` and its document at ``<rule>/data``.

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

from webmap.context import settings_of
from webmap.maps.document import MapDocument, document_json
from webmap.maps.shell import map_page

#: the suffix of a map document's endpoint and rule
DATA_SUFFIX = "_data"


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
