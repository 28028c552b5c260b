"""Issue files (12345 exports, inspection lists, grid-worker reports): every row checked.

:func:`read_issue_file` converts coordinates to WGS84 (EPSG:4326) and categories to standard
codes, and returns the good rows together with one :class:`~geo.errors.RowError` per problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import COORD_SYSTEMS, convert_to_wgs84
from geo.errors import RowError, ValidationError
from geo.io.layers import _POLYGON_TYPES
from geo.io.tables import (
    clean_text,
    column_of,
    file_coord_system,
    fold_text,
    formula_problems,
    match_headers,
    normalise_system_argument,
    normalise_systems,
    parse_times,
    read_source,
    row_problems,
    system_is_geographic,
    system_is_known,
)
from geo.privacy import PHONE_REFUSED, mask_phones, normalise_phones
from geo.statuses import ISSUE_STATUSES
from geo.taxonomy import load_taxonomy

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
    path = Path(path)
    name = path.name
    default_system = normalise_system_argument(coord_system)
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

    raw = read_source(path, name, _ISSUE_ALIASES)
    vector = raw.geometry is not None
    headers = [str(h) for h in raw.table.columns]
    found = match_headers(headers, _ISSUE_ALIASES)
    _require_issue_columns(found, headers, name, vector=vector)

    data = pd.DataFrame({canonical: clean_text(raw.table[header]) for canonical, header in found.items()})
    rows = raw.rows
    if not vector:
        # Blank spreadsheet lines are not rows anyone meant to submit.
        keep = data.notna().any(axis=1).to_numpy()
        data, rows = data[keep].reset_index(drop=True), rows[keep]

    problems: list[RowError] = formula_problems(raw, found, name)

    external_id = column_of(data, "external_id")
    problems += row_problems(name, rows, external_id.isna(), "external_id", "missing", None)
    repeated = external_id.notna() & external_id.duplicated(keep="first")
    first_row = pd.Series(rows, index=data.index).groupby(external_id).transform("first")
    duplicate_of = "duplicate of row " + first_row.astype("Int64").astype("string")
    problems += row_problems(name, rows, repeated, "external_id", duplicate_of, external_id)

    times, time_problems = _check_times(data, rows, name, excel=raw.excel)
    problems += time_problems

    phone, bad_phone = normalise_phones(column_of(data, "phone"))
    # the refused value is quoted with any phone-shaped run in it masked: error lists are shown and logged
    problems += row_problems(name, rows, bad_phone, "phone", PHONE_REFUSED, mask_phones(column_of(data, "phone")))

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

    wgs_lon, wgs_lat, systems, usable, location_problems = _locate(
        data, raw.geometry, rows, name, default_system=default_system, gazetteer=gazetteer, boundary=boundary
    )
    problems += location_problems
    problems.sort(key=lambda problem: problem.row)
    rejected = np.isin(rows, [problem.row for problem in problems])
    good = ~rejected & usable.to_numpy()

    columns: dict[str, pd.Series] = {
        "external_id": external_id,
        "source": column_of(data, "source").fillna(str(source).strip()),
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
        file_system = file_coord_system(geometry, default_system, name)
        lon, lat, geometry_problems, no_point = _points_from_geometry(geometry, rows, name)
        problems += geometry_problems
        lon_shown, lat_shown = lon.astype("string"), lat.astype("string")
    else:
        file_system = default_system
        lon_text, lat_text = column_of(data, "lon"), column_of(data, "lat")
        lon, lat, number_problems, no_point = _numbers_from_columns(lon_text, lat_text, rows, name)
        problems += number_problems
        # Messages quote the cells as written, not the parsed floats.
        lon_shown, lat_shown = lon_text, lat_text

    systems = pd.Series(file_system, index=data.index, dtype="string")
    if "coord_system" in data:
        per_row = normalise_systems(data["coord_system"])
        known = per_row.notna() & per_row.map(system_is_known, na_action="ignore").fillna(False).astype(bool)
        bad_system = data["coord_system"].notna() & ~known
        problems += row_problems(
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

    address = column_of(data, "address")
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
    problems += row_problems(
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
    problems += row_problems(
        name, rows, failed, point_field, "could not be converted to WGS84 from " + systems.fillna(""), shown
    )
    usable &= ~failed
    if boundary is not None:
        shapely.prepare(boundary)
        inside = shapely.contains_xy(boundary, wgs_lon.fillna(0).to_numpy(), wgs_lat.fillna(0).to_numpy())
        converted = _pair(wgs_lon.round(6).astype("string"), wgs_lat.round(6).astype("string"))
        problems += row_problems(
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
        problems += row_problems(
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
    problems = row_problems(name, rows, text.isna(), "category", "missing", None)
    problems += row_problems(name, rows, unknown, "category", text.map(messages).astype("string"), text)
    return pd.Series(codes, index=text.index, dtype="string").where(~unknown), problems


def _check_status(
    text: pd.Series, times: dict[str, pd.Series], rows: np.ndarray, name: str
) -> tuple[pd.Series, list[RowError]]:
    status = fold_text(text).map(_STATUS_WORDS).astype("string")
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


def _check_rework(text: pd.Series, rows: np.ndarray, name: str) -> tuple[pd.Series, list[RowError]]:
    count = pd.to_numeric(text.str.normalize("NFKC"), errors="coerce")
    bad = text.notna() & ~(count.ge(0) & (count % 1).eq(0)).fillna(False)
    problems = row_problems(name, rows, bad, "rework_count", "not a whole number of 0 or more", text)
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
        problems += row_problems(name, rows, not_number, field_name, "not a number", text)
        numbers.append(number)
    lon, lat = numbers
    # One coordinate without the other cannot be used, nor replaced by an address.
    problems += row_problems(name, rows, lon_text.isna() & lat_text.notna(), "lon", "missing (lat is given)", None)
    problems += row_problems(name, rows, lat_text.isna() & lon_text.notna(), "lat", "missing (lon is given)", None)
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
    problems = row_problems(name, rows, empty, "geometry", "empty geometry", None)
    problems += row_problems(name, rows, not_point, "geometry", "geometry is " + types + ", expected Point", None)
    reasons = pd.Series(shapely.is_valid_reason(values), index=index).astype("string")
    problems += row_problems(name, rows, invalid, "geometry", "invalid geometry: " + reasons.fillna(""), None)
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
    geographic = {system: system_is_geographic(system) for system in systems.dropna().unique()}
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
    problems = row_problems(
        name,
        rows,
        swapped,
        "lon/lat",
        "longitude and latitude look swapped: lat is beyond ±90 and lon would fit it",
        "lon, lat = " + _pair(lon_shown, lat_shown),
    )
    out_lon = degrees & (lon.abs() > 180)
    out_lat = degrees & (lat.abs() > 90) & ~swapped
    problems += row_problems(name, rows, out_lon, "lon", "out of range -180..180", lon_shown)
    problems += row_problems(name, rows, out_lat, "lat", "out of range -90..90", lat_shown)
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
        problems = row_problems(name, rows, wanted, "address", reason, address)
        return lon, lat, found, problems
    places = pd.DataFrame(
        {
            "key": fold_text(gazetteer["name"].astype("string")).str.replace(r"\s+", "", regex=True),
            "lon": pd.to_numeric(gazetteer["lon"], errors="coerce"),
            "lat": pd.to_numeric(gazetteer["lat"], errors="coerce"),
        }
    ).dropna()
    places = places[places["key"] != ""].drop_duplicates("key")
    places = places.iloc[places["key"].str.len().argsort()[::-1]]
    target = fold_text(address).str.replace(r"\s+", "", regex=True)
    # One vectorised pass over all addresses per place name, longest names first, so
    # "金桥花园二期" wins over "金桥花园" and both over a road name.
    for key, place_lon, place_lat in places.itertuples(index=False):
        hit = wanted & ~found & target.str.contains(key, regex=False).fillna(False)
        lon[hit] = place_lon
        lat[hit] = place_lat
        found |= hit
    reason = "no place in the gazetteer matches the address"
    problems = row_problems(name, rows, wanted & ~found, "address", reason, address)
    return lon, lat, found, problems
