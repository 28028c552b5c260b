"""The Chinese working-day calendar and working-day deadlines.

A day is a working day when it is Monday–Friday and not a statutory holiday, or
when it is a make-up working day (调休上班, usually a Saturday or Sunday next to a
long holiday). The dates come from the ``chinese_calendar`` package, which follows
the State Council's yearly notice; it covers a fixed range of years, and a date
outside it raises :class:`~geo.errors.ValidationError` rather than guessing. When
the next year's notice is out (usually in November), upgrade ``chinese_calendar``.

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
from typing import NamedTuple

import chinese_calendar
import numpy as np
import pandas as pd
from chinese_calendar.constants import holidays as _CC_HOLIDAYS
from chinese_calendar.constants import workdays as _CC_WORKDAYS
from numpy.typing import ArrayLike

from geo.errors import ValidationError

DEFAULT_DAY_END = time(18, 0)


class _Calendar(NamedTuple):
    first: np.datetime64  # 1 January of the first covered year
    is_work: np.ndarray  # bool per day from ``first``
    rank: np.ndarray  # working days from ``first`` up to and including each day


@lru_cache(maxsize=1)
def _calendar() -> _Calendar:
    years = sorted({d.year for d in _CC_HOLIDAYS})
    first = np.datetime64(f"{years[0]:04d}-01-01", "D")
    days = np.arange(first, np.datetime64(f"{years[-1] + 1:04d}-01-01", "D"))
    # 1970-01-01 was a Thursday: shift so that Monday is 0.
    weekday = (days.astype("int64") + 3) % 7
    holiday = np.isin(days, np.array(sorted(_CC_HOLIDAYS), dtype="datetime64[D]"))
    makeup = np.isin(days, np.array(sorted(_CC_WORKDAYS), dtype="datetime64[D]"))
    is_work = ((weekday < 5) & ~holiday) | makeup
    return _Calendar(first, is_work, np.cumsum(is_work))


def _coverage() -> str:
    cal = _calendar()
    last = cal.first + (len(cal.is_work) - 1)
    return (
        f"the working-day calendar (chinese_calendar {chinese_calendar.__version__}) "
        f"covers {cal.first} to {last}; upgrade chinese_calendar for later years"
    )


def _day_index(days: np.ndarray) -> np.ndarray:
    """Positions of ``datetime64[D]`` days in the calendar; error if any is outside it."""
    cal = _calendar()
    idx = (days - cal.first).astype("int64")
    outside = (idx < 0) | (idx >= len(cal.is_work))
    if outside.any():
        raise ValidationError(f"date {days[outside][0]} is outside {_coverage()}")
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
        raise ValidationError(f"the deadline falls after the end of {_coverage()}")
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
        If the year is outside the range ``chinese_calendar`` covers.
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
