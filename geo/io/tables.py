"""Reading a table or vector file whatever its format and encoding, matching its headers, parsing times.

Row numbers are the ones a person sees: in a CSV or XLSX the header is row 1 (or
the row it was found on, when a spreadsheet has a title above it) and the first data
row follows it; in GeoJSON/GeoPackage/Shapefile it is the 1-based feature number.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj

from geo.clock import JURISDICTION_TZ
from geo.crs import COORD_SYSTEMS
from geo.errors import RowError, ValidationError

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
MAX_LISTED_PROBLEMS = 20


def fold_text(text: pd.Series) -> pd.Series:
    """Text compared loosely: NFKC (full-width digits and letters), trimmed, case folded."""
    return text.str.normalize("NFKC").str.strip().str.casefold()


def clean_text(values: pd.Series) -> pd.Series:
    """Cell values as trimmed strings, with empty cells as ``<NA>``."""
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def column_of(data: pd.DataFrame, canonical: str) -> pd.Series:
    """A canonical column, or all ``<NA>`` when the file does not have it."""
    if canonical in data:
        return data[canonical]
    return pd.Series(pd.NA, index=data.index, dtype="string")


def match_headers(headers: list[str], aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Canonical name -> the file's header for it, for the headers that are present."""
    folded = dict(zip(fold_text(pd.Series(headers, dtype="string")), headers))
    found: dict[str, str] = {}
    for canonical, names in aliases.items():
        for name in names:
            if name.casefold() in folded:
                found[canonical] = folded[name.casefold()]
                break
    return found


def row_problems(
    file: str,
    rows: np.ndarray,
    mask: np.ndarray | pd.Series,
    field_name: str,
    reason: str | pd.Series,
    value: pd.Series | None,
    *,
    unit: str = "row",
) -> list[RowError]:
    """Turn a per-row boolean mask into RowErrors (reason and value may vary per row; ``unit``: see RowError)."""
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
        RowError(file, int(row), field_name, str(why), what, unit)
        for row, why, what in zip(rows[hit].tolist(), reasons, shown)
    ]


def normalise_systems(raw: pd.Series) -> pd.Series:
    """Coordinate-system names -> COORD_SYSTEMS or ``EPSG:nnnn``; ``<NA>`` when unknown."""
    key = fold_text(raw).str.replace(r"[\s\-_]", "", regex=True)
    named = key.map(_SYSTEM_WORDS).astype("string")
    epsg = "EPSG:" + key.str.extract(r"^epsg:?(\d{4,6})$", expand=False)
    return named.fillna(epsg)


def normalise_system_argument(coord_system: str) -> str:
    system = normalise_systems(pd.Series([coord_system], dtype="string")).iloc[0]
    if pd.isna(system) or not system_is_known(system):
        raise ValidationError(
            f"unknown coordinate system {coord_system!r}; accepted: {', '.join(COORD_SYSTEMS)} or 'EPSG:nnnn'"
        )
    return system


def system_is_known(system: str) -> bool:
    if system in COORD_SYSTEMS:
        return True
    try:
        pyproj.CRS.from_user_input(system)
    except pyproj.exceptions.CRSError:
        return False
    return True


def system_is_geographic(system: str) -> bool:
    return system in COORD_SYSTEMS or pyproj.CRS.from_user_input(system).is_geographic


def parse_times(text: pd.Series, *, excel: bool) -> pd.Series:
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
        if len(match_headers(cells, aliases)) >= 3:
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


def formula_problems(raw: _Source, found: dict[str, str], name: str) -> list[RowError]:
    """One RowError per cell of a used column holding a formula with no calculated value."""
    if raw.formulas is None:
        return []
    return [problem for canonical, header in found.items()
            for problem in row_problems(name, raw.rows, raw.formulas[header].notna(), canonical,
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


def read_source(path: Path, name: str, aliases: dict[str, tuple[str, ...]]) -> _Source:
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


def file_coord_system(geometry: gpd.GeoSeries, default: str, name: str) -> str:
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
