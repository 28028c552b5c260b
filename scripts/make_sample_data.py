"""Write the illustrative 金桥街道 sample data (layers and a year of issues) into data/.

Usage::

    python scripts/make_sample_data.py [--out DIR] [--seed N] [--issues N]

The output is deterministic: the same seed writes the same bytes, so the files in
``data/`` can be checked against a fresh generation (``tests/test_sample.py``).
GeoJSON coordinates carry 6 decimals (about 0.1 m) and no per-feature bbox.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from geo.layers import LAYERS  # noqa: E402
from geo.sample import make_issues, make_layers  # noqa: E402
from geo.sample.greening import make_greening  # noqa: E402
from geo.sample.load import SAMPLE_ISSUES  # noqa: E402

ISSUES_FILE = SAMPLE_ISSUES
#: greening sample (plan and work records of 2025 on 津北公路 and 先锋东路) -> file
GREENING_FILES = {"greening_plan": "greening/plan_2025.csv", "greening_records": "greening/records_2025.csv"}
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def write_layer(frame: gpd.GeoDataFrame, path: Path) -> None:
    """Write one layer as RFC 7946 GeoJSON, 6 decimals, no bbox, replacing any old file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    pyogrio.write_dataframe(
        frame, path, driver="GeoJSON", layer=path.stem,
        RFC7946="YES", COORDINATE_PRECISION=6, WRITE_BBOX="NO", WRITE_NAME="NO",
    )


def write_issues(issues: pd.DataFrame, path: Path) -> None:
    """Write the issue table as UTF-8 CSV; empty cells where a stage was not reached."""
    path.parent.mkdir(parents=True, exist_ok=True)
    issues.to_csv(path, index=False, encoding="utf-8", lineterminator="\n",
                  date_format=TIME_FORMAT, float_format="%.6f")


def write_sample_data(out: Path, *, seed: int = 20250101, n_issues: int = 20000) -> dict[str, int]:
    """Generate the sample and write every file under ``out``; returns row counts by name."""
    layers = make_layers(seed=seed)
    counts = {}
    for name, spec in LAYERS.items():
        write_layer(layers[name], out / spec.file)
        counts[name] = len(layers[name])
    issues = make_issues(layers, n=n_issues, seed=seed)
    write_issues(issues, out / ISSUES_FILE)
    counts["issues"] = len(issues)
    for name, frame in zip(GREENING_FILES, make_greening(layers["roads"], year=2025, seed=seed)):
        path = out / GREENING_FILES[name]
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
        counts[name] = len(frame)
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "data", help="data directory (default: data/)")
    parser.add_argument("--seed", type=int, default=20250101)
    parser.add_argument("--issues", type=int, default=20000, help="number of issues")
    args = parser.parse_args(argv)
    counts = write_sample_data(args.out, seed=args.seed, n_issues=args.issues)
    for name, count in counts.items():
        rel = LAYERS[name].file if name in LAYERS else GREENING_FILES.get(name, ISSUES_FILE)
        size = (args.out / rel).stat().st_size
        print(f"{name:<13} {count:>6} rows  {size / 1024:>8.1f} KiB  {rel}")


if __name__ == "__main__":
    main()
