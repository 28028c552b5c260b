"""Issue filters from a query string, shared by the issue list, its map and ``GET /api/issues``.

``status`` (comma-separated statuses, or ``open`` for every open one), ``category``,
``department``, ``community`` (comma-separated codes), ``since`` / ``until`` (dates or
RFC 3339 date-times on ``reported_at``; a bare ``until`` date includes that day) and
``bbox`` (``minlon,minlat,maxlon,maxlat``). The current user's reach is applied on
top (:func:`webmap.auth.issue_filter`): a department user asking for another
department's issues gets none.
"""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from geo.errors import ValidationError
from geo.store.models import ISSUE_STATUSES, OPEN_STATUSES
from geo.taxonomy import load_taxonomy
from webmap import params
from webmap.auth import issue_filter

FILTER_NAMES = ("status", "category", "department", "community", "since", "until", "bbox")


def _codes(args: MultiDict, name: str) -> list[str] | None:
    raw = ",".join(v for v in args.getlist(name) if v.strip())
    if not raw:
        return None
    codes = [c.strip() for c in raw.replace("，", ",").split(",") if c.strip()]
    bad = [c for c in codes if len(c) > 60]
    if bad:
        raise ValidationError(f"{name}={bad[0][:80]!r}: not a code")
    return codes


def issue_query(args: MultiDict) -> dict:
    """Keyword arguments for :func:`geo.store.query_issues` / ``count_issues`` from a query string."""
    status = _codes(args, "status")
    if status is not None:
        status = [s for c in status for s in (OPEN_STATUSES if c == "open" else (c,))]
        unknown = [s for s in status if s not in ISSUE_STATUSES]
        if unknown:
            raise ValidationError(f"status={unknown[0]!r}: expected open or one of {', '.join(ISSUE_STATUSES)}")
    category = _codes(args, "category")
    if category is not None:
        known = load_taxonomy().categories.index
        unknown = [c for c in category if c not in known]
        if unknown:
            raise ValidationError(f"category={unknown[0]!r}: not a category code")
    query: dict = {"status": status, "category": category, "community": _codes(args, "community"),
                   "since": params.instant_arg(args, "since"), "until": params.instant_arg(args, "until", end=True),
                   "bbox": params.bbox(args)}
    asked = _codes(args, "department")
    reach = issue_filter()
    query["department"] = asked if reach is None else [d for d in (asked or reach) if d in reach]
    return {k: v for k, v in query.items() if v is not None}
