"""What a citizen sees of the closed loop: the short category list, a report's status page, 我的上报.

The use cases the citizen's pages call (``webmap.pages.citizen``). Everything said here
is in plain words: categories by the names of ``geo/data/category_plain.csv`` (the
official name where the file has none), states by the ``plain`` column of
``geo/data/statuses.csv``, history by :func:`geo.loop.timeline.public_timeline`. No
department, actor, code or staff note reaches a citizen through this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from geo import store
from geo.errors import ConfigError, NotFoundError
from geo.issue_filter import IssueFilter
from geo.loop.metrics import overdue_mask
from geo.loop.timeline import after_photos, public_timeline
from geo.settings import Settings
from geo.statuses import OPEN_STATUSES, STATUS_PLAIN
from geo.taxonomy import DATA_DIR, load_taxonomy

CATEGORY_PLAIN_FILE = DATA_DIR / "category_plain.csv"
#: how far back the most common problems are counted, from the newest report
COMMON_WINDOW = timedelta(days=365)
STATUS_COLUMNS = ("id", "category_code", "description", "address", "status", "reported_at", "closed_at",
                  "deadline_at", "deadline_provisional", "merged_into", "department_code")
MY_REPORT_COLUMNS = ("id", "category_code", "address", "status", "reported_at", "deadline_at")
MAX_MY_REPORTS = 200


@lru_cache(maxsize=2)
def category_plain_words(path: Path = CATEGORY_PLAIN_FILE) -> pd.Series:
    """Category code → what a citizen calls the problem (``geo/data/category_plain.csv``), in file order.

    Raises
    ------
    geo.errors.ConfigError
        The file is missing, lacks ``code``/``plain``, repeats a code or names one the taxonomy does not know.
    """
    if not Path(path).is_file():
        raise ConfigError(f"plain category names {str(path)!r} are missing")
    table = pd.read_csv(path, dtype=str, keep_default_na=False).apply(lambda c: c.str.strip())
    if not {"code", "plain"} <= set(table.columns):
        raise ConfigError(f"{Path(path).name}: needs the columns code and plain")
    unknown = table.loc[~table["code"].isin(load_taxonomy().categories.index), "code"]
    if len(unknown) or table["code"].duplicated().any() or (table["plain"] == "").any():
        raise ConfigError(f"{Path(path).name}: codes must be known to the taxonomy, once each, with words "
                          f"({', '.join(unknown) or 'a repeated code or an empty name'})")
    return table.set_index("code")["plain"]


def category_words(codes: pd.Series) -> pd.Series:
    """The plain name of each category code (the official name where no plain one is written down)."""
    names = load_taxonomy().categories["name"]
    return codes.map(category_plain_words()).fillna(codes.map(names))


def common_categories(engine: Engine, settings: Settings, *, n: int = 10) -> pd.DataFrame:
    """The ``n`` problems reported most in the year up to the newest report, for the short picker.

    Returns
    -------
    pandas.DataFrame
        ``code``, ``plain`` (:func:`category_words`), ``count``; most reported first, ties
        (and a database without reports) in the order of ``category_plain.csv``.
    """
    span = store.issue_time_range(engine, jurisdiction_code=settings.jurisdiction_code)
    counts = pd.Series(dtype="int64")
    if span is not None:
        counts = store.count_issues_by(engine, "category_code", jurisdiction_code=settings.jurisdiction_code,
                                       where=IssueFilter(since=span[1] - COMMON_WINDOW,
                                                         until=span[1] + timedelta(seconds=1)))
    listed = category_plain_words().index
    codes = pd.Index(listed).union(counts.index, sort=False)
    frame = pd.DataFrame({"code": codes, "count": counts.reindex(codes).fillna(0).astype("int64").to_numpy(),
                          "order": range(len(codes))})
    top = frame.sort_values(["count", "order"], ascending=[False, True]).head(n)
    return top.assign(plain=category_words(top["code"]).to_numpy())[["code", "plain", "count"]].reset_index(drop=True)


@dataclass(frozen=True)
class ReportStatus:
    """A report as its citizen sees it (:func:`report_status`)."""

    issue_id: int
    category: str
    description: str | None
    address: str | None
    status: str
    plain: str
    done: bool
    reported_at: datetime
    deadline_at: datetime | None
    deadline_provisional: bool
    overdue: bool
    timeline: pd.DataFrame
    photos: list[str]
    #: for a report merged into another: the plain words of that one's state
    merged_plain: str | None = None


def _issues(engine: Engine, settings: Settings, ids: list[int], columns: tuple[str, ...]) -> pd.DataFrame:
    return store.query_issues(engine, jurisdiction_code=settings.jurisdiction_code, where=IssueFilter(ids=ids),
                              columns=columns)


def report_status(engine: Engine, settings: Settings, issue_id: int, *, now: datetime) -> ReportStatus:
    """What the status page of a report shows: its state and history in plain words, deadline, after-photos.

    Raises
    ------
    geo.errors.NotFoundError
        No such report in the jurisdiction.
    """
    frame = _issues(engine, settings, [issue_id], STATUS_COLUMNS)
    if frame.empty:
        raise NotFoundError(f"未找到该上报 (report {issue_id} not found)")
    issue = frame.iloc[0]
    events = store.read_issue_events(engine, issue_id)
    merged_plain = None
    if issue["status"] == "merged" and pd.notna(issue["merged_into"]):
        master = _issues(engine, settings, [int(issue["merged_into"])], ("id", "status"))
        merged_plain = STATUS_PLAIN.get(master["status"].iloc[0]) if len(master) else None
    deadline = issue["deadline_at"]
    return ReportStatus(
        issue_id=int(issue["id"]), category=str(category_words(frame["category_code"]).iloc[0]),
        description=issue["description"] if pd.notna(issue["description"]) else None,
        address=issue["address"] if pd.notna(issue["address"]) else None,
        status=issue["status"], plain=STATUS_PLAIN.get(issue["status"], ""),
        done=issue["status"] not in OPEN_STATUSES, reported_at=issue["reported_at"].to_pydatetime(),
        deadline_at=deadline.to_pydatetime() if pd.notna(deadline) else None,
        deadline_provisional=bool(issue["deadline_provisional"]),
        overdue=bool(overdue_mask(frame, now=now).iloc[0]),
        timeline=public_timeline(issue, events), photos=after_photos(events), merged_plain=merged_plain)


def my_reports(engine: Engine, settings: Settings, *, user_id: int, now: datetime) -> pd.DataFrame:
    """我的上报: the reports the user filed (the newest :data:`MAX_MY_REPORTS`), newest first.

    Returns
    -------
    pandas.DataFrame
        :data:`MY_REPORT_COLUMNS` plus ``category`` (plain words), ``plain`` (the state in
        plain words), ``done`` and ``overdue`` (bool).
    """
    ids = store.own_report_ids(engine, jurisdiction_code=settings.jurisdiction_code, user_id=user_id,
                               limit=MAX_MY_REPORTS)
    frame = pd.DataFrame(_issues(engine, settings, ids, MY_REPORT_COLUMNS).drop(columns="geometry"))
    frame = frame.sort_values(["reported_at", "id"], ascending=False).reset_index(drop=True)
    return frame.assign(category=category_words(frame["category_code"]), plain=frame["status"].map(STATUS_PLAIN),
                        done=~frame["status"].isin(OPEN_STATUSES), overdue=overdue_mask(frame, now=now))
