"""What the pages call codes, in the page's language: category, department, community and source names.

Categories, departments and sources are the product's words (Chinese or English); a community's
name, and so a community team's, is the place's own data and stays as the layer has it (pages
mark it ``data-value``).
"""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _

from geo import store
from geo.taxonomy import load_taxonomy
from webmap.context import engine_of, settings_of
from webmap.i18n import category_names, department_name


def source_names() -> dict[str, str]:
    """What the pages call the sources of issues (an importer may bring others: those show their code)."""
    return {"12345": _("12345 热线"), "inspection": _("巡查发现"), "grid_worker": _("网格员上报"),
            "citizen": _("市民上报"), "leadership_check": _("领导检查"), "web": _("网页上报"),
            "open311": _("Open311 接口")}


def community_names() -> dict[str, str]:
    """Community code → its name (layer data)."""
    settings = settings_of(current_app)
    communities = store.read_layer(engine_of(current_app), "communities", jurisdiction_code=settings.jurisdiction_code)
    return dict(zip(communities["code"], communities["name"]))


def department_names(communities: dict[str, str] | None = None) -> dict[str, str]:
    """Department code → name: the taxonomy's departments, then each community's own team
    (``community:<code>`` → ``<community name>（社区）``; ``communities`` the names, read when not given)."""
    names = {code: department_name(code) for code in load_taxonomy().departments.index}
    communities = community_names() if communities is None else communities
    names.update({f"community:{c}": _("%(name)s（社区）", name=n) for c, n in communities.items()})
    return names


def display_names() -> dict[str, dict[str, str]]:
    """``category``, ``department``, ``community`` and ``source`` code → name; a community team is
    ``community:<code>``."""
    communities = community_names()
    return {"category": category_names(), "department": department_names(communities), "community": communities,
            "source": source_names()}
