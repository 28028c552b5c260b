"""A report made on the web (the form or ``POST /api/issues``) becomes an issue.

The same steps as a file import: check the fields, assign the place (cell, segment,
compound, community, grid, zone, department) and the deadline
(:func:`geo.io.ingest.assign_and_schedule`), store it in one transaction
(:func:`geo.store.insert_issues`, source ``web``); then its photos, already checked
and written by :func:`geo.io.save_photo`, are recorded, and its receipt: the tracking
token of the citizen's status page (:func:`geo.store.create_receipt`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from flask import current_app, request

from geo import io, store
from geo.clock import local_now
from geo.errors import ValidationError, checked_text
from geo.io import ingest
from geo.privacy import normalise_phone
from geo.settings import Settings
from webmap import params
from webmap.context import engine_of, layers_of, settings_of

SOURCE = "web"
MAX_DESCRIPTION = 2000
MAX_ADDRESS = 200
MAX_PHONE = 40


@dataclass(frozen=True)
class Filed:
    """A stored report: its issue id and its tracking token (handed out once, never stored)."""

    issue_id: int
    token: str


@dataclass(frozen=True)
class Photo:
    """An uploaded file: its name as the client gave it (for messages) and its bytes."""

    label: str
    data: bytes


def request_photos(field: str = "photos") -> list[Photo]:
    """The files uploaded in the request's multipart ``field`` (empty file inputs left out)."""
    return [Photo(label=f.filename or "photo", data=f.read()) for f in request.files.getlist(field) if f.filename]


def photos_dir(settings: Settings) -> Path:
    """Where uploaded photos are kept: ``<data_dir>/photos``."""
    return Path(settings.data_dir) / "photos"


def save_photos(photos: list[Photo], *, settings: Settings) -> list[tuple[str, str, int]]:
    """Check and store uploaded photos; returns (file name, content type, bytes) of each.

    All are checked before any is written: a bad photo stores none.
    """
    if len(photos) > settings.max_photos:
        raise ValidationError(f"照片太多：最多 {settings.max_photos} 张 ({len(photos)} photos; at most {settings.max_photos})")
    limit = int(settings.max_photo_mb * 1_000_000)
    for photo in photos:
        try:
            io.check_photo(photo.data, max_bytes=limit, label=f"photo {photo.label[:60]!r}")
        except ValidationError as err:
            raise ValidationError(f"照片“{photo.label[:60]}”无法使用：须为不超过 {settings.max_photo_mb:g} MB、"
                                  f"{io.MAX_PHOTO_PIXELS / 1e6:.0f} 百万像素的 JPEG、PNG 或 WebP 图片 "
                                  f"({err.message})") from err
    return [(*io.save_photo(p.data, photos_dir=photos_dir(settings), max_bytes=limit), len(p.data)) for p in photos]


def discard_photos(saved: list[tuple[str, str, int]], *, settings: Settings) -> None:
    """Delete stored photo files (of :func:`save_photos`) whose report or step was refused."""
    for name, _kind, _size in saved:
        (photos_dir(settings) / name).unlink(missing_ok=True)


def record_photos(issue_id: int, saved: list[tuple[str, str, int]], *, actor: str, kind: str | None = None) -> None:
    """Note stored photo files as belonging to an issue, as photos of ``kind`` (``geo.loop.workflow.PHOTO_KINDS``)."""
    settings = settings_of(current_app)
    frame = pd.DataFrame(saved, columns=["file", "content_type", "size_bytes"]).assign(
        issue_id=issue_id, uploaded_by=actor, at=local_now(), kind=kind)
    store.insert_issue_photos(engine_of(current_app), frame, jurisdiction_code=settings.jurisdiction_code)


def create_issue(fields: dict, photos: list[Photo], *, actor: str, user_id: int | None) -> Filed:
    """Check a report, store it as an issue with its photos and its receipt; returns its id and tracking token.

    ``fields``: ``lon``, ``lat`` (WGS84), ``category_code``, ``description``, and
    optionally ``address`` and ``phone`` (normalised, kept apart, masked everywhere).
    ``user_id`` is the submitter's (its 我的上报 lists the report).

    Raises
    ------
    geo.errors.ValidationError
        A missing or bad field (a phone that is not a phone number), a point outside the jurisdiction, a bad
        photo.
    """
    engine, settings = engine_of(current_app), settings_of(current_app)
    lon = params.number(fields, "lon", lo=-180, hi=180, unit="° (WGS84)", required=True)
    lat = params.number(fields, "lat", lo=-90, hi=90, unit="° (WGS84)", required=True)
    description = checked_text(fields.get("description"), "description", label="问题描述", limit=MAX_DESCRIPTION,
                               required=True)
    address = checked_text(fields.get("address"), "address", label="地址", limit=MAX_ADDRESS)
    phone = normalise_phone(checked_text(fields.get("phone"), "phone", label="联系电话", limit=MAX_PHONE))
    saved = save_photos(photos, settings=settings)
    try:
        issue_id = ingest.report_issue(
            engine, layers_of(current_app), settings=settings, source=SOURCE, external_id=f"web-{secrets.token_hex(12)}",
            category_code=fields.get("category_code"), lon=lon, lat=lat, description=description, address=address,
            contact={"phone": phone}, actor=actor, file="web")
    except Exception:
        discard_photos(saved, settings=settings)
        raise
    if saved:
        record_photos(issue_id, saved, actor=actor, kind="report")
    token = store.create_receipt(engine, issue_id, jurisdiction_code=settings.jurisdiction_code, user_id=user_id,
                                 api_key_id=None, now=local_now())
    return Filed(issue_id=issue_id, token=token)
