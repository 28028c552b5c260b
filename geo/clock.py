"""The one clock: the jurisdiction's civil time, which is how every timestamp is stored.

citymap's jurisdictions are in mainland China, whose civil time is China Standard Time
(``Asia/Shanghai``, UTC+08:00, no daylight saving since 1991). The database holds naive
local times; "today", "this month", deadlines and the default day of a route plan are
all taken from :func:`local_now` / :func:`local_today`, never from the server's own
time zone (servers run on UTC), so at 01:00 in Tianjin the route page plans today, not
yesterday.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pandas as pd

__all__ = ["JURISDICTION_TZ", "RFC3339_FORMAT", "local_now", "local_today", "rfc3339", "to_local"]

#: the jurisdiction's time zone (its name is also what pandas' ``tz_convert`` takes)
JURISDICTION_TZ = ZoneInfo("Asia/Shanghai")
#: the years a date given by a person may name: beyond them it is a typo, and it overflows time-zone and
#: calendar arithmetic (pandas' Timestamps hold 1677–2262)
MIN_YEAR, MAX_YEAR = 1900, 2199
#: strftime format of a stored (naive local) time on the wire: RFC 3339 with the jurisdiction's fixed offset
RFC3339_FORMAT = "%Y-%m-%dT%H:%M:%S+08:00"


def _utc_now() -> datetime:
    """The current instant (aware, UTC); the one place the system clock is read, so tests can set it."""
    return datetime.now(timezone.utc)


def to_local(moment: datetime) -> datetime:
    """An aware datetime as naive local time to the second (the stored form); a naive one is taken as local."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(JURISDICTION_TZ).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def local_now() -> datetime:
    """The current local time, naive, to the second."""
    return to_local(_utc_now())


def local_today() -> date:
    """Today's date in the jurisdiction."""
    return local_now().date()


def rfc3339(values: pd.Series) -> pd.Series:
    """Naive local datetimes → ``YYYY-MM-DDTHH:MM:SS+08:00`` text (RFC 3339 / W3C, as the standard APIs and
    webhooks carry them); missing stay None."""
    text = pd.to_datetime(values).dt.strftime(RFC3339_FORMAT)
    return text.astype(object).where(text.notna(), None)


def month_span(when: date) -> tuple[datetime, datetime]:
    """The ``[first day 00:00, first day of the next month 00:00)`` of the month holding ``when``."""
    start = datetime(when.year, when.month, 1)
    return start, datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
