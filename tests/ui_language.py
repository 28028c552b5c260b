"""What a reader sees of a page, and which of its words are not in the page's language.

The UI-language tests read a page's visible text (and the attributes a reader meets:
``title``, ``alt``, ``placeholder``, ``aria-label``, button values), leave out what is
code (``script``, ``style``, ``code``, ``pre``) and what is data (elements marked
``data-value``, whose text came from a user or a file), and report what is left in the
other language: English words on a Chinese page, Chinese characters on an English one.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

#: words that stay as they are on a Chinese page: codes, units, formats, standards and names
ALLOWED_ENGLISH = frozenset({
    "citymap", "English", "GPX", "API", "Open311", "OGC", "GeoJSON", "GeoPackage", "Excel", "XLSX", "CSV", "PDF",
    "JPEG", "PNG", "WebP", "MB", "KB", "km", "m", "min", "h", "Gi", "GB", "QGIS", "WGS84", "GCJ", "AMap", "OpenAPI",
    "OSM", "ID", "FDR", "SpatiaLite", "PostGIS", "Leaflet", "OpenStreetMap", "Tianditu",
})
_SKIPPED = {"script", "style", "code", "pre", "noscript", "template"}
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_READ_ATTRIBUTES = ("title", "alt", "placeholder", "aria-label")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[A-Za-z]")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")


class _Reader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._stack: list[tuple[str, bool]] = []

    def _hidden(self) -> bool:
        return any(hidden for _tag, hidden in self._stack)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        hidden = tag in _SKIPPED or "data-value" in attributes
        if not hidden and not self._hidden():
            self.texts += [attributes[a] for a in _READ_ATTRIBUTES if attributes.get(a)]
            if tag == "input" and attributes.get("type") in ("submit", "button") and attributes.get("value"):
                self.texts.append(attributes["value"])
        if tag not in _VOID:
            self._stack.append((tag, hidden))

    def handle_endtag(self, tag):
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                del self._stack[i:]
                break

    def handle_data(self, data):
        if not self._hidden() and data.strip():
            self.texts.append(data)


def visible_text(html: str) -> list[str]:
    """The pieces of text a reader meets on the page, data values and code left out."""
    reader = _Reader()
    reader.feed(html)
    return reader.texts


def english_words(html: str, *, allow: frozenset[str] | set[str] = frozenset()) -> set[str]:
    """English words of a Chinese page outside :data:`ALLOWED_ENGLISH` and ``allow``."""
    allowed = ALLOWED_ENGLISH | set(allow)
    return {w for text in visible_text(html) for w in _WORD.findall(text) if w not in allowed}


def chinese_runs(html: str, *, allow: frozenset[str] | set[str] = frozenset()) -> set[str]:
    """Runs of Chinese characters on an English page outside ``allow`` (the language switch's 中文 is allowed)."""
    allowed = {"中文"} | set(allow)
    return {run for text in visible_text(html) for run in _CJK.findall(text) if run not in allowed}
