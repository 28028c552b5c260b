"""The one clock (geo.clock): "today" and "this month" are Tianjin's, whatever the server's time zone."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from geo import clock
from webmap.app import create_app


def _set_utc(monkeypatch, *args) -> None:
    monkeypatch.setattr(clock, "_utc_now", lambda: datetime(*args, tzinfo=timezone.utc))


@pytest.mark.parametrize("utc, local", [
    ((2026, 12, 3, 17, 0, 0), datetime(2026, 12, 4, 1, 0, 0)),     # 01:00 in Tianjin, still the 3rd in UTC
    ((2026, 12, 31, 16, 30, 5), datetime(2027, 1, 1, 0, 30, 5)),   # the turn of the year comes 8 hours early
    ((2027, 7, 1, 3, 0, 0), datetime(2027, 7, 1, 11, 0, 0)),       # no daylight saving in summer
])
def test_local_now_is_china_standard_time(monkeypatch, utc, local):
    _set_utc(monkeypatch, *utc)
    assert clock.local_now() == local and clock.local_now().tzinfo is None
    assert clock.local_today() == local.date()


def test_to_local_converts_aware_times_and_keeps_naive_ones():
    aware = datetime(2026, 12, 3, 12, 0, 0, 999, tzinfo=timezone.utc)
    assert clock.to_local(aware) == datetime(2026, 12, 3, 20, 0, 0)
    assert clock.to_local(datetime(2026, 12, 3, 12, 0, 0, 5)) == datetime(2026, 12, 3, 12, 0, 0)


@pytest.fixture(scope="module")
def app(sample_copy):
    # a copy: logins at a clock years ahead must leave no throttle rows in the shared sample
    return create_app(sample_copy)


def _supervisor(app, login):
    """A client logged in at the clock's time (a session made earlier would have expired by then)."""
    client = app.test_client()
    login(client, "supervisor")
    return client


def test_route_page_plans_tianjins_today(app, login, monkeypatch):
    # the machine's own zone must not matter: the process runs as if in UTC
    monkeypatch.setenv("TZ", "UTC")
    _set_utc(monkeypatch, 2030, 6, 30, 17, 0, 0)
    page = _supervisor(app, login).get("/routes").get_data(as_text=True)
    assert re.search(r'name="date" value="([0-9-]+)"', page)[1] == "2030-07-01"


@pytest.mark.parametrize("utc, month", [((2026, 12, 31, 16, 30, 0), "2027-01"), ((2026, 12, 31, 15, 59, 0), "2026-12")])
def test_league_month_defaults_to_tianjins_month(app, login, monkeypatch, utc, month):
    _set_utc(monkeypatch, *utc)
    assert _supervisor(app, login).get("/api/analysis/league").get_json()["month"] == month
