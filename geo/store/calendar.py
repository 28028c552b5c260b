"""The working-day calendar table and the deadlines that wait for it.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import Connection, Engine, text

from geo.clock import local_now
from geo.store.base import _with_conn


def read_calendar_days(bind: Engine | Connection) -> pd.DataFrame:
    """The holidays and make-up working days an office loaded: ``date`` (datetime64), ``kind``, ``name``."""
    rows = _with_conn(bind, lambda conn: conn.execute(
        text("SELECT day, kind, name FROM calendar_days ORDER BY day")).all())
    frame = pd.DataFrame(rows, columns=["date", "kind", "name"])
    return frame.assign(date=pd.to_datetime(frame["date"]), kind=frame["kind"].astype("string"))


def replace_calendar_years(conn: Connection, days: pd.DataFrame) -> list[int]:
    """Replace the loaded calendar of the years ``days`` covers (in the caller's transaction); the years.

    Every jurisdiction's layer version moves, so that long-running processes read
    the calendar again with their layers (:class:`geo.io.ingest.LayerCache`).
    """
    when = pd.to_datetime(days["date"])
    years = sorted({int(y) for y in when.dt.year})
    for year in years:
        conn.execute(text("DELETE FROM calendar_days WHERE day >= :a AND day <= :b"),
                     {"a": date(year, 1, 1), "b": date(year, 12, 31)})
    at = local_now()
    conn.execute(text("INSERT INTO calendar_days (day, kind, name, loaded_at) VALUES (:d, :k, :n, :at)"),
                 [{"d": d.date(), "k": str(k), "n": None if pd.isna(n) else str(n), "at": at}
                  for d, k, n in zip(when, days["kind"], days.get("name", pd.Series(pd.NA, index=days.index)))])
    conn.execute(text("UPDATE layer_versions SET version = version + 1, changed_at = :at"), {"at": at})
    return years


def read_provisional_deadlines(bind: Engine | Connection) -> pd.DataFrame:
    """Issues (every jurisdiction) whose deadline is provisional: ``id``, ``category_code``, ``reported_at``."""
    rows = _with_conn(bind, lambda conn: conn.execute(text(
        "SELECT id, category_code, reported_at FROM issues WHERE deadline_provisional ORDER BY id")).all())
    frame = pd.DataFrame(rows, columns=["id", "category_code", "reported_at"])
    return frame.assign(reported_at=pd.to_datetime(frame["reported_at"]))


def update_deadlines(conn: Connection, deadlines: pd.DataFrame) -> int:
    """Set ``deadline_at`` and ``deadline_provisional`` of issues by ``id`` (in the caller's transaction)."""
    if deadlines.empty:
        return 0
    conn.execute(text("UPDATE issues SET deadline_at = :due, deadline_provisional = :p WHERE id = :id"),
                 [{"id": int(i), "due": None if pd.isna(d) else pd.Timestamp(d).to_pydatetime(), "p": bool(p)}
                  for i, d, p in zip(deadlines["id"], deadlines["deadline_at"], deadlines["deadline_provisional"])])
    return len(deadlines)
