"""Load test of the web service: waitress serving the Jinqiao sample plus synthetic issues.

Builds a temporary SpatiaLite database (the sample: layers and 20,000 issues, plus
``--extra`` synthetic issues from ``scripts/bench_store.py``), serves it with
``citymap serve`` (waitress) in a process of its own on 127.0.0.1, and sends a
bounded number of requests from a few client threads:

* a bbox GeoJSON query, ``/ogcapi/collections/issues/items?bbox=…&limit=1000`` (boxes of
  ``--box-m`` metres; the OGC API and the REST ``/api/issues`` both measured),
* Open311 ``GET requests.json`` over a random 30-day window of 2025 (at most 1,000
  requests back, newest first).

Prints p50 / p99 latency (ms), throughput (requests/s) and the mean features per
answer. Nothing leaves 127.0.0.1; the database is deleted afterwards.

    python scripts/load_web.py [--extra 100000] [--requests 1000] [--clients 4] [--seed 7]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import requests

from geo import store
from geo.clock import local_now
from geo.io import ingest
from geo.loop import users
from geo.sample.load import load_sample
from geo.settings import load_settings
from geo.store.db import make_engine

ROOT = Path(__file__).resolve().parents[1]
LOAD_USER, LOAD_PASSWORD = "load-web", "load-web-password"


def _bench_store():
    spec = importlib.util.spec_from_file_location("bench_store", ROOT / "scripts" / "bench_store.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_database(data_dir: Path, *, extra: int, seed: int):
    """The sample plus ``extra`` synthetic issues in a SpatiaLite file under ``data_dir``; its settings."""
    settings = load_settings({"data_dir": str(data_dir)}, environ={})
    engine = make_engine(settings.resolved_database_url)
    load_sample(engine, settings, actor="load-web")
    layers = ingest.read_layers(engine, jurisdiction_code=settings.jurisdiction_code)
    if extra:
        issues = _bench_store().synthetic_issues(extra, layers, seed=seed)
        store.insert_issues(engine, issues, jurisdiction_code=settings.jurisdiction_code, file="load-web",
                            actor="load-web")
    total = store.count_rows(engine, "issues", jurisdiction_code=settings.jurisdiction_code)
    # the REST API needs a login (webmap.auth): a supervisor reads every issue
    store.create_user(engine, name=LOAD_USER, password_hash=users.hash_password(LOAD_PASSWORD), role="supervisor",
                      department_code=None, jurisdiction_code=settings.jurisdiction_code, now=local_now())
    engine.dispose()
    return settings, layers.boundary.bounds, total


def bbox_urls(bounds, n: int, *, box_m: float, seed: int, path: str) -> list[str]:
    """``n`` URLs of square boxes of ``box_m`` metres at random places of the jurisdiction."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = bounds
    dlat = box_m / 111_320
    dlon = dlat / np.cos(np.radians((miny + maxy) / 2))
    x0 = rng.uniform(minx, maxx - dlon, n)
    y0 = rng.uniform(miny, maxy - dlat, n)
    return [f"{path}?bbox={x:.6f},{y:.6f},{x + dlon:.6f},{y + dlat:.6f}&limit=1000" for x, y in zip(x0, y0)]


def open311_urls(n: int, *, seed: int) -> list[str]:
    """``n`` Open311 queries over random 30-day windows of 2025, a third of them by status."""
    rng = np.random.default_rng(seed)
    starts = pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 335, n), unit="D")
    statuses = rng.choice(np.array(["", "&status=open", "&status=closed"]), n)
    return [f"/open311/v2/requests.json?start_date={s:%Y-%m-%d}&end_date={s + pd.Timedelta(days=29):%Y-%m-%d}{st}"
            for s, st in zip(starts, statuses)]


def run(base: str, paths: list[str], *, clients: int) -> dict[str, float]:
    """Send every request from ``clients`` threads; latency percentiles, throughput, mean features."""
    local = threading.local()

    def one(path: str) -> tuple[float, int]:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.post(f"{base}/login", json={"name": LOAD_USER, "password": LOAD_PASSWORD},
                         timeout=60).raise_for_status()
        start = time.perf_counter()
        answer = session.get(base + path, timeout=60)
        elapsed = time.perf_counter() - start
        answer.raise_for_status()
        body = answer.json()
        return elapsed, len(body["features"]) if isinstance(body, dict) else len(body)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, paths))
    wall = time.perf_counter() - start
    latency_ms = np.array([r[0] for r in results]) * 1000
    return {"p50_ms": float(np.percentile(latency_ms, 50)), "p99_ms": float(np.percentile(latency_ms, 99)),
            "per_s": len(paths) / wall, "features": float(np.mean([r[1] for r in results]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", type=int, default=100_000, help="synthetic issues added to the sample")
    parser.add_argument("--requests", type=int, default=1000, help="requests per endpoint")
    parser.add_argument("--clients", type=int, default=4, help="client threads")
    parser.add_argument("--box-m", type=float, default=500.0, help="side of the bbox queries, metres")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="citymap-load-") as tmp:
        t = time.perf_counter()
        settings, bounds, total = build_database(Path(tmp), extra=args.extra, seed=args.seed)
        print(f"database: {total:,} issues (sample + {args.extra:,} synthetic) in {time.perf_counter() - t:.1f} s")
        # The server runs as `citymap serve` in its own process, as deployed: clients in this
        # process then do not share its interpreter lock.
        port = _free_port()
        server = subprocess.Popen([str(Path(sys.executable).with_name("citymap")), "serve", "--port", str(port)],
                                  env={**os.environ, "CITYMAP_DATA_DIR": str(settings.data_dir)},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(base, server)
            print(f"citymap serve (waitress, 8 threads); {args.clients} client threads; {args.requests} requests "
                  f"per endpoint; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
            cases = {
                f"OGC API items, bbox {args.box_m:.0f} m, limit 1000": bbox_urls(
                    bounds, args.requests, box_m=args.box_m, seed=args.seed,
                    path="/ogcapi/collections/issues/items"),
                f"REST /api/issues, bbox {args.box_m:.0f} m, limit 1000": bbox_urls(
                    bounds, args.requests, box_m=args.box_m, seed=args.seed, path="/api/issues"),
                "Open311 GET requests.json, 30-day window": open311_urls(args.requests, seed=args.seed),
            }
            for name, paths in cases.items():
                run(base, paths[: max(1, len(paths) // 20)], clients=args.clients)  # warm-up
                figures = run(base, paths, clients=args.clients)
                print(f"{name}: p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms, "
                      f"{figures['per_s']:.1f} requests/s, {figures['features']:.0f} features per answer")
        finally:
            server.terminate()
            server.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(base: str, server: subprocess.Popen, *, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"citymap serve exited: {server.stderr.read().decode(errors='replace')}")
        try:
            requests.get(f"{base}/favicon.ico", timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit(f"citymap serve did not answer on {base} within {timeout_s:.0f} s")

if __name__ == "__main__":
    main()
