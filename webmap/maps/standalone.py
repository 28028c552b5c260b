"""A map as one self-contained HTML file that opens offline (for ``citymap hotspots --map``).

The page is the map shell (:mod:`webmap.maps.shell`) with its document written into it
as JSON — after the page is rendered, so it never passes through a template, and with
``<``, ``>`` and ``&`` escaped, so no value can end its ``<script>`` element. The scripts
and stylesheets that :func:`webmap.assets.localize` points at ``/vendor/…`` are copied
into the page (``<script>`` / ``<style>``), and the images those stylesheets reference
(Leaflet's layer-control icon, …) become ``data:`` URIs. Inlining rather than absolute
``file://`` paths keeps the file working when it is mailed or copied to another machine;
it costs about 250 KB.
"""

from __future__ import annotations

import base64
import mimetypes
import re

from geo.settings import Settings
from webmap.assets import asset_path
from webmap.maps.document import MapDocument, document_json
from webmap.maps.shell import shell_map

_SCRIPT_RE = re.compile(r'<script src="/vendor/([^/"]+)/([^"]+)"></script>')
_STYLE_RE = re.compile(r'<link rel="stylesheet" href="/vendor/([^/"]+)/([^"]+)"/>')
_CSS_URL_RE = re.compile(r"url\((['\"]?)([^)'\"]+)\1\)")


def _read(prefix: str, filename: str) -> str:
    path = asset_path(prefix, filename)
    if path is None:
        raise FileNotFoundError(f"asset /vendor/{prefix}/{filename} is not available")
    return path.read_text(encoding="utf-8")


def _inline_css(prefix: str, filename: str) -> str:
    folder = filename.rsplit("/", 1)[0] + "/" if "/" in filename else ""

    def data_uri(match: re.Match) -> str:
        ref = match.group(2)
        if ref.startswith(("data:", "http:", "https:", "#")):
            return match.group(0)
        path = asset_path(prefix, folder + ref)
        if path is None:
            return match.group(0)
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return f"url(data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')})"

    return _CSS_URL_RE.sub(data_uri, _read(prefix, filename))


def standalone_html(document: MapDocument, settings: Settings) -> str:
    """One HTML file holding the map of ``document`` with its data and every local asset."""
    page = shell_map(settings, None).get_root().render()
    data = f'<script type="application/json" id="citymap-map-data">{document_json(document.as_dict())}</script>'
    # before the map's own script, which starts the renderer; functions as replacements below: the
    # inserted text is taken literally (no backslash processing)
    page = page.replace("<body>", "<body>\n" + data, 1)
    page = _SCRIPT_RE.sub(lambda g: "<script>" + _read(g[1], g[2]).replace("</script", "<\\/script") + "</script>",
                          page)
    return _STYLE_RE.sub(lambda g: f"<style>{_inline_css(g[1], g[2])}</style>", page)
