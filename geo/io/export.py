"""Writing GeoJSON, GeoPackage and XLSX, every phone number masked and every formula kept as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from geo.crs import to_wgs84
from geo.errors import ValidationError
from geo.privacy import mask_phones

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


def write_xlsx(sheets: dict[str, pd.DataFrame], path: str | Path) -> Path:
    """Write tables as sheets of one XLSX workbook, phone numbers in text masked.

    Each sheet's header row is bold and frozen (it stays while the rows scroll) and each
    column is as wide as its longest value (Chinese characters count twice, at most
    :data:`MAX_COLUMN_WIDTH`).

    Parameters
    ----------
    sheets : dict of str to pandas.DataFrame
        Sheet name (at most 31 characters) → table; columns become the header row.
    path : str or pathlib.Path
        A ``.xlsx`` file, replaced if it exists.
    """
    from openpyxl.styles import Font

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
            worksheet = writer.sheets[sheet]
            _keep_formulas_as_text(worksheet, out, texts)
            worksheet.freeze_panes = "A2"
            for cell in worksheet[1]:
                cell.font = Font(bold=True)
            for letter, width in _column_widths(out).items():
                worksheet.column_dimensions[letter].width = width
    return path


#: the widest a column is made (characters)
MAX_COLUMN_WIDTH = 48


def _text_width(values: pd.Series) -> int:
    """The widest value's width in characters, East Asian wide characters counted twice."""
    text = values.astype("string").fillna("")
    wide = text.str.count(r"[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60]")
    return int((text.str.len() + wide).max()) if len(text) else 0


def _column_widths(table: pd.DataFrame) -> dict[str, float]:
    from openpyxl.utils import get_column_letter

    widths = {}
    for position, column in enumerate(table.columns):
        values = table[column]
        if pd.api.types.is_float_dtype(values):
            values = values.round(2)
        longest = max(_text_width(pd.Series([str(column)])), _text_width(values))
        widths[get_column_letter(position + 1)] = min(longest + 2, MAX_COLUMN_WIDTH)
    return widths


@dataclass(frozen=True)
class XlsxChart:
    """A chart of a sheet's table, drawn by the spreadsheet (an openpyxl chart, not a picture).

    Attributes
    ----------
    sheet : str
        The sheet whose table it draws (every row of it).
    kind : {"bar", "column", "line"}
        Horizontal bars, vertical bars or lines.
    title : str
        The chart's title.
    category : str
        The column whose values label the bars or the points.
    values : tuple of str
        The columns drawn, one series each (their headers name the series).
    anchor : str
        The cell of the chart's top-left corner; default: two columns right of the table.
    """

    sheet: str
    kind: str
    title: str
    category: str
    values: tuple[str, ...]
    anchor: str = ""


def _add_chart(worksheet, table: pd.DataFrame, chart: XlsxChart) -> None:
    from openpyxl.chart import BarChart, LineChart, Reference
    from openpyxl.utils import get_column_letter

    if chart.kind not in ("bar", "column", "line"):
        raise ValidationError(f"chart {chart.title!r}: kind {chart.kind!r} is not bar, column or line")
    columns = list(table.columns)
    missing = [c for c in (chart.category, *chart.values) if c not in columns]
    if missing:
        raise ValidationError(f"chart {chart.title!r}: sheet {chart.sheet!r} has no column(s) {missing}")
    drawn = LineChart() if chart.kind == "line" else BarChart()
    if chart.kind != "line":
        drawn.type = "bar" if chart.kind == "bar" else "col"
    drawn.title = chart.title
    rows = max(len(table), 1)
    drawn.height, drawn.width = (max(7.5, 0.55 * rows + 2) if chart.kind == "bar" else 7.5), 16
    for column in chart.values:
        at = columns.index(column) + 1
        drawn.add_data(Reference(worksheet, min_col=at, min_row=1, max_row=rows + 1), titles_from_data=True)
    at = columns.index(chart.category) + 1
    drawn.set_categories(Reference(worksheet, min_col=at, min_row=2, max_row=rows + 1))
    worksheet.add_chart(drawn, chart.anchor or f"{get_column_letter(len(columns) + 2)}2")


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


def write_xlsx_with_images(sheets: dict[str, pd.DataFrame], path: str | Path, *,
                           images: dict[str, bytes], charts: tuple[XlsxChart, ...] = ()) -> Path:
    """:func:`write_xlsx`, then the ``charts`` on their sheets and PNG images on sheets of their own."""
    from io import BytesIO

    from openpyxl import load_workbook
    from openpyxl.drawing.image import Image

    path = write_xlsx(sheets, path)
    book = load_workbook(path)
    for chart in charts:
        if chart.sheet not in sheets:
            raise ValidationError(f"chart {chart.title!r}: no sheet {chart.sheet!r}")
        _add_chart(book[chart.sheet], sheets[chart.sheet], chart)
    for sheet, png in images.items():
        if not 0 < len(sheet) <= 31 or sheet in book.sheetnames:
            raise ValidationError(f"image sheet name {sheet!r} must have 1 to 31 characters and be new")
        book.create_sheet(sheet).add_image(Image(BytesIO(png)), "A1")
    book.save(path)
    return path
