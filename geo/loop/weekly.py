"""The leadership group's weekly report: this week's figures against last week's, per area and task, and a map.

Every figure is counted in SQL (:func:`geo.loop.views.figures_by`), so the report costs the
two weeks' issues, not the table's. The value returned holds keyed tables (English column
keys); whoever writes it (the web page, the CLI) labels them in the reader's language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from io import BytesIO

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from geo import store
from geo.clock import MAX_YEAR, MIN_YEAR
from geo.errors import ValidationError
from geo.issue_filter import IssueFilter
from geo.loop import metrics
from geo.loop.views import area_tables, figures_by, league, plan_task_board
from geo.settings import Settings
from geo.statuses import OPEN_STATUSES, UNHANDLED_STATUSES

_WEEK_RE = re.compile(r"(\d{4})-W(\d{2})")
#: the words of the weekly map (:func:`render_map_png`): its title and legend, ``%(…)s`` filled in; whoever
#: writes the report for a reader of another language passes theirs
MAP_WORDS = {"title": "未结案与超期问题（截至 %(now)s）", "open": "未结案 %(n)s", "overdue": "超期 %(n)s",
             "per_cell": "（每单元网格一点，面积示件数）"}


def parse_week(text: str) -> tuple[datetime, datetime]:
    """``"2025-W50"`` (ISO 8601 week) → (Monday 00:00, the next Monday 00:00)."""
    match = _WEEK_RE.fullmatch(str(text).strip())
    if not match or not MIN_YEAR <= int(match[1]) <= MAX_YEAR:
        raise ValidationError(f"week={text!r}：应为 {MIN_YEAR}…{MAX_YEAR} 年的 ISO 周 YYYY-Www，如 2025-W50 "
                              f"(expected an ISO week YYYY-Www of {MIN_YEAR}…{MAX_YEAR} such as 2025-W50)")
    try:
        monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError as exc:
        raise ValidationError(f"week {text!r} does not exist ({exc})") from exc
    start = datetime.combine(monday, datetime.min.time())
    return start, start + timedelta(days=7)


def week_of(day: date) -> str:
    """The ISO week (``YYYY-Www``) that holds ``day``."""
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


@dataclass
class WeeklyReport:
    """The tables of one week's report.

    Attributes
    ----------
    week, previous_week : str
        ISO weeks ``YYYY-Www``; ``start``, ``end`` the week's ``[Monday, next Monday)``.
    summary : pandas.DataFrame
        Indexed by figure (:data:`geo.loop.metrics.FIGURE_COLUMNS` without the densities), columns
        ``this_week`` and ``last_week``.
    departments : pandas.DataFrame
        :func:`geo.loop.views.league` of the week with ``on_time_rate_pct_last_week`` added.
    areas : dict of str to pandas.DataFrame
        :func:`geo.loop.views.area_tables` of the week (``community``, ``grid``, ``zone``).
    tasks : pandas.DataFrame
        :func:`geo.loop.views.plan_task_board` of the week.
    daily : pandas.DataFrame
        New, closed and fallen overdue per day of both weeks (:func:`geo.store.daily_counts`).
    map_png : bytes
        The map of open and overdue issues (:func:`render_map_png`).
    """

    week: str
    previous_week: str
    start: datetime
    end: datetime
    summary: pd.DataFrame
    departments: pd.DataFrame
    areas: dict[str, pd.DataFrame]
    tasks: pd.DataFrame
    daily: pd.DataFrame
    map_png: bytes


def weekly_report(engine: Engine, settings: Settings, *, week: str, now: datetime,
                  map_words: dict[str, str] = MAP_WORDS) -> WeeklyReport:
    """The weekly report of ``week``; ``now`` judges backlog and overdue (normally the week's end or the present);
    ``map_words`` the map's words (:data:`MAP_WORDS`)."""
    start, end = parse_week(week)
    before = start - timedelta(days=7)
    shown = [c for c in metrics.FIGURE_COLUMNS if not c.startswith("registered_per")]
    this_week = figures_by(engine, settings, by=None, start=start, end=end, now=now).iloc[0]
    last_week = figures_by(engine, settings, by=None, start=before, end=start, now=now).iloc[0]
    summary = pd.DataFrame({"this_week": this_week[shown], "last_week": last_week[shown]})
    departments = league(engine, settings, start=start, end=end, now=now)
    previous = figures_by(engine, settings, by="department", start=before, end=start, now=now)
    departments["on_time_rate_pct_last_week"] = previous["on_time_rate_pct"].reindex(departments.index)
    return WeeklyReport(
        week=week, previous_week=week_of(before.date()), start=start, end=end, summary=summary,
        departments=departments, areas=area_tables(engine, settings, start=start, end=end, now=now),
        tasks=plan_task_board(engine, settings, start=start, end=end, now=now),
        daily=store.daily_counts(engine, jurisdiction_code=settings.jurisdiction_code, since=before.date(),
                                 until=end.date(), now=now),
        map_png=render_map_png(engine, settings, now=now, words=map_words),
    )


def render_map_png(engine: Engine, settings: Settings, *, now: datetime, words: dict[str, str] = MAP_WORDS) -> bytes:
    """A PNG map (matplotlib, no browser) of the contractor zones, roads, and the open and overdue issues.

    The issues are counted per unit cell in SQL (:func:`geo.store.count_issues_by`) and drawn
    as one dot per cell, its area by its count, so the map costs the same at a million open
    issues as at a hundred. ``words`` (:data:`MAP_WORDS`: ``title`` with ``%(now)s``, ``open`` and
    ``overdue`` with ``%(n)s``, ``per_cell`` after them) are its title and legend; the title is also the
    PNG's ``Title`` (a text chunk), so a reader of the file finds what the picture says.
    """
    missing = sorted(set(MAP_WORDS) - set(words))
    if missing:
        raise ValidationError(f"the map's words lack {', '.join(missing)}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["font.sans-serif"] = ["Noto Sans CJK SC", "Noto Serif CJK SC", "WenQuanYi Zen Hei", "DejaVu Sans"]
    j, crs = settings.jurisdiction_code, settings.metric_crs
    boundary = store.read_layer(engine, "jurisdiction", jurisdiction_code=j).to_crs(crs)
    zones = store.read_layer(engine, "zones", jurisdiction_code=j).to_crs(crs)
    roads = store.read_layer(engine, "roads", jurisdiction_code=j).to_crs(crs)
    cells = store.read_layer(engine, "unit_cells", jurisdiction_code=j).to_crs(crs)
    opened = IssueFilter(statuses=OPEN_STATUSES)
    late = opened.narrowed(statuses=UNHANDLED_STATUSES, due_until=now)
    per_cell = {name: cells["code"].map(store.count_issues_by(engine, "cell_code", jurisdiction_code=j, where=where))
                .fillna(0).to_numpy() for name, where in (("open", opened), ("overdue", late))}
    centres = cells.geometry.centroid
    fig, ax = plt.subplots(figsize=(9, 7), dpi=110)
    zones.plot(ax=ax, column="name", cmap="Pastel1", alpha=0.6, edgecolor="grey")
    boundary.boundary.plot(ax=ax, color="black", linewidth=1.2)
    roads.plot(ax=ax, color="dimgrey", linewidth=0.6)
    for name, colour, marker in (("open", "royalblue", "o"), ("overdue", "red", "x")):
        n = per_cell[name]
        if n.sum():
            ax.scatter(centres.x[n > 0], centres.y[n > 0], s=6 + 8 * np.sqrt(n[n > 0]), c=colour, marker=marker,
                       label=words[name] % {"n": int(n.sum())} + words["per_cell"])
    if per_cell["open"].sum():
        ax.legend(loc="lower right")
    ax.set_axis_off()
    title = words["title"] % {"now": f"{now:%Y-%m-%d %H:%M}"}
    ax.set_title(title)
    buffer = BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", metadata={"Title": title})
    plt.close(fig)
    return buffer.getvalue()
