"""Write a city-scale 12345 export: N cases over five years in the sample jurisdiction, as one CSV.

The input of the import benchmark (``scripts/bench_import.py``) and of the page
benchmark, which build their databases with ``citymap import`` from it::

    python scripts/make_city_export.py OUT.csv [--rows 1000000] [--seed 1] [--no-lifecycle]
                                       [--first-year 2021] [--years 5]

The cases are the sample's simulation (:func:`geo.sample.make_issues`: places, seasons,
categories, sources, texts, phones and lifecycle delays) run once per year on the
layers of ``data/``, with the lifecycle seen at the end of the last year, so that the
cases of the earlier years have closed: about 98 % of all cases end closed (1.2 %
refused, 0.6 % merged, the rest still open at the end). The file is what a 12345
platform exports: Chinese headers, categories by their standard name, statuses by
their Chinese word, WGS84 coordinates with 6 decimals, UTF-8. With
``--no-lifecycle`` the state and time columns (状态, 立案时间 … 结案时间, 返工次数)
are left out, and the same cases load as reports. The same seed writes the same bytes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from geo.io.ingest import load_layers_from_dir  # noqa: E402
from geo.sample import make_issues  # noqa: E402
from geo.statuses import STATUS_LABELS  # noqa: E402
from geo.taxonomy import load_taxonomy  # noqa: E402

#: sample column → the export's header, in the export's order; the lifecycle columns last
HEADERS = {
    "external_id": "工单编号", "reported_at": "受理时间", "source": "来源", "category": "问题类型",
    "description": "问题描述", "address": "地址", "lon": "经度", "lat": "纬度", "phone": "联系电话",
}
LIFECYCLE_HEADERS = {
    "status": "状态", "registered_at": "立案时间", "dispatched_at": "派遣时间", "handled_at": "处置时间",
    "verified_at": "核查时间", "closed_at": "结案时间", "rework_count": "返工次数",
}
#: shares of refused and merged reports, below the one-year sample's 3 % and 1 %: with the cases of
#: five years seen at the end, about 98 % of them end closed
REFUSED_SHARE = 0.012
MERGED_SHARE = 0.006
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def year_rows(rows: int, years: int) -> list[int]:
    """``rows`` split over ``years`` as evenly as whole numbers allow (the first years take the remainder)."""
    return [rows // years + (i < rows % years) for i in range(years)]


def write_city_export(out: Path, *, rows: int = 1_000_000, seed: int = 1, lifecycle: bool = True,
                      first_year: int = 2021, years: int = 5, data_dir: Path = ROOT / "data") -> pd.Series:
    """Write the export to ``out``; returns how many cases end in each state (the sample's state codes).

    Parameters
    ----------
    rows : int, keyword-only
        Cases in the file (at least ``years``).
    seed : int, keyword-only
        The same seed writes the same bytes; each year draws from ``seed * 10000 + year``.
    lifecycle : bool, keyword-only
        Write the state and time columns.
    first_year, years : int, keyword-only
        The calendar years simulated (the Chinese holiday calendar must cover them).
    data_dir : pathlib.Path, keyword-only
        The layers the cases are placed on (the repository's ``data/``).
    """
    if rows < years or years < 1:
        raise ValueError(f"rows={rows!r}, years={years!r}: expected at least one case per year")
    layers = load_layers_from_dir(data_dir)
    frames = {"jurisdiction": layers.jurisdiction, "roads": layers.roads, "compounds": layers.compounds,
              "communities": layers.communities}
    names = load_taxonomy().categories["name"]
    end = pd.Timestamp(f"{first_year + years}-01-01")
    headers = {**HEADERS, **(LIFECYCLE_HEADERS if lifecycle else {})}
    states = []
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8", newline="") as file:
        for i, (year, n) in enumerate(zip(range(first_year, first_year + years), year_rows(rows, years))):
            cases = make_issues(frames, n=n, year=year, seed=seed * 10_000 + year, refused_share=REFUSED_SHARE,
                                merged_share=MERGED_SHARE, snapshot_days=(end - pd.Timestamp(f"{year}-01-01")).days)
            states.append(cases["status"].value_counts())
            cases["category"] = cases["category_code"].map(names)
            cases["status"] = cases["status"].map(STATUS_LABELS)
            cases[list(headers)].rename(columns=headers).to_csv(
                file, header=i == 0, index=False, lineterminator="\n", date_format=TIME_FORMAT, float_format="%.6f")
    return pd.concat(states, axis=1).sum(axis=1).astype(int).sort_values(ascending=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the CSV file to write")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-lifecycle", dest="lifecycle", action="store_false",
                        help="leave out the state and time columns")
    parser.add_argument("--first-year", type=int, default=2021)
    parser.add_argument("--years", type=int, default=5)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    states = write_city_export(args.out, rows=args.rows, seed=args.seed, lifecycle=args.lifecycle,
                               first_year=args.first_year, years=args.years)
    shares = ", ".join(f"{state} {n / states.sum():.1%}" for state, n in states.items())
    print(f"{args.out}: {states.sum():,} cases of {args.first_year}–{args.first_year + args.years - 1}, "
          f"{args.out.stat().st_size / 2**20:,.1f} MiB, {time.perf_counter() - start:.1f} s; "
          f"{'with' if args.lifecycle else 'without'} lifecycle columns; states: {shares}")


if __name__ == "__main__":
    main()
