"""The closed loop's rows: an issue's state under a row lock, its events, its photos, the
departments' requests (退回, 延期) and the issues merged into another.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd
import shapely
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from geo.errors import ValidationError
from geo.privacy import mask_phones
from geo.store import models
from geo.store.base import (
    LIFECYCLE_EVENTS,
    _geom_from_wkb,
    _in_clause,
    _masked_text,
    _read_plain,
    _records,
    _with_conn,
)
from geo.store.db import is_sqlite, write_tx

#: issue columns geo.loop.workflow reads before a transition
ISSUE_STATE_COLUMNS = ("id", "jurisdiction_code", "status", "department_code", "category_code", "merged_into",
                       "deadline_at", "deadline_provisional")


def issue_state(conn: Connection, issue_id: int) -> dict | None:
    """The workflow columns of one issue (:data:`ISSUE_STATE_COLUMNS`), or None if there is no such issue."""
    row = conn.execute(text(f"SELECT {', '.join(ISSUE_STATE_COLUMNS)} FROM issues WHERE id = :id"),
                       {"id": int(issue_id)}).mappings().first()
    return None if row is None else dict(row)


def lock_row(conn: Connection, table: str, row_id: int, columns: Sequence[str]) -> dict | None:
    """Read ``columns`` of the row ``id = row_id`` of ``table`` and hold it until the transaction ends.

    For a read-modify-write inside :func:`geo.store.db.write_tx`: on PostgreSQL this is
    ``SELECT … FOR UPDATE``, so a second transaction locking the same row waits here
    until the first commits and then reads the committed value (a plain ``SELECT``
    would read the old one and its update would overwrite the other's); on SQLite,
    where ``write_tx`` already admits one writer at a time, a plain ``SELECT``.
    Returns the values by column name, or None when there is no such row.

    A row in a partition on another server (``geo.store.partitions``) that another
    transaction changed while this one waited cannot be read anew (postgres_fdw's
    REPEATABLE READ fails instead): it is read as this transaction first saw it, and the
    write that depends on it must be conditional (:func:`update_issue_if_status`), which
    then finds the race lost.
    """
    if table not in models.Base.metadata.tables:
        raise ValidationError(f"no table {table!r}")
    known = models.Base.metadata.tables[table].columns
    unknown = [c for c in columns if c not in known or c == "geom"]
    if unknown or "id" not in known or not columns:
        raise ValidationError(f"cannot lock columns {list(columns)!r} of {table}: it has {[c.name for c in known]}")
    select = f"SELECT {', '.join(columns)} FROM {table} WHERE id = :id"
    params = {"id": int(row_id)}
    if is_sqlite(conn):
        row = conn.execute(text(select), params).mappings().first()
        return None if row is None else dict(row)
    try:
        with conn.begin_nested():
            row = conn.execute(text(select + " FOR UPDATE"), params).mappings().first()
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != _SERIALIZATION_FAILURE:
            raise
        row = conn.execute(text(select), params).mappings().first()
    return None if row is None else dict(row)


def update_issue_if_status(conn: Connection, issue_id: int, *, expected_status: str, values: dict,
                           increment_rework: bool = False, jurisdiction_code: str | None = None) -> int:
    """``UPDATE issues SET … WHERE id = :id AND status = :expected``; returns the rowcount (0: lost a race).

    ``values`` maps issue columns to new values (None clears); ``increment_rework`` adds 1 to ``rework_count``.
    With the issue's ``jurisdiction_code`` the update names its partition (or Citus shard): one is written
    instead of every one being looked into (docs/scaling.md).
    """
    unknown = [c for c in values if c not in models.Issue.__table__.columns or c in ("id", "geom")]
    if unknown:
        raise ValidationError(f"issues have no updatable column(s) {unknown}")
    sets = [f"{c} = :v_{c}" for c in values] + (["rework_count = rework_count + 1"] if increment_rework else [])
    params = {f"v_{c}": v for c, v in values.items()} | {"id": int(issue_id), "expected": expected_status,
                                                         "j": jurisdiction_code}
    where = "id = :id AND status = :expected" + (" AND jurisdiction_code = :j" if jurisdiction_code else "")
    statement = text(f"UPDATE issues SET {', '.join(sets)} WHERE {where}")
    if is_sqlite(conn):
        return conn.execute(statement, params).rowcount
    # An issue in a partition on another server (geo.store.partitions) is updated there in a REPEATABLE
    # READ transaction (postgres_fdw's): a change that came first makes it fail instead of match no row.
    # Either way the race is lost; the savepoint keeps the caller's transaction usable.
    try:
        with conn.begin_nested():
            return conn.execute(statement, params).rowcount
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) != _SERIALIZATION_FAILURE:
            raise
        return 0


#: PostgreSQL's SQLSTATE of a transaction that saw a row change under it
_SERIALIZATION_FAILURE = "40001"


def insert_issue_event(conn: Connection, event: dict, *, lon: float | None = None, lat: float | None = None) -> int:
    """Write one audit event (``issue_events``) and return its id; the position is optional (both or neither).

    The event records the issue's department as the step left it (``department_code``: whom a
    dispatch sent it to), read from the issue row in the same statement.
    """
    columns = ("jurisdiction_code", "issue_id", "at", "actor", "action", "from_status", "to_status", "note", "photo")
    params = {c: event.get(c) for c in columns}
    if lon is None:
        geom = "NULL"
    else:
        params["wkb"] = shapely.to_wkb(shapely.points(float(lon), float(lat)))
        geom = _geom_from_wkb(conn, "wkb")
    return conn.execute(text(f"INSERT INTO issue_events ({', '.join(columns)}, department_code, geom) "
                             f"VALUES ({', '.join(':' + c for c in columns)}, "
                             f"(SELECT department_code FROM issues WHERE id = :issue_id), {geom}) RETURNING id"),
                        params).scalar_one()


def count_issue_events(bind: Engine | Connection, issue_ids: Sequence[int], *, action: str) -> pd.Series:
    """How many events of ``action`` each of ``issue_ids`` has (those without any are left out), in SQL."""
    params: dict[str, object] = {"a": action}
    clause = _in_clause("issue_id", [int(i) for i in issue_ids], params, "i")[0]
    rows = _with_conn(bind, lambda conn: conn.execute(text(
        f"SELECT issue_id, count(*) FROM issue_events WHERE action = :a AND {clause} GROUP BY issue_id"),
        params).fetchall())
    return pd.Series({int(i): int(n) for i, n in rows}, name="count", dtype="int64").rename_axis("issue_id")


def read_issue_events(bind: Engine | Connection, issue_id: int) -> pd.DataFrame:
    """The audit trail of one issue, oldest first: ``id``, ``at``, ``actor``, ``action``, ``from_status``,
    ``to_status``, ``note`` (phone numbers masked), ``photo``, ``department_code`` (the issue's after the
    step; None on imported history), ``lon``, ``lat`` (NaN without a position).

    The steps the issue had taken when it was imported (``imported_lifecycles``) come
    first among events of the same time, as events of the import's actor without an
    ``id`` of their own: one per step time given, each from the step before it in the
    loop, and a refusal or merge.
    """
    imported, previous = [], "reported"
    for step, (column, action, status) in enumerate(LIFECYCLE_EVENTS):
        imported.append(f"SELECT NULL, l.{column}, b.actor, '{action}', '{previous}', '{status}', NULL, NULL, NULL, "
                        f"NULL, NULL, {step} {_IMPORTED} AND l.{column} IS NOT NULL")
        previous = status
    imported.append("SELECT NULL, l.ended_at, b.actor, CASE l.ended WHEN 'refused' THEN 'refuse' ELSE 'merge' END, "
                    f"'reported', l.ended, NULL, NULL, NULL, NULL, NULL, {len(LIFECYCLE_EVENTS)} {_IMPORTED} "
                    "AND l.ended IS NOT NULL")
    columns = ["id", "at", "actor", "action", "from_status", "to_status", "note", "photo", "department_code", "lon",
               "lat"]

    def run(conn: Connection) -> pd.DataFrame:
        rows = conn.execute(text(
            "SELECT id, at, actor, action, from_status, to_status, note, photo, department_code, ST_X(geom), "
            f"ST_Y(geom), {len(LIFECYCLE_EVENTS) + 1} AS step FROM issue_events WHERE issue_id = :i UNION ALL "
            + " UNION ALL ".join(imported) + " ORDER BY 2, 12, 1"), {"i": int(issue_id)}).fetchall()
        frame = pd.DataFrame([tuple(row)[:len(columns)] for row in rows], columns=columns)
        frame["at"] = pd.to_datetime(frame["at"], format="ISO8601")
        frame["id"] = frame["id"].astype("Int64")
        return _masked_text(frame.astype({"lon": "float64", "lat": "float64"}))

    return _with_conn(bind, run)


#: an issue's imported lifecycle with the actor of the import that brought it (the issue ``:i``)
_IMPORTED = ("FROM imported_lifecycles l JOIN issues i ON i.id = l.issue_id "
             "JOIN import_batches b ON b.id = i.import_batch_id WHERE l.issue_id = :i")


PHOTO_COLUMNS = ("issue_id", "file", "content_type", "size_bytes", "uploaded_by", "at", "kind")


def insert_issue_photos(engine: Engine, photos: pd.DataFrame, *, jurisdiction_code: str) -> int:
    """Record stored photo files (:data:`PHOTO_COLUMNS`; ``kind`` optional: ``report``, ``before``, ``after``,
    ``verify`` of :data:`geo.loop.workflow.PHOTO_KINDS`, None when unsaid) of issues; returns how many."""
    missing = [c for c in PHOTO_COLUMNS if c not in photos and c != "kind"]
    if missing:
        raise ValidationError(f"photos lack column(s) {missing}")
    if photos.empty:
        return 0
    frame = photos.reindex(columns=list(PHOTO_COLUMNS)).assign(jurisdiction_code=jurisdiction_code)
    # the drivers take Python datetimes, not pandas Timestamps
    frame["at"] = pd.Series(pd.to_datetime(frame["at"]).dt.to_pydatetime(), index=frame.index, dtype=object)
    rows = _records(frame)
    with write_tx(engine) as conn:
        conn.execute(text(f"INSERT INTO issue_photos (jurisdiction_code, {', '.join(PHOTO_COLUMNS)}) "
                          f"VALUES (:jurisdiction_code, {', '.join(':' + c for c in PHOTO_COLUMNS)})"), rows)
    return len(rows)


def read_issue_photos(bind: Engine | Connection, *, issue_id: int | None = None, file: str | None = None) -> pd.DataFrame:
    """Photos of one issue, or the record of one photo file (:data:`PHOTO_COLUMNS`), oldest first."""
    if (issue_id is None) == (file is None):
        raise ValidationError("give either issue_id or file")
    where, params = ("issue_id = :v", {"v": int(issue_id)}) if file is None else ("file = :v", {"v": file})
    frame = _read_plain(bind, f"SELECT {', '.join(PHOTO_COLUMNS)} FROM issue_photos WHERE {where} ORDER BY at, id",
                        params, PHOTO_COLUMNS)
    frame["at"] = pd.to_datetime(frame["at"], format="ISO8601")
    return frame


REQUEST_COLUMNS = ("id", "issue_id", "kind", "days", "note", "department_code", "asked_by", "asked_at", "status",
                   "answered_by", "answered_at", "answer_note")
_REQUEST_STATUSES = ("granted", "refused", "lapsed")


def pending_request(conn: Connection, issue_id: int) -> dict | None:
    """The pending request (退回 or 延期) of an issue (:data:`REQUEST_COLUMNS`), or None."""
    row = conn.execute(text(f"SELECT {', '.join(REQUEST_COLUMNS)} FROM issue_requests "
                            "WHERE issue_id = :i AND status = 'pending'"), {"i": int(issue_id)}).mappings().first()
    return None if row is None else dict(row)


def insert_request(conn: Connection, request: dict) -> int:
    """Open a pending request (``jurisdiction_code``, ``issue_id``, ``kind``, ``days``, ``note``,
    ``department_code``, ``asked_by``, ``asked_at``, ``ask_event_id``); returns its id.

    A unique index admits one pending request per issue: a second one raises IntegrityError.
    """
    columns = ("jurisdiction_code", "issue_id", "kind", "days", "note", "department_code", "asked_by", "asked_at",
               "ask_event_id")
    return conn.execute(text(f"INSERT INTO issue_requests ({', '.join(columns)}, status) "
                             f"VALUES ({', '.join(':' + c for c in columns)}, 'pending') RETURNING id"),
                        {c: request.get(c) for c in columns}).scalar_one()


def answer_request(conn: Connection, request_id: int, *, status: str, by: str, at, note: str | None,
                   event_id: int) -> None:
    """Close a pending request as ``granted``, ``refused`` or ``lapsed`` (by whom, when, why, which event)."""
    if status not in _REQUEST_STATUSES:
        raise ValidationError(f"request status {status!r} is not one of {', '.join(_REQUEST_STATUSES)}")
    done = conn.execute(text("UPDATE issue_requests SET status = :s, answered_by = :by, answered_at = :at, "
                             "answer_note = :note, answer_event_id = :e WHERE id = :id AND status = 'pending'"),
                        {"s": status, "by": by, "at": at, "note": note, "e": event_id, "id": int(request_id)}).rowcount
    if done != 1:
        raise ValidationError(f"request {request_id} is not pending")


def read_requests(bind: Engine | Connection, *, jurisdiction_code: str, issue_ids: Sequence[int] | None = None,
                  pending_only: bool = False) -> pd.DataFrame:
    """Requests (:data:`REQUEST_COLUMNS`) of some issues or of all, oldest first; phone numbers in both notes masked."""
    params: dict[str, object] = {"j": jurisdiction_code}
    clauses = ["jurisdiction_code = :j", *_in_clause("issue_id", None if issue_ids is None else
                                                     [int(i) for i in issue_ids], params, "i")]
    if pending_only:
        clauses.append("status = 'pending'")
    frame = _read_plain(bind, f"SELECT {', '.join(REQUEST_COLUMNS)} FROM issue_requests WHERE {' AND '.join(clauses)} "
                              "ORDER BY asked_at, id", params, REQUEST_COLUMNS)
    for column in ("asked_at", "answered_at"):
        frame[column] = pd.to_datetime(frame[column], format="ISO8601")
    frame = frame.astype({"id": "int64", "issue_id": "int64", "days": "Int64"})
    answers = frame["answer_note"]
    frame["answer_note"] = mask_phones(answers).astype(object).where(answers.notna(), None)
    return _masked_text(frame)


def count_pending_requests(bind: Engine | Connection, *, jurisdiction_code: str,
                           departments: Sequence[str] | None = None) -> int:
    """How many requests wait for the dispatcher's answer (of issues of ``departments``, None: all), in SQL."""
    params: dict[str, object] = {"j": jurisdiction_code}
    clauses = ["r.jurisdiction_code = :j", "r.status = 'pending'",
               *_in_clause("i.department_code", departments, params, "d")]
    sql = text(f"SELECT count(*) FROM issue_requests r JOIN issues i ON i.id = r.issue_id WHERE {' AND '.join(clauses)}")
    return int(_with_conn(bind, lambda conn: conn.execute(sql, params).scalar_one()))


def read_merged_into(bind: Engine | Connection, issue_id: int) -> pd.DataFrame:
    """The issues merged into ``issue_id`` as its duplicates: ``id``, ``category_code``, ``reported_at``, oldest first."""
    frame = _read_plain(bind, "SELECT id, category_code, reported_at FROM issues WHERE merged_into = :i "
                              "ORDER BY reported_at, id", {"i": int(issue_id)}, ("id", "category_code", "reported_at"))
    frame["reported_at"] = pd.to_datetime(frame["reported_at"], format="ISO8601")
    return frame
