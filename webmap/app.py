"""The Flask application factory."""

from __future__ import annotations

from typing import Mapping

from flask import Flask, Request, jsonify, render_template, request
from flask_compress import Compress
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from geo.errors import CitymapError, ValidationError
from geo.settings import Settings, load_settings
from geo.store.db import make_engine
from webmap.context import install
from webmap.params import MAX_ID


#: the response types of map documents and assets sent compressed when the client accepts it
COMPRESSED_TYPES = ("application/json", "application/javascript", "text/javascript", "text/css", "image/svg+xml")


class CitymapRequest(Request):
    """A request whose JSON body, however it is malformed, is a 400 and never a server error."""

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True):
        try:
            return super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError as exc:
            # the json module's parser recurses per nesting level; a body nested deeper than Python's limit
            raise ValidationError("the JSON body is nested too deeply (JSON 嵌套层数过多)") from exc


class IdConverter(IntegerConverter):
    """``<int:…>`` in a path: an id a database integer (64 bits) holds, so a longer one is a 404, not an overflow."""

    def __init__(self, url_map, fixed_digits: int = 0, min: int | None = None, max: int | None = None,  # noqa: A002
                 signed: bool = False):
        super().__init__(url_map, fixed_digits=fixed_digits, min=min, max=MAX_ID if max is None else max,
                         signed=signed)


def create_app(config: Mapping[str, object] | Settings | None = None) -> Flask:
    """Build the app; nothing is read from the environment until this is called.

    Parameters
    ----------
    config : Settings or mapping, optional
        A ready :class:`~geo.settings.Settings`, or overrides for
        :func:`~geo.settings.load_settings`.
    """
    settings = config if isinstance(config, Settings) else load_settings(config)
    app = Flask(__name__)
    app.request_class = CitymapRequest
    app.url_map.converters["int"] = IdConverter
    # A missing value (None, from webmap.rows) shows as an empty cell, never as "None".
    app.jinja_options = {**app.jinja_options, "finalize": _blank_none}
    app.config["SECRET_KEY"] = settings.secret_key
    app.config["JSON_AS_ASCII"] = False
    install(app, settings, make_engine(
        settings.resolved_database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        postgis_parallel_workers=settings.postgis_parallel_workers,
    ))
    if settings.trusted_proxies:
        # the client's address and scheme from that many proxies' X-Forwarded-For / -Proto (never without the setting)
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies)

    from webmap import api, pages, vendor

    app.register_blueprint(pages.bp)
    app.register_blueprint(pages.citizen.track_bp)
    app.register_blueprint(api.bp, url_prefix="/api")
    app.register_blueprint(vendor.bp, url_prefix="/vendor")
    from webmap import ogcapi, open311, openapi

    app.register_blueprint(openapi.bp)
    app.register_blueprint(open311.bp, url_prefix="/open311/v2")
    app.register_blueprint(ogcapi.bp, url_prefix="/ogcapi")
    # People: login, sessions, roles per route, CSRF, security headers (webmap.auth); the pages' two languages.
    from webmap import auth, i18n
    from webmap.map_views import wants_json_errors

    auth.init_app(app)
    i18n.init_app(app)
    # Map documents (the overview's is ~1 MB raw), scripts and styles go compressed. Pages and the APIs do not:
    # a page carries the session's CSRF token next to text a request can put there (BREACH), and API clients
    # ask for what they read.
    app.config.update(COMPRESS_MIMETYPES=list(COMPRESSED_TYPES), COMPRESS_REGISTER=False)
    compress = Compress(app)

    @app.after_request
    def _compress(response):
        if wants_json_errors() or request.blueprint == "vendor" or request.endpoint == "static":
            return compress.after_request(response)
        return response

    @app.get("/favicon.ico")
    def _favicon():
        return "", 204

    # The standard APIs format their own errors (their blueprints' handlers); the rest of the
    # machine-facing paths answer JSON, the pages an HTML page.
    api_errors = {"/open311/": open311.render_error, "/ogcapi/": ogcapi.render_error}

    @app.errorhandler(CitymapError)
    def _citymap_error(err: CitymapError):
        for prefix, render in api_errors.items():
            if request.path.startswith(prefix):
                return render(err)
        if request.path.startswith("/api/") or wants_json_errors():
            return jsonify({"error": err.message, "status": err.status}), err.status
        return render_template("error.html", message=err.message, status=err.status), err.status

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        """Routing errors (no such path, wrong method) on the APIs answer in the API's own format."""
        if err.code is None or err.code < 400 or not request.path.startswith(("/api/", *api_errors)):
            return err
        if err.code == 404:
            message = f"no such resource: {request.path}"
        elif isinstance(err, MethodNotAllowed):
            message = f"{request.method} is not allowed on {request.path}; allowed: {', '.join(err.valid_methods or [])}"
        else:
            message = err.description or err.name
        response = app.make_response(_citymap_error(CitymapError(message, status=err.code)))
        if isinstance(err, MethodNotAllowed) and err.valid_methods:
            response.headers["Allow"] = ", ".join(err.valid_methods)
        return response

    return app


def _blank_none(value: object) -> object:
    return "" if value is None else value
