"""The closed loop (挂号 → 派遣 → 处置 → 核查 → 销号): transitions, dispatch and duplicate suggestions.

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
    the Chinese name shown to users.

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

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine

from geo import store
from geo.clock import local_now
from geo.crs import to_metric
from geo.errors import (
    ConfigError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ValidationError,
    checked_text,
)
from geo.loop.users import may_act_on, role_names
from geo.statuses import ISSUE_STATUSES, OPEN_STATUSES
from geo.store.db import write_tx
from geo.taxonomy import DATA_DIR, load_taxonomy

#: the roles of webmap.auth (issue 4)
TRANSITIONS_FILE = DATA_DIR / "transitions.csv"
#: department codes made by assignment and dispatch besides the taxonomy's own
_PLACE_DEPARTMENT_RE = re.compile(r"(community:\d{12}|frontage:[\w-]{1,40})")
_FLAGS = ("needs_note", "needs_photo", "sets_department", "counts_rework")
_PER_ACTION = ("roles", *_FLAGS, "stamp", "clears", "name")
_STAMPS = ("registered_at", "dispatched_at", "handled_at", "verified_at", "closed_at")
_MAX_TEXT = 2000


@lru_cache(maxsize=4)
def load_transitions(path: Path = TRANSITIONS_FILE) -> pd.DataFrame:
    """Read and check the transition table (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        One row per (action, from): ``action``, ``from``, ``to``, ``roles`` (tuple),
        ``needs_note``, ``needs_photo``, ``sets_department``, ``counts_rework``
        (bool), ``stamp``, ``clears`` (column name or None), ``name``.

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
    if table.duplicated(["action", "from"]).any():
        raise ConfigError(f"{Path(path).name}: an (action, from) pair appears twice")
    uneven = table.groupby("action")[list(_PER_ACTION)].nunique(dropna=False).gt(1).any(axis=1)
    if uneven.any():
        raise ConfigError(f"{Path(path).name}: the rows of action {uneven[uneven].index[0]!r} disagree "
                          f"on something besides 'from'")
    return table


def allowed_actions(status: str, role: str) -> list[str]:
    """The actions a role may take on an issue in ``status`` (for buttons and the API), in table order."""
    table = load_transitions()
    return table.loc[(table["from"] == status) & table["roles"].map(lambda r: role in r), "action"].tolist()


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
        the issue's assigned department; see :func:`suggest_department`). For
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
    now : datetime.datetime, optional, keyword-only
        The event time, naive local time; default :func:`geo.clock.local_now`.

    Returns
    -------
    dict
        ``issue_id``, ``event_id``, ``action``, ``from_status``, ``to_status``,
        ``at``, ``actor``, ``department_code`` (the issue's, after the step).

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
        another transition won the race.
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
        issue = store.issue_state(conn, issue_id)
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
    return {"issue_id": issue_id, "event_id": event_id, "action": action, "from_status": current,
            "to_status": target, "at": at, "actor": actor,
            "department_code": values.get("department_code", issue["department_code"])}


def suggest_department(
    issues: gpd.GeoDataFrame,
    *,
    frontage_units: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """Whom to dispatch each issue to, from its category and its place.

    The place rules of :mod:`geo.frames.assign` come first (its ``department_code``:
    a sanitation-led issue inside a compound → ``community:<code>``; on a road in
    a contractor zone → ``sanitation_west`` / ``sanitation_east``; otherwise the
    category's lead department). A sanitation-led issue inside a recorded 门前三包
    frontage unit then goes to that unit, ``frontage:<code>`` (the unit with the
    lowest code when frontages overlap): keeping its frontage clean is the
    unit's own duty.

    Parameters
    ----------
    issues : geopandas.GeoDataFrame
        Points (EPSG:4326) with ``category_code`` and ``department_code`` (as
        assigned by :func:`geo.frames.assign.assign_issues` and stored).
    frontage_units : geopandas.GeoDataFrame, optional, keyword-only
        Polygons (EPSG:4326) with ``code`` (:func:`geo.store.read_frontage_units`).

    Returns
    -------
    pandas.DataFrame
        On ``issues``' index: ``department_code`` (suggested), ``reason``
        (``frontage``, ``community``, ``zone`` or ``lead``), ``frontage_code``
        (None unless a frontage unit applies).
    """
    for name, frame in (("issues", issues), ("frontage_units", frontage_units)):
        if frame is not None and (not isinstance(frame, gpd.GeoDataFrame) or frame.crs is None
                                  or not frame.crs.equals("EPSG:4326")):
            raise ValidationError(f"{name} must be a GeoDataFrame in EPSG:4326")
    missing = [c for c in ("category_code", "department_code") if c not in issues]
    if missing:
        raise ValidationError(f"issues lack column(s) {', '.join(missing)}")
    departments = load_taxonomy().departments
    lead = issues["category_code"].map(load_taxonomy().categories["lead_department"])
    assigned = issues["department_code"].astype(object).where(issues["department_code"].notna(), None)
    suggested = assigned.where(assigned.notna(), lead)
    frontage = pd.Series(None, index=issues.index, dtype=object)
    if frontage_units is not None and len(frontage_units) and len(issues):
        units = frontage_units.sort_values("code")
        point_pos, unit_pos = shapely.STRtree(units.geometry.values).query(issues.geometry.values,
                                                                           predicate="intersects")
        # Sorted by code, the first hit of each point is the lowest code.
        first = pd.Series(unit_pos, index=point_pos).groupby(level=0).min()
        frontage.iloc[first.index.to_numpy()] = units["code"].to_numpy()[first.to_numpy()]
    frontage = frontage.where((lead == "sanitation") & frontage.notna(), None)
    suggested = suggested.where(frontage.isna(), "frontage:" + frontage.astype(str))
    zones = departments.index[departments["parent"] == "sanitation"]
    reason = np.select(
        [frontage.notna().to_numpy(), suggested.astype(str).str.startswith("community:").to_numpy(),
         suggested.isin(zones).to_numpy()],
        ["frontage", "community", "zone"], default="lead")
    return pd.DataFrame({"department_code": suggested, "reason": reason, "frontage_code": frontage},
                        index=issues.index)


def suggest_duplicates(
    issues: gpd.GeoDataFrame,
    candidates: gpd.GeoDataFrame | None = None,
    *,
    radius_m: float,
    window_h: float,
    metric_crs: str = "EPSG:4548",
) -> pd.DataFrame:
    """Pairs (issue, earlier open issue) that look like one problem reported twice.

    Same category, at most ``radius_m`` metres apart (in ``metric_crs``) and the
    candidate reported at most ``window_h`` hours before the issue (and not after
    it; of two reported in the same second, the lower id is the original); only
    candidates still open (status reported … verified) count.

    Parameters
    ----------
    issues : geopandas.GeoDataFrame
        Points (EPSG:4326) with ``id``, ``category_code``, ``reported_at``.
    candidates : geopandas.GeoDataFrame, optional
        The open issues to compare with (same columns plus ``status``); default
        ``issues`` itself (then an issue is never its own duplicate).
    radius_m, window_h : float, keyword-only
        The settings ``duplicate_radius_m`` and ``duplicate_window_h``.
    metric_crs : str, keyword-only
        CRS in metres for the distances.

    Returns
    -------
    pandas.DataFrame
        ``issue_id``, ``duplicate_of`` (the earlier issue's id), ``dist_m``,
        ``hours_apart``; nearest first within each issue, issues in input order.
    """
    for name, value in (("radius_m", radius_m), ("window_h", window_h)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValidationError(f"{name} {value!r} must be a non-negative number")
    candidates = issues if candidates is None else candidates
    for name, frame, columns in (("issues", issues, ("id", "category_code", "reported_at")),
                                 ("candidates", candidates, ("id", "category_code", "reported_at", "status"))):
        missing = [c for c in columns if c not in frame]
        if missing:
            raise ValidationError(f"{name} lack column(s) {', '.join(missing)}")
    empty = pd.DataFrame({"issue_id": pd.Series(dtype="int64"), "duplicate_of": pd.Series(dtype="int64"),
                          "dist_m": pd.Series(dtype="float64"), "hours_apart": pd.Series(dtype="float64")})
    open_ = candidates[candidates["status"].isin(OPEN_STATUSES)]
    if issues.empty or open_.empty:
        return empty
    a = to_metric(issues.geometry, crs=metric_crs).values
    b = to_metric(open_.geometry, crs=metric_crs).values
    i, j = shapely.STRtree(b).query(a, predicate="dwithin", distance=float(radius_m))
    ids_a, ids_b = issues["id"].to_numpy("int64")[i], open_["id"].to_numpy("int64")[j]
    hours = ((pd.to_datetime(issues["reported_at"]).to_numpy()[i] - pd.to_datetime(open_["reported_at"]).to_numpy()[j])
             / np.timedelta64(1, "h")).astype(float)
    keep = ((issues["category_code"].to_numpy()[i] == open_["category_code"].to_numpy()[j]) & (ids_a != ids_b)
            & ((hours > 0) | ((hours == 0) & (ids_b < ids_a))) & (hours <= window_h))
    if not keep.any():
        return empty
    pairs = pd.DataFrame({"issue_id": ids_a[keep], "duplicate_of": ids_b[keep],
                          "dist_m": shapely.distance(a[i[keep]], b[j[keep]]), "hours_apart": hours[keep],
                          "_order": i[keep]})
    return pairs.sort_values(["_order", "dist_m", "duplicate_of"]).drop(columns="_order").reset_index(drop=True)
