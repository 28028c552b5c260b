"""Where each row of an issue file is: coordinates or an address, checked and converted to WGS84 (EPSG:4326).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import COORD_SYSTEMS, convert_to_wgs84
from geo.errors import RowError, ValidationError
from geo.io.sources import file_coord_system
from geo.io.tables import (
    column_of,
    fold_text,
    normalise_systems,
    row_problems,
    system_is_geographic,
    system_is_known,
)


def locate_rows(
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

    def shown(where: pd.Series) -> pd.Series:
        """What the rows ``where`` were located by, for their messages (missing elsewhere)."""
        return _pair(lon_shown, lat_shown, where).mask(found_at[where], "address " + address[where]).reindex(
            address.index)

    usable = lon.notna() & lat.notna() & ~bad_system
    problems += _range_problems(lon, lat, lon_shown, lat_shown, systems, usable, rows, name)
    usable &= _in_range(lon, lat, systems)

    wgs_lon, wgs_lat = _convert(lon, lat, systems, usable)
    failed = usable & ~(np.isfinite(wgs_lon) & np.isfinite(wgs_lat) & (wgs_lon.abs() <= 180) & (wgs_lat.abs() <= 90))
    problems += row_problems(
        name, rows, failed, point_field,
        ("could not be converted to WGS84 from " + systems[failed].fillna("")).reindex(systems.index), shown(failed)
    )
    usable &= ~failed
    if boundary is not None:
        shapely.prepare(boundary)
        inside = shapely.contains_xy(boundary, wgs_lon.fillna(0).to_numpy(), wgs_lat.fillna(0).to_numpy())
        outside = usable & ~inside
        converted = _pair(wgs_lon.round(6), wgs_lat.round(6), outside)
        problems += row_problems(name, rows, outside, point_field,
                                 "outside the jurisdiction boundary (WGS84 " + converted + ")", shown(outside))

    return wgs_lon, wgs_lat, systems, usable, problems


def check_gazetteer(gazetteer: pd.DataFrame) -> None:
    missing = [column for column in ("name", "lon", "lat") if column not in gazetteer.columns]
    if missing:
        raise ValidationError(
            f"gazetteer lacks column(s) {', '.join(missing)}; it has {', '.join(map(str, gazetteer.columns))}"
        )


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


def _pair(lon: pd.Series, lat: pd.Series, where: pd.Series) -> pd.Series:
    """``"lon, lat"`` (numbers or text) as text for the rows ``where`` (a message's), missing for the others."""
    return (lon[where].astype("string").fillna("?") + ", " + lat[where].astype("string").fillna("?")).reindex(lon.index)


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
        "lon, lat = " + _pair(lon_shown, lat_shown, swapped),
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
