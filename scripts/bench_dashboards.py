#!/usr/bin/env python3
"""Time the supervisors' dashboards (home, league table, plan-task board) at the sample's 20,000 issues and at
many times that, to show they cost the period's issues, not the table's.

The Jinqiao sample is loaded into a fresh SpatiaLite database, then its 2025 is copied
``--copies`` times into the years before (every time moved back whole years, the cases' ids
made unique, the cases still open in 2025 closed three days after their report, as an
archive's are), through ``geo.store.insert_issues``. Each view is timed (best of ``--repeat``)
before and after, next to the pandas reference of the same figures, which reads every issue.

    .venv/bin/python scripts/bench_dashboards.py --copies 49      # 1,000,000 issues
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo import store  # noqa: E402
from geo.loop import metrics  # noqa: E402
from geo.loop import views as loop_views  # noqa: E402
from geo.sample.load import load_sample  # noqa: E402
from geo.statuses import OPEN_STATUSES  # noqa: E402
from geo.settings import load_settings  # noqa: E402
from geo.store.base import STORED_ISSUE_COLUMNS, TIMESTAMP_COLUMNS  # noqa: E402
from geo.store.db import make_engine  # noqa: E402

NOW = datetime(2026, 12, 6, 10, 0)
MONTH = (datetime(2025, 12, 1), datetime(2026, 1, 1))


def best(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(engine, settings, repeat: int) -> dict[str, float]:
    return {
        "home (dashboard)": best(lambda: loop_views.dashboard(engine, settings, now=NOW), repeat),
        "league": best(lambda: loop_views.league(engine, settings, start=MONTH[0], end=MONTH[1], now=NOW), repeat),
        "plan-task board": best(lambda: loop_views.plan_task_board(engine, settings, start=MONTH[0], end=MONTH[1],
                                                                   now=NOW), repeat),
        "pandas reference (reads all)": best(lambda: metrics.accountability(
            loop_views.read_issues(engine, settings), by="department", start=MONTH[0], end=MONTH[1], now=NOW), 1),
    }


def copy_years(engine, settings, copies: int) -> int:
    j = settings.jurisdiction_code
    columns = [c for c in STORED_ISSUE_COLUMNS if c != "jurisdiction_code"]
    year = store.query_issues(engine, jurisdiction_code=j, columns=columns)
    for k in range(1, copies + 1):
        moved = year.copy()
        for column in TIMESTAMP_COLUMNS:
            moved[column] = pd.to_datetime(moved[column]) - pd.DateOffset(years=k)
        moved["external_id"] = moved["external_id"].astype(str) + f"-y{k}"
        still_open = moved["status"].isin(OPEN_STATUSES)
        moved.loc[still_open, "closed_at"] = moved.loc[still_open, "reported_at"] + pd.Timedelta(days=3)
        moved.loc[still_open, "status"] = "closed"
        store.insert_issues(engine, moved, jurisdiction_code=j, file=f"copy-{k}", actor="bench")
    return store.count_issues(engine, jurisdiction_code=j)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=9, help="years copied before 2025 (default 9: 200,000 issues)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="citymap-bench-") as tmp:
        settings = load_settings({"data_dir": tmp}, environ={})
        engine = make_engine(settings.resolved_database_url)
        load_sample(engine, settings, actor="bench")
        small = store.count_issues(engine, jurisdiction_code=settings.jurisdiction_code)
        before = measure(engine, settings, args.repeat)
        big = copy_years(engine, settings, args.copies)
        after = measure(engine, settings, args.repeat)
        engine.dispose()
    print(f"{'view (SpatiaLite, best of ' + str(args.repeat) + ')':34} {small:>12,} {big:>12,}  ratio")
    for name in before:
        print(f"{name:34} {before[name]:11.3f}s {after[name]:11.3f}s  {after[name] / before[name]:5.2f}")


if __name__ == "__main__":
    main()
