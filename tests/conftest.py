"""Shared fixtures: the repository's paths and a database engine on each back end.

``db_engine`` is parametrised over SpatiaLite and PostGIS: every storage test runs
on both. The PostGIS cluster is a throwaway one (scripts/pg_throwaway.py) started
once per session; under ``CI=true`` a missing PostGIS fails the run instead of
skipping.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from geo.store.db import init_db, make_engine

ROOT = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() == "true"

_spec = importlib.util.spec_from_file_location("pg_throwaway", ROOT / "scripts" / "pg_throwaway.py")
pg_throwaway = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pg_throwaway)
sys.modules.setdefault("pg_throwaway", pg_throwaway)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


def _throwaway_postgis():
    """Start a throwaway PostGIS cluster whose template1 has PostGIS; yield its URL; stop it."""
    base = Path(tempfile.mkdtemp(prefix="citymap-pg-"))
    try:
        url = pg_throwaway.start(base)
    except Exception as exc:  # noqa: BLE001 - any failure to start is reported the same way
        pg_throwaway.stop(base)
        if IN_CI:
            pytest.fail(f"PostGIS is required under CI=true but could not start: {exc}")
        pytest.skip(f"PostGIS not available: {exc}")
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    admin.dispose()
    admin = create_engine(url.rsplit("/", 1)[0] + "/template1", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    admin.dispose()
    yield url
    pg_throwaway.stop(base)


@pytest.fixture(scope="session")
def postgis_server():
    """URL of a running throwaway PostGIS cluster whose template1 has PostGIS."""
    yield from _throwaway_postgis()


@pytest.fixture(scope="session")
def postgis_second_server():
    """URL of a second throwaway PostGIS cluster: another machine's node (tests/test_partitioned_store.py)."""
    yield from _throwaway_postgis()


_db_numbers = itertools.count(1)


def new_postgis_database(server_url: str) -> str:
    """The URL of a fresh, empty database (with PostGIS) made on the throwaway cluster at ``server_url``."""
    name = f"citymap_test_{next(_db_numbers)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return server_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def postgis_url(postgis_server) -> str:
    """A fresh, empty database (with PostGIS) on the throwaway cluster."""
    return new_postgis_database(postgis_server)


@pytest.fixture
def spatialite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'citymap.sqlite'}"


@pytest.fixture(params=["spatialite", "postgis"])
def db_url(request) -> str:
    """A database URL on each back end in turn."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def db_engine(db_url):
    """An engine on a freshly migrated, empty database, on each back end in turn."""
    engine = make_engine(db_url)
    init_db(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory):
    """Settings of a SpatiaLite database holding the whole Jinqiao sample (layers, issues, greening, inspections)."""
    from geo.sample.load import load_sample
    from geo.settings import load_settings

    data_dir = tmp_path_factory.mktemp("sample-db")
    settings = load_settings({"data_dir": str(data_dir)}, environ={})
    engine = make_engine(settings.resolved_database_url)
    load_sample(engine, settings, actor="test")
    create_test_users(engine, settings.jurisdiction_code)
    engine.dispose()
    return settings


#: the users every sample database has (see create_test_users): name → (role, department); password TEST_PASSWORD
TEST_USERS = {
    "supervisor": ("supervisor", None),
    "dispatcher": ("dispatcher", None),
    "sanitation": ("department", "sanitation"),
    "construction": ("department", "construction"),
    "citizen": ("public", None),
    "admin": ("admin", None),
}
TEST_PASSWORD = "test-password-1"


def create_test_users(engine, jurisdiction_code: str) -> None:
    """One user per role (two department users: sanitation and construction), all with TEST_PASSWORD."""
    from datetime import datetime

    from geo import store
    from geo.loop import users

    password_hash = users.hash_password(TEST_PASSWORD)
    for name, (role, department) in TEST_USERS.items():
        store.create_user(engine, name=name, password_hash=password_hash, role=role, department_code=department,
                          jurisdiction_code=jurisdiction_code, now=datetime(2025, 1, 1))


def create_test_keys(engine, jurisdiction_code: str) -> dict[str, str]:
    """An API key per TEST_USERS user (key → that user) and ``"keyless"``, a key without a user; name → key."""
    from geo import store

    keys = {name: store.create_api_key(engine, f"test-{name}", jurisdiction_code=jurisdiction_code, user=name)
            for name in TEST_USERS}
    keys["keyless"] = store.create_api_key(engine, "test-keyless", jurisdiction_code=jurisdiction_code)
    return keys


@pytest.fixture(scope="session")
def api_keys(sample_db) -> dict[str, str]:
    """:func:`create_test_keys` in the sample database (and so in every :func:`sample_copy`)."""
    engine = make_engine(sample_db.resolved_database_url)
    keys = create_test_keys(engine, sample_db.jurisdiction_code)
    engine.dispose()
    return keys


@pytest.fixture(scope="session")
def login():
    """``login(client, name)``: log a Flask test client in as a TEST_USERS user; returns its CSRF token."""
    def run(client, name: str = "supervisor") -> str:
        answer = client.post("/login", json={"name": name, "password": TEST_PASSWORD})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return answer.get_json()["csrf_token"]

    return run


@pytest.fixture(scope="session")
def browser_login():
    """``browser_login(page, base_url, name)``: log a Playwright page in through the login form."""
    def run(page, base_url: str, name: str = "supervisor") -> None:
        page.goto(f"{base_url}/login", wait_until="domcontentloaded")
        page.fill("#login-name", name)
        page.fill("#login-password", TEST_PASSWORD)
        page.click("#login-button")
        page.wait_for_load_state("domcontentloaded")
        assert "/login" not in page.url, page.url

    return run


@pytest.fixture(scope="session")
def live_server(sample_db):
    """The app on the sample database, served over HTTP on 127.0.0.1 in a thread."""
    yield from _serve_in_thread(sample_db)


def _serve_in_thread(settings):
    """Serve the app on ``settings`` over HTTP on 127.0.0.1 in a thread; yields its URL."""
    import threading

    from werkzeug.serving import make_server

    from webmap.app import create_app

    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def sample_copy(sample_db, api_keys, tmp_path_factory):
    """Settings of a private copy of the sample database (with :func:`api_keys`), for the tests of one module
    that write to it."""
    import sqlite3
    from dataclasses import replace

    data_dir = tmp_path_factory.mktemp("sample-copy")
    source = sqlite3.connect(sample_db.resolved_database_url.split("///", 1)[1])
    target = sqlite3.connect(data_dir / "citymap.sqlite")
    source.backup(target)
    source.close()
    target.close()
    return replace(sample_db, data_dir=data_dir)


@pytest.fixture(scope="module")
def sample_engine(sample_db):
    """An engine on the session's sample database (for reading; a test that writes takes :func:`copy_engine`)."""
    engine = make_engine(sample_db.resolved_database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def copy_engine(sample_copy):
    """An engine on :func:`sample_copy`."""
    engine = make_engine(sample_copy.resolved_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def as_user(app, login):
    """``as_user(name)``: a fresh test client of the module's ``app`` logged in as that test user, with its CSRF
    token as ``.csrf``."""
    def run(name):
        client = app.test_client()
        client.csrf = login(client, name)
        return client

    return run


@pytest.fixture(scope="module")
def copy_server(sample_copy):
    """The app on :func:`sample_copy`, served over HTTP on 127.0.0.1 in a thread."""
    yield from _serve_in_thread(sample_copy)


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is required under CI=true")
        pytest.skip(f"{CHROMIUM} not installed")
    with sync_playwright() as p:
        instance = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        yield instance
        instance.close()


@pytest.fixture
def page_watch(browser):
    """A fresh page plus the lists of JS errors and of requests that left 127.0.0.1."""
    from urllib.parse import urlparse

    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    outside: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("request", lambda req: outside.append(req.url)
            if urlparse(req.url).hostname not in {"127.0.0.1", None} and not req.url.startswith(("data:", "about:"))
            else None)
    yield page, errors, outside
    context.close()


def map_document(client, url: str) -> dict:
    """The map document behind the map page ``url`` (``/maps/x?q`` → ``/maps/x/data?q``), which must answer 200."""
    path, _, query = url.partition("?")
    answer = client.get(f"{path}/data" + (f"?{query}" if query else ""))
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    assert answer.mimetype == "application/json"
    return answer.get_json()


def map_layer(document: dict, name: str) -> dict:
    """The layer of a map document whose name starts with ``name``."""
    return next(layer for layer in document["layers"] if (layer["name"] or "").startswith(name))


#: what a map page drew (webmap/static/maps.js): per layer its name, kind, features and the issues its clusters hold
DRAWN_LAYERS = """async () => {
  for (let i = 0; i < 100 && document.body.getAttribute('data-map-drawn') === null; i++) {
    await new Promise(r => setTimeout(r, 100));
  }
  return {state: document.body.getAttribute('data-map-drawn'), layers: citymapMap.drawn.map(d => ({
    name: d.name, kind: d.kind, features: d.features,
    issues: d.kind === 'cluster' ? d.layer.getLayers().reduce((n, m) => n + (m.options.issues || 1), 0)
            : (d.kind === 'live' ? (d.issues === undefined ? null : d.issues) : null),
  }))};
}"""

#: the live layers of a drawn map (webmap/static/maps.js) once each one on the map has its answer, after the
#: map was moved to the bounds given ([[south, west], [north, east]]; none: where it is)
LIVE_LAYERS = """async (bounds) => {
  for (let i = 0; i < 100 && document.body.getAttribute('data-map-drawn') === null; i++) {
    await new Promise(r => setTimeout(r, 100));
  }
  if (bounds) citymapMap.map.fitBounds(bounds, {animate: false});
  for (let i = 0; i < 150; i++) {
    if (!citymapMap.drawn.some(d => d.kind === 'live' && d.layer._map && !d.loaded)) break;
    await new Promise(r => setTimeout(r, 100));
  }
  return citymapMap.drawn.filter(d => d.kind === 'live').map(d => ({
    name: d.name, shown: Boolean(d.layer._map), loaded: Boolean(d.loaded), features: d.features,
    markers: d.layer.getLayers().length, issues: d.issues === undefined ? null : d.issues,
    clustered: d.clustered === undefined ? null : d.clustered, error: d.error || null,
  }));
}"""


#: the popup texts of every drawn feature whose ``href`` property is the argument: GeoJSON features are
#: clicked, so Leaflet renders the popup as it would for a person; clustered markers may be off the map,
#: so their popup content is rendered without opening it
ISSUE_POPUP_TEXTS = """async (href) => {
  for (let i = 0; i < 100 && document.body.getAttribute('data-map-drawn') === null; i++) {
    await new Promise(r => setTimeout(r, 100));
  }
  const out = [];
  citymapMap.drawn.forEach(d => {
    if (!d.layer.getLayers) return;
    d.layer.getLayers().filter(m => m.feature && m.feature.properties.href === href && m.getPopup()).forEach(m => {
      if (d.kind === 'cluster') {
        const content = m.getPopup()._content;
        out.push((typeof content === 'function' ? content(m) : content).textContent);
      } else {
        m.fire('click', {latlng: m.getLatLng ? m.getLatLng() : m.getBounds().getCenter()}, true);
        out.push(document.querySelector('.leaflet-popup-content').innerText);
      }
    });
  });
  return out;
}"""


def tiny_image(image_format: str = "PNG", size: tuple[int, int] = (4, 3)) -> bytes:
    """A real image file of a few pixels (``image_format``: a Pillow format name such as PNG, JPEG, WEBP)."""
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, format=image_format)
    return out.getvalue()


def schema_differences(conn) -> list:
    """Alembic's differences between the models and a migrated database, less what SQLite keeps on purpose.

    SQLite keeps the rowid keys of the distributed tables (``geo.store.distribution``): a foreign key,
    unique constraint or unique index the models declare with ``jurisdiction_code`` is there without it,
    which is stronger. Such pairs, and the wider keys alone, are left out on SQLite.
    """
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from geo.store.distribution import DISTRIBUTED_TABLES
    from geo.store.models import Base

    diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    if conn.dialect.name != "sqlite":
        return diff

    def key(entry):
        kind, item = entry[0], entry[1]
        if kind.endswith("_table") or not hasattr(item, "columns") or getattr(item, "table", None) is None:
            return None
        table = item.table.name
        if table not in DISTRIBUTED_TABLES:
            return None
        names = tuple(c.name for c in item.columns if c.name != "jurisdiction_code")
        return kind.split("_", 1)[1], table, names, any(c.name == "jurisdiction_code" for c in item.columns)

    widened = {k[:3] for entry in diff if (k := key(entry)) and entry[0].startswith("add_") and k[3]}
    return [entry for entry in diff if not ((k := key(entry)) and k[:3] in widened)]


def migrate_to(engine, revision: str, *, down: bool = True) -> None:
    """Run Alembic's downgrade (or, with ``down=False``, upgrade) of ``engine`` to ``revision``."""
    from alembic import command
    from alembic.config import Config

    from geo.store.db import MIGRATIONS_DIR, migration_tx

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with migration_tx(engine) as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)
