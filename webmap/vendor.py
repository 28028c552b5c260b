"""Serves the Leaflet and plugin files (see :mod:`webmap.assets`)."""

from flask import Blueprint, abort, send_file

from webmap.assets import asset_path

bp = Blueprint("vendor", __name__)


@bp.get("/<prefix>/<path:filename>")
def asset(prefix: str, filename: str):
    path = asset_path(prefix, filename)
    if path is None:
        abort(404)
    return send_file(path, max_age=86400)
