"""Request parameters: one parser per kind of value, for every page and API.

Each parser takes the request's query string or form (any mapping with ``get``),
returns the parsed value (or the default when the parameter is absent or blank) and
raises :class:`geo.errors.ValidationError` — an HTTP 400 — whose message quotes the
parameter and its value and states what is accepted, in Chinese and English. So a
typo, an attack and an overflow all get the same plain answer, never a server error:
numbers are finite and bounded (a database integer is 64 bits), dates lie in
:data:`geo.clock.MIN_YEAR` … :data:`geo.clock.MAX_YEAR`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta

from geo.clock import MAX_YEAR, MIN_YEAR, month_span, to_local
from geo.errors import ValidationError
from geo.issue_filter import IssueFilter
from geo.statuses import ISSUE_STATUSES, OPEN_STATUSES

#: the largest id a database integer column holds
MAX_ID = 2**63 - 1
#: the query parameters of :func:`issue_filter`, in the order they go into a link
ISSUE_FILTER_NAMES = ("status", "category", "department", "community", "source", "since", "until", "due_since",
                      "due_until", "bbox")

_WHOLE_RE = re.compile(r"[+-]?\d{1,19}", re.ASCII)
_MONTH_RE = re.compile(r"(\d{4})-(\d{2})", re.ASCII)


def _raw(args: Mapping, name: str) -> str:
    value = args.get(name)
    return "" if value is None else str(value).strip()


def _refuse(name: str, raw: str, zh: str, en: str) -> ValidationError:
    return ValidationError(f"{name}={raw[:80]!r}：应为{zh} (expected {en})")


def _finite(text: str) -> float:
    """``text`` as a float written in ASCII; NaN when it is none (so one finiteness check refuses both)."""
    text = text.strip()
    try:
        return float(text) if text.isascii() else math.nan
    except ValueError:
        return math.nan


def whole(args: Mapping, name: str, *, default: int | None = None, lo: int, hi: int,
          required: bool = False) -> int | None:
    """A whole number in ``lo`` … ``hi`` (ASCII digits, optional sign); ``required``: absent is an error too."""
    raw = _raw(args, name)
    if not raw and not required:
        return default
    if not _WHOLE_RE.fullmatch(raw) or not lo <= int(raw) <= hi:
        raise _refuse(name, raw, f" {lo}…{hi} 的整数", f"a whole number {lo}…{hi}")
    return int(raw)


def number(args: Mapping, name: str, *, default: float | None = None, lo: float, hi: float,
           unit: str = "", required: bool = False) -> float | None:
    """A finite number in ``lo`` … ``hi`` (``unit`` is quoted in the message); ``required``: absent is an error."""
    raw = _raw(args, name)
    if not raw and not required:
        return default
    value = _finite(raw)
    if not math.isfinite(value) or not lo <= value <= hi:
        span = f"{lo:g}…{hi:g}{(' ' + unit) if unit else ''}"
        raise _refuse(name, raw, f" {span} 的数", f"a number {span}")
    return value


def _in_years(name: str, raw: str, value: date) -> None:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise _refuse(name, raw, f" {MIN_YEAR}…{MAX_YEAR} 年内的日期", f"a date of the years {MIN_YEAR}…{MAX_YEAR}")


def day(args: Mapping, name: str, *, default: date | None = None) -> date | None:
    """A calendar date ``YYYY-MM-DD`` of the years :data:`MIN_YEAR` … :data:`MAX_YEAR`."""
    raw = _raw(args, name)
    if not raw:
        return default
    try:
        value = date.fromisoformat(raw) if len(raw) == 10 and raw.isascii() else None
    except ValueError:
        value = None
    if value is None:
        raise _refuse(name, raw, "日期 YYYY-MM-DD，如 2025-12-31", "a date YYYY-MM-DD such as 2025-12-31")
    _in_years(name, raw, value)
    return value


def month(args: Mapping, name: str = "month") -> tuple[datetime, datetime] | None:
    """A month ``YYYY-MM`` as its [first day 00:00, first day of the next month 00:00)."""
    raw = _raw(args, name)
    if not raw:
        return None
    match = _MONTH_RE.fullmatch(raw)
    if not match or not 1 <= int(match[2]) <= 12 or not MIN_YEAR <= int(match[1]) <= MAX_YEAR:
        raise _refuse(name, raw, f" {MIN_YEAR}…{MAX_YEAR} 年的月份 YYYY-MM，如 2025-12",
                      f"a month YYYY-MM of {MIN_YEAR}…{MAX_YEAR} such as 2025-12")
    return month_span(datetime(int(match[1]), int(match[2]), 1))


def choice(args: Mapping, name: str, options: Iterable[str], *, default: str) -> str:
    """One of ``options``."""
    raw = _raw(args, name)
    if not raw:
        return default
    options = tuple(options)
    if raw not in options:
        shown = "、".join(options)
        raise _refuse(name, raw, f" {shown} 之一", f"one of {', '.join(options)}")
    return raw


def ids(args: Mapping, name: str) -> tuple[int, ...]:
    """Comma-separated ids (``,`` or ``，``), each 1 … :data:`MAX_ID`; none when absent."""
    raw = _raw(args, name)
    parts = [p.strip() for p in raw.replace("，", ",").split(",") if p.strip()]
    if not all(_WHOLE_RE.fullmatch(p) and 1 <= int(p) <= MAX_ID for p in parts):
        raise _refuse(name, raw, "逗号分隔的编号，如 12,15", "ids such as 12,15")
    return tuple(int(p) for p in parts)


def bbox(args: Mapping, name: str = "bbox", *, heights: bool = False,
         required: bool = False) -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` in WGS84 degrees (with ``heights``, a 3-D box's heights are dropped);
    ``required``: absent is an error too."""
    raw = _raw(args, name)
    if not raw and not required:
        return None
    parts = raw.split(",")
    if heights and len(parts) == 6:
        parts = [parts[0], parts[1], parts[3], parts[4]]
    values = [_finite(part) for part in parts] if len(parts) == 4 else []
    if len(values) != 4 or not all(map(math.isfinite, values)) or not (
            -180 <= values[0] <= 180 and -180 <= values[2] <= 180 and -90 <= values[1] <= values[3] <= 90):
        raise _refuse(name, raw, " minlon,minlat,maxlon,maxlat（WGS84 度）",
                      "minlon,minlat,maxlon,maxlat in WGS84 degrees")
    return values[0], values[1], values[2], values[3]


def instant(text: str, *, name: str) -> tuple[datetime, bool]:
    """Parse an RFC 3339 date-time or a date into naive local time.

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
        The naive local time (Asia/Shanghai), and whether ``text`` was a bare date (a whole day).
    """
    raw = text.strip()
    whole_day = len(raw) == 10
    try:
        value = datetime.combine(date.fromisoformat(raw), datetime.min.time()) if whole_day else datetime.fromisoformat(raw)
    except ValueError:
        value = None
    if value is None or not raw.isascii():
        raise _refuse(name, raw, " RFC 3339 时间，如 2025-03-01T08:00:00+08:00",
                      "an RFC 3339 date-time such as 2025-03-01T08:00:00+08:00")
    _in_years(name, raw, value)
    if value.tzinfo is not None:
        value = to_local(value)
        _in_years(name, raw, value)
    return value, whole_day


def instant_arg(args: Mapping, name: str, *, end: bool = False) -> datetime | None:
    """:func:`instant` of a parameter; with ``end``, a bare date means up to the end of that day."""
    raw = _raw(args, name)
    if not raw:
        return None
    when, whole_day = instant(raw, name=name)
    return when + timedelta(days=1) if end and whole_day else when


def codes(args: Mapping, name: str) -> tuple[str, ...] | None:
    """Comma-separated codes (``,`` or ``，``, repeated parameters joined), each at most 60 characters."""
    getlist = getattr(args, "getlist", None)
    raw = ",".join(v for v in (getlist(name) if getlist else [args.get(name) or ""]) if v.strip())
    if not raw:
        return None
    parts = tuple(c.strip() for c in raw.replace("，", ",").split(",") if c.strip())
    if any(len(c) > 60 for c in parts):
        raise _refuse(name, raw, "逗号分隔的代码", "comma-separated codes")
    return parts


def issue_filter(args: Mapping) -> IssueFilter:
    """The issue filter of a query string (the issue list, its map, the REST API, the hot-spot pages).

    ``status`` (statuses, or ``open`` for every open one), ``category`` (event codes or
    major classes), ``department``, ``community``, ``source`` (comma-separated codes),
    ``since`` / ``until`` (:func:`instant_arg` on ``reported_at``; a bare ``until``
    date includes that day), ``due_since`` / ``due_until`` (the same on ``deadline_at``)
    and ``bbox``. The user's reach is not applied here: see
    :meth:`geo.issue_filter.IssueFilter.within_departments`.
    """
    statuses = codes(args, "status")
    if statuses is not None:
        statuses = tuple(s for c in statuses for s in (OPEN_STATUSES if c == "open" else (c,)))
        unknown = [s for s in statuses if s not in ISSUE_STATUSES]
        if unknown:
            raise _refuse("status", unknown[0], f" open 或 {'、'.join(ISSUE_STATUSES)}",
                          f"open or one of {', '.join(ISSUE_STATUSES)}")
    spans = {}
    for first, last in (("since", "until"), ("due_since", "due_until")):
        start, end = instant_arg(args, first), instant_arg(args, last, end=True)
        if start is not None and end is not None and start >= end:
            raise ValidationError(f"{first}={_raw(args, first)!r} 晚于 {last}={_raw(args, last)!r} "
                                  f"({first} must come before {last})")
        spans |= {first: start, last: end}
    categories = codes(args, "category")
    try:
        IssueFilter(categories=categories)
    except ValidationError as exc:
        raise _refuse("category", ",".join(categories or ()), "事件代码（5 位）或大类代码（2 位）",
                      "5-digit event codes or 2-digit major classes") from exc
    return IssueFilter(statuses=statuses, categories=categories, departments=codes(args, "department"),
                       communities=codes(args, "community"), sources=codes(args, "source"), **spans, bbox=bbox(args))


def filter_query(where: IssueFilter) -> dict[str, str]:
    """The query parameters of :func:`issue_filter` that give ``where`` back (ids aside), for a link."""
    def instant_text(value):
        return value.isoformat(timespec="seconds") if value is not None else None

    values = {"status": where.statuses, "category": where.categories, "department": where.departments,
              "community": where.communities, "source": where.sources}
    query = {name: ",".join(v) for name, v in values.items() if v is not None}
    query |= {name: instant_text(getattr(where, name)) for name in ("since", "until", "due_since", "due_until")
              if getattr(where, name) is not None}
    if where.bbox is not None:
        query["bbox"] = ",".join(f"{v:.6f}" for v in where.bbox)
    return query
