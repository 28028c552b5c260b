"""Issue files (12345 exports, inspection lists, grid-worker reports): every row checked.

:func:`read_issue_file` converts coordinates to WGS84 (EPSG:4326) and categories to standard
codes, and returns the good rows together with one :class:`~geo.errors.RowError` per problem;
:func:`iter_issue_file` does the same a chunk of rows at a time, so that a file of any size
is read in bounded memory (a case number repeated in a later chunk is still a repeat).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from itertools import chain
from typing import Iterator

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import RowError, ValidationError
from geo.io.layers import _POLYGON_TYPES
from geo.io.locate import check_gazetteer, locate_rows
from geo.io.sources import Chunk, chunk_text, formula_problems, iter_source
from geo.io.tables import (
    column_of,
    fold_text,
    match_headers,
    normalise_system_argument,
    parse_times,
    refuse_missing,
    row_problems,
)
from geo.privacy import PHONE_REFUSED, mask_phones, normalise_phones
from geo.statuses import ISSUE_STATUSES
from geo.store.keys import FirstSeen
from geo.taxonomy import load_taxonomy

#: rows an import reads, checks and stores at a time (geo.io.ingest): what its memory holds of a file
CHUNK_ROWS = 30_000

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
ISSUE_FILE_COLUMNS = (
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


@dataclass
class IssueBatch:
    """The outcome of reading one issue file.

    Attributes
    ----------
    frame : geopandas.GeoDataFrame
        The good rows, EPSG:4326 points. Columns :data:`ISSUE_FILE_COLUMNS`
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
    return next(iter_issue_file(path, coord_system=coord_system, boundary=boundary, source=source,
                                gazetteer=gazetteer, taxonomy=taxonomy, chunk_rows=None))


def iter_issue_file(
    path: str | Path,
    *,
    coord_system: str = "wgs84",
    boundary: shapely.Geometry | None = None,
    source: str = "12345",
    gazetteer: pd.DataFrame | None = None,
    taxonomy=None,
    chunk_rows: int | None = CHUNK_ROWS,
) -> Iterator[IssueBatch]:
    """:func:`read_issue_file` a chunk of at most ``chunk_rows`` rows at a time (None: the whole file at once).

    The arguments are checked, the file opened and its headers matched when this is
    called; each chunk is read and checked when the iterator reaches it, and yields
    an :class:`IssueBatch` of its good rows and its problems (the first chunk always
    comes, so a file with a header and no rows yields one empty batch). A case number
    repeated anywhere after its first row is a problem of the later row.
    """
    path = Path(path)
    name = path.name
    default_system = normalise_system_argument(coord_system)
    if not str(source).strip():
        raise ValidationError(f"source {source!r} must not be empty")
    if gazetteer is not None:
        check_gazetteer(gazetteer)
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

    chunks = iter_source(path, name, _ISSUE_ALIASES, chunk_rows=chunk_rows)
    first = next(chunks)
    headers = [str(h) for h in first.table.columns]
    found = match_headers(headers, _ISSUE_ALIASES)
    _require_issue_columns(found, headers, name, vector=first.geometry is not None)
    check = {"found": found, "name": name, "seen": FirstSeen(), "default_system": default_system,
             "source": str(source).strip(), "gazetteer": gazetteer, "boundary": boundary, "taxonomy": taxonomy}
    return (_check_chunk(raw, **check) for raw in chain([first], chunks))


def _check_chunk(raw: Chunk, *, found: dict[str, str], name: str, seen: FirstSeen, default_system: str, source: str,
                 gazetteer: pd.DataFrame | None, boundary: shapely.Geometry | None, taxonomy) -> IssueBatch:
    """The good rows and the problems of one chunk of an issue file (``seen``: the case numbers of earlier rows)."""
    vector = raw.geometry is not None
    # a vector file's feature is a row whatever its attributes (it has a point)
    data, rows = chunk_text(raw, found, drop_blank=not vector)

    problems: list[RowError] = formula_problems(raw, found, name)

    external_id = column_of(data, "external_id")
    problems += row_problems(name, rows, external_id.isna(), "external_id", "missing", None)
    first_row = pd.Series(seen.first_rows(external_id, rows), index=data.index)
    duplicate_of = "duplicate of row " + first_row.astype("string")
    problems += row_problems(name, rows, first_row >= 0, "external_id", duplicate_of, external_id)

    times, time_problems = _check_times(data, rows, name, excel=raw.excel)
    problems += time_problems

    typed_phone = column_of(data, "phone")
    phone, bad_phone = normalise_phones(typed_phone)
    # the refused value is quoted with any phone-shaped run in it masked: error lists are shown and logged
    problems += row_problems(name, rows, bad_phone, "phone", PHONE_REFUSED,
                             mask_phones(typed_phone[bad_phone]).reindex(typed_phone.index))

    category_code, category_problems = _check_categories(column_of(data, "category"), rows, name, taxonomy)
    problems += category_problems

    status = None
    if "status" in data:
        status, status_problems = _check_status(data["status"], times, rows, name)
        problems += status_problems
    rework = None
    if "rework_count" in data:
        rework, rework_problems = _check_rework(data["rework_count"], rows, name)
        problems += rework_problems

    wgs_lon, wgs_lat, systems, usable, location_problems = locate_rows(
        data, raw.geometry, rows, name, default_system=default_system, gazetteer=gazetteer, boundary=boundary
    )
    problems += location_problems
    problems.sort(key=lambda problem: problem.row)
    rejected = np.isin(rows, [problem.row for problem in problems])
    good = ~rejected & usable.to_numpy()

    columns: dict[str, pd.Series] = {
        "external_id": external_id,
        "source": column_of(data, "source").fillna(source),
        "source_system": systems,
        "reported_at": times["reported_at"],
        "category_code": category_code,
        "description": column_of(data, "description"),
        "address": column_of(data, "address"),
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
    for text_column in (*ISSUE_FILE_COLUMNS, "status"):
        if text_column in frame and text_column != "reported_at":
            frame[text_column] = frame[text_column].astype("str")
    points = gpd.points_from_xy(wgs_lon[good], wgs_lat[good], crs="EPSG:4326")
    return IssueBatch(gpd.GeoDataFrame(frame, geometry=points, crs="EPSG:4326"), problems, name)


def _require_issue_columns(found: dict[str, str], headers: list[str], name: str, *, vector: bool) -> None:
    missing = [canonical for canonical in ("external_id", "reported_at", "category") if canonical not in found]
    has_point = vector or ("lon" in found and "lat" in found)
    if not has_point and "address" not in found:
        missing += [canonical for canonical in ("lon", "lat") if canonical not in found] + ["address"]
    refuse_missing(name, missing, _ISSUE_ALIASES, headers)


def _check_times(
    data: pd.DataFrame, rows: np.ndarray, name: str, *, excel: bool
) -> tuple[dict[str, pd.Series], list[RowError]]:
    problems: list[RowError] = []
    times: dict[str, pd.Series] = {}
    expected = "not a date-time (expected e.g. 2025-03-12 08:30:00)"
    reported_text = data["reported_at"]
    reported = parse_times(reported_text, excel=excel)
    problems += row_problems(name, rows, reported_text.isna(), "reported_at", "missing", None)
    problems += row_problems(name, rows, reported_text.notna() & reported.isna(), "reported_at", expected, reported_text)
    times["reported_at"] = reported
    for stamp in _LIFECYCLE_TIMES:
        if stamp not in data:
            continue
        text = data[stamp]
        parsed = parse_times(text, excel=excel)
        problems += row_problems(name, rows, text.notna() & parsed.isna(), stamp, expected, text)
        early = (parsed < reported).fillna(False)
        # the message quotes the report's time: written for the rows it concerns only
        problems += row_problems(name, rows, early, stamp, "earlier than reported_at "
                                 + reported[early].dt.strftime("%Y-%m-%d %H:%M:%S").reindex(text.index), text)
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
    problems = row_problems(name, rows, text.isna(), "category", "missing", None)
    problems += row_problems(name, rows, unknown, "category", text.map(messages).astype("string"), text)
    return pd.Series(codes, index=text.index, dtype="string").where(~unknown), problems


def _check_status(
    text: pd.Series, times: dict[str, pd.Series], rows: np.ndarray, name: str
) -> tuple[pd.Series, list[RowError]]:
    status = _by_distinct(text, lambda values: fold_text(values).map(_STATUS_WORDS)).astype("string")
    unknown = text.notna() & status.isna()
    accepted = f"unknown status; accepted: {', '.join(ISSUE_STATUSES)} or their Chinese names"
    problems = row_problems(name, rows, unknown, "status", accepted, text)
    # An empty status cell means "as far as the timestamps say".
    derived = pd.Series("reported", index=text.index, dtype="string")
    # Later stages overwrite earlier ones; each column is named after its status.
    for stamp in _LIFECYCLE_TIMES:
        if stamp in times:
            derived = derived.mask(times[stamp].notna(), stamp.removesuffix("_at"))
    return status.where(text.notna(), derived), problems


def _by_distinct(text: pd.Series, convert) -> pd.Series:
    """``convert`` (Series → Series) applied to each distinct value of ``text`` once, as a column like ``text``.

    A state or a count repeats on every row of an export: a million rows hold a handful of them.
    """
    distinct = pd.Series(text.dropna().unique(), dtype="string")
    return text.map(dict(zip(distinct, convert(distinct))))


def _check_rework(text: pd.Series, rows: np.ndarray, name: str) -> tuple[pd.Series, list[RowError]]:
    count = _by_distinct(text, lambda values: pd.to_numeric(values.str.normalize("NFKC"), errors="coerce"))
    count = pd.to_numeric(count)
    bad = text.notna() & ~(count.ge(0) & (count % 1).eq(0)).fillna(False)
    problems = row_problems(name, rows, bad, "rework_count", "not a whole number of 0 or more", text)
    # An empty cell means the issue was never sent back.
    return count.where(~bad).fillna(0).astype("int64"), problems


