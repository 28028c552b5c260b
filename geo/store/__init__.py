"""Storage: the database's tables read and written as frames, on SpatiaLite and PostGIS alike.

The public surface is this package's namespace (``from geo import store``;
``store.query_issues(...)``); each table's functions live in a module of their own:

* :mod:`~geo.store.layers` reference layers, :mod:`~geo.store.issues` issues (reads,
  counts, the import's insert), :mod:`~geo.store.bulk` the bulk-load paths,
  :mod:`~geo.store.loop` the closed loop's locked state, events and photos,
  :mod:`~geo.store.greening`, :mod:`~geo.store.coverage` (frontage units, inspections),
  :mod:`~geo.store.access` (API keys, users, sessions, login throttles, contacts),
  :mod:`~geo.store.calendar` (working days);
* :mod:`~geo.store.db` engines, migrations (``geo/store/migrations``) and write
  transactions, :mod:`~geo.store.models` the schema, :mod:`~geo.store.sqlite_rtree`
  the packed R*Tree of SpatiaLite.

Where the two databases differ (bulk insert, the spatial-index query) the dialect's
fastest path is taken. Geometries go in and out as WKB in WGS84 lon/lat (SRID 4326).
Free text people typed is read back with the phone numbers in it masked
(:func:`geo.privacy.mask_phones`): every page, map, API and export reads through
here, so none can show one. The reporter's contact (:func:`read_contact`,
:func:`reveal_phone`) is the one deliberate exception; its callers mask it.
"""

from __future__ import annotations

from geo.store.access import (  # noqa: F401
    KEY_WITHOUT_USER_ROLE,
    LOGIN_SCOPES,
    USER_COLUMNS,
    LoginAttempt,
    api_key_user,
    create_api_key,
    create_session,
    create_user,
    delete_session,
    login_succeeded,
    read_contact,
    read_login,
    read_phone_reveals,
    read_users,
    reserve_login_attempt,
    reveal_phone,
    session_user,
    set_password,
)
from geo.store.base import (  # noqa: F401
    BOOLEAN_COLUMNS,
    CONTACT_COLUMNS,
    LIFECYCLE_EVENTS,
    MASKED_TEXT_COLUMNS,
    STORED_ISSUE_COLUMNS,
    TIMESTAMP_COLUMNS,
)
from geo.store.bulk import (  # noqa: F401
    BULK_CACHE_KIB,
    COPY_CHUNK_ROWS,
    REBUILD_INDEXES_ROWS,
    copy_csv,
    hex_ewkb_points,
    spatialite_point_blobs,
    z_order,
)
from geo.store.keys import FirstSeen  # noqa: F401
from geo.store.calendar import (  # noqa: F401
    read_calendar_days,
    read_provisional_deadlines,
    replace_calendar_years,
    update_deadlines,
)
from geo.store.coverage import (  # noqa: F401
    FRONTAGE_COLUMNS,
    INSPECTION_COLUMNS,
    insert_inspections,
    purge_inspections,
    read_frontage_units,
    read_inspections,
    replace_frontage_units,
)
from geo.store.greening import (  # noqa: F401
    GREENING_PLAN_COLUMNS,
    GREENING_RECORD_COLUMNS,
    GreeningLoad,
    insert_greening_records,
    read_greening_plan,
    read_greening_records,
    replace_greening_plan,
)
from geo.store.issues import (  # noqa: F401
    ASSIGNMENT_COLUMNS,
    ISSUE_READ_COLUMNS,
    IssueLoad,
    LoadResult,
    count_issues,
    count_issues_by,
    count_rows,
    insert_issues,
    issue_id_of,
    issue_time_range,
    load_issues,
    query_issues,
    update_assignment,
)
from geo.store.layers import (  # noqa: F401
    count_layer,
    extent,
    layer_version,
    read_layer,
    replace_layers,
    replace_some_layers,
)
from geo.store.loop import (  # noqa: F401
    ISSUE_STATE_COLUMNS,
    PHOTO_COLUMNS,
    insert_issue_event,
    insert_issue_photos,
    issue_state,
    lock_row,
    read_issue_events,
    read_issue_photos,
    update_issue_if_status,
)

__all__ = [
    "ASSIGNMENT_COLUMNS",
    "BOOLEAN_COLUMNS",
    "BULK_CACHE_KIB",
    "CONTACT_COLUMNS",
    "COPY_CHUNK_ROWS",
    "FRONTAGE_COLUMNS",
    "GREENING_PLAN_COLUMNS",
    "GREENING_RECORD_COLUMNS",
    "FirstSeen",
    "GreeningLoad",
    "INSPECTION_COLUMNS",
    "STORED_ISSUE_COLUMNS",
    "ISSUE_READ_COLUMNS",
    "ISSUE_STATE_COLUMNS",
    "KEY_WITHOUT_USER_ROLE",
    "LIFECYCLE_EVENTS",
    "LOGIN_SCOPES",
    "IssueLoad",
    "LoadResult",
    "LoginAttempt",
    "MASKED_TEXT_COLUMNS",
    "PHOTO_COLUMNS",
    "REBUILD_INDEXES_ROWS",
    "TIMESTAMP_COLUMNS",
    "USER_COLUMNS",
    "api_key_user",
    "copy_csv",
    "count_issues",
    "count_issues_by",
    "count_layer",
    "count_rows",
    "create_api_key",
    "create_session",
    "create_user",
    "delete_session",
    "extent",
    "hex_ewkb_points",
    "insert_greening_records",
    "insert_inspections",
    "insert_issue_event",
    "insert_issue_photos",
    "insert_issues",
    "issue_id_of",
    "issue_state",
    "issue_time_range",
    "layer_version",
    "load_issues",
    "lock_row",
    "login_succeeded",
    "purge_inspections",
    "query_issues",
    "read_calendar_days",
    "read_contact",
    "read_frontage_units",
    "read_greening_plan",
    "read_greening_records",
    "read_inspections",
    "read_issue_events",
    "read_issue_photos",
    "read_layer",
    "read_login",
    "read_phone_reveals",
    "read_provisional_deadlines",
    "read_users",
    "replace_calendar_years",
    "replace_frontage_units",
    "replace_greening_plan",
    "replace_layers",
    "replace_some_layers",
    "reserve_login_attempt",
    "reveal_phone",
    "session_user",
    "set_password",
    "spatialite_point_blobs",
    "update_assignment",
    "update_deadlines",
    "update_issue_if_status",
    "z_order",
]
