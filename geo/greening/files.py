"""Greening work records and plans (stake marks, sides, tasks) from spreadsheets, read with :mod:`geo.io.tables`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from geo.errors import ImportRejected, RowError, ValidationError
from geo.greening.tasks import resolve_tasks, task_dates
from geo.io.sources import chunk_text, formula_problems, read_source
from geo.io.tables import (
    column_of,
    fold_text,
    match_headers,
    parse_times,
    refuse_missing,
    row_problems,
)

# Canonical greening field -> accepted headers (as for issues: NFKC, case folded).
_GREENING_ALIASES: dict[str, tuple[str, ...]] = {
    "external_id": ("记录编号", "编号", "id", "external_id"),
    "road": ("道路", "道路名称", "路名", "road", "road_id"),
    "task": ("作业", "作业项目", "养护作业", "任务", "task", "task_code"),
    "side": ("侧别", "位置", "side"),
    "from_m": ("起点桩号", "起点", "from_m"),
    "to_m": ("终点桩号", "终点", "to_m"),
    "at_m": ("桩号", "点位桩号", "at_m"),
    "done_on": ("作业日期", "完成日期", "日期", "date", "done_on"),
    "due_date": ("截止日期", "完成时限", "due_date"),
    "section_name": ("路段", "路段名称", "section_name"),
    "team": ("班组", "作业班组", "责任班组", "team"),
    "quantity": ("数量", "工程量", "quantity"),
    "photo": ("照片", "照片编号", "photo"),
    "note": ("备注", "note"),
}
_SIDE_WORDS = {
    "left": "left", "l": "left", "左": "left", "左侧": "left",
    "right": "right", "r": "right", "右": "right", "右侧": "right",
    "median": "median", "m": "median", "中": "median", "中央分隔带": "median", "中分带": "median",
    "分隔带": "median",
}
# A stake mark: K1+250 or K1+250.5 is 1250 (.5) metres of chainage.
_STAKE = re.compile(r"^[kK](\d+)\+(\d+(?:\.\d+)?)$")


@dataclass
class GreeningBatch:
    """The outcome of reading a greening-record file.

    Attributes
    ----------
    frame : pandas.DataFrame
        The good rows: ``external_id`` (``<NA>`` when the file has none),
        ``road_id``, ``task_code``, ``side`` (``left``/``right``/``median``),
        ``from_m``, ``to_m`` (metres of chainage; equal for work at one spot),
        ``done_on`` (datetime64, midnight), ``team``, ``quantity`` (float, NaN
        when empty), ``photo``, ``note``, ``row``.
    errors : list of geo.errors.RowError
    file : str
    """

    frame: pd.DataFrame
    errors: list[RowError] = field(default_factory=list)
    file: str = ""


def _chainage(text: pd.Series) -> pd.Series:
    """Chainage cells in metres: plain numbers or stake marks (``K1+250``); NaN when unreadable."""
    folded = text.str.normalize("NFKC").str.replace(r"\s", "", regex=True)
    stake = folded.str.extract(_STAKE).astype("float64")
    plain = pd.to_numeric(folded.where(stake[0].isna()).astype(object), errors="coerce").astype("float64")
    return plain.fillna(stake[0] * 1000 + stake[1])


def _greening_table(path: Path, required: tuple[str, ...], roads: pd.DataFrame, tasks: pd.DataFrame):
    """Read a greening CSV/XLSX and check what plans and records share: road, task, side, chainage."""

    name = path.name
    if not path.is_file():
        raise ValidationError(f"{name}: no such file ({str(path)!r})")
    if path.suffix.lower() not in (".csv", ".xlsx"):
        raise ValidationError(f"{name}: unsupported file type {path.suffix.lower()!r}; expected .csv or .xlsx")
    missing_roads = [c for c in ("road_id", "name", "length_m") if c not in roads.columns]
    if missing_roads:
        raise ValidationError(f"roads lack column(s) {missing_roads}")
    raw = read_source(path, name, _GREENING_ALIASES)
    headers = [str(h) for h in raw.table.columns]
    found = match_headers(headers, _GREENING_ALIASES)
    missing = [c for c in required if c not in found]
    if "at_m" not in found and not {"from_m", "to_m"} <= set(found):
        missing += [c for c in ("from_m", "to_m") if c not in found]
    refuse_missing(name, missing, _GREENING_ALIASES, headers)
    data, rows = chunk_text(raw, found)
    problems: list[RowError] = formula_problems(raw, found, name)

    road_text = column_of(data, "road")
    by_id = dict(zip(roads["road_id"].astype(str), roads["road_id"].astype(str)))
    names = roads["name"].astype("string").str.normalize("NFKC")
    by_name = {n: r for n, r in zip(names, roads["road_id"].astype(str)) if (names == n).sum() == 1}
    folded = road_text.str.normalize("NFKC").str.strip()
    road_id = folded.map(by_id).fillna(folded.map(by_name)).astype("string")
    problems += row_problems(name, rows, road_text.isna(), "road", "missing", None)
    problems += row_problems(name, rows, road_text.notna() & road_id.isna(), "road",
                          "unknown road (give its name or road_id)", road_text)

    task_text = column_of(data, "task")
    task_code = resolve_tasks(task_text, tasks)
    problems += row_problems(name, rows, task_text.isna(), "task", "missing", None)
    problems += row_problems(name, rows, task_text.notna() & task_code.isna(), "task",
                          f"unknown task; known: {', '.join(tasks['name'])}", task_text)

    side_text = column_of(data, "side")
    side = fold_text(side_text).map(_SIDE_WORDS).astype("string")
    problems += row_problems(name, rows, side_text.isna(), "side", "missing", None)
    problems += row_problems(name, rows, side_text.notna() & side.isna(), "side",
                          "unknown side; accepted: 左侧/右侧/中央分隔带 or left/right/median", side_text)

    at_text, from_text, to_text = column_of(data, "at_m"), column_of(data, "from_m"), column_of(data, "to_m")
    at, start, end = _chainage(at_text), _chainage(from_text), _chainage(to_text)
    for field_name, text, value in (("at_m", at_text, at), ("from_m", from_text, start), ("to_m", to_text, end)):
        problems += row_problems(name, rows, text.notna() & value.isna(), field_name,
                              "not a chainage (expected metres such as 1250 or a stake mark such as K1+250)", text)
        problems += row_problems(name, rows, (value < 0).fillna(False), field_name, "negative chainage", text)
    start, end = start.fillna(at), end.fillna(at)
    neither = at_text.isna() & (from_text.isna() | to_text.isna())
    problems += row_problems(name, rows, neither, "from_m", "missing: give from_m and to_m, or at_m for one spot", None)
    problems += row_problems(name, rows, (start > end).fillna(False), "to_m", "smaller than from_m", to_text)
    length = road_id.map(dict(zip(roads["road_id"].astype(str), roads["length_m"]))).astype("float64")
    beyond = (start > length).fillna(False)
    problems += row_problems(name, rows, beyond, "from_m",
                          "beyond the road's end (" + length.round(1).astype("string") + " m)",
                          start.astype("string"))
    columns = {"road_id": road_id, "task_code": task_code, "side": side, "from_m": start, "to_m": end,
               "team": column_of(data, "team")}
    return data, rows, columns, problems, raw.excel


#: a greening record's photo: a relative file reference of the field app (no scheme, host, absolute path,
#: backslash or "..", so it can never be made into a link to somewhere else)
PHOTO_REFERENCE = r"(?!.*\.\.)[\w\-]+(?:[./][\w\-]+)*"


def read_greening_records(path: str | Path, *, roads: pd.DataFrame, tasks: pd.DataFrame) -> GreeningBatch:
    """Read and validate a file of greening work records, one RowError per problem.

    Parameters
    ----------
    path : str or pathlib.Path
        ``.csv`` (UTF-8 or GB18030) or ``.xlsx`` (first sheet). Headers (Chinese or
        English): 记录编号/id (optional; re-imports skip ids already stored),
        道路/road (name or road_id), 作业/task (code or name, e.g. 修剪),
        侧别/side (左侧, 右侧, 中央分隔带 or left/right/median), 起点桩号/from_m and
        终点桩号/to_m, or 桩号/at_m for work at one spot (metres or ``K1+250``),
        作业日期/date, and optionally 班组/team, 数量/quantity, 照片/photo, 备注/note.
    roads : DataFrame, keyword-only
        ``road_id``, ``name``, ``length_m`` of the roads records may name.
    tasks : DataFrame, keyword-only
        The task table (:func:`geo.greening.tasks.load_greening_tasks`).

    Returns
    -------
    GreeningBatch
        Good rows and row errors. A ``to_m`` past the road's end is kept (the
        analysis clips and reports it); a ``from_m`` past it is an error.

    Raises
    ------
    geo.errors.ValidationError
        Unreadable file, unsupported type, or a required column missing.
    """
    path = Path(path)
    name = path.name
    data, rows, columns, problems, excel = _greening_table(path, ("road", "task", "side", "done_on"), roads, tasks)
    done_text = data["done_on"]
    done = parse_times(done_text, excel=excel).dt.normalize()
    problems += row_problems(name, rows, done_text.isna(), "done_on", "missing", None)
    problems += row_problems(name, rows, done_text.notna() & done.isna(), "done_on",
                          "not a date (expected e.g. 2025-03-12)", done_text)
    quantity_text = column_of(data, "quantity")
    quantity = pd.to_numeric(quantity_text.str.normalize("NFKC"), errors="coerce")
    problems += row_problems(name, rows, quantity_text.notna() & ~(quantity >= 0).fillna(False), "quantity",
                          "not a number of 0 or more", quantity_text)
    photo = column_of(data, "photo")
    problems += row_problems(name, rows, photo.notna() & ~photo.str.fullmatch(PHOTO_REFERENCE).fillna(False), "photo",
                          "not a photo reference (a field app's file name such as IMG_0012.jpg or "
                          "photos/2025/GR-0001.jpg); links, absolute paths and '..' are refused", photo)
    external_id = column_of(data, "external_id")
    repeated = external_id.notna() & external_id.duplicated(keep="first")
    first_row = pd.Series(rows, index=data.index).groupby(external_id).transform("first")
    problems += row_problems(name, rows, repeated, "external_id",
                          "duplicate of row " + first_row.astype("Int64").astype("string"), external_id)
    problems.sort(key=lambda problem: problem.row)
    good = ~np.isin(rows, [problem.row for problem in problems])
    frame = pd.DataFrame({"external_id": external_id, **columns, "done_on": done, "quantity": quantity,
                          "photo": photo, "note": column_of(data, "note"),
                          "row": pd.Series(rows, index=data.index, dtype="int64")})
    order = ["external_id", "road_id", "task_code", "side", "from_m", "to_m", "done_on", "team", "quantity",
             "photo", "note", "row"]
    return GreeningBatch(frame[good][order].reset_index(drop=True), problems, name)


def read_greening_plan(path: str | Path, *, roads: pd.DataFrame, tasks: pd.DataFrame, year: int) -> pd.DataFrame:
    """Read a greening work plan; any bad row refuses the whole plan.

    Headers as for :func:`read_greening_records` (道路, 作业, 侧别, 起点桩号/终点桩号),
    plus optional 截止日期/due_date (default: the task's due day in ``year``),
    路段/section_name and 班组/team.

    Returns
    -------
    pandas.DataFrame
        ``year``, ``road_id``, ``task_code``, ``side``, ``from_m``, ``to_m``,
        ``due_date`` (datetime64), ``section_name``, ``team``.

    Raises
    ------
    geo.errors.ImportRejected
        With every row error, when any row is bad (a half-loaded plan would show
        roads as having nothing to do).
    """

    path = Path(path)
    name = path.name
    data, rows, columns, problems, excel = _greening_table(path, ("road", "task", "side"), roads, tasks)
    default_due = columns["task_code"].map(task_dates(tasks, year=year)["due_date"])
    due_text = column_of(data, "due_date")
    due = parse_times(due_text, excel=excel).dt.normalize()
    problems += row_problems(name, rows, due_text.notna() & due.isna(), "due_date",
                          "not a date (expected e.g. 2025-04-30)", due_text)
    problems += row_problems(name, rows, (due.dt.year != year) & due.notna(), "due_date", f"not in {year}", due_text)
    problems += row_problems(name, rows, (columns["from_m"] == columns["to_m"]).fillna(False), "to_m",
                          "a plan row needs a stretch (to_m greater than from_m)", column_of(data, "to_m"))
    if problems:
        problems.sort(key=lambda problem: problem.row)
        raise ImportRejected(f"{name}: {len({p.row for p in problems})} bad row(s); the plan was not loaded", problems)
    frame = pd.DataFrame({"year": year, **columns, "due_date": due.fillna(default_due),
                          "section_name": column_of(data, "section_name")})
    return frame[["year", "road_id", "task_code", "side", "from_m", "to_m", "due_date", "section_name", "team"]]
