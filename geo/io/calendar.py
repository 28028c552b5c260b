"""Working-day calendar files (holidays and adjusted working days).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from geo.errors import ImportRejected, ValidationError
from geo.io.sources import chunk_text, formula_problems, read_source
from geo.io.tables import (
    column_of,
    fold_text,
    match_headers,
    refuse_missing,
    row_problems,
)

_CALENDAR_ALIASES = {
    "date": ("日期", "date"),
    "kind": ("类型", "安排", "kind"),
    "name": ("节日", "名称", "name"),
}
#: how a notice's table says holiday or make-up working day
_CALENDAR_KINDS = {"holiday": "holiday", "放假": "holiday", "休息": "holiday", "节假日": "holiday",
                   "workday": "workday", "上班": "workday", "补班": "workday", "调休上班": "workday"}


def read_calendar_file(path: str | Path) -> pd.DataFrame:
    """Read a year's holidays and make-up working days (the State Council's notice as a table).

    Parameters
    ----------
    path : str or pathlib.Path
        A CSV or XLSX file with columns 日期/date (YYYY-MM-DD), 类型/kind
        (holiday/放假/休息 or workday/上班/补班) and optionally 节日/name.

    Returns
    -------
    DataFrame
        ``date`` (datetime64), ``kind`` (holiday | workday), ``name``.

    Raises
    ------
    geo.errors.ImportRejected
        Any bad row refuses the whole file (a year half loaded would count
        deadlines wrongly): a date that is not one, 2000–2100, a repeated date,
        an unknown kind, or a make-up working day that is not a Saturday or Sunday.
    """
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise ValidationError(f"{name}: no such file ({str(path)!r})")
    if path.suffix.lower() not in (".csv", ".xlsx"):
        raise ValidationError(f"{name}: unsupported file type {path.suffix.lower()!r}; expected .csv or .xlsx")
    raw = read_source(path, name, _CALENDAR_ALIASES)
    headers = [str(h) for h in raw.table.columns]
    found = match_headers(headers, _CALENDAR_ALIASES)
    refuse_missing(name, [c for c in ("date", "kind") if c not in found], _CALENDAR_ALIASES, headers)
    data, rows = chunk_text(raw, found)
    problems = formula_problems(raw, found, name)
    day_text, kind_text = data["date"], data["kind"]
    day = pd.to_datetime(day_text.str.normalize("NFKC"), format="%Y-%m-%d", errors="coerce")
    day = day.where((day >= "2000-01-01") & (day <= "2100-12-31"))
    kind = fold_text(kind_text).map(_CALENDAR_KINDS).astype("string")
    problems += row_problems(name, rows, day_text.isna(), "date", "missing", None)
    problems += row_problems(name, rows, day_text.notna() & day.isna(), "date",
                          "not a date of 2000–2100 written YYYY-MM-DD", day_text)
    problems += row_problems(name, rows, day.notna() & day.duplicated(keep="first"), "date", "repeated", day_text)
    problems += row_problems(name, rows, kind.isna(), "kind",
                          "expected holiday (放假/休息) or workday (上班/补班)", kind_text)
    weekday_makeup = (kind == "workday").fillna(False) & (day.dt.day_of_week < 5).fillna(False)
    problems += row_problems(name, rows, weekday_makeup, "date",
                          "a make-up working day (补班) falls on a Saturday or Sunday", day_text)
    if problems:
        problems.sort(key=lambda problem: problem.row)
        raise ImportRejected(f"{name}: {len({p.row for p in problems})} of {len(data)} rows are bad; "
                             "the calendar loads only whole", problems)
    if data.empty:
        raise ImportRejected(f"{name}: no day in the file", [])
    return pd.DataFrame({"date": day, "kind": kind, "name": column_of(data, "name")})
