"""OGC API – Features items throughput: citymap against tipg and pygeoapi, on one PostGIS table of issues.

Builds (once, kept in the cache directory) a throwaway PostGIS cluster whose ``issues`` table
is a 12345 export loaded with ``citymap import`` (the 1M-row export of
``scripts/make_city_export.py``), installs tipg and pygeoapi from PyPI into virtual
environments of their own in the cache directory, then serves that table with each — citymap
(``citymap serve``, one process, and ``--workers 2``), tipg (uvicorn) and pygeoapi (gunicorn,
its PostgreSQL provider) with the same number of worker processes — and sends every server the
same requests from ``--clients`` threads: items of ``--box-m`` boxes at random places of the
jurisdiction, ``limit=1000``. The peers are asked for the properties citymap writes
(``properties=…``) in citymap's order (by id: tipg's default, ``sortby=id`` for pygeoapi),
so that all answer the same features; the script checks that they do. citymap is called
with a supervisor's API key (it checks the key and masks phones on every request); the
peers have no access control.

Prints each server's throughput, p50 and p99 latency, features and bytes per answer,
and the ratios, with the machine. Nothing is left running: the servers and the cluster
are stopped at the end (the cluster's files stay in the cache for the next run).

    python scripts/bench_ogcapi_peers.py EXPORT.csv [--cache-dir /var/tmp/citymap-bench]
        [--requests 1000] [--clients 4] [--box-m 500] [--workers 1 2] [--servers citymap tipg pygeoapi]
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import platform
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from geo.io import ingest  # noqa: E402
from geo.store import FEATURE_PROPERTIES  # noqa: E402
from geo.store.db import make_engine  # noqa: E402

J = "120110900"
#: what each peer is installed with (pip, into its own virtual environment)
PEER_PACKAGES = {"tipg": ["tipg", "uvicorn"], "pygeoapi": ["pygeoapi", "gunicorn", "psycopg2-binary", "geoalchemy2",
                                                           "pygeofilter"]}
BENCH_USER = "bench-peers"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pg_throwaway = _script("pg_throwaway")
load_web = _script("load_web")


# --------------------------------------------------------------------------- the database

def cluster_url(cache: Path) -> str:
    """Start the cache's cluster (made on the first run); its SQLAlchemy URL."""
    base = cache / "pg"
    if (base / "data" / "postmaster.pid").exists():  # left running: use it (and stop it at the end)
        return f"postgresql+psycopg://postgres@127.0.0.1:{(base / 'port').read_text().strip()}/postgres"
    if (base / "data").exists():
        return f"postgresql+psycopg://postgres@127.0.0.1:{pg_throwaway.resume(base)}/postgres"
    return pg_throwaway.start(base)


def citymap(*args: str, url: str) -> str:
    """Run the ``citymap`` command of this checkout on ``url``; its standard output."""
    done = subprocess.run([str(Path(sys.executable).with_name("citymap")), *args], capture_output=True, text=True,
                          env={**os.environ, "CITYMAP_DATABASE_URL": url})
    if done.returncode:
        raise SystemExit(f"citymap {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def build_database(url: str, export: Path) -> tuple[int, str]:
    """The issues loaded once from ``export`` through ``citymap import``; (their count, a supervisor's API key)."""
    citymap("init-db", url=url)
    engine = make_engine(url)
    with engine.connect() as conn:
        issues = conn.execute(text("SELECT count(*) FROM issues WHERE jurisdiction_code = :j"), {"j": J}).scalar_one()
        user = conn.execute(text("SELECT 1 FROM users WHERE name = :n"), {"n": BENCH_USER}).first()
    if issues == 0:
        start = time.perf_counter()
        citymap("load-sample", "--no-issues", url=url)
        print(citymap("import", str(export), url=url).strip().splitlines()[-1], end="")
        print(f" ({time.perf_counter() - start:.0f} s)")
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE issues"))
            issues = conn.execute(text("SELECT count(*) FROM issues")).scalar_one()
    if user is None:
        citymap("user", "create", BENCH_USER, "--role", "supervisor", "--password", "bench-peers-password", url=url)
    key = citymap("api-key", "create", f"{BENCH_USER}-{time.time_ns()}", "--user", BENCH_USER,
                  url=url).strip().splitlines()[-1]
    engine.dispose()
    return issues, key


# --------------------------------------------------------------------------- the peers

def peer_python(cache: Path, name: str) -> Path:
    """The Python of the peer's virtual environment in the cache, made and filled from PyPI on first use."""
    venv = cache / f"venv-{name}"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    if subprocess.run([str(python), "-c", f"import {name}"], capture_output=True).returncode:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES[name]], check=True)
    return python


def version(python: Path, package: str) -> str:
    return subprocess.run([str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
                          capture_output=True, text=True, check=True).stdout.strip()


def pygeoapi_config(cache: Path, python: Path, *, port: int, db_port: int, bounds) -> dict[str, str]:
    """pygeoapi's configuration (the issues table by its PostgreSQL provider) and OpenAPI document; their env."""
    config = {
        "server": {"bind": {"host": "127.0.0.1", "port": port}, "url": f"http://127.0.0.1:{port}",
                   "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "language": "en-US",
                   "limits": {"default_items": 10, "max_items": 10000}, "pretty_print": False,
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"}},
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {"title": "issues", "description": "issues", "keywords": ["issues"],
                               "keywords_type": "theme", "terms_of_service": "https://example.org",
                               "url": "https://example.org"},
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "bench", "url": "https://example.org"},
            "contact": {"name": "bench", "position": "bench", "address": "-", "city": "-", "stateorprovince": "-",
                        "postalcode": "-", "country": "-", "phone": "-", "fax": "-", "email": "bench@example.org",
                        "url": "https://example.org", "hours": "-", "instructions": "-", "role": "pointOfContact"}},
        "resources": {"issues": {
            "type": "collection", "title": "issues", "description": "issues", "keywords": ["issues"], "links": [],
            "extents": {"spatial": {"bbox": list(bounds), "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "providers": [{"type": "feature", "name": "PostgreSQL", "id_field": "id", "table": "issues",
                           "geom_field": "geom",
                           "data": {"host": "127.0.0.1", "port": db_port, "dbname": "postgres", "user": "postgres",
                                    "password": "", "search_path": ["public"]}}]}},
    }
    path, openapi = cache / "pygeoapi-config.yml", cache / "pygeoapi-openapi.yml"
    path.write_text(json.dumps(config))  # JSON is YAML
    env = {"PYGEOAPI_CONFIG": str(path), "PYGEOAPI_OPENAPI": str(openapi)}
    subprocess.run([str(python.with_name("pygeoapi")), "openapi", "generate", str(path), "--output-file",
                    str(openapi)], check=True, capture_output=True, env={**os.environ, **env})
    return env


# --------------------------------------------------------------------------- serving and driving

class Server:
    """One server process: how it is started, where its issues' items are, what each request adds."""

    def __init__(self, name: str, workers: int, command: list[str], env: dict[str, str], items: str, query: str,
                 headers: dict[str, str]):
        self.name, self.workers, self.command, self.env = name, workers, command, env
        self.items, self.query, self.headers = items, query, headers

    def start(self, log: Path) -> subprocess.Popen:
        self.log = log.open("w")
        return subprocess.Popen(self.command, env={**os.environ, **self.env}, stdout=self.log, stderr=self.log)


def wait_until_up(port: int, path: str, headers: dict, process: subprocess.Popen, log: Path, timeout_s=120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited:\n{log.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request("GET", path, headers=headers)
            answer = conn.getresponse()
            body = answer.read()
            conn.close()
            if answer.status == 200:
                return
            raise SystemExit(f"{path}: {answer.status} {body[:500]!r}")
        except (ConnectionError, OSError):
            time.sleep(0.3)
    raise SystemExit(f"no answer on port {port} within {timeout_s} s:\n{log.read_text()[-3000:]}")


def drive(port: int, paths: list[str], headers: dict, *, clients: int, check_every: int = 25,
          processes: dict[str, int] | None = None) -> dict:
    """Send every path from ``clients`` threads over kept-alive connections; latency, throughput, sizes.

    Every ``check_every``-th answer is parsed: a FeatureCollection whose ``numberReturned``
    features all lie in the request's bbox. ``processes``: name → pid of the process trees
    whose CPU time per request is measured (with the client's own as ``client``).
    """
    processes = processes or {}
    cpu_before = {name: cpu_s(pid) for name, pid in processes.items()}
    client_before = time.process_time()
    local = threading.local()

    def one(i: int, path: str):
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        start = time.perf_counter()
        conn.request("GET", path, headers=headers)
        answer = conn.getresponse()
        body = answer.read()
        elapsed = time.perf_counter() - start
        if answer.will_close:
            conn.close()
            local.conn = None
        if answer.status != 200:
            raise RuntimeError(f"{path}: {answer.status} {body[:300]!r}")
        features = None
        if i % check_every == 0:
            data = json.loads(body)
            features = len(data["features"])
            box = [float(v) for v in path.split("bbox=")[1].split("&")[0].split(",")]
            inside = all(box[0] <= f["geometry"]["coordinates"][0] <= box[2]
                         and box[1] <= f["geometry"]["coordinates"][1] <= box[3] for f in data["features"])
            if not inside or data.get("numberReturned", features) != features:
                raise RuntimeError(f"{path}: a feature outside the bbox or numberReturned wrong")
        return elapsed, len(body), features

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, range(len(paths)), paths))
    wall = time.perf_counter() - start
    cpu_ms = {name: (cpu_s(pid) - cpu_before[name]) * 1000 / len(paths) for name, pid in processes.items()}
    cpu_ms["client"] = (time.process_time() - client_before) * 1000 / len(paths)
    latency_ms = np.array([r[0] for r in results]) * 1000
    return {"cpu_ms": cpu_ms, "per_s": len(paths) / wall, "p50_ms": float(np.percentile(latency_ms, 50)),
            "p99_ms": float(np.percentile(latency_ms, 99)), "kb": float(np.mean([r[1] for r in results])) / 1000,
            "features": float(np.mean([r[2] for r in results if r[2] is not None]))}


def cpu_s(pid: int) -> float:
    """CPU seconds of process ``pid``, its children living now and those it has waited for (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    own = sum(int(v) for v in fields[11:15]) / ticks  # utime, stime, cutime, cstime
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return own + sum(cpu_s(int(child)) for child in (children.read_text().split() if children.exists() else []))


def feature_ids(port: int, path: str, headers: dict) -> list:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", path, headers=headers)
    data = json.loads(conn.getresponse().read())
    conn.close()
    return [f["id"] for f in data["features"]]


def run_server(server: Server, port: int, boxes: list[str], *, clients: int, cache: Path,
               postmaster: int) -> tuple[dict, list]:
    """Serve on ``port``, warm up, drive the boxes; (the figures, the feature ids of the first five boxes)."""
    server.command = [part.replace("{port}", str(port)) for part in server.command]
    log = cache / f"{server.name}-{server.workers}.log"
    process = server.start(log)
    paths = [server.items + box + server.query for box in boxes]
    try:
        wait_until_up(port, paths[0], server.headers, process, log)
        drive(port, paths[: max(clients, len(paths) // 20)], server.headers, clients=clients)  # warm-up
        figures = drive(port, paths, server.headers, clients=clients,
                        processes={"server": process.pid, "PostgreSQL": postmaster})
        same = [feature_ids(port, path, server.headers) for path in paths[:5]]
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        server.log.close()
    return figures, same


def machine(url: str) -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal")) / 2**20
    engine = make_engine(url)
    with engine.connect() as conn:
        pg = conn.execute(text("SHOW server_version")).scalar_one()
        postgis = conn.execute(text("SELECT postgis_lib_version()")).scalar_one()
    engine.dispose()
    commit = subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%h"], capture_output=True,
                            text=True).stdout.strip()
    return (f"{cpu}, {os.cpu_count()} CPUs, {memory:.0f} GiB, Linux {platform.release()}; Python "
            f"{platform.python_version()}; PostgreSQL {pg}, PostGIS {postgis} (throwaway cluster: fsync off); "
            f"citymap {commit}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", type=Path, help="the 12345 export loaded once into the cluster")
    parser.add_argument("--cache-dir", type=Path, default=Path("/var/tmp/citymap-bench"),
                        help="the cluster and the peers' virtual environments (outside the repository)")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--box-m", type=float, default=500.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--servers", nargs="+", default=["citymap", "tipg", "pygeoapi"],
                        choices=["citymap", "tipg", "pygeoapi"])
    args = parser.parse_args()
    cache = args.cache_dir
    cache.mkdir(parents=True, exist_ok=True)
    if not args.export.exists():
        raise SystemExit(f"{args.export}: no such file (python scripts/make_city_export.py writes one)")

    url = cluster_url(cache)
    try:
        issues, key = build_database(url, args.export)
        engine = make_engine(url)
        bounds = ingest.read_layers(engine, jurisdiction_code=J).boundary.bounds
        engine.dispose()
        db_port = int(url.rsplit(":", 1)[1].split("/")[0])
        postmaster = int((cache / "pg" / "data" / "postmaster.pid").read_text().split()[0])
        boxes = [path for path in load_web.bbox_urls(bounds, args.requests, box_m=args.box_m, seed=args.seed,
                                                     path="")]
        print(f"{machine(url)}\n{issues:,} issues; {args.requests} requests per server ({args.box_m:.0f} m boxes, "
              f"limit=1000), {args.clients} client threads (this process), over 127.0.0.1")
        properties = ",".join(FEATURE_PROPERTIES)
        geojson = {"Accept": "application/geo+json"}
        citymap_cmd = [str(Path(sys.executable).with_name("citymap")), "serve", "--port", "{port}"]
        citymap_env, citymap_headers = {"CITYMAP_DATABASE_URL": url}, {**geojson, "X-API-Key": key}
        items = "/ogcapi/collections/issues/items"
        servers, versions = [], {}
        if "citymap" in args.servers:  # the default: one process (waitress)
            servers.append(Server("citymap", 1, citymap_cmd, citymap_env, items, "", citymap_headers))
        for name in args.servers:
            for workers in args.workers:
                if name == "citymap":
                    servers.append(Server("citymap --workers", workers, [*citymap_cmd, "--workers", str(workers)],
                                          citymap_env, items, "", citymap_headers))
                elif name == "tipg":
                    python = peer_python(cache, "tipg")
                    versions["tipg"] = version(python, "tipg")
                    servers.append(Server(
                        "tipg", workers, [str(python.with_name("uvicorn")), "tipg.main:app", "--host", "127.0.0.1",
                                          "--port", "{port}", "--workers", str(workers), "--no-access-log",
                                          "--log-level", "warning"],
                        # the issues' primary key is (id, jurisdiction_code), ready for Citus: tipg takes no
                        # composite key, and without this it numbers the features by their geometry
                        {"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{db_port}/postgres",
                         "TIPG_TABLE_CONFIG__public_issues__PK": "id"},
                        "/collections/public.issues/items", f"&properties={properties}", geojson))
                else:
                    python = peer_python(cache, "pygeoapi")
                    versions["pygeoapi"] = version(python, "pygeoapi")
                    servers.append(Server(
                        "pygeoapi", workers, [str(python.with_name("gunicorn")), "pygeoapi.flask_app:APP", "--bind",
                                              "127.0.0.1:{port}", "--workers", str(workers)],
                        {}, "/collections/issues/items", f"&properties={properties}&sortby=id", geojson))
        if versions:
            print("peers: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
        figures, answers = {}, {}
        for server in servers:
            port = load_web._free_port()
            if server.name == "pygeoapi":  # its configuration names its own URL
                server.env = pygeoapi_config(cache, peer_python(cache, "pygeoapi"), port=port, db_port=db_port,
                                             bounds=bounds)
            result, same = run_server(server, port, boxes, clients=args.clients, cache=cache, postmaster=postmaster)
            figures[server.name, server.workers] = result
            answers[server.name] = same
            label = {"citymap": "citymap (one process)",
                     "citymap --workers": f"citymap --workers {server.workers}"}.get(
                server.name, f"{server.name}, {server.workers} worker{'s' if server.workers > 1 else ''}")
            print(f"{label:25s} {result['per_s']:6.1f} req/s, p50 {result['p50_ms']:6.1f} ms, "
                  f"p99 {result['p99_ms']:6.1f} ms, {result['features']:.0f} features, {result['kb']:.0f} kB per "
                  "answer; CPU ms per request: " + ", ".join(f"{k} {v:.1f}" for k, v in result["cpu_ms"].items()),
                  flush=True)
        for name, same in answers.items():
            ours = answers.get("citymap", same)
            if same != ours:
                box = next(i for i, (a, b) in enumerate(zip(same, ours)) if a != b)
                print(f"WARNING: {name} answered other features than citymap for box {box}: "
                      f"{len(same[box])} features (ids {same[box][:5]}…) against {len(ours[box])} "
                      f"({ours[box][:5]}…); the same set of ids: {sorted(map(str, same[box])) == sorted(map(str, ours[box]))}")
        ratios = [("citymap (one process)", ("citymap", 1), "tipg, 1 worker", ("tipg", 1)),
                  ("citymap (one process)", ("citymap", 1), "pygeoapi, 1 worker", ("pygeoapi", 1)),
                  ("citymap --workers 1", ("citymap --workers", 1), "tipg, 1 worker", ("tipg", 1)),
                  ("citymap --workers 1", ("citymap --workers", 1), "pygeoapi, 1 worker", ("pygeoapi", 1)),
                  ("citymap --workers 2", ("citymap --workers", 2), "tipg, 2 workers", ("tipg", 2)),
                  ("citymap --workers 2", ("citymap --workers", 2), "pygeoapi, 2 workers", ("pygeoapi", 2)),
                  ("citymap --workers 2", ("citymap --workers", 2), "citymap --workers 1", ("citymap --workers", 1)),
                  ("citymap --workers 2", ("citymap --workers", 2), "citymap (one process)", ("citymap", 1))]
        for ours, key, theirs, other in ratios:
            if key in figures and other in figures:
                print(f"{ours} / {theirs}: {figures[key]['per_s'] / figures[other]['per_s']:.2f}x throughput")
    finally:
        pg_throwaway.stop(cache / "pg", keep=True)


if __name__ == "__main__":
    main()
