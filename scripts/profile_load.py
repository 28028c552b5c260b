"""What a bulk load of N synthetic issues spends its time on, on SpatiaLite and on a throwaway PostGIS.

The figures behind the README's account of ``scripts/bench_store.py``'s loads:

* SpatiaLite: the load's wall time split by driver call (``executemany``: the row
  inserts; ``execute``: index builds and other statements; ``commit``: with its WAL
  checkpoint), the R*Tree packing, and the rest (Python: the rows in pandas, the R*Tree nodes in numpy), plus
  each SQL statement that took 100 ms or more.
* PostGIS: each statement the server logged at 100 ms or more (its
  ``log_min_duration_statement``), ``COPY`` and the index builds included.

One load per back end under ``cProfile``, which slows the Python parts a little.

    python scripts/profile_load.py [--n 1000000] [--backend spatialite|postgis|both]
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import pstats
import re
import tempfile
import time
from pathlib import Path

from sqlalchemy import event

from geo import store
from geo.io import ingest
from geo.io.ingest import load_layers_from_dir
from geo.store.db import init_db, make_engine

ROOT = Path(__file__).resolve().parents[1]


def _load_module(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _slow_statements(engine, *, min_s: float) -> list[tuple[float, str]]:
    """A list that fills with (seconds, statement) of each statement the engine runs for ``min_s`` or more."""
    slow: list[tuple[float, str]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):
        conn.info["citymap_profile_t"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):
        took = time.perf_counter() - conn.info.pop("citymap_profile_t")
        if took >= min_s:
            slow.append((took, " ".join(statement.split())))

    return slow


def profile_spatialite(url: str, issues, layers) -> None:
    engine = make_engine(url)
    init_db(engine)
    ingest.save_layers(engine, layers)
    slow = _slow_statements(engine, min_s=0.1)
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    result = store.insert_issues(engine, issues, jurisdiction_code=layers.code, file="profile", actor="profile")
    profile.disable()
    wall = time.perf_counter() - start
    print(f"SpatiaLite: {result.inserted:,} issues in {wall:.2f} s = {result.inserted / wall:,.0f} rows/s (profiled)")
    stats = pstats.Stats(profile).stats
    # builtin methods of the sqlite3 module, as cProfile names them: "<method 'commit' of 'sqlite3.Connection' objects>"
    parts = {
        "row inserts (executemany)": ("executemany",),
        "statements (execute: index builds, R*Tree writes, …)": ("execute",),
        "commit (with its WAL checkpoint)": ("commit",),
    }
    driver = re.compile(r"<method '(\w+)' of 'sqlite3\.(?:Connection|Cursor)' objects>")
    taken = 0.0
    for label, names in parts.items():
        seconds = sum(total for (_, _, function), (_, _, _, total, _) in stats.items()
                      if (method := driver.fullmatch(function)) and method[1] in names)
        taken += seconds
        print(f"  {label}: {seconds:.2f} s")
    pack = sum(total for (file, _, function), (_, _, _, total, _) in stats.items()
               if function == "pack_rtree" and file.endswith("sqlite_rtree.py"))
    print(f"  R*Tree packing (geo.store.sqlite_rtree.pack_rtree, its statements included above): {pack:.2f} s")
    print(f"  the rest (preparing the rows in pandas, the R*Tree nodes in numpy): {wall - taken:.2f} s")
    for took, statement in slow:
        print(f"    {took:.2f} s  {statement[:110]}")
    engine.dispose()


def profile_postgis(issues, layers) -> None:
    pg = _load_module("pg_throwaway")
    base = Path(tempfile.mkdtemp(prefix="citymap-profile-pg-"))
    try:
        engine = make_engine(pg.start(base))
        init_db(engine)
        ingest.save_layers(engine, layers)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ALTER SYSTEM SET log_min_duration_statement = 100")
            conn.exec_driver_sql("SELECT pg_reload_conf()")
        engine.dispose()
        log = base / "server.log"
        logged_before = log.stat().st_size
        start = time.perf_counter()
        result = store.insert_issues(engine, issues, jurisdiction_code=layers.code, file="profile", actor="profile")
        wall = time.perf_counter() - start
        print(f"PostGIS: {result.inserted:,} issues in {wall:.2f} s = {result.inserted / wall:,.0f} rows/s")
        with log.open(encoding="utf-8", errors="replace") as lines:
            lines.seek(logged_before)
            for line in lines:
                found = re.search(r"duration: ([0-9.]+) ms\s+statement: (.*)", line)
                if found:
                    print(f"    {float(found[1]) / 1000:.2f} s  {found[2][:110]}")
        engine.dispose()
    finally:
        pg.stop(base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("spatialite", "postgis", "both"), default="both")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    layers = load_layers_from_dir(ROOT / "data")
    issues = _load_module("bench_store").synthetic_issues(args.n, layers, seed=args.seed)
    if args.backend in ("spatialite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            profile_spatialite(f"sqlite:///{tmp}/profile.sqlite", issues, layers)
    if args.backend in ("postgis", "both"):
        profile_postgis(issues, layers)


if __name__ == "__main__":
    main()
