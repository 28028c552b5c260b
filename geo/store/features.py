"""Issues as GeoJSON Feature texts written by the database: the feature APIs' pages.

A page of 1,000 issues read as a GeoDataFrame and written out by pandas and shapely
cost ~40 ms of Python a request (frames, timestamps, JSON). Here the database writes
each feature's JSON text itself — PostGIS with ``ST_AsGeoJSON`` and ``to_json``,
SpatiaLite with ``AsGeoJSON`` and ``json_quote`` — and Python only puts the free text
people typed (:data:`~geo.store.base.MASKED_TEXT_COLUMNS`) between the database's
pieces, masked (:func:`geo.privacy.mask_texts`) and quoted (the json module's C string
encoder): no frame, no geometry object, no dict per feature. A feature is what the frame path gives
(``webmap.geojson``): coordinates in WGS84 with at most 6 decimals, times in RFC 3339
with the jurisdiction's offset (:data:`geo.clock.RFC3339_FORMAT`), booleans and whole
numbers as JSON values, missing values ``null``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Sequence

from sqlalchemy import Boolean, Connection, DateTime, Engine, Integer, String, Text, text

from geo.clock import RFC3339_FORMAT
from geo.errors import ValidationError
from geo.issue_filter import IssueFilter
from geo.privacy import mask_texts
from geo.store import models
from geo.store.base import MASKED_TEXT_COLUMNS, _count, _source_where, _with_conn, known_total
from geo.store.db import is_sqlite
from geo.store.issues import ISSUE_READ_COLUMNS, issue_order, issue_where

#: decimals of the coordinates written (≈ 0.1 m), as RFC 7946 suggests
GEOJSON_DECIMALS = 6
#: the properties of an issue feature by default: what :func:`geo.store.query_issues` reads, the id aside
FEATURE_PROPERTIES = tuple(c for c in ISSUE_READ_COLUMNS if c != "id")
# strftime directive → PostgreSQL to_char pattern, for the one time format of the wire
_PG_TIME_PATTERNS = {"%Y": "YYYY", "%m": "MM", "%d": "DD", "%H": "HH24", "%M": "MI", "%S": "SS"}


@dataclass(frozen=True)
class FeaturePage:
    """A page of issue features: their ids and texts in order, and how many issues match (None: not counted)."""

    ids: list[int]
    features: list[str]
    matched: int | None


def issue_features(
    bind: Engine | Connection,
    *,
    jurisdiction_code: str,
    where: IssueFilter | None = None,
    properties: Sequence[str] = FEATURE_PROPERTIES,
    feature_id: bool = True,
    limit: int | None = None,
    offset: int = 0,
    newest_first: bool = False,
    count: bool = False,
) -> FeaturePage:
    """The issues :func:`geo.store.query_issues` reads, as GeoJSON Feature texts.

    Parameters
    ----------
    where : IssueFilter, optional, keyword-only
        Which issues (default: all of the jurisdiction); its bbox uses the spatial index.
    properties : sequence of str, keyword-only
        ``issues`` columns written as properties, in this order: text, whole numbers,
        booleans and times (``id`` among them writes the id as a property too). The free
        text columns (:data:`~geo.store.base.MASKED_TEXT_COLUMNS`) come out with phone
        numbers masked.
    feature_id : bool, keyword-only
        Write the issue id as the feature's ``id`` member.
    limit, offset : int, keyword-only
        The page, in id order (newest report first with ``newest_first``).
    count : bool, keyword-only
        Also say how many issues match the filter (``numberMatched``): known from the
        page itself when it is neither full nor empty past the start, counted in SQL
        otherwise.

    Returns
    -------
    FeaturePage
    """
    pieces = _feature_pieces(properties, feature_id=feature_id)
    where = where or IssueFilter()
    condition, params = issue_where(jurisdiction_code, where)

    order = issue_order(newest_first=newest_first)
    page = "" if limit is None else f" LIMIT {int(limit)} OFFSET {int(offset)}"

    def run(conn: Connection) -> FeaturePage:
        sqlite = is_sqlite(conn)
        source, full_condition = _source_where(conn, "issues", condition, where.bbox, points=True)
        columns = ["t.id", *(_sql_text(piece, sqlite) if isinstance(piece, list) else f"t.{piece}"
                             for piece in pieces)]
        # One scan of the matches (m) gives both the count and the page's ids (p), sorted while they are
        # narrow; the page's rows are then read by id and only they are written as JSON. Counting in a
        # query of its own scanned the matches twice: 1M issues, 500 m boxes, 22 -> 14 ms of the server's time.
        sql = (f"WITH m AS (SELECT t.id, t.reported_at, t.deadline_at FROM {source} WHERE {full_condition}), "
               f"p AS (SELECT t.id FROM m t ORDER BY {order}{page}) "
               f"SELECT {'(SELECT count(*) FROM m)' if count else 'NULL'}, {', '.join(columns)} "
               f"FROM p JOIN issues t ON t.id = p.id ORDER BY {order}")
        rows = conn.execute(text(sql), params).fetchall()
        matched = None
        if count:
            matched = rows[0][0] if rows else known_total(offset=offset, returned=0, limit=limit)
            if matched is None:  # an empty page past the start: how far the matches go is not known
                matched = _count(conn, "issues", where=condition, params=params, bbox=where.bbox, points=True)
        return FeaturePage(ids=[row[1] for row in rows], features=_join(rows, pieces), matched=matched)

    return _with_conn(bind, run)


def _feature_pieces(properties: Sequence[str], *, feature_id: bool) -> list[list[tuple[str, str]] | str]:
    """The feature text as pieces: lists of (kind, value) the database writes, between masked text columns.

    A list holds ``("literal", json_text)`` and ``(kind, column)`` items; a str is a
    masked column read as it is stored. The list comes first and last, so that the
    pieces alternate: database text, masked column, database text, ….
    """
    table = models.Issue.__table__.columns
    unknown = [c for c in properties if c not in table or c == "geom"]
    if unknown:
        raise ValidationError(f"issues have no column(s) {unknown}")
    current: list[tuple[str, str]] = [("literal", '{"type":"Feature",')]
    if feature_id:
        current += [("literal", '"id":'), ("number", "id"), ("literal", ",")]
    current += [("literal", '"geometry":'), ("geometry", "geom"), ("literal", ',"properties":{')]
    pieces: list[list[tuple[str, str]] | str] = []
    for i, column in enumerate(properties):
        current.append(("literal", f'{"," if i else ""}"{column}":'))
        if column in MASKED_TEXT_COLUMNS:
            pieces += [current, column]
            current = []
        else:
            current.append((_kind(table[column].type, column), column))
    current.append(("literal", "}}"))
    return [*pieces, current]


def _kind(column_type, name: str) -> str:
    if isinstance(column_type, Boolean):
        return "boolean"
    if isinstance(column_type, DateTime):
        return "time"
    if isinstance(column_type, Integer):
        return "number"
    if isinstance(column_type, (String, Text)):
        return "text"
    raise ValidationError(f"issue column {name!r} ({column_type}) cannot be written as a feature property")


def _sql_text(piece: list[tuple[str, str]], sqlite: bool) -> str:
    """The SQL expression of a run of feature text (never NULL: a missing value is written ``null``)."""
    parts = []
    for kind, value in piece:
        column = f"t.{value}"
        if kind == "literal":
            parts.append("'" + value.replace("'", "''") + "'")
        elif kind == "geometry":
            parts.append(f"{'AsGeoJSON' if sqlite else 'ST_AsGeoJSON'}({column}, {GEOJSON_DECIMALS})")
        elif kind == "number":
            parts.append(f"coalesce(CAST({column} AS TEXT), 'null')")
        elif kind == "boolean":
            parts.append(f"CASE WHEN {column} IS NULL THEN 'null' WHEN {column} THEN 'true' ELSE 'false' END")
        else:
            if kind == "time":
                column = (f"strftime('{RFC3339_FORMAT}', {column})" if sqlite
                          else f"to_char({column}, '{_pg_time_format(RFC3339_FORMAT)}')")
            parts.append(f"json_quote({column})" if sqlite else f"coalesce(to_json({column})::text, 'null')")
    # PostgreSQL's concat() builds the text once, where each || copies it again (the page's JSON: 7.2 -> 6.2 ms);
    # SQLite has no concat() before 3.44. A colon before a word would be a bind parameter to text() ("+08:00").
    joined = " || ".join(parts) if sqlite else f"concat({', '.join(parts)})"
    return joined.replace(":", "\\:")


def _pg_time_format(strftime_format: str) -> str:
    """A strftime format of :data:`_PG_TIME_PATTERNS` directives as a PostgreSQL ``to_char`` pattern."""
    parts = re.split(r"(%[A-Za-z])", strftime_format)
    out = []
    for part in parts:
        if part in _PG_TIME_PATTERNS:
            out.append(_PG_TIME_PATTERNS[part])
        elif part.startswith("%"):
            raise ValidationError(f"time format {strftime_format!r}: {part!r} has no to_char pattern here")
        elif part:
            out.append('"' + part + '"')
    return "".join(out)


def _join(rows: list, pieces: list) -> list[str]:
    """Each row's feature text: the database's runs with the masked, quoted text columns between them."""
    if not rows:
        return []
    columns = list(zip(*rows))[2:]
    for i, piece in enumerate(pieces):
        if isinstance(piece, str):
            columns[i] = ["null" if v is None else encode_basestring(v) for v in mask_texts(list(columns[i]))]
    return ["".join(parts) for parts in zip(*columns)]
