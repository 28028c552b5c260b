"""Benchmark greening progress on the sample's priority roads with many work records.

Usage::

    .venv/bin/python scripts/bench_greening.py [--records N] [--seed S]

Reads the sample roads (``data/roads/roads.geojson``), plans every greening task on
every side of all priority roads for 2025, draws N random work records (default
200,000) on them, and times ``geo.greening.progress.progress`` (clip, union, intersect, status),
``road_sections`` + ``section_progress`` for one task, and ``geo.frames.linref.line_substrings``
against ``shapely.ops.substring`` in a Python loop for the same stretches (checking
they agree). Prints the times and the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.ops import substring

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo import greening  # noqa: E402
from geo.crs import to_metric  # noqa: E402
from geo.frames.linref import line_substrings  # noqa: E402
from geo.greening.tasks import SIDES, load_greening_tasks  # noqa: E402


def _timed(label: str, func):
    start = time.perf_counter()
    result = func()
    print(f"{label:<46} {time.perf_counter() - start:8.3f} s")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)

    roads = to_metric(gpd.read_file(ROOT / "data" / "roads" / "roads.geojson"))
    roads = roads[roads["is_priority"]].reset_index(drop=True)
    length = pd.Series(roads.length.to_numpy(), index=roads["road_id"])
    tasks = load_greening_tasks()
    plan = greening.default_plan(roads, tasks, year=2025, road_length_m=length)

    n = args.records
    road = rng.integers(0, len(roads), n)
    span = length.to_numpy()[road]
    start = rng.uniform(-20, 1, n) + rng.uniform(0, 1, n) * span
    records = pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "road_id": roads["road_id"].to_numpy()[road],
            "task_code": tasks.index.to_numpy()[rng.integers(0, len(tasks), n)],
            "side": np.asarray(list(SIDES))[rng.integers(0, len(SIDES), n)],
            "from_m": start,
            "to_m": start + rng.uniform(0, 250, n),
            "done_on": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
            "quantity": rng.integers(0, 50, n).astype(float),
        }
    )
    print(f"{len(roads)} priority roads, {length.sum() / 1000:.1f} km, {len(plan)} plan rows, {n:,} records")
    result = _timed(
        "progress (clip, union, intersect, status)",
        lambda: greening.progress(plan, records, roads_metric=roads, tasks=tasks, as_of="2025-07-01"),
    )
    print(f"  {len(result.table)} road/task rows, {len(result.clipped):,} records clipped or ignored")
    sections = _timed("road_sections (200 m)", lambda: greening.road_sections(roads))
    kept, _ = greening.clip_to_roads(records, length)
    _timed(
        "section_progress (one task)",
        lambda: greening.section_progress(sections, plan, kept, task_code="pruning", as_of="2025-07-01"),
    )

    m = min(n, 20_000)
    pos = pd.Series(np.arange(len(roads)), index=roads["road_id"])
    which = kept["road_id"].map(pos).to_numpy()[:m]
    lo, hi = kept["from_m"].to_numpy()[:m], kept["to_m"].to_numpy()[:m]
    lines = roads.geometry.to_numpy()
    fast = _timed(f"line_substrings, {m:,} stretches", lambda: line_substrings(lines, which, lo, hi))
    slow = _timed(
        f"shapely.ops.substring loop, {m:,} stretches",
        lambda: [substring(lines[i], a, b) for i, a, b in zip(which, lo, hi)],
    )
    assert all(f.equals_exact(s, 1e-9) for f, s in zip(fast, slow)), "line_substrings disagrees with substring"
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
