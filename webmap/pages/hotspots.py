"""The hotspot and emerging-hotspot pages and their maps. On :data:`webmap.pages.blueprint.bp`.

The page holds the filter form (a GET form: submitting it asks the server again) and
frames the map, whose URL carries the same query.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from flask import current_app, render_template, request, url_for

from geo import store
from geo.hotspots.emerging import CLASS_LABELS
from geo.hotspots.views import default_period, emerging_view, hotspot_view
from geo.issue_filter import IssueFilter
from geo.taxonomy import load_taxonomy
from webmap import params
from webmap.context import engine_of, jurisdiction_boundary, settings_of
from webmap.map_views import map_route
from webmap.maps.hotspots import emerging_map, hotspot_map
from webmap.pages.blueprint import bp
from webmap.rows import template_rows

#: the form's fields, in the order they go into the map's URL
FILTER_FIELDS = ("since", "until", "category", "department", "community", "source", "fdr")
EMERGING_FIELDS = ("until", "weeks", "bin_days", "category", "department", "community")
SOURCE_NAMES = {"12345": "12345 热线", "inspection": "巡查", "grid_worker": "网格员", "citizen": "市民",
                "leadership_check": "领导检查", "open311": "Open311"}
MAX_BINS = 104


def _filters() -> IssueFilter:
    """The form's filter; ``until`` is the last day shown (inclusive), default the last 30 days of reports."""
    asked = params.issue_filter(request.args)
    since0, until0 = default_period(engine_of(current_app), settings_of(current_app))
    until = asked.until or until0
    return asked.narrowed(since=asked.since or until - (until0 - since0), until=until)


def _choices() -> dict:
    """The options of the form's selects."""
    engine, settings = engine_of(current_app), settings_of(current_app)
    taxonomy = load_taxonomy()
    categories = taxonomy.categories
    majors = categories.drop_duplicates("major_code")
    communities = store.read_layer(engine, "communities", jurisdiction_code=settings.jurisdiction_code)
    departments = list(zip(taxonomy.departments["code"], taxonomy.departments["name"]))
    departments += [(f"community:{c}", f"{n}（社区）") for c, n in zip(communities["code"], communities["name"])]
    return {
        "majors": list(zip(majors["major_code"], majors["major_name"])),
        "categories": list(zip(categories["code"], categories["name"])),
        "departments": departments,
        "communities": list(zip(communities["code"], communities["name"])),
        "sources": list(SOURCE_NAMES.items()),
    }


def _chosen(fields: tuple[str, ...]) -> dict[str, str]:
    return {name: request.args.get(name, "").strip() for name in fields}


def _map_query(fields: tuple[str, ...], shown: dict[str, str]) -> str:
    return urlencode({k: shown[k] for k in fields if shown.get(k)})


@bp.get("/hotspots")
def hotspots():
    filters = _filters()
    engine, settings = engine_of(current_app), settings_of(current_app)
    view = hotspot_view(engine, settings, filters, fdr=request.args.get("fdr") == "1", with_density=False)
    shown = _chosen(FILTER_FIELDS) | {"since": f"{filters.since:%Y-%m-%d}",
                                      "until": f"{filters.until - timedelta(days=1):%Y-%m-%d}"}
    figures = {"issues": len(view.issues), "open": len(view.open_issues),
               "hot": int((view.cells["gi_bin"] >= 2).sum()), "cold": int((view.cells["gi_bin"] <= -2).sum())}
    return render_template(
        "hotspots.html", shown=shown, choices=_choices(), figures=figures, top_cells=template_rows(view.top_cells),
        top_segments=template_rows(view.top_segments),
        map_src=f"{url_for('pages.hotspots_map_page')}?{_map_query(FILTER_FIELDS, shown)}",
    )


@map_route(bp, "/maps/hotspots", endpoint="hotspots_map_page")
def hotspots_map_page():
    """The hot-spot map's document for the filter of the query string."""
    engine, settings = engine_of(current_app), settings_of(current_app)
    view = hotspot_view(engine, settings, _filters(), fdr=request.args.get("fdr") == "1")
    majors = load_taxonomy().categories.drop_duplicates("major_code")
    return hotspot_map(view, boundary=jurisdiction_boundary(),
                       roads=store.read_layer(engine, "roads", jurisdiction_code=settings.jurisdiction_code),
                       settings=settings, major_names=dict(zip(majors["major_code"], majors["major_name"])))


def _emerging_filters() -> tuple[IssueFilter, int]:
    """The emerging form: ``weeks`` bins of ``bin_days`` days ending with the day ``until`` (inclusive)."""
    asked = params.issue_filter(request.args)
    _since0, until0 = default_period(engine_of(current_app), settings_of(current_app))
    bin_days = params.whole(request.args, "bin_days", default=7, lo=1, hi=92)
    bins = params.whole(request.args, "weeks", default=12, lo=2, hi=MAX_BINS)
    end = asked.until or until0
    return asked.narrowed(since=end - timedelta(days=bins * bin_days), until=end), bin_days


@bp.get("/emerging")
def emerging():
    filters, bin_days = _emerging_filters()
    engine, settings = engine_of(current_app), settings_of(current_app)
    cells = emerging_view(engine, settings, filters, bin_days=bin_days)
    counts = cells["ehsa_class"].value_counts()
    classes = [(key, label, int(counts.get(key, 0))) for key, label in CLASS_LABELS.items()]
    shown = _chosen(EMERGING_FIELDS) | {"until": f"{filters.until - timedelta(days=1):%Y-%m-%d}",
                                        "weeks": str(int((filters.until - filters.since).days // bin_days)),
                                        "bin_days": str(bin_days)}
    return render_template(
        "emerging.html", shown=shown, choices=_choices(), classes=classes, since=filters.since,
        map_src=f"{url_for('pages.emerging_map_page')}?{_map_query(EMERGING_FIELDS, shown)}",
    )


@map_route(bp, "/maps/emerging", endpoint="emerging_map_page")
def emerging_map_page():
    """The emerging-hot-spot map's document for the form of the query string."""
    engine, settings = engine_of(current_app), settings_of(current_app)
    filters, bin_days = _emerging_filters()
    cells = emerging_view(engine, settings, filters, bin_days=bin_days)
    return emerging_map(cells, boundary=jurisdiction_boundary(),
                        roads=store.read_layer(engine, "roads", jurisdiction_code=settings.jurisdiction_code),
                        settings=settings, title=f"时空热点（{filters.since:%Y-%m-%d} 起，每 {bin_days} 天一段）")
