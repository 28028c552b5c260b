"""Pages for people (Simplified Chinese). Maps are whole folium documents served under
``/maps/…`` and framed by the pages, so each keeps its own scripts and styles."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template

from geo import store
from geo.errors import NotFoundError
from geo.models import OPEN_STATUSES
from geo.taxonomy import load_taxonomy
from webmap.app import engine_of, settings_of
from webmap.maps.overview import overview_map

bp = Blueprint("pages", __name__)


def _boundary():
    engine, settings = engine_of(current_app), settings_of(current_app)
    boundary = store.read_layer(engine, "jurisdiction", jurisdiction_code=settings.jurisdiction_code)
    if boundary.empty:
        raise NotFoundError(f"数据库中没有辖区 {settings.jurisdiction_code} 的数据：请先运行 citymap load-sample 或导入数据。")
    return boundary


@bp.get("/")
def index():
    engine, settings = engine_of(current_app), settings_of(current_app)
    boundary = _boundary()
    by_status = store.count_issues_by(engine, "status", jurisdiction_code=settings.jurisdiction_code)
    figures = {
        "total": int(by_status.sum()),
        "open": int(by_status.reindex(list(OPEN_STATUSES)).fillna(0).sum()),
        "closed": int(by_status.get("closed", 0)),
    }
    return render_template("index.html", figures=figures, jurisdiction=boundary.loc[0, "name"])


@bp.get("/maps/overview")
def overview():
    engine, settings = engine_of(current_app), settings_of(current_app)
    j = settings.jurisdiction_code
    boundary = _boundary()
    cells = store.read_layer(engine, "unit_cells", jurisdiction_code=j)
    counts = store.count_issues_by(engine, "cell_code", jurisdiction_code=j)
    cells["count"] = cells["code"].map(counts).fillna(0).astype(int)
    taxonomy = load_taxonomy()
    m = overview_map(
        boundary=boundary,
        roads=store.read_layer(engine, "roads", jurisdiction_code=j),
        cell_counts=cells,
        open_issues=store.query_issues(engine, jurisdiction_code=j, status=OPEN_STATUSES),
        settings=settings,
        category_names=dict(zip(taxonomy.categories["code"], taxonomy.categories["name"])),
    )
    return Response(m.get_root().render(), mimetype="text/html")
