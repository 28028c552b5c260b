"""The road network as a graph: nodes at segment ends, edges along segments, metric lengths.

Road segments (:mod:`geo.frames.segments`) end at intersections, so a graph whose nodes are
the segment end points and whose edges are the segments is the road network. End
points closer than ``merge_tol_m`` are one node (surveyed lines rarely meet to the
millimetre). Lengths are measured in the metric CRS (EPSG:4548 by default).

Travel is allowed both ways along an edge unless its ``oneway`` flag is set, in which
case only from the segment's first vertex to its last (digitised direction, as in OSM).

Points (depots, issues) are snapped to the nearest edge; a point at offset ``o`` along
an edge of length ``L`` leaves it towards the edge's end (cost ``L - o``) or, when the
edge is two-way, towards its start (cost ``o``). Distances between points are shortest
paths (``scipy.sparse.csgraph.dijkstra``) between those exits and entries.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from geo.crs import DEFAULT_METRIC_CRS, to_metric
from geo.errors import ValidationError

#: segment end points closer than this (metres) are one graph node
MERGE_TOL_M = 0.5
#: the columns a road frame must have (segments or whole roads)
GRAPH_COLUMNS = ("name", "oneway")


@dataclass(frozen=True)
class RoadGraph:
    """A directed road graph in a metric CRS.

    Attributes
    ----------
    edges : geopandas.GeoDataFrame
        One row per road segment, in the metric CRS: ``edge`` (0..m-1), ``u``, ``v``
        (node ids: start and end of the digitised line), ``length_m``, ``oneway``,
        ``name``, ``road_class`` and ``segment_id`` when the input had them, the line.
    node_xy : numpy.ndarray
        ``(n, 2)`` node coordinates, metres in ``crs``.
    matrix : scipy.sparse.csr_array
        ``(n, n)`` shortest allowed edge length from node i to node j (metres).
    edge_of : scipy.sparse.csr_array
        ``(n, n)`` the edge (id + 1) that ``matrix`` took for each arc.
    component : numpy.ndarray
        Weakly connected component of each node.
    crs : str
    """

    edges: gpd.GeoDataFrame
    node_xy: np.ndarray
    matrix: sparse.csr_array
    edge_of: sparse.csr_array
    component: np.ndarray
    crs: str

    @property
    def n_nodes(self) -> int:
        return len(self.node_xy)


def build_road_graph(
    segments: gpd.GeoDataFrame, *, crs: str = DEFAULT_METRIC_CRS, merge_tol_m: float = MERGE_TOL_M
) -> RoadGraph:
    """Build the graph of road segments (or of any lines meeting only at their ends).

    Parameters
    ----------
    segments : geopandas.GeoDataFrame
        LineStrings with a CRS and columns ``name`` and ``oneway`` (bool).
    crs : str, keyword-only
        Metric CRS for lengths, default EPSG:4548.
    merge_tol_m : float, keyword-only
        End points within this distance (metres) become one node.

    Returns
    -------
    RoadGraph
    """
    missing = [c for c in GRAPH_COLUMNS if c not in segments.columns]
    if missing:
        raise ValidationError(f"road frame lacks column(s) {', '.join(missing)}; it has {', '.join(map(str, segments.columns))}")
    if len(segments) == 0:
        raise ValidationError("no road segments to build a graph from")
    kinds = set(shapely.get_type_id(segments.geometry.values).tolist())
    if kinds != {1}:
        raise ValidationError(f"road segments must all be LineStrings, found geometry type ids {sorted(kinds)}")
    if merge_tol_m < 0:
        raise ValidationError(f"merge_tol_m {merge_tol_m!r} must not be negative")
    metric = to_metric(segments, crs=crs).reset_index(drop=True)
    lines = metric.geometry.values
    ends = np.vstack([shapely.get_coordinates(shapely.get_point(lines, 0)),
                      shapely.get_coordinates(shapely.get_point(lines, -1))])
    # Merge end points closer than the tolerance: connected components of the "close" pairs.
    pairs = cKDTree(ends).query_pairs(merge_tol_m, output_type="ndarray")
    k = len(ends)
    close = sparse.coo_array((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(k, k)) if len(pairs) else \
        sparse.coo_array((k, k))
    _, label = csgraph.connected_components(close, directed=False)
    node_xy = pd.DataFrame(ends).groupby(label).mean().to_numpy()
    m = len(metric)
    u, v = label[:m], label[m:]
    length = shapely.length(lines)
    oneway = metric["oneway"].fillna(False).astype(bool).to_numpy()

    keep = [c for c in ("segment_id", "road_id", "name", "road_class", "is_priority") if c in metric.columns]
    edges = gpd.GeoDataFrame(
        {"edge": np.arange(m), "u": u, "v": v, "length_m": length, "oneway": oneway,
         **{c: metric[c].to_numpy() for c in keep}},
        geometry=lines, crs=metric.crs,
    )
    n = len(node_xy)
    # Arcs: every edge forwards, two-way edges also backwards; a loop edge is no arc.
    matrix, edge_of = _arc_matrices(u, v, length, ~oneway, n)
    _, component = csgraph.connected_components(matrix, directed=True, connection="weak")
    return RoadGraph(edges=edges, node_xy=node_xy, matrix=matrix, edge_of=edge_of, component=component,
                     crs=crs)


def graph_from_roads(roads: gpd.GeoDataFrame, *, crs: str = DEFAULT_METRIC_CRS, max_len_m: float = 200.0) -> RoadGraph:
    """Build the graph of whole road centre-lines (a road file), splitting them at
    intersections first (:func:`geo.frames.segments.split_roads`)."""
    from geo.frames.segments import split_roads

    return build_road_graph(split_roads(to_metric(roads, crs=crs), max_len_m=max_len_m), crs=crs)


def _arc_matrices(u, v, length, back, n) -> tuple[sparse.csr_array, sparse.csr_array]:
    """Shortest arc length and its edge (id + 1) per (from, to) node pair."""
    m = len(u)
    src = np.concatenate([u, v[back]])
    dst = np.concatenate([v, u[back]])
    arc_edge = np.concatenate([np.arange(m), np.arange(m)[back]])
    arc_len = np.concatenate([length, length[back]])
    real = src != dst
    src, dst, arc_edge, arc_len = src[real], dst[real], arc_edge[real], arc_len[real]
    # Parallel arcs: keep the shortest of each (src, dst).
    order = np.lexsort((arc_len, dst, src))
    first = np.ones(len(order), dtype=bool)
    first[1:] = (src[order][1:] != src[order][:-1]) | (dst[order][1:] != dst[order][:-1])
    pick = order[first]
    return (sparse.csr_array((arc_len[pick], (src[pick], dst[pick])), shape=(n, n)),
            sparse.csr_array((arc_edge[pick] + 1, (src[pick], dst[pick])), shape=(n, n)))


def two_way(graph: RoadGraph) -> tuple[sparse.csr_array, sparse.csr_array]:
    """The graph with every street drivable both ways: (length matrix, edge id + 1 matrix).

    Its distances never exceed the legal ones, so bounds computed on it stay valid.
    """
    e = graph.edges
    return _arc_matrices(e["u"].to_numpy(), e["v"].to_numpy(), e["length_m"].to_numpy(),
                         np.ones(len(e), dtype=bool), graph.n_nodes)


def snap_points(graph: RoadGraph, points: gpd.GeoSeries | gpd.GeoDataFrame) -> pd.DataFrame:
    """Snap points to their nearest edge.

    Parameters
    ----------
    graph : RoadGraph
    points : geopandas.GeoSeries or GeoDataFrame
        Points with a CRS.

    Returns
    -------
    pandas.DataFrame
        Per point (same index): ``edge``, ``offset_m`` (along the edge from its start),
        ``snap_dist_m`` (metres from the point to the edge), ``x``, ``y`` (the snapped
        position, metres in the graph's CRS).
    """
    geoms = to_metric(points if isinstance(points, gpd.GeoSeries) else points.geometry, crs=graph.crs).values
    if len(geoms) == 0:
        return pd.DataFrame({"edge": [], "offset_m": [], "snap_dist_m": [], "x": [], "y": []})
    lines = graph.edges.geometry.values
    tree = shapely.STRtree(lines)
    point_idx, edge_idx = tree.query_nearest(geoms, all_matches=False)
    order = np.argsort(point_idx)
    edge = edge_idx[order]
    offset = shapely.line_locate_point(lines[edge], geoms)
    snapped = shapely.line_interpolate_point(lines[edge], offset)
    xy = shapely.get_coordinates(snapped)
    return pd.DataFrame(
        {"edge": edge, "offset_m": offset, "snap_dist_m": shapely.distance(geoms, snapped), "x": xy[:, 0], "y": xy[:, 1]},
        index=points.index,
    )


@dataclass(frozen=True)
class PointDistances:
    """Shortest-path distances between snapped points and how to rebuild the paths.

    Attributes
    ----------
    dist_m : numpy.ndarray
        ``(k, k)`` metres from point i to point j along allowed directions; ``inf`` when
        j cannot be reached from i.
    exit_node, entry_node : numpy.ndarray
        ``(k, k)`` the node through which the best path leaves i and enters j, or -1 for
        a path that stays on one edge (j lies ahead of i on it).
    sources : numpy.ndarray
        The nodes Dijkstra ran from; ``predecessors`` is its predecessor matrix.
    """

    dist_m: np.ndarray
    exit_node: np.ndarray
    entry_node: np.ndarray
    sources: np.ndarray
    predecessors: np.ndarray


def point_distances(graph: RoadGraph, snapped: pd.DataFrame) -> PointDistances:
    """All-pairs shortest-path distances (metres) between snapped points.

    Parameters
    ----------
    graph : RoadGraph
    snapped : pandas.DataFrame
        :func:`snap_points` output for the points, in order.

    Returns
    -------
    PointDistances
    """
    e = graph.edges
    edge = snapped["edge"].to_numpy()
    off = snapped["offset_m"].to_numpy(dtype=float)
    length = e["length_m"].to_numpy()[edge]
    u, v = e["u"].to_numpy()[edge], e["v"].to_numpy()[edge]
    oneway = e["oneway"].to_numpy()[edge]
    k = len(edge)
    # Each point has two exits (to v, to u) and two entries (from u, from v); a one-way
    # edge closes the backward ones.
    exit_nodes = np.stack([v, u], axis=1)
    exit_cost = np.stack([length - off, np.where(oneway, np.inf, off)], axis=1)
    entry_nodes = np.stack([u, v], axis=1)
    entry_cost = np.stack([off, np.where(oneway, np.inf, length - off)], axis=1)
    sources = np.unique(exit_nodes)
    node_dist, pred = csgraph.dijkstra(graph.matrix, directed=True, indices=sources, return_predecessors=True)
    row = np.searchsorted(sources, exit_nodes)  # (k, 2)
    # total[i, a, j, b] = exit a of i + path + entry b of j
    total = (exit_cost[:, :, None, None] + node_dist[row[:, :, None, None], entry_nodes[None, None, :, :]]
             + entry_cost[None, None, :, :])
    flat = total.transpose(0, 2, 1, 3).reshape(k, k, 4)
    best = flat.argmin(axis=2)
    dist = np.take_along_axis(flat, best[..., None], axis=2)[..., 0]
    exit_node = exit_nodes[np.arange(k)[:, None], best // 2]
    entry_node = entry_nodes[np.arange(k)[None, :], best % 2]
    # Same edge, j ahead of i in an allowed direction: no node is passed.
    same = edge[:, None] == edge[None, :]
    ahead = np.where(off[None, :] >= off[:, None], off[None, :] - off[:, None],
                     np.where(oneway[:, None], np.inf, off[:, None] - off[None, :]))
    direct = same & (ahead <= dist)
    dist = np.where(direct, ahead, dist)
    exit_node = np.where(direct, -1, exit_node)
    entry_node = np.where(direct, -1, entry_node)
    np.fill_diagonal(dist, 0.0)
    return PointDistances(dist_m=dist, exit_node=exit_node, entry_node=entry_node, sources=sources,
                          predecessors=pred)


def node_path(predecessors: np.ndarray, row: int, target: int) -> list[int]:
    """Nodes of the shortest path to ``target`` from the source of predecessor row ``row``."""
    path = [target]
    while True:
        prev = predecessors[row, path[-1]]
        if prev < 0:
            break
        path.append(int(prev))
    return path[::-1]


def path_edges(graph: RoadGraph, nodes: list[int]) -> np.ndarray:
    """Edge ids along consecutive nodes of a path (the arcs the distance matrix used)."""
    if len(nodes) < 2:
        return np.zeros(0, dtype=np.int64)
    a, b = np.asarray(nodes[:-1]), np.asarray(nodes[1:])
    return np.asarray(graph.edge_of[a, b]).astype(np.int64).ravel() - 1


def describe_edges(graph: RoadGraph, edges: np.ndarray) -> str:
    """A short human list of edges: road name and segment id (for error messages)."""
    e = graph.edges.iloc[np.asarray(edges)[:10]]
    ids = e["segment_id"] if "segment_id" in e.columns else e["edge"]
    text = ", ".join(f"{name or '无名道路'}（路段 {sid}）" for name, sid in zip(e["name"], ids))
    more = len(edges) - 10
    return text + (f" 等 {len(edges)} 段" if more > 0 else "")
