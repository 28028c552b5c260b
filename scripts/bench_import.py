"""The import of a city-scale 12345 export, end to end, against ``ogr2ogr`` loading the same CSV.

For each back end (SpatiaLite, and PostGIS on a throwaway cluster), each in a fresh
database holding the sample's layers (``citymap load-sample --no-issues``):

* ``ogr2ogr`` (Debian's ``gdal-bin``: ``apt-get install gdal-bin``) loads the export
  without lifecycle columns into a new table, points from 经度/纬度, with its spatial
  index: the yardstick;
* ``citymap import`` the same file (read, check every row, assign, schedule, store in one
  transaction: issues, contacts, indexes);
* ``citymap import`` the export with lifecycle columns (states and their times, which
  write audit events), into another fresh database.

Each is a child process; its wall time and peak resident memory (``wait4``'s
``ru_maxrss``: the child alone, not the PostgreSQL server it talks to, though never less
than this script's own resident memory when it started the child) are printed,
with the ratios the goals are about: citymap / ogr2ogr (≤ 1.5 on SpatiaLite, ≤ 2 on
PostGIS), lifecycle / plain (≤ 1.3), peak memory ≤ 500 MB. The exports are written by
``scripts/make_city_export.py`` into ``--export-dir`` unless they are there already.

    python scripts/bench_import.py [--rows 1000000] [--export-dir DIR] [--backend spatialite|postgis|both]
                                   [--repeat 1] [--also-rows 250000]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, make_url

ROOT = Path(__file__).resolve().parents[1]
CITYMAP = Path(sys.executable).with_name("citymap")
#: the goals of issue 19
GOALS = {"SpatiaLite": 1.5, "PostGIS": 2.0}
LIFECYCLE_GOAL = 1.3
MEMORY_GOAL_MB = 500


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Run:
    """One child process: wall seconds, peak resident memory (MB) and what it printed last."""

    seconds: float
    peak_mb: float
    last_line: str


def run_child(cmd: list[str], *, env: dict | None = None) -> Run:
    """Run ``cmd`` to its end; its wall time and its own peak RSS (``wait4``), failing loudly on a non-zero exit."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        child = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({child.returncode}):\n{text[-3000:]}")
    lines = [line for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return Run(seconds, usage.ru_maxrss * 1024 / 1e6, lines[-1] if lines else "")


def citymap_env(database_url: str, data_dir: Path) -> dict:
    return {**os.environ, "CITYMAP_DATABASE_URL": database_url, "CITYMAP_DATA_DIR": str(data_dir)}


def prepare_database(database_url: str, data_dir: Path) -> None:
    """Schema and the sample's layers, greening and inspections (no issues), as ``citymap load-sample`` makes them."""
    run_child([str(CITYMAP), "load-sample", "--no-issues"], env=citymap_env(database_url, data_dir))


def ogr2ogr_command(csv: Path, target: list[str]) -> list[str]:
    """``ogr2ogr`` loading the export's rows as points (经度/纬度, EPSG:4326) into a new table ``ogr_issues``."""
    return ["ogr2ogr", *target, str(csv), "-nln", "ogr_issues", "-a_srs", "EPSG:4326",
            "-oo", "X_POSSIBLE_NAMES=经度", "-oo", "Y_POSSIBLE_NAMES=纬度", "-oo", "KEEP_GEOM_COLUMNS=NO",
            "-lco", "GEOMETRY_NAME=geom"]


def _pg_target(url: str) -> list[str]:
    u = make_url(url)
    return ["-f", "PostgreSQL", f"PG:host={u.host} port={u.port} user={u.username} dbname={u.database}"]


def _median(runs: list[Run]) -> Run:
    middle = sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]
    return Run(statistics.median(r.seconds for r in runs), max(r.peak_mb for r in runs), middle.last_line)


def bench_backend(name: str, new_database, plain: Path, lifecycle: Path, *, repeat: int, also: list[Path]) -> list[str]:
    """Time ogr2ogr, the plain import and the lifecycle import on one back end; returns the printed lines."""
    imports = {"citymap": plain, "citymap, lifecycle": lifecycle, **{path.name: path for path in also}}
    runs: dict[str, list[Run]] = {label: [] for label in ("ogr2ogr", *imports)}
    with tempfile.TemporaryDirectory(prefix="citymap-bench-import-") as tmp:
        for attempt in range(repeat):
            # interleaved, so that this machine's drift touches every tool alike
            url, target = new_database(Path(tmp), f"ogr{attempt}")
            prepare_database(url, Path(tmp))
            runs["ogr2ogr"].append(run_child(ogr2ogr_command(plain, target)))
            for i, (label, csv) in enumerate(imports.items()):
                url, _ = new_database(Path(tmp), f"citymap{attempt}_{i}")
                prepare_database(url, Path(tmp))
                runs[label].append(run_child([str(CITYMAP), "import", str(csv)], env=citymap_env(url, Path(tmp))))
    ogr, cm, cycle = (_median(runs[label]) for label in ("ogr2ogr", "citymap", "citymap, lifecycle"))
    lines = [f"{name}: ogr2ogr {ogr.seconds:.1f} s (peak {ogr.peak_mb:.0f} MB); "
             f"citymap import {cm.seconds:.1f} s (peak {cm.peak_mb:.0f} MB); "
             f"with lifecycle columns {cycle.seconds:.1f} s (peak {cycle.peak_mb:.0f} MB)",
             f"{name}: citymap / ogr2ogr = {cm.seconds / ogr.seconds:.2f} (goal <= {GOALS[name]}); "
             f"lifecycle / plain = {cycle.seconds / cm.seconds:.2f} (goal <= {LIFECYCLE_GOAL}); "
             f"peak memory {max(cm.peak_mb, cycle.peak_mb):.0f} MB (goal <= {MEMORY_GOAL_MB})",
             f"{name}: citymap said: {cm.last_line} | {cycle.last_line}"]
    for path in also:
        run = _median(runs[path.name])
        lines.append(f"{name}: citymap import of {path.name}: {run.seconds:.1f} s, peak {run.peak_mb:.0f} MB")
    return lines


def _sqlite_database(tmp: Path, label: str) -> tuple[str, list[str]]:
    path = tmp / f"{label}.sqlite"
    path.unlink(missing_ok=True)
    return f"sqlite:///{path}", ["-f", "SQLite", "-dsco", "SPATIALITE=YES", "-update", str(path)]


def _postgis_databases(server: str):
    made: list[str] = []

    def new(_tmp: Path, label: str) -> tuple[str, list[str]]:
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            # the previous database goes, so that its autovacuum does not take a core from the next load
            for old in made:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {old}")
            made.clear()
            conn.exec_driver_sql(f"CREATE DATABASE bench_{label}")
        admin.dispose()
        made.append(f"bench_{label}")
        url = make_url(server).set(database=f"bench_{label}").render_as_string(hide_password=False)
        return url, _pg_target(url)

    return new


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    gdal = subprocess.run(["ogr2ogr", "--version"], capture_output=True, text=True).stdout.strip()
    pg = _script("pg_throwaway").pg_bindir()
    postgres = subprocess.run([str(pg / "postgres"), "--version"], capture_output=True, text=True).stdout.strip()
    return (f"machine: {os.cpu_count()} CPUs, {cpu}, {memory / 2**20:.0f} GiB; Python {platform.python_version()}, "
            f"SQLite {sqlite3.sqlite_version}; {postgres}; {gdal}")


def head(path: Path, rows: int, out: Path) -> Path:
    """The header and the first ``rows`` rows of a CSV (no quoted line breaks in the export) as a new file."""
    with path.open("rb") as source, out.open("wb") as target:
        for i, line in enumerate(source):
            if i > rows:
                break
            target.write(line)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--export-dir", type=Path, default=Path(tempfile.gettempdir()) / "citymap-city-export")
    parser.add_argument("--backend", choices=("spatialite", "postgis", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each tool (median time, largest peak)")
    parser.add_argument("--also-rows", type=int, nargs="*", default=[],
                        help="also import the first N rows of the plain export (memory against file size)")
    args = parser.parse_args()
    if shutil.which("ogr2ogr") is None:
        sys.exit("ogr2ogr not found: this benchmark needs Debian's gdal-bin (apt-get install gdal-bin)")
    print(machine())
    args.export_dir.mkdir(parents=True, exist_ok=True)
    plain, lifecycle = (args.export_dir / f"city_{args.rows}{suffix}.csv" for suffix in ("_plain", ""))
    for path, with_lifecycle in ((plain, False), (lifecycle, True)):
        if not path.exists():
            # in a process of its own: a child's peak RSS on Linux starts from this process's at the fork, and
            # simulating millions of cases here would stand as every measured tool's peak
            subprocess.run([sys.executable, str(ROOT / "scripts" / "make_city_export.py"), str(path),
                            "--rows", str(args.rows), *([] if with_lifecycle else ["--no-lifecycle"])], check=True)
    also = [head(plain, n, args.export_dir / f"city_{args.rows}_plain_head{n}.csv") for n in args.also_rows]
    print(f"exports: {plain.name} {plain.stat().st_size / 2**20:.0f} MiB, "
          f"{lifecycle.name} {lifecycle.stat().st_size / 2**20:.0f} MiB, {args.rows:,} rows each")
    if args.backend in ("spatialite", "both"):
        for line in bench_backend("SpatiaLite", _sqlite_database, plain, lifecycle, repeat=args.repeat, also=also):
            print(line, flush=True)
    if args.backend in ("postgis", "both"):
        pg = _script("pg_throwaway")
        base = Path(tempfile.mkdtemp(prefix="citymap-bench-import-pg-"))
        try:
            server = pg.start(base)
            for line in bench_backend("PostGIS", _postgis_databases(server), plain, lifecycle, repeat=args.repeat,
                                      also=also):
                print(line, flush=True)
        finally:
            pg.stop(base)


if __name__ == "__main__":
    main()
