"""Loading the Jinqiao sample into a database: the one path the CLI, the test suite and the load test share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from geo.greening.views import import_greening_plan, import_greening_records
from geo.io import ingest
from geo.io.ingest import ImportReport
from geo.sample.inspections import load_sample_inspections
from geo.settings import Settings
from geo.store.db import init_db

#: the sample's files under the sample data directory (``Settings.sample_dir``)
SAMPLE_ISSUES = "issues/jinqiao_2025_issues.csv"
SAMPLE_YEAR = 2025
SAMPLE_GREENING_PLAN = f"greening/plan_{SAMPLE_YEAR}.csv"
SAMPLE_GREENING_RECORDS = f"greening/records_{SAMPLE_YEAR}.csv"


@dataclass
class SampleLoad:
    """What :func:`load_sample` stored."""

    layers: dict[str, int]
    issues: ImportReport | None
    greening_plan_rows: int
    greening: ImportReport
    frontage_units: int
    inspections: int

    def lines(self) -> list[str]:
        """The summary ``citymap load-sample`` prints, one line a part."""
        return ["layers: " + ", ".join(f"{k} {v}" for k, v in self.layers.items()),
                *([self.issues.summary()] if self.issues is not None else []),
                f"greening plan: {self.greening_plan_rows} rows; {self.greening.summary()}",
                f"frontage units: {self.frontage_units}; inspections (tracks and check-ins): {self.inspections}"]


def load_sample_greening(engine: Engine, sample_dir: Path, *, jurisdiction_code: str) -> tuple[int, ImportReport]:
    """Load the sample greening plan and records of :data:`SAMPLE_YEAR`; plan rows and the import report."""
    base = Path(sample_dir)
    n_plan = import_greening_plan(engine, base / SAMPLE_GREENING_PLAN, jurisdiction_code=jurisdiction_code,
                                  year=SAMPLE_YEAR)
    report = import_greening_records(engine, base / SAMPLE_GREENING_RECORDS, jurisdiction_code=jurisdiction_code,
                                     source="sample")
    return n_plan, report


def load_sample(engine: Engine, settings: Settings, *, issues: bool = True, actor: str = "load-sample",
                progress: bool = False) -> SampleLoad:
    """Create or upgrade the schema and load the sample of ``settings.sample_dir`` into it.

    The reference layers (replacing the jurisdiction's), the year of issues unless
    ``issues`` is False (imported as ``actor``), the greening plan and records, the
    frontage units and inspection tracks. Each part is one transaction.
    """
    init_db(engine)
    layers = ingest.load_layer_dir(engine, settings.sample_dir)
    report = ingest.import_issue_file(engine, settings.sample_dir / SAMPLE_ISSUES,
                                      jurisdiction_code=settings.jurisdiction_code, settings=settings, actor=actor,
                                      progress=progress) if issues else None
    n_plan, greening = load_sample_greening(engine, settings.sample_dir, jurisdiction_code=settings.jurisdiction_code)
    n_units, n_tracks = load_sample_inspections(engine, settings.sample_dir, jurisdiction_code=settings.jurisdiction_code)
    return SampleLoad(layers, report, n_plan, greening, n_units, n_tracks)
