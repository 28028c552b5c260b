"""The closed loop's figures counted in SQL: per group and period, per day, and the handling times of a period.

The dashboards (home page, league table, plan-task board, weekly report) never read every
issue: each figure is a ``GROUP BY`` over the rows of one lifecycle time within the period,
read through that time's index (``ix_issues_registered_at`` …, migration 0015), so a page
costs the issues of its period, not the table's. The definitions are those of
:mod:`geo.loop.metrics` (its pandas functions are the reference the tests compare with):

* a *case* has a ``registered_at`` and is neither refused nor merged;
* ``registered`` cases registered in the period, ``due`` cases whose deadline falls in it,
  ``closed`` of those the ones closed before the period ends, ``closed_on_time`` of those
  the ones handled (or, without a handling time, closed) by their deadline;
* ``handled`` the handlings in the period (``rework_count + 1`` per case handled in it),
  ``rework`` the reworks among them;
* ``backlog`` the issues open now (any state before 结案), ``overdue`` those not yet handled
  and past their deadline at ``now``.

Times are naive local (Beijing) time; a period is ``[start, end)``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy import Connection, Engine, text

from geo.errors import ValidationError
from geo.issue_filter import IssueFilter
from geo.statuses import OPEN_STATUSES, UNHANDLED_STATUSES
from geo.store.base import _in_clause, _with_conn
from geo.store.db import is_sqlite
from geo.store.issues import issue_where
from geo.store.models import LATE_CASE

#: the counts :func:`period_counts` gives, in this order
COUNT_COLUMNS = ("registered", "due", "closed", "closed_on_time", "handled", "rework", "backlog", "overdue")
#: columns the figures may be grouped by (each is a plain column of ``issues``)
GROUP_COLUMNS = ("department_code", "community_code", "grid_code", "zone_code", "category_code")
#: the columns of :func:`daily_counts`
DAILY_COLUMNS = ("new", "closed", "overdue")

_CASE = "t.registered_at IS NOT NULL AND t.status NOT IN ('refused', 'merged')"
# handled (or, without a handling time, closed) by the deadline
_ON_TIME = "COALESCE(t.handled_at, t.closed_at) <= t.deadline_at"


def _flag(condition: str) -> str:
    return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def _checked(by: str | None, start: datetime, end: datetime) -> None:
    if by is not None and by not in GROUP_COLUMNS:
        raise ValidationError(f"cannot count figures by {by!r}; choose one of {', '.join(GROUP_COLUMNS)}")
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime):
            raise ValidationError(f"{name} {value!r} is not a date and time")
    if not start < end:
        raise ValidationError(f"period end {end!r} is not after its start {start!r}")


def _grouped_query(conn: Connection, by: str | None, selects: list[str], condition: str, params: dict, *,
                   index: str, with_nulls: bool = False) -> pd.DataFrame:
    """``SELECT group, selects… WHERE condition GROUP BY group``; one row keyed ``None`` without a group;
    ``with_nulls``: the rows without a value form the group ``""``.

    On SQLite the rows are read through ``index`` (``INDEXED BY``): without statistics its planner
    prefers the index of the grouping column, which returns the groups in order but reads every
    issue (1.3 s at a million issues, against milliseconds through the period's index).
    """
    key = "NULL" if not by else f"COALESCE(t.{by}, '')" if with_nulls else f"t.{by}"
    source = f"issues t INDEXED BY {index}" if is_sqlite(conn) else "issues t"
    sql = f"SELECT {key}, {', '.join(selects)} FROM {source} WHERE {condition}"
    if by:
        sql += f"{'' if with_nulls else f' AND t.{by} IS NOT NULL'} GROUP BY {key}"
    # plain tuples: pandas probes each SQLAlchemy row for attributes it does not have (0.3 s a page)
    rows = [tuple(row) for row in conn.execute(text(sql), params)]
    return pd.DataFrame(rows, columns=["key", *range(len(selects))]).set_index("key")


def period_counts(
    bind: Engine | Connection,
    *,
    jurisdiction_code: str,
    start: datetime,
    end: datetime,
    now: datetime,
    by: str | None = None,
    where: IssueFilter | None = None,
    with_nulls: bool = False,
) -> pd.DataFrame:
    """The counts of the module docstring over ``[start, end)``, per value of ``by`` or in all.

    Parameters
    ----------
    start, end : datetime, keyword-only
        The period, naive local time, ``end`` exclusive.
    now : datetime, keyword-only
        When backlog and overdue are judged.
    by : str, optional, keyword-only
        One of :data:`GROUP_COLUMNS`; issues whose value is NULL are left out, unless
        ``with_nulls``: then they form the group ``""`` (the groups add up to all the issues).
        None: one row (index ``None``) for all the issues.
    where : IssueFilter, optional, keyword-only
        Only the issues that pass (no bbox).

    Returns
    -------
    pandas.DataFrame
        Indexed by the group's value (sorted), columns :data:`COUNT_COLUMNS` (int64);
        only groups with at least one count.
    """
    _checked(by, start, end)
    where = where or IssueFilter()
    if where.bbox is not None:
        raise ValidationError("period_counts does not take a bbox")
    base, params = issue_where(jurisdiction_code, where)
    params = {**params, "start": start, "end": end, "now": now}
    open_ = _in_clause("t.status", OPEN_STATUSES, params, "open")[0]
    unhandled = _in_clause("t.status", UNHANDLED_STATUSES, params, "unhandled")[0]
    # One query per lifecycle time, each reading its own index range (an OR over the
    # times would read the whole table).
    queries = (
        (["count(*)"], f"{_CASE} AND t.registered_at >= :start AND t.registered_at < :end", ("registered",),
         "ix_issues_registered_at"),
        (["count(*)", _flag("t.closed_at < :end"), _flag(f"t.closed_at < :end AND {_ON_TIME}")],
         f"{_CASE} AND t.deadline_at >= :start AND t.deadline_at < :end", ("due", "closed", "closed_on_time"),
         "ix_issues_deadline_at"),
        (["SUM(COALESCE(t.rework_count, 0) + 1)", "SUM(COALESCE(t.rework_count, 0))"],
         f"{_CASE} AND t.handled_at >= :start AND t.handled_at < :end", ("handled", "rework"), "ix_issues_handled_at"),
        (["count(*)", _flag(f"{unhandled} AND t.deadline_at < :now")], open_, ("backlog", "overdue"),
         "ix_issues_status"),
    )

    def run(conn: Connection) -> pd.DataFrame:
        parts = []
        for selects, condition, names, index in queries:
            part = _grouped_query(conn, by, selects, f"{base} AND {condition}", params, index=index,
                                  with_nulls=with_nulls)
            parts.append(part.set_axis(list(names), axis=1))
        return pd.concat(parts, axis=1)

    table = _with_conn(bind, run).reindex(columns=list(COUNT_COLUMNS))
    table = table.fillna(0).astype("int64")
    if by:
        table = table.sort_index()
    return table.rename_axis(by)


def handling_hours(
    bind: Engine | Connection,
    *,
    jurisdiction_code: str,
    start: datetime,
    end: datetime,
    by: str | None = None,
    where: IssueFilter | None = None,
) -> pd.DataFrame:
    """The cases handled in ``[start, end)`` with the hours from report to handling (for medians and percentiles).

    One row per case handled in the period (the period's rows only, read through the
    ``handled_at`` index): ``group`` (the value of ``by``, or None) and ``hours`` (float),
    the hours worked out by the database.
    """
    _checked(by, start, end)
    where = where or IssueFilter()
    base, params = issue_where(jurisdiction_code, where)
    key = f"t.{by}" if by else "NULL"

    def run(conn: Connection) -> list:
        sqlite = is_sqlite(conn)
        source = "issues t INDEXED BY ix_issues_handled_at" if sqlite else "issues t"
        hours = ("(julianday(t.handled_at) - julianday(t.reported_at)) * 24.0" if sqlite
                 else "EXTRACT(EPOCH FROM (t.handled_at - t.reported_at)) / 3600.0")
        sql = (f"SELECT {key}, {hours} FROM {source} WHERE {base} AND {_CASE} "
               "AND t.handled_at >= :start AND t.handled_at < :end")
        return conn.execute(text(sql), {**params, "start": start, "end": end}).fetchall()

    groups, hours = list(zip(*_with_conn(bind, run))) or [(), ()]
    return pd.DataFrame({"group": pd.Series(list(groups), dtype=object),
                         "hours": pd.Series(list(hours), dtype=float)})


def _day(conn: Connection, column: str) -> str:
    """SQL of the calendar day of a timestamp column, as ``YYYY-MM-DD`` text."""
    # SQLite keeps DateTime as ISO text; PostgreSQL formats its timestamp
    return f"substr({column}, 1, 10)" if is_sqlite(conn) else f"to_char({column}, 'YYYY-MM-DD')"


def daily_counts(
    bind: Engine | Connection,
    *,
    jurisdiction_code: str,
    since: date,
    until: date,
    now: datetime,
) -> pd.DataFrame:
    """Issues reported, closed and fallen overdue on each day of ``[since, until)``.

    Parameters
    ----------
    since, until : datetime.date, keyword-only
        The first day and the day after the last, local calendar days.
    now : datetime, keyword-only
        Deadlines after ``now`` have not passed yet: they count on no day.

    Returns
    -------
    pandas.DataFrame
        One row per day (a DatetimeIndex named ``day``, every day of the period, zeros
        included), columns :data:`DAILY_COLUMNS` (int64): ``new`` reported that day,
        ``closed`` closed that day, ``overdue`` cases whose deadline passed that day
        without their handling (handled late, or not yet).
    """
    since, until = pd.Timestamp(since).normalize(), pd.Timestamp(until).normalize()
    if not since < until:
        raise ValidationError(f"daily counts: until {until:%Y-%m-%d} is not after since {since:%Y-%m-%d}")
    params = {"j": jurisdiction_code, "since": since.to_pydatetime(), "until": until.to_pydatetime(), "now": now}
    # overdue: the late cases (LATE_CASE, as the partial index ix_issues_late holds them, which SQLite reads
    # alone when told to) whose deadline has passed
    queries = (
        ("new", "reported_at", "1 = 1", "ix_issues_reported_at"),
        ("closed", "closed_at", "1 = 1", "ix_issues_closed_at"),
        ("overdue", "deadline_at", f"{LATE_CASE} AND t.deadline_at < :now", "ix_issues_late"),
    )

    def run(conn: Connection) -> dict[str, pd.Series]:
        out = {}
        for name, column, condition, index in queries:
            day = _day(conn, f"t.{column}")
            source = f"issues t INDEXED BY {index}" if is_sqlite(conn) else "issues t"
            sql = (f"SELECT {day}, count(*) FROM {source} WHERE t.jurisdiction_code = :j AND t.{column} >= :since "
                   f"AND t.{column} < :until AND {condition} GROUP BY {day}")
            rows = conn.execute(text(sql), params).fetchall()
            out[name] = pd.Series({pd.Timestamp(d): n for d, n in rows}, dtype="int64")
        return out

    counts = _with_conn(bind, run)
    days = pd.date_range(since, until - timedelta(days=1), freq="D", name="day")
    return pd.DataFrame({name: counts[name].reindex(days).fillna(0).astype("int64") for name in DAILY_COLUMNS},
                        index=days)


__all__ = ["COUNT_COLUMNS", "DAILY_COLUMNS", "GROUP_COLUMNS", "daily_counts", "handling_hours", "period_counts"]
