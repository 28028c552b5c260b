"""Deterministic, illustrative greening plan and work records on the priority roads.

Nothing here is real: two teams (绿化一队, 绿化二队) share 津北公路 and 先锋东路,
each taking half of each road, and work through every season-bound task on the
left side, the right side and the median. Most stretches are done on time; some
teams run late, some leave a task unfinished (so the progress page has overdue work
to show), consecutive records overlap by a few metres, a handful of replanted trees
are recorded at single spots, and the last pruning records of 津北公路 run past
the end of the road (the analysis clips and reports them).

The frames returned are what ``scripts/make_sample_data.py`` writes to
``data/greening/`` and what ``citymap load-sample`` imports: the headers are the
Chinese ones a greening office would use (see :func:`geo.greening.files.read_greening_records`).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.crs import to_metric
from geo.greening.tasks import SIDES, load_greening_tasks, task_dates

GREENING_ROADS = ("津北公路", "先锋东路")
TEAMS = ("绿化一队", "绿化二队")
#: mean length of road one record covers, metres
_CHUNK_M = 240.0
#: shares of plan rows that run late / are left unfinished
_LATE_SHARE = 0.15
_UNFINISHED_SHARE = 0.12
#: trees per metre of one side, for tasks counted in trees
_TREES_PER_M = 1 / 6


def make_greening(
    roads: gpd.GeoDataFrame, *, year: int = 2025, seed: int = 20250101
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Make the sample greening plan and work records of ``year``.

    Parameters
    ----------
    roads : GeoDataFrame
        The road layer (``road_id``, ``name``), any CRS; lengths are measured in
        its metric CRS.
    year : int, keyword-only
        The plan year.
    seed : int, keyword-only
        Seed of the random generator; the same seed gives the same frames.

    Returns
    -------
    (DataFrame, DataFrame)
        The plan (道路, 作业, 侧别, 起点桩号, 终点桩号, 截止日期, 路段, 班组) and the records
        (记录编号, 道路, 作业, 侧别, 起点桩号, 终点桩号, 作业日期, 班组, 数量, 照片, 备注),
        chainages in metres to 0.1 m, dates as ``YYYY-MM-DD``.
    """
    rng = np.random.default_rng(seed + 7)
    tasks = load_greening_tasks()
    dates = task_dates(tasks, year=year)
    chosen = to_metric(roads[roads["name"].isin(GREENING_ROADS)]).reset_index(drop=True)
    length = np.floor(chosen.length.to_numpy() * 10) / 10

    # Plan: road × task × side × half of the road (one team each).
    grid = pd.MultiIndex.from_product(
        [range(len(chosen)), tasks.index, list(SIDES), range(len(TEAMS))], names=["road", "task", "side", "half"]
    ).to_frame(index=False)
    road_len = length[grid["road"]]
    grid["from_m"] = np.round(road_len * grid["half"] / len(TEAMS), 1)
    grid["to_m"] = np.where(
        grid["half"] == len(TEAMS) - 1, road_len, np.round(road_len * (grid["half"] + 1) / len(TEAMS), 1)
    )
    grid["start"] = grid["task"].map(dates["start_date"])
    grid["due"] = grid["task"].map(dates["due_date"])
    plan = pd.DataFrame(
        {
            "道路": chosen["name"].to_numpy()[grid["road"]],
            "作业": grid["task"].map(tasks["name"]),
            "侧别": grid["side"].map(SIDES),
            "起点桩号": grid["from_m"],
            "终点桩号": grid["to_m"],
            "截止日期": grid["due"].dt.strftime("%Y-%m-%d"),
            "路段": np.where(grid["half"] == 0, "西段/南段", "东段/北段"),
            "班组": np.asarray(TEAMS)[grid["half"]],
        }
    )

    # Records: each plan row is worked through in chunks from its start date.
    span = grid["to_m"].to_numpy() - grid["from_m"].to_numpy()
    n = np.maximum(np.ceil(span / _CHUNK_M), 1).astype("int64")
    fate = rng.random(len(grid))
    late = fate < _LATE_SHARE
    unfinished = (fate >= _LATE_SHARE) & (fate < _LATE_SHARE + _UNFINISHED_SHARE)
    kept = np.where(unfinished, np.ceil(n * rng.uniform(0.4, 0.85, len(grid))), n).astype("int64")
    row = np.repeat(np.arange(len(grid)), kept)
    k = np.arange(kept.sum()) - np.repeat(np.cumsum(kept) - kept, kept)
    step = span[row] / n[row]
    start_m = grid["from_m"].to_numpy()[row] + k * step
    # Crews start a little before the last crew stopped: overlaps of up to 15 m.
    start_m = np.maximum(start_m - rng.uniform(0, 15, row.size) * (k > 0), grid["from_m"].to_numpy()[row])
    end_m = grid["from_m"].to_numpy()[row] + (k + 1) * step
    window = (grid["due"] - grid["start"]).dt.days.to_numpy()
    # On time: spread over the window; late: over 1.6 times it.
    stretch = np.where(late, 1.6, 0.9)[row] * window[row]
    day = np.floor((k + rng.uniform(0, 1, row.size)) / n[row] * stretch).astype("int64")
    done = grid["start"].to_numpy()[row] + day.astype("timedelta64[D]")

    # The last pruning records of 津北公路 (each side) overshoot the road's end.
    overshoot = (
        (grid["road"].to_numpy()[row] == 0) & (grid["task"].to_numpy()[row] == "pruning") & (end_m >= length[0] - 1e-6)
    )
    end_m = np.where(overshoot, end_m + 12.5, end_m)

    task_of = grid["task"].to_numpy()[row]
    unit = tasks["unit"].reindex(task_of).to_numpy()
    metres = end_m - start_m
    quantity = np.select(
        [unit == "株", unit == "m²", unit == "处"],
        [np.round(metres * _TREES_PER_M), np.round(metres * 3), rng.integers(0, 6, row.size)],
        default=np.round(metres),
    )
    records = pd.DataFrame(
        {
            "road": chosen["name"].to_numpy()[grid["road"].to_numpy()[row]],
            "task": task_of,
            "side": grid["side"].to_numpy()[row],
            "from_m": np.round(start_m, 1),
            "to_m": np.round(end_m, 1),
            "done_on": pd.to_datetime(done),
            "team": np.asarray(TEAMS)[grid["half"].to_numpy()[row]],
            "quantity": quantity,
            "note": "",
        }
    )

    # A few trees replanted at single spots, after the main replanting.
    spots = 6
    spot_road = rng.integers(0, len(chosen), spots)
    at = np.round(rng.uniform(0, length[spot_road]), 1)
    extra = pd.DataFrame(
        {
            "road": chosen["name"].to_numpy()[spot_road],
            "task": "replanting",
            "side": np.asarray(list(SIDES))[rng.integers(0, len(SIDES), spots)],
            "from_m": at,
            "to_m": at,
            "done_on": dates.loc["replanting", "due_date"] - pd.to_timedelta(rng.integers(1, 20, spots), unit="D"),
            "team": np.asarray(TEAMS)[rng.integers(0, len(TEAMS), spots)],
            "quantity": rng.integers(1, 4, spots).astype(float),
            "note": "单株补植",
        }
    )
    records = pd.concat([records, extra], ignore_index=True)
    records = records.sort_values(["done_on", "road", "task", "side", "from_m"], kind="stable", ignore_index=True)
    ids = pd.Series([f"GR{year}-{i:04d}" for i in range(1, len(records) + 1)])
    photo = "photos/" + str(year) + "/" + ids + ".jpg"
    out = pd.DataFrame(
        {
            "记录编号": ids,
            "道路": records["road"],
            "作业": records["task"].map(tasks["name"]),
            "侧别": records["side"].map(SIDES),
            "起点桩号": records["from_m"],
            "终点桩号": records["to_m"],
            "作业日期": records["done_on"].dt.strftime("%Y-%m-%d"),
            "班组": records["team"],
            "数量": records["quantity"].astype("int64"),
            # About one record in three has a photo reference.
            "照片": photo.where(rng.random(len(records)) < 0.35, ""),
            "备注": records["note"],
        }
    )
    return plan, out
