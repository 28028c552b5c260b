"""Notifications: the webhooks they go to and the outbox that keeps each message until it is delivered.

A webhook belongs to a department (``department_code``) or to one report (``issue_id``,
set through the report's tracking token). The outbox holds one row per (webhook,
event key): the key is unique, so queuing the same event again is a no-op. A row is
delivered by claiming it (its ``attempts`` moves on only if nobody else moved it), then
marked delivered or given a later ``next_at``.
"""

from __future__ import annotations

import secrets
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, Engine, text

from geo.errors import NotFoundError, ValidationError
from geo.store.base import _in_clause, _masked_text, _read_plain, _records, _with_conn
from geo.store.db import write_tx

WEBHOOK_COLUMNS = ("id", "department_code", "issue_id", "url", "created_at")
#: columns of a queued message (:func:`enqueue_notifications` takes the first five)
NOTIFICATION_COLUMNS = ("webhook_id", "issue_id", "kind", "event_key", "payload", "id", "created_at", "attempts",
                        "next_at", "delivered_at", "last_error")
EVENT_COLUMNS = ("id", "issue_id", "at", "action", "from_status", "to_status", "note", "department_code")


def _target(department_code: str | None, issue_id: int | None, params: dict) -> str:
    if (department_code is None) == (issue_id is None):
        raise ValidationError("a webhook is for a department or for one report: give exactly one of them")
    if department_code is not None:
        params["d"] = department_code
        return "department_code = :d"
    params["i"] = int(issue_id)
    return "issue_id = :i"


def set_webhook(engine: Engine, url: str, *, jurisdiction_code: str, now: datetime, department_code: str | None = None,
                issue_id: int | None = None) -> str:
    """Send the notifications of a department or of one report to ``url`` (replacing its earlier URL).

    Returns the webhook's signing secret: a new one for a new webhook, the one it had for a
    changed URL. The caller has checked the URL.
    """
    params: dict[str, object] = {"j": jurisdiction_code}
    where = _target(department_code, issue_id, params)
    with write_tx(engine) as conn:
        if issue_id is not None and conn.execute(text("SELECT 1 FROM issues WHERE id = :i AND jurisdiction_code = :j"),
                                                 params).first() is None:
            raise NotFoundError(f"issue {issue_id} not found")
        row = conn.execute(text(f"SELECT id, secret FROM webhooks WHERE jurisdiction_code = :j AND {where}"),
                           params).first()
        if row is not None:
            conn.execute(text("UPDATE webhooks SET url = :u WHERE id = :id"), {"u": url, "id": row[0]})
            return row[1]
        secret = secrets.token_hex(32)
        conn.execute(text("INSERT INTO webhooks (jurisdiction_code, department_code, issue_id, url, secret, created_at) "
                          "VALUES (:j, :d, :i, :u, :s, :at)"),
                     {"j": jurisdiction_code, "d": department_code, "i": issue_id, "u": url, "s": secret, "at": now})
        return secret


def remove_webhook(engine: Engine, *, jurisdiction_code: str, department_code: str | None = None,
                   issue_id: int | None = None) -> int:
    """Stop the notifications of a department or of one report (and drop its undelivered ones); returns 1 or 0."""
    params: dict[str, object] = {"j": jurisdiction_code}
    where = _target(department_code, issue_id, params)
    with write_tx(engine) as conn:
        return conn.execute(text(f"DELETE FROM webhooks WHERE jurisdiction_code = :j AND {where}"), params).rowcount


def read_webhooks(bind: Engine | Connection, *, jurisdiction_code: str) -> pd.DataFrame:
    """The webhooks of a jurisdiction (:data:`WEBHOOK_COLUMNS`, no secrets): departments first, then reports."""
    frame = _read_plain(bind, f"SELECT {', '.join(WEBHOOK_COLUMNS)} FROM webhooks WHERE jurisdiction_code = :j "
                              "ORDER BY department_code IS NULL, department_code, issue_id",
                        {"j": jurisdiction_code}, WEBHOOK_COLUMNS)
    return frame.astype({"issue_id": "Int64"})


def read_events_since(bind: Engine | Connection, *, jurisdiction_code: str, since: datetime) -> pd.DataFrame:
    """The audit events at or after ``since`` (:data:`EVENT_COLUMNS`, notes' phones masked), oldest first."""
    frame = _read_plain(bind, f"SELECT {', '.join(EVENT_COLUMNS)} FROM issue_events "
                              "WHERE jurisdiction_code = :j AND at >= :since ORDER BY at, id",
                        {"j": jurisdiction_code, "since": since}, EVENT_COLUMNS)
    frame["at"] = pd.to_datetime(frame["at"], format="ISO8601")
    return _masked_text(frame)


def read_deadlines(bind: Engine | Connection, *, jurisdiction_code: str, statuses: tuple[str, ...],
                   start: datetime, end: datetime) -> pd.DataFrame:
    """Issues in ``statuses`` whose deadline lies in ``[start, end)``: ``id``, ``deadline_at``, ``rework_count``."""
    params: dict[str, object] = {"j": jurisdiction_code, "start": start, "end": end}
    where = " AND ".join(["jurisdiction_code = :j", *_in_clause("status", statuses, params, "s"),
                          "deadline_at >= :start", "deadline_at < :end"])
    frame = _read_plain(bind, f"SELECT id, deadline_at, rework_count FROM issues WHERE {where} ORDER BY id", params,
                        ("id", "deadline_at", "rework_count"))
    frame["deadline_at"] = pd.to_datetime(frame["deadline_at"], format="ISO8601")
    return frame


def queued_keys(bind: Engine | Connection, *, jurisdiction_code: str, since: datetime) -> set[tuple[int, str]]:
    """(webhook id, event key) of the messages queued at or after ``since``."""
    rows = _with_conn(bind, lambda conn: conn.execute(text(
        "SELECT webhook_id, event_key FROM notifications WHERE jurisdiction_code = :j AND created_at >= :since"),
        {"j": jurisdiction_code, "since": since}).fetchall())
    return {(int(w), k) for w, k in rows}


def enqueue_notifications(engine: Engine, messages: pd.DataFrame, *, jurisdiction_code: str, now: datetime) -> int:
    """Queue messages (``webhook_id``, ``issue_id``, ``kind``, ``event_key``, ``payload``: JSON text), due at once.

    A (webhook, event key) already queued is left as it is, whoever queued it; returns how
    many were queued now.
    """
    missing = [c for c in NOTIFICATION_COLUMNS[:5] if c not in messages]
    if missing:
        raise ValidationError(f"messages lack column(s) {missing}")
    if messages.empty:
        return 0
    rows = [{**r, "j": jurisdiction_code, "now": now} for r in _records(messages[list(NOTIFICATION_COLUMNS[:5])])]
    queued = 0
    with write_tx(engine) as conn:
        for row in rows:
            queued += conn.execute(text(
                "INSERT INTO notifications (jurisdiction_code, webhook_id, issue_id, kind, event_key, payload, "
                "created_at, attempts, next_at) VALUES (:j, :webhook_id, :issue_id, :kind, :event_key, :payload, "
                # the unique key is (webhook_id, event_key), with the jurisdiction on PostgreSQL (migration 0014):
                # no conflict target, which would have to name it exactly
                ":now, 0, :now) ON CONFLICT DO NOTHING"), row).rowcount
    return queued


def due_notifications(bind: Engine | Connection, *, jurisdiction_code: str, now: datetime,
                      limit: int) -> pd.DataFrame:
    """Undelivered messages whose time has come, oldest first, with their webhook's ``url`` and ``secret``."""
    columns = ("id", "webhook_id", "event_key", "payload", "attempts", "url", "secret")
    return _read_plain(bind, "SELECT n.id, n.webhook_id, n.event_key, n.payload, n.attempts, w.url, w.secret "
                             "FROM notifications n JOIN webhooks w ON w.id = n.webhook_id "
                             "WHERE n.jurisdiction_code = :j AND n.delivered_at IS NULL AND n.next_at <= :now "
                             "ORDER BY n.next_at, n.id LIMIT :n",
                       {"j": jurisdiction_code, "now": now, "n": int(limit)}, columns)


def claim_notification(engine: Engine, notification_id: int, *, attempts: int, until: datetime) -> bool:
    """Take one delivery attempt of a message read with ``attempts``: True if it is ours to send.

    In one statement, the attempt is counted and the message held until ``until``
    (then it is due again, should this sender die); it fails if another sender counted
    an attempt first or the message was delivered meanwhile.
    """
    with write_tx(engine) as conn:
        return conn.execute(text(
            "UPDATE notifications SET attempts = attempts + 1, next_at = :until "
            "WHERE id = :id AND attempts = :seen AND delivered_at IS NULL"),
            {"id": int(notification_id), "seen": int(attempts), "until": until}).rowcount == 1


def finish_notification(engine: Engine, notification_id: int, *, delivered_at: datetime | None = None,
                        retry_at: datetime | None = None, error: str | None = None) -> None:
    """Record a claimed attempt's end: delivered (``delivered_at``), or failed with ``error``, due again at ``retry_at``."""
    if (delivered_at is None) == (retry_at is None):
        raise ValidationError("a delivery attempt ends delivered or to be retried, not both or neither")
    with write_tx(engine) as conn:
        if delivered_at is not None:
            conn.execute(text("UPDATE notifications SET delivered_at = :at, last_error = NULL WHERE id = :id"),
                         {"at": delivered_at, "id": int(notification_id)})
        else:
            conn.execute(text("UPDATE notifications SET next_at = :at, last_error = :e WHERE id = :id"),
                         {"at": retry_at, "e": (error or "")[:2000], "id": int(notification_id)})


def defer_notifications(engine: Engine, webhook_id: int, *, until: datetime) -> int:
    """Make the undelivered messages of a webhook due no earlier than ``until``; returns how many moved."""
    with write_tx(engine) as conn:
        return conn.execute(text("UPDATE notifications SET next_at = :until WHERE webhook_id = :w "
                                 "AND delivered_at IS NULL AND next_at < :until"),
                            {"w": int(webhook_id), "until": until}).rowcount


def read_notifications(bind: Engine | Connection, *, jurisdiction_code: str, issue_id: int | None = None,
                       pending_only: bool = False) -> pd.DataFrame:
    """Queued messages (:data:`NOTIFICATION_COLUMNS`), oldest first."""
    params: dict[str, object] = {"j": jurisdiction_code}
    where = ["jurisdiction_code = :j"]
    if issue_id is not None:
        where.append("issue_id = :i")
        params["i"] = int(issue_id)
    if pending_only:
        where.append("delivered_at IS NULL")
    frame = _read_plain(bind, f"SELECT {', '.join(NOTIFICATION_COLUMNS)} FROM notifications "
                              f"WHERE {' AND '.join(where)} ORDER BY id", params, NOTIFICATION_COLUMNS)
    for column in ("created_at", "next_at", "delivered_at"):
        frame[column] = pd.to_datetime(frame[column], format="ISO8601")
    return frame
