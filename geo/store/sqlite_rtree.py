"""Packing a SQLite R*Tree (SpatiaLite's spatial index) in one pass instead of a million inserts.

SQLite's ``rtree`` module inserts one entry at a time: choose a leaf, update every
ancestor's box, split full nodes, each step a write to its shadow tables. A million
points take 10–20 s on the 2-core machines of this project, whatever their order or
the page cache. SQLite has no bulk-load entry point, so :func:`pack_rtree` writes the
tree itself: boxes are grouped Sort-Tile-Recursive (STR: slices by x, then runs by y,
level by level), each node is encoded as SQLite's ``rtree.c`` does and the three
shadow tables are filled with a few ``executemany`` calls — about 1.5 s per million
points. The format is SQLite's on-disk file format, which SQLite keeps stable:

* ``%_node(nodeno, data)``: node 1 is the root; ``data`` is a fixed-size blob with a
  big-endian u16 tree depth (root only; leaves have depth 0), a u16 cell count, then
  cells of a big-endian i64 (row id in a leaf, child node number above) and four
  big-endian float32 ``xmin, xmax, ymin, ymax``; the rest is zeros.
* ``%_rowid(rowid, nodeno)``: the leaf of each entry; ``%_parent(nodeno, parentnode)``:
  the parent of each node but the root.

Float32 boxes are rounded outwards (min down, max up), as ``rtree.c`` does, so a box
always contains the double-precision geometry it stands for. SQLite's own
``rtreecheck()`` validates the result in the tests.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy.engine import Connection

#: bytes of a cell of a 2-D float R*Tree: i64 id + 4 float32
_CELL_BYTES = 24
#: entries written to the rowid shadow table, and nodes encoded and written, per executemany
_ROWS_AT_A_TIME = 65_536
_NODES_AT_A_TIME = 256
_CELL = np.dtype([("id", ">i8"), ("xmin", ">f4"), ("xmax", ">f4"), ("ymin", ">f4"), ("ymax", ">f4")])


def _round_out(values: np.ndarray, *, down: bool) -> np.ndarray:
    """float64 → float32 rounded outwards exactly as ``rtree.c`` does (``rtreeValueDown``/``Up``).

    When the nearest float32 lies on the wrong side, SQLite scales the double by
    ``1 ∓ 2**-23`` before rounding again, which can move it by two float32 steps; the
    same arithmetic here keeps a packed tree byte-identical to one SQLite built.
    """
    single = values.astype(np.float32)
    wrong = single.astype(np.float64) > values if down else single.astype(np.float64) < values
    towards, away = 1.0 - 1.0 / 8388608.0, 1.0 + 1.0 / 8388608.0
    scale = np.where((values < 0) == down, away, towards)
    single[wrong] = (values[wrong] * scale[wrong]).astype(np.float32)
    return single


def str_groups(x: np.ndarray, y: np.ndarray, *, capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """Sort-Tile-Recursive grouping of boxes by their centres into nodes of at most ``capacity``.

    Parameters
    ----------
    x, y : ndarray
        Box centres (any planar units).
    capacity : int
        Largest number of entries in a node.

    Returns
    -------
    order : ndarray of int
        The entries' order: node by node, then within the node.
    node : ndarray of int
        The node (0-based) of each entry of ``order``.
    """
    if capacity < 2:
        raise ValueError(f"capacity {capacity!r}: an R*Tree node holds at least 2 entries")
    n = len(x)
    nodes = -(-n // capacity)
    slice_size = -(-nodes // max(int(np.ceil(np.sqrt(nodes))), 1)) * capacity
    by_x = np.argsort(x, kind="stable")
    slice_of = np.empty(n, dtype=np.int64)
    slice_of[by_x] = np.arange(n) // slice_size
    order = np.lexsort((y, slice_of))
    # Spread entries evenly over the nodes, so that no node is left nearly empty.
    node = np.arange(n) * nodes // n
    return order, node


def pack_rtree(conn: Connection, rtree: str, boxes: tuple[np.ndarray, ...]) -> int:
    """Replace the content of the 2-D R*Tree virtual table ``rtree`` by ``boxes``, packed STR.

    Parameters
    ----------
    conn : Connection
        A SQLite connection inside the caller's write transaction (a failure rolls
        the whole rebuild back with it).
    rtree : str
        Name of the ``rtree(id, xmin, xmax, ymin, ymax)`` virtual table, e.g. SpatiaLite's
        ``idx_issues_geom``.
    boxes : tuple of ndarray
        ``(ids, xmin, xmax, ymin, ymax)``: the row ids (int64) and their boxes (float64,
        degrees for SpatiaLite's EPSG:4326 indexes).

    Returns
    -------
    int
        The tree's depth (0: the root is a leaf).
    """
    return pack_rtree_cells(conn, rtree, rtree_cells(*boxes))


def rtree_cells(ids: np.ndarray, xmin: np.ndarray, xmax: np.ndarray, ymin: np.ndarray, ymax: np.ndarray) -> np.ndarray:
    """Entries as the cells of an R*Tree leaf: row id and the box in float32 rounded outwards, 24 bytes each.

    A bulk load keeps its points in this form until it packs them (:func:`pack_rtree_cells`): a third of the
    memory of the double-precision coordinates, and the rounding done once.
    """
    cells = np.empty(len(ids), dtype=_CELL)
    cells["id"] = ids
    cells["xmin"], cells["ymin"] = _round_out(np.asarray(xmin, dtype=np.float64), down=True), \
        _round_out(np.asarray(ymin, dtype=np.float64), down=True)
    cells["xmax"], cells["ymax"] = _round_out(np.asarray(xmax, dtype=np.float64), down=False), \
        _round_out(np.asarray(ymax, dtype=np.float64), down=False)
    return cells


def pack_rtree_cells(conn: Connection, rtree: str, cells: np.ndarray) -> int:
    """:func:`pack_rtree` of entries already made cells (:func:`rtree_cells`); returns the tree's depth."""
    # numpy's concatenate hands back native byte order: the nodes are written big-endian
    cells = np.asarray(cells, dtype=_CELL)
    node_bytes = conn.exec_driver_sql(f'SELECT length(data) FROM "{rtree}_node" WHERE nodeno = 1').scalar_one()
    capacity = (int(node_bytes) - 4) // _CELL_BYTES

    levels = []  # leaves first: per level, its cells in node order and the node of each cell
    while True:
        if len(cells) <= capacity:
            levels.append((cells, np.zeros(len(cells), dtype=np.int64)))
            break
        order, node = str_groups((cells["xmin"] + cells["xmax"]) / 2.0, (cells["ymin"] + cells["ymax"]) / 2.0,
                                 capacity=capacity)
        cells = cells[order]
        levels.append((cells, node))
        starts = np.flatnonzero(np.r_[True, np.diff(node) != 0])
        parents = np.empty(len(starts), dtype=_CELL)
        parents["id"] = np.arange(len(starts))  # the child's node index on the level below, numbered later
        for edge, reduce in (("xmin", np.minimum), ("ymin", np.minimum), ("xmax", np.maximum), ("ymax", np.maximum)):
            parents[edge] = reduce.reduceat(cells[edge], starts)
        cells = parents

    # Node numbers: the root is 1, then the nodes of each level from the top down.
    depth = len(levels) - 1
    counts = [int(node[-1]) + 1 if len(node) else 1 for _, node in levels]
    first = [0] * len(levels)
    first[depth] = 1
    for level in range(depth - 1, -1, -1):
        first[level] = first[level + 1] + counts[level + 1]
    raw = conn.connection.driver_connection
    for shadow in ("node", "rowid", "parent"):
        raw.execute(f'DELETE FROM "{rtree}_{shadow}"')
    parent_rows = []
    for level, (level_cells, node) in enumerate(levels):
        if level > 0:
            child = level_cells["id"].astype(np.int64)
            level_cells = level_cells.copy()
            level_cells["id"] = first[level - 1] + child
            parent_rows.append(np.column_stack([first[level - 1] + child, first[level] + node]))
        # a batch of nodes at a time, so that a million entries' node blobs are never all in memory at once
        bounds = np.searchsorted(node, np.arange(0, counts[level] + _NODES_AT_A_TIME, _NODES_AT_A_TIME))
        for batch, (start, end) in enumerate(zip(bounds[:-1], bounds[1:])):
            if start == end and level < depth:
                continue
            raw.executemany(f'INSERT INTO "{rtree}_node" (nodeno, data) VALUES (?, ?)', _encode_nodes(
                level_cells[start:end], node[start:end] - batch * _NODES_AT_A_TIME,
                min(_NODES_AT_A_TIME, counts[level] - batch * _NODES_AT_A_TIME), node_bytes=int(node_bytes),
                capacity=capacity, depth=depth if level == depth else 0,
                first=first[level] + batch * _NODES_AT_A_TIME))
    leaf_cells, leaf_node = levels[0]
    # in rowid order: appended to the shadow table's b-tree instead of inserted all over it
    by_id = np.argsort(leaf_cells["id"], kind="stable")
    # a slice at a time: a list of Python ints for each of a million entries would take more memory than the tree
    for start in range(0, len(by_id), _ROWS_AT_A_TIME):
        some = by_id[start:start + _ROWS_AT_A_TIME]
        raw.executemany(f'INSERT INTO "{rtree}_rowid" (rowid, nodeno) VALUES (?, ?)',
                        zip(leaf_cells["id"][some].astype(np.int64).tolist(), (first[0] + leaf_node[some]).tolist()))
    if parent_rows:
        raw.executemany(f'INSERT INTO "{rtree}_parent" (nodeno, parentnode) VALUES (?, ?)',
                        np.concatenate(parent_rows).tolist())
    return depth


def _encode_nodes(cells: np.ndarray, node: np.ndarray, count: int, *, node_bytes: int, capacity: int, depth: int,
                  first: int) -> list[tuple[int, bytes]]:
    """(node number, blob) of the ``count`` nodes of one level, laid out as rtree.c reads them."""
    buffer = np.zeros((count, node_bytes), dtype=np.uint8)
    buffer[:, 0:2] = np.frombuffer(np.array([depth], dtype=">u2").tobytes(), dtype=np.uint8)
    buffer[:, 2:4] = np.bincount(node, minlength=count).astype(">u2").view(np.uint8).reshape(count, 2)
    slots = np.zeros((count, capacity, _CELL_BYTES), dtype=np.uint8)
    slot = np.arange(len(node)) - np.searchsorted(node, node, side="left")
    slots[node, slot] = cells.view(np.uint8).reshape(len(cells), _CELL_BYTES)
    buffer[:, 4:4 + capacity * _CELL_BYTES] = slots.reshape(count, -1)
    return [(first + i, buffer[i].tobytes()) for i in range(count)]
