"""The dispatcher's desk, read from the database: the inbox counts, and on one issue whom to send it to,
which open issues it may duplicate, what was merged into it and what the departments asked.

The use cases the pages call (like :mod:`geo.loop.views`): they read through :mod:`geo.store`,
hand the frames to :mod:`geo.loop.suggest` and return values for a page to show. Every count
is made in SQL (:func:`geo.store.count_issues`), never by reading the issues. Times are naive
local (Beijing) time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import Engine

from geo import store
from geo.errors import ValidationError
from geo.issue_filter import IssueFilter
from geo.loop.metrics import UNHANDLED_STATUSES
from geo.loop.suggest import suggest_department, suggest_duplicates
from geo.loop.workflow import load_transitions
from geo.settings import Settings
from geo.statuses import OPEN_STATUSES
from geo.taxonomy import load_taxonomy

#: the inbox's boxes, in the order shown: 待立案, 待派遣, 待核查, 即将超期, 超期
INBOX_BOXES = ("reported", "registered", "handled", "due_soon", "overdue")
#: metres per degree of latitude, for the box around an issue that holds its duplicate candidates
_M_PER_DEG = 111_320.0


def inbox_filters(*, now: datetime, due_soon_h: float) -> dict[str, IssueFilter]:
    """The filter behind each box of the inbox (:data:`INBOX_BOXES`), judged at ``now``.

    ``due_soon``: unhandled (reported, registered, dispatched) and due within ``due_soon_h``
    hours from ``now``; ``overdue``: unhandled and due before ``now``. ``now`` is taken to the
    second, so the filter written into a link (:func:`webmap.params.filter_query`) is the one
    counted.
    """
    if not isinstance(now, datetime):
        raise ValidationError(f"now {now!r} is not a date and time")
    now = now.replace(microsecond=0)
    return {
        "reported": IssueFilter(statuses=("reported",)),
        "registered": IssueFilter(statuses=("registered",)),
        "handled": IssueFilter(statuses=("handled",)),
        "due_soon": IssueFilter(statuses=UNHANDLED_STATUSES, due_since=now,
                                due_until=now + timedelta(hours=float(due_soon_h))),
        "overdue": IssueFilter(statuses=UNHANDLED_STATUSES, due_until=now),
    }


def inbox_counts(engine: Engine, settings: Settings, *, now: datetime,
                 reach: list[str] | None = None) -> tuple[dict[str, IssueFilter], dict[str, int]]:
    """The inbox: each box's filter (kept to ``reach``, None: every department) and its count, counted in SQL;
    the counts also hold ``requests``, the departments' requests waiting for an answer."""
    filters = {key: where.within_departments(reach)
               for key, where in inbox_filters(now=now, due_soon_h=settings.due_soon_h).items()}
    j = settings.jurisdiction_code
    counts = {key: store.count_issues(engine, jurisdiction_code=j, where=where) for key, where in filters.items()}
    counts["requests"] = store.count_pending_requests(engine, jurisdiction_code=j, departments=reach)
    return filters, counts


def pending_requests(engine: Engine, settings: Settings) -> pd.DataFrame:
    """The requests waiting for the dispatcher's answer, oldest first, with their issue's category and deadline."""
    j = settings.jurisdiction_code
    asked = store.read_requests(engine, jurisdiction_code=j, pending_only=True)
    issues = store.query_issues(engine, jurisdiction_code=j, where=IssueFilter(ids=asked["issue_id"].tolist()),
                                columns=("id", "category_code", "deadline_at")).set_index("id")
    facts = issues.reindex(asked["issue_id"].to_numpy())
    return asked.assign(category_code=facts["category_code"].to_numpy(), deadline_at=facts["deadline_at"].to_numpy())


@dataclass(frozen=True)
class DispatchSuggestion:
    """Whom to send an issue to, as a suggestion (the dispatcher decides).

    ``department_code`` is the suggested lead (:func:`geo.loop.suggest.suggest_department`: a
    frontage unit, a community team, the zone's contractor or the category's lead) and
    ``reason`` why; ``lead`` the category's lead department; ``zone_contractor`` the
    contractor of the issue's zone when sanitation takes part in the category;
    ``supporting`` the category's supporting departments (the issue's own community team
    for ``communities``); ``returned`` the departments that sent it back (a granted 退回);
    ``preselect`` the first of these not returned, chosen in the dispatch form.
    """

    department_code: str
    reason: str
    lead: str
    zone_contractor: str | None
    supporting: tuple[str, ...]
    returned: tuple[str, ...]
    preselect: str | None


def dispatch_suggestion(engine: Engine, settings: Settings, issue: gpd.GeoDataFrame) -> DispatchSuggestion:
    """:class:`DispatchSuggestion` for a one-row frame of an issue (``category_code``, ``department_code``,
    ``zone_code``, ``community_code``, a point in EPSG:4326)."""
    if len(issue) != 1:
        raise ValidationError(f"dispatch_suggestion takes one issue, got {len(issue)}")
    j = settings.jurisdiction_code
    row = issue.iloc[0]
    suggested = suggest_department(issue, frontage_units=store.read_frontage_units(engine, jurisdiction_code=j)).iloc[0]
    taxonomy = load_taxonomy()
    category = taxonomy.categories.loc[row["category_code"]]
    departments = taxonomy.departments
    zones = store.read_layer(engine, "zones", jurisdiction_code=j)
    contractor = zones.loc[zones["code"] == row["zone_code"], "department_code"]
    contractor = contractor.iloc[0] if len(contractor) else None
    involved = {category["lead_department"], *category["supporting_departments"]}
    if contractor is not None and departments["parent"].get(contractor) not in involved:
        contractor = None
    community = row.get("community_code")
    supporting = tuple(f"community:{community}" if code == "communities" and isinstance(community, str) else code
                       for code in category["supporting_departments"])
    requests = store.read_requests(engine, jurisdiction_code=j, issue_ids=[int(row["id"])])
    back = requests[(requests["kind"] == "return") & (requests["status"] == "granted")]
    returned = tuple(dict.fromkeys(back["department_code"].dropna()))
    candidates = [suggested["department_code"], category["lead_department"], contractor, *supporting]
    preselect = next((c for c in candidates if c and c not in returned and not _owned_by(c, returned)), None)
    return DispatchSuggestion(department_code=suggested["department_code"], reason=str(suggested["reason"]),
                              lead=category["lead_department"], zone_contractor=contractor, supporting=supporting,
                              returned=returned, preselect=preselect)


def _owned_by(code: str, departments: tuple[str, ...]) -> bool:
    """Whether ``code`` is a child of one of ``departments`` (a zone contractor of a returning sanitation office)."""
    parents = load_taxonomy().departments["parent"]
    return code in parents.index and parents[code] in departments


def duplicate_candidates(engine: Engine, settings: Settings, issue: gpd.GeoDataFrame) -> pd.DataFrame:
    """The open issues a one-row issue frame may duplicate, or that may duplicate it, nearest first.

    Same or related category (the taxonomy's ``related_group``), within the settings'
    ``duplicate_radius_m`` and ``duplicate_window_h`` (before or after it). The issues are
    read from the box around it with the spatial index, the window and the open states in SQL.

    Returns
    -------
    pandas.DataFrame
        ``id`` (the other issue), ``category_code``, ``status``, ``reported_at``, ``dist_m``,
        ``minutes_apart`` (positive: the other came later), ``same_category``, ``merge_id`` and
        ``master_id`` (which of the two would be merged into which: the later into the earlier),
        ``mergeable`` (the later one is still in a state a merge starts from).
    """
    columns = ("id", "category_code", "status", "reported_at", "dist_m", "minutes_apart", "same_category",
               "merge_id", "master_id", "mergeable")
    if len(issue) != 1:
        raise ValidationError(f"duplicate_candidates takes one issue, got {len(issue)}")
    row = issue.iloc[0]
    point = issue.geometry.iloc[0]
    radius, window = float(settings.duplicate_radius_m), timedelta(hours=float(settings.duplicate_window_h))
    # a box a little larger than the circle: the exact distance is measured in the metric CRS afterwards
    dlat = 1.1 * radius / _M_PER_DEG
    dlon = dlat / max(np.cos(np.radians(point.y)), 0.01)
    reported = pd.Timestamp(row["reported_at"]).to_pydatetime()
    near = store.query_issues(
        engine, jurisdiction_code=settings.jurisdiction_code,
        where=IssueFilter(statuses=OPEN_STATUSES, since=reported - window, until=reported + window + timedelta(seconds=1),
                          bbox=(point.x - dlon, point.y - dlat, point.x + dlon, point.y + dlat)),
        columns=("id", "category_code", "status", "reported_at"))
    me = issue.assign(status=row["status"])[["id", "category_code", "status", "reported_at", "geometry"]]
    related = load_taxonomy().categories["related_group"]
    options = {"radius_m": radius, "window_h": float(settings.duplicate_window_h), "related": related,
               "metric_crs": settings.metric_crs}
    earlier = suggest_duplicates(me, near, **options).rename(columns={"duplicate_of": "other"})
    later = suggest_duplicates(near[near["id"] != row["id"]], me, **options).rename(columns={"issue_id": "other"})
    if earlier.empty and later.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    pairs = pd.concat([earlier.assign(sign=-1.0, merge_id=int(row["id"]), master_id=earlier["other"]),
                       later.assign(sign=1.0, merge_id=later["other"], master_id=int(row["id"]))], ignore_index=True)
    others = pd.DataFrame(near.drop(columns="geometry")).set_index("id")
    out = others.loc[pairs["other"]].reset_index()
    out["dist_m"] = pairs["dist_m"].to_numpy()
    out["minutes_apart"] = (pairs["sign"] * pairs["hours_apart"] * 60).to_numpy()
    out["same_category"] = pairs["same_category"].to_numpy(bool)
    out["merge_id"], out["master_id"] = pairs["merge_id"].to_numpy("int64"), pairs["master_id"].to_numpy("int64")
    merge_from = set(load_transitions().loc[lambda t: t["action"] == "merge", "from"])
    status_of = {**others["status"].to_dict(), int(row["id"]): row["status"]}
    out["mergeable"] = out["merge_id"].map(status_of).isin(merge_from)
    return out.sort_values(["dist_m", "id"]).reset_index(drop=True)[list(columns)]
