"""What the pages call codes: category, department and community names (the code where a name is missing)."""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _

from geo import store
from geo.loop.views import department_names
from geo.taxonomy import load_taxonomy
from webmap.context import engine_of, settings_of


def source_names() -> dict[str, str]:
    """What the pages call the sources of issues (an importer may bring others: those show their code)."""
    return {"12345": _("12345 热线"), "inspection": _("巡查发现"), "grid_worker": _("网格员上报"),
            "citizen": _("市民上报"), "leadership_check": _("领导检查"), "web": _("网页上报"),
            "open311": _("Open311 接口")}


def display_names() -> dict[str, dict[str, str]]:
    """``category``, ``department``, ``community`` and ``source`` code → name; a community team is
    ``community:<code>``."""
    engine, settings = engine_of(current_app), settings_of(current_app)
    communities = store.read_layer(engine, "communities", jurisdiction_code=settings.jurisdiction_code)
    return {"category": dict(load_taxonomy().categories["name"]), "department": department_names(engine, settings),
            "community": dict(zip(communities["code"], communities["name"])), "source": source_names()}
