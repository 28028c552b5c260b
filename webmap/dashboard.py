"""The home dashboard's tiles and charts, from :class:`geo.loop.views.Dashboard`, in the page's language.

Each tile opens the list it counts (the issue list filtered, or the league table of the
month) and says how its last 7 and 30 days compare with the 7 and 30 before; the charts
are specs for ``webmap/static/charts.js`` (:mod:`webmap.charts`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

import pandas as pd
from flask import url_for
from flask_babel import gettext

from geo.loop.views import Dashboard, Trend
from geo.statuses import UNHANDLED_STATUSES
from webmap.i18n import department_name
from webmap.charts import CLOSED_COLOR, NEW_COLOR, OVERDUE_COLOR, chart_spec, series


@dataclass
class Tile:
    """One clickable figure of the home page."""

    key: str
    label: str
    value: str
    href: str
    trends: list[str]
    late: bool = False
    detail: str = ""


def _change(now: int, before: int) -> str:
    if before == 0:
        return gettext("前期为 0") if now else "±0"
    pct = 100.0 * (now - before) / before
    arrow = "↑" if pct > 0 else ("↓" if pct < 0 else "→")
    return f"{arrow} {abs(pct):.0f}%"


def _trends(trend: Trend, *, net: bool = False) -> list[str]:
    """"近 7 天 302（前 7 天 291，↑ 4%）" for 7 and 30 days; ``net``: a signed change of a stock."""
    lines = []
    for days, last, prev in ((7, trend.last7, trend.prev7), (30, trend.last30, trend.prev30)):
        if net:
            lines.append(gettext("近 %(days)s 天净增 %(last)+d（前 %(days)s 天 %(prev)+d）", days=days, last=last,
                                 prev=prev))
        else:
            lines.append(gettext("近 %(days)s 天 %(last)s（前 %(days)s 天 %(prev)s，%(change)s）", days=days, last=last,
                                 prev=prev, change=_change(last, prev)))
    return lines


def _pct(value: float) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.2f}%"


def _issues_url(**query) -> str:
    return f"{url_for('pages.issue_list')}?{urlencode(query)}"


def tiles(view: Dashboard) -> list[Tile]:
    """The tiles: new and closed on the day shown, open and overdue now, this month's two rates."""
    day = f"{view.day:%Y-%m-%d}"
    month = f"{view.month[0]:%Y-%m}"
    league = f"{url_for('pages.league')}?{urlencode({'month': month})}"
    this, last = view.month_figures, view.previous_month_figures
    previous = f"{view.previous_month[0]:%Y-%m}"

    def rate_trends(key: str) -> list[str]:
        return [gettext("上月（%(month)s）%(rate)s", month=previous, rate=_pct(last[key]))]

    return [
        Tile("new-today", gettext("当日新增"), str(view.tiles["new"].value), _issues_url(since=day, until=day),
             _trends(view.tiles["new"])),
        Tile("closed-today", gettext("当日结案"), str(view.tiles["closed"].value), _issues_url(status="closed"),
             _trends(view.tiles["closed"])),
        Tile("open", gettext("未结案"), str(view.tiles["open"].value), _issues_url(status="open"),
             _trends(view.tiles["open"], net=True)),
        Tile("overdue", gettext("超期未处置"), str(view.tiles["overdue"].value),
             _issues_url(status=",".join(UNHANDLED_STATUSES)),
             [gettext("逾期：") + line for line in _trends(view.tiles["overdue"])], late=bool(view.tiles["overdue"].value)),
        Tile("on-time-rate", gettext("按期结案率（%(month)s）", month=month), _pct(this["on_time_rate_pct"]), league,
             rate_trends("on_time_rate_pct"),
             detail=f"{int(this['closed_on_time'])}/{int(this['due'])}"),
        Tile("close-rate", gettext("结案率（%(month)s）", month=month), _pct(this["close_rate_pct"]), league,
             rate_trends("close_rate_pct"), detail=f"{int(this['closed'])}/{int(this['due'])}"),
    ]


def _day_series(frame: pd.DataFrame) -> list[dict]:
    return [series(gettext("新增"), frame["new"], color=NEW_COLOR),
            series(gettext("结案"), frame["closed"], color=CLOSED_COLOR),
            series(gettext("逾期"), frame["overdue"], color=OVERDUE_COLOR)]


def dashboard_charts(view: Dashboard) -> dict:
    """``tiles`` and the chart specs ``daily``, ``weekly`` and ``departments`` of the home page."""
    weeks = view.weekly
    week_labels = [f"{d:%m-%d}" for d in weeks.index]
    departments = view.departments[view.departments["due"] > 0].sort_values(
        ["on_time_rate_pct", "due"], ascending=[False, False])
    month = f"{view.month[0]:%Y-%m}"
    since = f"{view.month[0]:%Y-%m-%d}"
    until = f"{view.month[1] - timedelta(days=1):%Y-%m-%d}"
    return {
        "tiles": tiles(view),
        "daily": chart_spec(
            "line", categories=[f"{d:%m-%d}" for d in view.daily.index], series_list=_day_series(view.daily),
            title=gettext("每日新增、结案与逾期（近 %(n)s 天）", n=len(view.daily)), unit=gettext("件"),
            empty=gettext("没有数据")),
        "weekly": chart_spec(
            "bar", categories=week_labels, series_list=_day_series(weeks),
            title=(gettext("每周新增、结案与逾期（近 %(n)s 周）", n=len(weeks))
                   + ("" if view.day.weekday() == 6 else gettext("最后一周截至 %(day)s", day=f"{view.day:%m-%d}"))),
            unit=gettext("件"),
            empty=gettext("没有数据")),
        "departments": chart_spec(
            "hbar", categories=[department_name(code, name) for code, name in zip(departments.index, departments["name"])],
            series_list=[series(gettext("按期结案率"), departments["on_time_rate_pct"], color="#1f3b73")],
            title=gettext("各责任科室按期结案率（%(month)s，应结案数 > 0）", month=month), unit="%", max_value=100,
            height=max(200, 26 * len(departments) + 70),
            links=[_issues_url(department=code, since=since, until=until) for code in departments.index],
            empty=gettext("本月没有应结案的案件")),
    }
