"""The accountability figures' names in the reader's language, and the weekly report as an Excel workbook.

The names are marked for the catalogue here (:func:`webmap.i18n.N_`) and translated where
they are shown (``gettext``, here ``word``): on a page in the page's language, from the CLI
in Chinese. The workbook (:func:`write_weekly_workbook`) is the same for the web page and
``citymap report``: names, not codes, first; headers frozen; columns as wide as their
values; this week beside last week; charts the spreadsheet draws itself (openpyxl).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from flask_babel import gettext as word

from geo.io import XlsxChart, write_xlsx_with_images
from geo.loop.weekly import WeeklyReport
from webmap.i18n import N_, department_name, localised

#: figure key (geo.loop.metrics.FIGURE_COLUMNS) → its name
FIGURE_LABELS = {
    "registered": N_("立案数"), "due": N_("应结案数"), "closed": N_("结案数"), "closed_on_time": N_("按期结案数"),
    "close_rate_pct": N_("结案率(%)"), "on_time_rate_pct": N_("按期结案率(%)"), "handled": N_("处置数"),
    "rework": N_("返工数"), "rework_rate_pct": N_("返工率(%)"), "handle_h_median": N_("处置用时中位数(小时)"),
    "handle_h_p90": N_("处置用时P90(小时)"), "backlog": N_("积压(当前)"), "overdue": N_("超期(当前)"),
    "registered_per_km2": N_("每平方公里立案数"), "registered_per_road_km": N_("每公里道路立案数"),
}
#: the figures a page shows of a department or a task (the densities and P90 stay in the workbook)
PAGE_FIGURES = ("registered", "due", "closed", "closed_on_time", "close_rate_pct", "on_time_rate_pct",
                "rework_rate_pct", "handle_h_median", "backlog", "overdue")
#: counts of the weekly comparison chart (backlog and overdue are judged now: the same for both weeks)
WEEK_CHART_COUNTS = ("registered", "due", "closed", "closed_on_time", "handled")


#: the weekly map's words (geo.loop.weekly.MAP_WORDS, tests/test_figures.py keeps them equal), marked for the catalogue
MAP_WORD_MARKS = {"title": N_("未结案与超期问题（截至 %(now)s）"), "open": N_("未结案 %(n)s"), "overdue": N_("超期 %(n)s"),
                  "per_cell": N_("（每单元网格一点，面积示件数）")}


def weekly_map_words() -> dict[str, str]:
    """The weekly map's title and legend in the reader's language (pass to geo.loop.weekly.weekly_report)."""
    return {key: word(message) for key, message in MAP_WORD_MARKS.items()}


def figure_label(key: str) -> str:
    """The name of a figure in the reader's language."""
    return word(FIGURE_LABELS[key])


def weekly_sheets(report: WeeklyReport) -> tuple[dict[str, pd.DataFrame], tuple[XlsxChart, ...]]:
    """The weekly report's sheets (sheet name → table, headers in the reader's language) and their charts."""
    this_word, last_word = word(N_("本周")), word(N_("上周"))
    this, last = f"{this_word} {report.week}", f"{last_word} {report.previous_week}"
    change = word(N_("变化"))
    figures = report.summary.astype(float).round(2)
    summary = pd.DataFrame({
        word(N_("指标")): [word(N_("周次")), word(N_("起")), word(N_("止（不含）")),
                         *(figure_label(k) for k in figures.index)],
        this: [report.week, f"{report.start:%Y-%m-%d}", f"{report.end:%Y-%m-%d}", *figures["this_week"].tolist()],
        last: [report.previous_week, f"{report.start - pd.Timedelta(days=7):%Y-%m-%d}", f"{report.start:%Y-%m-%d}",
               *figures["last_week"].tolist()],
        change: ["", "", "", *(figures["this_week"] - figures["last_week"]).round(2).tolist()],
    })
    daily = pd.DataFrame({word(N_("日期")): report.daily.index.strftime("%Y-%m-%d"),
                          word(N_("新增")): report.daily["new"].to_numpy(),
                          word(N_("结案")): report.daily["closed"].to_numpy(),
                          word(N_("逾期")): report.daily["overdue"].to_numpy()})
    named = report.departments.assign(name=[department_name(code, name) for code, name
                                            in zip(report.departments.index, report.departments["name"])])
    departments = _named(named, code=N_("科室代码"))
    last_rate = f"{figure_label('on_time_rate_pct')} {last_word}"
    departments.insert(departments.columns.get_loc(figure_label("on_time_rate_pct")) + 1, last_rate,
                       report.departments["on_time_rate_pct_last_week"].round(2).to_numpy())
    tasks = report.tasks.assign(
        name=localised(report.tasks, "title"),
        lead_name=report.tasks["lead"].map(department_name),
        supporting_names=report.tasks["supporting"].map(
            lambda codes: word(N_("、")).join(department_name(c) for c in codes.split(";") if c)),
    )
    task_table = _named(tasks, code=N_("任务编号"))
    task_table.insert(1, word(N_("牵头科室")), tasks["lead_name"].to_numpy())
    task_table.insert(2, word(N_("配合科室")), tasks["supporting_names"].to_numpy())
    task_table.insert(3, word(N_("事项代码")), tasks["categories"].str.replace(";", word(N_("、"))).to_numpy())
    week_counts = summary.iloc[[3 + list(figures.index).index(k) for k in WEEK_CHART_COUNTS]]
    sheets = {
        word(N_("概况")): summary,
        word(N_("本周与上周")): week_counts[[word(N_("指标")), this, last]].reset_index(drop=True),
        word(N_("每日")): daily,
        word(N_("责任科室")): departments,
        word(N_("社区")): _named(report.areas["community"], code=N_("社区代码")),
        word(N_("网格")): _named(report.areas["grid"], code=N_("网格代码")),
        word(N_("片区")): _named(report.areas["zone"], code=N_("片区代码")),
        word(N_("专项任务")): task_table,
    }
    rate = figure_label("on_time_rate_pct")
    charts = (
        XlsxChart(word(N_("本周与上周")), "column", word(N_("本周与上周")), word(N_("指标")), (this, last)),
        XlsxChart(word(N_("每日")), "line", word(N_("每日新增、结案与逾期")), word(N_("日期")),
                  (word(N_("新增")), word(N_("结案")), word(N_("逾期")))),
        XlsxChart(word(N_("责任科室")), "bar", word(N_("按期结案率：本周与上周")), word(N_("名称")), (rate, last_rate)),
    )
    return sheets, charts


def _named(table: pd.DataFrame, *, code: str) -> pd.DataFrame:
    """A figure table with its ``name`` first, the figures under their names (rates rounded), its code last."""
    columns = [c for c in FIGURE_LABELS if c in table.columns]
    out = table[columns].astype(float).round(2)
    counts = [c for c in columns if c in ("registered", "due", "closed", "closed_on_time", "handled", "rework",
                                          "backlog", "overdue")]
    out[counts] = out[counts].astype("int64")
    out = out.rename(columns={c: figure_label(c) for c in columns})
    named = table["name"] if "name" in table else pd.Series(table.index, index=table.index)
    out.insert(0, word(N_("名称")), named.fillna(pd.Series(table.index, index=table.index)).to_numpy())
    out[word(code)] = table.index.to_numpy()
    return out.reset_index(drop=True)


def write_weekly_workbook(report: WeeklyReport, path: str | Path) -> Path:
    """Write :func:`weekly_sheets` and the map (a sheet of its own) as an Excel workbook at ``path``."""
    sheets, charts = weekly_sheets(report)
    return write_xlsx_with_images(sheets, path, images={word(N_("地图")): report.map_png}, charts=charts)
