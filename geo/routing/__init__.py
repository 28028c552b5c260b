"""Routing of the cleaning crews: the road graph, pickup tours with capacities and windows, sweeps.

Modules: :mod:`~geo.routing.road_graph` (the segment graph, one-way aware),
:mod:`~geo.routing.tsp` (the tour core and TSPLIB), :mod:`~geo.routing.vrp` (pickups of
piles with vehicles, capacities, shifts and time windows), :mod:`~geo.routing.postman`
(sweeping every required street: the Chinese postman), :mod:`~geo.routing.output`
(routes as lines, steps and GPX), and :mod:`~geo.routing.views`, the use cases the CLI
and the pages call.
"""

__all__ = ["output", "postman", "road_graph", "tsp", "views", "vrp"]
