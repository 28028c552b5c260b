"""Greening progress on the priority roads (plan tasks 3 and 14), by chainage.

A priority road is referenced by *chainage*: metres from its first vertex, in the
jurisdiction's metric CRS. Work is planned and recorded as chainage intervals
``[from_m, to_m]`` on one side of the road (``left`` / ``right`` in the road's
direction, or the ``median``); a piece of work done at one spot (a replanted tree)
is the interval ``[m, m]`` and adds no length.

Progress is length: of what the plan asks for on a road, side and task, the share
that work records cover. Overlapping records count once (intervals are merged
first), records reaching past the road are clipped to it and reported, and only
work done on or before the *as-of* date and in the plan's year counts.

Frames (plain pandas; dates are ``datetime64`` at midnight):

* plan: ``road_id``, ``task_code``, ``side``, ``from_m``, ``to_m``, ``due_date``
  (extra columns such as ``team`` or ``section_name`` are carried along);
* records: ``id``, ``road_id``, ``task_code``, ``side``, ``from_m``, ``to_m``,
  ``done_on``, ``quantity`` (and anything else, e.g. ``team``, ``photo``).

Nothing here reads or writes a file or a database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import ValidationError
from geo.frames.linref import line_substrings
from geo.frames.segments import chainage_of
from geo.greening.tasks import SIDES, task_dates

#: progress status → Chinese label, from best to worst
STATUS_NAMES = {
    "done": "按期完成",
    "done_late": "逾期完成",
    "in_progress": "进行中",
    "not_started": "未开始",
    "overdue": "逾期未完成",
}
STATUS_NAMES_EN = {"done": "done on time", "done_late": "done late", "in_progress": "in progress",
                   "not_started": "not started", "overdue": "overdue"}
PLAN_COLUMNS = ("road_id", "task_code", "side", "from_m", "to_m", "due_date")
RECORD_COLUMNS = ("id", "road_id", "task_code", "side", "from_m", "to_m", "done_on", "quantity")
_KEY = ["road_id", "task_code", "side"]


def _check(frame: pd.DataFrame, columns, what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(f"{what} must be a DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationError(f"{what} lacks column(s) {missing!r}; it has {list(frame.columns)!r}")
    bad_side = frame.loc[~frame["side"].isin(list(SIDES)), "side"] if "side" in columns else []
    if len(bad_side):
        raise ValidationError(f"{what}: side {bad_side.iloc[0]!r} is not one of {', '.join(SIDES)}")


def _road_lengths(roads_metric: gpd.GeoDataFrame) -> pd.Series:
    if not isinstance(roads_metric, gpd.GeoDataFrame) or roads_metric.crs is None or not roads_metric.crs.is_projected:
        raise ValidationError("roads must be a GeoDataFrame in a metric (projected) CRS")
    return pd.Series(roads_metric.length.to_numpy(), index=roads_metric["road_id"].to_numpy(), name="length_m")


# ------------------------------------------------------------------ chainage


def chainage_label(chainage_m) -> pd.Series:
    """Chainages as stake marks, ``K1+250`` for 1250 m (rounded to the metre)."""
    m = np.rint(np.asarray(chainage_m, dtype="float64")).astype("int64")
    return pd.Series([f"K{km}+{rest:03d}" for km, rest in zip(m // 1000, m % 1000)], dtype="string")


def road_sections(
    roads_metric: gpd.GeoDataFrame,
    *,
    step_m: float = 200.0,
    named: pd.DataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Greening sections of roads: every ``step_m`` metres of chainage, or named ones.

    Parameters
    ----------
    roads_metric : GeoDataFrame
        ``road_id``, ``name``, LineStrings in a metric CRS, each from its start.
    step_m : float, keyword-only
        Section length in metres (default 200): sections start at 0, 200, 400 …
        and the last one ends at the road's end, so it may be shorter.
    named : DataFrame, optional, keyword-only
        ``road_id``, ``section_name``, ``from_m``, ``to_m``: sections to use
        instead (for the roads they name; other roads get ``step_m`` sections).

    Returns
    -------
    GeoDataFrame
        In the roads' CRS: ``road_id``, ``name``, ``section_no`` (1-based along the
        road), ``section_name`` (e.g. ``K0+200–K0+400`` unless named), ``from_m``,
        ``to_m``, ``length_m``, the stretch of road as a LineString.
    """
    if not isinstance(step_m, (int, float)) or not math.isfinite(step_m) or step_m <= 0:
        raise ValidationError(f"step_m {step_m!r} must be a positive number of metres")
    length = _road_lengths(roads_metric)
    road_pos = pd.Series(np.arange(len(roads_metric)), index=roads_metric["road_id"].to_numpy())
    regular = roads_metric["road_id"].to_numpy()
    parts = []
    if named is not None:
        _check(named, ("road_id", "section_name", "from_m", "to_m"), "named sections")
        unknown = named.loc[~named["road_id"].isin(road_pos.index), "road_id"]
        if len(unknown):
            raise ValidationError(f"named sections: unknown road {unknown.iloc[0]!r}")
        outside = (
            (named["from_m"] < 0)
            | (named["to_m"] <= named["from_m"])
            | (named["to_m"] > named["road_id"].map(length) + 1e-6)
        )
        if outside.any():
            row = named[outside].iloc[0]
            raise ValidationError(
                f"named section {row['section_name']!r} ({row['from_m']}–{row['to_m']} m) "
                f"is not within road {row['road_id']!r}"
            )
        parts.append(named[["road_id", "section_name", "from_m", "to_m"]].astype({"from_m": float, "to_m": float}))
        regular = regular[~np.isin(regular, named["road_id"].to_numpy())]
    lengths = length.loc[regular].to_numpy()
    # Float noise must not add a sliver section after the last full one.
    count = np.maximum(np.ceil(lengths / step_m - 1e-9), 1).astype("int64")
    road = np.repeat(regular, count)
    k = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    start = k * float(step_m)
    end = np.minimum(start + step_m, np.repeat(lengths, count))
    parts.append(
        pd.DataFrame(
            {
                "road_id": road,
                "from_m": start,
                "to_m": end,
                "section_name": chainage_label(start) + "–" + chainage_label(end),
            }
        )
    )
    frame = pd.concat(parts, ignore_index=True).sort_values(["road_id", "from_m"], kind="stable", ignore_index=True)
    frame["section_no"] = frame.groupby("road_id").cumcount() + 1
    frame["length_m"] = frame["to_m"] - frame["from_m"]
    frame["name"] = frame["road_id"].map(dict(zip(roads_metric["road_id"], roads_metric["name"])))
    geoms = line_substrings(
        roads_metric.geometry.to_numpy(),
        frame["road_id"].map(road_pos).to_numpy(),
        frame["from_m"].to_numpy(),
        frame["to_m"].clip(upper=frame["road_id"].map(length)).to_numpy(),
    )
    columns = ["road_id", "name", "section_no", "section_name", "from_m", "to_m", "length_m"]
    return gpd.GeoDataFrame(frame[columns], geometry=geoms, crs=roads_metric.crs)


def record_geometries(records: pd.DataFrame, roads_metric: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """Where records lie: the stretch of road (or the point) they cover, in the roads' CRS.

    Chainages are clipped to the road first (see :func:`clip_to_roads`); records on
    roads not in ``roads_metric`` are refused.
    """
    _check(records, ("road_id", "from_m", "to_m"), "records")
    length = _road_lengths(roads_metric)
    unknown = records.loc[~records["road_id"].isin(length.index), "road_id"]
    if len(unknown):
        raise ValidationError(f"records: unknown road {unknown.iloc[0]!r}")
    pos = pd.Series(np.arange(len(length)), index=length.index)
    road_len = records["road_id"].map(length).to_numpy()
    start = np.clip(records["from_m"].to_numpy(dtype=float), 0, road_len)
    end = np.clip(records["to_m"].to_numpy(dtype=float), start, road_len)
    geoms = line_substrings(roads_metric.geometry.to_numpy(), records["road_id"].map(pos).to_numpy(), start, end)
    return gpd.GeoSeries(geoms, index=records.index, crs=roads_metric.crs)


# ------------------------------------------------------------------ intervals


def clip_to_roads(records: pd.DataFrame, road_length_m: pd.Series) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clip record intervals to ``[0, road length]``; report what was changed or dropped.

    Parameters
    ----------
    records : DataFrame
        ``id``, ``road_id``, ``from_m``, ``to_m`` (metres, ``from_m <= to_m``).
    road_length_m : Series
        Road length in metres, indexed by ``road_id``.

    Returns
    -------
    (DataFrame, DataFrame)
        The records kept, with ``from_m`` / ``to_m`` clipped; and one row per
        record that was clipped or dropped: ``id``, ``road_id``, ``from_m``,
        ``to_m`` (as recorded), ``length_m`` (of the road), ``kept_from_m``,
        ``kept_to_m`` (NaN when dropped) and ``reason``.
    """
    _check(records, ("id", "road_id", "from_m", "to_m"), "records")
    reversed_ = records["to_m"] < records["from_m"]
    if reversed_.any():
        raise ValidationError(f"record {records.loc[reversed_, 'id'].iloc[0]!r} ends before it starts")
    length = records["road_id"].map(road_length_m).astype("float64")
    unknown = length.isna()
    outside = ~unknown & ((records["from_m"] > length) | (records["to_m"] < 0))
    over = ~unknown & ~outside & ((records["from_m"] < 0) | (records["to_m"] > length))
    dropped = unknown | outside
    kept_from = records["from_m"].clip(lower=0).where(~dropped)
    kept_to = np.minimum(records["to_m"], length).where(~dropped)
    flagged = dropped | over
    # Reasons are written for the flagged few only: text for every record would cost more than the rest.
    shown = "(0–" + length[flagged].round(1).astype("string") + " m)"
    reason = ("clipped to the road " + shown).mask(outside[flagged], "entirely outside the road " + shown + ": ignored")
    reason = reason.mask(unknown[flagged], "unknown road: ignored")
    report = records.loc[flagged, ["id", "road_id", "from_m", "to_m"]].assign(
        length_m=length[flagged], kept_from_m=kept_from[flagged], kept_to_m=kept_to[flagged], reason=reason
    )
    kept = records[~dropped].assign(from_m=kept_from[~dropped], to_m=kept_to[~dropped])
    return kept, report.reset_index(drop=True)


def union_intervals(intervals: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Merge overlapping or touching intervals within each group of ``by``.

    Returns a frame with the ``by`` columns, ``from_m`` and ``to_m``: disjoint
    intervals sorted by group and chainage. Points (``from_m == to_m``) are dropped:
    they cover no length.
    """
    spans = intervals.loc[intervals["to_m"] > intervals["from_m"], [*by, "from_m", "to_m"]]
    spans = spans.sort_values([*by, "from_m"], kind="stable", ignore_index=True)
    if spans.empty:
        return spans
    reach = spans.groupby(by, sort=False)["to_m"].cummax()
    new_group = spans[by].ne(spans[by].shift()).any(axis=1)
    # A new merged interval starts where the group changes or a gap opens.
    starts = new_group | (spans["from_m"] > reach.shift())
    run = starts.cumsum()
    merged = spans.groupby(run, sort=False).agg({**{c: "first" for c in by}, "from_m": "first", "to_m": "max"})
    return merged.reset_index(drop=True)


def intersect_intervals(a: pd.DataFrame, b: pd.DataFrame, on: list[str]) -> pd.DataFrame:
    """Overlaps of two sets of intervals that are each disjoint within a group of ``on``.

    Returns a's columns with ``from_m`` / ``to_m`` replaced by the overlap, one row
    per overlapping pair with positive length; rows of ``a`` that overlap nothing
    are absent.
    """
    pairs = a.reset_index(drop=True).merge(b[[*on, "from_m", "to_m"]], on=on, suffixes=("", "_b"))
    lo = np.maximum(pairs["from_m"], pairs["from_m_b"])
    hi = np.minimum(pairs["to_m"], pairs["to_m_b"])
    keep = hi > lo
    return pairs[keep].assign(from_m=lo[keep], to_m=hi[keep]).drop(columns=["from_m_b", "to_m_b"])


def _length_by(intervals: pd.DataFrame, by: list[str]) -> pd.Series:
    return (intervals["to_m"] - intervals["from_m"]).groupby([intervals[c] for c in by]).sum()


# ------------------------------------------------------------------ progress


@dataclass(frozen=True)
class Progress:
    """The outcome of :func:`progress`.

    Attributes
    ----------
    table : DataFrame
        One row per road and task of the plan (see :func:`progress`).
    clipped : DataFrame
        Records clipped to their road or ignored (see :func:`clip_to_roads`).
    """

    table: pd.DataFrame
    clipped: pd.DataFrame


def _per_record(records: pd.DataFrame, by_pair: pd.Series) -> np.ndarray:
    """``by_pair`` (indexed by road_id, task_code) looked up for each record; NaN where absent."""
    index = pd.MultiIndex.from_frame(records[["road_id", "task_code"]])
    return by_pair.reindex(index).to_numpy()


def _counted(records: pd.DataFrame, plan_year: pd.Series, as_of: pd.Timestamp) -> pd.DataFrame:
    """Records done on or before ``as_of`` in the year of the plan for their road and task."""
    done = pd.to_datetime(records["done_on"])
    year = _per_record(records, plan_year.astype("float64"))
    return records[(done <= as_of).to_numpy() & (done.dt.year.to_numpy() == year)]


def progress(
    plan: pd.DataFrame,
    records: pd.DataFrame,
    *,
    roads_metric: gpd.GeoDataFrame,
    tasks: pd.DataFrame,
    as_of,
    tolerance_m: float = 0.5,
) -> Progress:
    """Share of the planned length done, per road and task, as of a date; and what is overdue.

    Parameters
    ----------
    plan : DataFrame
        :data:`PLAN_COLUMNS`: what is to be done where, on which side, by when.
        Plan rows of one road and task may cover several stretches and sides; the
        task's due date on the road is the latest ``due_date`` of its rows.
    records : DataFrame
        :data:`RECORD_COLUMNS`; ``quantity`` may be missing (NaN).
    roads_metric : GeoDataFrame
        ``road_id``, ``name``, metric LineStrings: the road lengths records are
        clipped to.
    tasks : DataFrame
        The task table (:func:`geo.greening.tasks.load_greening_tasks`).
    as_of : date-like
        Records dated after this day are not counted yet.
    tolerance_m : float, keyword-only
        Length in metres that may stay uncovered for a task to count as complete
        (chainages are paced or read off stakes; default 0.5 m).

    Returns
    -------
    Progress
        ``table`` columns: ``road_id``, ``road_name``, ``task_code``, ``task_name``,
        ``season``, ``due_date``, ``planned_m``, ``done_m``, ``done_share`` (0–1),
        ``done_by_due_m``, ``n_records``, ``quantity``, ``unit``, ``last_done_on``,
        ``status`` (a key of :data:`STATUS_NAMES`), ``status_name``,
        ``days_overdue`` (days past due while not complete, else 0).

    Notes
    -----
    Only the planned stretches count: work recorded where nothing was planned adds
    nothing to ``done_m`` (it still counts in ``n_records`` and ``quantity``).
    A record counts when it is dated on or before ``as_of`` and in the year of
    the task's due date. The status rule, with *complete* meaning that at most
    ``tolerance_m`` of the planned length is left uncovered:

    * ``done``: complete by the due date;
    * ``done_late``: complete as of ``as_of`` but not by the due date;
    * ``overdue``: ``as_of`` is after the due date and the task is not complete;
      ``days_overdue`` counts the days since the due date;
    * ``in_progress``: not yet due, some length done;
    * ``not_started``: not yet due, nothing done.
    """
    _check(plan, PLAN_COLUMNS, "plan")
    _check(records, RECORD_COLUMNS, "records")
    if not isinstance(tolerance_m, (int, float)) or not tolerance_m >= 0:
        raise ValidationError(f"tolerance_m {tolerance_m!r} must be a non-negative number of metres")
    unknown_task = plan.loc[~plan["task_code"].isin(tasks.index), "task_code"]
    if len(unknown_task):
        raise ValidationError(f"plan: unknown task {unknown_task.iloc[0]!r}")
    as_of = pd.Timestamp(as_of).normalize()
    lengths = _road_lengths(roads_metric)
    unknown_road = plan.loc[~plan["road_id"].isin(lengths.index), "road_id"]
    if len(unknown_road):
        raise ValidationError(f"plan: unknown road {unknown_road.iloc[0]!r}")

    plan = plan.assign(due_date=pd.to_datetime(plan["due_date"]))
    due = plan.groupby(["road_id", "task_code"])["due_date"].max()
    records, clipped = clip_to_roads(records, lengths)
    counted = _counted(records, due.dt.year, as_of)
    planned = union_intervals(plan.assign(to_m=np.minimum(plan["to_m"], plan["road_id"].map(lengths))), _KEY)
    done = intersect_intervals(union_intervals(counted, _KEY), planned, _KEY)
    by_due = counted[pd.to_datetime(counted["done_on"]).to_numpy() <= _per_record(counted, due)]
    done_by_due = intersect_intervals(union_intervals(by_due, _KEY), planned, _KEY)

    pair = ["road_id", "task_code"]
    table = due.rename("due_date").to_frame()
    table["planned_m"] = _length_by(planned, pair)
    table["done_m"] = _length_by(done, pair)
    table["done_by_due_m"] = _length_by(done_by_due, pair)
    grouped = counted.groupby(pair)
    table["n_records"] = grouped.size()
    table["quantity"] = grouped["quantity"].sum(min_count=1)
    table["last_done_on"] = grouped["done_on"].max()
    table = table.fillna({"planned_m": 0.0, "done_m": 0.0, "done_by_due_m": 0.0, "n_records": 0}).reset_index()
    table["n_records"] = table["n_records"].astype("int64")
    table["last_done_on"] = pd.to_datetime(table["last_done_on"])
    table["done_share"] = (table["done_m"] / table["planned_m"].where(table["planned_m"] > 0)).fillna(0.0)

    complete = table["planned_m"] - table["done_m"] <= tolerance_m
    complete_by_due = table["planned_m"] - table["done_by_due_m"] <= tolerance_m
    past_due = as_of > table["due_date"]
    status = np.select(
        [complete & complete_by_due, complete, past_due, table["done_m"] > 0],
        ["done", "done_late", "overdue", "in_progress"],
        default="not_started",
    )
    table["status"] = status
    table["status_name"] = table["status"].map(STATUS_NAMES)
    table["days_overdue"] = np.where(table["status"] == "overdue", (as_of - table["due_date"]).dt.days, 0)
    table["road_name"] = table["road_id"].map(dict(zip(roads_metric["road_id"], roads_metric["name"])))
    table["task_name"] = table["task_code"].map(tasks["name"])
    table["season"] = table["task_code"].map(tasks["season"])
    table["unit"] = table["task_code"].map(tasks["unit"])
    order = {code: i for i, code in enumerate(tasks.index)}
    table = table.sort_values(
        ["road_id", "task_code"],
        key=lambda c: c.map(order) if c.name == "task_code" else c,
        kind="stable",
        ignore_index=True,
    )
    columns = [
        "road_id",
        "road_name",
        "task_code",
        "task_name",
        "season",
        "due_date",
        "planned_m",
        "done_m",
        "done_share",
        "done_by_due_m",
        "n_records",
        "quantity",
        "unit",
        "last_done_on",
        "status",
        "status_name",
        "days_overdue",
    ]
    return Progress(table=table[columns], clipped=clipped)


def season_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per road and season: planned and done length over all its tasks, share, overdue tasks.

    ``table`` is :attr:`Progress.table`; returns ``road_id``, ``road_name``,
    ``season``, ``planned_m``, ``done_m``, ``done_share``, ``n_tasks``, ``n_overdue``.
    """
    grouped = table.assign(overdue=table["status"] == "overdue").groupby(["road_id", "road_name", "season"], sort=False)
    out = grouped.agg(
        planned_m=("planned_m", "sum"),
        done_m=("done_m", "sum"),
        n_tasks=("task_code", "size"),
        n_overdue=("overdue", "sum"),
    ).reset_index()
    out["done_share"] = (out["done_m"] / out["planned_m"].where(out["planned_m"] > 0)).fillna(0.0)
    return out[["road_id", "road_name", "season", "planned_m", "done_m", "done_share", "n_tasks", "n_overdue"]]


def section_progress(
    sections: gpd.GeoDataFrame,
    plan: pd.DataFrame,
    records: pd.DataFrame,
    *,
    task_code: str,
    as_of,
) -> gpd.GeoDataFrame:
    """Progress of one task in each section (all sides together), as of a date.

    Parameters
    ----------
    sections : GeoDataFrame
        From :func:`road_sections`.
    plan, records : DataFrame
        As for :func:`progress`; records already clipped to their roads.
    task_code : str
        The task shown.
    as_of : date-like
        Records dated after this day are not counted.

    Returns
    -------
    GeoDataFrame
        ``sections`` plus ``planned_m`` (planned length in the section, summed over
        sides), ``done_m`` (of it, the length covered), ``done_share`` (NaN where
        nothing is planned) and ``n_records`` (records of the task meeting the
        section, points included).
    """
    _check(plan, PLAN_COLUMNS, "plan")
    _check(records, RECORD_COLUMNS, "records")
    as_of = pd.Timestamp(as_of).normalize()
    plan = plan[plan["task_code"] == task_code]
    due_year = pd.to_datetime(plan.groupby(["road_id", "task_code"])["due_date"].max()).dt.year
    counted = _counted(records[records["task_code"] == task_code], due_year, as_of)
    planned = union_intervals(plan, _KEY)
    done = intersect_intervals(union_intervals(counted, _KEY), planned, _KEY)
    cut = sections[["road_id", "section_no", "from_m", "to_m"]]
    by = ["road_id", "section_no"]
    out = sections.copy()
    index = pd.MultiIndex.from_frame(out[by])
    out["planned_m"] = (
        _length_by(intersect_intervals(cut, planned, ["road_id"]), by).reindex(index, fill_value=0.0).to_numpy()
    )
    out["done_m"] = (
        _length_by(intersect_intervals(cut, done, ["road_id"]), by).reindex(index, fill_value=0.0).to_numpy()
    )
    out["done_share"] = out["done_m"] / out["planned_m"].where(out["planned_m"] > 0)
    out["n_records"] = section_records(sections, counted).groupby(by).size().reindex(index, fill_value=0).to_numpy()
    return out


def section_records(sections: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    """Which records meet which sections: one row per (section, record) pair.

    A stretch meets a section when they overlap by more than a point; a spot
    (``from_m == to_m``) meets every section it lies in, ends included.

    Returns
    -------
    DataFrame
        ``road_id``, ``section_no`` and the record's columns (its ``from_m`` /
        ``to_m`` as recorded), ordered by section, then ``done_on``.
    """
    cut = sections[["road_id", "section_no", "from_m", "to_m"]].reset_index(drop=True)
    meets = cut.merge(pd.DataFrame(records).reset_index(drop=True), on="road_id", suffixes=("_s", ""))
    point = meets["from_m"] == meets["to_m"]
    overlaps = (meets["from_m"] < meets["to_m_s"]) & (meets["to_m"] > meets["from_m_s"])
    at = point & (meets["from_m"] >= meets["from_m_s"]) & (meets["from_m"] <= meets["to_m_s"])
    meets = meets[overlaps | at].drop(columns=["from_m_s", "to_m_s"])
    return meets.sort_values(["road_id", "section_no", "done_on"], kind="stable", ignore_index=True)


def default_plan(
    roads: pd.DataFrame,
    tasks: pd.DataFrame,
    *,
    year: int,
    road_length_m: pd.Series,
    sides: tuple[str, ...] = ("left", "right", "median"),
) -> pd.DataFrame:
    """Every task on the whole length of each road, on each of ``sides``, due on the task's default date.

    ``roads`` has ``road_id``; ``road_length_m`` is indexed by ``road_id``. Returns
    :data:`PLAN_COLUMNS` plus ``year``.
    """
    bad = [s for s in sides if s not in SIDES]
    if bad:
        raise ValidationError(f"side {bad[0]!r} is not one of {', '.join(SIDES)}")
    dates = task_dates(tasks, year=year)
    grid = pd.MultiIndex.from_product(
        [roads["road_id"], tasks.index, list(sides)], names=["road_id", "task_code", "side"]
    ).to_frame(index=False)
    grid["from_m"] = 0.0
    grid["to_m"] = grid["road_id"].map(road_length_m).astype("float64")
    grid["due_date"] = grid["task_code"].map(dates["due_date"])
    grid["year"] = year
    return grid


# ------------------------------------------------------------------ related issues


def greening_issues(
    issues: gpd.GeoDataFrame,
    segments: gpd.GeoDataFrame,
    roads_metric: gpd.GeoDataFrame,
    *,
    codes: tuple[str, ...],
) -> gpd.GeoDataFrame:
    """Greening issues on the given roads: those whose assigned segment belongs to one.

    Parameters
    ----------
    issues : GeoDataFrame
        Points with ``category_code`` and ``segment_id`` (as assigned), any CRS.
    segments : GeoDataFrame
        ``segment_id``, ``road_id`` (the road-segment layer).
    roads_metric : GeoDataFrame
        The roads of interest (``road_id``, ``name``, metric LineStrings).
    codes : tuple of str
        Event codes that count (:func:`geo.greening.tasks.greening_issue_codes`).

    Returns
    -------
    GeoDataFrame
        Those issues, in their own CRS, with ``road_id``, ``road_name`` and
        ``chainage_m`` (metres along the road of the point's projection).
    """
    road_of = segments.set_index("segment_id")["road_id"]
    seg = pd.to_numeric(issues["segment_id"], errors="coerce")
    road = seg.map(road_of)
    hit = issues[issues["category_code"].isin(codes).to_numpy() & road.isin(roads_metric["road_id"]).to_numpy()]
    hit = hit.assign(road_id=road[hit.index].astype("string"))
    hit["road_name"] = hit["road_id"].map(dict(zip(roads_metric["road_id"], roads_metric["name"])))
    points = hit.geometry.to_crs(roads_metric.crs)
    chainage = pd.Series(np.nan, index=hit.index)
    # One call per road (a handful), each vectorised over that road's issues.
    for road_id, line in zip(roads_metric["road_id"], roads_metric.geometry):
        on = (hit["road_id"] == road_id).to_numpy()
        chainage[on] = chainage_of(points[on].to_numpy(), line)
    hit["chainage_m"] = chainage
    return hit
