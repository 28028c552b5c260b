"""Chart specs: the JSON a page carries for each chart, drawn by ``webmap/static/charts.js`` with Apache ECharts.

A spec is data, never code: categories, series of numbers, names and colours, a unit and
optional links (paths of this app) per category. The page writes it into a
``<script type="application/json">`` data block with Jinja's ``tojson`` (``<``, ``>``, ``&``
and ``'`` escaped), so no name can end the block or run; ``charts.js`` puts every name on the
canvas or into the DOM as text. Templates use the ``chart`` macro of ``templates/_charts.html``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: chart kinds charts.js draws: vertical bars, horizontal bars, lines, stacked bars
KINDS = ("bar", "hbar", "line", "stack")
#: the series colours of the dashboards: new, closed, overdue (the overview map's reds for what is late)
NEW_COLOR, CLOSED_COLOR, OVERDUE_COLOR = "#3182bd", "#31a354", "#d62728"


def _plain(values) -> list:
    """Numbers as JSON takes them: NaN and NA as null, numpy scalars as Python ones."""
    out = []
    for value in values:
        if value is None or (isinstance(value, (float, np.floating)) and np.isnan(value)) or value is pd.NA:
            out.append(None)
        elif isinstance(value, (np.integer, int)) and not isinstance(value, bool):
            out.append(int(value))
        else:
            out.append(round(float(value), 2))
    return out


def series(name: str, values: Sequence, *, color: str | None = None, kind: str | None = None,
           axis: int = 0) -> dict:
    """One series of a chart: its name (plain text), its values (numbers or missing), colour, kind ("bar",
    "line"; default the chart's) and value axis (1: a second axis on the right, for another unit)."""
    return {"name": str(name), "values": _plain(values), "color": color, "kind": kind, "axis": axis}


def chart_spec(kind: str, *, categories: Sequence, series_list: Sequence[dict], title: str = "", unit: str = "",
               unit2: str = "", max_value: float | None = None, height: int = 280,
               links: Sequence[str] | None = None, empty: str = "") -> dict:
    """A chart spec for ``charts.js``.

    Parameters
    ----------
    kind : {"bar", "hbar", "line", "stack"}
        Vertical bars, horizontal bars (a ranking, first on top), lines, stacked bars.
    categories : sequence
        The labels along the category axis (plain text).
    series_list : sequence of dict
        :func:`series` values, each as long as ``categories``.
    unit, unit2 : str
        Shown with the values ("%", "件"); ``unit2`` names the second axis (series with ``axis=1``).
    max_value : float, optional
        The value axis' end (100 for a rate).
    height : int
        Pixels.
    links : sequence of str, optional
        A path of this app per category, opened when its bar is clicked.
    empty : str
        What the chart says when it has no category.
    """
    if kind not in KINDS:
        raise ValueError(f"chart kind {kind!r} is not one of {', '.join(KINDS)}")
    categories = [str(c) for c in categories]
    for one in series_list:
        if len(one["values"]) != len(categories):
            raise ValueError(f"series {one['name']!r} has {len(one['values'])} values for {len(categories)} categories")
    spec = {"kind": kind, "title": title, "categories": categories, "series": list(series_list), "unit": unit,
            "unit2": unit2, "height": int(height), "empty": empty}
    if max_value is not None:
        spec["max"] = max_value
    if links is not None:
        spec["links"] = [str(link) for link in links]
    return spec
