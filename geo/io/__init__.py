"""File formats: reading and validating CSV/XLSX/GeoJSON/GPKG/SHP/GPX, writing exports.

The public surface is this package's namespace (``from geo import io``); one module a
kind of file: :mod:`~geo.io.issues` (12345 exports and other issue lists, every row
checked, coordinates to WGS84), :mod:`~geo.io.layers` (reference layers: good features
kept, bad ones reported, what a file leaves out filled in by :mod:`~geo.io.layer_fill`;
OpenStreetMap extracts through :mod:`~geo.io.osm`), :mod:`~geo.io.tracks` (inspection GPX),
:mod:`~geo.io.calendar`, :mod:`~geo.io.photos` (web uploads), :mod:`~geo.io.webhooks` (signed
JSON POSTs of the notifications) and
:mod:`~geo.io.export` (GeoJSON, GeoPackage, XLSX; phones masked, formulas kept as
text); :mod:`~geo.io.tables` reads any table file and matches its headers.
:mod:`geo.io.ingest` is the use case that takes a file into storage (read, assign,
store, schedule deadlines), and :mod:`geo.io.grid` the one that makes a jurisdiction and its
unit grid from a boundary; they are not re-exported here because they need storage.
"""

from __future__ import annotations

from geo.io.calendar import (  # noqa: F401
    read_calendar_file,
)
from geo.io.export import (  # noqa: F401
    XlsxChart,
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
from geo.io.layer_fill import (  # noqa: F401
    LayerOptions,
)
from geo.io.layers import (  # noqa: F401
    LayerBatch,
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
from geo.io.webhooks import (  # noqa: F401
    DeliveryFailed,
    check_webhook_url,
    post_json,
    signature,
)

__all__ = [
    "CHUNK_ROWS",
    "INSPECTION_KINDS",
    "ISSUE_FILE_COLUMNS",
    "IssueBatch",
    "LayerBatch",
    "LayerOptions",
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
    "XlsxChart",
    "write_xlsx",
    "write_xlsx_with_images",
    # webhooks (issue 16)
    "DeliveryFailed",
    "check_webhook_url",
    "post_json",
    "signature",
]
