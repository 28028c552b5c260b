"""The database schema: SQLAlchemy 2 / GeoAlchemy2 tables.

This module and :mod:`geo.store.layer_models` (the reference layers' tables, re-exported here) are the
only ones that know table and column names. Geometries are WGS84
lon/lat (SRID 4326). Every row carries ``jurisdiction_code`` (the 9-digit
sub-district code) so that one deployment can serve many sub-districts and a
city-wide PostGIS can be sharded on it (Citus distribution column): which tables are
spread by it, and how their keys include it, is :mod:`geo.store.distribution`.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from geo.store.distribution import of_issue, references
from geo.store.layer_models import (  # noqa: F401 (the schema is one namespace: models.Road, models.Base)
    SRID,
    Base,
    Community,
    Compound,
    ContractorZone,
    Department,
    Jurisdiction,
    ManagementGrid,
    Road,
    RoadSegment,
    UnitCell,
    geometry_column,
)


class ImportBatch(Base):
    """One import: what file, by whom, and what became of its rows."""

    __tablename__ = "import_batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9), primary_key=True, index=True)
    file: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime)
    rows_loaded: Mapped[int] = mapped_column(Integer)
    rows_skipped: Mapped[int] = mapped_column(Integer)
    rows_rejected: Mapped[int] = mapped_column(Integer)


#: a case (registered, neither refused nor merged) not handled — nor, without a handling time, closed — by
#: its deadline: the condition of the partial index ``ix_issues_late``, which a query uses only when its WHERE
#: holds this very text (geo.store.figures.daily_counts); one term without OR, which SQLite's planner can match
LATE_CASE = ("registered_at IS NOT NULL AND status <> 'refused' AND status <> 'merged' "
             "AND COALESCE(COALESCE(handled_at, closed_at) > deadline_at, TRUE)")


class Issue(Base):
    """A geotagged problem and where it belongs (the assignment columns)."""

    __tablename__ = "issues"
    __table_args__ = (
        # An index, not a table constraint: a bulk load drops it and builds it again (migration 0007).
        Index("uq_issue_source_external_id", "jurisdiction_code", "source", "external_id", unique=True),
        # the open issues per cell or segment, their backlog and overdue cases per department or category, and a
        # period's issues per cell and segment, counted from the index alone (geo.store.aggregates, figures;
        # migration 0016)
        Index("ix_issues_status", "jurisdiction_code", "status", "cell_code", "segment_id", "deadline_at",
              "department_code", "category_code"),
        Index("ix_issues_reported_at", "jurisdiction_code", "reported_at", "cell_code", "segment_id"),
        Index("ix_issues_cell", "jurisdiction_code", "cell_code"),
        Index("ix_issues_category", "jurisdiction_code", "category_code"),
        Index("ix_issues_department", "jurisdiction_code", "department_code"),
        # the lifecycle times the dashboards count by within a period (migration 0015)
        Index("ix_issues_registered_at", "jurisdiction_code", "registered_at"),
        Index("ix_issues_handled_at", "jurisdiction_code", "handled_at"),
        Index("ix_issues_closed_at", "jurisdiction_code", "closed_at"),
        Index("ix_issues_deadline_at", "jurisdiction_code", "deadline_at"),
        # the cases not handled by their deadline, per day of the deadline (the dashboards' 逾期; migration 0016)
        Index("ix_issues_late", "jurisdiction_code", "deadline_at", sqlite_where=text(LATE_CASE),
              postgresql_where=text(LATE_CASE)),
        Index("ix_issues_import_batch", "import_batch_id"),
        # the duplicates merged into an issue, listed on its page (migration 0010)
        Index("ix_issues_merged_into", "merged_into"),
        references("import_batches", "import_batch_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(80))
    source_system: Mapped[str] = mapped_column(String(20))
    category_code: Mapped[str] = mapped_column(String(5))
    description: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    reported_at: Mapped[datetime] = mapped_column(DateTime)
    registered_at: Mapped[datetime | None] = mapped_column(DateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime)
    handled_at: Mapped[datetime | None] = mapped_column(DateTime)
    verified_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime)
    # counted across a year whose holidays were not known yet (Monday–Friday): recomputed when it is loaded
    deadline_provisional: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    rework_count: Mapped[int] = mapped_column(Integer, default=0)
    cell_code: Mapped[str | None] = mapped_column(String(15))
    segment_id: Mapped[int | None] = mapped_column(Integer)
    segment_dist_m: Mapped[float | None] = mapped_column(Float)
    compound_code: Mapped[str | None] = mapped_column(String(20))
    community_code: Mapped[str | None] = mapped_column(String(12))
    grid_code: Mapped[str | None] = mapped_column(String(20))
    zone_code: Mapped[str | None] = mapped_column(String(40))
    department_code: Mapped[str | None] = mapped_column(String(60))
    import_batch_id: Mapped[int | None] = mapped_column(Integer)
    # The issue this one was merged into as a duplicate (status "merged"); geo.loop.workflow sets it.
    merged_into: Mapped[int | None] = mapped_column(Integer)
    geom = geometry_column("POINT")


class ReporterContact(Base):
    """The reporter's contact, kept apart from the issue; outputs mask it."""

    __tablename__ = "reporter_contacts"
    __table_args__ = (of_issue(),)
    issue_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(40))
    name: Mapped[str | None] = mapped_column(String(100))
    # Open311 reporters may leave an e-mail address instead of (or besides) a phone.
    email: Mapped[str | None] = mapped_column(String(200))


class IssueEvent(Base):
    """One step of an issue's life: the audit trail (who, when, note, photo, where)."""

    __tablename__ = "issue_events"
    __table_args__ = (Index("ix_issue_events_issue", "issue_id", "at"),
                      Index("ix_issue_events_at", "jurisdiction_code", "at"), of_issue())
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    issue_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    photo: Mapped[str | None] = mapped_column(Text)
    # the issue's department after the step (whom a dispatch sent it to); NULL on imported history
    department_code: Mapped[str | None] = mapped_column(String(60))
    geom = geometry_column("POINT", nullable=True)


class ImportedLifecycle(Base):
    """The steps an issue had taken when it was imported (a 12345 export's lifecycle columns), one row an issue,
    read as its first audit events (``geo.store.read_issue_events``): an import of a million closed cases writes a
    million rows, not five million events, and the issue's own times may change later while these stay."""

    __tablename__ = "imported_lifecycles"
    __table_args__ = (of_issue(),)
    issue_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    registered_at: Mapped[datetime | None] = mapped_column(DateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime)
    handled_at: Mapped[datetime | None] = mapped_column(DateTime)
    verified_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended: Mapped[str | None] = mapped_column(String(20))  # refused or merged by the import, and when
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)


# --------------------------------------------------------------------------- greening (plan tasks 3, 14)

class GreeningPlanItem(Base):
    """A stretch of a priority road on which a season-bound greening task is due (geo.greening.progress)."""

    __tablename__ = "greening_plan"
    __table_args__ = (Index("ix_greening_plan_road", "jurisdiction_code", "year", "road_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    road_id: Mapped[str] = mapped_column(String(40))
    task_code: Mapped[str] = mapped_column(String(40))
    side: Mapped[str] = mapped_column(String(10))
    from_m: Mapped[float] = mapped_column(Float)
    to_m: Mapped[float] = mapped_column(Float)
    due_date: Mapped[datetime] = mapped_column(Date)
    section_name: Mapped[str | None] = mapped_column(String(100))
    team: Mapped[str | None] = mapped_column(String(100))


class GreeningRecord(Base):
    """Greening work done on a stretch (or at a point) of a road: who, when, how much, photo."""

    __tablename__ = "greening_records"
    __table_args__ = (
        UniqueConstraint("jurisdiction_code", "external_id", name="uq_greening_record_external_id"),
        Index("ix_greening_records_road", "jurisdiction_code", "road_id", "done_on"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(80))
    road_id: Mapped[str] = mapped_column(String(40))
    task_code: Mapped[str] = mapped_column(String(40))
    side: Mapped[str] = mapped_column(String(10))
    from_m: Mapped[float] = mapped_column(Float)
    to_m: Mapped[float] = mapped_column(Float)
    done_on: Mapped[datetime] = mapped_column(Date)
    team: Mapped[str | None] = mapped_column(String(100))
    quantity: Mapped[float | None] = mapped_column(Float)
    photo: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # The stretch of road covered (a LineString) or the spot (a Point), for QGIS and maps.
    geom = geometry_column("GEOMETRY")


# --------------------------------------------------------------------------- Open311 API keys

class ApiKey(Base):
    """A key that lets a client system (12345 platform, grid workers' app, QGIS) use the standard APIs.

    The key acts as its user (``user_id``): it POSTs Open311 requests and reads the
    issues that user's role reads. A key without a user (made before keys had
    owners) acts as the ``public`` role: it submits and reads no issue. Only the
    key's SHA-256 is stored: a leaked database does not leak usable keys.
    """

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("jurisdiction_code", "name", name="uq_api_key_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9))
    name: Mapped[str] = mapped_column(String(100))
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE", name="fk_api_keys_user"))


class LayerVersion(Base):
    """How many times a jurisdiction's reference layers were replaced: a process that keeps the
    layers in memory (the web app) reads them again when this changes, whichever process imported them."""

    __tablename__ = "layer_versions"
    jurisdiction_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(DateTime)


# --------------------------------------------------------------------------- closed loop and coverage (geo.loop.workflow, geo.loop.coverage)

class FrontageUnit(Base):
    """A 门前三包 frontage: the stretch of pavement a shop, institution or property company keeps clean.

    The geometry is the frontage area (a polygon); one recorded as a stretch of road
    (``road_id``, ``from_m``–``to_m``) is stored as that stretch buffered to the pavement.
    """

    __tablename__ = "frontage_units"
    __table_args__ = (UniqueConstraint("jurisdiction_code", "code", name="uq_frontage_unit_code"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    road_id: Mapped[str | None] = mapped_column(String(40))
    from_m: Mapped[float | None] = mapped_column(Float)
    to_m: Mapped[float | None] = mapped_column(Float)
    geom = geometry_column("GEOMETRY")


class Inspection(Base):
    """A field inspection: a GPS track (LineString) or a check-in (Point) of a team's worker.

    Personal information under PIPL: rows older than the retention setting are purged
    (geo.loop.coverage / ``citymap purge-tracks``), and only supervisors see them.
    """

    __tablename__ = "inspections"
    __table_args__ = (Index("ix_inspections_team", "jurisdiction_code", "team", "ended_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    team: Mapped[str] = mapped_column(String(60))
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime] = mapped_column(DateTime)
    source: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    geom = geometry_column("GEOMETRY")


# --------------------------------------------------------------------------- users, sessions and audit of people (webmap.auth)

class User(Base):
    """A person who logs in: a role of ``geo/data/roles.csv``, bound to a jurisdiction and,
    for the ``department`` role, to a department code. Only the scrypt hash of the password is kept."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("jurisdiction_code", "name", name="uq_user_name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9))
    name: Mapped[str] = mapped_column(String(60))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    department_code: Mapped[str | None] = mapped_column(String(60))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class UserSession(Base):
    """A login. The cookie carries a random token; the row is keyed by its SHA-256, so a copy of
    the database cannot be used to log in, and logout deletes the row (the cookie is then worthless)."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user", "user_id"),)
    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    ip: Mapped[str | None] = mapped_column(String(45))


class LoginThrottle(Base):
    """The failed logins of one client address (``scope`` ``ip``) or one typed user name (``name``), and
    when its next attempt may start: every worker process slows the same guesser down (webmap.auth)."""

    __tablename__ = "login_throttles"
    __table_args__ = (Index("ix_login_throttles_next_at", "next_at"),)
    scope: Mapped[str] = mapped_column(String(10), primary_key=True)
    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    next_at: Mapped[datetime] = mapped_column(DateTime)


class PhoneReveal(Base):
    """A dispatcher looked at a reporter's unmasked phone number: who, when, which issue (PIPL audit)."""

    __tablename__ = "phone_reveals"
    __table_args__ = (Index("ix_phone_reveals_issue", "issue_id"), of_issue())
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    issue_id: Mapped[int] = mapped_column(Integer)
    user_name: Mapped[str] = mapped_column(String(60))
    at: Mapped[datetime] = mapped_column(DateTime)
    ip: Mapped[str | None] = mapped_column(String(45))


class IssuePhoto(Base):
    """A photo uploaded for an issue (with its report, or for a handling step); the file lives under
    ``<data_dir>/photos`` with a random name, and this row says whose it is."""

    __tablename__ = "issue_photos"
    __table_args__ = (Index("ix_issue_photos_issue", "issue_id"), of_issue(),
                      UniqueConstraint("file", "jurisdiction_code", name="uq_issue_photo_file"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    issue_id: Mapped[int] = mapped_column(Integer)
    file: Mapped[str] = mapped_column(String(80))
    content_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(60))
    at: Mapped[datetime] = mapped_column(DateTime)
    # report, before, after or verify (geo.loop.workflow.PHOTO_KINDS); NULL for photos stored before 0010
    kind: Mapped[str | None] = mapped_column(String(20))


class IssueRequest(Base):
    """A department's request on an issue it was sent: 退回 (``return``: not ours) or 延期 (``extension``:
    ``days`` more working days), and the dispatcher's answer. One pending request per issue at most."""

    __tablename__ = "issue_requests"
    __table_args__ = (
        Index("ix_issue_requests_issue", "issue_id"),
        Index("ix_issue_requests_status", "jurisdiction_code", "status"),
        Index("uq_issue_requests_pending", "issue_id", "jurisdiction_code", unique=True,
              sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
        of_issue(),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    issue_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    days: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)
    department_code: Mapped[str | None] = mapped_column(String(60))
    asked_by: Mapped[str] = mapped_column(String(100))
    asked_at: Mapped[datetime] = mapped_column(DateTime)
    ask_event_id: Mapped[int | None] = mapped_column(Integer)
    # pending, granted, refused, or lapsed (the issue left dispatched or changed department first)
    status: Mapped[str] = mapped_column(String(20))
    answered_by: Mapped[str | None] = mapped_column(String(100))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    answer_note: Mapped[str | None] = mapped_column(Text)
    answer_event_id: Mapped[int | None] = mapped_column(Integer)


class CalendarDay(Base):
    """A holiday or make-up working day an office loaded (``citymap calendar import``).

    National, not per jurisdiction: a year given here replaces that year of the
    packaged calendar (``geo/data/workday_calendar.csv``).
    """

    __tablename__ = "calendar_days"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str | None] = mapped_column(String(80))
    loaded_at: Mapped[datetime] = mapped_column(DateTime)


# --------------------------------------------------------------------------- citizens and notifications (geo.loop.citizen, geo.loop.notify)

class ReportReceipt(Base):
    """What a report's submitter keeps: the SHA-256 of its tracking token (the token itself is never
    stored, so a copy of the database opens no status page), and who filed it: the logged-in user
    (我的上报) or the API key (which may read its own Open311 request)."""

    __tablename__ = "report_receipts"
    __table_args__ = (
        UniqueConstraint("token_sha256", "jurisdiction_code", name="uq_report_receipt_token"),
        Index("ix_report_receipts_user", "user_id", "created_at"),
        Index("ix_report_receipts_api_key", "api_key_id"),
        of_issue(),
    )
    issue_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", name="fk_report_receipts_user"))
    api_key_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_keys.id", ondelete="SET NULL", name="fk_report_receipts_api_key"))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Webhook(Base):
    """Where notifications are POSTed: for a department (``department_code``) or for one report
    (``issue_id``, set through the report's tracking token); ``secret`` signs each body (HMAC-SHA256)."""

    __tablename__ = "webhooks"
    __table_args__ = (
        UniqueConstraint("jurisdiction_code", "department_code", name="uq_webhook_department"),
        UniqueConstraint("issue_id", "jurisdiction_code", name="uq_webhook_issue"),
        of_issue(),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    department_code: Mapped[str | None] = mapped_column(String(60))
    issue_id: Mapped[int | None] = mapped_column(Integer)
    url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Notification(Base):
    """The outbox: one message per (webhook, event), kept until delivered and retried with a growing wait.

    ``event_key`` names the event (``event:<issue_events.id>``, ``due_soon:<issue>:<deadline>``, …);
    with the webhook it is unique, so an event is queued once however often the notifier runs.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_key", "jurisdiction_code", name="uq_notification_event"),
        Index("ix_notifications_pending", "delivered_at", "next_at"),
        Index("ix_notifications_created", "jurisdiction_code", "created_at"),
        references("webhooks", "webhook_id", cascade=True),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    webhook_id: Mapped[int] = mapped_column(Integer)
    issue_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    event_key: Mapped[str] = mapped_column(String(120))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer)
    next_at: Mapped[datetime] = mapped_column(DateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
