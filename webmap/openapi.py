"""The OpenAPI 3 document at ``/openapi.json``, built from the app's URL map.

Every rule of ``app.url_map`` and every method it answers (HEAD and OPTIONS aside)
is listed, so a new route cannot be left out. A view decorated with
:func:`operation` contributes its summary, query parameters, request body and
response schemas; the other routes (pages, maps, files) are listed with their path
parameters, their docstring's first line and a ``default`` response. API modules
register the parameters and schemas they refer to with :func:`components`.
"""

from __future__ import annotations

import re
from typing import Callable

from flask import Blueprint, Flask, current_app, jsonify

bp = Blueprint("openapi", __name__)

OPENAPI_VERSION = "3.0.3"
OPENAPI_MEDIA_TYPE = "application/vnd.oai.openapi+json;version=3.0"
_IGNORED_METHODS = {"HEAD", "OPTIONS"}
# <converter(args):name> or <name> in a werkzeug rule
_VARIABLE = re.compile(r"<(?:(?P<converter>[a-zA-Z_]\w*)(?:\((?P<args>[^)]*)\))?:)?(?P<name>[a-zA-Z_]\w*)>")
_COMPONENTS: dict[str, dict] = {"schemas": {}, "parameters": {}, "securitySchemes": {}}


def components(*, schemas: dict | None = None, parameters: dict | None = None,
               security_schemes: dict | None = None) -> None:
    """Register reusable schemas, parameters and security schemes (``#/components/...``); names must be unique."""
    for kind, items in (("schemas", schemas or {}), ("parameters", parameters or {}),
                        ("securitySchemes", security_schemes or {})):
        clash = [name for name, item in items.items() if _COMPONENTS[kind].get(name, item) != item]
        if clash:
            raise ValueError(f"OpenAPI {kind} {clash} registered twice with different definitions")
        _COMPONENTS[kind].update(items)


def operation(
    *,
    summary: str,
    tags: list[str],
    responses: dict[str, dict[str, str | None]],
    parameters: list[str] = (),
    form: str | None = None,
    body: dict[str, str] | None = None,
    security: list[dict] | None = None,
    headers: dict[str, dict[str, str]] | None = None,
) -> Callable:
    """Describe a view for the OpenAPI document.

    Parameters
    ----------
    summary : str
        One line.
    tags : list of str
        Groups in the document (``open311``, ``ogcapi`` …).
    responses : dict
        Status (``"200"``) → media type → name of a registered schema, or None for
        a body without a schema (XML, HTML).
    parameters : list of str
        Names of registered parameters: query parameters, or a path parameter that
        replaces the one typed from the rule's converter (to give it an enum).
    form : str, optional
        Name of a registered object schema sent as ``application/x-www-form-urlencoded``;
        short for ``body={"application/x-www-form-urlencoded": form}``.
    body : dict, optional
        Request body: media type (``application/json``, ``multipart/form-data`` …) →
        name of a registered schema.
    security : list of dict, optional
        OpenAPI security requirements, any one of which suffices (``{}``: none needed),
        naming registered security schemes.
    headers : dict, optional
        Status → response header name → description, for headers always sent with it.
    """
    spec = {"summary": summary, "tags": list(tags), "responses": responses, "parameters": list(parameters),
            "body": body or ({"application/x-www-form-urlencoded": form} if form else None), "security": security,
            "headers": headers or {}}

    def mark(view: Callable) -> Callable:
        view.openapi = spec
        return view

    return mark


def _path_parameters(rule_text: str) -> tuple[str, list[dict]]:
    """The OpenAPI path (``{name}`` placeholders) and its parameters, typed from the converters."""
    parameters = []
    for match in _VARIABLE.finditer(rule_text):
        converter, args = match["converter"] or "default", match["args"] or ""
        if converter == "int":
            schema = {"type": "integer", "minimum": 0}
        elif converter == "float":
            schema = {"type": "number", "minimum": 0}
        elif converter == "any":
            schema = {"type": "string", "enum": [a.strip().strip("'\"") for a in args.split(",")]}
        elif converter == "path":
            schema = {"type": "string", "minLength": 1}
        else:
            schema = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}
        parameters.append({"name": match["name"], "in": "path", "required": True, "schema": schema})
    return _VARIABLE.sub(lambda m: "{" + m["name"] + "}", rule_text), parameters


def _media(schema: str | None) -> dict:
    return {"schema": {"$ref": f"#/components/schemas/{schema}"}} if schema else {"schema": {"type": "string"}}


def _operation(endpoint: str, method: str, view: Callable, path_parameters: list[dict]) -> dict:
    spec = getattr(view, "openapi", None)
    doc = (view.__doc__ or endpoint).strip().splitlines()[0]
    op = {"operationId": f"{endpoint}.{method.lower()}", "parameters": list(path_parameters)}
    if spec is None:
        return {**op, "summary": doc, "tags": [endpoint.split(".")[0]],
                "responses": {"default": {"description": "a page, file or JSON document"}}}
    op.update(summary=spec["summary"], description=doc, tags=spec["tags"])
    replaced = {_COMPONENTS["parameters"][name]["name"] for name in spec["parameters"]
                if _COMPONENTS["parameters"][name]["in"] == "path"}
    op["parameters"] = [p for p in path_parameters if p["name"] not in replaced]
    op["parameters"] += [{"$ref": f"#/components/parameters/{name}"} for name in spec["parameters"]]
    if spec.get("security") is not None:
        op["security"] = spec["security"]
    if spec["body"]:
        op["requestBody"] = {"required": True, "content": {
            media: {"schema": {"$ref": f"#/components/schemas/{schema}"}} for media, schema in spec["body"].items()}}
    op["responses"] = {status: {"description": f"HTTP {status}",
                                "content": {media: _media(schema) for media, schema in by_media.items()}}
                       for status, by_media in spec["responses"].items()}
    for status, named in spec["headers"].items():
        op["responses"][status]["headers"] = {
            name: {"description": description, "required": True, "schema": {"type": "string"}}
            for name, description in named.items()}
    return op


def openapi_document(app: Flask) -> dict:
    """The OpenAPI 3 document of ``app``: every rule and method of its URL map."""
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        path, parameters = _path_parameters(rule.rule)
        view = app.view_functions[rule.endpoint]
        for method in sorted(set(rule.methods) - _IGNORED_METHODS):
            paths.setdefault(path, {})[method.lower()] = _operation(rule.endpoint, method, view, parameters)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "citymap", "version": "1.0",
                 "description": "城市管理问题地图：页面、REST、Open311 GeoReport v2 与 OGC API – Features。"},
        "paths": paths,
        "components": {kind: dict(sorted(items.items())) for kind, items in _COMPONENTS.items()},
    }


@bp.get("/openapi.json")
@operation(summary="This OpenAPI 3 document", tags=["meta"], responses={"200": {OPENAPI_MEDIA_TYPE: "OpenAPI"}})
def openapi_json():
    """The OpenAPI 3 document of every route."""
    response = jsonify(openapi_document(current_app))
    response.mimetype = "application/vnd.oai.openapi+json"
    return response


components(schemas={"OpenAPI": {"type": "object", "required": ["openapi", "info", "paths"]}})
