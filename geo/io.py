"""Reading and validating files (CSV/XLSX/GeoJSON/GPKG/SHP), and writing exports.

Issue files (12345 exports, inspection lists, grid-worker reports) are read by
:func:`read_issue_file`, which checks every row, converts coordinates to WGS84
(EPSG:4326) and standard category codes, and returns the good rows together with one
:class:`~geo.errors.RowError` per problem found. Reference layers (roads, grids,
communities, …) are read by :func:`read_layer_file`, which refuses a layer with any
bad feature: a half-loaded road network is worse than none. :func:`write_frame`
writes GeoJSON or GeoPackage and masks every phone number on the way out.

Row numbers are the ones a person sees: in a CSV or XLSX the header is row 1 (or
the row it was found on, when a spreadsheet has a title above it) and the first data
row follows it; in GeoJSON/GeoPackage/Shapefile it is the 1-based feature number.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from io import BytesIO, StringIO
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely

from geo.clock import JURISDICTION_TZ
from geo.crs import COORD_SYSTEMS, convert_to_wgs84, to_wgs84
from geo.errors import ImportRejected, RowError, ValidationError
from geo.models import ISSUE_STATUSES
from geo.privacy import PHONE_REFUSED, mask_phones, normalise_phones
from geo.taxonomy import load_taxonomy

__all__ = [
    "ISSUE_COLUMNS",
    "LAYER_COLUMNS",
    "IssueBatch",
    "read_issue_file",
    "read_layer_file",
    "write_frame",
]

# Canonical issue field -> accepted headers (compared after NFKC and case folding).
# When a file has several of them, the first one listed here wins.
_ISSUE_ALIASES: dict[str, tuple[str, ...]] = {
    "external_id": ("工单编号", "编号", "案件编号", "id", "external_id"),
    "reported_at": ("受理时间", "上报时间", "时间", "time", "reported_at"),
    "lon": ("经度", "lon", "lng", "longitude", "x"),
    "lat": ("纬度", "lat", "latitude", "y"),
    "address": ("地址", "address"),
    "category": ("问题类型", "事项类型", "类别", "分类", "category", "category_code"),
    "description": ("问题描述", "诉求内容", "描述", "description"),
    "phone": ("联系电话", "电话", "手机", "phone"),
    "source": ("来源", "source"),
    "coord_system": ("坐标系", "coord_system"),
    "status": ("状态", "status"),
    "registered_at": ("立案时间", "挂号时间", "registered_at"),
    "dispatched_at": ("派遣时间", "dispatched_at"),
    "handled_at": ("处置时间", "handled_at"),
    "verified_at": ("核查时间", "verified_at"),
    "closed_at": ("结案时间", "销号时间", "closed_at"),
    "rework_count": ("返工次数", "rework_count"),
}
_LIFECYCLE_TIMES = ("registered_at", "dispatched_at", "handled_at", "verified_at", "closed_at")

#: Columns of :attr:`IssueBatch.frame`, always present, before the optional
#: lifecycle columns (``status`` … ``rework_count``, present when the file has them),
#: ``row`` and ``geometry``.
ISSUE_COLUMNS = (
    "external_id",
    "source",
    "source_system",
    "reported_at",
    "category_code",
    "description",
    "address",
    "phone",
)

# Status words seen in 12345 and grid-platform exports -> ISSUE_STATUSES.
_STATUS_WORDS: dict[str, str] = {
    **{status: status for status in ISSUE_STATUSES},
    "上报": "reported", "已上报": "reported", "待受理": "reported",
    "立案": "registered", "已立案": "registered", "挂号": "registered", "已挂号": "registered",
    "派遣": "dispatched", "已派遣": "dispatched", "处置中": "dispatched",
    "处置": "handled", "已处置": "handled", "待核查": "handled",
    "核查": "verified", "已核查": "verified", "待结案": "verified",
    "结案": "closed", "已结案": "closed", "销号": "closed", "已销号": "closed",
    "办结": "closed", "已办结": "closed",
    "不予受理": "refused", "不予立案": "refused", "作废": "refused",
    "合并": "merged", "已合并": "merged", "重复": "merged",
}

# Names of coordinate systems in the wild -> COORD_SYSTEMS (keys have no spaces,
# hyphens or underscores and are case folded).
_SYSTEM_WORDS: dict[str, str] = {
    **{system: system for system in COORD_SYSTEMS},
    "gps": "wgs84", "epsg:4326": "wgs84",
    "国家2000": "cgcs2000", "epsg:4490": "cgcs2000",
    "火星坐标": "gcj02", "高德": "gcj02", "腾讯": "gcj02",
    "bd09ll": "bd09", "百度": "bd09",
}

_DATETIME = re.compile(
    r"^(?P<year>\d{4})[-/.年](?P<month>\d{1,2})[-/.月](?P<day>\d{1,2})日?"
    r"(?:(?:\s+|T)(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,9}))?)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)
# Excel day serials (origin 1899-12-30) of 1900..9999, for date cells formatted as numbers.
_EXCEL_SERIAL = re.compile(r"^\d{1,7}(?:\.\d+)?$")
_EXCEL_SERIAL_RANGE = (1.0, 2958466.0)
# A spreadsheet's header may sit below a title row or two; look this far down for it.
_HEADER_SEARCH_ROWS = 10
_VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp")
_MAX_LISTED_PROBLEMS = 20


@dataclass
class IssueBatch:
    """The outcome of reading one issue file.

    Attributes
    ----------
    frame : geopandas.GeoDataFrame
        The good rows, EPSG:4326 points. Columns :data:`ISSUE_COLUMNS`
        (``source_system`` is the coordinate system the row came in,
        ``reported_at`` is naive local time, Asia/Shanghai; ``phone`` is normalised
        (:func:`geo.privacy.normalise_phones`; a row whose phone is not a phone
        number is rejected) and must be masked on every output), then ``status``, ``registered_at``,
        ``dispatched_at``, ``handled_at``, ``verified_at``, ``closed_at``,
        ``rework_count`` when the file has them, then ``row`` (the source row
        number) and ``geometry``.
    errors : list of geo.errors.RowError
        One per problem, ordered by row; a rejected row is not in ``frame``.
    file : str
        The file's name as given in the row errors.
    """

    frame: gpd.GeoDataFrame
    errors: list[RowError] = field(default_factory=list)
    file: str = ""


# ----------------------------------------------------------------- small helpers


def _fold(text: pd.Series) -> pd.Series:
    """Text compared loosely: NFKC (full-width digits and letters), trimmed, case folded."""
    return text.str.normalize("NFKC").str.strip().str.casefold()


def _text(values: pd.Series) -> pd.Series:
    """Cell values as trimmed strings, with empty cells as ``<NA>``."""
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def _column(data: pd.DataFrame, canonical: str) -> pd.Series:
    """A canonical column, or all ``<NA>`` when the file does not have it."""
    if canonical in data:
        return data[canonical]
    return pd.Series(pd.NA, index=data.index, dtype="string")


def _match_headers(headers: list[str], aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Canonical name -> the file's header for it, for the headers that are present."""
    folded = dict(zip(_fold(pd.Series(headers, dtype="string")), headers))
    found: dict[str, str] = {}
    for canonical, names in aliases.items():
        for name in names:
            if name.casefold() in folded:
                found[canonical] = folded[name.casefold()]
                break
    return found


def _problems(
    file: str,
    rows: np.ndarray,
    mask: np.ndarray | pd.Series,
    field_name: str,
    reason: str | pd.Series,
    value: pd.Series | None,
) -> list[RowError]:
    """Turn a per-row boolean mask into RowErrors (reason and value may vary per row)."""
    hit = np.asarray(mask, dtype=bool)
    if not hit.any():
        return []
    count = int(hit.sum())
    reasons = reason[hit].tolist() if isinstance(reason, pd.Series) else [reason] * count
    if value is None:
        shown = [None] * count
    else:
        picked = value[hit].astype("string")
        shown = [None if pd.isna(v) else str(v) for v in picked.tolist()]
    return [
        RowError(file, int(row), field_name, str(why), what)
        for row, why, what in zip(rows[hit].tolist(), reasons, shown)
    ]


def _normalise_systems(raw: pd.Series) -> pd.Series:
    """Coordinate-system names -> COORD_SYSTEMS or ``EPSG:nnnn``; ``<NA>`` when unknown."""
    key = _fold(raw).str.replace(r"[\s\-_]", "", regex=True)
    named = key.map(_SYSTEM_WORDS).astype("string")
    epsg = "EPSG:" + key.str.extract(r"^epsg:?(\d{4,6})$", expand=False)
    return named.fillna(epsg)


def _normalise_system_argument(coord_system: str) -> str:
    system = _normalise_systems(pd.Series([coord_system], dtype="string")).iloc[0]
    if pd.isna(system) or not _system_is_known(system):
        raise ValidationError(
            f"unknown coordinate system {coord_system!r}; accepted: {', '.join(COORD_SYSTEMS)} or 'EPSG:nnnn'"
        )
    return system


def _system_is_known(system: str) -> bool:
    if system in COORD_SYSTEMS:
        return True
    try:
        pyproj.CRS.from_user_input(system)
    except pyproj.exceptions.CRSError:
        return False
    return True


def _system_is_geographic(system: str) -> bool:
    return system in COORD_SYSTEMS or pyproj.CRS.from_user_input(system).is_geographic


def _parse_times(text: pd.Series, *, excel: bool) -> pd.Series:
    """Parse date-times to naive Asia/Shanghai time; ``NaT`` where missing or unparseable.

    Accepted: ``2025-03-12 08:30:00``, ``2025/3/12 8:30``, ``2025年3月12日``, ISO 8601
    with ``T`` and an offset or ``Z`` (converted to Asia/Shanghai), and, for
    spreadsheets, Excel day serials.
    """
    parts = text.str.extract(_DATETIME)
    fraction = parts["fraction"].str.slice(0, 6).str.pad(6, side="right", fillchar="0")
    components = pd.DataFrame(
        {
            "year": pd.to_numeric(parts["year"]),
            "month": pd.to_numeric(parts["month"]),
            "day": pd.to_numeric(parts["day"]),
            "hour": pd.to_numeric(parts["hour"]).fillna(0),
            "minute": pd.to_numeric(parts["minute"]).fillna(0),
            "second": pd.to_numeric(parts["second"]).fillna(0),
            "microsecond": pd.to_numeric(fraction).fillna(0),
        },
        index=text.index,
    ).astype("float64")
    stamps = pd.to_datetime(components, errors="coerce").astype("datetime64[us]")

    tz = parts["tz"]
    offset = tz.str.extract(r"^(?P<sign>[+-])(?P<hh>\d{2}):?(?P<mm>\d{2})$")
    sign = offset["sign"].map({"+": 1.0, "-": -1.0}).astype("float64")
    offset_min = sign * (pd.to_numeric(offset["hh"]) * 60 + pd.to_numeric(offset["mm"]))
    offset_min = offset_min.mask((tz == "Z").fillna(False), 0.0)
    aware = offset_min.notna().to_numpy()
    if aware.any():
        utc = stamps[aware] - pd.to_timedelta(offset_min[aware], unit="min")
        local = utc.dt.tz_localize("UTC").dt.tz_convert(JURISDICTION_TZ.key).dt.tz_localize(None)
        stamps = stamps.where(~aware, local.reindex(stamps.index))

    if excel:
        serial = pd.to_numeric(text.where(text.str.fullmatch(_EXCEL_SERIAL)), errors="coerce")
        serial = serial.where(serial.between(*_EXCEL_SERIAL_RANGE))
        # Day fractions carry float noise (08:29:59.9999); times are kept to the second.
        from_serial = pd.to_datetime(serial, unit="D", origin="1899-12-30").dt.round("s").astype("datetime64[us]")
        stamps = stamps.fillna(from_serial)
    return stamps


# ------------------------------------------------------------------ file reading


@dataclass
class _Source:
    """A file's raw content: text cells under their own headers, and where rows are."""

    table: pd.DataFrame
    rows: np.ndarray
    geometry: gpd.GeoSeries | None = None
    excel: bool = False
    #: a spreadsheet's formulas that have no calculated value (the file was never opened in a spreadsheet
    #: program), where ``table`` holds nothing; same shape as ``table``, else None
    formulas: pd.DataFrame | None = None


def _decode(path: Path, name: str) -> str:
    raw = path.read_bytes()
    # utf-8-sig also reads plain UTF-8; 12345 exports from Excel on Windows are GBK,
    # which GB18030 contains.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValidationError(f"{name}: not UTF-8 or GB18030 (GBK) text")


def _read_csv(path: Path, name: str) -> _Source:
    try:
        # Blank lines are kept so that row numbers match the file; dropped later.
        table = pd.read_csv(
            StringIO(_decode(path, name)), dtype=str, keep_default_na=False, skip_blank_lines=False
        )
    except pd.errors.EmptyDataError as exc:
        raise ValidationError(f"{name}: the file is empty (no header row)") from exc
    except pd.errors.ParserError as exc:
        raise ValidationError(f"{name}: not a readable CSV file: {exc}") from exc
    return _Source(table, np.arange(len(table)) + 2)


def _read_xlsx(path: Path, name: str, aliases: dict[str, tuple[str, ...]]) -> _Source:
    try:
        grid = pd.read_excel(path, header=None, dtype=str, engine="openpyxl")
    except (ValueError, OSError, KeyError, zipfile.BadZipFile) as exc:
        raise ValidationError(f"{name}: not a readable XLSX workbook: {exc}") from exc
    if grid.empty:
        raise ValidationError(f"{name}: the first sheet is empty (no header row)")
    header_at = 0
    for position in range(min(_HEADER_SEARCH_ROWS, len(grid))):
        cells = [str(cell) for cell in grid.iloc[position] if pd.notna(cell)]
        if len(_match_headers(cells, aliases)) >= 3:
            header_at = position
            break
    headers = [f"column {i + 1}" if pd.isna(cell) else str(cell) for i, cell in enumerate(grid.iloc[header_at])]
    table = grid.iloc[header_at + 1 :].set_axis(headers, axis=1).reset_index(drop=True)
    formulas = _uncalculated_formulas(path, grid)
    if formulas is not None:
        formulas = formulas.iloc[header_at + 1 :].set_axis(headers, axis=1).reset_index(drop=True)
    # Spreadsheet rows are 1-based: the header is on row header_at + 1.
    return _Source(table, np.arange(len(table)) + header_at + 2, excel=True, formulas=formulas)


def _uncalculated_formulas(path: Path, grid: pd.DataFrame) -> pd.DataFrame | None:
    """The formulas of the first sheet whose cell in ``grid`` (the calculated values) is empty, or None.

    A workbook written by a program rather than saved by Excel or WPS stores
    formulas without results, and reading the values alone would turn each into
    an empty cell; the formula text is kept so that the row can be refused.
    """
    with zipfile.ZipFile(path) as book:
        sheets = [n for n in book.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")]
        # most files hold no formula at all: skip the second read
        if not any(re.search(rb"<f[ >/]", book.read(n)) for n in sheets):
            return None
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=False)
    try:
        cells = pd.DataFrame(list(workbook.worksheets[0].iter_rows(values_only=True)))
    finally:
        workbook.close()
    cells = cells.reindex(index=range(grid.shape[0]), columns=range(grid.shape[1]))
    text = cells.map(lambda v: v if isinstance(v, str) else getattr(v, "text", None))
    formula = text.apply(lambda column: column.astype("string").str.startswith("=")).fillna(False)
    return text.where(formula.to_numpy() & grid.isna().to_numpy()).astype("string")


def _formula_problems(raw: _Source, found: dict[str, str], name: str) -> list[RowError]:
    """One RowError per cell of a used column holding a formula with no calculated value."""
    if raw.formulas is None:
        return []
    return [problem for canonical, header in found.items()
            for problem in _problems(name, raw.rows, raw.formulas[header].notna(), canonical,
                                     "a formula with no calculated value: open and save the file in Excel or "
                                     "WPS, or paste the values, and import it again", raw.formulas[header])]


def _read_vector(path: Path, name: str) -> _Source:
    try:
        # Dates as text so that offsets survive and one parser handles every format.
        gdf = pyogrio.read_dataframe(path, datetime_as_string=True)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise ValidationError(f"{name}: not a readable GeoJSON/GeoPackage/Shapefile: {exc}") from exc
    table = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).reset_index(drop=True)
    geometry = gdf.geometry.reset_index(drop=True)
    return _Source(table, np.arange(len(table)) + 1, geometry=geometry)


def _read_source(path: Path, name: str, aliases: dict[str, tuple[str, ...]] = _ISSUE_ALIASES) -> _Source:
    """A file's table; ``aliases`` are the headers that mark the header row of a spreadsheet."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path, name)
    if suffix == ".xlsx":
        return _read_xlsx(path, name, aliases)
    if suffix in _VECTOR_SUFFIXES:
        return _read_vector(path, name)
    raise ValidationError(
        f"{name}: unsupported file type {suffix!r}; expected .csv, .xlsx, .geojson, .json, .gpkg or .shp"
    )


def _file_system(geometry: gpd.GeoSeries, default: str, name: str) -> str:
    """The coordinate system of a vector file's points.

    A file in EPSG:4326 (or without a CRS) may still hold GCJ-02 or BD-09 points,
    which no CRS describes, so ``default`` applies; any other CRS is the file's own.
    """
    file_crs = geometry.crs
    if file_crs is None or file_crs.equals("EPSG:4326", ignore_axis_order=True):
        return default
    epsg = file_crs.to_epsg()
    if epsg is None:
        raise ValidationError(f"{name}: its CRS has no EPSG code ({file_crs.name!r}); save it in EPSG:4326")
    return "cgcs2000" if epsg == 4490 else f"EPSG:{epsg}"


# --------------------------------------------------------------------- issues


def read_issue_file(
    path: str | Path,
    *,
    coord_system: str = "wgs84",
    boundary: shapely.Geometry | None = None,
    source: str = "12345",
    gazetteer: pd.DataFrame | None = None,
    taxonomy=None,
) -> IssueBatch:
    """Read and validate an issue file, one RowError per problem.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``.csv`` (UTF-8, UTF-8 with BOM or GB18030/GBK), ``.xlsx`` (first sheet),
        ``.geojson``/``.json`` or ``.gpkg`` (first layer, point features) file.
        Headers may be Chinese or English (工单编号/id, 受理时间/time, 经度/lon,
        纬度/lat, 地址/address, 问题类型/category, 问题描述/description,
        联系电话/phone, 来源/source, 坐标系/coord_system, and the lifecycle
        columns 状态/status, 立案时间/registered_at, 派遣时间/dispatched_at,
        处置时间/handled_at, 核查时间/verified_at, 结案时间/closed_at,
        返工次数/rework_count).
    coord_system : str, keyword-only
        The coordinate system of the lon/lat columns (or of points in a vector
        file labelled EPSG:4326): one of ``wgs84``, ``cgcs2000``, ``gcj02``,
        ``bd09``, or ``EPSG:nnnn`` (projected systems give x/y in metres). A
        ``坐标系``/``coord_system`` column overrides it per row; a vector file in
        another CRS uses its own.
    boundary : shapely geometry, optional, keyword-only
        The jurisdiction (EPSG:4326); points not inside it, after conversion to
        WGS84, are rejected.
    source : str, keyword-only
        The source recorded for rows without a ``来源``/``source`` value.
    gazetteer : pandas.DataFrame, optional, keyword-only
        Columns ``name``, ``lon``, ``lat`` (WGS84 degrees): compound and road names
        that locate rows that have an address but no coordinates. The longest name
        contained in the address wins.
    taxonomy : geo.taxonomy.Taxonomy, optional, keyword-only
        Resolves category names, synonyms and codes; the packaged one by default.

    Returns
    -------
    IssueBatch
        The good rows (EPSG:4326) and the row errors.

    Raises
    ------
    geo.errors.ValidationError
        When the file cannot be read, a required column is missing (the message
        names the file, the column and the headers found), or ``coord_system``,
        ``source`` or ``gazetteer`` is unusable.
    """
    path = Path(path)
    name = path.name
    default_system = _normalise_system_argument(coord_system)
    if not str(source).strip():
        raise ValidationError(f"source {source!r} must not be empty")
    if gazetteer is not None:
        _check_gazetteer(gazetteer)
    if boundary is not None and not (
        isinstance(boundary, shapely.Geometry) and shapely.get_type_id(boundary) in _POLYGON_TYPES
    ):
        raise ValidationError(
            f"boundary must be a shapely Polygon or MultiPolygon in EPSG:4326, got {type(boundary).__name__}"
        )
    if taxonomy is None:
        taxonomy = load_taxonomy()
    if not path.is_file():
        raise ValidationError(f"{name}: no such file ({str(path)!r})")

    raw = _read_source(path, name)
    vector = raw.geometry is not None
    headers = [str(h) for h in raw.table.columns]
    found = _match_headers(headers, _ISSUE_ALIASES)
    _require_issue_columns(found, headers, name, vector=vector)

    data = pd.DataFrame({canonical: _text(raw.table[header]) for canonical, header in found.items()})
    rows = raw.rows
    if not vector:
        # Blank spreadsheet lines are not rows anyone meant to submit.
        keep = data.notna().any(axis=1).to_numpy()
        data, rows = data[keep].reset_index(drop=True), rows[keep]

    problems: list[RowError] = _formula_problems(raw, found, name)

    external_id = _column(data, "external_id")
    problems += _problems(name, rows, external_id.isna(), "external_id", "missing", None)
    repeated = external_id.notna() & external_id.duplicated(keep="first")
    first_row = pd.Series(rows, index=data.index).groupby(external_id).transform("first")
    duplicate_of = "duplicate of row " + first_row.astype("Int64").astype("string")
    problems += _problems(name, rows, repeated, "external_id", duplicate_of, external_id)

    times, time_problems = _check_times(data, rows, name, excel=raw.excel)
    problems += time_problems

    phone, bad_phone = normalise_phones(_column(data, "phone"))
    # the refused value is quoted with any phone-shaped run in it masked: error lists are shown and logged
    problems += _problems(name, rows, bad_phone, "phone", PHONE_REFUSED, mask_phones(_column(data, "phone")))

    category_code, category_problems = _check_categories(_column(data, "category"), rows, name, taxonomy)
    problems += category_problems

    status = None
    if "status" in data:
        status, status_problems = _check_status(data["status"], times, rows, name)
        problems += status_problems
    rework = None
    if "rework_count" in data:
        rework, rework_problems = _check_rework(data["rework_count"], rows, name)
        problems += rework_problems

    wgs_lon, wgs_lat, systems, usable, location_problems = _locate(
        data, raw.geometry, rows, name, default_system=default_system, gazetteer=gazetteer, boundary=boundary
    )
    problems += location_problems
    problems.sort(key=lambda problem: problem.row)
    rejected = np.isin(rows, [problem.row for problem in problems])
    good = ~rejected & usable.to_numpy()

    columns: dict[str, pd.Series] = {
        "external_id": external_id,
        "source": _column(data, "source").fillna(str(source).strip()),
        "source_system": systems,
        "reported_at": times["reported_at"],
        "category_code": category_code,
        "description": _column(data, "description"),
        "address": _column(data, "address"),
        "phone": phone,
    }
    if status is not None:
        columns["status"] = status
    for stamp in _LIFECYCLE_TIMES:
        if stamp in data:
            columns[stamp] = times[stamp]
    if rework is not None:
        columns["rework_count"] = rework
    columns["row"] = pd.Series(rows, index=data.index, dtype="int64")
    frame = pd.DataFrame(columns)[good].reset_index(drop=True)
    for text_column in (*ISSUE_COLUMNS, "status"):
        if text_column in frame and text_column != "reported_at":
            frame[text_column] = frame[text_column].astype("str")
    points = gpd.points_from_xy(wgs_lon[good], wgs_lat[good], crs="EPSG:4326")
    return IssueBatch(gpd.GeoDataFrame(frame, geometry=points, crs="EPSG:4326"), problems, name)


def _locate(
    data: pd.DataFrame,
    geometry: gpd.GeoSeries | None,
    rows: np.ndarray,
    name: str,
    *,
    default_system: str,
    gazetteer: pd.DataFrame | None,
    boundary: shapely.Geometry | None,
) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series, list[RowError]]:
    """Where each row is: WGS84 lon/lat, its source system, and whether it is usable.

    Coordinates come from point geometries (vector files) or the lon/lat columns,
    else from the address through the gazetteer; they are range-checked, converted
    to WGS84 per coordinate system and checked against the boundary.
    """
    problems: list[RowError] = []
    vector = geometry is not None
    point_field = "geometry" if vector else "lon/lat"
    if vector:
        file_system = _file_system(geometry, default_system, name)
        lon, lat, geometry_problems, no_point = _points_from_geometry(geometry, rows, name)
        problems += geometry_problems
        lon_shown, lat_shown = lon.astype("string"), lat.astype("string")
    else:
        file_system = default_system
        lon_text, lat_text = _column(data, "lon"), _column(data, "lat")
        lon, lat, number_problems, no_point = _numbers_from_columns(lon_text, lat_text, rows, name)
        problems += number_problems
        # Messages quote the cells as written, not the parsed floats.
        lon_shown, lat_shown = lon_text, lat_text

    systems = pd.Series(file_system, index=data.index, dtype="string")
    if "coord_system" in data:
        per_row = _normalise_systems(data["coord_system"])
        known = per_row.notna() & per_row.map(_system_is_known, na_action="ignore").fillna(False).astype(bool)
        bad_system = data["coord_system"].notna() & ~known
        problems += _problems(
            name,
            rows,
            bad_system,
            "coord_system",
            f"unknown coordinate system; accepted: {', '.join(COORD_SYSTEMS)} or EPSG:nnnn",
            data["coord_system"],
        )
        systems = per_row.where(known, systems)
    else:
        bad_system = pd.Series(False, index=data.index)

    address = _column(data, "address")
    wants_address = no_point & address.notna()
    found_at = pd.Series(False, index=data.index)
    if wants_address.any():
        place_lon, place_lat, found_at, address_problems = _locate_addresses(
            address, wants_address, gazetteer, rows, name
        )
        problems += address_problems
        lon = lon.where(~found_at, place_lon)
        lat = lat.where(~found_at, place_lat)
        # Gazetteer coordinates are WGS84, whatever the file's lon/lat columns use.
        systems = systems.mask(found_at, "wgs84")
        no_point = no_point & ~found_at
    problems += _problems(
        name,
        rows,
        no_point & ~wants_address,
        point_field,
        ("no geometry" if vector else "no coordinates") + (" and no address" if "address" in data else ""),
        None,
    )

    # Messages about a located row quote what it was located by.
    shown = _pair(lon_shown, lat_shown).mask(found_at, "address " + address)
    usable = lon.notna() & lat.notna() & ~bad_system
    problems += _range_problems(lon, lat, lon_shown, lat_shown, systems, usable, rows, name)
    usable &= _in_range(lon, lat, systems)

    wgs_lon, wgs_lat = _convert(lon, lat, systems, usable)
    failed = usable & ~(np.isfinite(wgs_lon) & np.isfinite(wgs_lat) & (wgs_lon.abs() <= 180) & (wgs_lat.abs() <= 90))
    problems += _problems(
        name, rows, failed, point_field, "could not be converted to WGS84 from " + systems.fillna(""), shown
    )
    usable &= ~failed
    if boundary is not None:
        shapely.prepare(boundary)
        inside = shapely.contains_xy(boundary, wgs_lon.fillna(0).to_numpy(), wgs_lat.fillna(0).to_numpy())
        converted = _pair(wgs_lon.round(6).astype("string"), wgs_lat.round(6).astype("string"))
        problems += _problems(
            name,
            rows,
            usable & ~inside,
            point_field,
            "outside the jurisdiction boundary (WGS84 " + converted + ")",
            shown,
        )

    return wgs_lon, wgs_lat, systems, usable, problems


def _require_issue_columns(found: dict[str, str], headers: list[str], name: str, *, vector: bool) -> None:
    missing = [canonical for canonical in ("external_id", "reported_at", "category") if canonical not in found]
    has_point = vector or ("lon" in found and "lat" in found)
    if not has_point and "address" not in found:
        missing += [canonical for canonical in ("lon", "lat") if canonical not in found] + ["address"]
    if missing:
        wanted = "; ".join(f"{canonical} ({'/'.join(_ISSUE_ALIASES[canonical])})" for canonical in missing)
        shown = ", ".join(headers) if headers else "none"
        raise ValidationError(f"{name}: missing column(s) {wanted}; headers found: {shown}")


def _check_gazetteer(gazetteer: pd.DataFrame) -> None:
    missing = [column for column in ("name", "lon", "lat") if column not in gazetteer.columns]
    if missing:
        raise ValidationError(
            f"gazetteer lacks column(s) {', '.join(missing)}; it has {', '.join(map(str, gazetteer.columns))}"
        )


def _check_times(
    data: pd.DataFrame, rows: np.ndarray, name: str, *, excel: bool
) -> tuple[dict[str, pd.Series], list[RowError]]:
    problems: list[RowError] = []
    times: dict[str, pd.Series] = {}
    expected = "not a date-time (expected e.g. 2025-03-12 08:30:00)"
    reported_text = data["reported_at"]
    reported = _parse_times(reported_text, excel=excel)
    problems += _problems(name, rows, reported_text.isna(), "reported_at", "missing", None)
    problems += _problems(name, rows, reported_text.notna() & reported.isna(), "reported_at", expected, reported_text)
    times["reported_at"] = reported
    for stamp in _LIFECYCLE_TIMES:
        if stamp not in data:
            continue
        text = data[stamp]
        parsed = _parse_times(text, excel=excel)
        problems += _problems(name, rows, text.notna() & parsed.isna(), stamp, expected, text)
        problems += _problems(
            name,
            rows,
            (parsed < reported).fillna(False),
            stamp,
            "earlier than reported_at " + reported.dt.strftime("%Y-%m-%d %H:%M:%S").fillna(""),
            text,
        )
        times[stamp] = parsed
    return times, problems


def _check_categories(
    text: pd.Series, rows: np.ndarray, name: str, taxonomy
) -> tuple[pd.Series, list[RowError]]:
    codes, unresolved = taxonomy.resolve_categories(text)
    # Excel shows the code 06010 as the number 6010: retry such values with the
    # major class's leading zero put back (only when they mean nothing as typed,
    # since 4-digit legacy codes exist).
    stripped_zero = unresolved & text.str.fullmatch(r"\d{4}").fillna(False)
    if stripped_zero.any():
        codes, unresolved = taxonomy.resolve_categories(text.mask(stripped_zero, "0" + text))
    unknown = text.notna() & unresolved
    # The taxonomy's message (with the closest categories) once per distinct value.
    messages = {}
    for value in text[unknown].unique():
        try:
            taxonomy.resolve_category(value)
        except ValidationError as exc:
            messages[value] = exc.message
    problems = _problems(name, rows, text.isna(), "category", "missing", None)
    problems += _problems(name, rows, unknown, "category", text.map(messages).astype("string"), text)
    return pd.Series(codes, index=text.index, dtype="string").where(~unknown), problems


def _check_status(
    text: pd.Series, times: dict[str, pd.Series], rows: np.ndarray, name: str
) -> tuple[pd.Series, list[RowError]]:
    status = _fold(text).map(_STATUS_WORDS).astype("string")
    unknown = text.notna() & status.isna()
    accepted = f"unknown status; accepted: {', '.join(ISSUE_STATUSES)} or their Chinese names"
    problems = _problems(name, rows, unknown, "status", accepted, text)
    # An empty status cell means "as far as the timestamps say".
    derived = pd.Series("reported", index=text.index, dtype="string")
    # Later stages overwrite earlier ones; each column is named after its status.
    for stamp in _LIFECYCLE_TIMES:
        if stamp in times:
            derived = derived.mask(times[stamp].notna(), stamp.removesuffix("_at"))
    return status.where(text.notna(), derived), problems


def _check_rework(text: pd.Series, rows: np.ndarray, name: str) -> tuple[pd.Series, list[RowError]]:
    count = pd.to_numeric(text.str.normalize("NFKC"), errors="coerce")
    bad = text.notna() & ~(count.ge(0) & (count % 1).eq(0)).fillna(False)
    problems = _problems(name, rows, bad, "rework_count", "not a whole number of 0 or more", text)
    # An empty cell means the issue was never sent back.
    return count.where(~bad).fillna(0).astype("int64"), problems


def _numbers_from_columns(
    lon_text: pd.Series, lat_text: pd.Series, rows: np.ndarray, name: str
) -> tuple[pd.Series, pd.Series, list[RowError], pd.Series]:
    """Parse lon/lat cells; returns lon, lat, problems and the rows with neither."""
    problems: list[RowError] = []
    numbers = []
    for field_name, text in (("lon", lon_text), ("lat", lat_text)):
        number = pd.to_numeric(text.str.normalize("NFKC"), errors="coerce").astype("float64")
        not_number = text.notna() & number.isna()
        problems += _problems(name, rows, not_number, field_name, "not a number", text)
        numbers.append(number)
    lon, lat = numbers
    # One coordinate without the other cannot be used, nor replaced by an address.
    problems += _problems(name, rows, lon_text.isna() & lat_text.notna(), "lon", "missing (lat is given)", None)
    problems += _problems(name, rows, lat_text.isna() & lon_text.notna(), "lat", "missing (lon is given)", None)
    return lon, lat, problems, lon_text.isna() & lat_text.isna()


def _points_from_geometry(
    geometry: gpd.GeoSeries, rows: np.ndarray, name: str
) -> tuple[pd.Series, pd.Series, list[RowError], pd.Series]:
    """Coordinates of point features; returns lon, lat, problems and the rows with no geometry."""
    index = pd.RangeIndex(len(geometry))
    values = geometry.to_numpy()
    missing = shapely.is_missing(values)
    empty = ~missing & shapely.is_empty(values)
    types = pd.Series(np.asarray(geometry.geom_type, dtype=object), index=index).astype("string")
    not_point = ~missing & ~empty & (types != "Point").to_numpy()
    invalid = ~missing & ~empty & ~not_point & ~shapely.is_valid(values)
    problems = _problems(name, rows, empty, "geometry", "empty geometry", None)
    problems += _problems(name, rows, not_point, "geometry", "geometry is " + types + ", expected Point", None)
    reasons = pd.Series(shapely.is_valid_reason(values), index=index).astype("string")
    problems += _problems(name, rows, invalid, "geometry", "invalid geometry: " + reasons.fillna(""), None)
    good = ~missing & ~empty & ~not_point & ~invalid
    # get_x raises on empty points; a missing geometry gives NaN.
    points = np.where(good, values, None)
    lon = pd.Series(shapely.get_x(points), index=index)
    lat = pd.Series(shapely.get_y(points), index=index)
    return lon, lat, problems, pd.Series(missing, index=index)


def _pair(lon: pd.Series, lat: pd.Series) -> pd.Series:
    """``"lon, lat"`` as text, for messages."""
    return lon.fillna("?") + ", " + lat.fillna("?")


def _geographic_mask(systems: pd.Series) -> pd.Series:
    # One pyproj lookup per distinct system, not per row.
    geographic = {system: _system_is_geographic(system) for system in systems.dropna().unique()}
    return systems.map(geographic).fillna(False).astype(bool)


def _range_problems(
    lon: pd.Series,
    lat: pd.Series,
    lon_shown: pd.Series,
    lat_shown: pd.Series,
    systems: pd.Series,
    usable: pd.Series,
    rows: np.ndarray,
    name: str,
) -> list[RowError]:
    """Degree ranges, for rows in geographic systems (projected x/y are metres)."""
    degrees = usable & _geographic_mask(systems)
    swapped = degrees & (lat.abs() > 90) & (lat.abs() <= 180) & (lon.abs() <= 90)
    problems = _problems(
        name,
        rows,
        swapped,
        "lon/lat",
        "longitude and latitude look swapped: lat is beyond ±90 and lon would fit it",
        "lon, lat = " + _pair(lon_shown, lat_shown),
    )
    out_lon = degrees & (lon.abs() > 180)
    out_lat = degrees & (lat.abs() > 90) & ~swapped
    problems += _problems(name, rows, out_lon, "lon", "out of range -180..180", lon_shown)
    problems += _problems(name, rows, out_lat, "lat", "out of range -90..90", lat_shown)
    return problems


def _in_range(lon: pd.Series, lat: pd.Series, systems: pd.Series) -> pd.Series:
    return ~_geographic_mask(systems) | ((lon.abs() <= 180) & (lat.abs() <= 90))


def _convert(lon: pd.Series, lat: pd.Series, systems: pd.Series, usable: pd.Series) -> tuple[pd.Series, pd.Series]:
    """WGS84 lon/lat of the usable rows, converted per coordinate-system group."""
    wgs_lon = pd.Series(np.nan, index=lon.index)
    wgs_lat = pd.Series(np.nan, index=lat.index)
    for system, members in systems[usable].groupby(systems[usable]).groups.items():
        x, y = convert_to_wgs84(lon[members].to_numpy(), lat[members].to_numpy(), system)
        wgs_lon[members] = x
        wgs_lat[members] = y
    return wgs_lon, wgs_lat


def _locate_addresses(
    address: pd.Series, wanted: pd.Series, gazetteer: pd.DataFrame | None, rows: np.ndarray, name: str
) -> tuple[pd.Series, pd.Series, pd.Series, list[RowError]]:
    """Place rows by the longest gazetteer name their address contains."""
    lon = pd.Series(np.nan, index=address.index)
    lat = pd.Series(np.nan, index=address.index)
    found = pd.Series(False, index=address.index)
    if gazetteer is None:
        reason = "no coordinates, and no gazetteer to locate the address"
        problems = _problems(name, rows, wanted, "address", reason, address)
        return lon, lat, found, problems
    places = pd.DataFrame(
        {
            "key": _fold(gazetteer["name"].astype("string")).str.replace(r"\s+", "", regex=True),
            "lon": pd.to_numeric(gazetteer["lon"], errors="coerce"),
            "lat": pd.to_numeric(gazetteer["lat"], errors="coerce"),
        }
    ).dropna()
    places = places[places["key"] != ""].drop_duplicates("key")
    places = places.iloc[places["key"].str.len().argsort()[::-1]]
    target = _fold(address).str.replace(r"\s+", "", regex=True)
    # One vectorised pass over all addresses per place name, longest names first, so
    # "金桥花园二期" wins over "金桥花园" and both over a road name.
    for key, place_lon, place_lat in places.itertuples(index=False):
        hit = wanted & ~found & target.str.contains(key, regex=False).fillna(False)
        lon[hit] = place_lon
        lat[hit] = place_lat
        found |= hit
    reason = "no place in the gazetteer matches the address"
    problems = _problems(name, rows, wanted & ~found, "address", reason, address)
    return lon, lat, found, problems


# --------------------------------------------------------------------- layers

#: Columns of each reference layer (docs/architecture.md), in output order.
LAYER_COLUMNS: dict[str, tuple[str, ...]] = {
    "jurisdiction": (
        "code", "name", "district_code", "metric_crs", "cell_size_m", "grid_origin_x", "grid_origin_y",
    ),
    "communities": ("code", "name", "jurisdiction_code"),
    "compounds": ("code", "name", "community_code", "jurisdiction_code"),
    "grids": ("code", "name", "community_code", "worker", "department_code", "jurisdiction_code"),
    "zones": ("code", "name", "department_code", "depot_lon", "depot_lat", "jurisdiction_code"),
    "unit_cells": ("code", "community_code", "col", "row", "jurisdiction_code"),
    "roads": ("road_id", "name", "road_class", "is_priority", "oneway", "jurisdiction_code"),
    "segments": ("segment_id", "road_id", "name", "road_class", "is_priority", "oneway", "seq", "from_m", "to_m",
                 "length_m", "jurisdiction_code"),
}
# Surveyed road files seldom carry these flags; a road is then ordinary and two-way.
_LAYER_DEFAULTS: dict[str, dict[str, bool]] = {kind: {"is_priority": False, "oneway": False} for kind in ("roads", "segments")}
# Columns that may be empty (nullable in geo.models).
_LAYER_OPTIONAL: dict[str, frozenset[str]] = {
    "compounds": frozenset({"community_code"}),
    "grids": frozenset({"community_code", "worker", "department_code"}),
    "unit_cells": frozenset({"community_code"}),
}
_LAYER_KEY = {"roads": "road_id", "segments": "segment_id", "jurisdiction": "code"}
_LAYER_CHINESE: dict[str, tuple[str, ...]] = {
    "name": ("名称",),
    "road_class": ("等级", "道路等级"),
    "code": ("编码", "代码"),
    "road_id": ("道路编号",),
    "is_priority": ("重点道路",),
    "oneway": ("单行",),
    "community_code": ("社区编码",),
    "jurisdiction_code": ("街道编码",),
    "worker": ("网格员",),
    "department_code": ("责任科室",),
}
_INTEGER_COLUMNS = frozenset({"col", "row", "segment_id", "seq"})
_FLOAT_COLUMNS = frozenset({"depot_lon", "depot_lat", "cell_size_m", "grid_origin_x", "grid_origin_y", "from_m", "to_m",
                            "length_m"})
_BOOLEAN_COLUMNS = frozenset({"is_priority", "oneway"})
_BOOLEAN_WORDS = {
    **dict.fromkeys(("true", "t", "1", "yes", "y", "是"), True),
    **dict.fromkeys(("false", "f", "0", "no", "n", "否"), False),
}
ROAD_CLASSES = ("arterial", "secondary", "branch", "alley")
_ROAD_CLASS_WORDS = {
    **{road_class: road_class for road_class in ROAD_CLASSES},
    "主干路": "arterial", "次干路": "secondary", "支路": "branch",
    "背街小巷": "alley", "背街里巷": "alley", "小巷": "alley",
}
# shapely type ids: 1 LineString, 3 Polygon, 5 MultiLineString, 6 MultiPolygon.
_LINE_TYPES = (1,)
_POLYGON_TYPES = (3, 6)


def _layer_aliases(kind: str) -> dict[str, tuple[str, ...]]:
    columns = LAYER_COLUMNS[kind]
    # Shapefile field names are cut to 10 characters (jurisdiction_code ->
    # jurisdicti); accept the cut name where it is not ambiguous within the layer.
    cut = pd.Series([column[:10] for column in columns])
    unique_cut = dict(zip(columns, ~cut.duplicated(keep=False)))
    return {
        column: (column, *_LAYER_CHINESE.get(column, ()), *((column[:10],) if unique_cut[column] else ()))
        for column in columns
    }


def _layer_values(
    kind: str, column: str, text: pd.Series, rows: np.ndarray, name: str
) -> tuple[pd.Series, list[RowError]]:
    """Typed values of one layer column and its problems (vectorised over features)."""
    if column in _BOOLEAN_COLUMNS:
        value = _fold(text).map(_BOOLEAN_WORDS)
        bad = text.notna() & value.isna()
        problems = _problems(name, rows, bad, column, "not a yes/no value (true/false, 1/0, 是/否)", text)
        return value.fillna(_LAYER_DEFAULTS[kind][column]).astype(bool), problems
    if column in _INTEGER_COLUMNS or column in _FLOAT_COLUMNS:
        number = pd.to_numeric(text.str.normalize("NFKC"), errors="coerce").astype("float64")
        problems = _problems(name, rows, text.isna(), column, "missing", None)
        if column in _INTEGER_COLUMNS:
            bad = text.notna() & ~(number % 1).eq(0)
            problems += _problems(name, rows, bad, column, "not a whole number", text)
            return number.fillna(0).astype("int64"), problems
        problems += _problems(name, rows, text.notna() & number.isna(), column, "not a number", text)
        return number, problems
    if column == "road_class":
        value = _fold(text).map(_ROAD_CLASS_WORDS).astype("string")
        problems = _problems(name, rows, text.isna(), column, "missing", None)
        problems += _problems(
            name,
            rows,
            text.notna() & value.isna(),
            column,
            f"unknown road class; accepted: {', '.join(ROAD_CLASSES)} or 主干路/次干路/支路/背街小巷",
            text,
        )
        return value.astype("str"), problems
    problems = []
    if column not in _LAYER_OPTIONAL.get(kind, frozenset()):
        problems = _problems(name, rows, text.isna(), column, "missing", None)
    return text.astype("str"), problems


def _layer_geometry(
    kind: str, geometry: gpd.GeoSeries, rows: np.ndarray, name: str
) -> tuple[np.ndarray, list[RowError]]:
    """2-D geometries of a layer, with one problem per missing, mistyped or invalid feature."""
    values = shapely.force_2d(geometry.to_numpy())
    missing = shapely.is_missing(values) | shapely.is_empty(values)
    if kind in ("roads", "segments"):
        # A road digitised in pieces that touch end to end is still one line.
        multi = shapely.get_type_id(values) == 5
        values[multi] = shapely.line_merge(values[multi])
        allowed, expected = _LINE_TYPES, "LineString (a MultiLineString must join into one line)"
    else:
        allowed, expected = _POLYGON_TYPES, "Polygon or MultiPolygon"
    types = pd.Series(np.asarray(gpd.GeoSeries(values).geom_type, dtype=object)).astype("string")
    wrong = ~missing & ~np.isin(shapely.get_type_id(values), allowed)
    invalid = ~missing & ~wrong & ~shapely.is_valid(values)
    reasons = pd.Series(shapely.is_valid_reason(values)).astype("string")
    problems = _problems(name, rows, missing, "geometry", "missing or empty geometry", None)
    problems += _problems(name, rows, wrong, "geometry", "geometry is " + types + ", expected " + expected, None)
    problems += _problems(name, rows, invalid, "geometry", "invalid geometry: " + reasons.fillna(""), None)
    return values, problems


def read_layer_file(path: str | Path, *, kind: str, layer: str | None = None) -> gpd.GeoDataFrame:
    """Read a reference layer, refusing it whole if any feature is bad.

    Parameters
    ----------
    path : str or pathlib.Path
        A GeoJSON, GeoPackage or Shapefile (with its ``.prj``), in any CRS.
    kind : str, keyword-only
        One of :data:`LAYER_COLUMNS`: ``roads``, ``communities``, ``compounds``,
        ``grids``, ``zones``, ``unit_cells``, ``jurisdiction``. Headers may be the
        column names, their 10-character Shapefile cuts, or Chinese aliases (名称,
        等级/道路等级, 编码, 道路编号, …); road classes may be 主干路, 次干路, 支路,
        背街小巷. Roads without ``is_priority``/``oneway`` columns get ``False``.
    layer : str, optional, keyword-only
        The layer of a multi-layer GeoPackage; the first by default.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326; the columns of ``LAYER_COLUMNS[kind]`` then ``geometry``
        (LineStrings for roads, Polygons or MultiPolygons otherwise, 2-D).

    Raises
    ------
    geo.errors.ValidationError
        Unknown ``kind``, unreadable file, no CRS, or missing columns.
    geo.errors.ImportRejected
        Bad features (missing/mistyped/invalid geometry with the reason from
        ``shapely.is_valid_reason``, bad values, duplicate keys); ``errors`` holds
        one RowError per problem, with the 1-based feature number.
    """
    if kind not in LAYER_COLUMNS:
        raise ValidationError(f"unknown layer kind {kind!r}; expected one of {', '.join(LAYER_COLUMNS)}")
    path = Path(path)
    name = path.name
    try:
        gdf = pyogrio.read_dataframe(path, layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise ValidationError(f"{name}: not a readable GeoJSON/GeoPackage/Shapefile: {exc}") from exc
    if gdf.crs is None:
        raise ValidationError(
            f"{name}: has no CRS, so its coordinates cannot be placed; "
            "add one (for a Shapefile, the .prj file next to it)"
        )
    gdf = gdf.reset_index(drop=True)
    headers = [str(column) for column in gdf.columns if column != gdf.geometry.name]
    found = _match_headers(headers, _layer_aliases(kind))
    defaults = _LAYER_DEFAULTS.get(kind, {})
    missing = [column for column in LAYER_COLUMNS[kind] if column not in found and column not in defaults]
    if missing:
        aliases = _layer_aliases(kind)
        wanted = "; ".join(f"{column} ({'/'.join(aliases[column])})" for column in missing)
        raise ValidationError(
            f"{name}: missing column(s) for a {kind} layer: {wanted}; headers found: {', '.join(headers) or 'none'}"
        )

    rows = np.arange(len(gdf)) + 1
    problems: list[RowError] = []
    columns: dict[str, pd.Series] = {}
    for column in LAYER_COLUMNS[kind]:
        if column not in found:
            columns[column] = pd.Series(defaults[column], index=gdf.index, dtype=bool)
            continue
        columns[column], column_problems = _layer_values(kind, column, _text(gdf[found[column]]), rows, name)
        problems += column_problems
    key = _LAYER_KEY.get(kind, "code")
    keys = _text(gdf[found[key]])
    repeated = keys.notna() & keys.duplicated(keep="first")
    problems += _problems(name, rows, repeated, key, "duplicate; each feature needs its own", keys)
    geometry, geometry_problems = _layer_geometry(kind, gdf.geometry, rows, name)
    problems += geometry_problems

    if problems:
        problems.sort(key=lambda problem: problem.row)
        listed = "\n".join(str(problem) for problem in problems[:_MAX_LISTED_PROBLEMS])
        more = len(problems) - _MAX_LISTED_PROBLEMS
        tail = f"\n… and {more} more" if more > 0 else ""
        raise ImportRejected(
            f"{name}: {len(problems)} problem(s) in the {kind} layer; nothing was loaded:\n{listed}{tail}", problems
        )
    frame = gpd.GeoDataFrame(pd.DataFrame(columns), geometry=geometry, crs=gdf.crs)
    return to_wgs84(frame)


# --------------------------------------------------------------------- export

_PHONE_COLUMN = re.compile(r"(?:^|_)phone(?:$|_)|电话|手机", re.IGNORECASE)


def write_frame(gdf: gpd.GeoDataFrame, path: str | Path, *, layer: str | None = None) -> Path:
    """Export a frame as GeoJSON or GeoPackage, with every phone number masked.

    Columns named like a phone (``phone``, ``reporter_phone``, 电话, 手机) are
    masked whole; every other text column (descriptions, notes) has the phone
    numbers inside it masked (:func:`geo.privacy.mask_phones`). The frame passed
    in is not changed.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Any CRS; it is written in EPSG:4326.
    path : str or pathlib.Path
        ``.geojson``/``.json`` (RFC 7946, coordinates rounded to 6 decimals,
        about 0.1 m) or ``.gpkg``. An existing GeoJSON file is replaced; a
        GeoPackage gains or replaces the layer.
    layer : str, optional, keyword-only
        GeoPackage layer name; the file's stem by default.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    geo.errors.ValidationError
        Unsupported suffix, or a frame without CRS.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".geojson", ".json", ".gpkg"):
        raise ValidationError(f"cannot export to {path.name!r}: use .geojson, .json or .gpkg")
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.crs is None:
        raise ValidationError(f"cannot export to {path.name!r}: a GeoDataFrame with a CRS is needed")
    out = to_wgs84(gdf)
    for column in out.columns:
        if column == out.geometry.name:
            continue
        values = out[column]
        phone_like = bool(_PHONE_COLUMN.search(str(column)))
        text_like = pd.api.types.infer_dtype(values, skipna=True) == "string"
        if phone_like or text_like:
            masked = mask_phones(values)
            out[column] = masked.astype(object).where(masked.notna(), None)
    if suffix == ".gpkg":
        pyogrio.write_dataframe(out, path, driver="GPKG", layer=layer or path.stem)
    else:
        path.unlink(missing_ok=True)
        pyogrio.write_dataframe(
            out, path, driver="GeoJSON", layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": "6"}
        )
    return path


# ------------------------------------------------------------------ greening

# Canonical greening field -> accepted headers (as for issues: NFKC, case folded).
_GREENING_ALIASES: dict[str, tuple[str, ...]] = {
    "external_id": ("记录编号", "编号", "id", "external_id"),
    "road": ("道路", "道路名称", "路名", "road", "road_id"),
    "task": ("作业", "作业项目", "养护作业", "任务", "task", "task_code"),
    "side": ("侧别", "位置", "side"),
    "from_m": ("起点桩号", "起点", "from_m"),
    "to_m": ("终点桩号", "终点", "to_m"),
    "at_m": ("桩号", "点位桩号", "at_m"),
    "done_on": ("作业日期", "完成日期", "日期", "date", "done_on"),
    "due_date": ("截止日期", "完成时限", "due_date"),
    "section_name": ("路段", "路段名称", "section_name"),
    "team": ("班组", "作业班组", "责任班组", "team"),
    "quantity": ("数量", "工程量", "quantity"),
    "photo": ("照片", "照片编号", "photo"),
    "note": ("备注", "note"),
}
_SIDE_WORDS = {
    "left": "left", "l": "left", "左": "left", "左侧": "left",
    "right": "right", "r": "right", "右": "right", "右侧": "right",
    "median": "median", "m": "median", "中": "median", "中央分隔带": "median", "中分带": "median",
    "分隔带": "median",
}
# A stake mark: K1+250 or K1+250.5 is 1250 (.5) metres of chainage.
_STAKE = re.compile(r"^[kK](\d+)\+(\d+(?:\.\d+)?)$")


@dataclass
class GreeningBatch:
    """The outcome of reading a greening-record file.

    Attributes
    ----------
    frame : pandas.DataFrame
        The good rows: ``external_id`` (``<NA>`` when the file has none),
        ``road_id``, ``task_code``, ``side`` (``left``/``right``/``median``),
        ``from_m``, ``to_m`` (metres of chainage; equal for work at one spot),
        ``done_on`` (datetime64, midnight), ``team``, ``quantity`` (float, NaN
        when empty), ``photo``, ``note``, ``row``.
    errors : list of geo.errors.RowError
    file : str
    """

    frame: pd.DataFrame
    errors: list[RowError] = field(default_factory=list)
    file: str = ""


def _chainage(text: pd.Series) -> pd.Series:
    """Chainage cells in metres: plain numbers or stake marks (``K1+250``); NaN when unreadable."""
    folded = text.str.normalize("NFKC").str.replace(r"\s", "", regex=True)
    stake = folded.str.extract(_STAKE).astype("float64")
    plain = pd.to_numeric(folded.where(stake[0].isna()).astype(object), errors="coerce").astype("float64")
    return plain.fillna(stake[0] * 1000 + stake[1])


def _greening_table(path: Path, required: tuple[str, ...], roads: pd.DataFrame, tasks: pd.DataFrame):
    """Read a greening CSV/XLSX and check what plans and records share: road, task, side, chainage."""
    from geo.greening_tasks import resolve_tasks

    name = path.name
    if not path.is_file():
        raise ValidationError(f"{name}: no such file ({str(path)!r})")
    if path.suffix.lower() not in (".csv", ".xlsx"):
        raise ValidationError(f"{name}: unsupported file type {path.suffix.lower()!r}; expected .csv or .xlsx")
    missing_roads = [c for c in ("road_id", "name", "length_m") if c not in roads.columns]
    if missing_roads:
        raise ValidationError(f"roads lack column(s) {missing_roads}")
    raw = _read_source(path, name, _GREENING_ALIASES)
    headers = [str(h) for h in raw.table.columns]
    found = _match_headers(headers, _GREENING_ALIASES)
    missing = [c for c in required if c not in found]
    if "at_m" not in found and not {"from_m", "to_m"} <= set(found):
        missing += [c for c in ("from_m", "to_m") if c not in found]
    if missing:
        wanted = "; ".join(f"{c} ({'/'.join(_GREENING_ALIASES[c])})" for c in missing)
        raise ValidationError(f"{name}: missing column(s) {wanted}; headers found: {', '.join(headers) or 'none'}")
    data = pd.DataFrame({c: _text(raw.table[h]) for c, h in found.items()})
    keep = data.notna().any(axis=1).to_numpy()
    data, rows = data[keep].reset_index(drop=True), raw.rows[keep]
    problems: list[RowError] = _formula_problems(raw, found, name)

    road_text = _column(data, "road")
    by_id = dict(zip(roads["road_id"].astype(str), roads["road_id"].astype(str)))
    names = roads["name"].astype("string").str.normalize("NFKC")
    by_name = {n: r for n, r in zip(names, roads["road_id"].astype(str)) if (names == n).sum() == 1}
    folded = road_text.str.normalize("NFKC").str.strip()
    road_id = folded.map(by_id).fillna(folded.map(by_name)).astype("string")
    problems += _problems(name, rows, road_text.isna(), "road", "missing", None)
    problems += _problems(name, rows, road_text.notna() & road_id.isna(), "road",
                          "unknown road (give its name or road_id)", road_text)

    task_text = _column(data, "task")
    task_code = resolve_tasks(task_text, tasks)
    problems += _problems(name, rows, task_text.isna(), "task", "missing", None)
    problems += _problems(name, rows, task_text.notna() & task_code.isna(), "task",
                          f"unknown task; known: {', '.join(tasks['name'])}", task_text)

    side_text = _column(data, "side")
    side = _fold(side_text).map(_SIDE_WORDS).astype("string")
    problems += _problems(name, rows, side_text.isna(), "side", "missing", None)
    problems += _problems(name, rows, side_text.notna() & side.isna(), "side",
                          "unknown side; accepted: 左侧/右侧/中央分隔带 or left/right/median", side_text)

    at_text, from_text, to_text = _column(data, "at_m"), _column(data, "from_m"), _column(data, "to_m")
    at, start, end = _chainage(at_text), _chainage(from_text), _chainage(to_text)
    for field_name, text, value in (("at_m", at_text, at), ("from_m", from_text, start), ("to_m", to_text, end)):
        problems += _problems(name, rows, text.notna() & value.isna(), field_name,
                              "not a chainage (expected metres such as 1250 or a stake mark such as K1+250)", text)
        problems += _problems(name, rows, (value < 0).fillna(False), field_name, "negative chainage", text)
    start, end = start.fillna(at), end.fillna(at)
    neither = at_text.isna() & (from_text.isna() | to_text.isna())
    problems += _problems(name, rows, neither, "from_m", "missing: give from_m and to_m, or at_m for one spot", None)
    problems += _problems(name, rows, (start > end).fillna(False), "to_m", "smaller than from_m", to_text)
    length = road_id.map(dict(zip(roads["road_id"].astype(str), roads["length_m"]))).astype("float64")
    beyond = (start > length).fillna(False)
    problems += _problems(name, rows, beyond, "from_m",
                          "beyond the road's end (" + length.round(1).astype("string") + " m)",
                          start.astype("string"))
    columns = {"road_id": road_id, "task_code": task_code, "side": side, "from_m": start, "to_m": end,
               "team": _column(data, "team")}
    return data, rows, columns, problems, raw.excel


#: a greening record's photo: a relative file reference of the field app (no scheme, host, absolute path,
#: backslash or "..", so it can never be made into a link to somewhere else)
PHOTO_REFERENCE = r"(?!.*\.\.)[\w\-]+(?:[./][\w\-]+)*"


def read_greening_records(path: str | Path, *, roads: pd.DataFrame, tasks: pd.DataFrame) -> GreeningBatch:
    """Read and validate a file of greening work records, one RowError per problem.

    Parameters
    ----------
    path : str or pathlib.Path
        ``.csv`` (UTF-8 or GB18030) or ``.xlsx`` (first sheet). Headers (Chinese or
        English): 记录编号/id (optional; re-imports skip ids already stored),
        道路/road (name or road_id), 作业/task (code or name, e.g. 修剪),
        侧别/side (左侧, 右侧, 中央分隔带 or left/right/median), 起点桩号/from_m and
        终点桩号/to_m, or 桩号/at_m for work at one spot (metres or ``K1+250``),
        作业日期/date, and optionally 班组/team, 数量/quantity, 照片/photo, 备注/note.
    roads : DataFrame, keyword-only
        ``road_id``, ``name``, ``length_m`` of the roads records may name.
    tasks : DataFrame, keyword-only
        The task table (:func:`geo.greening_tasks.load_greening_tasks`).

    Returns
    -------
    GreeningBatch
        Good rows and row errors. A ``to_m`` past the road's end is kept (the
        analysis clips and reports it); a ``from_m`` past it is an error.

    Raises
    ------
    geo.errors.ValidationError
        Unreadable file, unsupported type, or a required column missing.
    """
    path = Path(path)
    name = path.name
    data, rows, columns, problems, excel = _greening_table(path, ("road", "task", "side", "done_on"), roads, tasks)
    done_text = data["done_on"]
    done = _parse_times(done_text, excel=excel).dt.normalize()
    problems += _problems(name, rows, done_text.isna(), "done_on", "missing", None)
    problems += _problems(name, rows, done_text.notna() & done.isna(), "done_on",
                          "not a date (expected e.g. 2025-03-12)", done_text)
    quantity_text = _column(data, "quantity")
    quantity = pd.to_numeric(quantity_text.str.normalize("NFKC"), errors="coerce")
    problems += _problems(name, rows, quantity_text.notna() & ~(quantity >= 0).fillna(False), "quantity",
                          "not a number of 0 or more", quantity_text)
    photo = _column(data, "photo")
    problems += _problems(name, rows, photo.notna() & ~photo.str.fullmatch(PHOTO_REFERENCE).fillna(False), "photo",
                          "not a photo reference (a field app's file name such as IMG_0012.jpg or "
                          "photos/2025/GR-0001.jpg); links, absolute paths and '..' are refused", photo)
    external_id = _column(data, "external_id")
    repeated = external_id.notna() & external_id.duplicated(keep="first")
    first_row = pd.Series(rows, index=data.index).groupby(external_id).transform("first")
    problems += _problems(name, rows, repeated, "external_id",
                          "duplicate of row " + first_row.astype("Int64").astype("string"), external_id)
    problems.sort(key=lambda problem: problem.row)
    good = ~np.isin(rows, [problem.row for problem in problems])
    frame = pd.DataFrame({"external_id": external_id, **columns, "done_on": done, "quantity": quantity,
                          "photo": photo, "note": _column(data, "note"),
                          "row": pd.Series(rows, index=data.index, dtype="int64")})
    order = ["external_id", "road_id", "task_code", "side", "from_m", "to_m", "done_on", "team", "quantity",
             "photo", "note", "row"]
    return GreeningBatch(frame[good][order].reset_index(drop=True), problems, name)


def read_greening_plan(path: str | Path, *, roads: pd.DataFrame, tasks: pd.DataFrame, year: int) -> pd.DataFrame:
    """Read a greening work plan; any bad row refuses the whole plan.

    Headers as for :func:`read_greening_records` (道路, 作业, 侧别, 起点桩号/终点桩号),
    plus optional 截止日期/due_date (default: the task's due day in ``year``),
    路段/section_name and 班组/team.

    Returns
    -------
    pandas.DataFrame
        ``year``, ``road_id``, ``task_code``, ``side``, ``from_m``, ``to_m``,
        ``due_date`` (datetime64), ``section_name``, ``team``.

    Raises
    ------
    geo.errors.ImportRejected
        With every row error, when any row is bad (a half-loaded plan would show
        roads as having nothing to do).
    """
    from geo.greening_tasks import task_dates

    path = Path(path)
    name = path.name
    data, rows, columns, problems, excel = _greening_table(path, ("road", "task", "side"), roads, tasks)
    default_due = columns["task_code"].map(task_dates(tasks, year=year)["due_date"])
    due_text = _column(data, "due_date")
    due = _parse_times(due_text, excel=excel).dt.normalize()
    problems += _problems(name, rows, due_text.notna() & due.isna(), "due_date",
                          "not a date (expected e.g. 2025-04-30)", due_text)
    problems += _problems(name, rows, (due.dt.year != year) & due.notna(), "due_date", f"not in {year}", due_text)
    problems += _problems(name, rows, (columns["from_m"] == columns["to_m"]).fillna(False), "to_m",
                          "a plan row needs a stretch (to_m greater than from_m)", _column(data, "to_m"))
    if problems:
        problems.sort(key=lambda problem: problem.row)
        raise ImportRejected(f"{name}: {len({p.row for p in problems})} bad row(s); the plan was not loaded", problems)
    frame = pd.DataFrame({"year": year, **columns, "due_date": due.fillna(default_due),
                          "section_name": _column(data, "section_name")})
    return frame[["year", "road_id", "task_code", "side", "from_m", "to_m", "due_date", "section_name", "team"]]


def write_xlsx(sheets: dict[str, pd.DataFrame], path: str | Path) -> Path:
    """Write tables as sheets of one XLSX workbook, phone numbers in text masked.

    Parameters
    ----------
    sheets : dict of str to pandas.DataFrame
        Sheet name (at most 31 characters) → table; columns become the header row.
    path : str or pathlib.Path
        A ``.xlsx`` file, replaced if it exists.
    """
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise ValidationError(f"cannot write {path.name!r} as a workbook: use .xlsx")
    bad = [sheet for sheet in sheets if not 0 < len(sheet) <= 31]
    if bad:
        raise ValidationError(f"sheet name {bad[0]!r} must have 1 to 31 characters")
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for sheet, table in sheets.items():
            out = table.copy()
            texts = [c for c in out.columns if pd.api.types.infer_dtype(out[c], skipna=True) == "string"]
            for column in texts:
                out[column] = mask_phones(out[column])
            out.to_excel(writer, sheet_name=sheet, index=False)
            _keep_formulas_as_text(writer.sheets[sheet], out, texts)
    return path


#: what a spreadsheet reads as the start of a formula (and, after a tab or CR, some still do)
_FORMULA_START = r"^[=+\-@\t\r]"


def _keep_formulas_as_text(worksheet, table: pd.DataFrame, texts: list) -> None:
    """Make every text cell of ``table`` that a spreadsheet would take for a formula a text cell again.

    openpyxl turns a value starting with ``=`` into a formula; the cell is set back
    to a string and gets Excel's quote prefix, so neither opening nor editing the
    file runs text that came from a layer or a user (CSV/formula injection).
    """
    for position, column in enumerate(table.columns):
        if column not in texts:
            continue
        risky = np.flatnonzero(table[column].astype("string").str.match(_FORMULA_START).fillna(False).to_numpy())
        for row in risky:
            # row 1 is the header
            cell = worksheet.cell(row=int(row) + 2, column=position + 1)
            cell.value = str(table[column].iloc[row])
            cell.data_type = "s"
            cell.quotePrefix = True


# ------------------------------------------------------------------ inspection tracks (geo.coverage)

_GPX_NS = {"gpx": "http://www.topografix.com/GPX/1/1"}
INSPECTION_KINDS = ("track", "checkin")


def read_inspection_file(path: str | Path, *, team: str, actor: str) -> gpd.GeoDataFrame:
    """Read inspection tracks and check-ins from a GPX 1.1 or GeoJSON file.

    GPX: each track segment (``trkseg``) becomes a track (LineString, at least two
    fixes) from its first to its last fix time; each waypoint (``wpt``) a check-in
    (Point) at its time. GeoJSON: LineString features are tracks, Point features
    check-ins; times come from the properties ``started_at`` / ``ended_at`` (or
    ``time`` for both); ``team`` and ``actor`` properties, when present, override
    the arguments. Coordinates must be WGS84; times with ``Z`` or an offset are
    converted to local (Asia/Shanghai) time, naive.

    Parameters
    ----------
    path : str or pathlib.Path
        A ``.gpx``, ``.geojson`` or ``.json`` file.
    team, actor : str, keyword-only
        The team (department code) and the worker the file belongs to.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326 with ``team``, ``actor``, ``kind`` (track / checkin),
        ``started_at``, ``ended_at``, ``source`` (gpx / geojson).

    Raises
    ------
    geo.errors.ValidationError
        Unreadable file, no inspection in it, a fix without a time, a geometry
        of another type, or coordinates outside WGS84 ranges.
    """
    import xml.etree.ElementTree as ET

    path = Path(path)
    name = path.name
    for label, value in (("team", team), ("actor", actor)):
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(f"{name}: {label} {value!r} must be a non-empty name")
    suffix = path.suffix.lower()
    if suffix == ".gpx":
        try:
            root = ET.parse(path).getroot()
        except (ET.ParseError, OSError) as exc:
            raise ValidationError(f"{name}: not a readable GPX file ({exc})") from exc
        ns = _GPX_NS if root.tag.startswith("{" + _GPX_NS["gpx"]) else {"gpx": ""}
        q = (lambda tag: f"gpx:{tag}") if ns["gpx"] else (lambda tag: tag)
        parts, kinds, starts, ends = [], [], [], []
        for seg in root.iterfind(f".//{q('trkseg')}", ns):
            fixes = seg.findall(q("trkpt"), ns)
            times = pd.Series([p.findtext(q("time"), default="", namespaces=ns) for p in fixes], dtype=object)
            if len(fixes) < 2:
                continue
            parts.append(shapely.linestrings([(float(p.get("lon")), float(p.get("lat"))) for p in fixes]))
            kinds.append("track")
            starts.append(times.iloc[0])
            ends.append(times.iloc[-1])
        for wpt in root.iterfind(f".//{q('wpt')}", ns):
            parts.append(shapely.Point(float(wpt.get("lon")), float(wpt.get("lat"))))
            kinds.append("checkin")
            stamp = wpt.findtext(q("time"), default="", namespaces=ns)
            starts.append(stamp)
            ends.append(stamp)
        frame = gpd.GeoDataFrame({"team": team, "actor": actor, "kind": kinds, "started_at": starts,
                                  "ended_at": ends, "source": "gpx"}, geometry=parts, crs="EPSG:4326")
    elif suffix in (".geojson", ".json"):
        try:
            raw = gpd.read_file(path)
        except Exception as exc:  # pyogrio raises several error types for unreadable files
            raise ValidationError(f"{name}: not a readable GeoJSON file ({exc})") from exc
        if raw.crs is not None and not raw.crs.equals("EPSG:4326"):
            raise ValidationError(f"{name}: coordinates must be WGS84 (EPSG:4326), got {raw.crs}")
        types = raw.geom_type
        bad = types[~types.isin(("LineString", "Point"))]
        if len(bad):
            raise ValidationError(f"{name}: feature {int(bad.index[0]) + 1} is a {bad.iloc[0]}, "
                                  f"not a LineString track or a Point check-in")

        def prop(column: str, default: object) -> pd.Series:
            if column in raw:
                return raw[column].astype(object).where(raw[column].notna(), default)
            return pd.Series(default, index=raw.index, dtype=object)

        when = prop("time", "")
        frame = gpd.GeoDataFrame({
            "team": prop("team", team), "actor": prop("actor", actor),
            "kind": np.where(types == "LineString", "track", "checkin"),
            "started_at": prop("started_at", None).where(lambda s: s.notna(), when),
            "ended_at": prop("ended_at", None).where(lambda s: s.notna(), when),
            "source": "geojson"}, geometry=raw.geometry.values, crs="EPSG:4326")
    else:
        raise ValidationError(f"{name}: inspections are read from .gpx or .geojson files, not {suffix or 'this'}")
    if frame.empty:
        raise ValidationError(f"{name}: holds no track (two fixes or more) and no waypoint")
    for column in ("started_at", "ended_at"):
        frame[column] = _parse_times(frame[column].astype(str).str.strip(), excel=False)
        missing = frame[column].isna()
        if missing.any():
            raise ValidationError(f"{name}: inspection {int(np.flatnonzero(missing)[0]) + 1} has no readable "
                                  f"time ({column})")
    xy = shapely.get_coordinates(frame.geometry.values)
    if not ((np.abs(xy[:, 0]) <= 180) & (np.abs(xy[:, 1]) <= 90)).all():
        raise ValidationError(f"{name}: coordinates outside WGS84 longitude/latitude ranges")
    return frame


def write_xlsx_with_images(sheets: dict[str, pd.DataFrame], path: str | Path, *,
                           images: dict[str, bytes]) -> Path:
    """:func:`write_xlsx`, then put PNG images on sheets of their own (sheet name → PNG bytes)."""
    from io import BytesIO

    from openpyxl import load_workbook
    from openpyxl.drawing.image import Image

    path = write_xlsx(sheets, path)
    book = load_workbook(path)
    for sheet, png in images.items():
        if not 0 < len(sheet) <= 31 or sheet in book.sheetnames:
            raise ValidationError(f"image sheet name {sheet!r} must have 1 to 31 characters and be new")
        book.create_sheet(sheet).add_image(Image(BytesIO(png)), "A1")
    book.save(path)
    return path


# --------------------------------------------------------------------------- issue photos (web uploads)

#: content type → (file suffix, test of the file's first bytes): the type is judged by the bytes, never by
#: the name or the browser's claim, so a script renamed .jpg is refused
PHOTO_TYPES = {
    "image/jpeg": (".jpg", lambda head: head[:3] == b"\xff\xd8\xff"),
    "image/png": (".png", lambda head: head[:8] == b"\x89PNG\r\n\x1a\n"),
    "image/webp": (".webp", lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP"),
}
#: the most pixels a photo may have (a 50-megapixel phone camera); counted from the file's header, before
#: anything is decoded, so a small file that would decode to gigabytes (a decompression bomb) is refused
MAX_PHOTO_PIXELS = 50_000_000
#: Pillow's name of the format of each content type
_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
#: a stored photo's name: 32 random hex digits and a suffix of PHOTO_TYPES
PHOTO_NAME_RE = re.compile(r"[0-9a-f]{32}\.(?:jpg|png|webp)")


def photo_type(data: bytes) -> str | None:
    """The content type of a JPEG, PNG or WebP image judged by its magic bytes, or None."""
    head = bytes(data[:12])
    return next((kind for kind, (_suffix, test) in PHOTO_TYPES.items() if test(head)), None)


def check_photo(data: bytes, *, max_bytes: int, label: str = "photo") -> str:
    """The content type of an uploaded photo after checking it.

    Raises
    ------
    geo.errors.ValidationError
        Empty, larger than ``max_bytes``, or not a JPEG/PNG/WebP by its first bytes.
    """
    if not data:
        raise ValidationError(f"{label} is empty")
    if len(data) > max_bytes:
        raise ValidationError(f"{label} is {len(data) / 1e6:.1f} MB; at most {max_bytes / 1e6:.1f} MB")
    kind = photo_type(data)
    if kind is None:
        raise ValidationError(f"{label} is not a JPEG, PNG or WebP image (first bytes {bytes(data[:8]).hex()})")
    width, height = _photo_size(data, kind=kind, label=label)
    if width * height > MAX_PHOTO_PIXELS:
        raise ValidationError(f"{label} is {width} × {height} pixels ({width * height / 1e6:.0f} megapixels); "
                              f"at most {MAX_PHOTO_PIXELS / 1e6:.0f} megapixels")
    return kind


def _photo_size(data: bytes, *, kind: str, label: str) -> tuple[int, int]:
    """(width, height) of a photo in pixels, read from its header (nothing is decoded)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(BytesIO(data), formats=[_PIL_FORMATS[kind]]) as image:
            return image.size
    except Image.DecompressionBombError as exc:
        # Pillow refuses to even open an image of over twice its own limit
        raise ValidationError(f"{label}: {exc}; at most {MAX_PHOTO_PIXELS / 1e6:.0f} megapixels") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ValidationError(f"{label} is not a readable {kind} image: {exc}") from exc


def save_photo(data: bytes, *, photos_dir: Path, max_bytes: int, label: str = "photo") -> tuple[str, str]:
    """Check an uploaded photo (:func:`check_photo`) and store it under a random name; returns (name, type)."""
    import secrets

    kind = check_photo(data, max_bytes=max_bytes, label=label)
    name = secrets.token_hex(16) + PHOTO_TYPES[kind][0]
    photos_dir = Path(photos_dir)
    photos_dir.mkdir(parents=True, exist_ok=True)
    (photos_dir / name).write_bytes(data)
    return name, kind


def photo_file(photos_dir: Path, name: str) -> Path | None:
    """The stored photo called ``name`` (a :data:`PHOTO_NAME_RE` name, so no path tricks), or None."""
    if not isinstance(name, str) or not PHOTO_NAME_RE.fullmatch(name):
        return None
    path = Path(photos_dir) / name
    return path if path.is_file() else None


# --------------------------------------------------------------------------- the working-day calendar

_CALENDAR_ALIASES = {
    "date": ("日期", "date"),
    "kind": ("类型", "安排", "kind"),
    "name": ("节日", "名称", "name"),
}
#: how a notice's table says holiday or make-up working day
_CALENDAR_KINDS = {"holiday": "holiday", "放假": "holiday", "休息": "holiday", "节假日": "holiday",
                   "workday": "workday", "上班": "workday", "补班": "workday", "调休上班": "workday"}


def read_calendar_file(path: str | Path) -> pd.DataFrame:
    """Read a year's holidays and make-up working days (the State Council's notice as a table).

    Parameters
    ----------
    path : str or pathlib.Path
        A CSV or XLSX file with columns 日期/date (YYYY-MM-DD), 类型/kind
        (holiday/放假/休息 or workday/上班/补班) and optionally 节日/name.

    Returns
    -------
    DataFrame
        ``date`` (datetime64), ``kind`` (holiday | workday), ``name``.

    Raises
    ------
    geo.errors.ImportRejected
        Any bad row refuses the whole file (a year half loaded would count
        deadlines wrongly): a date that is not one, 2000–2100, a repeated date,
        an unknown kind, or a make-up working day that is not a Saturday or Sunday.
    """
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise ValidationError(f"{name}: no such file ({str(path)!r})")
    if path.suffix.lower() not in (".csv", ".xlsx"):
        raise ValidationError(f"{name}: unsupported file type {path.suffix.lower()!r}; expected .csv or .xlsx")
    raw = _read_source(path, name, _CALENDAR_ALIASES)
    headers = [str(h) for h in raw.table.columns]
    found = _match_headers(headers, _CALENDAR_ALIASES)
    missing = [c for c in ("date", "kind") if c not in found]
    if missing:
        wanted = "; ".join(f"{c} ({'/'.join(_CALENDAR_ALIASES[c])})" for c in missing)
        raise ValidationError(f"{name}: missing column(s) {wanted}; headers found: {', '.join(headers) or 'none'}")
    data = pd.DataFrame({c: _text(raw.table[h]) for c, h in found.items()})
    keep = data.notna().any(axis=1).to_numpy()
    data, rows = data[keep].reset_index(drop=True), raw.rows[keep]
    problems = _formula_problems(raw, found, name)
    day_text, kind_text = data["date"], data["kind"]
    day = pd.to_datetime(day_text.str.normalize("NFKC"), format="%Y-%m-%d", errors="coerce")
    day = day.where((day >= "2000-01-01") & (day <= "2100-12-31"))
    kind = _fold(kind_text).map(_CALENDAR_KINDS).astype("string")
    problems += _problems(name, rows, day_text.isna(), "date", "missing", None)
    problems += _problems(name, rows, day_text.notna() & day.isna(), "date",
                          "not a date of 2000–2100 written YYYY-MM-DD", day_text)
    problems += _problems(name, rows, day.notna() & day.duplicated(keep="first"), "date", "repeated", day_text)
    problems += _problems(name, rows, kind.isna(), "kind",
                          "expected holiday (放假/休息) or workday (上班/补班)", kind_text)
    weekday_makeup = (kind == "workday").fillna(False) & (day.dt.day_of_week < 5).fillna(False)
    problems += _problems(name, rows, weekday_makeup, "date",
                          "a make-up working day (补班) falls on a Saturday or Sunday", day_text)
    if problems:
        problems.sort(key=lambda problem: problem.row)
        raise ImportRejected(f"{name}: {len({p.row for p in problems})} of {len(data)} rows are bad; "
                             "the calendar loads only whole", problems)
    if data.empty:
        raise ImportRejected(f"{name}: no day in the file", [])
    return pd.DataFrame({"date": day, "kind": kind, "name": _column(data, "name")})
