"""Logging in and out, who may open what, CSRF, the login throttle and the security headers.

* **Sessions** are server-side: logging in stores a row in ``user_sessions`` keyed by
  the SHA-256 of a random token; the signed Flask cookie carries the token. Logout
  deletes the row, so a copied cookie is worthless afterwards.
* **Access**: every view of the guarded blueprints (:data:`GUARDED_BLUEPRINTS`) needs
  a login, and the user's role must be listed for its endpoint in :data:`ACCESS`
  (an endpoint missing there is open to supervisors and admins only). Which issues a
  role reads is :func:`geo.loop.users.may_see`; views filter with :func:`department_reach` and
  check single issues with :func:`visible_issue`.
* **API keys**: the standard APIs (Open311, OGC API) are used by the logged-in user or,
  without a login, by the user of the API key the request carries (:func:`api_key_user`:
  the ``X-API-Key`` header or the ``api_key`` parameter); the same :func:`department_reach`
  decides which issues they read.
* **CSRF**: every POST of a guarded blueprint or of this one carries the session's
  token, as the form field ``csrf_token`` or the ``X-CSRF-Token`` header (a JSON login
  is exempt: browsers cannot send ``application/json`` across sites without CORS).
* **Login throttle**: a growing wait, never a lock, counted per client address and per
  typed user name (:func:`geo.store.reserve_login_attempt`, the delays of
  :func:`geo.loop.users.login_delay_s`): an attempt either of them must wait for answers 429
  with ``Retry-After``. The counters are database rows changed in one transaction per
  attempt, so concurrent guesses and several worker processes are slowed down alike;
  a name's wait is capped low (``login_name_delay_cap_s``) because anybody can run it up,
  and its user's good login resets it. Spraying one guess over many names meets the
  address's counter; IPv6 addresses count per /64, the block one machine usually holds.
  Behind a reverse proxy set ``trusted_proxies`` so the address is the client's.
* **Headers**: ``X-Content-Type-Options``, ``Referrer-Policy``, ``X-Frame-Options``,
  ``Permissions-Policy``, and a Content-Security-Policy whose ``script-src`` is ``'self'``
  plus the hashes of the inline scripts that code declared its own
  (:func:`trust_inline_scripts`: the map pages) — no ``'unsafe-inline'``, and never a
  hash of whatever a page holds.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
import re
import secrets
from datetime import timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from geo import store
from geo.clock import local_now
from geo.errors import (
    AuthenticationError,
    CitymapError,
    ForbiddenError,
    NotFoundError,
    TooManyAttempts,
    ValidationError,
)
from geo.issue_filter import IssueFilter
from geo.loop import users
from geo.settings import Settings
from webmap.context import engine_of, settings_of
from webmap.openapi import components

bp = Blueprint("auth", __name__)

#: blueprints whose every view needs a login and a role of ACCESS
GUARDED_BLUEPRINTS = ("pages", "api")
#: roles that read every issue, and every role (geo/data/roles.csv)
ALL_SEEING = users.roles_that_see("all")
EVERYONE = users.role_names()
#: endpoint → roles that may open it (the pages and APIs that list or show issues filter them further)
ACCESS: dict[str, tuple[str, ...]] = {
    "pages.index": EVERYONE,
    "pages.overview": ALL_SEEING,
    "pages.overview_data": ALL_SEEING,
    "pages.overview_points": ALL_SEEING,
    "pages.greening": ALL_SEEING,
    "pages.greening_map": ALL_SEEING,
    "pages.greening_map_data": ALL_SEEING,
    "pages.greening_map_points": ALL_SEEING,
    # a department plans the routes of its own contractor zones only (webmap.pages.routes)
    "pages.routes": (*ALL_SEEING, "department"),
    "pages.routes_map_page": (*ALL_SEEING, "department"),
    "pages.routes_map_page_data": (*ALL_SEEING, "department"),
    "pages.routes_gpx_download": (*ALL_SEEING, "department"),
    # inspection tracks are personal information: supervisors only (PIPL)
    "pages.coverage": ("supervisor",),
    "pages.coverage_map_page": ("supervisor",),
    "pages.coverage_map_page_data": ("supervisor",),
    "pages.coverage_map_page_points": ("supervisor",),
    "pages.league": ALL_SEEING,
    "pages.plan_tasks": ALL_SEEING,
    "pages.weekly_report": ALL_SEEING,
    "pages.hotspots": ALL_SEEING,
    "pages.hotspots_map_page": ALL_SEEING,
    "pages.hotspots_map_page_data": ALL_SEEING,
    "pages.hotspots_map_page_points": ALL_SEEING,
    "pages.emerging": ALL_SEEING,
    "pages.emerging_map_page": ALL_SEEING,
    "pages.emerging_map_page_data": ALL_SEEING,
    "pages.issue_list": (*ALL_SEEING, "department"),
    "pages.issues_map": (*ALL_SEEING, "department"),
    "pages.issues_map_data": (*ALL_SEEING, "department"),
    "pages.issues_map_points": (*ALL_SEEING, "department"),
    "pages.issue_page": (*ALL_SEEING, "department"),
    "pages.issue_map": (*ALL_SEEING, "department"),
    "pages.issue_map_data": (*ALL_SEEING, "department"),
    "pages.issue_transition": ("dispatcher", "department"),
    "pages.reveal_phone": ("dispatcher",),
    "pages.photo": (*ALL_SEEING, "department"),
    "pages.crew_todo": ("department",),
    "pages.crew_issue": ("department",),
    "pages.dispatch_inbox": ALL_SEEING,
    "pages.report_form": EVERYONE,
    "pages.report_submit": EVERYONE,
    "pages.report_done": EVERYONE,
    "pages.my_reports": EVERYONE,
    "pages.my_report": EVERYONE,
    "pages.my_report_photo": EVERYONE,
    "api.issues": (*ALL_SEEING, "department"),
    "api.issue": (*ALL_SEEING, "department"),
    "api.issue_events": (*ALL_SEEING, "department"),
    "api.create_issue": EVERYONE,
    "api.transition": ("dispatcher", "department"),
    "api.upload_photo": ("dispatcher", "department"),
    "api.layer": EVERYONE,
    "api.accountability": ALL_SEEING,
    "api.greening_progress": ALL_SEEING,
    "api.me": EVERYONE,
}
DEFAULT_ROLES = ("supervisor", "admin")
#: OpenAPI security requirements of the standard APIs' issue routes: any one of a key or a login
API_KEY_SECURITY = [{"apiKeyHeader": []}, {"apiKeyQuery": []}, {"sessionCookie": []}]
components(security_schemes={
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                     "description": "an API key (citymap api-key create NAME --user USER); it acts as its user"},
    "apiKeyQuery": {"type": "apiKey", "in": "query", "name": "api_key",
                    "description": "the same API key as a query parameter (Open311 also takes it in a form)"},
    "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "session", "description": "a login (POST /login)"},
})
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# A dummy hash checked when the name is unknown, so the answer takes as long as for a real user.
_DUMMY_HASH = "scrypt:32768:8:1$dummysaltdummysa$" + "0" * 128


class CsrfError(CitymapError):
    """A form or API write without the session's CSRF token."""

    status = 400


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def current_user() -> dict | None:
    """The logged-in user (``id``, ``name``, ``role``, ``department_code`` …) or None."""
    return g.get("user")


def _client_ip() -> str:
    # the client's address: behind a reverse proxy, ProxyFix (the trusted_proxies setting) has put it here
    return (request.remote_addr or "unknown")[:45]


def throttle_key(ip: str) -> str:
    """The login throttle's key of a client address: an IPv4 address, or the /64 block of an IPv6 one."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.ip_network(f"{address}/64", strict=False))


def csrf_token() -> str:
    """The session's CSRF token (made on first use); forms put it in ``csrf_token``."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _check_csrf() -> None:
    if request.method in _SAFE_METHODS:
        return
    if request.endpoint == "auth.login" and request.mimetype == "application/json":
        return
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfError("表单已过期或缺少 CSRF 令牌，请刷新页面后重试 (CSRF token missing or wrong)")


def _load_user() -> None:
    g.user = None
    token = session.get("sid")
    if isinstance(token, str) and token:
        g.user = store.session_user(engine_of(current_app), _digest(token), now=local_now())
        if g.user is None:
            session.pop("sid", None)


def _guard():
    if request.blueprint == "auth":
        _check_csrf()
        return None
    if request.blueprint not in GUARDED_BLUEPRINTS or request.endpoint is None:
        return None
    user = current_user()
    if user is None:
        if request.blueprint == "api":
            return jsonify({"error": "请先登录 (login required)", "status": 401}), 401
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    _check_csrf()
    allowed = ACCESS.get(request.endpoint, DEFAULT_ROLES)
    if user["role"] not in allowed:
        role = users.load_roles().loc[user["role"]]
        raise ForbiddenError(f"“{role['name']}”无权访问此页面 (a {role['name_en']} may not use {request.endpoint})")
    return None


def api_key_user() -> dict | None:
    """The user the request's API key acts as (:func:`geo.store.api_key_user`), or None when it sends no key.

    The key is the ``X-API-Key`` header or the ``api_key`` parameter (query string or
    form, as Open311 clients send it).

    Raises
    ------
    geo.errors.ForbiddenError
        A key that is not one of ours (or whose user was deactivated).
    """
    key = request.headers.get("X-API-Key") or request.values.get("api_key")
    if not key:
        return None
    user = store.api_key_user(engine_of(current_app), key, jurisdiction_code=settings_of(current_app).jurisdiction_code)
    if user is None:
        raise ForbiddenError("API key 无效 (invalid api_key)")
    g.api_key_user = user
    return user


def api_caller() -> dict | None:
    """Who makes a request of the standard APIs: the logged-in user, else the API key's user (None: nobody)."""
    return current_user() or api_key_user()


def api_department_reach(*, nobody: CitymapError) -> list[str] | None:
    """:func:`department_reach` of the standard APIs' caller (:func:`api_caller`); ``nobody`` is raised without one.

    Each API answers a missing caller its own way (Open311 403, OGC API 401).
    """
    user = api_caller()
    if user is None:
        raise nobody
    return department_reach(user)


def department_reach(user: dict | None = None) -> list[str] | None:
    """The department codes whose issues ``user`` (default: the logged-in user) reads, or None for every issue.

    A role that reads no issue, and nobody at all, get an empty list (no issue matches it).
    """
    user = current_user() if user is None else user
    if user is None:
        return []
    seen = users.scope(user["role"])
    if seen == "all":
        return None
    if seen == "none" or not user["department_code"]:
        return []
    settings = settings_of(current_app)
    communities = store.read_layer(engine_of(current_app), "communities", jurisdiction_code=settings.jurisdiction_code)
    return users.owned_departments(user["department_code"], community_codes=communities["code"].tolist())


def visible_issue(issue_id: int, *, columns: tuple[str, ...] | None = None):
    """One issue (a one-row GeoDataFrame) the current user may read; NotFoundError otherwise.

    An issue of another department is answered exactly like a missing one.
    """
    settings = settings_of(current_app)
    kwargs = {"columns": columns} if columns else {}
    # an id beyond SQL's 64-bit integers cannot exist, and SQLite refuses to even compare with one
    frame = store.query_issues(engine_of(current_app), jurisdiction_code=settings.jurisdiction_code,
                               where=IssueFilter(ids=[issue_id]), **kwargs) if issue_id < 2**63 else None
    user = current_user()
    if frame is None or frame.empty or not users.may_see(user["role"], user["department_code"],
                                                         frame.iloc[0]["department_code"]):
        raise NotFoundError(f"问题 #{issue_id} 不存在或无权查看 (issue {issue_id} not found)")
    return frame


def _safe_next(target: str | None) -> str:
    """A local path to go to after logging in (never another site: no scheme, no host, no ``//``)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("pages.index")
    parts = urlsplit(target)
    return url_for("pages.index") if parts.scheme or parts.netloc else target


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in: the form (GET), or name and password as a form or JSON (POST)."""
    engine, settings = engine_of(current_app), settings_of(current_app)
    if request.method == "GET":
        return render_template("login.html", next=_safe_next(request.args.get("next")), error=None)
    data = request.get_json(silent=True) if request.mimetype == "application/json" else request.form
    if not isinstance(data, dict) and not hasattr(data, "get"):
        raise ValidationError("send name and password as a form or a JSON object")
    name = str(data.get("name") or "").strip()[:60]
    password = str(data.get("password") or "")
    now = local_now()
    ip = _client_ip()
    caps = {"ip": settings.login_ip_delay_cap_s, "name": settings.login_name_delay_cap_s}
    attempt = store.reserve_login_attempt(
        engine, ip=throttle_key(ip), name=name, now=now, forget_before=now - timedelta(minutes=settings.login_forget_min),
        delay_s=lambda scope, failures: users.login_delay_s(failures, free_failures=settings.login_free_failures,
                                                            cap_s=caps[scope]))
    if attempt.wait_s > 0:
        wait = math.ceil(attempt.wait_s)
        return _login_refused(TooManyAttempts(
            f"登录失败次数过多，请 {wait} 秒后再试 (too many failed logins; try again in {wait} s)",
            retry_after_s=wait), data)
    user = store.read_login(engine, name, jurisdiction_code=settings.jurisdiction_code) if name else None
    good = users.check_password(user["password_hash"] if user else _DUMMY_HASH, password) and user is not None
    if not good:
        # the attempt was counted as a failure when it was let through
        return _login_refused(AuthenticationError("用户名或密码错误 (wrong user name or password)"), data)
    store.login_succeeded(engine, attempt)
    token = secrets.token_urlsafe(32)
    store.create_session(engine, token_sha256=_digest(token), user_id=user["id"], now=now,
                         expires_at=now + timedelta(hours=settings.session_hours), ip=ip)
    # A fresh cookie (new token, new CSRF token): nothing from before the login carries over.
    session.clear()
    session["sid"] = token
    if request.mimetype == "application/json":
        return jsonify({"name": user["name"], "role": user["role"], "department_code": user["department_code"],
                        "csrf_token": csrf_token()})
    return redirect(_safe_next(data.get("next")))


def _login_refused(err: CitymapError, data):
    """A refused login: JSON for a JSON login, else the form again with the message; the error's status."""
    if request.mimetype == "application/json":
        return jsonify({"error": err.message, "status": err.status}), err.status, err.headers
    return (render_template("login.html", next=_safe_next(data.get("next")), error=err.message, status=err.status),
            err.status, err.headers)


@bp.post("/logout")
def logout():
    """Log out: the server forgets the session, so its cookie no longer works anywhere."""
    token = session.get("sid")
    if isinstance(token, str) and token:
        store.delete_session(engine_of(current_app), _digest(token))
    session.clear()
    if request.accept_mimetypes.best == "application/json":
        return jsonify({"logged_out": True})
    return redirect(url_for("auth.login"))


# --------------------------------------------------------------------------- security headers

def trust_inline_scripts(hashes: tuple[str, ...]) -> None:
    """Let this response run the inline scripts with these CSP hashes (``'sha256-…'``).

    Only code that wrote the scripts itself calls this (the map pages,
    :mod:`webmap.maps.shell`): a hash is never taken of whatever a finished page
    happens to hold, so a script that user text smuggled into a page does not run.
    """
    g.csp_script_hashes = (*g.get("csp_script_hashes", ()), *hashes)


#: where each basemap's tiles come from when no ``tile_url`` names a server (see webmap.maps.base.new_map)
_TILE_HOSTS = {"tianditu": "https://t0.tianditu.gov.cn", "osm": "https://tile.openstreetmap.org",
               "amap": "https://*.is.autonavi.com"}


@lru_cache(maxsize=8)
def tile_sources(settings: Settings) -> tuple[str, ...]:
    """The origin basemap tiles come from under ``settings`` (for ``img-src``); none without a basemap."""
    if settings.basemap in ("local", "amap") and settings.tile_url:
        parts = urlsplit(settings.tile_url)
        # a template's {s} subdomain becomes CSP's leading wildcard
        return (f"{parts.scheme}://{re.sub(r'^[^.]*[{]s[}][^.]*[.]', '*.', parts.netloc)}",) if parts.netloc else ()
    return (_TILE_HOSTS[settings.basemap],) if settings.basemap in _TILE_HOSTS else ()


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    headers.setdefault("Permissions-Policy", "geolocation=(self), camera=(), microphone=()")
    # what a login or a key reads depends on who asks: no shared cache may keep it
    if (current_user() is not None or g.get("api_key_user") is not None) and request.blueprint not in ("vendor", None):
        # an answer with an ETag (a map) may be kept by the user's own browser and asked for again (304);
        # never by a shared cache
        headers["Cache-Control"] = "private, no-cache" if response.get_etag()[0] else "private, no-store"
    if response.mimetype == "text/html" and not response.direct_passthrough:
        scripts = " ".join(["'self'", *g.get("csp_script_hashes", ())])
        images = " ".join(["'self'", "data:", "blob:", *tile_sources(settings_of(current_app))])
        headers["Content-Security-Policy"] = (
            f"default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; img-src {images}; "
            "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
            "frame-src 'self'; frame-ancestors 'self'")
    else:
        headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'self'")
    return response


def init_app(app: Flask) -> None:
    """Register the blueprint, the session loading, the guard and the headers on ``app``."""
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=settings_of(app).session_cookie_secure,
                      MAX_CONTENT_LENGTH=_max_request_bytes(settings_of(app)))
    app.register_blueprint(bp)
    app.before_request(_load_user)
    app.before_request(_guard)
    app.after_request(_security_headers)
    app.jinja_env.globals.update(csrf_token=csrf_token, current_user=current_user)

    @app.errorhandler(413)
    def _too_large(_err):
        message = (f"上传内容过大：每张照片不超过 {settings_of(app).max_photo_mb:g} MB，"
                   f"最多 {settings_of(app).max_photos} 张 (upload too large)")
        if request.path.startswith("/api/"):
            return jsonify({"error": message, "status": 413}), 413
        return render_template("error.html", message=message, status=413), 413


def _max_request_bytes(settings: Settings) -> int:
    """The largest request body: every photo at its limit plus 1 MB of form fields."""
    return int((settings.max_photos * settings.max_photo_mb + 1) * 1_000_000)
