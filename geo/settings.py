"""Typed settings: defaults, then an optional TOML file, then ``CITYMAP_*`` variables.

Nothing is read at import time: call :func:`load_settings` (``create_app`` and the
CLI do) so tests can build as many differently configured apps as they like.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from datetime import time
from pathlib import Path
from typing import Mapping

from geo.errors import ConfigError

BASEMAPS = ("none", "local", "tianditu", "amap", "osm")
#: the secret key of a development checkout: known to everybody, so never for a server others can reach
DEV_SECRET_KEY = "dev-only-change-me"
#: settings that are counts or durations
NON_NEGATIVE = ("login_free_failures", "login_name_delay_cap_s", "login_ip_delay_cap_s", "login_forget_min",
                "trusted_proxies", "due_soon_h", "notify_lookback_h", "notify_retry_base_s", "notify_retry_cap_s",
                "notify_timeout_s")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class Settings:
    """Everything an operator can change.

    Attributes
    ----------
    database_url : str
        SQLAlchemy URL. Empty means the embedded SpatiaLite file
        ``<data_dir>/citymap.sqlite``; ``postgresql+psycopg://…`` selects PostGIS.
    data_dir : Path
        Where the embedded database and uploads live.
    sample_dir : Path
        The reference layers and sample issues loaded by ``load-sample``.
    jurisdiction_code : str
        The sub-district (9-digit code) pages and imports work on by default.
    metric_crs : str
        CRS for lengths, areas and distances (metres).
    snap_max_dist_m : float
        An issue farther than this from every road segment gets no segment.
    day_cutoff : datetime.time
        Garbage reported after this local time counts for the next day (日产日清).
    basemap : str
        One of ``none``, ``local``, ``tianditu``, ``amap``, ``osm``.
    tile_url : str
        Tile URL template for ``local`` basemaps; ``tianditu_key`` for Tianditu.
    secret_key : str
        Flask session key; set it in production (``citymap serve`` refuses the default
        on any address but the loopback).
    trusted_proxies : int
        How many reverse proxies in front of the app add ``X-Forwarded-For`` and
        ``X-Forwarded-Proto`` (werkzeug's ProxyFix trusts that many hops): the login
        throttle, the sessions and the logs then see the client's address. 0, the
        default, ignores those headers — right when nothing sits in front, since a
        client could otherwise write any address it likes there.
    session_cookie_secure : bool
        Send the login cookie with ``Secure`` (only over HTTPS): turn it on wherever the
        pages are served over HTTPS, directly or by the proxy.
    """

    database_url: str = ""
    data_dir: Path = Path("var")
    sample_dir: Path = Path(__file__).resolve().parents[1] / "data"
    jurisdiction_code: str = "120110900"
    metric_crs: str = "EPSG:4548"
    snap_max_dist_m: float = 30.0
    day_cutoff: time = time(20, 0)
    basemap: str = "none"
    tile_url: str = ""
    tianditu_key: str = ""
    secret_key: str = DEV_SECRET_KEY
    trusted_proxies: int = 0
    session_cookie_secure: bool = False
    sqlite_busy_timeout_ms: int = 30000
    # PostgreSQL's max_parallel_workers_per_gather for citymap's sessions (geo.store.db.make_engine)
    postgis_parallel_workers: int = 0
    # Closed loop and coverage (geo.loop.workflow, geo.loop.coverage): a report of the same category within
    # duplicate_radius_m metres and duplicate_window_h hours of an open issue is offered as its duplicate;
    # inspection tracks (personal information) are kept track_retention_days days; coverage counts what a
    # track passed within coverage_tolerance_m metres of, over the last coverage_days days.
    duplicate_radius_m: float = 20.0
    duplicate_window_h: float = 24.0
    # An unhandled issue whose deadline falls within due_soon_h hours is "due soon" (即将超期) on the
    # dispatcher's inbox and the crews' queue, and is announced as such by the notifications.
    due_soon_h: float = 24.0
    track_retention_days: int = 90
    coverage_tolerance_m: float = 25.0
    coverage_days: int = 7
    # People (webmap.auth): a login lasts session_hours. Failed logins slow down, they never lock: each client
    # address and each user name has login_free_failures failures without a wait, then waits 1 s after the next
    # failure, doubling up to login_ip_delay_cap_s (an address) and login_name_delay_cap_s (a name) seconds;
    # a name's counter starts again at its user's good login, and any counter this many minutes after its last
    # wait ended (login_forget_min). The name's cap is modest on purpose: it is what anybody anywhere can impose
    # on the real user by guessing, so it must stay a nuisance, never a lock. A report carries at most
    # max_photos photos (JPEG, PNG or WebP) of at most max_photo_mb MB each.
    session_hours: float = 12.0
    login_free_failures: int = 3
    login_name_delay_cap_s: float = 30.0
    login_ip_delay_cap_s: float = 60.0
    login_forget_min: float = 60.0
    max_photos: int = 4
    max_photo_mb: float = 5.0
    # Open311 (webmap.open311): with open311_public_read on, GET services, requests, requests/{id} and
    # tokens/{id} answer without a key, with public fields only (the spec's reading, for unmodified clients);
    # off, reading needs a key or a login, as before.
    open311_public_read: bool = False
    # Notifications (geo.loop.notify, `citymap notify run`): each run looks notify_lookback_h hours back
    # for events and deadlines (older ones, such as imported history, are never sent); a failed delivery is tried again after notify_retry_base_s
    # seconds, doubling up to notify_retry_cap_s, until it is delivered; one POST waits notify_timeout_s.
    notify_lookback_h: float = 24.0
    notify_retry_base_s: float = 30.0
    notify_retry_cap_s: float = 3600.0
    notify_timeout_s: float = 10.0
    # Maps (geo.loop.points, webmap.maps.live): a map's layer of issues answers at most map_max_features
    # features for a view: each issue while the view holds that many or fewer, squares of counts beyond.
    map_max_features: int = 2000

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to the SpatiaLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'citymap.sqlite').resolve()}"


def _coerce(name: str, raw: object, kind: type) -> object:
    try:
        if kind is Path:
            return Path(str(raw))
        if kind is time:
            return raw if isinstance(raw, time) else time.fromisoformat(str(raw))
        if kind is float:
            return float(raw)
        if kind is int:
            return int(raw)
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            word = str(raw).strip().lower()
            if word not in (*_TRUE, *_FALSE):
                raise ConfigError(f"setting {name}: {raw!r} is not a yes or no (true/false, 1/0, yes/no, on/off)")
            return word in _TRUE
        return str(raw)
    except ValueError as exc:
        raise ConfigError(f"setting {name}: cannot read {raw!r} as {kind.__name__}") from exc


def load_settings(
    overrides: Mapping[str, object] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build :class:`Settings` from defaults, the config file, the environment and overrides.

    Parameters
    ----------
    overrides : mapping, optional
        Field name → value, applied last (tests and ``create_app(config)`` use it).
    environ : mapping, optional
        Defaults to ``os.environ``. ``CITYMAP_CONFIG`` names a TOML file whose keys
        are field names; ``CITYMAP_<FIELD>`` overrides a single field.
    """
    env = os.environ if environ is None else environ
    types = {f.name: f.type for f in fields(Settings)}
    known_kinds = {"Path": Path, "time": time, "float": float, "int": int, "bool": bool}
    kinds = {name: known_kinds.get(str(t), str) for name, t in types.items()}
    values: dict[str, object] = {}
    config_path = env.get("CITYMAP_CONFIG")
    if config_path:
        path = Path(config_path)
        if not path.is_file():
            raise ConfigError(f"CITYMAP_CONFIG names {config_path!r}, which is not a file")
        with path.open("rb") as fh:
            values.update(tomllib.load(fh))
    for name in types:
        key = f"CITYMAP_{name.upper()}"
        if key in env:
            values[name] = env[key]
    values.update(overrides or {})
    unknown = sorted(set(values) - set(types))
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(types)}")
    settings = replace(Settings(), **{k: _coerce(k, v, kinds[k]) for k, v in values.items()})
    if settings.basemap not in BASEMAPS:
        raise ConfigError(f"basemap {settings.basemap!r} is not one of {', '.join(BASEMAPS)}")
    for name in NON_NEGATIVE:
        if getattr(settings, name) < 0:
            raise ConfigError(f"setting {name} must be 0 or more, got {getattr(settings, name)!r}")
    if settings.map_max_features < 1:
        raise ConfigError(f"setting map_max_features must be 1 or more, got {settings.map_max_features!r}")
    return settings
