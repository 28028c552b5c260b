"""Table rows as templates read them: a missing value is ``None``, whatever its column's dtype.

pandas 3 reads missing text as NaN (its ``str`` dtype), missing times as NaT and
missing integers as ``<NA>``; all three are truthy, so ``{{ r.description or "" }}`` and
``{% if r.deadline_at %}`` go wrong and a string filter on NaN raises. The pages pass
rows through :func:`template_rows` / :func:`template_row`, and the app renders ``None``
as an empty cell (``webmap.app``), so one stored NULL never breaks a page.
"""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

__all__ = ["template_row", "template_rows"]


def template_rows(frame: pd.DataFrame) -> list[SimpleNamespace]:
    """The rows of ``frame`` as objects with one attribute per column; NaN, NaT and NA become None.

    Timestamps stay :class:`pandas.Timestamp` (``strftime`` works); the index is dropped.
    """
    plain = frame.astype(object)
    plain = plain.where(pd.notna(plain), None)
    return [SimpleNamespace(**record) for record in plain.to_dict("records")]


def template_row(row: pd.Series) -> SimpleNamespace:
    """One row (a Series, e.g. ``frame.iloc[0]``) as :func:`template_rows` gives it."""
    return template_rows(row.to_frame().T)[0]
