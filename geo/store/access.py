"""API keys, users, sessions, login throttles, and the reporter's contact (revealed on purpose, logged).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

import pandas as pd
from sqlalchemy import Connection, DateTime, Engine, Integer, text

from geo.clock import local_now
from geo.errors import ConflictError, NotFoundError, ValidationError
from geo.store.base import _one, _read_plain, _with_conn
from geo.store.db import write_tx

#: the role of an API key that has no user (made before keys had users): it submits and reads no issue
KEY_WITHOUT_USER_ROLE = "public"


def _key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_api_key(engine: Engine, name: str, *, jurisdiction_code: str, user: str | int | None = None) -> str:
    """Create an API key named ``name`` acting as ``user``; returns the key, which only this call ever sees.

    Parameters
    ----------
    name : str
        What the key is for (1–100 characters), unique in the jurisdiction.
    user : str or int, optional, keyword-only
        The active user of the jurisdiction the key acts as: its name (str) or id
        (int). Without one the key acts as the ``public`` role.

    The database keeps the key's SHA-256. A name already in use is a
    :class:`~geo.errors.ConflictError`; an unknown user a :class:`~geo.errors.NotFoundError`.
    """
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError(f"API key name {name!r}: expected 1–100 characters")
    key = secrets.token_urlsafe(32)
    with write_tx(engine) as conn:
        user_id = None
        if user is not None:
            by = "id" if isinstance(user, int) else "name"
            user_id = conn.execute(text(f"SELECT id FROM users WHERE jurisdiction_code = :j AND {by} = :u AND active"),
                                   {"j": jurisdiction_code, "u": user}).scalar_one_or_none()
            if user_id is None:
                raise NotFoundError(f"user {user!r} not found among the active users of {jurisdiction_code}; "
                                    "create it first (citymap user create)")
        taken = conn.execute(text("SELECT 1 FROM api_keys WHERE jurisdiction_code = :j AND name = :n"),
                             {"j": jurisdiction_code, "n": name}).first()
        if taken:
            raise ConflictError(f"an API key named {name!r} already exists")
        conn.execute(text("INSERT INTO api_keys (jurisdiction_code, name, key_sha256, created_at, user_id) "
                          "VALUES (:j, :n, :h, :at, :u)"),
                     {"j": jurisdiction_code, "n": name, "h": _key_digest(key),
                      "at": local_now(), "u": user_id})
    return key


def api_key_user(bind: Engine | Connection, key: str, *, jurisdiction_code: str) -> dict | None:
    """Who the API key ``key`` acts as, or None if it is no key of the jurisdiction.

    Returns
    -------
    dict or None
        The key's user as :func:`session_user` gives it (:data:`USER_COLUMNS`) plus
        ``key_name`` and ``key_id``. A key without a user gives ``id`` None, ``name`` the key's
        name and role :data:`KEY_WITHOUT_USER_ROLE`. A key of a deactivated user
        gives None, like a wrong key.
    """
    if not key:
        return None
    row = _with_conn(bind, lambda conn: _one(conn.execute(text(
        f"SELECT k.id AS key_id, k.name AS key_name, k.user_id AS key_user_id, "
        f"{', '.join(f'u.{c}' for c in USER_COLUMNS)} "
        "FROM api_keys k LEFT JOIN users u ON u.id = k.user_id WHERE k.key_sha256 = :h AND k.jurisdiction_code = :j"),
        {"h": _key_digest(key), "j": jurisdiction_code})))
    if row is None:
        return None
    key = {"key_name": row.pop("key_name"), "key_id": row.pop("key_id")}
    if row.pop("key_user_id") is None:
        return {"id": None, "jurisdiction_code": jurisdiction_code, "name": key["key_name"],
                "role": KEY_WITHOUT_USER_ROLE, "department_code": None, "active": True, "created_at": None, **key}
    return {**row, **key} if row["active"] else None


#: columns of ``users`` read back (never the password hash, except by :func:`read_login`)
USER_COLUMNS = ("id", "jurisdiction_code", "name", "role", "department_code", "active", "created_at")


def create_user(engine: Engine, *, name: str, password_hash: str, role: str, department_code: str | None,
                jurisdiction_code: str, now: datetime) -> int:
    """Insert a user (checked by :func:`geo.loop.users.check_account`); a name in use is a ConflictError."""
    with write_tx(engine) as conn:
        taken = conn.execute(text("SELECT 1 FROM users WHERE jurisdiction_code = :j AND name = :n"),
                             {"j": jurisdiction_code, "n": name}).first()
        if taken:
            raise ConflictError(f"a user named {name!r} already exists")
        return conn.execute(text(
            "INSERT INTO users (jurisdiction_code, name, password_hash, role, department_code, active, created_at) "
            "VALUES (:j, :n, :h, :r, :d, :a, :at) RETURNING id"),
            {"j": jurisdiction_code, "n": name, "h": password_hash, "r": role, "d": department_code, "a": True,
             "at": now}).scalar_one()


def read_login(bind: Engine | Connection, name: str, *, jurisdiction_code: str) -> dict | None:
    """The active user called ``name`` with its password hash (for logging in), or None."""
    return _with_conn(bind, lambda conn: _one(conn.execute(text(
        f"SELECT {', '.join(USER_COLUMNS)}, password_hash FROM users "
        "WHERE jurisdiction_code = :j AND name = :n AND active"), {"j": jurisdiction_code, "n": name})))


def set_password(engine: Engine, name: str, *, password_hash: str, jurisdiction_code: str) -> int:
    """Give the user called ``name`` a new password hash and end its logins; returns how many ended.

    Raises
    ------
    geo.errors.NotFoundError
        No user of that name in the jurisdiction.
    """
    with write_tx(engine) as conn:
        user_id = conn.execute(text("UPDATE users SET password_hash = :h WHERE jurisdiction_code = :j AND name = :n "
                                    "RETURNING id"), {"h": password_hash, "j": jurisdiction_code, "n": name}).scalar()
        if user_id is None:
            raise NotFoundError(f"user {name!r} not found in {jurisdiction_code}; create it first (citymap user create)")
        # whoever knew the old password and logged in with it is logged out
        return conn.execute(text("DELETE FROM user_sessions WHERE user_id = :u"), {"u": user_id}).rowcount


def read_users(bind: Engine | Connection, *, jurisdiction_code: str) -> pd.DataFrame:
    """The users of a jurisdiction (:data:`USER_COLUMNS`, no password hashes), by name."""
    return _read_plain(bind, f"SELECT {', '.join(USER_COLUMNS)} FROM users WHERE jurisdiction_code = :j ORDER BY name",
                       {"j": jurisdiction_code}, USER_COLUMNS)


def create_session(engine: Engine, *, token_sha256: str, user_id: int, now: datetime, expires_at: datetime,
                   ip: str | None) -> None:
    """Store a login (keyed by the SHA-256 of the cookie's token); expired logins are deleted on the way."""
    with write_tx(engine) as conn:
        conn.execute(text("DELETE FROM user_sessions WHERE expires_at <= :now"), {"now": now})
        conn.execute(text("INSERT INTO user_sessions (token_sha256, user_id, created_at, expires_at, ip) "
                          "VALUES (:t, :u, :now, :e, :ip)"),
                     {"t": token_sha256, "u": user_id, "now": now, "e": expires_at, "ip": ip})


def session_user(bind: Engine | Connection, token_sha256: str, *, now: datetime) -> dict | None:
    """The active user of an unexpired login (:data:`USER_COLUMNS`), or None."""
    columns = ", ".join(f"u.{c}" for c in USER_COLUMNS)
    return _with_conn(bind, lambda conn: _one(conn.execute(text(
        f"SELECT {columns} FROM user_sessions s JOIN users u ON u.id = s.user_id "
        "WHERE s.token_sha256 = :t AND s.expires_at > :now AND u.active"), {"t": token_sha256, "now": now})))


def delete_session(engine: Engine, token_sha256: str) -> int:
    """End a login (logout); returns 1 if it existed."""
    with write_tx(engine) as conn:
        return conn.execute(text("DELETE FROM user_sessions WHERE token_sha256 = :t"), {"t": token_sha256}).rowcount


#: the login throttle's counters: the client's address and the typed user name, locked in this order
LOGIN_SCOPES = ("ip", "name")


@dataclass(frozen=True)
class LoginAttempt:
    """What :func:`reserve_login_attempt` decided.

    ``wait_s`` > 0 refuses the attempt (nothing was counted): that many seconds until
    every counter lets one through. Otherwise the attempt was counted as a failure of
    each key, holding it until ``held[scope]``; :func:`login_succeeded` takes that back.
    """

    keys: dict[str, str]
    now: datetime
    wait_s: float
    held: dict[str, datetime]


def reserve_login_attempt(engine: Engine, *, ip: str, name: str, now: datetime,
                          delay_s: Callable[[str, int], float], forget_before: datetime) -> LoginAttempt:
    """Let one login attempt go ahead, or say how long to wait; atomic across threads and processes.

    In one write transaction: counters whose wait ended before ``forget_before`` are
    forgotten (deleted); the rows of ``ip`` and ``name`` are made or locked (an upsert,
    so two first attempts cannot both insert, and no attempt reads a row another one
    is changing); if either row's ``next_at`` is after ``now`` nothing changes and the
    attempt must wait. Otherwise the attempt counts as a failure of both at once —
    ``failures + 1``, ``next_at = now + delay_s(scope, failures)`` — before its password
    is checked, so of many concurrent guesses only as many pass as the delays let
    through, and an attempt that never finishes stays counted.

    Parameters
    ----------
    ip, name : str
        The keys (cut to the columns' 45 and 60 characters); ``name`` as typed, known or not,
        so that an unknown name behaves like a real one.
    delay_s : callable
        ``(scope, failures) -> seconds`` after the ``failures``-th failure of a key of ``scope``.
    """
    keys = {"ip": ip[:45], "name": name[:60]}
    found: dict[str, tuple[int, datetime]] = {}
    with write_tx(engine) as conn:
        conn.execute(text("DELETE FROM login_throttles WHERE next_at < :old"), {"old": forget_before})
        # always in LOGIN_SCOPES order: two attempts that share a key never wait on each other in a circle
        for scope in LOGIN_SCOPES:
            row = conn.execute(text(
                "INSERT INTO login_throttles (scope, key, failures, next_at) VALUES (:s, :k, 0, :now) "
                "ON CONFLICT (scope, key) DO UPDATE SET failures = login_throttles.failures "
                "RETURNING failures, next_at").columns(failures=Integer, next_at=DateTime),
                {"s": scope, "k": keys[scope], "now": now}).one()
            found[scope] = (row.failures, row.next_at)
        # never longer than the delay its failures set: a clock set back (or a row written by a clock
        # that ran ahead) must not hold an address or a name for years
        wait = max(min((next_at - now).total_seconds(), delay_s(scope, failures))
                   for scope, (failures, next_at) in found.items())
        if wait > 0:
            return LoginAttempt(keys=keys, now=now, wait_s=wait, held={})
        held = {scope: now + timedelta(seconds=delay_s(scope, failures + 1)) for scope, (failures, _) in found.items()}
        for scope, (failures, _) in found.items():
            conn.execute(text("UPDATE login_throttles SET failures = :f, next_at = :until WHERE scope = :s AND key = :k"),
                         {"f": failures + 1, "until": held[scope], "s": scope, "k": keys[scope]})
    return LoginAttempt(keys=keys, now=now, wait_s=0.0, held=held)


def login_succeeded(engine: Engine, attempt: LoginAttempt) -> None:
    """Take back a passed attempt (:func:`reserve_login_attempt`) whose password was right.

    The name's counter starts again with no wait: whatever anybody tried against the
    account, its user is not slowed down afterwards. The address gets back the failure
    the attempt counted, and its wait unless another attempt took a later one since —
    an address is not cleared by a good login, which a guesser could make with an
    account of its own.
    """
    if attempt.wait_s > 0:
        raise ValidationError(f"a refused login attempt (wait {attempt.wait_s:g} s) cannot succeed")
    with write_tx(engine) as conn:
        conn.execute(text(
            "UPDATE login_throttles SET failures = CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END, "
            "next_at = CASE WHEN next_at = :held THEN :now ELSE next_at END WHERE scope = 'ip' AND key = :k"),
            {"held": attempt.held["ip"], "now": attempt.now, "k": attempt.keys["ip"]})
        conn.execute(text("UPDATE login_throttles SET failures = 0, next_at = :now WHERE scope = 'name' AND key = :k"),
                     {"now": attempt.now, "k": attempt.keys["name"]})


def read_contact(bind: Engine | Connection, issue_id: int) -> dict | None:
    """The reporter's contact of an issue (``phone``, ``name``, ``email``), unmasked — callers mask it — or None."""
    return _with_conn(bind, lambda conn: _one(conn.execute(text(
        "SELECT phone, name, email FROM reporter_contacts WHERE issue_id = :i"), {"i": int(issue_id)})))


def reveal_phone(engine: Engine, issue_id: int, *, user_name: str, at: datetime, ip: str | None) -> str | None:
    """The unmasked phone number of an issue's reporter, logged in ``phone_reveals`` in the same transaction.

    Nothing is logged (and None returned) when the issue has no phone number.
    """
    with write_tx(engine) as conn:
        row = conn.execute(text("SELECT c.phone, i.jurisdiction_code FROM reporter_contacts c "
                                "JOIN issues i ON i.id = c.issue_id WHERE c.issue_id = :i"),
                           {"i": int(issue_id)}).first()
        if row is None or not row[0]:
            return None
        conn.execute(text("INSERT INTO phone_reveals (jurisdiction_code, issue_id, user_name, at, ip) "
                          "VALUES (:j, :i, :u, :at, :ip)"),
                     {"j": row[1], "i": int(issue_id), "u": user_name, "at": at, "ip": ip})
        return row[0]


def read_phone_reveals(bind: Engine | Connection, *, jurisdiction_code: str, issue_id: int | None = None) -> pd.DataFrame:
    """The phone-reveal log (``issue_id``, ``user_name``, ``at``, ``ip``), oldest first."""
    params: dict[str, object] = {"j": jurisdiction_code}
    where = "jurisdiction_code = :j"
    if issue_id is not None:
        where += " AND issue_id = :i"
        params["i"] = int(issue_id)
    frame = _read_plain(bind, f"SELECT issue_id, user_name, at, ip FROM phone_reveals WHERE {where} ORDER BY at, id",
                        params, ("issue_id", "user_name", "at", "ip"))
    frame["at"] = pd.to_datetime(frame["at"], format="ISO8601")
    return frame
