"""The packed R*Tree: SQLite's own rtree module is the reference for every stored value and answer."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from sqlalchemy import create_engine

from geo.store.sqlite_rtree import pack_rtree, str_groups

CAPACITY = 51  # SQLite's largest node for a 2-D rtree (4,096-byte pages)


def _boxes(n: int, *, seed: int) -> tuple[np.ndarray, ...]:
    """Points and small boxes around Jinqiao, in degrees, ids with gaps."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(117.33, 117.40, n)
    y = rng.uniform(39.08, 39.12, n)
    w = np.where(rng.random(n) < 0.5, 0.0, rng.uniform(0, 0.002, n))
    h = np.where(w == 0, 0.0, rng.uniform(0, 0.002, n))
    return np.arange(1, n + 1, dtype=np.int64) * 7, x, x + w, y, y + h


def _windows(seed: int, count: int = 25) -> list[tuple[float, float, float, float]]:
    rng = np.random.default_rng(seed)
    x0, y0 = rng.uniform(117.33, 117.39, count), rng.uniform(39.08, 39.11, count)
    size = rng.uniform(0.0005, 0.01, count)
    return list(zip(x0, x0 + size, y0, y0 + size))


def _answer(raw, table: str, window) -> set[int]:
    xmin, xmax, ymin, ymax = window
    return {row[0] for row in raw.execute(
        f"SELECT pkid FROM {table} WHERE xmax >= ? AND xmin <= ? AND ymax >= ? AND ymin <= ?",
        (xmin, xmax, ymin, ymax))}


@pytest.fixture()
def trees():
    """A connection with an empty ``packed`` R*Tree and an empty ``reference`` one."""
    engine = create_engine("sqlite://")
    with engine.begin() as conn:
        raw = conn.connection.driver_connection
        for name in ("packed", "reference"):
            raw.execute(f"CREATE VIRTUAL TABLE {name} USING rtree(pkid, xmin, xmax, ymin, ymax)")
        yield conn, raw


@pytest.mark.parametrize("n", [0, 1, CAPACITY, CAPACITY + 1, 3000, 40_000])
def test_a_packed_tree_holds_what_sqlite_would_store_and_answers_alike(trees, n):
    conn, raw = trees
    boxes = _boxes(n, seed=n)
    pack_rtree(conn, "packed", boxes)
    raw.executemany("INSERT INTO reference VALUES (?, ?, ?, ?, ?)", zip(*(a.tolist() for a in boxes)))

    assert raw.execute("SELECT rtreecheck('packed')").fetchone()[0] == "ok"
    # every box stored exactly as SQLite stores it (float32, rounded outwards)
    assert raw.execute("SELECT * FROM packed ORDER BY pkid").fetchall() == \
        raw.execute("SELECT * FROM reference ORDER BY pkid").fetchall()
    for window in _windows(seed=n):
        assert _answer(raw, "packed", window) == _answer(raw, "reference", window)


def test_the_tree_depth_is_the_fewest_levels_that_hold_the_entries(trees):
    conn, raw = trees
    assert pack_rtree(conn, "packed", _boxes(CAPACITY, seed=1)) == 0
    assert pack_rtree(conn, "packed", _boxes(CAPACITY + 1, seed=1)) == 1
    assert pack_rtree(conn, "packed", _boxes(CAPACITY ** 2 + 1, seed=1)) == 2
    assert raw.execute("SELECT count(*) FROM packed").fetchone()[0] == CAPACITY ** 2 + 1
    assert raw.execute("SELECT rtreecheck('packed')").fetchone()[0] == "ok"


def test_sqlite_goes_on_inserting_and_deleting_in_a_packed_tree(trees):
    conn, raw = trees
    boxes = _boxes(5000, seed=3)
    pack_rtree(conn, "packed", boxes)
    raw.executemany("INSERT INTO reference VALUES (?, ?, ?, ?, ?)", zip(*(a.tolist() for a in boxes)))
    more = _boxes(800, seed=4)
    more = (more[0] + 1_000_000, *more[1:])
    gone = [(int(i),) for i in boxes[0][::3]]
    for table in ("packed", "reference"):
        raw.executemany(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?)", zip(*(a.tolist() for a in more)))
        raw.executemany(f"DELETE FROM {table} WHERE pkid = ?", gone)
    assert raw.execute("SELECT rtreecheck('packed')").fetchone()[0] == "ok"
    assert raw.execute("SELECT count(*) FROM packed").fetchone()[0] == 5000 + 800 - len(gone)
    for window in _windows(seed=5):
        assert _answer(raw, "packed", window) == _answer(raw, "reference", window)


def test_packing_replaces_what_the_tree_held(trees):
    conn, raw = trees
    pack_rtree(conn, "packed", _boxes(2000, seed=6))
    ids, *edges = _boxes(300, seed=7)
    pack_rtree(conn, "packed", (ids + 5, *edges))
    assert sorted(r[0] for r in raw.execute("SELECT pkid FROM packed")) == sorted((ids + 5).tolist())
    assert raw.execute("SELECT count(*) FROM packed_rowid").fetchone()[0] == 300
    assert raw.execute("SELECT rtreecheck('packed')").fetchone()[0] == "ok"


def test_str_groups_fill_nodes_evenly_and_keep_every_entry():
    rng = np.random.default_rng(8)
    x, y = rng.random(1000), rng.random(1000)
    order, node = str_groups(x, y, capacity=51)
    assert sorted(order.tolist()) == list(range(1000))
    sizes = np.bincount(node)
    assert len(sizes) == 20 and sizes.max() <= 51 and sizes.max() - sizes.min() <= 1
    assert (np.diff(node) >= 0).all()
    # STR: a node's entries are close together (a node's extent is far below the whole square's)
    spans = [np.ptp(x[order][node == k]) * np.ptp(y[order][node == k]) for k in range(20)]
    assert np.median(spans) < 0.2
    with pytest.raises(ValueError, match="capacity 1"):
        str_groups(x, y, capacity=1)


def test_a_rollback_takes_the_packed_tree_back(tmp_path):
    path = tmp_path / "t.sqlite"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE VIRTUAL TABLE packed USING rtree(pkid, xmin, xmax, ymin, ymax)")
        raw.executemany("INSERT INTO packed VALUES (?, ?, ?, ?, ?)", [(1, 0, 1, 0, 1), (2, 2, 3, 2, 3)])
    engine = create_engine(f"sqlite:///{path}")
    with pytest.raises(RuntimeError):
        with engine.begin() as conn:
            pack_rtree(conn, "packed", _boxes(500, seed=9))
            raise RuntimeError("the load failed after the index was packed")
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT pkid FROM packed ORDER BY pkid").fetchall() == [(1,), (2,)]
        assert raw.execute("SELECT rtreecheck('packed')").fetchone()[0] == "ok"
