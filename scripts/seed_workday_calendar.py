"""Write geo/data/workday_calendar.csv from the ``chinese_calendar`` package.

The package follows the State Council's yearly notice of holidays and make-up working
days; citymap reads the CSV, not the package, so that the office can load a year the
package does not know yet (``citymap calendar import``). Run this after upgrading the
package to refresh the seed:

    .venv/bin/python scripts/seed_workday_calendar.py
"""

from __future__ import annotations

import csv
from pathlib import Path

from chinese_calendar.constants import holidays, workdays

OUT = Path(__file__).resolve().parent.parent / "geo" / "data" / "workday_calendar.csv"


def main() -> None:
    rows = sorted([(day, "holiday", name) for day, name in holidays.items()]
                  + [(day, "workday", name) for day, name in workdays.items()])
    with OUT.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["date", "kind", "name"])
        writer.writerows((day.isoformat(), kind, name) for day, kind, name in rows)
    years = sorted({day.year for day, _kind, _name in rows})
    print(f"{OUT.name}: {len(rows)} days of {years[0]}–{years[-1]}")


if __name__ == "__main__":
    main()
