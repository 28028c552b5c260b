"""The season-bound greening tasks of plan tasks 3 and 14, as data.

``geo/data/greening_tasks.csv`` lists each task once: its code, Chinese and English
names, the season it belongs to, the window in which it is normally done (month-day
of the start and of the default due date) and the unit its quantity is counted in.
A sub-district with other habits edits the file, not the code.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

from geo.errors import ConfigError, ValidationError
from geo.taxonomy import Taxonomy

DATA_FILE = Path(__file__).resolve().parents[1] / "data" / "greening_tasks.csv"
TASK_COLUMNS = ("code", "name", "name_en", "season", "start_md", "due_md", "unit")

#: season code → Chinese name, in calendar order
SEASONS = {"spring": "春季", "summer": "夏季", "autumn": "秋季", "winter": "冬季"}
SEASONS_EN = {"spring": "spring", "summer": "summer", "autumn": "autumn", "winter": "winter"}
#: side of the road a piece of work is on → Chinese name
SIDES = {"left": "左侧", "right": "右侧", "median": "中央分隔带"}
#: the plan task that makes the priority roads the greening focus (seed/README.md)
PRIORITY_ROAD_TASK = 14


@lru_cache(maxsize=2)
def load_greening_tasks(path: Path = DATA_FILE) -> pd.DataFrame:
    """The task table, indexed by ``code``; treat it as read-only (it is cached).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TASK_COLUMNS`; ``start_md`` / ``due_md`` are ``MM-DD``
        strings, checked to be real dates (29 February is refused: it has no due
        date in most years).

    Raises
    ------
    geo.errors.ConfigError
        Missing file or column, duplicate code, unknown season, bad month-day, or a
        window that ends before it starts.
    """
    if not Path(path).is_file():
        raise ConfigError(f"greening task file {str(path)!r} is missing")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False).apply(lambda c: c.str.strip())
    missing = [c for c in TASK_COLUMNS if c not in frame.columns]
    if missing:
        raise ConfigError(f"{Path(path).name}: missing column(s) {', '.join(missing)}")
    frame = frame[list(TASK_COLUMNS)]
    dup = frame["code"][frame["code"].duplicated()]
    if len(dup):
        raise ConfigError(f"{Path(path).name}: task code {dup.iloc[0]!r} appears twice")
    bad_season = frame.loc[~frame["season"].isin(list(SEASONS)), "season"]
    if len(bad_season):
        raise ConfigError(f"{Path(path).name}: unknown season {bad_season.iloc[0]!r}; known: {', '.join(SEASONS)}")
    for column in ("start_md", "due_md"):
        # 2025 is not a leap year: a 02-29 here is refused, as it should be.
        parsed = pd.to_datetime("2025-" + frame[column], format="%Y-%m-%d", errors="coerce")
        if parsed.isna().any():
            raise ConfigError(f"{Path(path).name}: {column} {frame.loc[parsed.isna(), column].iloc[0]!r} is not MM-DD")
    late = frame["start_md"] > frame["due_md"]
    if late.any():
        raise ConfigError(f"{Path(path).name}: task {frame.loc[late, 'code'].iloc[0]!r} is due before it starts")
    return frame.set_index("code", drop=False)


def task_dates(tasks: pd.DataFrame, *, year: int) -> pd.DataFrame:
    """Each task's start and default due date in ``year``: columns ``start_date``, ``due_date`` (datetime64)."""
    if not isinstance(year, int) or not 1900 <= year <= 9999:
        raise ValidationError(f"year {year!r} must be a four-digit year")
    return pd.DataFrame(
        {
            "start_date": pd.to_datetime(f"{year}-" + tasks["start_md"], format="%Y-%m-%d"),
            "due_date": pd.to_datetime(f"{year}-" + tasks["due_md"], format="%Y-%m-%d"),
        },
        index=tasks.index,
    )


def resolve_tasks(text: pd.Series, tasks: pd.DataFrame) -> pd.Series:
    """Task codes for task codes or Chinese/English names (case and width folded); ``<NA>`` where unknown."""
    words = pd.concat([tasks["code"], tasks["name"], tasks["name_en"]])
    lookup = dict(zip(words.str.normalize("NFKC").str.casefold(), pd.concat([tasks["code"]] * 3)))
    return text.astype("string").str.normalize("NFKC").str.strip().str.casefold().map(lookup).astype("string")


def greening_issue_codes(taxonomy: Taxonomy) -> tuple[str, ...]:
    """Event codes that serve the priority-road greening task (06017, 06018, 06021, 06022, 06045)."""
    serves = taxonomy.categories["plan_tasks"].map(lambda t: PRIORITY_ROAD_TASK in t)
    return tuple(sorted(taxonomy.categories.index[serves]))


def task_due_around(tasks: pd.DataFrame, as_of, *, year: int) -> str:
    """The task to show on a day: one whose window holds it, else the next one due, else the last one."""
    dates = task_dates(tasks, year=year)
    day = pd.Timestamp(as_of).normalize()
    open_now = dates.index[(dates["start_date"] <= day) & (dates["due_date"] >= day)]
    if len(open_now):
        return str(open_now[0])
    coming = dates[dates["due_date"] >= day].sort_values("due_date")
    return str(coming.index[0]) if len(coming) else str(dates.sort_values("due_date").index[-1])
