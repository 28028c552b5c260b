"""The import pipeline: read and validate (io) → assign → schedule → store (one transaction).

This module joins the pieces for the CLI and the web app; it holds no rule of its
own beyond the order of the steps.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Iterator

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Engine
from tqdm import tqdm

from geo import io, store, workdays
from geo.clock import local_now
from geo.crs import WGS84, to_metric
from geo.errors import ImportRejected, NotFoundError, RowError, ValidationError
from geo.frames import assign
from geo.frames.reference import Layers
from geo.frames.segments import split_roads
from geo.io.layer_fill import LayerOptions
from geo.io.layers import LayerBatch
from geo.layers import LAYERS, reference_layers
from geo.settings import Settings
from geo.store.db import write_tx
from geo.taxonomy import Taxonomy, load_taxonomy


@dataclass
class ImportReport:
    """What an issue import did."""

    file: str
    rows_read: int
    inserted: int
    skipped: int
    errors: list[RowError] = field(default_factory=list)
    #: what the rows are, for the summary line ("issues", "greening records", …)
    what: str = "issues"

    @property
    def rows_rejected(self) -> int:
        return len({e.row for e in self.errors})

    def summary(self) -> str:
        return (f"{self.file}: {self.rows_read} rows read, {self.inserted} {self.what} loaded, "
                f"{self.skipped} already present, {self.rows_rejected} rows rejected")


def taxonomy_departments(taxonomy: Taxonomy) -> pd.DataFrame:
    """The taxonomy's departments as the rows a jurisdiction stores (code, name, name_en, kind, parent)."""
    deps = taxonomy.departments.reset_index()
    return deps[["code", "name", "name_en", "kind", "parent"]]


def load_layers_from_dir(data_dir: Path) -> Layers:
    """Read a jurisdiction's layers from the GeoJSON files of a data directory.

    Parameters
    ----------
    data_dir : pathlib.Path
        Directory holding ``grids/`` and ``roads/`` with the files named in
        the registry (``LayerSpec.file``, :data:`geo.layers.LAYERS`) (the repository's ``data/`` directory, for example).

    Returns
    -------
    Layers
        Frames in EPSG:4326 (reprojected if a file says otherwise), code columns as
        strings; metric CRS, cell size and grid origin from the jurisdiction row.

    Raises
    ------
    geo.errors.NotFoundError
        A file is missing.
    geo.errors.ValidationError
        A file lacks a required column, or the jurisdiction file does not hold
        exactly one row with usable grid parameters.
    """
    data_dir = Path(data_dir)
    frames = {name: _read_layer(data_dir, name) for name in LAYERS}
    jur = frames["jurisdiction"]
    path = data_dir / LAYERS["jurisdiction"].file
    if len(jur) != 1:
        raise ValidationError(f"{path} must hold exactly one jurisdiction, found {len(jur)}")
    row = jur.iloc[0]
    try:
        cell_size = float(row["cell_size_m"])
        origin = (float(row["grid_origin_x"]), float(row["grid_origin_y"]))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{path}: cell_size_m / grid_origin_x / grid_origin_y must be numbers") from exc
    if not all(math.isfinite(v) for v in (cell_size, *origin)) or cell_size <= 0:
        raise ValidationError(
            f"{path}: cell_size_m {cell_size!r} must be positive and grid origin {origin!r} finite"
        )
    return Layers(**frames, metric_crs=str(row["metric_crs"]), cell_size_m=cell_size, grid_origin=origin)


def _read_layer(data_dir: Path, name: str) -> gpd.GeoDataFrame:
    path = data_dir / LAYERS[name].file
    if not path.is_file():
        raise NotFoundError(f"layer file {str(path)!r} does not exist")
    # a data directory is complete: any bad feature or missing column refuses it
    return io.read_layer_file(path, kind=name).whole()


def save_layers(engine: Engine, layers: Layers) -> dict[str, int]:
    """Store a jurisdiction's layers and the taxonomy's departments, replacing what was there."""
    frames = {spec.name: getattr(layers, spec.name) for spec in reference_layers()}
    return store.replace_layers(engine, layers.jurisdiction, frames, taxonomy_departments(load_taxonomy()))


def load_layer_dir(engine: Engine, data_dir: Path) -> dict[str, int]:
    """Load the layer files of a data directory (``grids/``, ``roads/``) into the database."""
    return save_layers(engine, load_layers_from_dir(Path(data_dir)))


def read_layers(engine: Engine, *, jurisdiction_code: str) -> Layers:
    """A jurisdiction's layers from the database."""
    jurisdiction = store.read_layer(engine, "jurisdiction", jurisdiction_code=jurisdiction_code)
    if jurisdiction.empty:
        raise NotFoundError(
            f"jurisdiction {jurisdiction_code!r} is not in the database: run `citymap grid build --boundary FILE` "
            "(or `citymap load-sample` for the sample)"
        )
    row = jurisdiction.iloc[0]
    frames = {spec.name: store.read_layer(engine, spec.name, jurisdiction_code=jurisdiction_code)
              for spec in reference_layers()}
    return Layers(jurisdiction=jurisdiction, **frames, metric_crs=row["metric_crs"],
                  cell_size_m=float(row["cell_size_m"]), grid_origin=(float(row["grid_origin_x"]),
                                                                      float(row["grid_origin_y"])))


@dataclass(frozen=True)
class ReadyLayers:
    """A jurisdiction's layers with the assignment indexes built from them, as of a layer version."""

    version: int
    layers: Layers
    prepared: assign.PreparedLayers


class LayerCache:
    """Layers kept in memory between reports, read again when :func:`geo.store.layer_version` changes.

    The office's working-day calendar is read again with them (a calendar import moves the version).

    Building the assignment indexes takes most of a single report's time (≈ 0.8 s of
    0.9 s for the sample); a layer import in any process bumps the version, so every
    process notices on its next report. One instance serves many threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready: dict[str, ReadyLayers] = {}

    def get(self, engine: Engine, *, jurisdiction_code: str) -> ReadyLayers:
        """The jurisdiction's current layers and indexes (read and built only when the version moved)."""
        version = store.layer_version(engine, jurisdiction_code=jurisdiction_code)
        ready = self._ready.get(jurisdiction_code)
        if ready is not None and ready.version == version:
            return ready
        with self._lock:
            ready = self._ready.get(jurisdiction_code)
            if ready is None or ready.version != version:
                # Read after the version: layers replaced in between are newer than their label, and the
                # next call reads them again, so what is kept is never older than what it claims.
                use_office_calendar(engine)
                layers = read_layers(engine, jurisdiction_code=jurisdiction_code)
                ready = ReadyLayers(version=version, layers=layers, prepared=assign.prepare(layers))
                self._ready[jurisdiction_code] = ready
        return ready


def gazetteer(layers: Layers) -> pd.DataFrame:
    """Place names → points (WGS84) for rows that give an address instead of coordinates.

    Compounds and communities at a point inside them; roads at their midpoint.
    """
    polygons = pd.concat([layers.compounds[["name", "geometry"]], layers.communities[["name", "geometry"]]])
    points = shapely.point_on_surface(polygons.geometry.values)
    road_points = shapely.line_interpolate_point(layers.roads.geometry.values, 0.5, normalized=True)
    names = pd.concat([polygons["name"], layers.roads["name"]], ignore_index=True)
    geoms = list(points) + list(road_points)
    frame = pd.DataFrame({"name": names, "lon": shapely.get_x(geoms), "lat": shapely.get_y(geoms)})
    return frame.drop_duplicates("name").reset_index(drop=True)


def assignment(
    issues: gpd.GeoDataFrame, layers: Layers, *, settings: Settings, taxonomy: Taxonomy | None = None,
    prepared: assign.PreparedLayers | None = None,
) -> pd.DataFrame:
    """The assignment columns (cell … department) of issues (points, EPSG:4326), one row per issue.

    ``prepared``: the indexes of ``layers`` already built (:class:`LayerCache`); built here otherwise.
    """
    taxonomy = taxonomy or load_taxonomy()
    leads = issues["category_code"].map(taxonomy.categories["lead_department"])
    return assign.assign_issues(
        issues.geometry.x.to_numpy(), issues.geometry.y.to_numpy(),
        assign.prepare(layers) if prepared is None else prepared,
        max_dist_m=settings.snap_max_dist_m, lead_departments=leads.to_numpy(),
    )


def assign_and_schedule(
    issues: gpd.GeoDataFrame, layers: Layers, *, settings: Settings, taxonomy: Taxonomy | None = None,
    prepared: assign.PreparedLayers | None = None,
) -> gpd.GeoDataFrame:
    """Add the assignment columns (cell … department) and the deadline to issues (``prepared``: see :func:`assignment`)."""
    taxonomy = taxonomy or load_taxonomy()
    columns = assignment(issues, layers, settings=settings, taxonomy=taxonomy, prepared=prepared)
    out = issues.drop(columns=[c for c in columns.columns if c in issues.columns])
    out = pd.concat([out.reset_index(drop=True), columns.reset_index(drop=True)], axis=1)
    out["deadline_at"], out["deadline_provisional"] = schedule(out, settings=settings, taxonomy=taxonomy)
    return gpd.GeoDataFrame(out, geometry=issues.geometry.name, crs=issues.crs)


def report_issue(
    engine: Engine, ready: ReadyLayers, *, settings: Settings, source: str, external_id: str, category_code: str,
    lon: float, lat: float, description: str | None, address: str | None = None, contact: dict | None = None,
    actor: str, file: str,
) -> int:
    """Store one report as an issue, assigned and scheduled, in one transaction; returns the new issue's id.

    The one path of a single report, whoever files it: the web form and the REST API
    (:mod:`webmap.reports`) and Open311 ``POST requests`` (:mod:`webmap.open311`). The
    callers have parsed and bounded their own fields (they name them differently);
    this checks what only the jurisdiction knows.

    Parameters
    ----------
    ready : ReadyLayers
        The jurisdiction's layers and assignment indexes (:class:`LayerCache`).
    lon, lat : float, keyword-only
        WGS84 degrees; the point must lie in the jurisdiction (its boundary included).
    contact : dict, optional, keyword-only
        ``phone`` (normalised), ``email``, ``reporter_name``: kept apart from the issue, never output.

    Raises
    ------
    geo.errors.ValidationError
        An unknown category code, or a point outside the jurisdiction.
    """
    if not isinstance(category_code, str) or category_code not in load_taxonomy().categories.index:
        raise ValidationError(f"没有这个问题类别 (category_code {category_code!r} is unknown; "
                              "see /open311/v2/services.json for the codes)")
    point = shapely.Point(lon, lat)
    if not ready.layers.boundary.covers(point):
        raise ValidationError(f"这个位置不在本街道范围内，请在地图上重新选择 "
                              f"(lon={lon}, lat={lat} is outside the jurisdiction {ready.layers.code})")
    frame = gpd.GeoDataFrame({
        "source": [source], "external_id": [external_id], "source_system": ["wgs84"], "category_code": [category_code],
        "description": [description], "address": [address], "status": [None], "reported_at": [local_now()],
        **{field: [value] for field, value in (contact or {}).items()},
    }, geometry=[point], crs=WGS84)
    issues = assign_and_schedule(frame, ready.layers, settings=settings, prepared=ready.prepared)
    store.insert_issues(engine, issues, jurisdiction_code=settings.jurisdiction_code, file=file, actor=actor)
    return store.issue_id_of(engine, jurisdiction_code=settings.jurisdiction_code, source=source,
                             external_id=external_id)


def schedule(issues: pd.DataFrame, *, settings: Settings, taxonomy: Taxonomy) -> tuple:
    """The deadlines of issues (``category_code``, ``reported_at``) and whether each is provisional.

    Returns two arrays: due times, and True where a working-day deadline was counted
    across a year whose holidays are not known yet (:func:`geo.workdays.provisional`).
    """
    due = taxonomy.deadlines(issues["category_code"], issues["reported_at"], day_cutoff=settings.day_cutoff)
    working = (issues["category_code"].map(taxonomy.categories["deadline_kind"]) == "working_days").to_numpy()
    return due.to_numpy(), working & workdays.provisional(issues["reported_at"], due)


def use_office_calendar(engine: Engine) -> None:
    """Install the holidays an office loaded (``calendar_days``) into :mod:`geo.workdays`."""
    workdays.install_days(store.read_calendar_days(engine))


@dataclass
class CalendarReport:
    """What a calendar import did: the years loaded, their days, and the deadlines counted again."""

    file: str
    years: list[int]
    days: int
    recomputed: int


def import_calendar_file(engine: Engine, path: Path, *, settings: Settings) -> CalendarReport:
    """Load a year's holidays and make-up working days, and count its provisional deadlines again.

    One transaction: the days of the file's years replace any loaded before, and
    every issue whose deadline was provisional gets it counted on the new calendar
    (still provisional if it crosses another year not known yet).
    """
    days = io.read_calendar_file(path)
    taxonomy = load_taxonomy()
    with write_tx(engine) as conn:
        years = store.replace_calendar_years(conn, days)
        workdays.install_days(store.read_calendar_days(conn))
        pending = store.read_provisional_deadlines(conn)
        due, provisional = schedule(pending, settings=settings, taxonomy=taxonomy)
        recomputed = store.update_deadlines(conn, pd.DataFrame({"id": pending["id"], "deadline_at": due,
                                                                "deadline_provisional": provisional}))
    return CalendarReport(file=Path(path).name, years=years, days=len(days), recomputed=recomputed)


def import_issue_file(
    engine: Engine,
    path: Path,
    *,
    jurisdiction_code: str,
    settings: Settings,
    coord_system: str = "wgs84",
    source: str = "12345",
    strict: bool = False,
    actor: str = "system",
    progress: bool = False,
    chunk_rows: int = io.CHUNK_ROWS,
) -> ImportReport:
    """Import an issue file: good rows load in one transaction, bad rows are reported.

    The file is read, checked, assigned, scheduled and stored ``chunk_rows`` rows at a
    time (:func:`geo.io.iter_issue_file`, :func:`geo.store.load_issues`), so an import
    holds one chunk in memory whatever the file's size; every chunk goes into the one
    transaction, and an error in any of them (a file that cannot be read on, a
    database failure) leaves nothing of the import behind. With ``strict``, any bad row
    refuses the whole file (:class:`ImportRejected`) and nothing is written. A file with
    no usable row is refused too.
    """
    path = Path(path)
    use_office_calendar(engine)
    layers = read_layers(engine, jurisdiction_code=jurisdiction_code)
    taxonomy = load_taxonomy()
    prepared = assign.prepare(layers)
    batches = io.iter_issue_file(path, coord_system=coord_system, boundary=layers.boundary, source=source,
                                 gazetteer=gazetteer(layers), taxonomy=taxonomy, chunk_rows=chunk_rows)
    # Chunks are read ahead until the file is known to hold enough rows for the load to build its indexes
    # anew (store.REBUILD_INDEXES_ROWS) or has ended.
    ahead: list[io.IssueBatch] = []
    for batch in batches:
        ahead.append(batch)
        if sum(len(b.frame) for b in ahead) >= store.REBUILD_INDEXES_ROWS:
            break
    rows_expected = sum(len(b.frame) for b in ahead)
    name = ahead[0].file
    errors: list[RowError] = []
    good = 0
    # Closed however the import ends, so that an error message starts on a clean line.
    # A thread stores each chunk while the next is read and checked: the database's own work (SQLite's
    # b-trees, PostgreSQL's parsing in its server process) runs beside Python's. One chunk at most waits.
    with tqdm(desc=f"import {path.name}", unit=" rows", disable=not progress, leave=False) as shown, \
            store.load_issues(engine, jurisdiction_code=jurisdiction_code, file=str(path), actor=actor,
                              rows_expected=rows_expected) as load, \
            ThreadPoolExecutor(1, thread_name_prefix="citymap-store") as writer:
        storing = None
        for batch in _drained(ahead, batches):
            errors += batch.errors
            good += len(batch.frame)
            if strict and errors:
                raise _rejected(name, errors, good, rest=batches)
            if len(batch.frame):
                issues = assign_and_schedule(batch.frame.drop(columns=["row"]), layers, settings=settings,
                                             taxonomy=taxonomy, prepared=prepared)
                if storing is not None:
                    storing.result()
                storing = writer.submit(load.add, issues)
            shown.update(len(batch.frame) + len({e.row for e in batch.errors}))
        if storing is not None:
            storing.result()
        # the file's case numbers are not needed while the indexes are built
        del batches
        rows_read = good + len({e.row for e in errors})
        if not good:
            raise ImportRejected(f"{name}: no usable row ({rows_read} read)", errors)
        load.rows_rejected = len({e.row for e in errors})
    return ImportReport(file=name, rows_read=rows_read, inserted=load.result.inserted, skipped=load.result.skipped,
                        errors=errors)


def _drained(ahead: list[io.IssueBatch], rest: Iterable[io.IssueBatch]) -> Iterator[io.IssueBatch]:
    """The batches read ahead, each let go of once taken, then the rest."""
    while ahead:
        yield ahead.pop(0)
    yield from rest


def _rejected(name: str, errors: list[RowError], good: int, *, rest: Iterable[io.IssueBatch]) -> ImportRejected:
    """The refusal of a ``--strict`` import, with every problem of the file (its remaining chunks read, not stored)."""
    for batch in rest:
        errors += batch.errors
        good += len(batch.frame)
    bad = len({e.row for e in errors})
    return ImportRejected(f"{name}: {bad} of {good + bad} rows are bad; --strict loads nothing", errors)


def reassign_issues(engine: Engine, *, jurisdiction_code: str, settings: Settings) -> int:
    """Recompute every issue's assignment from the layers now stored (after a layer import)."""
    layers = read_layers(engine, jurisdiction_code=jurisdiction_code)
    # the assignment needs the points and categories only (not the text, which a read masks)
    issues = store.query_issues(engine, jurisdiction_code=jurisdiction_code, columns=("id", "category_code"))
    if issues.empty:
        return 0
    columns = assignment(issues, layers, settings=settings)
    return store.update_assignment(engine, columns.assign(id=issues["id"].to_numpy()))


@dataclass
class LayerReport:
    """What a layer import did: the file's batch (problems, guesses, what was left out) and what was stored."""

    batch: LayerBatch
    loaded: int
    #: segments cut from imported roads, None for other layers
    segments: int | None = None

    def lines(self, shown_path: str) -> list[str]:
        """The summary, one line each: counts, then every guess and everything left out."""
        b = self.batch
        counts = [f"{b.rejected} rejected"] if b.rejected else []
        counts += [f"{sum(b.left_out.values())} left out"] if b.left_out else []
        head = f"{b.kind}: {self.loaded} features loaded from {shown_path}"
        head += f" ({', '.join(counts)})" if counts else ""
        if self.segments is not None:
            head += f", cut into {self.segments} segments of at most 200 m"
        return [head, *(f"  guess: {guess}" for guess in b.guesses),
                *(f"  left out: {n} {reason}" for reason, n in b.left_out.items())]


def import_layer_file(
    engine: Engine, path: Path, *, kind: str, jurisdiction_code: str, settings: Settings,
    options: LayerOptions | None = None, strict: bool = False,
) -> LayerReport:
    """Replace one reference layer from a GeoJSON / GeoPackage / Shapefile, or roads from an OpenStreetMap extract.

    Good features load, bad ones are reported (with ``strict``, any bad one refuses the file). What the
    file leaves out is filled in and reported (:mod:`geo.io.layer_fill`): the jurisdiction's code comes
    from ``jurisdiction_code``. Roads are re-split into segments (at intersections, ≤ 200 m, in the
    jurisdiction's metric CRS); an extract is clipped to the jurisdiction's boundary first.

    Raises
    ------
    geo.errors.ImportRejected
        ``strict`` and a bad feature, or no usable feature at all; nothing is written.
    geo.errors.NotFoundError
        Roads for a jurisdiction not in the database (its boundary and metric CRS are needed).
    """
    options = replace(options or LayerOptions(), jurisdiction_code=jurisdiction_code)
    jurisdiction = None
    if kind == "roads":
        jurisdiction = store.read_layer(engine, "jurisdiction", jurisdiction_code=jurisdiction_code)
        if jurisdiction.empty:
            raise NotFoundError(f"jurisdiction {jurisdiction_code!r} is not in the database: run `citymap grid build "
                                "--boundary FILE` first (roads are clipped to the boundary and measured in its CRS)")
    boundary = None if jurisdiction is None else jurisdiction.geometry.iloc[0]
    batch = io.read_layer_file(path, kind=kind, options=options, boundary=boundary)
    frames = {kind: batch.whole() if strict else batch.usable()}
    if kind == "roads":
        roads = frames["roads"]
        metric_crs = str(jurisdiction["metric_crs"].iloc[0])
        frames["segments"] = split_roads(to_metric(roads, crs=metric_crs)).to_crs(roads.crs)
    counts = store.replace_some_layers(engine, frames, jurisdiction_code=jurisdiction_code)
    return LayerReport(batch=batch, loaded=counts[kind], segments=counts.get("segments"))


def export_layer(engine: Engine, layer: str, out: Path, *, jurisdiction_code: str) -> int:
    """Write issues (assignment columns included, phones never) or a layer to GeoJSON/GPKG."""
    if layer == "issues":
        frame = store.query_issues(engine, jurisdiction_code=jurisdiction_code)
    else:
        frame = store.read_layer(engine, layer, jurisdiction_code=jurisdiction_code)
    io.write_frame(frame, out)
    return len(frame)
