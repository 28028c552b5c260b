"""Reference frames and assignment: the unit grid, road segments with chainage, and which frame holds an issue.

Modules: :mod:`~geo.frames.reference` (the layers of one jurisdiction as one value, read
from a data directory), :mod:`~geo.frames.unit_grid` (100 m cells and their 15-character
codes), :mod:`~geo.frames.segments` (roads split at junctions, chainage),
:mod:`~geo.frames.linref` (linear referencing along a road), :mod:`~geo.frames.assign`
(each issue to its cell, segment, compound, community, grid and zone; STRtree, metric CRS).
"""

__all__ = ["assign", "linref", "reference", "segments", "unit_grid"]
