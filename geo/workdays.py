"""The Chinese working-day calendar and working-day deadlines.

A day is a working day when it is Monday–Friday and not a statutory holiday, or
when it is a make-up working day (调休上班, usually a Saturday or Sunday next to a
long holiday). The State Council publishes each year's holidays in a notice of
about November. The known years are data: ``geo/data/workday_calendar.csv``
(seeded from the ``chinese_calendar`` package by ``scripts/seed_workday_calendar.py``)
plus the years an office loaded with ``citymap calendar import`` (stored in the
database and installed here by :func:`install_days`).

A year that is not known yet counts Monday–Friday as working days, and a deadline
whose count crosses such a year is **provisional** (:func:`provisional`): pages,
API and reports say so, and loading the year recomputes it. So no date of
2000–2100 ever makes a deadline fail.

How a deadline of N working days counts
---------------------------------------
* The report day itself never counts. A report made on a working day, at any
  hour, is due at ``day_end`` of the N-th working day after it.
* A report made on a non-working day (weekend, holiday) counts as if made on the
  next working day; it is then due at ``day_end`` of the N-th working day after
  that one.
* N = 0 means the end of the (effective) report day.

Examples with N = 1 and ``day_end`` 18:00: reported Friday 16:00 → due Monday
18:00; reported Saturday → counts from Monday → due Tuesday 18:00.

All times are local wall-clock times (Beijing time); a timezone on the input is
kept on the output.
"""

from __future__ import annotations

from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from geo.errors import ValidationError

DEFAULT_DAY_END = time(18, 0)
#: the days any date may fall on (a date outside is an input error, not a calendar gap)
FIRST_DAY, LAST_DAY = np.datetime64("2000-01-01", "D"), np.datetime64("2100-12-31", "D")
#: the kinds of day a calendar row states
DAY_KINDS = ("holiday", "workday")
SEED_FILE = Path(__file__).resolve().parent / "data" / "workday_calendar.csv"

_office_days = pd.DataFrame({"date": pd.Series(dtype="datetime64[ns]"), "kind": pd.Series(dtype="string")})


class _Calendar(NamedTuple):
    first: np.datetime64  # FIRST_DAY
    is_work: np.ndarray  # bool per day from ``first``
    rank: np.ndarray  # working days from ``first`` up to and including each day
    unknown_rank: np.ndarray  # days of years not known, from ``first`` up to and including each day
    known_years: tuple[int, ...]


def seed_days() -> pd.DataFrame:
    """The packaged calendar: ``date`` (datetime64), ``kind`` (holiday | workday), ``name``."""
    days = pd.read_csv(SEED_FILE, dtype=str, keep_default_na=False)
    return days.assign(date=pd.to_datetime(days["date"]), kind=days["kind"].astype("string"))


def install_days(days: pd.DataFrame) -> None:
    """Use an office's calendar rows on top of the packaged ones (a year given here replaces that year).

    Parameters
    ----------
    days : DataFrame
        ``date`` (datetime64 or date) and ``kind`` (holiday | workday), as
        :func:`geo.io.read_calendar_file` returns and ``calendar_days`` stores.
    """
    global _office_days
    when = pd.to_datetime(days["date"])
    bad = ~days["kind"].isin(DAY_KINDS)
    if bad.any():
        raise ValidationError(f"calendar day kind {days['kind'][bad].iloc[0]!r}: expected holiday or workday")
    _office_days = pd.DataFrame({"date": when, "kind": days["kind"].astype("string")}).reset_index(drop=True)
    _calendar.cache_clear()


@lru_cache(maxsize=1)
def _calendar() -> _Calendar:
    seed = seed_days()
    office_years = set(_office_days["date"].dt.year)
    rows = pd.concat([seed[~seed["date"].dt.year.isin(office_years)], _office_days])
    known = np.array(sorted(set(rows["date"].dt.year)), dtype="int64")
    days = np.arange(FIRST_DAY, LAST_DAY + 1)
    # 1970-01-01 was a Thursday: shift so that Monday is 0.
    weekday = (days.astype("int64") + 3) % 7
    stated = rows["date"].to_numpy(dtype="datetime64[D]")
    holiday = np.isin(days, stated[(rows["kind"] == "holiday").to_numpy()])
    makeup = np.isin(days, stated[(rows["kind"] == "workday").to_numpy()])
    is_work = ((weekday < 5) & ~holiday) | makeup
    year = days.astype("datetime64[Y]").astype("int64") + 1970
    return _Calendar(FIRST_DAY, is_work, np.cumsum(is_work), np.cumsum(~np.isin(year, known)),
                     tuple(int(y) for y in known))


def known_years() -> tuple[int, ...]:
    """The years whose holidays and make-up working days are known (packaged or loaded)."""
    return _calendar().known_years


def _day_index(days: np.ndarray) -> np.ndarray:
    """Positions of ``datetime64[D]`` days in the calendar; error if any is outside 2000–2100."""
    cal = _calendar()
    idx = (days - cal.first).astype("int64")
    outside = (idx < 0) | (idx >= len(cal.is_work))
    if outside.any():
        raise ValidationError(f"date {days[outside][0]} is outside {FIRST_DAY} to {LAST_DAY}")
    return idx


def _as_date(d: date, *, name: str) -> date:
    if not isinstance(d, date):
        raise ValidationError(f"{name} {d!r} is not a date")
    return d.date() if isinstance(d, datetime) else d


def _as_day(d: date, *, name: str) -> np.ndarray:
    return np.array([_as_date(d, name=name)], dtype="datetime64[D]")


def _check_n(n: np.ndarray) -> None:
    if (n < 0).any():
        raise ValidationError(f"number of working days {int(n[n < 0][0])} is negative")


def _due_index(start_idx: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Calendar positions of the deadlines of reports made on ``start_idx``."""
    cal = _calendar()
    # Rank of the effective report day: the day itself if it is a working day,
    # else the next working day (one more than the rank so far).
    start_rank = cal.rank[start_idx] + ~cal.is_work[start_idx]
    due_rank = start_rank + n
    if (due_rank > cal.rank[-1]).any():
        raise ValidationError(f"the deadline falls after {LAST_DAY}")
    # The first day whose rank reaches due_rank is that working day.
    return np.searchsorted(cal.rank, due_rank, side="left")


def _time_offset(day_end: time) -> np.timedelta64:
    if not isinstance(day_end, time):
        raise ValidationError(f"day_end {day_end!r} is not a time of day")
    micros = ((day_end.hour * 60 + day_end.minute) * 60 + day_end.second) * 1_000_000 + day_end.microsecond
    return np.timedelta64(micros, "us")


def is_working_day(d: date) -> bool:
    """Whether a date is a working day in mainland China.

    Parameters
    ----------
    d : datetime.date
        A date (a datetime counts by its date).

    Returns
    -------
    bool
        False on weekends and statutory holidays, True on other weekdays and on
        make-up working days (调休).

    Raises
    ------
    geo.errors.ValidationError
        If the date is outside 2000–2100. In a year not known yet, Monday–Friday.
    """
    return bool(_calendar().is_work[_day_index(_as_day(d, name="date"))[0]])


def add_working_days(start: datetime, n: int, *, day_end: time = DEFAULT_DAY_END) -> datetime:
    """The deadline ``n`` working days after a report, by the rule in the module docstring.

    Parameters
    ----------
    start : datetime.datetime
        When the report was made, local time (a date is taken as its midnight).
    n : int
        Working days allowed, >= 0.
    day_end : datetime.time, keyword-only
        The time of day a working day ends (default 18:00).

    Returns
    -------
    datetime.datetime
        ``day_end`` on the due working day, with ``start``'s timezone.

    Examples
    --------
    >>> add_working_days(datetime(2025, 3, 7, 16, 0), 1)  # a Friday
    datetime.datetime(2025, 3, 10, 18, 0)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ValidationError(f"number of working days {n!r} is not an integer")
    n_arr = np.array([n], dtype="int64")
    _check_n(n_arr)
    offset = _time_offset(day_end)
    due = _calendar().first + _due_index(_day_index(_as_day(start, name="start")), n_arr)[0]
    tzinfo = start.tzinfo if isinstance(start, datetime) else None
    return (due + offset).item().replace(tzinfo=tzinfo)


def add_working_days_series(
    start: pd.Series, n: int | ArrayLike, *, day_end: time = DEFAULT_DAY_END
) -> pd.Series:
    """Vectorised :func:`add_working_days` for a whole column of report times.

    Parameters
    ----------
    start : pandas.Series
        Report times (datetime64, naive local time or timezone-aware). NaT gives NaT.
    n : int or array_like of int
        Working days allowed, one value or one per row, >= 0.
    day_end : datetime.time, keyword-only
        The time of day a working day ends (default 18:00).

    Returns
    -------
    pandas.Series
        Deadlines on ``start``'s index, in ``start``'s timezone.
    """
    try:
        when = pd.to_datetime(start)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"report times cannot be read as datetimes: {exc}") from exc
    n_arr = np.broadcast_to(np.asarray(n), (len(when),))
    if not np.issubdtype(n_arr.dtype, np.integer):
        raise ValidationError(f"numbers of working days must be integers, got dtype {n_arr.dtype}")
    _check_n(n_arr)
    offset = _time_offset(day_end)
    tz = when.dt.tz
    # Work on wall-clock time so the day is the local day, whatever the timezone.
    local = when.dt.tz_localize(None) if tz is not None else when
    valid = local.notna().to_numpy()
    days = local.to_numpy(dtype="datetime64[ns]")[valid].astype("datetime64[D]")
    out = np.full(len(local), np.datetime64("NaT", "ns"))
    due = _calendar().first + _due_index(_day_index(days), n_arr[valid])
    out[valid] = due.astype("datetime64[ns]") + offset
    result = pd.Series(out, index=start.index, name=start.name)
    return result.dt.tz_localize(tz) if tz is not None else result


def working_days_between(a: date, b: date) -> int:
    """Count the working days after ``a`` up to and including ``b``.

    Parameters
    ----------
    a, b : datetime.date
        Dates (datetimes count by their date).

    Returns
    -------
    int
        Working days in ``(a, b]``; negative when ``b`` is before ``a`` (the count
        of ``(b, a]``, negated). For a working day ``a``,
        ``working_days_between(a, add_working_days(a, n).date()) == n``; an issue
        closed on date ``c`` with deadline date ``d`` is
        ``working_days_between(d, c)`` working days late when that is positive.
    """
    idx = _day_index(np.concatenate([_as_day(a, name="a"), _as_day(b, name="b")]))
    rank = _calendar().rank[idx]
    return int(rank[1] - rank[0])


def provisional(start: pd.Series, due: pd.Series) -> np.ndarray:
    """Whether each deadline was counted across a year whose holidays are not known yet.

    Parameters
    ----------
    start, due : pandas.Series
        Report times and their working-day deadlines (local time; NaT is never provisional).

    Returns
    -------
    numpy.ndarray of bool
        True where some day from the report day to the due day lies in a year
        that is not among :func:`known_years`.
    """
    begin, end = _wall_days(start), _wall_days(due)
    valid = ~(np.isnat(begin) | np.isnat(end))
    out = np.zeros(len(begin), dtype=bool)
    if valid.any():
        cal = _calendar()
        first, last = _day_index(begin[valid]), _day_index(end[valid])
        before = np.where(first > 0, cal.unknown_rank[np.maximum(first - 1, 0)], 0)
        out[valid] = cal.unknown_rank[last] - before > 0
    return out


def _wall_days(times: pd.Series) -> np.ndarray:
    """The local calendar days (``datetime64[D]``, NaT kept) of naive or timezone-aware times."""
    when = pd.to_datetime(times)
    if when.dt.tz is not None:
        when = when.dt.tz_localize(None)
    return when.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
