"""The issues table: inserting an import, assignment updates, filtered reads and counts.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator, Sequence

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, text

from geo.clock import local_now
from geo.crs import WGS84
from geo.errors import NotFoundError, ValidationError
from geo.issue_filter import IssueFilter
from geo.privacy import PHONE_REFUSED, mask_phone, normalise_phones
from geo.store import models
from geo.store.base import (
    CONTACT_COLUMNS,
    LIFECYCLE_EVENTS,
    STORED_ISSUE_COLUMNS,
    TIMESTAMP_COLUMNS,
    _count,
    _in_clause,
    _masked_text,
    _read_geo,
    _records,
    _with_conn,
)
from geo.store import bulk
from geo.store.bulk import z_order
from geo.store.db import write_tx


@dataclass(frozen=True)
class LoadResult:
    """What an issue load did: rows inserted, rows already present (same source + id)."""

    batch_id: int
    inserted: int
    skipped: int


#: the issues' unique key (an index: a large load may drop it and build it again)
ISSUE_KEY = ("jurisdiction_code", "source", "external_id")
_ISSUE_KEY_INDEX = "uq_issue_source_external_id"


def insert_issues(
    engine: Engine,
    issues: gpd.GeoDataFrame,
    *,
    jurisdiction_code: str,
    file: str,
    actor: str,
    rows_rejected: int = 0,
) -> LoadResult:
    """Insert validated, assigned issues in one transaction; idempotent on (source, external_id).

    Parameters
    ----------
    issues : GeoDataFrame
        Points in EPSG:4326 with the columns of :data:`STORED_ISSUE_COLUMNS` that apply
        (missing optional ones are stored as NULL), plus the reporter's contact
        (:data:`CONTACT_COLUMNS`: ``phone``, ``email``, ``reporter_name``), stored apart
        in ``reporter_contacts``; the phone normalised (a value that is not a phone
        number refuses the load). An issue whose source and external id are already
        stored, or repeat an earlier row, is left as it is and counted as skipped.
        The new issues are numbered along a Z curve of their points (:func:`z_order`),
        not in row order. Lifecycle times (``registered_at`` … ``closed_at``) and a
        ``refused`` or ``merged`` status are kept as the issue's imported history
        (``imported_lifecycles``), read back as its first audit events.
    file, actor : str
        Recorded on the import batch row (the audit of the load).
    rows_rejected : int
        How many rows validation refused, for the batch record.

    Returns
    -------
    LoadResult
    """
    with load_issues(engine, jurisdiction_code=jurisdiction_code, file=file, actor=actor,
                     rows_expected=len(issues)) as load:
        load.add(issues)
        load.rows_rejected = rows_rejected
    return load.result


@contextmanager
def load_issues(engine: Engine, *, jurisdiction_code: str, file: str, actor: str,
                rows_expected: int) -> Iterator[IssueLoad]:
    """An import of issues in chunks, all in one transaction: what :func:`insert_issues` does for one frame.

    The block adds chunks (:meth:`IssueLoad.add`); when it ends, the load is committed and
    :attr:`IssueLoad.result` says what it did; when it raises, nothing of it is left.

    Parameters
    ----------
    rows_expected : int, keyword-only
        About how many rows the chunks hold together. From
        :data:`~geo.store.bulk.REBUILD_INDEXES_ROWS` on, the tables' indexes are dropped
        at the start and built again at the end; the issues' unique key stays when the
        jurisdiction already has issues, for the look-up of keys stored before.
    """
    with write_tx(engine) as conn:
        batch_id = conn.execute(
            text("INSERT INTO import_batches (jurisdiction_code, file, actor, at, rows_loaded, rows_skipped, rows_rejected) "
                 "VALUES (:j, :f, :a, :at, 0, 0, 0) RETURNING id"),
            {"j": jurisdiction_code, "f": file, "a": actor, "at": local_now()},
        ).scalar_one()
        bulk.lock_for_load(conn, "issues")
        stored_before = conn.execute(text("SELECT 1 FROM issues WHERE jurisdiction_code = :j LIMIT 1"),
                                     {"j": jurisdiction_code}).first() is not None
        rebuild = rows_expected >= bulk.REBUILD_INDEXES_ROWS
        with bulk.bulk_load(conn, "issues", point=True, rebuild_indexes=rebuild,
                            keep_indexes=(_ISSUE_KEY_INDEX,) if stored_before else ()) as issue_rows, \
                bulk.bulk_load(conn, "reporter_contacts", rebuild_indexes=rebuild) as contact_rows, \
                bulk.bulk_load(conn, "imported_lifecycles", rebuild_indexes=rebuild):
            load = IssueLoad(issue_rows, contact_rows, batch_id=batch_id, jurisdiction_code=jurisdiction_code,
                             check_stored=stored_before)
            yield load
        conn.execute(text("UPDATE import_batches SET rows_loaded = :n, rows_skipped = :s, rows_rejected = :r "
                          "WHERE id = :b"),
                     {"n": load.inserted, "s": load.skipped, "r": load.rows_rejected, "b": batch_id})
    load.result = LoadResult(batch_id=batch_id, inserted=load.inserted, skipped=load.skipped)


class IssueLoad:
    """The issues of one import, stored a chunk at a time (:func:`load_issues`)."""

    def __init__(self, issue_rows: bulk.BulkLoad, contact_rows: bulk.BulkLoad, *, batch_id: int,
                 jurisdiction_code: str, check_stored: bool) -> None:
        self._issues, self._contacts = issue_rows, contact_rows
        self.batch_id, self.jurisdiction_code = batch_id, jurisdiction_code
        self._check_stored = check_stored
        self.inserted = self.skipped = self.rows_rejected = 0
        self.result: LoadResult | None = None

    def add(self, issues: gpd.GeoDataFrame) -> int:
        """Store a chunk of issues (as :func:`insert_issues` takes them); returns how many were new.

        A key stored before the load, or given earlier in this chunk, is skipped. A
        key of an earlier chunk should not come again (the caller sees to it, as
        :func:`geo.io.iter_issue_file` does): it is skipped when the unique index was
        kept, and otherwise the index, built again at the end, refuses the whole load. The chunk's issues are numbered along a Z curve of their
        points; their reporters' contacts and, for lifecycle times, their audit events
        are written with them.
        """
        frame = _issue_frame(issues, jurisdiction_code=self.jurisdiction_code)
        rows_given = len(frame)
        # A repeated case keeps its first row; then the chunk is numbered and stored along a Z
        # curve, so that issues near each other on the map sit on neighbouring pages: a bbox
        # query of 1,000 issues out of 1M reads a few dozen pages per chunk instead of ~1,000.
        frame = frame[~frame.duplicated(["source", "external_id"])]
        if self._check_stored:
            frame = bulk.not_yet_stored(self._issues.conn, "issues", frame, ISSUE_KEY)
        frame = frame.iloc[z_order(frame["lon"], frame["lat"])].reset_index(drop=True)
        frame["import_batch_id"] = self.batch_id
        new = self._issues.insert(frame, (*STORED_ISSUE_COLUMNS, "import_batch_id"))
        new = new.rename(columns={"id": "issue_id"})
        given = {column: CONTACT_COLUMNS[column] for column in CONTACT_COLUMNS if column in new}
        if given:
            values = pd.DataFrame({stored: new[column].astype("string").str.strip() for column, stored in given.items()})
            keep = (values.fillna("") != "").any(axis=1)
            contacts = new.loc[keep, ["issue_id", "jurisdiction_code"]].assign(**values[keep])
            self._contacts.insert(contacts, ("issue_id", "jurisdiction_code", *given.values()))
        if len(new):
            _write_imported_lifecycles(self._issues.conn, batch_id=self.batch_id,
                                       ids=(int(new["issue_id"].min()), int(new["issue_id"].max())))
        self.inserted += len(new)
        self.skipped += rows_given - len(new)
        return len(new)


def _issue_frame(issues: gpd.GeoDataFrame, *, jurisdiction_code: str) -> pd.DataFrame:
    """Issues as the rows ``issues`` stores: every stored column, phone normalised, ``lon``/``lat`` of the points."""
    if issues.crs is None or not issues.crs.equals(WGS84):
        raise ValidationError(f"issues must be EPSG:4326, got {issues.crs}")
    if (issues.geom_type != "Point").any() or shapely.is_empty(issues.geometry.values).any():
        raise ValidationError("issues must be non-empty points")
    frame = pd.DataFrame(issues.drop(columns=issues.geometry.name)).reset_index(drop=True)
    frame["jurisdiction_code"] = jurisdiction_code
    for column in STORED_ISSUE_COLUMNS:
        if column not in frame:
            frame[column] = None
    if "phone" in frame:
        # the importers refuse a bad phone row by row; this is the last guard of what is stored
        phone, invalid = normalise_phones(frame["phone"])
        if invalid.any():
            bad = frame.loc[invalid, ["external_id", "phone"]].iloc[0]
            raise ValidationError(f"issue {bad['external_id']!r}: phone {mask_phone(str(bad['phone'])[:60])!r} "
                                  f"{PHONE_REFUSED}")
        frame["phone"] = phone
    frame["rework_count"] = pd.to_numeric(frame["rework_count"], errors="coerce").fillna(0).astype(int)
    frame["deadline_provisional"] = frame["deadline_provisional"].astype("boolean").fillna(False).astype(bool)
    # a report with no lifecycle yet (a 12345 export, a web form) starts the loop at 上报
    frame["status"] = frame["status"].astype(object).where(frame["status"].notna(), "reported")
    for column in TIMESTAMP_COLUMNS:
        frame[column] = pd.to_datetime(frame[column])
    frame["lon"] = issues.geometry.x.to_numpy()
    frame["lat"] = issues.geometry.y.to_numpy()
    return frame


def _write_imported_lifecycles(conn: Connection, *, batch_id: int, ids: tuple[int, int]) -> None:
    """The lifecycle the issues ``ids`` (first, last) of a batch were imported with, one ``imported_lifecycles`` row each.

    Written by the database from the rows just stored (no row goes through Python), for
    the issues with a lifecycle time or that the import ended (refused, merged: at the
    later of the report and the registration). :func:`geo.store.read_issue_events` reads
    them as the events they stand for.
    """
    times = [column for column, _, _ in LIFECYCLE_EVENTS]
    ended = "status IN ('refused', 'merged')"
    conn.execute(text(
        f"INSERT INTO imported_lifecycles (issue_id, jurisdiction_code, {', '.join(times)}, ended, ended_at) "
        f"SELECT id, jurisdiction_code, {', '.join(times)}, CASE WHEN {ended} THEN status END, "
        f"CASE WHEN {ended} THEN CASE WHEN registered_at > reported_at THEN registered_at ELSE reported_at END END "
        "FROM issues WHERE import_batch_id = :b AND id BETWEEN :first AND :last "
        f"AND ({' OR '.join(f'{column} IS NOT NULL' for column in times)} OR {ended})"),
        {"b": batch_id, "first": ids[0], "last": ids[1]})


ASSIGNMENT_COLUMNS = ("cell_code", "segment_id", "segment_dist_m", "compound_code", "community_code", "grid_code",
                      "zone_code", "department_code")


def update_assignment(engine: Engine, assignment: pd.DataFrame) -> int:
    """Overwrite the assignment columns of existing issues in one transaction.

    ``assignment`` has ``id`` (issue id) and :data:`ASSIGNMENT_COLUMNS`.
    """
    missing = [c for c in ("id", *ASSIGNMENT_COLUMNS) if c not in assignment]
    if missing:
        raise ValidationError(f"assignment lacks column(s) {missing}")
    sets = ", ".join(f"{c} = :{c}" for c in ASSIGNMENT_COLUMNS)
    with write_tx(engine) as conn:
        conn.execute(text(f"UPDATE issues SET {sets} WHERE id = :id"),
                     _records(assignment[["id", *ASSIGNMENT_COLUMNS]]))
    return len(assignment)


ISSUE_READ_COLUMNS = ("id", "source", "external_id", "category_code", "description", "address", "status",
                      "reported_at", "closed_at", "deadline_at", "deadline_provisional", "cell_code", "segment_id",
                      "compound_code", "community_code", "grid_code", "zone_code", "department_code")


def query_issues(
    bind: Engine | Connection,
    *,
    jurisdiction_code: str,
    where: IssueFilter | None = None,
    limit: int | None = None,
    offset: int = 0,
    columns: Sequence[str] = ISSUE_READ_COLUMNS,
    newest_first: bool = False,
    due_first: bool = False,
    spatial_index: bool = True,
) -> gpd.GeoDataFrame:
    """Issues of a jurisdiction as points (EPSG:4326), those that pass ``where`` (default: all).

    The filter becomes SQL (:func:`issue_where`); its bbox uses the spatial index.
    ``columns`` are the ``issues`` columns returned (default :data:`ISSUE_READ_COLUMNS`);
    timestamps come back as datetime64, phone numbers in ``description`` and
    ``address`` masked. Rows are in id order, newest report first with
    ``newest_first``, or earliest deadline first (no deadline last) with ``due_first``.
    Without ``spatial_index``, SQLite reads the rows through the index of the filter's
    narrowest criterion (:func:`sqlite_index`, as it does without a bbox and a limit) and
    tests their points against the bbox:
    the faster way when the filter alone matches fewer issues than the bbox holds (the
    few open issues of a city's million); PostgreSQL's planner chooses by itself.
    """
    unknown = [c for c in columns if c not in models.Issue.__table__.columns or c == "geom"]
    if unknown:
        raise ValidationError(f"issues have no column(s) {unknown}")
    where = where or IssueFilter()
    sql, params = issue_where(jurisdiction_code, where)
    return _masked_text(_read_geo(
        bind, "issues", columns, where=sql, params=params, bbox=where.bbox, points=True, limit=limit, offset=offset,
        order_by=issue_order(newest_first=newest_first, due_first=due_first), timestamps=TIMESTAMP_COLUMNS,
        index=_read_index(where, limit=limit, spatial_index=spatial_index)))


def issue_order(*, newest_first: bool = False, due_first: bool = False) -> str:
    """The ORDER BY of issues aliased ``t``: by id, newest report first, or earliest deadline first (none last)."""
    if newest_first and due_first:
        raise ValidationError("choose one order: newest_first or due_first")
    return ("t.reported_at DESC, t.id DESC" if newest_first else
            "t.deadline_at IS NULL, t.deadline_at, t.id" if due_first else "t.id")


def _read_index(where: IssueFilter, *, limit: int | None, spatial_index: bool) -> str | None:
    """The SQLite index :func:`query_issues` reads through: the R*Tree's way with a bbox (unless told
    otherwise); without a limit the filter's (:func:`sqlite_index`) — left to itself SQLite walks the
    table in id order to skip the sort, reading every issue; with a limit the planner's, which may walk
    the order's index and stop early."""
    if where.bbox is not None and spatial_index:
        return None
    if limit is None or not spatial_index:
        return sqlite_index(where.narrowed(bbox=None), ())
    return None


def count_issues(bind: Engine | Connection, *, jurisdiction_code: str, where: IssueFilter | None = None) -> int:
    """How many issues :func:`query_issues` returns with the same filter (no paging), counted in SQL
    (on SQLite through the index of :func:`sqlite_index`, or the R*Tree with a bbox)."""
    where = where or IssueFilter()
    sql, params = issue_where(jurisdiction_code, where)
    index = None if where.bbox is not None else sqlite_index(where, ())
    return _with_conn(bind, lambda conn: _count(conn, "issues", where=sql, params=params, bbox=where.bbox,
                                                points=True, index=index))


def issue_where(jurisdiction_code: str, where: IssueFilter) -> tuple[str, dict]:
    """The SQL condition on the issues table aliased ``t`` (and its parameters) of a filter, bbox aside.

    Major classes of ``categories`` match on the first two digits of the code, as
    :meth:`IssueFilter.mask` does.
    """
    params: dict[str, object] = {"j": jurisdiction_code}
    clauses = ["t.jurisdiction_code = :j", *_in_clause("t.status", where.statuses, params, "status"),
               *_in_clause("t.department_code", where.departments, params, "department_code"),
               *_in_clause("t.community_code", where.communities, params, "community_code"),
               *_in_clause("t.source", where.sources, params, "source"),
               *_in_clause("t.id", where.ids, params, "id"),
               *_in_clause("t.cell_code", where.cells, params, "cell_code"),
               *_in_clause("t.zone_code", where.zones, params, "zone_code"),
               *_in_clause("t.segment_id", where.segments, params, "segment_id")]
    if where.categories is not None:
        codes = [c for c in where.categories if len(c) == 5]
        majors = [c for c in where.categories if len(c) == 2]
        either = [*(_in_clause("t.category_code", codes, params, "category_code") if codes else []),
                  *(_in_clause("substr(t.category_code, 1, 2)", majors, params, "major") if majors else [])]
        clauses.append(f"({' OR '.join(either)})" if either else "1 = 0")
    for column, name, value, operator in (("reported_at", "since", where.since, ">="),
                                          ("reported_at", "until", where.until, "<"),
                                          ("deadline_at", "due_since", where.due_since, ">="),
                                          ("deadline_at", "due_until", where.due_until, "<")):
        if value is not None:
            clauses.append(f"t.{column} {operator} :{name}")
            params[name] = value
    return " AND ".join(clauses), params


def sqlite_index(where: IssueFilter, by: Sequence[str]) -> str | None:
    """The index a SQLite read of ``where`` (grouped ``by`` columns) goes through, or None for the planner's choice.

    The index of the criterion that usually narrows most: a period with a start, the
    states, deadlines from a start, the departments, exact categories, the cells (or a
    count per cell alone); a period with an end only reaches back over the whole history.
    Without statistics SQLite's planner prefers the index of a grouping or ordering
    column, which reads every issue of the table.
    """
    if where.ids is not None:
        return None  # the rowid leads
    if where.since is not None:
        return "ix_issues_reported_at"
    if where.statuses is not None:
        return "ix_issues_status"
    if where.due_since is not None:
        return "ix_issues_deadline_at"
    if where.departments is not None:
        return "ix_issues_department"
    if where.categories is not None and all(len(code) == 5 for code in where.categories):
        return "ix_issues_category"
    if where.cells is not None or tuple(by) == ("cell_code",):
        return "ix_issues_cell"
    return None


def issue_time_range(bind: Engine | Connection, *, jurisdiction_code: str,
                     before: datetime | None = None) -> tuple[datetime, datetime] | None:
    """The first and last ``reported_at`` of a jurisdiction's issues (naive local time), None when none.

    ``before``: of the issues reported before that instant only.
    """
    condition = "" if before is None else " AND reported_at < :before"
    # two subqueries: SQLite reads one end of the index for a lone min() or max(), but scans the
    # jurisdiction's whole range for both in one SELECT (0.5 s at a million issues)
    one = f"FROM issues WHERE jurisdiction_code = :j{condition}"
    row = _with_conn(bind, lambda conn: conn.execute(
        text(f"SELECT (SELECT min(reported_at) {one}), (SELECT max(reported_at) {one})"),
        {"j": jurisdiction_code, "before": before}).one())
    return None if row[0] is None else (pd.Timestamp(row[0]).to_pydatetime(), pd.Timestamp(row[1]).to_pydatetime())


def count_rows(bind: Engine | Connection, table: str, *, jurisdiction_code: str) -> int:
    """Rows of ``table`` (a schema table name) that belong to the jurisdiction."""
    if table not in models.Base.metadata.tables:
        raise NotFoundError(f"no table {table!r}")
    key = "code" if table == "jurisdictions" else "jurisdiction_code"
    sql = text(f"SELECT count(*) FROM {table} WHERE {key} = :j")
    return _with_conn(bind, lambda conn: conn.execute(sql, {"j": jurisdiction_code}).scalar_one())


def issue_id_of(bind: Engine | Connection, *, jurisdiction_code: str, source: str, external_id: str) -> int | None:
    """The id of the issue a source knows by ``external_id`` (an Open311 token, a 12345 case number), or None."""
    return _with_conn(bind, lambda conn: conn.execute(
        text("SELECT id FROM issues WHERE jurisdiction_code = :j AND source = :s AND external_id = :e"),
        {"j": jurisdiction_code, "s": source, "e": external_id}).scalar_one_or_none())
