"""What every table file's reader shares: matching headers, cleaning cells, parsing times, row problems.

Reading the files themselves (CSV, XLSX, vector files, chunk by chunk) is :mod:`geo.io.sources`.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
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
MAX_LISTED_PROBLEMS = 20


def fold_text(text: pd.Series) -> pd.Series:
    """Text compared loosely: NFKC (full-width digits and letters), trimmed, case folded."""
    return text.str.normalize("NFKC").str.strip().str.casefold()


def clean_text(values: pd.Series) -> pd.Series:
    """Cell values as trimmed strings, with empty cells as ``<NA>``."""
    text = values.astype("string").to_numpy(dtype=object, na_value=None)
    # one comprehension: pandas' .str.strip() and mask cost twice as much per cell, a third of an import's reading
    trimmed = np.array([(value.strip() or None) if value is not None else None for value in text], dtype=object)
    return pd.Series(trimmed, index=values.index, dtype="string", name=values.name)


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


def refuse_missing(name: str, missing: list[str], aliases: dict[str, tuple[str, ...]], headers: list[str], *,
                   what: str = "") -> None:
    """Refuse a file without the columns ``missing`` (none: nothing happens): the message names the file, each
    column with the headers that would do, and the headers found; ``what`` says for what (``for a roads layer:``)."""
    if missing:
        wanted = "; ".join(f"{column} ({'/'.join(aliases[column])})" for column in missing)
        raise ValidationError(f"{name}: missing column(s) {what + ' ' if what else ''}{wanted}; "
                              f"headers found: {', '.join(headers) or 'none'}")


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


#: positions of the digits and separators of ``YYYY-MM-DD HH:MM:SS``
_CANONICAL_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18])
_CANONICAL_MARKS = {4: "-", 7: "-", 10: " ", 13: ":", 16: ":"}
#: year, month, day, hour, minute, second: their first digit among the 14 and how many digits they have
_CANONICAL_PARTS = {"year": (0, 4), "month": (4, 2), "day": (6, 2), "hour": (8, 2), "minute": (10, 2), "second": (12, 2)}
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _canonical_stamps(text: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Which values are written ``YYYY-MM-DD HH:MM:SS`` exactly, and those values as ``datetime64[us]``.

    Read off the characters and counted in numpy: exports write every time this way,
    and parsing a million of them with the pattern took seconds. A value of this shape
    that is no real date and time (``2025-02-30``, ``0000-01-01``, ``08:60:00``) is
    ``NaT``, as on the pattern's path (``pd.to_datetime`` would carry ``25:00`` into the
    next day).
    """
    values = text.to_numpy(dtype=object, na_value="")
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    canonical = lengths == 19
    wide = values[canonical].astype("<U19").view(np.uint32).reshape(-1, 19)
    # ASCII only, so that no wider character passes for a digit once cut to one byte
    shaped = (wide < 128).all(axis=1)
    chars = wide.astype(np.uint8)
    digits = chars[:, _CANONICAL_DIGITS] - np.uint8(ord("0"))
    shaped &= (digits <= 9).all(axis=1)
    for at, mark in _CANONICAL_MARKS.items():
        shaped &= chars[:, at] == ord(mark)
    canonical[canonical] = shaped
    digits = digits[shaped].astype(np.int64)
    part = {}
    for name, (first, places) in _CANONICAL_PARTS.items():
        number = digits[:, first]
        for place in range(first + 1, first + places):
            number = number * 10 + digits[:, place]
        part[name] = number
    year, month, day = part["year"], part["month"], part["day"]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _MONTH_DAYS[np.clip(month, 1, 12) - 1] + (leap & (month == 2))
    real = ((year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days) & (part["hour"] <= 23)
            & (part["minute"] <= 59) & (part["second"] <= 59))
    # days since 1970-01-01 of the proleptic Gregorian calendar, counted in 400-year eras from March
    shifted = year - (month <= 2)
    era = shifted // 400
    year_of_era = shifted - era * 400
    day_of_year = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    days = era * 146097 + year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year - 719468
    seconds = days * 86400 + part["hour"] * 3600 + part["minute"] * 60 + part["second"]
    stamps = np.where(real, seconds * 1_000_000, np.iinfo(np.int64).min).view("datetime64[us]")
    return canonical, stamps


def parse_times(text: pd.Series, *, excel: bool) -> pd.Series:
    """Parse date-times to naive Asia/Shanghai time; ``NaT`` where missing or unparseable.

    Accepted: ``2025-03-12 08:30:00``, ``2025/3/12 8:30``, ``2025年3月12日``, ISO 8601
    with ``T`` and an offset or ``Z`` (converted to Asia/Shanghai), and, for
    spreadsheets, Excel day serials.
    """
    canonical, exact = _canonical_stamps(text)
    stamps = pd.Series(np.full(len(text), np.datetime64("NaT"), dtype="datetime64[us]"), index=text.index)
    stamps[canonical] = exact
    # the pattern reads the rest; full-width digits and colons (a Chinese input method's) as ASCII ones
    other = text[~canonical & text.notna().to_numpy()]
    if not len(other):
        return stamps
    parts = other.str.normalize("NFKC").str.extract(_DATETIME)
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
        index=parts.index,
    ).astype("float64")
    # pd.to_datetime would carry 25:00 into the next day
    clock = components[["hour", "minute", "second"]]
    components = components.mask((clock > [23, 59, 59]).any(axis=1))
    stamps[other.index] = pd.to_datetime(components, errors="coerce").astype("datetime64[us]")

    tz = parts["tz"]
    offset = tz.str.extract(r"^(?P<sign>[+-])(?P<hh>\d{2}):?(?P<mm>\d{2})$")
    sign = offset["sign"].map({"+": 1.0, "-": -1.0}).astype("float64")
    offset_min = sign * (pd.to_numeric(offset["hh"]) * 60 + pd.to_numeric(offset["mm"]))
    offset_min = offset_min.mask((tz == "Z").fillna(False), 0.0).dropna()
    if len(offset_min):
        utc = stamps[offset_min.index] - pd.to_timedelta(offset_min, unit="min")
        local = utc.dt.tz_localize("UTC").dt.tz_convert(JURISDICTION_TZ.key).dt.tz_localize(None)
        stamps[offset_min.index] = local

    if excel:
        serial = pd.to_numeric(other.where(other.str.fullmatch(_EXCEL_SERIAL)), errors="coerce")
        serial = serial.where(serial.between(*_EXCEL_SERIAL_RANGE))
        # Day fractions carry float noise (08:29:59.9999); times are kept to the second.
        from_serial = pd.to_datetime(serial, unit="D", origin="1899-12-30").dt.round("s").astype("datetime64[us]")
        stamps = stamps.fillna(from_serial.reindex(stamps.index))
    return stamps
