"""What a layer file leaves out, filled in: keys, road classes, flags, the jurisdiction.

Files from surveyors, from OpenStreetMap or from a district's GIS carry their geometry
and, often, a name and little else. :func:`geo.io.layers.read_layer_file` takes them:
each column the registry (:data:`geo.layers.LAYERS`) asks for and the file lacks is made
here from what the file has, the options of the import and the settings, and every such
guess is reported as a line of the import summary — never silently.

Keys made from a feature (:func:`made_keys`) are a digest of its geometry (WGS84
degrees to 7 decimals, about a centimetre) and its name: the same file imported again,
or a later edition in which a street did not move, gives the same street the same key,
whatever the order of its rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import ValidationError
from geo.layers import DEFAULT_ROAD_CLASS, ROAD_CLASS_WORDS, ROAD_CLASSES

#: hex digits of a made key's digest: 48 bits, so that 100,000 streets of a city share none
_DIGEST_HEX = 12
#: WGS84 decimals a made key's geometry is read to (≈ 1 cm), so that a re-projected copy keeps its keys
_KEY_DECIMALS = 7
#: digits of a community's number within its jurisdiction (reference: 9 + 3 = 12 characters)
COMMUNITY_NUMBER_DIGITS = 3


@dataclass(frozen=True)
class LayerOptions:
    """How to read what a layer file leaves out (``citymap import`` flags).

    Attributes
    ----------
    jurisdiction_code : str, optional
        The settings' 9-digit code: the ``jurisdiction_code`` of a file without one, and the first nine
        characters of community codes numbered or completed here.
    id_column : str, optional
        The file's column holding the layer's key (``road_id`` or ``code``), under any header.
    default_class : str
        The road class of a road whose file gives none (a class of :data:`geo.layers.ROAD_CLASSES` or a word
        of :data:`geo.layers.ROAD_CLASS_WORDS`, e.g. ``支路``).
    priority, oneway : tuple of str
        Roads (names or ids) that are priority roads / one-way along their drawing, besides the file's own
        ``is_priority`` / ``oneway`` columns.
    """

    jurisdiction_code: str | None = None
    id_column: str | None = None
    default_class: str = DEFAULT_ROAD_CLASS
    priority: tuple[str, ...] = ()
    oneway: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        word = str(self.default_class).strip().casefold()
        if word not in ROAD_CLASS_WORDS:
            raise ValidationError(f"default road class {self.default_class!r} is unknown; accepted: "
                                  f"{', '.join(ROAD_CLASSES)} or 主干路/次干路/支路/背街小巷")
        object.__setattr__(self, "default_class", ROAD_CLASS_WORDS[word])
        if self.id_column is not None and not str(self.id_column).strip():
            raise ValidationError("--id-column is empty: give the header of the column holding the ids")
        for flag in ("priority", "oneway"):
            names = tuple(str(v).strip() for v in getattr(self, flag) if str(v).strip())
            object.__setattr__(self, flag, names)


@dataclass
class LayerSource:
    """A layer file's raw content, before any column is checked.

    Attributes
    ----------
    table : pandas.DataFrame
        Cells under the file's own headers.
    geometry : geopandas.GeoSeries
        One geometry per row, in the file's CRS.
    rows : numpy.ndarray of int64
        What a person finds each feature by: its 1-based number, or an OpenStreetMap way's id.
    unit : str
        ``"row"``, or ``"way"`` for an OpenStreetMap extract (:class:`geo.errors.RowError`).
    guesses : list of str
        What reading the file already guessed (an extract's names, one-way rules, clipping).
    left_out : dict
        Reason → features the reader dropped before any check (pieces outside the boundary, …).
    """

    table: pd.DataFrame
    geometry: gpd.GeoSeries
    rows: np.ndarray
    unit: str = "row"
    guesses: list[str] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=dict)


def made_keys(geometry_wgs84: np.ndarray, names: pd.Series, *, prefix: str) -> pd.Series:
    """Keys of features that came without one: ``prefix`` and 12 hex digits of a digest of geometry and name.

    Parameters
    ----------
    geometry_wgs84 : numpy.ndarray of shapely geometries
        EPSG:4326; read to 7 decimals.
    names : pandas.Series
        The features' names (``<NA>`` counts as no name).
    prefix : str, keyword-only
        E.g. ``"R"`` for roads.

    Returns
    -------
    pandas.Series of str
        Same index as ``names``; equal features (same line, same name) get equal keys.
    """
    shapes = pd.Series(shapely.to_wkt(geometry_wgs84, rounding_precision=_KEY_DECIMALS, trim=True),
                       index=names.index, dtype="string")
    text = names.astype("string").fillna("") + "\x1f" + shapes.fillna("")
    # a standard digest, not pandas' hash: a key must stay the same across library versions
    digests = [hashlib.blake2b(value.encode("utf-8"), digest_size=_DIGEST_HEX // 2).hexdigest().upper()
               for value in text.tolist()]
    return pd.Series(digests, index=names.index, dtype="string").radd(prefix)


def numbered_community_codes(geometry_wgs84: np.ndarray, *, jurisdiction_code: str,
                             index: pd.Index) -> pd.Series:
    """Placeholder codes of communities that came without: the jurisdiction's code and 001, 002, …

    Numbered north→south by a point inside each (west→east on equal latitude), as unit
    cells are; the district's real codes replace them when known.
    """
    points = shapely.point_on_surface(geometry_wgs84)
    order = np.lexsort((shapely.get_x(points), -shapely.get_y(points)))
    number = np.empty(len(order), dtype="int64")
    number[order] = np.arange(1, len(order) + 1)
    if len(order) >= 10 ** COMMUNITY_NUMBER_DIGITS:
        raise ValidationError(f"{len(order)} communities cannot be numbered with {COMMUNITY_NUMBER_DIGITS} digits")
    return pd.Series(number, index=index).astype("string").str.zfill(COMMUNITY_NUMBER_DIGITS).radd(jurisdiction_code)


def completed_community_codes(codes: pd.Series, *, jurisdiction_code: str) -> tuple[pd.Series, int]:
    """Community codes of 1–3 digits (a community's number) completed with the jurisdiction's code.

    Returns the codes and how many were completed; 12-character codes stay as they are.
    """
    short = codes.str.fullmatch(rf"\d{{1,{COMMUNITY_NUMBER_DIGITS}}}").fillna(False)
    completed = codes.where(~short, jurisdiction_code + codes.str.zfill(COMMUNITY_NUMBER_DIGITS))
    return completed, int(short.sum())


def named_flags(names: pd.Series, keys: pd.Series, wanted: tuple[str, ...]) -> tuple[pd.Series, list[str]]:
    """Which features a flag (``--priority 津北公路,先锋东路``) names, by name or key; and the words naming none."""
    chosen = names.isin(wanted) | keys.isin(wanted)
    known = set(names.dropna()) | set(keys.dropna())
    return chosen.fillna(False).astype(bool), [word for word in wanted if word not in known]


def counted(values: pd.Series, *, most: int = 6) -> str:
    """``path 3, cycleway 2, …``: the distinct values of a column and how often each occurs, most frequent first."""
    tally = values.astype("string").fillna("(empty)").value_counts(sort=True)
    shown = ", ".join(f"{value} {count}" for value, count in tally.iloc[:most].items())
    return shown + (f", … ({len(tally) - most} more)" if len(tally) > most else "")
