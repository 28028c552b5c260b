"""Issue photos uploaded on the web: the type judged by the bytes, the size bounded.
"""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

from geo.errors import ValidationError

#: content type → (file suffix, test of the file's first bytes): the type is judged by the bytes, never by
#: the name or the browser's claim, so a script renamed .jpg is refused
PHOTO_TYPES = {
    "image/jpeg": (".jpg", lambda head: head[:3] == b"\xff\xd8\xff"),
    "image/png": (".png", lambda head: head[:8] == b"\x89PNG\r\n\x1a\n"),
    "image/webp": (".webp", lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP"),
}
#: the most pixels a photo may have (a 50-megapixel phone camera); counted from the file's header, before
#: anything is decoded, so a small file that would decode to gigabytes (a decompression bomb) is refused
MAX_PHOTO_PIXELS = 50_000_000
#: Pillow's name of the format of each content type
_PIL_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
#: a stored photo's name: 32 random hex digits and a suffix of PHOTO_TYPES
PHOTO_NAME_RE = re.compile(r"[0-9a-f]{32}\.(?:jpg|png|webp)")


def photo_type(data: bytes) -> str | None:
    """The content type of a JPEG, PNG or WebP image judged by its magic bytes, or None."""
    head = bytes(data[:12])
    return next((kind for kind, (_suffix, test) in PHOTO_TYPES.items() if test(head)), None)


def check_photo(data: bytes, *, max_bytes: int, label: str = "photo") -> str:
    """The content type of an uploaded photo after checking it.

    Raises
    ------
    geo.errors.ValidationError
        Empty, larger than ``max_bytes``, or not a JPEG/PNG/WebP by its first bytes.
    """
    if not data:
        raise ValidationError(f"{label} is empty")
    if len(data) > max_bytes:
        raise ValidationError(f"{label} is {len(data) / 1e6:.1f} MB; at most {max_bytes / 1e6:.1f} MB")
    kind = photo_type(data)
    if kind is None:
        raise ValidationError(f"{label} is not a JPEG, PNG or WebP image (first bytes {bytes(data[:8]).hex()})")
    width, height = _photo_size(data, kind=kind, label=label)
    if width * height > MAX_PHOTO_PIXELS:
        raise ValidationError(f"{label} is {width} × {height} pixels ({width * height / 1e6:.0f} megapixels); "
                              f"at most {MAX_PHOTO_PIXELS / 1e6:.0f} megapixels")
    return kind


def _photo_size(data: bytes, *, kind: str, label: str) -> tuple[int, int]:
    """(width, height) of a photo in pixels, read from its header (nothing is decoded)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(BytesIO(data), formats=[_PIL_FORMATS[kind]]) as image:
            return image.size
    except Image.DecompressionBombError as exc:
        # Pillow refuses to even open an image of over twice its own limit
        raise ValidationError(f"{label}: {exc}; at most {MAX_PHOTO_PIXELS / 1e6:.0f} megapixels") from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ValidationError(f"{label} is not a readable {kind} image: {exc}") from exc


def save_photo(data: bytes, *, photos_dir: Path, max_bytes: int, label: str = "photo") -> tuple[str, str]:
    """Check an uploaded photo (:func:`check_photo`) and store it under a random name; returns (name, type)."""
    import secrets

    kind = check_photo(data, max_bytes=max_bytes, label=label)
    name = secrets.token_hex(16) + PHOTO_TYPES[kind][0]
    photos_dir = Path(photos_dir)
    photos_dir.mkdir(parents=True, exist_ok=True)
    (photos_dir / name).write_bytes(data)
    return name, kind


def photo_file(photos_dir: Path, name: str) -> Path | None:
    """The stored photo called ``name`` (a :data:`PHOTO_NAME_RE` name, so no path tricks), or None."""
    if not isinstance(name, str) or not PHOTO_NAME_RE.fullmatch(name):
        return None
    path = Path(photos_dir) / name
    return path if path.is_file() else None
