"""webmap.params: each kind of request parameter, its accepted range and its refusals."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from geo.errors import ValidationError
from webmap import params


@pytest.mark.parametrize("raw, expected", [("", 7), ("  ", 7), ("1", 1), ("+12", 12), ("92", 92)])
def test_whole_takes_blank_as_default_and_digits_in_range(raw, expected):
    assert params.whole({"n": raw}, "n", default=7, lo=1, hi=92) == expected


@pytest.mark.parametrize("raw", ["0", "93", "-1", "1.5", "1e3", "１２", "99999999999999999999999", "inf", "nan",
                                 "{{ 7*7 }}", "a\x00b", "9223372036854775808"])
def test_whole_refuses_and_names_the_parameter_and_range(raw):
    with pytest.raises(ValidationError) as err:
        params.whole({"days": raw}, "days", default=7, lo=1, hi=92)
    assert err.value.status == 400
    assert err.value.message.startswith(f"days={raw[:80]!r}") and "1…92" in err.value.message


def test_whole_required_refuses_blank():
    with pytest.raises(ValidationError, match="issue=''"):
        params.whole({}, "issue", lo=1, hi=params.MAX_ID, required=True)
    assert params.whole({"issue": str(params.MAX_ID)}, "issue", lo=1, hi=params.MAX_ID) == 2**63 - 1


@pytest.mark.parametrize("raw", ["inf", "-inf", "nan", "1e308", "0", "101", "１０", "10,5", "0x10"])
def test_number_is_finite_and_bounded(raw):
    with pytest.raises(ValidationError, match=r"capacity_m3=.*0\.1…100 m³"):
        params.number({"capacity_m3": raw}, "capacity_m3", default=10.0, lo=0.1, hi=100, unit="m³")


def test_number_parses_and_defaults():
    assert params.number({"x": " 2.5 "}, "x", lo=0, hi=3) == 2.5
    assert params.number({}, "x", default=1.0, lo=0, hi=3) == 1.0
    # a JSON body hands numbers over as numbers, and booleans are no numbers
    assert params.number({"lon": 117.3}, "lon", lo=-180, hi=180) == 117.3
    with pytest.raises(ValidationError):
        params.number({"lon": True}, "lon", lo=-180, hi=180)
    with pytest.raises(ValidationError, match=r"lon=''.*-180…180"):
        params.number({"lon": None}, "lon", lo=-180, hi=180, required=True)


@pytest.mark.parametrize("raw", ["0001-01-01", "9999-12-31", "1899-12-31", "2200-01-01", "2025-02-30", "20250101",
                                 "2025-1-1", "２０２５-01-01", "{{ 7*7 }}"])
def test_day_refuses_bad_and_far_dates(raw):
    with pytest.raises(ValidationError, match=r"until="):
        params.day({"until": raw}, "until")


def test_day_accepts_the_edges_of_the_years():
    assert params.day({"d": "1900-01-01"}, "d") == date(1900, 1, 1)
    assert params.day({"d": "2199-12-31"}, "d") == date(2199, 12, 31)
    assert params.day({}, "d", default=date(2025, 1, 1)) == date(2025, 1, 1)


def test_month_spans_the_month_and_the_turn_of_the_year():
    assert params.month({"month": "2025-12"}) == (datetime(2025, 12, 1), datetime(2026, 1, 1))
    assert params.month({"month": "2026-02"}) == (datetime(2026, 2, 1), datetime(2026, 3, 1))
    assert params.month({}) is None
    for raw in ("2025-13", "2025-00", "0001-01", "9999-12", "2025-1", "2025/12"):
        with pytest.raises(ValidationError, match=r"month=.*1900…2199"):
            params.month({"month": raw})


def test_choice_lists_the_options():
    assert params.choice({"job": ""}, "job", ("pickup", "sweep"), default="pickup") == "pickup"
    with pytest.raises(ValidationError, match=r"job='x'.*pickup, sweep"):
        params.choice({"job": "x"}, "job", ("pickup", "sweep"), default="pickup")


def test_ids_split_on_both_commas_and_stay_within_64_bits():
    assert params.ids({"issues": "12, 15，3"}, "issues") == (12, 15, 3)
    assert params.ids({}, "issues") == ()
    for raw in ("1,x", "0", "-3", "9223372036854775808", "1,2,3,inf"):
        with pytest.raises(ValidationError, match="issues="):
            params.ids({"issues": raw}, "issues")


def test_bbox_is_four_finite_degrees_with_heights_dropped_when_asked():
    assert params.bbox({"bbox": "117.3,39.1,117.4,39.2"}) == (117.3, 39.1, 117.4, 39.2)
    assert params.bbox({"bbox": "117.3,39.1,0,117.4,39.2,10"}, heights=True) == (117.3, 39.1, 117.4, 39.2)
    for raw in ("1,2,3", "1,2,3,inf", "1,2,3,nan", "0,91,1,92", "0,2,1,1", "181,0,182,1",
                "117.3,39.1,0,117.4,39.2,10"):
        with pytest.raises(ValidationError, match="bbox="):
            params.bbox({"bbox": raw})


def test_instant_converts_offsets_to_local_time_and_keeps_within_the_years():
    assert params.instant("2025-03-01T00:00:00Z", name="t") == (datetime(2025, 3, 1, 8), False)
    assert params.instant("2025-03-01", name="t") == (datetime(2025, 3, 1), True)
    assert params.instant("2025-03-01T08:00:00+14:00", name="t")[0] == datetime(2025, 3, 1, 2)
    # in range as written, out of range in local time
    for raw in ("1900-01-01T00:00:00+14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2199-12-31T23:00:00-14:00",
                "2025-02-30", "yesterday", "２０２５-03-01"):
        with pytest.raises(ValidationError, match=r"t="):
            params.instant(raw, name="t")


def test_instant_arg_reads_a_bare_end_date_as_the_whole_day():
    assert params.instant_arg({"until": "2025-03-01"}, "until", end=True) == datetime(2025, 3, 2)
    assert params.instant_arg({"until": "2025-03-01T10:00:00"}, "until", end=True) == datetime(2025, 3, 1, 10)
    assert params.instant_arg({"until": ""}, "until", end=True) is None
