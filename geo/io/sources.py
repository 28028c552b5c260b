"""Reading a table or vector file chunk by chunk, whatever its format and encoding.

Row numbers are the ones a person sees: in a CSV or XLSX the header is row 1 (or
the row it was found on, when a spreadsheet has a title above it) and the first data
row follows it; in GeoJSON/GeoPackage/Shapefile it is the 1-based feature number.

:func:`iter_source` yields a file in chunks of at most ``chunk_rows`` rows and never
holds more of it than one chunk: a CSV goes through pandas' chunked parser (its
encoding checked first in a streaming pass), an XLSX through openpyxl's read-only rows,
a vector file by ranges of features. :func:`read_source` reads a file as one chunk.
"""

from __future__ import annotations

import codecs
import re
import zipfile
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from typing import Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from pandas.io.parsers import TextParser

from geo.errors import RowError, ValidationError
from geo.io.tables import clean_text, match_headers, row_problems

# A spreadsheet's header may sit below a title row or two; look this far down for it.
_HEADER_SEARCH_ROWS = 10
_VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp")
# utf-8-sig also reads plain UTF-8; 12345 exports from Excel on Windows are GBK, which GB18030 contains.
_ENCODINGS = ("utf-8-sig", "gb18030")
#: bytes decoded at a time while a CSV's encoding is checked
_DECODE_BLOCK_BYTES = 1 << 22
_FORMULA_TAG = re.compile(rb"<f[ >/]")


@dataclass
class Chunk:
    """A part of a file's raw content: text cells under the file's own headers, and where its rows are."""

    table: pd.DataFrame
    rows: np.ndarray
    geometry: gpd.GeoSeries | None = None
    excel: bool = False
    #: a spreadsheet's formulas that have no calculated value (the file was never opened in a spreadsheet
    #: program), where ``table`` holds nothing; same shape as ``table``, else None
    formulas: pd.DataFrame | None = None


def iter_source(path: Path, name: str, aliases: dict[str, tuple[str, ...]], *,
                chunk_rows: int | None) -> Iterator[Chunk]:
    """A file's table in chunks of at most ``chunk_rows`` rows (None: one chunk); ``aliases`` mark a spreadsheet's header row.

    The first chunk always comes, empty when the file has a header and no rows, so the
    headers are known. A problem found part-way (a CSV line that cannot be parsed, a
    byte that is no character) raises :class:`~geo.errors.ValidationError` when its
    chunk is read.
    """
    if chunk_rows is not None and chunk_rows < 1:
        raise ValueError(f"chunk_rows={chunk_rows!r}: expected 1 or more, or None")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv_chunks(path, name, chunk_rows)
    if suffix == ".xlsx":
        return _xlsx_chunks(path, name, aliases, chunk_rows)
    if suffix in _VECTOR_SUFFIXES:
        return _vector_chunks(path, name, chunk_rows)
    raise ValidationError(
        f"{name}: unsupported file type {suffix!r}; expected .csv, .xlsx, .geojson, .json, .gpkg or .shp"
    )


def chunk_text(raw: Chunk, found: dict[str, str], *, drop_blank: bool = True) -> tuple[pd.DataFrame, np.ndarray]:
    """The cells of ``found``'s columns (canonical name → the file's header) as cleaned text, and their rows;
    with ``drop_blank``, the lines with no value in any of them are left out (nobody meant to submit them)."""
    data = pd.DataFrame({canonical: clean_text(raw.table[header]) for canonical, header in found.items()})
    if not drop_blank:
        return data, raw.rows
    keep = data.notna().any(axis=1).to_numpy()
    return data[keep].reset_index(drop=True), raw.rows[keep]


def read_source(path: Path, name: str, aliases: dict[str, tuple[str, ...]]) -> Chunk:
    """A file's whole table as one chunk (see :func:`iter_source`)."""
    return next(iter_source(path, name, aliases, chunk_rows=None))


def _encoding(path: Path, name: str) -> str:
    """The first of :data:`_ENCODINGS` that decodes the whole file, checked block by block."""
    for encoding in _ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as file:
                while block := file.read(_DECODE_BLOCK_BYTES):
                    decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise ValidationError(f"{name}: not UTF-8 or GB18030 (GBK) text")


def _csv_chunks(path: Path, name: str, chunk_rows: int | None) -> Iterator[Chunk]:
    encoding = _encoding(path, name)
    # Blank lines are kept so that row numbers match the file; dropped later.
    options = {"encoding": encoding, "dtype": str, "keep_default_na": False, "skip_blank_lines": False}
    try:
        if chunk_rows is None:
            table = pd.read_csv(path, **options)
            yield Chunk(table, np.arange(len(table)) + 2)
            return
        with pd.read_csv(path, chunksize=chunk_rows, **options) as reader:
            for table in reader:
                rows = table.index.to_numpy() + 2
                yield Chunk(table.reset_index(drop=True), rows)
    except pd.errors.EmptyDataError as exc:
        raise ValidationError(f"{name}: the file is empty (no header row)") from exc
    except pd.errors.ParserError as exc:
        raise ValidationError(f"{name}: not a readable CSV file: {exc}") from exc


def _cell_value(cell):
    """A cell's value as pandas' own XLSX reader hands it to its parser (so that text comes out the same)."""
    if cell.value is None:
        return ""
    if cell.data_type == "e":
        return np.nan
    if cell.data_type == "n":
        whole = int(cell.value)
        return whole if whole == cell.value else float(cell.value)
    return cell.value


def _as_text(rows: list[list], width: int) -> pd.DataFrame:
    """Rows of cell values as pandas' XLSX reader makes them: text, missing where empty or an NA word."""
    if not rows:
        return pd.DataFrame(columns=range(width), dtype=object)
    padded = [row[:width] + [""] * (width - len(row)) for row in rows]
    return TextParser(padded, header=None, dtype=str).read().reindex(columns=range(width))


def _formula_text(value) -> str | None:
    text = value if isinstance(value, str) else getattr(value, "text", None)
    return text if isinstance(text, str) and text.startswith("=") else None


def _has_formulas(path: Path) -> bool:
    """Whether any worksheet of a workbook holds a formula (``<f>``), read in blocks."""
    with zipfile.ZipFile(path) as book:
        for member in book.namelist():
            if not (member.startswith("xl/worksheets/") and member.endswith(".xml")):
                continue
            with book.open(member) as sheet:
                tail = b""
                while block := sheet.read(_DECODE_BLOCK_BYTES):
                    if _FORMULA_TAG.search(tail + block):
                        return True
                    tail = block[-3:]
    return False


def _xlsx_chunks(path: Path, name: str, aliases: dict[str, tuple[str, ...]],
                 chunk_rows: int | None) -> Iterator[Chunk]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True, keep_links=False)
        formula_book = load_workbook(path, read_only=True, data_only=False) if _has_formulas(path) else None
    except (ValueError, OSError, KeyError, zipfile.BadZipFile, InvalidFileException) as exc:
        raise ValidationError(f"{name}: not a readable XLSX workbook: {exc}") from exc
    try:
        sheets = [b.worksheets[0] for b in (book, formula_book) if b is not None]
        for sheet in sheets:
            # a read-only sheet trusts the size the file states, which programs often get wrong
            sheet.reset_dimensions()
        values = ([_cell_value(cell) for cell in row] for row in sheets[0].iter_rows())
        formulas = (list(row) for row in sheets[1].iter_rows(values_only=True)) if formula_book else None
        head = list(islice(values, _HEADER_SEARCH_ROWS))
        grid = _as_text(head, max((len(row) for row in head), default=0))
        more = list(islice(values, 1))
        if grid.isna().all().all() and not more:
            raise ValidationError(f"{name}: the first sheet is empty (no header row)")
        values = chain(more, values)
        header_at = 0
        for position in range(len(grid)):
            cells = [str(cell) for cell in grid.iloc[position] if pd.notna(cell)]
            if len(match_headers(cells, aliases)) >= 3:
                header_at = position
                break
        headers = [f"column {i + 1}" if pd.isna(cell) else str(cell) for i, cell in enumerate(grid.iloc[header_at])]
        pending = head[header_at + 1:]
        formula_pending = list(islice(formulas, len(head)))[header_at + 1:] if formulas is not None else []
        # Spreadsheet rows are 1-based: the header is on row header_at + 1.
        first = header_at + 2
        while True:
            wanted = None if chunk_rows is None else max(chunk_rows - len(pending), 0)
            rows = pending + list(values if wanted is None else islice(values, wanted))
            pending = []
            table = _as_text(rows, len(headers)).set_axis(headers, axis=1)
            uncalculated = None
            if formulas is not None:
                texts = formula_pending + list(islice(formulas, len(rows) - len(formula_pending)))
                formula_pending = []
                found = pd.DataFrame([[_formula_text(v) for v in row[:len(headers)]] for row in texts],
                                     columns=range(len(headers)), dtype=object)
                found = found.reindex(index=range(len(rows)), columns=range(len(headers))).set_axis(headers, axis=1)
                uncalculated = found.where(found.notna().to_numpy() & table.isna().to_numpy()).astype("string")
            yield Chunk(table, np.arange(len(rows)) + first, excel=True, formulas=uncalculated)
            first += len(rows)
            if chunk_rows is None or len(rows) < chunk_rows:
                return
    finally:
        for b in (book, formula_book):
            if b is not None:
                b.close()


def formula_problems(raw: Chunk, found: dict[str, str], name: str) -> list[RowError]:
    """One RowError per cell of a used column holding a formula with no calculated value."""
    if raw.formulas is None:
        return []
    return [problem for canonical, header in found.items()
            for problem in row_problems(name, raw.rows, raw.formulas[header].notna(), canonical,
                                     "a formula with no calculated value: open and save the file in Excel or "
                                     "WPS, or paste the values, and import it again", raw.formulas[header])]


def _vector_chunks(path: Path, name: str, chunk_rows: int | None) -> Iterator[Chunk]:
    try:
        total = None if chunk_rows is None else pyogrio.read_info(path, force_feature_count=True)["features"]
        starts = [0] if not total else range(0, total, chunk_rows)
        for start in starts:
            # Dates as text so that offsets survive and one parser handles every format.
            gdf = pyogrio.read_dataframe(path, datetime_as_string=True,
                                         **({} if not total else {"skip_features": start, "max_features": chunk_rows}))
            table = pd.DataFrame(gdf.drop(columns=gdf.geometry.name)).reset_index(drop=True)
            yield Chunk(table, np.arange(len(table)) + start + 1, geometry=gdf.geometry.reset_index(drop=True))
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise ValidationError(f"{name}: not a readable GeoJSON/GeoPackage/Shapefile: {exc}") from exc


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
