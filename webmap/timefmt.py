"""Timestamps on the wire: RFC 3339 / W3C date-times with an offset, for Open311 and OGC API.

The database holds naive local time (Asia/Shanghai, UTC+08:00, no daylight saving:
see ``geo.clock``). Standard APIs need an explicit offset both ways: outputs carry
``+08:00``; inputs with an offset (``Z``, ``-05:00``) are converted to local time,
inputs without one are taken as local time already.
"""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from geo.clock import to_local
from geo.errors import ValidationError

#: the years a date parameter may name; beyond them a date is a typo (and overflows time zone arithmetic)
MIN_YEAR, MAX_YEAR = 1900, 2199

def to_rfc3339(values: pd.Series) -> pd.Series:
    """Naive local datetimes → ``YYYY-MM-DDTHH:MM:SS+08:00`` text; missing stay None."""
    text = pd.to_datetime(values).dt.strftime("%Y-%m-%dT%H:%M:%S+08:00")
    return text.astype(object).where(text.notna(), None)


def parse_rfc3339(text: str, *, name: str) -> tuple[datetime, bool]:
    """Parse a date-time or a date into naive local time.

    Parameters
    ----------
    text : str
        ``2025-03-01T08:00:00Z``, ``2025-03-01T08:00:00+08:00``, ``2025-03-01T08:00:00``
        (local) or ``2025-03-01``.
    name : str
        The parameter's name, quoted in the error message.

    Returns
    -------
    (datetime, bool)
        The naive local time, and whether ``text`` was a bare date (a whole day).
    """
    raw = text.strip()
    whole_day = len(raw) == 10
    try:
        value = datetime.combine(date.fromisoformat(raw), datetime.min.time()) if whole_day else datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ValidationError(f"{name}={text!r}: expected an RFC 3339 date-time such as 2025-03-01T08:00:00+08:00"
                              ) from exc
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValidationError(f"{name}={text!r}: expected a date-time of the years {MIN_YEAR}…{MAX_YEAR}")
    return (to_local(value) if value.tzinfo is not None else value), whole_day
