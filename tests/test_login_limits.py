"""Logins slow guessers down without locking anybody out (issue 14 item 5).

The store's throttle on SpatiaLite and PostGIS (growing waits per client address and
per user name, atomic under concurrent attempts, a good login resetting the name), and
the login through Flask's test client: 429 with Retry-After, spraying one guess over
many names, a third party's guesses against a real user; the client's address behind a
trusted proxy (and not without one), the Secure cookie; ``citymap serve`` and the secret key;
the password rules and ``citymap user password``.
"""

from __future__ import annotations

import itertools
import os
import re
import threading
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from conftest import TEST_PASSWORD
from sqlalchemy import text

from geo import store
from geo.errors import ConfigError, ValidationError
from geo.loop import users
from geo.settings import load_settings
from geo.store.db import make_engine
from webmap import auth
from webmap.app import create_app
from webmap.cli import main

NOW = datetime(2025, 6, 1, 9, 0, 0)
FREE = 3
CAPS = {"ip": 60.0, "name": 30.0}
FORGET = timedelta(minutes=60)


def _delay(scope: str, failures: int) -> float:
    return users.login_delay_s(failures, free_failures=FREE, cap_s=CAPS[scope])


def _reserve(engine, now: datetime, *, ip: str = "10.0.0.1", name: str = "wang") -> store.LoginAttempt:
    return store.reserve_login_attempt(engine, ip=ip, name=name, now=now, delay_s=_delay, forget_before=now - FORGET)


def _counter(engine, scope: str, key: str) -> tuple[int, datetime] | None:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT failures, next_at FROM login_throttles WHERE scope = :s AND key = :k"),
                           {"s": scope, "k": key}).first()
    if row is None:
        return None
    next_at = row.next_at if isinstance(row.next_at, datetime) else datetime.fromisoformat(row.next_at)
    return row.failures, next_at


# --------------------------------------------------------------------------- the delays

def test_the_delay_is_free_then_doubles_up_to_the_cap():
    assert [users.login_delay_s(n, free_failures=3, cap_s=30) for n in range(1, 12)] == [
        0, 0, 0, 1, 2, 4, 8, 16, 30, 30, 30]
    assert users.login_delay_s(10**6, free_failures=3, cap_s=60) == 60  # no overflow however many
    assert users.login_delay_s(1, free_failures=0, cap_s=60) == 1


# --------------------------------------------------------------------------- the store, on both back ends

def test_failures_grow_the_wait_and_a_refused_attempt_counts_nothing(db_engine):
    now, delays = NOW, []
    for _ in range(8):
        attempt = _reserve(db_engine, now)
        assert attempt.wait_s == 0
        delays.append((attempt.held["name"] - now).total_seconds())
        now = attempt.held["name"]  # the earliest moment the next attempt may start
    # three free failures, then 1 s doubling
    assert delays == [0, 0, 0, 1, 2, 4, 8, 16]
    assert _counter(db_engine, "name", "wang") == (8, now)
    assert _counter(db_engine, "ip", "10.0.0.1") == (8, now)
    # refused attempts changed nothing: still 8 failures, and the wait ends when it did
    for _ in range(5):
        assert _reserve(db_engine, now - timedelta(seconds=3)).wait_s == 3
    assert _counter(db_engine, "name", "wang") == (8, now)
    # the 9th failure waits 30 s (capped), not 32
    assert _reserve(db_engine, now).held == {"ip": now + timedelta(seconds=32), "name": now + timedelta(seconds=30)}


def test_a_clock_set_back_waits_no_longer_than_the_cap(db_engine):
    """Counters written while the clock ran years ahead hold an address or a name for the cap at most."""
    ahead = NOW + timedelta(days=3 * 365)
    for _ in range(FREE + 2):
        _reserve(db_engine, ahead)
    waits = [_reserve(db_engine, NOW).wait_s, _reserve(db_engine, NOW, ip="10.0.0.9").wait_s]
    # the last of those attempts was refused at once (it came before the first wait ended): FREE + 1 counted
    assert waits == [_delay("ip", FREE + 1), _delay("name", FREE + 1)]


def test_either_counter_refuses_and_a_refusal_takes_no_slot_of_the_other(db_engine):
    for i in range(FREE + 1):
        assert _reserve(db_engine, NOW, ip=f"10.0.1.{i}", name="li").wait_s == 0
    # another address, same name: the name waits
    assert _reserve(db_engine, NOW, ip="10.0.2.1", name="li").wait_s == 1
    # that refusal did not count against the fresh address
    assert _counter(db_engine, "ip", "10.0.2.1") == (0, NOW)
    # the same name from that address after the wait goes through
    assert _reserve(db_engine, NOW + timedelta(seconds=1), ip="10.0.2.1", name="li").wait_s == 0


def test_spraying_one_guess_over_many_names_meets_the_address_counter(db_engine):
    now, passed = NOW, []
    for i in range(30):
        attempt = _reserve(db_engine, now, ip="10.9.9.9", name=f"user{i}")
        passed.append(attempt.wait_s == 0)
    # all at once: three free failures and the first delayed one; each name was tried only once
    assert passed == [True] * (FREE + 1) + [False] * (30 - FREE - 1)
    assert _counter(db_engine, "ip", "10.9.9.9") == (FREE + 1, NOW + timedelta(seconds=1))
    assert _counter(db_engine, "name", "user29") == (0, NOW)


def test_a_good_login_resets_the_name_and_gives_the_address_its_attempt_back(db_engine):
    for i in range(6):  # someone guessed wang's password six times
        _reserve(db_engine, NOW + timedelta(minutes=i), ip="10.6.6.6", name="wang")
    assert _counter(db_engine, "name", "wang") == (6, NOW + timedelta(minutes=5, seconds=4))
    real = _reserve(db_engine, NOW + timedelta(minutes=6), ip="10.0.0.7", name="wang")
    assert real.wait_s == 0
    store.login_succeeded(db_engine, real)
    # the real user is not delayed afterwards: no failures, no wait
    assert _counter(db_engine, "name", "wang") == (0, NOW + timedelta(minutes=6))
    again = _reserve(db_engine, NOW + timedelta(minutes=6), ip="10.0.0.7", name="wang")
    assert again.wait_s == 0 and again.held["name"] == NOW + timedelta(minutes=6)
    # the address: the good attempt is not a failure, its slot is free again
    assert _counter(db_engine, "ip", "10.0.0.7")[0] == 1  # only `again` counts
    # a guesser's own good login does not clear its address
    store.login_succeeded(db_engine, _reserve(db_engine, NOW + timedelta(minutes=7), ip="10.6.6.6", name="mine"))
    assert _counter(db_engine, "ip", "10.6.6.6") == (6, NOW + timedelta(minutes=7))


def test_old_counters_are_forgotten(db_engine):
    for i in range(6):
        _reserve(db_engine, NOW + timedelta(minutes=i), name="zhao")
    later = NOW + timedelta(minutes=5) + FORGET + timedelta(seconds=10)
    assert _reserve(db_engine, later, ip="10.0.0.99", name="someone").wait_s == 0
    assert _counter(db_engine, "name", "zhao") is None and _counter(db_engine, "ip", "10.0.0.1") is None
    # the next failure of zhao is free again
    assert _reserve(db_engine, later, name="zhao").held["name"] == later


@pytest.mark.parametrize("failures_before, passing", [(FREE, 1), (0, FREE + 1)])
def test_concurrent_attempts_pass_only_as_the_delays_allow(db_url, failures_before, passing):
    """40 threads try one name at the same moment: exactly one passes a delayed window
    (and no more than the free failures plus one from a fresh counter)."""
    engines = [make_engine(db_url) for _ in range(4)]  # four "processes"
    from geo.store.db import init_db

    init_db(engines[0])
    for i in range(failures_before):
        _reserve(engines[0], NOW - timedelta(minutes=10), ip=f"10.3.0.{i}", name="chen")
    barrier = threading.Barrier(40)
    results: list[float] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        barrier.wait()
        got = _reserve(engines[i % 4], NOW, ip=f"10.4.{i}.1", name="chen").wait_s
        with lock:
            results.append(got)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 40
    assert results.count(0.0) == passing
    assert _counter(engines[0], "name", "chen")[0] == failures_before + passing
    for engine in engines:
        engine.dispose()


# --------------------------------------------------------------------------- the login page

_days = itertools.count()


class Clock:
    """A stand-in for local_now that tests move forward."""

    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    # every test starts on a later day, so no counter of an earlier test is still waiting
    ticking = Clock(datetime(2025, 3, 1, 8, 0) + timedelta(days=2 * next(_days)))
    monkeypatch.setattr(auth, "local_now", ticking)
    return ticking


@pytest.fixture(scope="module")
def app(sample_copy):
    return create_app(sample_copy)


def _post(app, name: str, password: str, *, ip: str):
    return app.test_client().post("/login", json={"name": name, "password": password},
                                  environ_base={"REMOTE_ADDR": ip})


def test_failed_logins_answer_429_with_retry_after_and_a_growing_wait(app, clock):
    codes = [_post(app, "citizen", "wrong-password", ip="10.20.0.1").status_code for _ in range(FREE + 1)]
    assert codes == [401] * (FREE + 1)
    refused = _post(app, "citizen", "wrong-password", ip="10.20.0.1")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    assert refused.get_json()["error"] == "登录失败次数过多，请 1 秒后再试 (too many failed logins; try again in 1 s)"
    clock.advance(1)
    assert _post(app, "citizen", "wrong-password", ip="10.20.0.1").status_code == 401
    assert _post(app, "citizen", "wrong-password", ip="10.20.0.1").headers["Retry-After"] == "2"
    # the login form shows the message on the form again, with the same status and header
    browser = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").get_data(as_text=True)).group(1)
    form = browser.post("/login", data={"name": "citizen", "password": "x", "csrf_token": token},
                        environ_base={"REMOTE_ADDR": "10.20.0.1"})
    assert form.status_code == 429 and form.headers["Retry-After"] == "2" and form.mimetype == "text/html"
    assert "请 2 秒后再试" in form.get_data(as_text=True)


def test_spraying_one_password_over_30_names_from_one_address_is_delayed(app, clock):
    codes = [_post(app, f"name{i}", "Password123!", ip="10.21.0.1").status_code for i in range(30)]
    assert codes == [401] * (FREE + 1) + [429] * (30 - FREE - 1)
    # a minute later, still one guess per (doubling) wait: the sprayer's rate stays capped
    clock.advance(60)
    codes = [_post(app, f"name{i}", "Password123!", ip="10.21.0.1").status_code for i in range(30, 40)]
    assert codes == [401] + [429] * 9


def test_a_third_partys_guesses_do_not_keep_the_real_user_out(app, clock):
    # a guesser, from many addresses, runs the supervisor's counter up as far as it goes
    for i in range(20):
        _post(app, "supervisor", "guess-" + str(i), ip=f"10.22.{i}.1")
        clock.advance(31)
    _post(app, "supervisor", "one-more-guess", ip="10.22.99.1")
    # the real user, from the office, waits at most the name's cap …
    refused = _post(app, "supervisor", TEST_PASSWORD, ip="10.23.0.5")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) <= 30
    clock.advance(int(refused.headers["Retry-After"]))
    # … and is then let in; afterwards the name has no wait at all
    assert _post(app, "supervisor", TEST_PASSWORD, ip="10.23.0.5").status_code == 200
    assert _post(app, "supervisor", "typo-password", ip="10.23.0.5").status_code == 401
    assert _post(app, "supervisor", TEST_PASSWORD, ip="10.23.0.5").status_code == 200


def test_a_good_login_leaves_no_wait_for_the_next_one(app, clock):
    for _ in range(FREE + 2):  # mistyped a few times, waiting out each delay
        _post(app, "dispatcher", "mistyped-password", ip="10.24.0.1")
        clock.advance(2)
    assert _post(app, "dispatcher", TEST_PASSWORD, ip="10.24.0.1").status_code == 200
    # logging in again at once (another browser) is not delayed, nor is a mistype after it
    assert _post(app, "dispatcher", TEST_PASSWORD, ip="10.24.0.1").status_code == 200
    assert _post(app, "dispatcher", "mistyped-password", ip="10.24.0.1").status_code == 401


@pytest.mark.parametrize("ip, key", [("10.1.2.3", "10.1.2.3"), ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
                                     ("::ffff:10.1.2.3", "10.1.2.3"), ("unknown", "unknown")])
def test_ipv6_addresses_count_per_64_block(ip, key):
    assert auth.throttle_key(ip) == key


# --------------------------------------------------------------------------- behind a proxy; the cookie

def _session_ips(engine) -> set[str]:
    """The addresses sessions were made from (other tests' logins too: compare with addresses of one's own)."""
    with engine.connect() as conn:
        return {row[0] for row in conn.execute(text("SELECT ip FROM user_sessions"))}


@pytest.fixture
def engine(sample_copy):
    engine = make_engine(sample_copy.resolved_database_url)
    yield engine
    engine.dispose()


def test_behind_a_trusted_proxy_the_client_address_counts(sample_copy, engine, clock):
    proxied = create_app(replace(sample_copy, trusted_proxies=1))
    answer = proxied.test_client().post("/login", json={"name": "admin", "password": TEST_PASSWORD},
                                        headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
                                        environ_base={"REMOTE_ADDR": "10.40.0.1"})
    assert answer.status_code == 200
    assert "203.0.113.9" in _session_ips(engine) and "10.40.0.1" not in _session_ips(engine)
    # the proxy's own address, shared by the whole office, is not what the throttle counts
    for i in range(FREE + 3):
        proxied.test_client().post("/login", json={"name": f"x{i}", "password": "wrong-password"},
                                   headers={"X-Forwarded-For": "203.0.113.66"}, environ_base={"REMOTE_ADDR": "10.40.0.1"})
    assert _counter(engine, "ip", "203.0.113.66")[0] == FREE + 1
    assert _counter(engine, "ip", "10.40.0.1") is None
    colleague = proxied.test_client().post("/login", json={"name": "admin", "password": TEST_PASSWORD},
                                           headers={"X-Forwarded-For": "203.0.113.10"},
                                           environ_base={"REMOTE_ADDR": "10.40.0.1"})
    assert colleague.status_code == 200


def test_without_the_setting_x_forwarded_for_is_ignored(app, engine, clock):
    answer = app.test_client().post("/login", json={"name": "admin", "password": TEST_PASSWORD},
                                    headers={"X-Forwarded-For": "203.0.113.77"}, environ_base={"REMOTE_ADDR": "10.41.0.1"})
    assert answer.status_code == 200
    assert "10.41.0.1" in _session_ips(engine) and "203.0.113.77" not in _session_ips(engine)
    # a sprayer cannot dodge its address's counter by writing a new X-Forwarded-For each time
    codes = [app.test_client().post("/login", json={"name": f"y{i}", "password": "wrong-password"},
                                    headers={"X-Forwarded-For": f"198.51.100.{i}"},
                                    environ_base={"REMOTE_ADDR": "10.41.0.2"}).status_code for i in range(FREE + 3)]
    assert codes == [401] * (FREE + 1) + [429] * 2


@pytest.mark.parametrize("secure", [True, False])
def test_the_secure_cookie_setting(sample_copy, clock, secure):
    app = create_app(replace(sample_copy, session_cookie_secure=secure))
    answer = app.test_client().post("/login", json={"name": "admin", "password": TEST_PASSWORD},
                                    environ_base={"REMOTE_ADDR": f"10.42.0.{int(secure)}"})
    cookie = answer.headers["Set-Cookie"]
    assert answer.status_code == 200 and cookie.startswith("session=")
    assert ("; Secure" in cookie) is secure and "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("value, expected", [("1", True), ("yes", True), ("On", True), ("0", False), ("false", False),
                                             ("", False)])
def test_yes_no_settings_read_from_the_environment(value, expected):
    settings = load_settings(environ={"CITYMAP_SESSION_COOKIE_SECURE": value, "CITYMAP_TRUSTED_PROXIES": "2"})
    assert settings.session_cookie_secure is expected and settings.trusted_proxies == 2


@pytest.mark.parametrize("environ, message", [
    ({"CITYMAP_SESSION_COOKIE_SECURE": "maybe"}, "session_cookie_secure: 'maybe' is not a yes or no"),
    ({"CITYMAP_TRUSTED_PROXIES": "-1"}, "trusted_proxies must be 0 or more, got -1"),
    ({"CITYMAP_LOGIN_NAME_DELAY_CAP_S": "-5"}, "login_name_delay_cap_s must be 0 or more, got -5.0"),
])
def test_bad_security_settings_are_refused(environ, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(environ=environ)


# --------------------------------------------------------------------------- citymap serve and the secret key

@pytest.fixture
def served(monkeypatch):
    """Run ``citymap serve`` without serving: the hosts waitress would have been started on."""
    import waitress

    hosts: list[str] = []
    monkeypatch.setattr(waitress, "serve", lambda app, *, host, port, threads: hosts.append(host))
    monkeypatch.setattr("gc.freeze", lambda: None)
    return hosts


def _serve(tmp_path, host: str, **env: str):
    environ = {key: None for key in os.environ if key.startswith("CITYMAP_")} | {"CITYMAP_DATA_DIR": str(tmp_path)}
    return CliRunner().invoke(main, ["serve", "--host", host], env=environ | env)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "citymap.example.gov.cn"])
def test_serve_on_a_reachable_address_refuses_the_development_secret_key(tmp_path, served, host):
    result = _serve(tmp_path, host)
    assert result.exit_code == 1 and served == []
    assert result.stderr.startswith(f"error: refusing to serve on {host!r} with the development secret key: "
                                    "set CITYMAP_SECRET_KEY (or secret_key in the CITYMAP_CONFIG file)")
    # with a key of its own it serves
    assert _serve(tmp_path, host, CITYMAP_SECRET_KEY="a-real-random-secret").exit_code == 0
    assert served == [host]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.1.1"])
def test_serve_on_the_loopback_keeps_the_development_key(tmp_path, served, host):
    result = _serve(tmp_path, host)
    assert result.exit_code == 0, result.output
    assert served == [host]


# --------------------------------------------------------------------------- passwords

@pytest.mark.parametrize("password, message", [
    ("short-pw", "密码至少 10 个字符 (password must be at least 10 characters; got 8)"),
    ("x" * 201, "密码最多 200 个字符 (password must be at most 200 characters; got 201)"),
    ("1234567890", "密码过于常见"), ("Password123", "密码过于常见"), ("QWERTYUIOP", "密码过于常见"),
    ("1qaz2wsx3edc", "密码过于常见"), ("woaini1314520", "密码过于常见"), ("5201314520", "is one of the most common"),
    ("A123456789", "密码过于常见"), ("iloveyou123", "密码过于常见"), ("Admin@123456", "密码过于常见"),
])
def test_a_new_password_is_long_and_not_a_common_one(password, message):
    with pytest.raises(ValidationError, match=re.escape(message)):
        users.hash_password(password)


def test_the_common_password_list_is_there_and_the_shipped_passwords_pass_it():
    common = users.common_passwords()
    assert len(common) >= 1000
    assert {"123456", "password", "qwerty123", "1qaz2wsx", "woaini1314", "a123456", "5201314"} <= common
    assert all(word == word.lower() for word in common)
    from webmap.cli.serve import DEMO_PASSWORD

    for password in (TEST_PASSWORD, DEMO_PASSWORD, "correct horse battery"):
        assert users.check_new_password(password) == password


def _cli(tmp_path, *args: str, input: str | None = None):
    environ = {key: None for key in os.environ if key.startswith("CITYMAP_")} | {"CITYMAP_DATA_DIR": str(tmp_path)}
    return CliRunner().invoke(main, list(args), env=environ, input=input)


def test_citymap_user_password_sets_a_checked_password_and_ends_the_logins(tmp_path):
    assert _cli(tmp_path, "init-db").exit_code == 0
    assert _cli(tmp_path, "user", "create", "wang", "--role", "dispatcher", "--password", "first-password-1").exit_code == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'citymap.sqlite'}")
    user_id = store.read_login(engine, "wang", jurisdiction_code="120110900")["id"]
    store.create_session(engine, token_sha256="c" * 64, user_id=user_id, now=NOW, expires_at=NOW + timedelta(days=9999),
                         ip=None)

    def password_works(password: str) -> bool:
        return users.check_password(store.read_login(engine, "wang", jurisdiction_code="120110900")["password_hash"],
                                    password)

    changed = _cli(tmp_path, "user", "password", "wang", input="second-password-2\n")
    assert changed.exit_code == 0, changed.output
    assert changed.stdout == "password of user 'wang' changed; 1 login(s) ended\n"
    assert password_works("second-password-2") and not password_works("first-password-1")
    assert store.session_user(engine, "c" * 64, now=NOW) is None
    # from a file (its first line)
    secret = tmp_path / "new-password.txt"
    secret.write_text("third-password-3\nignored\n", encoding="utf-8")
    assert _cli(tmp_path, "user", "password", "wang", "--password-file", str(secret)).exit_code == 0
    assert password_works("third-password-3")
    # refused: the rules, an unknown user; the password stays
    for args, given, message in [(("wang",), "woaini1314520\n", "error: 密码过于常见，请换一个"),
                                 (("wang",), "short\n", "error: 密码至少 10 个字符"),
                                 (("nobody",), "fine-password-4\n", "error: user 'nobody' not found in 120110900")]:
        refused = _cli(tmp_path, "user", "password", *args, input=given)
        assert refused.exit_code == 1 and refused.stderr.startswith(message), refused.output
    assert password_works("third-password-3")
    engine.dispose()


# --------------------------------------------------------------------------- the migration

def test_migration_0009_replaces_login_failures_and_goes_back(db_engine):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from conftest import migrate_to
    from sqlalchemy import inspect

    from geo.store.db import head_revision, init_db, schema_revision
    from geo.store.models import Base

    def tables() -> set[str]:
        return set(inspect(db_engine).get_table_names()) & {"login_failures", "login_throttles"}

    with db_engine.connect() as conn:  # the model and the migration agree on the new table
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert [d for d in diff if "login" in str(d)] == []
    assert tables() == {"login_throttles"}
    migrate_to(db_engine, "0008")
    assert schema_revision(db_engine) == "0008" and tables() == {"login_failures"}
    assert {c["name"] for c in inspect(db_engine).get_columns("login_failures")} == {"id", "name", "ip", "at"}
    init_db(db_engine)
    assert schema_revision(db_engine) == head_revision() and tables() == {"login_throttles"}
    assert _reserve(db_engine, NOW).wait_s == 0
