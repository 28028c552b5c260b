"""File formats: reading and validating CSV/XLSX/GeoJSON/GPKG/SHP/GPX, writing exports.

The public surface is this package's namespace (``from geo import io``); one module a
kind of file: :mod:`~geo.io.issues` (12345 exports and other issue lists, every row
checked, coordinates to WGS84), :mod:`~geo.io.layers` (reference layers, refused whole
on any bad feature), :mod:`~geo.io.tracks` (inspection GPX),
:mod:`~geo.io.calendar`, :mod:`~geo.io.photos` (web uploads) and
:mod:`~geo.io.export` (GeoJSON, GeoPackage, XLSX; phones masked, formulas kept as
text); :mod:`~geo.io.tables` reads any table file and matches its headers.
:mod:`geo.io.ingest` is the use case that takes a file into storage (read, assign,
store, schedule deadlines); it is not re-exported here because it needs storage.
"""

from __future__ import annotations

from geo.io.calendar import (  # noqa: F401
    read_calendar_file,
)
from geo.io.export import (  # noqa: F401
    write_frame,
    write_xlsx,
    write_xlsx_with_images,
)
from geo.io.issues import (  # noqa: F401
    CHUNK_ROWS,
    ISSUE_FILE_COLUMNS,
    IssueBatch,
    iter_issue_file,
    read_issue_file,
)
from geo.io.layers import (  # noqa: F401
    read_layer_file,
)
from geo.io.photos import (  # noqa: F401
    MAX_PHOTO_PIXELS,
    PHOTO_NAME_RE,
    PHOTO_TYPES,
    check_photo,
    photo_file,
    photo_type,
    save_photo,
)
from geo.io.tracks import (  # noqa: F401
    INSPECTION_KINDS,
    read_inspection_file,
)

__all__ = [
    "CHUNK_ROWS",
    "INSPECTION_KINDS",
    "ISSUE_FILE_COLUMNS",
    "IssueBatch",
    "MAX_PHOTO_PIXELS",
    "PHOTO_NAME_RE",
    "PHOTO_TYPES",
    "check_photo",
    "photo_file",
    "photo_type",
    "read_calendar_file",
    "read_inspection_file",
    "iter_issue_file",
    "read_issue_file",
    "read_layer_file",
    "save_photo",
    "write_frame",
    "write_xlsx",
    "write_xlsx_with_images",
]
