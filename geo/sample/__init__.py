"""Deterministic, illustrative sample data for 金桥街道 (Dongli District, Tianjin).

Nothing here is surveyed. The boundary, roads, communities, compounds, grids,
contractor zones and the year of issues are invented to look like a plausible
sub-district on the north-eastern edge of Tianjin: a jurisdiction of about 25 km²
between 117.33–117.40 °E and 39.08–39.12 °N, cut by the priority roads 津北公路
(east–west) and 先锋东路 (north–south), built up in the west and centre and
turning into urban–rural fringe towards the east. Road and compound names are
illustrative; the codes are placeholders (东丽区 120110 + 街道 900), not the codes
the district issues.

Everything is drawn from ``numpy.random.default_rng(seed)``, so the same seed gives
the same layers and issues, byte for byte once written. Geometry is built in the
metric CRS (EPSG:4548, metres) and returned in WGS84 (EPSG:4326) rounded to 6
decimals (about 0.1 m), the precision the published files carry.

:func:`make_layers` builds the reference layers, :func:`make_issues` a simulated
year of issues on top of them.
"""

from __future__ import annotations

from geo.sample.issues import (  # noqa: F401
    SOURCES,
    make_issues,
)
from geo.sample.layers import (  # noqa: F401
    CELL_SIZE_M,
    DECIMALS,
    DISTRICT_CODE,
    JURISDICTION_CODE,
    JURISDICTION_NAME,
    METRIC_CRS,
    make_layers,
)

__all__ = [
    "CELL_SIZE_M",
    "DECIMALS",
    "DISTRICT_CODE",
    "JURISDICTION_CODE",
    "JURISDICTION_NAME",
    "METRIC_CRS",
    "SOURCES",
    "make_issues",
    "make_layers",
]
