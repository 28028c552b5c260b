"""An issue's history as rows people read: the staff's timeline and the citizen's plain one.

The staff's rows (:func:`issue_timeline`) start with the report (上报) and follow the
audit events: each step's name from ``geo/data/transitions.csv`` (an action the table
does not know keeps its code), who took it, whom a dispatch sent the issue to, the
note and photo, how long the step took since the one before, and — for the steps of
the handling the deadline governs — whether it was taken by the deadline.

The citizen's rows (:func:`public_timeline`) say the same in the plain words of
``geo/data/statuses.csv`` (``plain``), with no actor, department, code or note; a step
that changes nothing a citizen sees (改派, a second dispatch) is left out, and a handling
step carries its photo (the after-photo).

Times are naive local (Beijing) time; durations are seconds. No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from geo.errors import ValidationError
from geo.io import PHOTO_NAME_RE
from geo.loop.metrics import UNHANDLED_STATUSES
from geo.loop.workflow import load_transitions
from geo.statuses import STATUS_PLAIN

#: the name of the first row, the report itself (it is no audit event)
REPORT_ACTION, REPORT_NAME = "report", "上报"
TIMELINE_COLUMNS = ("at", "action", "name", "status", "actor", "department_code", "department_name", "note",
                    "photo", "elapsed_s", "on_time")
PUBLIC_COLUMNS = ("at", "status", "plain", "elapsed_s", "photo")
_EVENT_COLUMNS = ("at", "action", "from_status", "to_status", "actor", "note", "photo", "department_code")
_ISSUE_KEYS = ("reported_at", "deadline_at", "department_code")


def _check(issue: Mapping, events: pd.DataFrame) -> None:
    missing = [k for k in _ISSUE_KEYS if k not in issue]
    if missing:
        raise ValidationError(f"the issue lacks {', '.join(missing)}")
    if not isinstance(events, pd.DataFrame):
        raise ValidationError(f"events must be a DataFrame, got {type(events).__name__}")
    missing = [c for c in _EVENT_COLUMNS if c not in events]
    if missing:
        raise ValidationError(f"events lack column(s) {', '.join(missing)} (read them with geo.store.read_issue_events)")


def _with_report(issue: Mapping, events: pd.DataFrame) -> pd.DataFrame:
    """The report as the first row, then the events oldest first."""
    report = pd.DataFrame({"at": [issue["reported_at"]], "action": [REPORT_ACTION], "from_status": [None],
                           "to_status": ["reported"], "actor": [None], "note": [None], "photo": [None],
                           "department_code": [None]})
    rows = pd.concat([report, events[list(_EVENT_COLUMNS)].sort_values("at", kind="stable")], ignore_index=True)
    rows["at"] = pd.to_datetime(rows["at"])
    return rows


def _elapsed_s(at: pd.Series) -> pd.Series:
    """Seconds since the row before (None for the first)."""
    return at.diff().dt.total_seconds()


def _finished(rows: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """``columns`` of ``rows`` with every missing value None (the times stay datetimes)."""
    out = rows[list(columns)].copy()
    rest = [c for c in columns if c != "at"]
    out[rest] = out[rest].astype(object).where(out[rest].notna(), None)
    return out


def issue_timeline(issue: Mapping, events: pd.DataFrame, *, department_names: Mapping[str, str]) -> pd.DataFrame:
    """The staff's timeline of one issue (see the module docstring).

    Parameters
    ----------
    issue : mapping
        The issue's ``reported_at``, ``deadline_at`` (naive local times; the deadline may be
        missing) and ``department_code``.
    events : pandas.DataFrame
        Its audit events (:func:`geo.store.read_issue_events`).
    department_names : mapping, keyword-only
        Department code → the name people know it by (a code without one shows as itself).

    Returns
    -------
    pandas.DataFrame
        :data:`TIMELINE_COLUMNS`, oldest first, the report first: ``name`` the step's Chinese
        name, ``status`` the state it led to, ``department_code``/``department_name`` whom a
        step that sets the department (派遣, 改派) sent the issue to (the issue's department
        for imported history, which did not record it), ``elapsed_s`` seconds since the row
        before, ``on_time`` True/False for a step taken while the handling was still due
        (by ``deadline_at`` or after it), None otherwise. Missing values are None, never NaN.
    """
    _check(issue, events)
    table = load_transitions().drop_duplicates("action").set_index("action")
    rows = _with_report(issue, events)
    rows["name"] = rows["action"].map(table["name"]).where(rows["action"] != REPORT_ACTION, REPORT_NAME)
    rows["name"] = rows["name"].where(rows["name"].notna(), rows["action"])
    sets_department = rows["action"].map(table["sets_department"]).eq(True)
    fallback = issue["department_code"] if pd.notna(issue["department_code"]) else None
    target = rows["department_code"].where(rows["department_code"].notna(), fallback)
    rows["department_code"] = target.where(sets_department)
    rows["department_name"] = rows["department_code"].map(lambda code: department_names.get(code, code),
                                                          na_action="ignore")
    deadline = pd.Timestamp(issue["deadline_at"]) if pd.notna(issue["deadline_at"]) else None
    judged = rows["from_status"].isin(UNHANDLED_STATUSES) & (deadline is not None)
    on_time = (rows["at"] <= deadline) if deadline is not None else pd.Series(False, index=rows.index)
    rows["on_time"] = on_time.where(judged)
    rows["status"] = rows["to_status"]
    rows["elapsed_s"] = _elapsed_s(rows["at"])
    return _finished(rows, TIMELINE_COLUMNS)


def after_photos(events: pd.DataFrame) -> list[str]:
    """The stored photos of the handling steps (处置), oldest first: what the place looked like afterwards."""
    handled = events[(events["to_status"] == "handled") & events["photo"].notna()]
    return [p for p in handled.sort_values("at", kind="stable")["photo"] if PHOTO_NAME_RE.fullmatch(str(p))]


def public_timeline(issue: Mapping, events: pd.DataFrame) -> pd.DataFrame:
    """The citizen's timeline of one report, in plain words (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        :data:`PUBLIC_COLUMNS`, oldest first: ``status`` the state reached, ``plain`` what it
        means in plain words, ``elapsed_s`` seconds since the row before, ``photo`` the
        stored after-photo of a handling step (else None). A step whose plain words are
        those of the row before is left out.
    """
    _check(issue, events)
    rows = _with_report(issue, events)
    rows["plain"] = rows["to_status"].map(STATUS_PLAIN).fillna("")
    rows = rows[rows["plain"].ne(rows["plain"].shift())].reset_index(drop=True)
    named = rows["photo"].map(lambda p: bool(PHOTO_NAME_RE.fullmatch(p)), na_action="ignore").eq(True)
    rows["photo"] = rows["photo"].where((rows["to_status"] == "handled") & named)
    rows["status"] = rows["to_status"]
    rows["elapsed_s"] = _elapsed_s(rows["at"])
    return _finished(rows, PUBLIC_COLUMNS)
