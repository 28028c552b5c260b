"""Timestamps on the wire: RFC 3339 / W3C date-times with an offset, for Open311 and OGC API.

The database holds naive local time (Asia/Shanghai, UTC+08:00, no daylight saving:
see ``geo.clock``). Standard APIs need an explicit offset both ways: outputs carry
``+08:00``; inputs are parsed by :func:`webmap.params.instant`.
"""

from __future__ import annotations

import pandas as pd


def to_rfc3339(values: pd.Series) -> pd.Series:
    """Naive local datetimes → ``YYYY-MM-DDTHH:MM:SS+08:00`` text; missing stay None."""
    text = pd.to_datetime(values).dt.strftime("%Y-%m-%dT%H:%M:%S+08:00")
    return text.astype(object).where(text.notna(), None)
