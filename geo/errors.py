"""Errors that carry a user-facing message and an HTTP status."""

from __future__ import annotations

from dataclasses import dataclass


class CitymapError(Exception):
    """Base error: ``str(err)`` is a message fit to show a user.

    Parameters
    ----------
    message : str
        What went wrong, quoting the bad value.
    status : int, optional
        The HTTP status a web handler answers with; the class default otherwise.
    """

    status = 500

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers an answer of this error carries (none but for :class:`TooManyAttempts`)."""
        return {}


class ValidationError(CitymapError):
    """Input that does not make sense (bad value, unknown code, wrong CRS)."""

    status = 400


class NotFoundError(CitymapError):
    """A thing asked for by identifier does not exist."""

    status = 404


class AuthenticationError(CitymapError):
    """The caller must first say who it is (log in, or send an API key)."""

    status = 401


class ForbiddenError(CitymapError):
    """The caller may not do this."""

    status = 403


class ConflictError(CitymapError):
    """The state changed under the caller (racing transitions, duplicates)."""

    status = 409


class TooManyAttempts(CitymapError):
    """Too many failed logins of a client address or a user name: try again in ``retry_after_s`` seconds."""

    status = 429

    def __init__(self, message: str, *, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s

    @property
    def headers(self) -> dict[str, str]:
        """The HTTP headers of the answer: ``Retry-After``."""
        return {"Retry-After": str(self.retry_after_s)}


class ConfigError(CitymapError):
    """A setting is missing or malformed."""

    status = 500


@dataclass(frozen=True)
class RowError:
    """One rejected input row: where it is and what is wrong with it.

    ``row`` is the 1-based row number as a person sees it in the file (the header
    is row 1 of a CSV/XLSX, so the first data row is row 2); for GeoJSON/GPKG it
    is the 1-based feature number; in an OpenStreetMap extract it is the way's id,
    and ``unit`` is ``"way"``.
    """

    file: str
    row: int
    field: str
    reason: str
    value: str | None = None
    unit: str = "row"

    def __str__(self) -> str:
        shown = "" if self.value is None else f" (value {self.value!r})"
        return f"{self.file}: {self.unit} {self.row}: {self.field}: {self.reason}{shown}"


def checked_text(value: object, name: str, *, label: str, limit: int, required: bool = False) -> str | None:
    """A text field stripped, or None when it is missing or blank; anything else is refused.

    Parameters
    ----------
    value : object
        What the caller sent.
    name, label : str
        The field's name (``note``) and what a Chinese page calls it (备注), both quoted in a refusal.
    limit : int
        The most characters kept.
    required : bool, keyword-only
        Refuse a missing or blank value.

    Raises
    ------
    ValidationError
        Not text, too long, or missing when required; the message is in Chinese with the English after it.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationError(f"请填写{label} ({name} is required)")
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{label}应为文字，而不是 {value!r} ({name} {value!r} is not text)")
    if len(value) > limit:
        raise ValidationError(f"{label}有 {len(value)} 个字符，最多 {limit} 个 ({name} has {len(value)} characters;"
                              f" at most {limit})")
    return value.strip()


class ImportRejected(ValidationError):
    """A strict import, or one with no usable row, was refused; nothing was written."""

    def __init__(self, message: str, errors: list[RowError]):
        super().__init__(message)
        self.errors = errors
