"""Issues counted in SQL for maps and analyses: per group of columns, time bin or grid square; the newest of each group.

A map or an analysis of many issues never reads them all: it asks how many there are per
unit cell, road segment, category, … (:func:`count_issues_by`), per time bin of a period,
per square of a lon/lat grid, and reads only the few it shows (:func:`newest_issues_by`).
The rows counted are those of an :class:`~geo.issue_filter.IssueFilter`
(:func:`geo.store.issues.issue_where`), so a count and its list agree.

On SQLite the count is read through the index that narrows the filter best (``INDEXED BY``,
:func:`geo.store.issues.sqlite_index`): without statistics SQLite's planner prefers the index of the
grouping column, which reads every issue of the table. The indexes of migration 0016 hold
the columns these counts group by (``ix_issues_reported_at``: reported_at, cell, segment;
``ix_issues_status``: status, cell, segment, deadline, department, category; ``ix_issues_cell``), so the usual counts — a period's
issues per cell and segment, the open issues per cell, every issue per cell — never read a
row of the table itself: the rows lie in the order of their points (a Z curve), and reading
them in time order costs a random page read each (1.5 s for a year of a million-issue
table against 0.07 s from the index).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, Engine, text

from geo.errors import ValidationError
from geo.issue_filter import IssueFilter
from geo.store.base import TIMESTAMP_COLUMNS, _masked_text, _source_where, _with_conn
from geo.store.db import is_sqlite
from geo.store.issues import ISSUE_READ_COLUMNS, count_issues, issue_where, sqlite_index

#: plain columns of ``issues`` that issues may be grouped by
ISSUE_GROUP_COLUMNS = ("cell_code", "segment_id", "compound_code", "community_code", "grid_code", "zone_code",
                 "department_code", "category_code", "status", "source")
#: computed groups: the major class (two digits of the category), the time bin of ``reported_at``
#: (with ``time_bin``) and the column and row of a lon/lat grid square (with ``grid_deg``)
PSEUDO_COLUMNS = ("major", "bin", "gx", "gy")
#: the assignment columns whose missing values ``unassigned`` may ask for
ASSIGNMENT_KEYS = ("cell_code", "segment_id")


def _expression(conn: Connection, column: str) -> str:
    """The SQL of a grouping column or pseudo-column on the issues table ``t``."""
    sqlite = is_sqlite(conn)
    if column == "major":
        return "substr(t.category_code, 1, 2)"
    if column == "bin":
        # whole bins since :bin_start (rows before it are not counted, so the value is never negative)
        return ("CAST((julianday(t.reported_at) - julianday(:bin_start)) / :bin_days AS INTEGER)" if sqlite else
                "CAST(floor(EXTRACT(EPOCH FROM (t.reported_at - CAST(:bin_start AS timestamp)))"
                " / (86400.0 * :bin_days)) AS integer)")
    if column in ("gx", "gy"):
        # shifted to positive degrees, where SQLite's CAST (which truncates) is floor()
        value = "ST_X(t.geom) + 180.0" if column == "gx" else "ST_Y(t.geom) + 90.0"
        return f"CAST(({value}) / :grid_deg AS INTEGER)" if sqlite else f"CAST(floor(({value}) / :grid_deg) AS integer)"
    return f"t.{column}"


def count_issues_by(
    bind: Engine | Connection,
    by: str | Sequence[str],
    *,
    jurisdiction_code: str,
    where: IssueFilter | None = None,
    time_bin: tuple[datetime, int] | None = None,
    grid_deg: float | None = None,
    unassigned: str | None = None,
    with_nulls: bool = False,
) -> pd.Series:
    """How many issues that pass ``where`` there are per value of the ``by`` column(s), counted in SQL.

    Parameters
    ----------
    by : str or sequence of str
        Columns of :data:`ISSUE_GROUP_COLUMNS` and pseudo-columns of :data:`PSEUDO_COLUMNS`:
        ``major`` (the category's major class), ``bin`` (the whole ``days``-day bins of
        ``reported_at`` since ``start``: 0, 1, …; issues reported before ``start`` are not
        counted), ``gx`` / ``gy`` (``floor((lon + 180) / grid_deg)``, ``floor((lat + 90) / grid_deg)``).
        Issues with a NULL in a grouping column are not counted, unless ``with_nulls``.
    where : IssueFilter, optional, keyword-only
        Which issues (default all); its bbox goes through the spatial index.
    time_bin : (datetime, int), optional, keyword-only
        ``(start, days)`` of the ``bin`` pseudo-column (naive local time, days ≥ 1).
    grid_deg : float, optional, keyword-only
        The side of a grid square in degrees (EPSG:4326) for ``gx`` / ``gy``.
    unassigned : str, optional, keyword-only
        One of :data:`ASSIGNMENT_KEYS`: count only the issues without a value there (those
        outside every unit cell, or off every road).
    with_nulls : bool, keyword-only
        Keep the groups with a NULL (None) in a plain grouping column.

    Returns
    -------
    pandas.Series
        ``count`` (int64) indexed by the ``by`` values (a MultiIndex for several), in no
        particular order; only groups with issues.
    """
    columns = (by,) if isinstance(by, str) else tuple(by)
    unknown = [c for c in columns if c not in ISSUE_GROUP_COLUMNS and c not in PSEUDO_COLUMNS]
    if unknown or not columns or len(set(columns)) != len(columns):
        raise ValidationError(f"cannot count issues by {list(columns)!r}; choose among "
                              f"{', '.join(ISSUE_GROUP_COLUMNS + PSEUDO_COLUMNS)}, each once")
    if unassigned is not None and unassigned not in ASSIGNMENT_KEYS:
        raise ValidationError(f"unassigned={unassigned!r}: expected one of {', '.join(ASSIGNMENT_KEYS)}")
    where = where or IssueFilter()
    condition, params = issue_where(jurisdiction_code, where)
    if "bin" in columns:
        if time_bin is None or not isinstance(time_bin[0], datetime) or not (
                isinstance(time_bin[1], int) and time_bin[1] >= 1):
            raise ValidationError(f"time_bin={time_bin!r}: counting by bin needs (start datetime, days >= 1)")
        params.update(bin_start=time_bin[0], bin_days=time_bin[1])
        condition += " AND t.reported_at >= :bin_start"
    if {"gx", "gy"} & set(columns):
        if grid_deg is None or not 0 < grid_deg <= 10:
            raise ValidationError(f"grid_deg={grid_deg!r}: counting by grid square needs a side of 0…10 degrees")
        params["grid_deg"] = float(grid_deg)
    if unassigned is not None:
        condition += f" AND t.{unassigned} IS NULL"

    def run(conn: Connection) -> list:
        # with a bbox the R*Tree leads
        index = None if where.bbox is not None else sqlite_index(where, columns)
        source, full = _source_where(conn, "issues", condition, where.bbox, points=True, index=index)
        keys = [_expression(conn, c) for c in columns]
        nonnull = "" if with_nulls else " ".join(f"AND {key} IS NOT NULL" for key in keys)
        sql = (f"SELECT {', '.join(keys)}, count(*) FROM {source} WHERE {full} {nonnull} "
               f"GROUP BY {', '.join(keys)}")
        return conn.execute(text(sql), params).fetchall()

    rows = _with_conn(bind, run)
    values = list(zip(*rows)) or [()] * (len(columns) + 1)
    if len(columns) == 1:
        index = pd.Index(values[0], name=columns[0])
    else:
        index = pd.MultiIndex.from_arrays([list(v) for v in values[:-1]], names=list(columns))
    return pd.Series(list(values[-1]), index=index, name="count", dtype="int64")


def newest_issues_by(
    bind: Engine | Connection,
    by: str,
    *,
    jurisdiction_code: str,
    where: IssueFilter | None = None,
    per: int = 2,
    columns: Sequence[str] = ("id", "category_code", "reported_at", "address"),
    scan_limit: int | None = None,
) -> pd.DataFrame:
    """The ``per`` most recently reported issues of each value of ``by`` among those that pass ``where``.

    One window query (``ROW_NUMBER() OVER (PARTITION BY by ORDER BY reported_at DESC, id
    DESC)``) reads their ``columns``; timestamps come back as datetime64, text masked as
    everywhere (:func:`geo.store.query_issues`). With ``scan_limit``, when more issues than
    that pass ``where`` (a million open issues), only the ``scan_limit`` most recently
    reported are searched, read backwards through the index of report times: a group whose
    issues are all older gets none.

    Returns
    -------
    pandas.DataFrame
        ``columns`` plus ``by`` of at most ``per`` issues per group (no geometry), by group
        and newest first within each.
    """
    if by not in ISSUE_GROUP_COLUMNS:
        raise ValidationError(f"cannot pick the newest issues by {by!r}; choose one of {', '.join(ISSUE_GROUP_COLUMNS)}")
    if not isinstance(per, int) or not 1 <= per <= 100:
        raise ValidationError(f"per={per!r}: expected 1…100 issues per group")
    unknown = [c for c in columns if c not in ISSUE_READ_COLUMNS]
    if unknown:
        raise ValidationError(f"issues have no column(s) {unknown} to read")
    where = where or IssueFilter()
    condition, params = issue_where(jurisdiction_code, where)
    wanted = list(dict.fromkeys([*columns, by]))

    too_many = scan_limit is not None and count_issues(bind, jurisdiction_code=jurisdiction_code,
                                                       where=where) > scan_limit

    def run(conn: Connection) -> list:
        index = None if where.bbox is not None else (
            "ix_issues_reported_at" if too_many else sqlite_index(where, (by,)))
        source, full = _source_where(conn, "issues", condition, where.bbox, points=True, index=index)
        inner = ", ".join(f"t.{c} AS {c}" for c in dict.fromkeys([*wanted, "id", "reported_at"]))
        rows = f"SELECT {inner} FROM {source} WHERE {full} AND t.{by} IS NOT NULL"
        if too_many:
            rows += f" ORDER BY t.reported_at DESC, t.id DESC LIMIT {int(scan_limit)}"
        sql = (f"SELECT {', '.join('s.' + c for c in wanted)} FROM (SELECT r.*, ROW_NUMBER() OVER "
               f"(PARTITION BY r.{by} ORDER BY r.reported_at DESC, r.id DESC) AS k FROM ({rows}) r) s "
               f"WHERE s.k <= {per} ORDER BY s.{by}, s.reported_at DESC, s.id DESC")
        return conn.execute(text(sql), params).fetchall()

    values = list(zip(*_with_conn(bind, run))) or [()] * len(wanted)
    frame = pd.DataFrame({name: pd.to_datetime(pd.Series(column, dtype=object), format="ISO8601")
                          if name in TIMESTAMP_COLUMNS else pd.Series(column, dtype=object)
                          for name, column in zip(wanted, values)})
    return _masked_text(frame)


__all__ = ["ASSIGNMENT_KEYS", "ISSUE_GROUP_COLUMNS", "PSEUDO_COLUMNS", "count_issues_by", "newest_issues_by"]
