#!/usr/bin/env python3
"""Every page's server time and weight at a million issues, as a supervisor, one request at a time.

The database is built the way an office builds it, through the CLI, on each back end:
``citymap load-sample --no-issues`` (the sample's layers, greening and inspections), then
``citymap import EXPORT`` of a city-scale 12345 export — one million cases of five years,
98 % closed, written by ``scripts/make_city_export.py``:

    python scripts/make_city_export.py /tmp/city-1m.csv            # 1,000,000 rows, ~250 MB
    python scripts/bench_pages.py /tmp/city-1m.csv [--backend spatialite|postgis|both] [--repeat 3]

PostGIS runs on a throwaway cluster (``scripts/pg_throwaway.py``) stopped at the end. Each
page is asked through the app in this process (Flask's test client, so the time is the
server's: routing, the views' queries and the rendering, no network), once cold and then
``--repeat`` times; the median of the repeats is printed with the body's bytes as sent
uncompressed, and gzipped where the app compresses it (JSON, not HTML). A map page is its
fixed shell, its document (``/data``) and, for a live layer, the answer for the view the
map opens on (the jurisdiction at the zoom a 1400×900 map fits it to) and for a street
view (zoom 17). Goal (issue 19): every page ≤ 1 s and ≤ 3 MB.

``--keep DIR`` keeps the databases in DIR (and reuses them on the next run: no import).
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo import store  # noqa: E402
from geo.settings import load_settings  # noqa: E402
from geo.store.db import make_engine  # noqa: E402
from webmap.app import create_app  # noqa: E402

CITYMAP = Path(sys.executable).with_name("citymap")
USER, PASSWORD = "bench-supervisor", "bench-password-19"
GOAL_S, GOAL_BYTES = 1.0, 3_000_000
#: the map's size in pixels the live layers are asked for (a supervisor's screen)
SCREEN = (1400, 900)


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pg_ctl(pg, cluster: Path, *args: str) -> None:
    cmd = [str(pg.pg_bindir() / "pg_ctl"), "-D", str(cluster / "data"), *args]
    subprocess.run(["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd, check=True,
                   capture_output=True)


def _pg_server(pg, cluster: Path) -> str:
    """A throwaway cluster under ``cluster``: made and started, or (kept from a run before) started again."""
    if not (cluster / "port").exists():
        return pg.start(cluster)
    port = (cluster / "port").read_text().strip()
    _pg_ctl(pg, cluster, "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {cluster} -c fsync=off "
            "-c full_page_writes=off -c max_connections=60", "-l", str(cluster / "server.log"), "-w", "start")
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"


def run_cli(args: list[str], env: dict) -> float:
    """``citymap ARGS`` in a child process; its wall time. Fails loudly with its output."""
    start = time.perf_counter()
    done = subprocess.run([str(CITYMAP), *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"citymap {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return time.perf_counter() - start


def build(database_url: str, data_dir: Path, export: Path) -> str:
    """Schema, layers and the export through the CLI (skipped when the database holds the export already)."""
    env = {**os.environ, "CITYMAP_DATABASE_URL": database_url, "CITYMAP_DATA_DIR": str(data_dir)}
    settings = load_settings({"database_url": database_url, "data_dir": str(data_dir)}, environ={})
    engine = make_engine(database_url)
    try:
        present = store.count_issues(engine, jurisdiction_code=settings.jurisdiction_code)
    except Exception:  # noqa: BLE001 - a database without the schema yet
        present = 0
    engine.dispose()
    if present:
        return f"{present:,} issues already loaded"
    sample = run_cli(["load-sample", "--no-issues"], env)
    loaded = run_cli(["import", str(export)], env)
    run_cli(["user", "create", USER, "--role", "supervisor", "--password", PASSWORD], env)
    return f"load-sample --no-issues {sample:.0f} s, import {loaded:.0f} s"


def settled(database_url: str, *, timeout_s: float = 900) -> str:
    """Wait until autovacuum has processed the import (PostgreSQL), and say how long that took.

    Right after a million-row import the table's visibility map is empty: an index-only
    count reads every row's page again until VACUUM sets it, and autovacuum's worker (which
    a large insert starts within a minute) competes for the two cores meanwhile. The pages
    are measured once it is done; past ``timeout_s`` the script runs VACUUM itself.
    """
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url, isolation_level="AUTOCOMMIT")
    start = time.perf_counter()
    query = text("SELECT coalesce(last_autovacuum, last_vacuum) IS NOT NULL AND n_ins_since_vacuum < 10000 "
                 "FROM pg_stat_user_tables WHERE relname = 'issues'")
    with engine.connect() as conn:
        while not conn.execute(query).scalar_one():
            if time.perf_counter() - start > timeout_s:
                conn.exec_driver_sql("VACUUM (ANALYZE) issues")
                engine.dispose()
                return f"autovacuum had not run after {timeout_s:.0f} s: VACUUM run by the script"
            time.sleep(5)
    engine.dispose()
    return f"autovacuum done {time.perf_counter() - start:.0f} s after the import"


def fitted_zoom(bounds: tuple[float, float, float, float], screen: tuple[int, int] = SCREEN) -> int:
    """The zoom Leaflet's fitBounds picks for ``bounds`` (lon/lat) on a ``screen``-pixel map."""
    def y(lat: float) -> float:
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    minx, miny, maxx, maxy = bounds
    width = math.radians(maxx - minx) / (2 * math.pi) * 256
    height = (y(maxy) - y(miny)) / (2 * math.pi) * 256
    return int(math.floor(math.log2(min(screen[0] / width, screen[1] / height))))


def street_view(bounds: tuple[float, float, float, float], zoom: int = 17) -> str:
    """The view of a ``SCREEN`` map at ``zoom`` around the middle of ``bounds``."""
    lon, lat = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    per_px = 360 / (256 * 2 ** zoom)
    dx, dy = SCREEN[0] / 2 * per_px, SCREEN[1] / 2 * per_px * math.cos(math.radians(lat))
    return f"{lon - dx:.6f},{lat - dy:.6f},{lon + dx:.6f},{lat + dy:.6f}"


def pages(settings) -> list[tuple[str, str]]:
    """(label, path) of every page measured."""
    engine = make_engine(settings.resolved_database_url)
    bounds = tuple(store.read_layer(engine, "jurisdiction", jurisdiction_code=settings.jurisdiction_code).total_bounds)
    last = store.issue_time_range(engine, jurisdiction_code=settings.jurisdiction_code)[1]
    engine.dispose()
    city = "view=" + ",".join(f"{v:.6f}" for v in bounds) + f"&zoom={fitted_zoom(bounds)}"
    street = f"view={street_view(bounds)}&zoom=17"
    day = f"{last:%Y-%m-%d}"
    return [
        ("/ (home)", "/"), ("/maps/overview", "/maps/overview"), ("  its data", "/maps/overview/data"),
        ("  open issues, city view", f"/maps/overview/points?{city}"),
        ("  open issues, street view", f"/maps/overview/points?{street}"),
        ("/league", "/league"), ("/plan-tasks", "/plan-tasks"),
        ("/hotspots", "/hotspots"), ("/maps/hotspots", "/maps/hotspots"), ("  its data", "/maps/hotspots/data"),
        ("  issues, city view", f"/maps/hotspots/points?{city}"),
        ("  issues, street view", f"/maps/hotspots/points?{street}"),
        ("/emerging", "/emerging"), ("  its map's data", "/maps/emerging/data"),
        ("/routes (today: no pickups)", "/routes"),
        (f"/routes ({day}'s pickups)", f"/routes?zone=sanitation_east&date={day}&vehicles=5"),
        ("  its map's data", f"/maps/routes/data?zone=sanitation_east&date={day}&vehicles=5"),
        ("/routes (everything not collected)",
         f"/routes?zone=sanitation_east&date={day}&set=open&vehicles=15&capacity_m3=25"),
        ("/issues", "/issues"), ("  its map's data", "/maps/issues/data"),
        ("  issues, city view", f"/maps/issues/points?{city}"),
        ("  issues, street view", f"/maps/issues/points?{street}"),
        ("/coverage", "/coverage"), ("  its map's data", "/maps/coverage/data"),
        ("  open issues, city view", f"/maps/coverage/points?{city}&team=sanitation_west"),
        ("/greening", "/greening"), ("  its map's data", "/maps/greening/data"),
    ]


def measure(settings, repeat: int) -> list[tuple[str, float, float, int, int | None, int]]:
    """(label, cold s, median s, bytes, gzipped bytes or None, status) of every page."""
    app = create_app(settings)
    client = app.test_client()
    answer = client.post("/login", json={"name": USER, "password": PASSWORD})
    if answer.status_code != 200:
        raise RuntimeError(f"login failed: {answer.status_code} {answer.get_data(as_text=True)[:300]}")
    rows = []
    for label, path in pages(settings):
        times = []
        for _ in range(repeat + 1):
            start = time.perf_counter()
            answer = client.get(path, headers={"Accept-Encoding": "gzip"})
            body = answer.get_data()
            times.append(time.perf_counter() - start)
        zipped = answer.headers.get("Content-Encoding") == "gzip"
        raw = gzip.decompress(body) if zipped else body
        rows.append((label, times[0], statistics.median(times[1:]), len(raw), len(body) if zipped else None,
                     answer.status_code))
    return rows


def report(name: str, built: str, rows, repeat: int) -> list[str]:
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    lines = [f"{name}: {built}; load average after the pages {load}",
             f"{'page':36} {'cold s':>7} {'median s':>9} {'bytes':>11} {'gzipped':>9}  status"]
    for label, cold, median, size, zipped, status in rows:
        over = [] if status == 200 else [f"HTTP {status}"]
        over += ["> 1 s"] if median > GOAL_S else []
        over += ["> 3 MB"] if size > GOAL_BYTES else []
        lines.append(f"{label:36} {cold:7.3f} {median:9.3f} {size:11,} {'' if zipped is None else f'{zipped:,}':>9}"
                     f"  {'ok' if not over else ', '.join(over)}")
    slowest = max(rows, key=lambda r: r[2])
    heaviest = max(rows, key=lambda r: r[3])
    lines.append(f"{name}: slowest {slowest[0].strip()} {slowest[2]:.3f} s (median of {repeat}), heaviest "
                 f"{heaviest[0].strip()} {heaviest[3]:,} B")
    return lines


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next((int(line.split()[1]) // 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0)
    import sqlite3

    return (f"{cpu}, {os.cpu_count()} cores, {memory / 1024:.0f} GB; Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}; {platform.platform()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", type=Path, help="a 12345 export (scripts/make_city_export.py of issue 19)")
    parser.add_argument("--backend", choices=("spatialite", "postgis", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="keep (and reuse) the databases in this folder")
    args = parser.parse_args()
    if not args.export.is_file():
        parser.error(f"{args.export}: no such file")
    base = args.keep
    if base is None:
        base = Path(tempfile.mkdtemp(prefix="citymap-bench-pages-"))
        # the throwaway PostgreSQL runs as its own user (as root: postgres), which must reach its folder inside
        base.chmod(0o755)
    lines = [f"machine: {machine()}", f"export: {args.export} ({args.export.stat().st_size / 1e6:.0f} MB)",
             f"run: {datetime.now():%Y-%m-%d %H:%M}, load average (1, 5, 15 min) "
             + " / ".join(f"{v:.1f}" for v in os.getloadavg())]
    try:
        if args.backend in ("spatialite", "both"):
            folder = base / "spatialite"
            folder.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{folder / 'citymap.sqlite'}"
            built = build(url, folder, args.export)
            settings = load_settings({"database_url": url, "data_dir": str(folder)}, environ={})
            lines += report("SpatiaLite", built, measure(settings, args.repeat), args.repeat)
            print("\n".join(lines), flush=True)
        if args.backend in ("postgis", "both"):
            pg = _script("pg_throwaway")
            cluster = base / "postgis"
            url = _pg_server(pg, cluster)
            try:
                built = build(url, cluster, args.export)
                built += "; " + settled(url)
                settings = load_settings({"database_url": url, "data_dir": str(cluster)}, environ={})
                version = subprocess.run([str(pg.pg_bindir() / "postgres"), "--version"], capture_output=True,
                                         text=True).stdout.strip()
                lines += report(f"PostGIS ({version})", built, measure(settings, args.repeat), args.repeat)
            finally:
                if args.keep is None:
                    pg.stop(cluster)
                else:
                    _pg_ctl(pg, cluster, "-m", "fast", "-w", "stop")
    finally:
        if args.keep is None:
            import shutil

            shutil.rmtree(base, ignore_errors=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
