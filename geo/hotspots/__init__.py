"""Hot spots: where issues cluster beyond chance, and how that changes over time.

Modules: :mod:`~geo.hotspots.gi_star` (Getis-Ord Gi* per unit cell with permutation
inference and FDR), :mod:`~geo.hotspots.emerging` (emerging hot-spot classes over a
space-time cube), :mod:`~geo.hotspots.density` (kernel density),
:mod:`~geo.hotspots.top_hotspots` (the ranked cells and their roads), and
:mod:`~geo.hotspots.views`, the use cases the CLI and the pages call.
"""

__all__ = ["density", "emerging", "gi_star", "top_hotspots", "views"]
