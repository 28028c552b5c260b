"""Report receipts: the tracking token of a citizen's report (kept as its SHA-256 only) and who filed it.

A token is made here, handed to the submitter once and never stored: the status page
finds the report by the token's digest, so a copy of the database opens no status
page and the tokens cannot be listed. The submitter's user (我的上报) and API key
(reading one's own Open311 request) are the only other things kept.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Sequence

from sqlalchemy import Connection, Engine, text

from geo.store.access import _key_digest
from geo.store.base import _in_clause, _with_conn
from geo.store.db import write_tx

#: what a token looks like (secrets.token_urlsafe(32): 43 characters of the URL-safe base64 alphabet)
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{20,100}")
TOKEN_BYTES = 32


def create_receipt(engine: Engine, issue_id: int, *, jurisdiction_code: str, user_id: int | None,
                   api_key_id: int | None, now: datetime) -> str:
    """Make the tracking token of the report ``issue_id`` and store its receipt; returns the token (only this
    call ever sees it).

    ``user_id`` is the logged-in submitter, ``api_key_id`` the API key that filed it (either may be None).
    """
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with write_tx(engine) as conn:
        conn.execute(text("INSERT INTO report_receipts (issue_id, jurisdiction_code, token_sha256, user_id, "
                          "api_key_id, created_at) VALUES (:i, :j, :h, :u, :k, :at)"),
                     {"i": int(issue_id), "j": jurisdiction_code, "h": _key_digest(token), "u": user_id,
                      "k": api_key_id, "at": now})
    return token


def receipt_issue(bind: Engine | Connection, token: str, *, jurisdiction_code: str) -> int | None:
    """The report a tracking token belongs to, or None (a malformed token is looked up no further)."""
    if not isinstance(token, str) or not TOKEN_RE.fullmatch(token):
        return None
    return _with_conn(bind, lambda conn: conn.execute(text(
        "SELECT issue_id FROM report_receipts WHERE token_sha256 = :h AND jurisdiction_code = :j"),
        {"h": _key_digest(token), "j": jurisdiction_code}).scalar_one_or_none())


def _submitter(user_id: int | None, api_key_id: int | None, params: dict) -> str:
    """``user_id = :u OR api_key_id = :k`` of the ids given (at least one)."""
    parts = []
    if user_id is not None:
        parts.append("user_id = :u")
        params["u"] = int(user_id)
    if api_key_id is not None:
        parts.append("api_key_id = :k")
        params["k"] = int(api_key_id)
    return "(" + " OR ".join(parts) + ")"


def own_report_ids(bind: Engine | Connection, *, jurisdiction_code: str, user_id: int | None = None,
                   api_key_id: int | None = None, ids: Sequence[int] | None = None, since: datetime | None = None,
                   until: datetime | None = None, limit: int = 1000) -> list[int]:
    """The reports filed by the user ``user_id`` or with the API key ``api_key_id``, newest first.

    ``ids`` keeps those among them; ``since``/``until`` bound when they were filed
    (``[since, until)``); at most ``limit`` ids. Nobody (both None) filed none.
    """
    if user_id is None and api_key_id is None:
        return []
    params: dict[str, object] = {"j": jurisdiction_code, "n": int(limit)}
    where = ["jurisdiction_code = :j", _submitter(user_id, api_key_id, params),
             *_in_clause("issue_id", None if ids is None else [int(i) for i in ids], params, "i")]
    if since is not None:
        where.append("created_at >= :since")
        params["since"] = since
    if until is not None:
        where.append("created_at < :until")
        params["until"] = until
    rows = _with_conn(bind, lambda conn: conn.execute(text(
        f"SELECT issue_id FROM report_receipts WHERE {' AND '.join(where)} ORDER BY created_at DESC, issue_id DESC "
        "LIMIT :n"), params).fetchall())
    return [int(r[0]) for r in rows]
