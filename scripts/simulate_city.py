"""What a city of many sub-districts asks of a database spread by jurisdiction: the figures of docs/scaling.md.

    python scripts/simulate_city.py [--sub-districts 250] [--issues-per-year 20000] [--years 5]
                                    [--shards 32] [--nodes 2 4 8] [--measure-issues 50000]

Measured, on a throwaway PostGIS cluster:

* a database whose ``issues`` and ``issue_events`` are LIST-partitioned into one partition
  per sub-district (``geo.store.partitions``), ``--measure-issues`` issues of the city
  export (``scripts/make_city_export.py``, lifecycle columns included) imported into one
  of them through ``geo.io.ingest``: the bytes an issue takes with its indexes, its imported
  lifecycle and its reporter's contact;
* every statement citymap's storage sends for a supervisor's reads and a dispatcher's
  transition, EXPLAINed: how many of the partitions it reads. PostgreSQL prunes partitions
  on ``jurisdiction_code = …`` as Citus's router planner routes to one shard; a statement
  that reads them all would fan out to every shard;
* PostgreSQL's ``hashtext`` of each sub-district code, the hash Citus gives a text
  distribution column: which shard each code falls in.

Estimated from those: rows and bytes per shard and per worker node for the city's
sub-districts over the years, with volumes equal (``--issues-per-year`` each) and
spread (log-normal, σ 0.6, the same mean), shards placed round-robin on the nodes.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import create_engine, event

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from geo import store  # noqa: E402
from geo.io import ingest  # noqa: E402
from geo.issue_filter import IssueFilter  # noqa: E402
from geo.loop import workflow  # noqa: E402
from geo.settings import load_settings  # noqa: E402
from geo.store.db import init_db, make_engine  # noqa: E402
from geo.store.partitions import partition_by_jurisdiction  # noqa: E402

#: the sample's sub-district, whose layers the measured issues are placed on
SAMPLE = "120110900"
#: Tianjin's districts (2-digit county codes after 1201); a sub-district code is district + 3 digits
DISTRICTS = ("01", "02", "03", "04", "05", "06", "10", "11", "12", "13", "14", "15", "16", "17", "18", "19")
BYTES_TABLES = ("issues", "imported_lifecycles", "reporter_contacts")


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sub_district_codes(n: int) -> list[str]:
    """``n`` 9-digit sub-district codes spread over Tianjin's districts, the sample's first."""
    codes = [SAMPLE]
    i = 0
    while len(codes) < n:
        code = f"1201{DISTRICTS[i % len(DISTRICTS)]}{1 + i // len(DISTRICTS):03d}"
        if code != SAMPLE:
            codes.append(code)
        i += 1
    return codes


def measured(server: str, codes: list[str], *, issues: int, work: Path) -> tuple[pd.Series, pd.DataFrame, pd.Series]:
    """Bytes per issue by table, the partitions each storage read touches, and each code's ``hashtext``."""
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql("CREATE DATABASE city")
        hashes = pd.Series({code: conn.exec_driver_sql("SELECT hashtext(%s)", (code,)).scalar_one() for code in codes})
    admin.dispose()
    url = make_url_for(server, "city")
    engine = make_engine(url)
    init_db(engine)
    partition_by_jurisdiction(engine, local=codes)
    settings = load_settings({"data_dir": str(work), "database_url": url}, environ={})
    ingest.load_layer_dir(engine, ROOT / "data")
    export = work / "city.csv"
    _script("make_city_export").write_city_export(export, rows=issues)
    report = ingest.import_issue_file(engine, export, jurisdiction_code=SAMPLE, settings=settings, actor="simulation")
    with engine.connect() as conn:
        sizes = pd.Series({table: conn.exec_driver_sql(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c LEFT JOIN pg_inherits i ON i.inhrelid = c.oid "
            "WHERE c.relname = %s OR i.inhparent = %s::regclass", (table, table)).scalar_one() for table in BYTES_TABLES},
                          dtype=float)
    per_issue = sizes / report.inserted
    fan_out = _fan_out(engine, codes)
    engine.dispose()
    return per_issue, fan_out, hashes


def make_url_for(server: str, database: str) -> str:
    return server.rsplit("/", 1)[0] + "/" + database


def _fan_out(engine, codes: list[str]) -> pd.DataFrame:
    """Each storage call of a page or a transition: its statements and how many issue partitions each reads."""
    issue_id = int(store.query_issues(engine, jurisdiction_code=SAMPLE, limit=1, columns=("id",))["id"].iloc[0])
    open_id = int(store.query_issues(engine, jurisdiction_code=SAMPLE, columns=("id",),
                                     where=IssueFilter(statuses=["dispatched"]), limit=1)["id"].iloc[0])
    calls = {
        "query_issues (bbox, the maps and APIs)": lambda: store.query_issues(
            engine, jurisdiction_code=SAMPLE, where=IssueFilter(bbox=(117.35, 39.09, 117.36, 39.10))),
        "count_issues (a period)": lambda: store.count_issues(
            engine, jurisdiction_code=SAMPLE, where=IssueFilter(since=pd.Timestamp("2025-01-01"))),
        "count_issues_by department": lambda: store.count_issues_by(engine, "department_code",
                                                                    jurisdiction_code=SAMPLE),
        "issue_time_range": lambda: store.issue_time_range(engine, jurisdiction_code=SAMPLE),
        "issue_id_of (Open311 token)": lambda: store.issue_id_of(engine, jurisdiction_code=SAMPLE, source="12345",
                                                                 external_id="JQ2025-000001"),
        "read_issue_events (an issue's page)": lambda: store.read_issue_events(engine, issue_id),
        "apply_transition (reassign)": lambda: workflow.apply_transition(
            engine, open_id, "reassign", actor="模拟", role="dispatcher", note="改派", department_code="construction"),
    }
    rows = []
    for call, run in calls.items():
        sent: list[tuple[str, object]] = []

        def record(_conn, _cursor, statement, parameters, _context, _many):
            sent.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", record)
        try:
            run()
        finally:
            event.remove(engine, "before_cursor_execute", record)
        with engine.connect() as conn:
            for statement, parameters in sent:
                if not any(f" {t}" in statement for t in ("issues", "issue_events")) or statement.startswith(
                        ("BEGIN", "SAVEPOINT", "RELEASE", "SHOW")):
                    continue
                if statement.lstrip().upper().startswith("INSERT"):
                    # a row goes to the partition (shard) of its own jurisdiction_code, chosen as it is written
                    touched = "1 (routed by the row's jurisdiction_code)"
                else:
                    plan = "\n".join(conn.exec_driver_sql("EXPLAIN " + statement, parameters).scalars())
                    touched = str(sum(f"issues_{code}" in plan or f"issue_events_{code}" in plan for code in codes))
                rows.append({"call": call, "statement": " ".join(statement.split())[:70], "partitions": touched})
    return pd.DataFrame(rows)


def shards_of(hashes: pd.Series, shards: int) -> pd.Series:
    """The shard of each code: Citus splits the int32 hash range into ``shards`` equal intervals."""
    width = 2**32 / shards
    return ((hashes.astype(np.int64) + 2**31) // width).astype(int)


def estimate(per_issue: pd.Series, shard: pd.Series, *, per_year: int, years: int, nodes: list[int],
             seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    sigma = 0.6
    volumes = {"equal": pd.Series(per_year * years, index=shard.index, dtype=float),
               "spread": pd.Series(rng.lognormal(np.log(per_year) - sigma**2 / 2, sigma, len(shard)) * years,
                                   index=shard.index)}
    bytes_per_issue = per_issue.sum()
    lines = []
    for name, issues in volumes.items():
        per_shard = issues.groupby(shard).sum().reindex(range(shard.max() + 1), fill_value=0)
        codes = shard.value_counts().reindex(per_shard.index, fill_value=0)
        lines.append(f"{name} volumes: {issues.sum():,.0f} issues; per shard: {codes.min()}–{codes.max()} sub-districts, "
                     f"{per_shard.min():,.0f}–{per_shard.max():,.0f} issues (mean {per_shard.mean():,.0f}), largest "
                     f"{per_shard.max() * bytes_per_issue / 2**30:.2f} GiB; largest sub-district "
                     f"{issues.max():,.0f} issues ({issues.max() * bytes_per_issue / 2**30:.2f} GiB)")
        for k in nodes:
            per_node = per_shard.groupby(per_shard.index % k).sum()
            lines.append(f"  {k} worker nodes: {per_node.min():,.0f}–{per_node.max():,.0f} issues a node, "
                         f"{per_node.max() * bytes_per_issue / 2**30:.2f} GiB on the fullest")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sub-districts", type=int, default=250)
    parser.add_argument("--issues-per-year", type=int, default=20_000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--shards", type=int, default=32, help="Citus's default shard count")
    parser.add_argument("--nodes", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--measure-issues", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()
    codes = sub_district_codes(args.sub_districts)
    pg = _script("pg_throwaway")
    base = Path(tempfile.mkdtemp(prefix="citymap-simulate-pg-"))
    try:
        server = pg.start(base)
        with tempfile.TemporaryDirectory() as work:
            per_issue, fan_out, hashes = measured(server, codes, issues=args.measure_issues, work=Path(work))
    finally:
        pg.stop(base)
    print(f"measured: {args.measure_issues:,} issues of the city export in one of {len(codes)} partitions; bytes an "
          f"issue takes with its indexes: " + ", ".join(f"{t} {b:,.0f}" for t, b in per_issue.items())
          + f"; together {per_issue.sum():,.0f}")
    print("measured: partitions of issues/issue_events each statement reads (of "
          f"{len(codes)}; 1 = a single shard under Citus):")
    for row in fan_out.itertuples(index=False):
        print(f"  {row.call}: {row.statement} … → {row.partitions}")
    shard = shards_of(hashes, args.shards)
    print(f"estimated: {len(codes)} sub-districts × {args.issues_per_year:,} issues a year × {args.years} years, "
          f"{args.shards} shards (hashtext of the codes, measured)")
    for line in estimate(per_issue, shard, per_year=args.issues_per_year, years=args.years, nodes=args.nodes,
                         seed=args.seed):
        print("  " + line)


if __name__ == "__main__":
    main()
