"""Timestamps on the wire: RFC 3339 / W3C date-times with an offset, for Open311 and OGC API.

The database holds naive local time (Asia/Shanghai, UTC+08:00, no daylight saving:
see ``geo.clock``). Standard APIs need an explicit offset both ways: outputs carry
``+08:00`` (:func:`geo.clock.rfc3339`, which the notifications' payloads share); inputs
are parsed by :func:`webmap.params.instant`.
"""

from __future__ import annotations

from geo.clock import rfc3339 as to_rfc3339

__all__ = ["to_rfc3339"]
