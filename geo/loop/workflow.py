"""The closed loop (挂号 → 派遣 → 处置 → 核查 → 销号): its transitions, the departments' requests, deadlines moved.

States: reported (上报) → registered (立案/挂号) → dispatched (派遣) → handled (处置,
with a note and a photo) → verified (核查) → closed (结案/销号). Verification can
fail: rework (返工) sends a handled issue back to dispatched. A report can be
refused (不予立案) or merged into another issue as its duplicate.

Which action leads from which state to which, who may take it and what it needs
is data: ``geo/data/transitions.csv`` (one row per action and starting state):

``action, from, to``
    the action and the states it joins;
``roles``
    ``;``-separated roles allowed to take it (the roles of ``webmap.auth``:
    supervisor, dispatcher, department, public, admin);
``needs_note``, ``needs_photo``
    1 when the action must carry a note / a photo reference;
``sets_department``
    1 when the action (dispatch, reassign) sets the responsible department;
``stamp``, ``clears``
    the issue's timestamp column the action sets to the event time, and one it
    clears (rework clears ``handled_at``: the audit trail keeps the old one);
``counts_rework``
    1 when the action adds one to ``rework_count``;
``name``
    the Chinese name shown to users;
``photos``
    ``;``-separated kinds of photo the step takes (:data:`PHOTO_KINDS`: ``before;after``
    for handling, ``verify`` for verification); the last one is the event's own photo,
    the one ``needs_photo`` asks for (a handling's after-photo), the others are optional;
``request``, ``request_kind``
    what the step does to the issue's pending request (table ``issue_requests``): ``ask``
    opens one of ``request_kind`` (``return``: 退回, the department says the issue is not
    its own; ``extension``: 延期, it asks for more working days), ``grant`` answers a
    pending one of that kind (granting a return sends the issue back to be dispatched
    again; granting an extension moves the deadline by the days asked, in working days
    from the deadline), ``refuse`` answers any pending one with no. An issue has at most
    one pending request; it lapses when the issue leaves ``dispatched`` or changes
    department by another step.

A ``department`` user acts only on its own issues: those whose department is its
department, a child of it (``sanitation`` → ``sanitation_west``) or, for the
community teams, ``community:<its community>``.

Every transition is one :func:`geo.store.db.write_tx`: the issue row is updated with
``UPDATE … WHERE id = :id AND status = :expected`` and one ``issue_events`` row is
written. Two transitions racing on one issue: SQLite's ``BEGIN IMMEDIATE`` queues
the second, which then finds the new state; on PostgreSQL the second ``UPDATE``
waits for the first's row lock and then matches no row. Either way exactly one
wins and the other raises :class:`~geo.errors.ConflictError`.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from geo import store, workdays
from geo.clock import local_now
from geo.errors import (
    ConfigError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ValidationError,
    checked_text,
)
from geo.loop.users import may_act_on, role_names
from geo.statuses import ISSUE_STATUSES
from geo.store.db import write_tx
from geo.taxonomy import DATA_DIR, load_taxonomy

#: the roles of webmap.auth (issue 4)
TRANSITIONS_FILE = DATA_DIR / "transitions.csv"
#: department codes made by assignment and dispatch besides the taxonomy's own
_PLACE_DEPARTMENT_RE = re.compile(r"(community:\d{12}|frontage:[\w-]{1,40})")
_FLAGS = ("needs_note", "needs_photo", "sets_department", "counts_rework")
_PER_ACTION = ("roles", *_FLAGS, "stamp", "clears", "name", "name_en", "photos", "request", "request_kind")
_STAMPS = ("registered_at", "dispatched_at", "handled_at", "verified_at", "closed_at")
_MAX_TEXT = 2000
#: kinds of issue photo: the reporter's, before and after handling, the verifier's
PHOTO_KINDS = ("report", "before", "after", "verify")
#: what a step does to the pending request, and the kinds of request
REQUEST_STEPS = ("ask", "grant", "refuse")
REQUEST_KINDS = ("return", "extension")
_REQUEST_NAMES = {"return": "退回", "extension": "延期"}
#: the most working days one extension may ask for
MAX_EXTENSION_DAYS = 30


@lru_cache(maxsize=4)
def load_transitions(path: Path = TRANSITIONS_FILE) -> pd.DataFrame:
    """Read and check the transition table (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        One row per (action, from): ``action``, ``from``, ``to``, ``roles`` (tuple),
        ``needs_note``, ``needs_photo``, ``sets_department``, ``counts_rework``
        (bool), ``stamp``, ``clears`` (column name or None), ``name``, ``photos``
        (tuple of kinds), ``request`` and ``request_kind`` (``""`` when none).

    Raises
    ------
    geo.errors.ConfigError
        Unknown state, role or column; a flag that is not 0/1; an action whose rows
        disagree on anything but ``from``; a repeated (action, from).
    """
    if not Path(path).is_file():
        raise ConfigError(f"transition table {str(path)!r} is missing")
    table = pd.read_csv(path, dtype=str, keep_default_na=False).apply(lambda c: c.str.strip())
    missing = [c for c in ("action", "from", "to", *_PER_ACTION) if c not in table]
    if missing:
        raise ConfigError(f"{Path(path).name}: missing column(s) {', '.join(missing)}")
    states = pd.concat([table["from"], table["to"]])
    bad = states[~states.isin(ISSUE_STATUSES)]
    if len(bad):
        raise ConfigError(f"{Path(path).name}: state {bad.iloc[0]!r} is not one of {', '.join(ISSUE_STATUSES)}")
    table["roles"] = table["roles"].map(lambda v: tuple(r.strip() for r in v.split(";") if r.strip()))
    roles, known = table["roles"].explode().dropna(), role_names()
    unknown = roles[~roles.isin(known)]
    if len(unknown):
        raise ConfigError(f"{Path(path).name}: role {unknown.iloc[0]!r} is not one of {', '.join(known)}")
    for flag in _FLAGS:
        if not table[flag].isin(("0", "1")).all():
            raise ConfigError(f"{Path(path).name}: {flag} must be 0 or 1")
        table[flag] = table[flag] == "1"
    for column in ("stamp", "clears"):
        odd = table[column][(table[column] != "") & ~table[column].isin(_STAMPS)]
        if len(odd):
            raise ConfigError(f"{Path(path).name}: {column} {odd.iloc[0]!r} is not one of {', '.join(_STAMPS)}")
        table[column] = table[column].astype(object).where(table[column] != "", None)
    table["photos"] = table["photos"].map(lambda v: tuple(k.strip() for k in v.split(";") if k.strip()))
    kinds = table["photos"].explode().dropna()
    odd = kinds[~kinds.isin(PHOTO_KINDS)]
    if len(odd):
        raise ConfigError(f"{Path(path).name}: photo kind {odd.iloc[0]!r} is not one of {', '.join(PHOTO_KINDS)}")
    if (table["needs_photo"] & (table["photos"].map(len) == 0)).any():
        raise ConfigError(f"{Path(path).name}: a step that needs a photo must name its kind in 'photos'")
    for column, known in (("request", REQUEST_STEPS), ("request_kind", REQUEST_KINDS)):
        odd = table[column][(table[column] != "") & ~table[column].isin(known)]
        if len(odd):
            raise ConfigError(f"{Path(path).name}: {column} {odd.iloc[0]!r} is not one of {', '.join(known)}")
    kindless = table["request"].isin(("ask", "grant")) & (table["request_kind"] == "")
    if kindless.any() or ((table["request"] == "") & (table["request_kind"] != "")).any():
        raise ConfigError(f"{Path(path).name}: 'ask' and 'grant' need a request_kind, and only a request step has one")
    if table.duplicated(["action", "from"]).any():
        raise ConfigError(f"{Path(path).name}: an (action, from) pair appears twice")
    uneven = table.groupby("action")[list(_PER_ACTION)].nunique(dropna=False).gt(1).any(axis=1)
    if uneven.any():
        raise ConfigError(f"{Path(path).name}: the rows of action {uneven[uneven].index[0]!r} disagree "
                          f"on something besides 'from'")
    return table


def allowed_actions(status: str, role: str, *, pending: str | None = None) -> list[str]:
    """The actions a role may take on an issue in ``status`` (for buttons and the API), in table order.

    ``pending`` is the kind of the issue's pending request (:data:`REQUEST_KINDS`), None when
    there is none: a request can be asked only when none is pending, granted only when one of
    its kind is, refused when any is.
    """
    table = load_transitions()
    step, kind = table["request"], table["request_kind"]
    fits = (step == "") | ((step == "ask") & (pending is None)) | ((step == "grant") & (kind == pending)) | (
        (step == "refuse") & (pending is not None))
    return table.loc[(table["from"] == status) & table["roles"].map(lambda r: role in r) & fits, "action"].tolist()


def extended_deadline(deadline: datetime, days: int) -> tuple[datetime, bool]:
    """A deadline moved ``days`` working days on (an extension), keeping its time of day.

    Returns the new deadline and whether it is provisional (counted across a year whose
    holidays are not published yet, :func:`geo.workdays.provisional`).
    """
    moved = workdays.add_working_days(deadline, days, day_end=deadline.time())
    return moved, bool(workdays.provisional(pd.Series([deadline]), pd.Series([moved]))[0])


def _request_days(spec: pd.Series, days: object) -> int | None:
    if spec["request"] == "ask" and spec["request_kind"] == "extension":
        if isinstance(days, bool) or not isinstance(days, (int, np.integer)) or not 1 <= days <= MAX_EXTENSION_DAYS:
            raise ValidationError(f"延期天数应为 1…{MAX_EXTENSION_DAYS} 个工作日 (days {days!r}: an extension asks for "
                                  f"1…{MAX_EXTENSION_DAYS} working days)")
        return int(days)
    if days is not None:
        raise ValidationError(f"days is for asking an extension only, not for {spec['action']!r}")
    return None


def _position(lon: object, lat: object) -> tuple[float | None, float | None]:
    if lon is None and lat is None:
        return None, None
    if lon is None or lat is None:
        raise ValidationError(f"a position needs both lon and lat, got lon={lon!r}, lat={lat!r}")
    try:
        x, y = float(lon), float(lat)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"position lon={lon!r}, lat={lat!r} is not a pair of numbers") from exc
    if not (math.isfinite(x) and math.isfinite(y) and -180 <= x <= 180 and -90 <= y <= 90):
        raise ValidationError(f"position lon={lon!r}, lat={lat!r} is not WGS84 degrees")
    return x, y


def _check_department(code: object) -> str:
    known = load_taxonomy().departments.index
    if not isinstance(code, str) or not (code in known or _PLACE_DEPARTMENT_RE.fullmatch(code)):
        raise ValidationError(f"department {code!r} is unknown; use one of {', '.join(known)}, "
                              f"'community:<12-digit community code>' or 'frontage:<unit code>'")
    return code


def apply_transition(
    engine: Engine,
    issue_id: int,
    action: str,
    *,
    actor: str,
    role: str,
    department_code: str | None = None,
    note: str | None = None,
    photo: str | None = None,
    lon: float | None = None,
    lat: float | None = None,
    merge_into: int | None = None,
    days: int | None = None,
    now: datetime | None = None,
) -> dict:
    """Take one step of the closed loop on one issue, with its audit event, in one transaction.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        SpatiaLite or PostGIS.
    issue_id : int
        The issue.
    action : str
        An action of ``transitions.csv``: register, refuse, merge, dispatch,
        reassign, handle, verify, rework, close.
    actor : str, keyword-only
        Who acts (user name), recorded on the event.
    role : str, keyword-only
        The actor's role (``geo/data/roles.csv``); it must be allowed the action.
    department_code : str, optional, keyword-only
        For dispatch / reassign: the department to send the issue to (default:
        the issue's assigned department; see :func:`geo.loop.suggest.suggest_department`). For
        the ``department`` role: the actor's own department, which must be
        responsible for the issue (:func:`geo.loop.users.may_act_on`).
    note, photo : str, optional, keyword-only
        The event's note and photo reference (a stored file's path or URL);
        required where the table says so (handle needs both).
    lon, lat : float, optional, keyword-only
        Where the actor was (WGS84 degrees), both or neither.
    merge_into : int, optional, keyword-only
        For merge: the issue this one duplicates (same jurisdiction, not
        itself, not refused or merged).
    days : int, optional, keyword-only
        For asking an extension: the working days asked (1 … :data:`MAX_EXTENSION_DAYS`).
    now : datetime.datetime, optional, keyword-only
        The event time, naive local time; default :func:`geo.clock.local_now`.

    Returns
    -------
    dict
        ``issue_id``, ``event_id``, ``action``, ``from_status``, ``to_status``,
        ``at``, ``actor``, ``department_code`` (the issue's, after the step),
        ``deadline_at`` (after the step), ``request_id`` (the request asked or
        answered, else None).

    Raises
    ------
    geo.errors.ValidationError
        Unknown action or role, a missing note/photo, a bad position, department
        or merge target.
    geo.errors.ForbiddenError
        The role may not take the action, or a department acts on another's issue.
    geo.errors.NotFoundError
        No such issue (or merge target).
    geo.errors.ConflictError
        The issue is not in a state the action starts from — typically because
        another transition won the race — or its pending request does not fit the
        step (a second request, an answer to none or to another kind).
    """
    table = load_transitions()
    rows = table[table["action"] == action]
    if rows.empty:
        raise ValidationError(f"action {action!r} is unknown; known: {', '.join(table['action'].unique())}")
    if role not in role_names():
        raise ValidationError(f"role {role!r} is unknown; known: {', '.join(role_names())}")
    spec = rows.iloc[0]
    if role not in spec["roles"]:
        raise ForbiddenError(f"role {role!r} may not {action} ({spec['name']}); allowed: {', '.join(spec['roles'])}")
    actor = checked_text(actor, "actor", label="操作人", limit=_MAX_TEXT, required=True)
    note = checked_text(note, "note", label="说明", limit=_MAX_TEXT, required=bool(spec["needs_note"]))
    photo = checked_text(photo, "photo", label="照片", limit=_MAX_TEXT, required=bool(spec["needs_photo"]))
    x, y = _position(lon, lat)
    days = _request_days(spec, days)
    if role == "department" and not department_code:
        raise ValidationError("a department user must say which department it acts for (department_code)")
    if spec["sets_department"] and department_code is not None:
        department_code = _check_department(department_code)
    if action == "merge" and (merge_into is None or isinstance(merge_into, bool) or not isinstance(merge_into, int)):
        raise ValidationError(f"merge needs the id of the issue this one duplicates, got merge_into={merge_into!r}")
    if action != "merge" and merge_into is not None:
        raise ValidationError(f"merge_into is for merge only, not for {action!r}")
    at = local_now() if now is None else now
    if not isinstance(at, datetime):
        raise ValidationError(f"now {now!r} is not a date and time")

    with write_tx(engine) as conn:
        # locked (FOR UPDATE on PostgreSQL) so that the pending request read below cannot change meanwhile
        issue = store.lock_row(conn, "issues", int(issue_id), store.ISSUE_STATE_COLUMNS) if 0 < issue_id < 2**63 else None
        if issue is None:
            raise NotFoundError(f"issue {issue_id!r} does not exist")
        if not may_act_on(role, department_code, issue["department_code"]):
            raise ForbiddenError(f"issue {issue_id} belongs to department {issue['department_code']!r}, "
                                 f"not to {department_code!r}")
        current = issue["status"]
        step = rows[rows["from"] == current]
        if step.empty:
            can = allowed_actions(current, role)
            raise ConflictError(
                f"issue {issue_id} is {current!r} now; {action!r} needs it to be "
                f"{' or '.join(repr(s) for s in rows['from'])} — someone may have acted on it first; reload it"
                + (f" (possible now: {', '.join(can)})" if can else ""))
        target = step.iloc[0]["to"]
        values: dict[str, object] = {"status": target}
        if spec["stamp"]:
            values[spec["stamp"]] = at
        if spec["clears"]:
            values[spec["clears"]] = None
        if spec["sets_department"]:
            chosen = department_code or issue["department_code"]
            if not chosen:
                raise ValidationError(f"issue {issue_id} has no assigned department: say where to {action} it")
            values["department_code"] = chosen
        if action == "merge":
            # an id beyond SQL's 64-bit integers cannot exist (SQLite refuses to compare with one)
            other = store.issue_state(conn, merge_into) if 0 < merge_into < 2**63 else None
            if other is None or other["jurisdiction_code"] != issue["jurisdiction_code"]:
                raise NotFoundError(f"issue {merge_into!r} to merge into does not exist")
            if merge_into == issue_id or other["status"] in ("refused", "merged"):
                raise ValidationError(f"issue {issue_id} cannot be merged into issue {merge_into} "
                                      f"({'itself' if merge_into == issue_id else other['status']})")
            values["merged_into"] = merge_into
        pending = store.pending_request(conn, issue_id)
        values.update(_answer_values(spec, pending, issue, issue_id))
        won = store.update_issue_if_status(conn, issue_id, expected_status=current, values=values,
                                           increment_rework=bool(spec["counts_rework"]),
                                           jurisdiction_code=issue["jurisdiction_code"])
        if won != 1:
            raise ConflictError(f"issue {issue_id} changed while {action!r} was applied (it is no longer "
                                f"{current!r}): another transition came first; reload it")
        event_id = store.insert_issue_event(conn, {
            "jurisdiction_code": issue["jurisdiction_code"], "issue_id": issue_id, "at": at, "actor": actor,
            "action": action, "from_status": current, "to_status": target, "note": note, "photo": photo,
        }, lon=x, lat=y)
        request_id = _settle_request(conn, spec, pending, issue, event_id=event_id, at=at, actor=actor, note=note,
                                     days=days, department_code=department_code, moved=target != current
                                     or values.get("department_code", issue["department_code"]) != issue["department_code"])
    return {"issue_id": issue_id, "event_id": event_id, "action": action, "from_status": current,
            "to_status": target, "at": at, "actor": actor,
            "department_code": values.get("department_code", issue["department_code"]),
            "deadline_at": _stamp(values.get("deadline_at", issue["deadline_at"])), "request_id": request_id}


def _stamp(value: object) -> datetime | None:
    # SQLite hands back a timestamp read with plain SQL as text
    return None if value is None else pd.Timestamp(value).to_pydatetime()


def _answer_values(spec: pd.Series, pending: dict | None, issue: dict, issue_id: int) -> dict:
    """Check the step against the issue's pending request; the issue columns a granted extension moves."""
    if spec["request"] == "ask" and pending is not None:
        raise ConflictError(f"问题 #{issue_id} 已有待答复的申请 (issue {issue_id} already has a pending "
                            f"{pending['kind']} request; wait for the answer)")
    if spec["request"] == "grant" and (pending is None or pending["kind"] != spec["request_kind"]):
        raise ConflictError(f"问题 #{issue_id} 没有待答复的{_REQUEST_NAMES[spec['request_kind']]}申请 (issue {issue_id} has no pending "
                            f"{spec['request_kind']} request to grant)")
    if spec["request"] == "refuse" and pending is None:
        raise ConflictError(f"问题 #{issue_id} 没有待答复的申请 (issue {issue_id} has no pending request)")
    if spec["request"] != "grant" or spec["request_kind"] != "extension":
        return {}
    if issue["deadline_at"] is None:
        raise ValidationError(f"问题 #{issue_id} 没有处置期限，无法延期 (issue {issue_id} has no deadline to extend)")
    moved, provisional = extended_deadline(_stamp(issue["deadline_at"]), int(pending["days"]))
    return {"deadline_at": moved, "deadline_provisional": provisional or bool(issue["deadline_provisional"])}


def _settle_request(conn, spec: pd.Series, pending: dict | None, issue: dict, *, event_id: int, at: datetime,
                    actor: str, note: str | None, days: int | None, department_code: str | None,
                    moved: bool) -> int | None:
    """Open, answer or let lapse the issue's request as the step says; the request's id (None if none was touched)."""
    if spec["request"] == "ask":
        return store.insert_request(conn, {
            "jurisdiction_code": issue["jurisdiction_code"], "issue_id": issue["id"], "kind": spec["request_kind"],
            "days": days, "note": note, "department_code": department_code, "asked_by": actor, "asked_at": at,
            "ask_event_id": event_id})
    if spec["request"] in ("grant", "refuse"):
        store.answer_request(conn, pending["id"], status="granted" if spec["request"] == "grant" else "refused",
                             by=actor, at=at, note=note, event_id=event_id)
        return pending["id"]
    if pending is not None and moved:
        store.answer_request(conn, pending["id"], status="lapsed", by=actor, at=at, note=None, event_id=event_id)
        return pending["id"]
    return None
