"""The Chinese working-day calendar and the N-working-day deadline rule."""

from datetime import date, datetime, time, timedelta, timezone

import pandas as pd
import pytest

from geo.errors import ValidationError
from geo.workdays import (
    DEFAULT_DAY_END,
    add_working_days,
    add_working_days_series,
    install_days,
    is_working_day,
    known_years,
    provisional,
    seed_days,
    working_days_between,
)


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(n) for n in range((end - start).days + 1)]


def test_plain_week():
    # 2025-03-03 is a Monday with no holiday nearby.
    week = days(date(2025, 3, 3), date(2025, 3, 9))
    assert [is_working_day(d) for d in week] == [True] * 5 + [False] * 2
    assert is_working_day(datetime(2025, 3, 3, 23, 0))


def test_spring_festival_2025_and_its_make_up_days():
    # 春节 2025: 1月28日（除夕）至2月4日放假，1月26日（周日）、2月8日（周六）上班.
    assert not any(is_working_day(d) for d in days(date(2025, 1, 28), date(2025, 2, 4)))
    assert is_working_day(date(2025, 1, 26)) and date(2025, 1, 26).weekday() == 6
    assert is_working_day(date(2025, 2, 8)) and date(2025, 2, 8).weekday() == 5
    assert not is_working_day(date(2025, 1, 25))  # the Saturday before stays off


def test_spring_festival_2026_and_its_make_up_days():
    # 春节 2026: 2月15日至23日放假，2月14日（周六）、2月28日（周六）上班.
    assert not any(is_working_day(d) for d in days(date(2026, 2, 15), date(2026, 2, 23)))
    assert is_working_day(date(2026, 2, 14)) and date(2026, 2, 14).weekday() == 5
    assert is_working_day(date(2026, 2, 28)) and date(2026, 2, 28).weekday() == 5
    assert is_working_day(date(2026, 2, 24))


def test_deadline_rule_in_a_plain_week():
    friday = datetime(2025, 3, 7, 16, 30)
    assert add_working_days(friday, 1) == datetime(2025, 3, 10, 18, 0)  # Monday end of day
    assert add_working_days(friday, 0) == datetime(2025, 3, 7, 18, 0)
    assert add_working_days(friday, 5) == datetime(2025, 3, 14, 18, 0)
    assert add_working_days(datetime(2025, 3, 3, 9), 3) == datetime(2025, 3, 6, 18, 0)
    # The hour of the report does not matter: the report day never counts.
    assert add_working_days(datetime(2025, 3, 7, 23, 59), 1) == datetime(2025, 3, 10, 18, 0)
    assert DEFAULT_DAY_END == time(18, 0)
    assert add_working_days(friday, 1, day_end=time(17, 30)) == datetime(2025, 3, 10, 17, 30)


def test_report_on_a_non_working_day_counts_from_the_next_working_day():
    assert add_working_days(datetime(2025, 3, 8, 10), 1) == datetime(2025, 3, 11, 18, 0)  # Sat → Tue
    assert add_working_days(datetime(2025, 3, 9, 10), 0) == datetime(2025, 3, 10, 18, 0)  # Sun → Mon
    assert add_working_days(date(2025, 3, 8), 1) == datetime(2025, 3, 11, 18, 0)


def test_deadlines_across_the_spring_festival():
    # Reported Monday 2025-01-27, the last working day before the holiday.
    assert add_working_days(datetime(2025, 1, 27, 10), 1) == datetime(2025, 2, 5, 18, 0)
    # Reported on Saturday 2025-01-25: counts from the make-up Sunday 1-26.
    assert add_working_days(datetime(2025, 1, 25, 10), 1) == datetime(2025, 1, 27, 18, 0)
    # Reported during the holiday: counts from Wednesday 2-5; 2-8 is a make-up Saturday.
    assert add_working_days(datetime(2025, 1, 30, 10), 3) == datetime(2025, 2, 8, 18, 0)
    # 2026: Friday 2-13 → make-up Saturday 2-14 is the next working day.
    assert add_working_days(datetime(2026, 2, 13, 15), 1) == datetime(2026, 2, 14, 18, 0)
    assert add_working_days(datetime(2026, 2, 14, 15), 1) == datetime(2026, 2, 24, 18, 0)


def test_timezone_is_kept():
    beijing = timezone(timedelta(hours=8))
    due = add_working_days(datetime(2025, 3, 7, 16, tzinfo=beijing), 1)
    assert due == datetime(2025, 3, 10, 18, 0, tzinfo=beijing) and due.tzinfo is beijing


def test_working_days_between():
    assert working_days_between(date(2025, 3, 7), date(2025, 3, 10)) == 1
    assert working_days_between(date(2025, 3, 10), date(2025, 3, 7)) == -1
    assert working_days_between(date(2025, 3, 7), date(2025, 3, 7)) == 0
    # (2025-01-24, 2025-02-07]: the make-up Sunday 1-26, 1-27, then 2-5, 2-6, 2-7.
    assert working_days_between(date(2025, 1, 24), date(2025, 2, 7)) == 5
    start = datetime(2026, 2, 10, 9)
    for n in range(8):
        assert working_days_between(start, add_working_days(start, n).date()) == n


def test_series_matches_scalar_and_keeps_nat_and_timezone():
    starts = pd.Series(
        pd.to_datetime(["2025-01-27 10:00", None, "2025-03-08 10:00", "2026-02-13 15:00"]), index=[5, 6, 7, 8]
    )
    due = add_working_days_series(starts, [1, 1, 1, 1])
    assert list(due.index) == [5, 6, 7, 8]
    assert pd.isna(due[6])
    for i in (5, 7, 8):
        assert due[i] == add_working_days(starts[i].to_pydatetime(), 1)
    aware = add_working_days_series(starts.dt.tz_localize("Asia/Shanghai"), 2, day_end=time(17, 0))
    assert aware[7] == pd.Timestamp("2025-03-12 17:00", tz="Asia/Shanghai")


def test_invalid_input_and_years_not_known_yet():
    # Relative to the seed, so that refreshing it from a newer chinese_calendar keeps this true.
    last_year = max(known_years())
    assert known_years() == tuple(range(2004, last_year + 1)) and last_year >= 2026
    # a year not known yet counts Monday–Friday: 4 January of the next year is a working day if a weekday
    assert is_working_day(date(last_year + 1, 1, 4)) == (date(last_year + 1, 1, 4).weekday() < 5)
    assert add_working_days(datetime(2003, 5, 6), 1) == datetime(2003, 5, 7, 18, 0)  # weekdays, no May holiday
    with pytest.raises(ValidationError, match="outside 2000-01-01 to 2100-12-31"):
        add_working_days(datetime(1999, 12, 30), 1)
    with pytest.raises(ValidationError, match="after 2100-12-31"):
        add_working_days(datetime(2100, 12, 30), 5)
    with pytest.raises(ValidationError, match="-1"):
        add_working_days(datetime(2025, 3, 7), -1)
    with pytest.raises(ValidationError, match="1.5"):
        add_working_days(datetime(2025, 3, 7), 1.5)
    with pytest.raises(ValidationError, match="'2025-03-07'"):
        is_working_day("2025-03-07")


def test_the_seed_is_the_packages_calendar():
    from chinese_calendar.constants import holidays, workdays

    seed = seed_days()
    assert set(seed.loc[seed["kind"] == "holiday", "date"].dt.date) == set(holidays)
    assert set(seed.loc[seed["kind"] == "workday", "date"].dt.date) == set(workdays)


@pytest.fixture
def office_2027():
    """The office loads 2027 (a made-up notice: 元旦 1–3 January, make-up working day Sunday 10 January)."""
    install_days(pd.DataFrame({"date": pd.to_datetime(["2027-01-01", "2027-01-02", "2027-01-03", "2027-01-10"]),
                               "kind": ["holiday", "holiday", "holiday", "workday"]}))
    yield
    install_days(pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "kind": pd.Series(dtype="string")}))


def test_a_deadline_across_new_year_is_provisional_until_the_year_is_loaded(office_2027):
    start = pd.Series(pd.to_datetime(["2026-12-28 09:00", "2026-12-30 09:00", "2026-06-01 09:00", None]))
    assert 2027 in known_years()
    loaded = add_working_days_series(start, 5)
    # 28 Dec (Mon) + 5: 29, 30, 31 Dec, then 1–3 Jan are holidays, 4 and 5 Jan → Tue 5 Jan
    assert loaded.iloc[0] == pd.Timestamp("2027-01-05 18:00")
    assert provisional(start, loaded).tolist() == [False, False, False, False]
    install_days(pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "kind": pd.Series(dtype="string")}))
    assert 2027 not in known_years()
    guessed = add_working_days_series(start, 5)
    # without the notice, 1 January 2027 (a Friday) counts as a working day: Mon 4 Jan
    assert guessed.iloc[0] == pd.Timestamp("2027-01-04 18:00")
    assert provisional(start, guessed).tolist() == [True, True, False, False]


def test_calendar_rows_are_checked():
    with pytest.raises(ValidationError, match="'rest'"):
        install_days(pd.DataFrame({"date": ["2027-01-01"], "kind": ["rest"]}))
