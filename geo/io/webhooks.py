"""Webhooks on the wire: which URLs may be one, and one signed JSON POST to a receiver.

Each body is signed with the webhook's secret (``X-Citymap-Signature: sha256=<hex
HMAC-SHA256 of the body>``) so a receiver can tell our messages from anybody's, and
carries the message's event key (``X-Citymap-Event``), the same for every attempt, so a
receiver can recognise an event it already has.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from geo.errors import ValidationError

MAX_URL = 2000
#: how much of a refusal's body is kept as the attempt's error
_ERROR_BODY_CHARS = 200


class DeliveryFailed(Exception):
    """A POST that did not end in a 2xx answer: the receiver refused, was unreachable or too slow."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is a failed delivery: urllib would follow it with a GET, without the message."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def check_webhook_url(url: str) -> str:
    """``url`` if it is an absolute ``http``/``https`` URL with a host, else a ValidationError quoting it."""
    parts = urlsplit(url.strip()) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname or len(url) > MAX_URL:
        raise ValidationError(f"webhook URL {str(url)[:100]!r}: expected http:// or https:// with a host, "
                              f"at most {MAX_URL} characters")
    return url.strip()


def signature(secret: str, body: bytes) -> str:
    """The ``X-Citymap-Signature`` value of ``body``: ``sha256=`` and the hex HMAC-SHA256 under ``secret``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def post_json(url: str, body: bytes, *, secret: str, event_key: str, timeout_s: float) -> int:
    """POST a JSON ``body`` to ``url``, signed; returns the HTTP status of a 2xx answer.

    Raises
    ------
    DeliveryFailed
        Any other answer, a refused or dropped connection, or no answer within ``timeout_s`` seconds;
        the message says which.
    """
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": "citymap-notify",
        "X-Citymap-Event": event_key, "X-Citymap-Signature": signature(secret, body)})
    try:
        with _OPENER.open(request, timeout=timeout_s) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        text = exc.read()[:_ERROR_BODY_CHARS].decode("utf-8", "replace")
        raise DeliveryFailed(f"HTTP {exc.code} from {url}: {text}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise DeliveryFailed(f"{url}: {getattr(exc, 'reason', exc)}") from exc
