"""Notifications of the closed loop: an outbox filled from the audit trail and the deadlines, sent to webhooks.

What is said, and to whom:

``dispatched``
    an audit event that left the issue dispatched (派遣, 改派, a rework sending it back);
``closed``
    an event that ended the loop (结案, 不予立案, 合并);
``due_soon``
    an issue not yet handled whose deadline comes within ``due_soon_h`` hours;
``overdue``
    an issue not yet handled whose deadline has passed (:func:`geo.loop.metrics.overdue_mask`).

A department's webhook hears of every kind for the issues it is responsible for
(:func:`geo.loop.users.owned_departments`: its own, its children's, the communities'
for 各社区), judged by the department the event recorded. A report's webhook (set
through its tracking token) hears of ``dispatched``, ``overdue`` and ``closed`` of that
report only, in plain words: no department, actor or note, phones never unmasked.

:func:`fill_outbox` reads what happened in the last ``notify_lookback_h`` hours
(older events and deadlines, imported history included, are never announced) and
queues one message per (webhook, event key); the key is unique in the outbox, so
running it again, or in two processes at once, queues nothing twice. Keys:
``event:<audit event id>``, ``due_soon:<issue>:<deadline>``,
``overdue:<issue>:<deadline>:<rework count>`` (a reworked issue can fall overdue again).

:func:`deliver_outbox` POSTs the messages whose time has come
(:func:`geo.io.post_json`): each attempt is first claimed in the database, so two
senders never send one message at once, and a claim lapses after
:data:`CLAIM_HOLD` should its sender die. A refused or unreachable receiver gets the
message again after ``notify_retry_base_s`` seconds, doubling up to
``notify_retry_cap_s``, for as long as it takes: nothing is dropped. Its other messages wait
with it, so one round meets one timeout per receiver that is down, and a receiver gets its
messages in the order they were queued. Delivery is at
least once: a sender that dies between the receiver's answer and recording it sends
that message again, with the same ``X-Citymap-Event`` key, by which a receiver knows it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from geo import io, store
from geo.clock import rfc3339
from geo.errors import NotFoundError, ValidationError
from geo.issue_filter import IssueFilter
from geo.loop.citizen import category_words
from geo.loop.metrics import UNHANDLED_STATUSES
from geo.loop.users import owned_departments
from geo.loop.views import department_names
from geo.loop.workflow import _check_department
from geo.settings import Settings
from geo.statuses import OPEN_STATUSES, STATUS_LABELS, STATUS_PLAIN
from geo.taxonomy import load_taxonomy

KINDS = ("dispatched", "due_soon", "overdue", "closed")
#: the kinds a report's own webhook hears of
CITIZEN_KINDS = ("dispatched", "overdue", "closed")
#: how long a claimed attempt holds its message before another sender may take it
CLAIM_HOLD = timedelta(minutes=5)
#: messages sent per round of :func:`deliver_outbox`
BATCH = 200
_NOTICE_COLUMNS = ("issue_id", "kind", "event_key", "at", "department_code", "note")
_ISSUE_COLUMNS = ("id", "category_code", "status", "address", "description", "deadline_at", "department_code")


@dataclass(frozen=True)
class NotifyReport:
    """What one round did: messages queued, delivered, failed (to be retried) and still waiting."""

    queued: int
    sent: int
    failed: int
    pending: int

    def summary(self) -> str:
        return (f"{self.queued} notifications queued, {self.sent} delivered, {self.failed} failed (to be retried), "
                f"{self.pending} waiting")


def event_notices(events: pd.DataFrame) -> pd.DataFrame:
    """The ``dispatched`` and ``closed`` notices of audit events (:func:`geo.store.read_events_since`)."""
    kind = np.select([events["to_status"].eq("dispatched").to_numpy(), ~events["to_status"].isin(OPEN_STATUSES)],
                     ["dispatched", "closed"], default="")
    notices = events.assign(kind=kind, issue_id=events["issue_id"].astype("int64"),
                            event_key="event:" + events["id"].astype("int64").astype(str))
    return notices.loc[notices["kind"] != "", list(_NOTICE_COLUMNS)].reset_index(drop=True)


def deadline_notices(deadlines: pd.DataFrame, *, now: datetime, due_soon_h: float) -> pd.DataFrame:
    """The ``due_soon`` and ``overdue`` notices of unhandled issues (:func:`geo.store.read_deadlines`) at ``now``."""
    due = pd.to_datetime(deadlines["deadline_at"])
    stamp = due.dt.strftime("%Y%m%dT%H%M%S")
    ids = deadlines["id"].astype("int64").astype(str)
    late = due < pd.Timestamp(now)
    soon = ~late & (due <= pd.Timestamp(now) + pd.Timedelta(hours=due_soon_h))
    notices = pd.DataFrame({
        "issue_id": deadlines["id"].astype("int64"), "kind": np.where(late, "overdue", "due_soon"),
        "event_key": np.where(late, "overdue:" + ids + ":" + stamp + ":" + deadlines["rework_count"].astype(str),
                              "due_soon:" + ids + ":" + stamp),
        "at": due, "department_code": None, "note": None})
    return notices[(late | soon).to_numpy()].reset_index(drop=True)


def _addressed(notices: pd.DataFrame, webhooks: pd.DataFrame, community_codes: list[str]) -> pd.DataFrame:
    """(webhook, notice) pairs: a department's webhook for the issues it owns, a report's for its own notices."""
    departments = webhooks.dropna(subset=["department_code"])
    owned = pd.DataFrame([(w, code) for w, d in zip(departments["id"], departments["department_code"])
                          for code in owned_departments(d, community_codes=community_codes)],
                         columns=["webhook_id", "department_code"])
    by_department = notices.merge(owned, on="department_code").assign(audience="department")
    reports = webhooks.dropna(subset=["issue_id"])[["id", "issue_id"]].rename(columns={"id": "webhook_id"})
    by_report = notices[notices["kind"].isin(CITIZEN_KINDS)].merge(reports.astype({"issue_id": "int64"}),
                                                                   on="issue_id").assign(audience="citizen")
    return pd.concat([by_department, by_report], ignore_index=True)


def _payloads(pairs: pd.DataFrame, issues: pd.DataFrame, names: dict[str, str]) -> pd.Series:
    """The JSON body of each message: the staff's facts for a department, plain words for a citizen."""
    issue = issues.set_index("id").reindex(pairs["issue_id"]).reset_index(drop=True)
    taxonomy = load_taxonomy().categories["name"]
    common = pd.DataFrame({"kind": pairs["kind"], "event": pairs["event_key"], "issue_id": pairs["issue_id"],
                           "at": rfc3339(pairs["at"]), "status": issue["status"],
                           "deadline_at": rfc3339(issue["deadline_at"])})
    department = pairs["department_code"].fillna(issue["department_code"])
    staff = common.assign(status_name=issue["status"].map(STATUS_LABELS), category_code=issue["category_code"],
                          category_name=issue["category_code"].map(taxonomy), department_code=department,
                          department_name=department.map(names), address=issue["address"],
                          description=issue["description"], note=pairs["note"])
    citizen = common.assign(plain=issue["status"].map(STATUS_PLAIN), category=category_words(issue["category_code"]))

    def dumps(frame: pd.DataFrame) -> list[str]:
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        return [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in records]

    staff_mask = (pairs["audience"] == "department").to_numpy()
    body = pd.Series("", index=pairs.index, dtype=object)
    body[staff_mask] = dumps(staff[staff_mask])
    body[~staff_mask] = dumps(citizen[~staff_mask])
    return body


def fill_outbox(engine: Engine, settings: Settings, *, now: datetime) -> int:
    """Queue the notices of the last ``notify_lookback_h`` hours for every webhook they concern; returns how
    many messages were queued (none twice, see the module docstring)."""
    j = settings.jurisdiction_code
    webhooks = store.read_webhooks(engine, jurisdiction_code=j)
    if webhooks.empty:
        return 0
    since = now - timedelta(hours=settings.notify_lookback_h)
    events = store.read_events_since(engine, jurisdiction_code=j, since=since)
    deadlines = store.read_deadlines(engine, jurisdiction_code=j, statuses=UNHANDLED_STATUSES, start=since,
                                     end=now + timedelta(hours=settings.due_soon_h, seconds=1))
    notices = pd.concat([event_notices(events[events["at"] <= now]),
                         deadline_notices(deadlines, now=now, due_soon_h=settings.due_soon_h)],
                        ignore_index=True)
    if notices.empty:
        return 0
    issues = store.query_issues(engine, jurisdiction_code=j, where=IssueFilter(ids=notices["issue_id"].unique().tolist()),
                                columns=_ISSUE_COLUMNS)
    # an event of imported history recorded no department: the issue's
    notices["department_code"] = notices["department_code"].fillna(
        notices["issue_id"].map(issues.set_index("id")["department_code"]))
    communities = store.read_layer(engine, "communities", jurisdiction_code=j)["code"].tolist()
    pairs = _addressed(notices, webhooks, communities)
    done = store.queued_keys(engine, jurisdiction_code=j, since=since)
    fresh = [(w, k) not in done for w, k in zip(pairs["webhook_id"], pairs["event_key"])]
    pairs = pairs[fresh].reset_index(drop=True)
    if pairs.empty:
        return 0
    messages = pairs.assign(payload=_payloads(pairs, issues, department_names(engine, settings)))
    return store.enqueue_notifications(engine, messages, jurisdiction_code=j, now=now)


def retry_delay(attempts: int, *, base_s: float, cap_s: float) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: ``base_s`` doubling each time, at most ``cap_s``."""
    return timedelta(seconds=min(cap_s, base_s * 2.0 ** min(max(attempts - 1, 0), 40)))


def deliver_outbox(engine: Engine, settings: Settings, *, now: datetime, limit: int = BATCH) -> tuple[int, int]:
    """POST the messages due at ``now`` (at most ``limit``); returns (delivered, failed attempts).

    After a failure, the other messages of that webhook wait as long as the failed one. The
    round's ``now`` is the time of each attempt (delivered, or the start of the wait to the next).
    """
    j = settings.jurisdiction_code
    sent = failed = 0
    down: set[int] = set()
    for message in store.due_notifications(engine, jurisdiction_code=j, now=now, limit=limit).itertuples():
        # one failure a round per receiver: its other messages wait with the failed one (and stay in their
        # order) instead of each waiting out the timeout of a receiver that is down
        if message.webhook_id in down or not store.claim_notification(
                engine, message.id, attempts=message.attempts, until=now + CLAIM_HOLD):
            continue
        try:
            io.post_json(message.url, message.payload.encode("utf-8"), secret=message.secret,
                         event_key=message.event_key, timeout_s=settings.notify_timeout_s)
        except io.DeliveryFailed as exc:
            retry_at = now + retry_delay(message.attempts + 1, base_s=settings.notify_retry_base_s,
                                         cap_s=settings.notify_retry_cap_s)
            store.finish_notification(engine, message.id, error=str(exc), retry_at=retry_at)
            store.defer_notifications(engine, message.webhook_id, until=retry_at)
            down.add(message.webhook_id)
            failed += 1
        else:
            store.finish_notification(engine, message.id, delivered_at=now)
            sent += 1
    return sent, failed


def run_notifications(engine: Engine, settings: Settings, *, now: datetime) -> NotifyReport:
    """One round: :func:`fill_outbox`, then :func:`deliver_outbox`; what ``citymap notify run`` does."""
    queued = fill_outbox(engine, settings, now=now)
    sent, failed = deliver_outbox(engine, settings, now=now)
    pending = len(store.read_notifications(engine, jurisdiction_code=settings.jurisdiction_code, pending_only=True))
    return NotifyReport(queued=queued, sent=sent, failed=failed, pending=pending)


def set_webhook(engine: Engine, settings: Settings, url: str, *, now: datetime, department_code: str | None = None,
                token: str | None = None) -> str:
    """Send a department's notifications, or those of the report with tracking ``token``, to ``url``; returns
    the webhook's signing secret.

    Raises
    ------
    geo.errors.ValidationError
        A URL that is no http(s) URL, an unknown department, neither or both targets.
    geo.errors.NotFoundError
        No report has that token.
    """
    url = io.check_webhook_url(url)
    return store.set_webhook(engine, url, jurisdiction_code=settings.jurisdiction_code, now=now,
                             **_target(engine, settings, department_code, token))


def remove_webhook(engine: Engine, settings: Settings, *, department_code: str | None = None,
                   token: str | None = None) -> int:
    """Stop the notifications of a department or of the report with tracking ``token``; returns 1 or 0."""
    return store.remove_webhook(engine, jurisdiction_code=settings.jurisdiction_code,
                                **_target(engine, settings, department_code, token))


def _target(engine: Engine, settings: Settings, department_code: str | None, token: str | None) -> dict:
    if (department_code is None) == (token is None):
        raise ValidationError("give a department (--department) or a report's tracking token (--token), not both")
    if department_code is not None:
        return {"department_code": _check_department(department_code)}
    issue_id = store.receipt_issue(engine, token, jurisdiction_code=settings.jurisdiction_code)
    if issue_id is None:
        raise NotFoundError("no report has that tracking token")
    return {"issue_id": issue_id}
