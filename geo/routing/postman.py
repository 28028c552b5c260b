"""Sweep routes: cover a set of required streets and return to the depot, deadheading little.

* When the required streets together with the depot form one connected set, the
  problem is the Chinese postman problem on them, solved **exactly**: the odd-degree
  nodes are paired by a minimum-weight perfect matching (``networkx.min_weight_matching``
  on the complete graph of odd nodes weighted by shortest-path metres — a true matching
  on a general graph; ``networkx.eulerize`` would minimise the number of added edges,
  not metres), the matched shortest paths are driven twice, and an Eulerian circuit
  from the depot gives the order.
* Otherwise it is the rural postman problem, solved heuristically (Frederickson): the
  pieces are joined by a minimum spanning tree of shortest paths between them, then
  parity is repaired as above. The lower bound printed with it is the required length
  plus the larger of two valid bounds on deadheading: the minimum spanning tree over
  the pieces (a closed walk must link them all) and the minimum-weight perfect
  matching of the odd nodes (every odd node needs an odd number of extra traversals).

One-way streets: a route is first planned as if every street were two-way; the
circuit is then driven in the direction that takes more one-way metres the right
way, and every remaining wrong-way traversal is repaired — a deadhead piece by the
shortest legal path, a required one-way street by driving it the right way inside a
legal detour. The result is legal but no longer provably optimal (``exact`` is
False); streets that cannot be driven legally get an error naming them.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse import csgraph

from geo.errors import ValidationError
from geo.routing.output import DEFAULT_SPEED_KMH, route_lines, steps_frame
from geo.routing.road_graph import (
    RoadGraph,
    describe_edges,
    node_path,
    path_edges,
    snap_points,
    two_way,
)


@dataclass(frozen=True)
class SweepPlan:
    """A sweep route.

    Attributes
    ----------
    steps : GeoDataFrame
        Driven pieces in order (:func:`geo.routing.output.steps_frame`); ``work`` marks the
        first traversal of each required street.
    routes : GeoDataFrame
        The single route line with ``length_m``, ``work_m``, ``deadhead_m``, times.
    total_m, required_m, deadhead_m, lower_bound_m : float
        Metres driven, metres of required streets, the difference, and a lower bound
        on the optimal total.
    exact : bool
        True when the total is provably optimal (connected required set, no one-way
        repair).
    depot_node : int
    """

    steps: gpd.GeoDataFrame
    routes: gpd.GeoDataFrame
    total_m: float
    required_m: float
    deadhead_m: float
    lower_bound_m: float
    exact: bool
    depot_node: int


def plan_sweep(
    graph: RoadGraph,
    required: np.ndarray,
    depot: tuple[float, float] | None = None,
    *,
    depot_node: int | None = None,
    respect_oneway: bool = True,
    speed_kmh: float = DEFAULT_SPEED_KMH,
) -> SweepPlan:
    """Plan one closed sweep route covering the required edges.

    Parameters
    ----------
    graph : RoadGraph
    required : numpy.ndarray
        Boolean mask over ``graph.edges`` (or edge ids) of the streets to sweep.
    depot : (float, float), optional
        Depot longitude, latitude (WGS84); it starts at the graph node nearest to its
        snapped position.
    depot_node : int, optional, keyword-only
        Start at this node instead.
    respect_oneway : bool, keyword-only
        Repair wrong-way driving on one-way streets (see the module notes). False
        plans as if every street were two-way, for vehicles exempt from the
        direction (a sweeper backing out of a one-way dead end).
    speed_kmh : float, keyword-only

    Raises
    ------
    geo.errors.ValidationError
        No required street, required streets the depot cannot reach, or one-way
        streets with no legal way back (named).
    """
    m = len(graph.edges)
    req = np.asarray(required)
    if req.dtype == bool:
        if len(req) != m:
            raise ValidationError(f"required mask has {len(req)} entries for {m} edges")
        req_ids = np.flatnonzero(req)
    else:
        req_ids = np.unique(req.astype(np.int64))
        if len(req_ids) and (req_ids.min() < 0 or req_ids.max() >= m):
            raise ValidationError(f"required edge ids must lie in 0..{m - 1}")
    if len(req_ids) == 0:
        raise ValidationError("no street to sweep: the chosen street set is empty")
    start = _depot_node(graph, depot, depot_node)

    e = graph.edges
    u, v, length = e["u"].to_numpy(), e["v"].to_numpy(), e["length_m"].to_numpy()
    n = graph.n_nodes
    undirected, undirected_edge = two_way(graph)
    # Required pieces: components of the required edges, plus the depot.
    r_u, r_v = u[req_ids], v[req_ids]
    piece_graph = sparse.coo_array((np.ones(len(req_ids)), (r_u, r_v)), shape=(n, n))
    _, piece = csgraph.connected_components(piece_graph, directed=False)
    touched = np.zeros(n, dtype=bool)
    touched[np.r_[r_u, r_v, start]] = True
    far = graph.component[np.r_[r_u, r_v]] != graph.component[start]
    if far.any():
        bad = req_ids[far[: len(req_ids)] | far[len(req_ids):]]
        raise ValidationError(f"要清扫的街道与车场不连通：{describe_edges(graph, bad)}")

    odd_base = np.flatnonzero(np.bincount(np.r_[r_u, r_v], minlength=n) % 2 == 1)

    # Links between pieces: MST on the shortest distance between any two of them.
    all_nodes = np.flatnonzero(touched)
    all_nodes = all_nodes[np.argsort(piece[all_nodes], kind="stable")]
    labels, starts = np.unique(piece[all_nodes], return_index=True)
    k = len(labels)
    added: list[list[int]] = []  # node paths driven as deadhead
    mst_m = 0.0
    if k > 1:
        dist, pred = csgraph.dijkstra(undirected, directed=False, indices=all_nodes, return_predecessors=True)
        sub = dist[:, all_nodes]
        # piece-to-piece minimum: reduce rows, then columns, over the label runs
        comp = np.minimum.reduceat(np.minimum.reduceat(sub, starts, axis=0), starts, axis=1)
        np.fill_diagonal(comp, 0.0)
        tree = csgraph.minimum_spanning_tree(sparse.csr_array(comp))
        mst_m = float(tree.sum())
        ends = np.r_[starts, len(all_nodes)]
        for a, b in zip(*tree.nonzero()):
            block = sub[ends[a]:ends[a + 1], ends[b]:ends[b + 1]]
            r, c = np.unravel_index(np.argmin(block), block.shape)
            added.append(node_path(pred, ends[a] + r, int(all_nodes[ends[b] + c])))

    # Parity repair on required + links: exact minimum-weight perfect matching of odd nodes.
    degree = np.bincount(np.r_[r_u, r_v], minlength=n)
    for path in added:
        np.add.at(degree, np.asarray(path[:-1]), 1)
        np.add.at(degree, np.asarray(path[1:]), 1)
    odd = np.flatnonzero(degree % 2 == 1)
    match_paths, match_m = _match(undirected, odd)
    base_bound = _match(undirected, odd_base)[1] if k > 1 else match_m
    added += match_paths

    walk = _circuit(graph, req_ids, added, start, undirected_edge)
    walk, repaired = _legalise(graph, walk) if respect_oneway else (walk, False)
    pieces = []
    todo = np.zeros(m, dtype=bool)
    todo[req_ids] = True
    for edge, forward in walk:
        work = bool(todo[edge])
        todo[edge] = False
        pieces.append((1, edge, 0.0 if forward else length[edge], length[edge] if forward else 0.0, work))
    steps = steps_frame(graph, pieces)
    routes = route_lines(steps, speed_kmh=speed_kmh)
    total = float(steps["length_m"].sum())
    required_m = float(length[req_ids].sum())
    return SweepPlan(
        steps=steps, routes=routes, total_m=total, required_m=required_m, deadhead_m=total - required_m,
        lower_bound_m=required_m + max(mst_m, base_bound), exact=(k == 1 and not repaired), depot_node=start,
    )


def _depot_node(graph: RoadGraph, depot, depot_node) -> int:
    if depot_node is not None:
        if not 0 <= int(depot_node) < graph.n_nodes:
            raise ValidationError(f"depot node {depot_node!r} is not a node of the graph (0..{graph.n_nodes - 1})")
        return int(depot_node)
    if depot is None:
        raise ValidationError("a depot (lon, lat) or a depot node is needed")
    snapped = snap_points(graph, gpd.GeoSeries(gpd.points_from_xy([depot[0]], [depot[1]]), crs="EPSG:4326"))
    xy = snapped[["x", "y"]].to_numpy()[0]
    return int(np.argmin(np.hypot(*(graph.node_xy - xy).T)))


def _match(undirected: sparse.csr_array, odd: np.ndarray) -> tuple[list[list[int]], float]:
    """Minimum-weight perfect matching of the odd nodes on shortest-path metres."""
    if len(odd) == 0:
        return [], 0.0
    dist, pred = csgraph.dijkstra(undirected, directed=False, indices=odd, return_predecessors=True)
    block = dist[:, odd]
    if not np.isfinite(block).all():
        raise ValidationError("odd-degree street ends cannot be paired: the street set is not connected")
    g = nx.Graph()
    i, j = np.triu_indices(len(odd), k=1)
    g.add_weighted_edges_from(zip(i.tolist(), j.tolist(), block[i, j].tolist()))
    matching = nx.min_weight_matching(g)
    if 2 * len(matching) != len(odd):
        raise ValidationError(f"no perfect matching of {len(odd)} odd nodes")
    paths = [node_path(pred, a, int(odd[b])) for a, b in matching]
    return paths, float(sum(block[a, b] for a, b in matching))


def _circuit(graph: RoadGraph, req_ids: np.ndarray, added: list[list[int]], start: int,
             undirected_edge: sparse.csr_array) -> list[tuple[int, bool]]:
    """An Eulerian circuit from ``start`` over required edges and the added paths, as (edge, forward)."""
    e = graph.edges
    u, v = e["u"].to_numpy(), e["v"].to_numpy()
    multi = nx.MultiGraph()
    multi.add_node(start)
    multi.add_edges_from((int(u[i]), int(v[i]), {"edge": int(i)}) for i in req_ids)
    for path in added:
        undirected_edges = np.asarray(undirected_edge[path[:-1], path[1:]]).astype(np.int64).ravel() - 1
        multi.add_edges_from((a, b, {"edge": int(i)}) for a, b, i in zip(path[:-1], path[1:], undirected_edges))
    if multi.number_of_edges() == 0:
        return []
    walk = []
    for a, b, key in nx.eulerian_circuit(multi, source=start, keys=True):
        edge = multi.edges[a, b, key]["edge"]
        walk.append((edge, bool(u[edge] == a and v[edge] == b) or (u[edge] == a and u[edge] == v[edge])))
    return walk


def _legalise(graph: RoadGraph, walk: list[tuple[int, bool]]) -> tuple[list[tuple[int, bool]], bool]:
    """Drive the circuit the way round that breaks fewer one-way metres, then repair the rest."""
    e = graph.edges
    oneway, length = e["oneway"].to_numpy(), e["length_m"].to_numpy()
    if not walk or not oneway[[edge for edge, _ in walk]].any():
        return walk, False
    wrong = sum(length[edge] for edge, fwd in walk if oneway[edge] and not fwd)
    right = sum(length[edge] for edge, fwd in walk if oneway[edge] and fwd)
    if wrong > right:
        walk = [(edge, not fwd) for edge, fwd in reversed(walk)]
    u, v = e["u"].to_numpy(), e["v"].to_numpy()
    bad = [edge for edge, fwd in walk if oneway[edge] and not fwd]
    if not bad:
        return walk, False
    sources = np.unique(np.r_[u[bad], v[bad]])
    dist, pred = csgraph.dijkstra(graph.matrix, directed=True, indices=sources, return_predecessors=True)
    row_of = {int(s): i for i, s in enumerate(sources)}
    if not np.isfinite(dist[[row_of[int(v[b])] for b in bad], u[bad]]).all():
        stuck = [b for b in bad if not np.isfinite(dist[row_of[int(v[b])], u[b]])]
        raise ValidationError(f"单行街道驶入后无法合法驶回（单行死胡同？）：{describe_edges(graph, np.asarray(stuck))}；"
                              "可改为不遵守单行方向规划（清扫车倒出）")
    first_seen: set[int] = set()
    out: list[tuple[int, bool]] = []
    for edge, fwd in walk:
        if not (oneway[edge] and not fwd):
            out.append((edge, fwd))
            continue
        # Standing at v wanting to reach u: legal path v ⇝ u, and for a required street
        # not yet swept the right way, drive u → v and v ⇝ u once more.
        detour = _legal_path(graph, pred, row_of[int(v[edge])], int(u[edge]))
        out += detour
        if edge not in first_seen:
            first_seen.add(edge)
            out.append((edge, True))
            out += detour
    return out, True


def _legal_path(graph: RoadGraph, pred: np.ndarray, row: int, target: int) -> list[tuple[int, bool]]:
    nodes = node_path(pred, row, target)
    edges = path_edges(graph, nodes)
    u = graph.edges["u"].to_numpy()
    return [(int(i), bool(u[i] == a)) for i, a in zip(edges, nodes[:-1])]


def required_by_filter(edges: pd.DataFrame, spec: str) -> np.ndarray:
    """Mask of edges chosen by a ``--required`` spec.

    ``all`` takes every edge; ``column=value[,value…]`` takes the edges whose column
    holds one of the values (``road_class=alley``, ``name=明珠巷,幸福巷``,
    ``is_priority=true``).
    """
    spec = (spec or "").strip()
    if spec == "all":
        return np.ones(len(edges), dtype=bool)
    if "=" not in spec:
        raise ValidationError(f"required streets {spec!r}: use 'all' or column=value[,value…], e.g. road_class=alley")
    column, values = (s.strip() for s in spec.split("=", 1))
    if column not in edges.columns or column in ("geometry",):
        raise ValidationError(f"required streets {spec!r}: no column {column!r}; "
                              f"columns: {', '.join(c for c in edges.columns if c != 'geometry')}")
    wanted = {w.strip().lower() for w in values.split(",") if w.strip()}
    mask = edges[column].astype(str).str.lower().isin(wanted).to_numpy()
    if not mask.any():
        raise ValidationError(f"required streets {spec!r}: no street has {column} in {sorted(wanted)}")
    return mask
