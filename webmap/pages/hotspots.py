"""The hotspot and emerging-hotspot pages and their maps. On :data:`webmap.pages.blueprint.bp`.

The page holds the filter form (a GET form: submitting it asks the server again) and
frames the map, whose URL carries the same query.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from urllib.parse import urlencode

import pandas as pd
from flask import current_app, render_template, request, url_for
from flask_babel import gettext

from geo import store
from geo.clock import local_now
from geo.hotspots.emerging import CLASS_LABELS, CLASS_LABELS_EN, CLASS_REASONS
from geo.hotspots.views import MIN_GI_ISSUES, default_period, emerging_view, hotspot_view
from geo.issue_filter import IssueFilter
from webmap import charts, params
from webmap.charts import chart_spec
from webmap.context import engine_of, jurisdiction_boundary, settings_of
from webmap.i18n import category_names, current_language, major_names
from webmap.map_views import live_route, map_route
from webmap.maps.hotspots import emerging_map, hotspot_map
from webmap.maps.issues import issue_layer
from webmap.maps.live import LiveIssues
from webmap.pages.blueprint import bp
from webmap.pages.names import community_names, department_names, source_names
from webmap.rows import template_rows

#: the form's fields, in the order they go into the map's URL
FILTER_FIELDS = ("since", "until", "category", "department", "community", "source", "fdr")
EMERGING_FIELDS = ("until", "weeks", "bin_days", "category", "department", "community")
MAX_BINS = 104


def _filters() -> IssueFilter:
    """The form's filter; ``until`` is the last day shown (inclusive), default the last 30 days of reports."""
    asked = params.issue_filter(request.args)
    since0, until0 = default_period(engine_of(current_app), settings_of(current_app))
    until = asked.until or until0
    return asked.narrowed(since=asked.since or until - (until0 - since0), until=until)


def _choices() -> dict:
    """The options of the form's selects."""
    communities = community_names()
    return {"majors": list(major_names().items()), "categories": list(category_names().items()),
            "departments": list(department_names(communities).items()), "communities": list(communities.items()),
            "sources": list(source_names().items())}


def _chosen(fields: tuple[str, ...]) -> dict[str, str]:
    return {name: request.args.get(name, "").strip() for name in fields}


def _map_query(fields: tuple[str, ...], shown: dict[str, str]) -> str:
    return urlencode({k: shown[k] for k in fields if shown.get(k)})


def _period_note(filters: IssueFilter, *, asked: bool, bins: int | None = None) -> str:
    """Which period the page shows, and why when it is the default (``bins``: the emerging page's)."""
    shown = {"since": f"{filters.since:%Y-%m-%d}", "until": f"{filters.until - timedelta(days=1):%Y-%m-%d}"}
    if asked:
        return gettext("分析期：%(since)s 至 %(until)s。", **shown)
    if bins is not None:
        return gettext("分析期：%(since)s 至 %(until)s（默认：%(n)s 个时段，截至最近有上报的一天；今天是 %(today)s）。",
                       n=bins, today=f"{local_now():%Y-%m-%d}", **shown)
    return gettext("分析期：%(since)s 至 %(until)s（默认：最近 30 天有上报且不少于 %(n)s 件的时段；今天是 %(today)s）。",
                   n=MIN_GI_ISSUES, today=f"{local_now():%Y-%m-%d}", **shown)


def cell_place(row) -> str:
    """A unit cell named for people: its community and road (or compound), never a bare code."""
    where = row.road_name or row.compound_name
    return " · ".join(str(p) for p in (row.community_name, where) if p) or gettext("（未知位置）")


@bp.get("/hotspots")
def hotspots():
    filters = _filters()
    engine, settings = engine_of(current_app), settings_of(current_app)
    view = hotspot_view(engine, settings, filters, fdr=request.args.get("fdr") == "1", with_density=False)
    shown = _chosen(FILTER_FIELDS) | {"since": f"{filters.since:%Y-%m-%d}",
                                      "until": f"{filters.until - timedelta(days=1):%Y-%m-%d}"}
    withheld = view.gi_withheld
    figures = {"issues": view.n_issues, "open": view.n_open,
               "hot": "—" if withheld else int((view.cells["gi_bin"] >= 2).sum()),
               "cold": "—" if withheld else int((view.cells["gi_bin"] <= -2).sum())}
    top_cells = template_rows(view.top_cells)
    for row in top_cells:
        row.place = cell_place(row)
    choices = _choices()
    return render_template(
        "hotspots.html", shown=shown, choices=choices, figures=figures, top_cells=top_cells,
        categories=dict(choices["categories"]), departments=dict(choices["departments"]),
        top_segments=template_rows(view.top_segments), withheld=withheld, min_issues=MIN_GI_ISSUES,
        period_note=_period_note(filters, asked=bool(request.args.get("since") or request.args.get("until"))),
        map_src=f"{url_for('pages.hotspots_map_page')}?{_map_query(FILTER_FIELDS, shown)}",
    )


@map_route(bp, "/maps/hotspots", endpoint="hotspots_map_page")
def hotspots_map_page():
    """The hot-spot map's document for the filter of the query string."""
    engine, settings = engine_of(current_app), settings_of(current_app)
    view = hotspot_view(engine, settings, _filters(), fdr=request.args.get("fdr") == "1")
    # the view names categories in Chinese (the CLI's words): the map names them in the page's language
    view = replace(view, names={**view.names, "categories": category_names()})
    return hotspot_map(view, boundary=jurisdiction_boundary(),
                       roads=store.read_layer(engine, "roads", jurisdiction_code=settings.jurisdiction_code),
                       settings=settings, major_names=major_names(), source=url_for("pages.hotspots_map_page_points"))


@live_route(bp, "/maps/hotspots", endpoint="hotspots_map_page")
def hotspots_map_page_points() -> LiveIssues:
    """The issues of the hot-spot map's filter (``major``: of one major class only)."""
    filters = _filters()
    major = params.choice(request.args, "major", major_names(), default="")
    if major:
        asked = filters.categories or (major,)
        filters = filters.narrowed(categories=tuple(code for code in asked if code[:2] == major))
    return issue_layer(filters, category_names())


def _emerging_filters() -> tuple[IssueFilter, int]:
    """The emerging form: ``weeks`` bins of ``bin_days`` days ending with the day ``until`` (inclusive)."""
    asked = params.issue_filter(request.args)
    _since0, until0 = default_period(engine_of(current_app), settings_of(current_app))
    bin_days = params.whole(request.args, "bin_days", default=7, lo=1, hi=92)
    bins = params.whole(request.args, "weeks", default=12, lo=2, hi=MAX_BINS)
    end = asked.until or until0
    return asked.narrowed(since=end - timedelta(days=bins * bin_days), until=end), bin_days


def class_label(key: str) -> str:
    """An emerging class's name in the page's language."""
    return (CLASS_LABELS_EN if current_language() == "en" else CLASS_LABELS).get(key, key)


def class_reason(key: str) -> str:
    """The rule that gives a cell the class, in the page's language."""
    zh, en = CLASS_REASONS[key]
    return en if current_language() == "en" else zh


def _cell_chart(series: pd.DataFrame, bin_days: int) -> dict:
    labels = [f"{d:%m-%d}" for d in series["start"]]
    return chart_spec(
        "bar", categories=labels,
        series_list=[charts.series(gettext("问题数"), series["count"], color="#3182bd"),
                     charts.series(gettext("Gi* z 值"), series["gi_z"].round(2), color="#d62728", kind="line",
                                   axis=1)],
        title=gettext("每 %(n)s 天的问题数与 Gi* z 值（横轴为各时段起始日；z ≥ 1.96 为 95%% 热点）", n=bin_days),
        unit=gettext("件"), unit2="z", height=300)


@bp.get("/emerging")
def emerging():
    filters, bin_days = _emerging_filters()
    engine, settings = engine_of(current_app), settings_of(current_app)
    chosen_cell = request.args.get("cell", "").strip() or None
    cells, series = emerging_view(engine, settings, filters, bin_days=bin_days, cell=chosen_cell)
    counts = cells["ehsa_class"].value_counts()
    classes = [(key, class_label(key), int(counts.get(key, 0))) for key in CLASS_LABELS]
    shown = _chosen(EMERGING_FIELDS) | {"until": f"{filters.until - timedelta(days=1):%Y-%m-%d}",
                                        "weeks": str(int((filters.until - filters.since).days // bin_days)),
                                        "bin_days": str(bin_days)}
    cell = None
    if chosen_cell is not None:
        row = cells[cells["code"] == chosen_cell].iloc[0]
        cell = {"code": chosen_cell, "label": class_label(row["ehsa_class"]), "reason": class_reason(row["ehsa_class"]),
                "community": community_names().get(row["community_code"], ""),
                "hot": int(row["hot_bins"]), "cold": int(row["cold_bins"]), "bins": int(row["n_bins"]),
                "trend_z": float(row["trend_z"]), "trend_p": float(row["trend_p"]), "count": int(row["count"]),
                "chart": _cell_chart(series, bin_days)}
    return render_template(
        "emerging.html", shown=shown, choices=_choices(), classes=classes, since=filters.since, cell=cell,
        period_note=_period_note(filters, asked=bool(request.args.get("until")), bins=int(shown["weeks"])),
        map_src=f"{url_for('pages.emerging_map_page')}?{_map_query(EMERGING_FIELDS, shown)}",
    )


@map_route(bp, "/maps/emerging", endpoint="emerging_map_page")
def emerging_map_page():
    """The emerging-hot-spot map's document for the form of the query string."""
    engine, settings = engine_of(current_app), settings_of(current_app)
    filters, bin_days = _emerging_filters()
    cells, _series = emerging_view(engine, settings, filters, bin_days=bin_days)
    shown = _chosen(EMERGING_FIELDS)
    return emerging_map(cells.assign(ehsa_label=cells["ehsa_class"].map(class_label)), boundary=jurisdiction_boundary(),
                        roads=store.read_layer(engine, "roads", jurisdiction_code=settings.jurisdiction_code),
                        settings=settings,
                        title=gettext("时空热点（%(since)s 起，每 %(n)s 天一段）", since=f"{filters.since:%Y-%m-%d}",
                                      n=bin_days),
                        page_query=_map_query(EMERGING_FIELDS, shown),
                        class_names={key: class_label(key) for key in CLASS_LABELS})
