"""The states of an issue and their Chinese names, read from ``geo/data/statuses.csv``.

The closed loop moves an issue between these states (the moves are
``geo/data/transitions.csv``, owned by :mod:`geo.loop.workflow`); the schema, the
filters, the pages and Open311 all read the vocabulary from here. ``name`` is the
label a supervisor reads (已派遣), ``name_en`` its English; ``plain`` the words a citizen reads on the page
that tracks a report.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["ISSUE_STATUSES", "OPEN_STATUSES", "STATUS_LABELS", "STATUS_LABELS_EN", "STATUS_PLAIN", "UNHANDLED_STATUSES"]

_FILE = Path(__file__).resolve().parent / "data" / "statuses.csv"


def _read() -> pd.DataFrame:
    table = pd.read_csv(_FILE, dtype=str, keep_default_na=False)
    if table["status"].duplicated().any() or not table["open"].isin(["0", "1"]).all():
        raise RuntimeError(f"{_FILE}: statuses must be unique and 'open' 0 or 1")
    return table


_TABLE = _read()
#: every state, in the order of the loop (上报 → 结案, then the two ends outside it)
ISSUE_STATUSES: tuple[str, ...] = tuple(_TABLE["status"])
#: the states in which an issue still waits for someone
OPEN_STATUSES: tuple[str, ...] = tuple(_TABLE.loc[_TABLE["open"] == "1", "status"])
#: the open states before 已处置: the handling is still to come (a reworked issue is dispatched again)
UNHANDLED_STATUSES: tuple[str, ...] = OPEN_STATUSES[:OPEN_STATUSES.index("handled")]
#: status → the supervisor's label
STATUS_LABELS: dict[str, str] = dict(zip(_TABLE["status"], _TABLE["name"]))
#: status → the English label
STATUS_LABELS_EN: dict[str, str] = dict(zip(_TABLE["status"], _TABLE["name_en"]))
#: status → what a citizen is told
STATUS_PLAIN: dict[str, str] = dict(zip(_TABLE["status"], _TABLE["plain"]))
