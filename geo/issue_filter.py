"""Which issues: the one filter value that the web, the CLI, storage and the analyses share.

A request's query string or the CLI's options are parsed into an :class:`IssueFilter`
once; storage turns it into SQL (:func:`geo.store.query_issues`,
:func:`geo.store.count_issues`), and an analysis holding a frame of issues applies the
same value with :meth:`IssueFilter.mask`, so "the issues of sanitation in March" means
the same rows wherever it is asked. The value checks itself when it is made: a status
outside :data:`geo.statuses.ISSUE_STATUSES`, a category that is neither an event code
nor a major class of the taxonomy, a period that ends before it starts or a box outside
WGS84 is refused with a message that quotes it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from geo.clock import MAX_YEAR, MIN_YEAR
from geo.errors import ValidationError
from geo.statuses import ISSUE_STATUSES
from geo.taxonomy import load_taxonomy

__all__ = ["IssueFilter"]

_TEXT_LIMIT = 60
_ID_MAX = 2**63 - 1


def _texts(name: str, values: Iterable[str] | str | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    listed = (values,) if isinstance(values, str) else tuple(values)
    bad = [v for v in listed if not isinstance(v, str) or not v or len(v) > _TEXT_LIMIT]
    if bad:
        raise ValidationError(f"{name}: {str(bad[0])[:80]!r} is not a code")
    return listed


def _instant(name: str, value: datetime | date | str | None) -> datetime | None:
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationError(f"{name}={value!r}: expected a date or time such as 2025-12-01") from exc
    # until is exclusive: the first instant after the last day allowed still ends a period
    in_range = stamp is not pd.NaT and (MIN_YEAR <= stamp.year <= MAX_YEAR or (
        name in ("until", "due_until") and stamp == pd.Timestamp(MAX_YEAR + 1, 1, 1)))
    if not in_range or stamp.tzinfo is not None:
        raise ValidationError(f"{name}={value!r}: expected a naive local date or time in {MIN_YEAR}…{MAX_YEAR}")
    return stamp.to_pydatetime()


@dataclass(frozen=True)
class IssueFilter:
    """The issues that pass every criterion given; a criterion left as None passes all.

    An empty tuple selects nothing (a department user who owns no department sees no
    issue), so "no filter" and "nothing allowed" never look alike.

    Attributes
    ----------
    statuses : tuple of str
        Values of ``status`` (:data:`geo.statuses.ISSUE_STATUSES`).
    categories : tuple of str
        5-digit event codes (``"06010"``) and/or 2-digit major classes (``"06"``,
        every code that starts with it), all known to the taxonomy.
    departments, communities, sources : tuple of str
        Values of ``department_code``, ``community_code``, ``source``.
    ids : tuple of int
        Issue ids.
    cells, zones : tuple of str
        Unit cells (``cell_code``) and contractor zones (``zone_code``) the issues were assigned to.
    segments : tuple of int
        Road segments (``segment_id``) the issues were assigned to.
    since, until : datetime
        ``reported_at`` in ``[since, until)``, naive local time (Asia/Shanghai).
    due_since, due_until : datetime
        ``deadline_at`` in ``[due_since, due_until)``, naive local time (overdue: unhandled
        and due before now; due soon: due between now and a few hours on).
    bbox : tuple of float
        ``(minlon, minlat, maxlon, maxlat)`` in WGS84 degrees (EPSG:4326).
    """

    statuses: tuple[str, ...] | None = None
    categories: tuple[str, ...] | None = None
    departments: tuple[str, ...] | None = None
    communities: tuple[str, ...] | None = None
    sources: tuple[str, ...] | None = None
    ids: tuple[int, ...] | None = None
    cells: tuple[str, ...] | None = None
    zones: tuple[str, ...] | None = None
    segments: tuple[int, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    due_since: datetime | None = None
    due_until: datetime | None = None
    bbox: tuple[float, float, float, float] | None = None

    def __post_init__(self):
        def store(name: str, value) -> None:
            object.__setattr__(self, name, value)

        for name in ("statuses", "categories", "departments", "communities", "sources", "cells", "zones"):
            store(name, _texts(name, getattr(self, name)))
        unknown = [s for s in self.statuses or () if s not in ISSUE_STATUSES]
        if unknown:
            raise ValidationError(f"status {unknown[0]!r}: expected one of {', '.join(ISSUE_STATUSES)}")
        if self.categories:
            known = load_taxonomy().categories.index
            majors = {code[:2] for code in known}
            unknown = [c for c in self.categories if c not in known and c not in majors]
            if unknown:
                raise ValidationError(f"category {unknown[0]!r}: neither an event code nor a major class of the"
                                      " taxonomy")
        for name, what in (("ids", "an issue id"), ("segments", "a segment id")):
            value = getattr(self, name)
            if value is None:
                continue
            ids = (value,) if isinstance(value, (int, np.integer)) else tuple(value)
            bad = [i for i in ids if isinstance(i, bool) or not isinstance(i, (int, np.integer))
                   or not 0 <= int(i) <= _ID_MAX]
            if bad:
                raise ValidationError(f"{name}: {bad[0]!r} is not {what}")
            store(name, tuple(int(i) for i in ids))
        for first, last in (("since", "until"), ("due_since", "due_until")):
            store(first, _instant(first, getattr(self, first)))
            store(last, _instant(last, getattr(self, last)))
            start, end = getattr(self, first), getattr(self, last)
            if start is not None and end is not None and not start < end:
                raise ValidationError(f"{first} {start:%Y-%m-%d %H:%M} 晚于 {last} {end:%Y-%m-%d %H:%M} "
                                      f"({first} must come before {last})")
        if self.bbox is not None:
            box = tuple(float(v) for v in self.bbox)
            if len(box) != 4 or not all(map(math.isfinite, box)) or not (
                    -180 <= box[0] <= 180 and -180 <= box[2] <= 180 and -90 <= box[1] <= box[3] <= 90):
                raise ValidationError(f"bbox {self.bbox!r}: expected minlon, minlat, maxlon, maxlat in WGS84 degrees")
            store("bbox", box)

    def narrowed(self, **criteria) -> IssueFilter:
        """This filter with some criteria replaced (checked again)."""
        return dataclasses.replace(self, **criteria)

    def within_departments(self, reach: Iterable[str] | None) -> IssueFilter:
        """This filter kept to the departments of ``reach`` (None: no limit).

        A user who asks for departments outside their reach gets none of them, one
        who asks for none gets all of theirs.
        """
        if reach is None:
            return self
        reach = tuple(reach)
        return self.narrowed(departments=tuple(d for d in (self.departments or reach) if d in reach))

    def mask(self, issues: pd.DataFrame) -> np.ndarray:
        """Which rows of a frame of issues pass (a boolean array, in row order).

        ``issues`` needs the columns of the criteria given: ``status``,
        ``category_code``, ``department_code``, ``community_code``, ``source``, ``id``,
        ``cell_code``, ``zone_code``, ``segment_id``, ``reported_at``, ``deadline_at`` and, for ``bbox``, a geometry of points in EPSG:4326.
        """
        keep = np.ones(len(issues), dtype=bool)
        for values, column in ((self.statuses, "status"), (self.departments, "department_code"),
                               (self.communities, "community_code"), (self.sources, "source"), (self.ids, "id"),
                               (self.cells, "cell_code"), (self.zones, "zone_code")):
            if values is not None:
                keep &= issues[column].isin(values).to_numpy(bool)
        if self.segments is not None:
            keep &= pd.to_numeric(issues["segment_id"], errors="coerce").isin(self.segments).to_numpy(bool)
        if self.categories is not None:
            codes = issues["category_code"].astype("string")
            keep &= (codes.isin([c for c in self.categories if len(c) == 5])
                     | codes.str[:2].isin([c for c in self.categories if len(c) == 2])).fillna(False).to_numpy(bool)
        for column, start, end in (("reported_at", self.since, self.until),
                                   ("deadline_at", self.due_since, self.due_until)):
            if start is not None or end is not None:
                times = pd.to_datetime(issues[column])
                if start is not None:
                    keep &= (times >= start).fillna(False).to_numpy(bool)
                if end is not None:
                    keep &= (times < end).fillna(False).to_numpy(bool)
        if self.bbox is not None:
            x, y = issues.geometry.x.to_numpy(), issues.geometry.y.to_numpy()
            minx, miny, maxx, maxy = self.bbox
            keep &= (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)
        return keep

    def apply(self, issues: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``issues`` that pass, index and order kept, same type."""
        return issues[self.mask(issues)]
