"""OGC API – Features read by the real QGIS client: the OAPIF provider of Debian's python3-qgis loads the
issues layer from a live server the way a GIS user adds it in QGIS, and what it shows is compared with the
database — every issue the caller's key reads, the fields, a bbox asked of the server, and an anonymous
client that reads the reference layers but no issue.

python3-qgis only exists for Debian's interpreter (/usr/bin/python3), not for the virtualenv's Python, so
QGIS runs in a subprocess: a small script (:data:`QGIS_SCRIPT`) loads the layers headless
(``QT_QPA_PLATFORM=offscreen``, its profile in a temporary HOME) and writes what it read as JSON.
``scripts/setup_system.sh test`` installs python3-qgis, so a missing QGIS fails here instead of skipping.

QGIS 3.22 (Debian bookworm) cannot add an HTTP header to an OAPIF layer (no ``http-header:`` URI keys,
no QgsHttpHeaders yet, and none of its auth methods sends ``X-API-Key``), so the key goes in the ``api_key``
query parameter of the landing page URL, ``url='…/ogcapi?api_key=…' typename='issues'``: QGIS repeats that
query on every request it makes (API description, collection, each items page; qgis/QGIS#38436), which
the supervisor's test checks in the live server's request log.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import subprocess
from pathlib import Path

import pytest
import requests

from geo import store
from geo.issue_filter import IssueFilter
from geo.loop import users

#: Debian's interpreter, the only one python3-qgis is built for
SYSTEM_PYTHON = "/usr/bin/python3"
BBOX = (117.35, 39.09, 117.36, 39.10)
#: the issue attributes the script reports per feature (all of them for 20000 issues would be megabytes)
KEPT = ["external_id", "category_code", "status", "department_code", "reported_at"]

#: Run by SYSTEM_PYTHON: argv[1] a JSON list of layers ({"uri", "typename", "bbox", "keep"}), argv[2] where to
#: write, per layer, what QGIS read. A layer is loaded as QGIS adds it by default: the whole collection is
#: downloaded page by page (100 features a page) and a rectangle filtered from that cache. With a ``bbox``,
#: the rectangle is also read through a second layer with ``restrictToRequestBBOX='1'`` (the "only request
#: features overlapping the view extent" option), which sends it to the server as ``bbox``.
QGIS_SCRIPT = r'''
import json
import sys

from qgis.core import (Qgis, QgsApplication, QgsFeatureRequest, QgsProviderRegistry, QgsRectangle, QgsVectorLayer,
                       QgsWkbTypes)
from qgis.PyQt.QtCore import QDateTime, Qt, QVariant


def plain(value):
    """A QGIS attribute as JSON: NULL → None, a date-time as ISO 8601 in UTC+8 (the API's zone)."""
    if value is None or (isinstance(value, QVariant) and value.isNull()):
        return None
    if isinstance(value, QDateTime):
        # QGIS 3.22 keeps the wall time of "…+08:00" as a local time; a QGIS that keeps the offset
        # (or converts to UTC) is brought back to UTC+8 so that both compare with the database
        if value.timeSpec() in (Qt.UTC, Qt.OffsetFromUTC):
            value = value.toOffsetFromUtc(8 * 3600)
        return value.toString("yyyy-MM-ddTHH:mm:ss")
    return value


def features(layer, keep, request=None):
    out = []
    for feature in layer.getFeatures(request or QgsFeatureRequest()):
        geometry = feature.geometry()
        point = geometry.asPoint() if geometry.type() == QgsWkbTypes.PointGeometry else None
        out.append({"attributes": {name: plain(feature[name]) for name in keep},
                    "xy": None if point is None else [point.x(), point.y()]})
    return out


def read(spec):
    # layer.error() crashes QGIS 3.22 for an invalid OAPIF layer: why it is invalid is in the message log
    layer = QgsVectorLayer(spec["uri"], spec["typename"], "OAPIF")
    out = {"valid": layer.isValid()}
    if not layer.isValid():
        return out
    out["fields"] = layer.fields().names()
    out["types"] = {field.name(): field.typeName() for field in layer.fields()}
    out["crs"] = layer.crs().authid()
    out["feature_count"] = layer.dataProvider().featureCount()
    out["features"] = features(layer, spec["keep"])
    if spec.get("bbox"):
        rect = QgsRectangle(*spec["bbox"])
        out["bbox_cached"] = features(layer, ["external_id"], QgsFeatureRequest().setFilterRect(rect))
        asked = QgsVectorLayer(spec["uri"] + " restrictToRequestBBOX='1'", spec["typename"], "OAPIF")
        out["bbox_asked"] = features(asked, ["external_id"], QgsFeatureRequest().setFilterRect(rect))
    return out


app = QgsApplication([], False)
app.initQgis()
log = []
QgsApplication.messageLog().messageReceived.connect(lambda message, tag, level: log.append([tag, message]))
assert "OAPIF" in QgsProviderRegistry.instance().providerList()
layers = [read(spec) for spec in json.loads(sys.argv[1])]
app.processEvents()
with open(sys.argv[2], "w", encoding="utf-8") as out:
    json.dump({"layers": layers, "log": log, "version": Qgis.version()}, out, ensure_ascii=False)
app.exitQgis()
'''


@functools.cache
def _qgis_missing() -> str | None:
    """Why SYSTEM_PYTHON does not import qgis.core, or None when it does (asked once per session)."""
    try:
        done = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        return f"{SYSTEM_PYTHON} does not exist"
    return None if done.returncode == 0 else done.stderr.strip()[-500:]


def _uri(live_server: str, typename: str, key: str | None = None) -> str:
    """An OAPIF layer URI: the landing page (with the key as ``api_key``, which QGIS repeats on every
    request) and the collection."""
    url = f"{live_server}/ogcapi" + (f"?api_key={key}" if key else "")
    return f"url='{url}' typename='{typename}'"


def _qgis_read(tmp_path: Path, layers: list[dict]) -> dict:
    """What QGIS read of ``layers`` (see QGIS_SCRIPT), in a fresh QGIS process. A test fails (never skips)
    without QGIS: the set-up installs it, and a skip would hide a missing install step."""
    missing = _qgis_missing()
    if missing:
        pytest.fail(f"QGIS's Python bindings do not import with {SYSTEM_PYTHON} ({missing}); "
                    f"`scripts/setup_system.sh test` installs python3-qgis")
    home, runtime = tmp_path / "home", tmp_path / "runtime"
    home.mkdir()
    runtime.mkdir(mode=0o700)  # Qt warns about a runtime dir that others may read
    script, out = tmp_path / "read_with_qgis.py", tmp_path / "qgis.json"
    script.write_text(QGIS_SCRIPT, encoding="utf-8")
    # a clean environment: none of the virtualenv's PYTHON* variables, no proxy between QGIS and 127.0.0.1
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "QT_QPA_PLATFORM": "offscreen",
           "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime), "NO_PROXY": "*", "no_proxy": "*"}
    done = subprocess.run([SYSTEM_PYTHON, str(script), json.dumps(layers), str(out)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"QGIS script failed ({done.returncode}):\n{done.stderr[-3000:]}"
    return json.loads(out.read_text(encoding="utf-8"))


def _api_properties(live_server: str, key: str) -> list[str]:
    """The property names of an issue feature as the API answers them to ``key``."""
    answer = requests.get(f"{live_server}/ogcapi/collections/issues/items", params={"limit": 1},
                          headers={"X-API-Key": key}, timeout=30)
    assert answer.status_code == 200, answer.text[:500]
    [feature] = answer.json()["features"]
    return list(feature["properties"])


def _requested_paths(caplog) -> list[str]:
    """The paths (with query) of the requests the live server logged during the test."""
    paths = []
    for record in caplog.records:
        if record.name == "werkzeug":
            found = re.search(r"(?:GET|HEAD|POST) (/\S*) HTTP/", record.getMessage())
            paths += [found.group(1)] if found else []
    return paths


def _by_external_id(features: list[dict]) -> dict[str, dict]:
    """QGIS's features by external id (unique, like the id QGIS 3.22 does not show as a field)."""
    keyed = {f["attributes"]["external_id"]: f for f in features}
    assert len(keyed) == len(features), "QGIS read an issue twice"
    return keyed


def test_qgis_reads_every_issue_with_a_supervisor_key(live_server, sample_engine, sample_db, api_keys, tmp_path, caplog):
    """A supervisor's key reads every issue: QGIS shows each with its attributes and point, and a rectangle
    holds the issues the database has there, whether QGIS filters its cache or asks the server."""
    caplog.set_level(logging.INFO, logger="werkzeug")  # the live server's request log: what QGIS asked
    j = sample_db.jurisdiction_code
    key = api_keys["supervisor"]
    read = _qgis_read(tmp_path, [{"uri": _uri(live_server, "issues", key), "typename": "issues",
                                               "bbox": list(BBOX), "keep": KEPT}])
    [layer] = read["layers"]
    assert layer["valid"], (read["version"], read["log"])
    expected = store.query_issues(sample_engine, jurisdiction_code=j)

    # QGIS sent the key with every request, paged through the items and asked the server for the bbox
    paths = _requested_paths(caplog)
    items = [path for path in paths if path.startswith("/ogcapi/collections/issues/items")]
    assert paths and all(f"api_key={key}" in path for path in paths), paths[:5]
    assert any("offset=" in path for path in items), items[:5]
    assert any("bbox=" in path for path in items), items[:5]

    # the fields are the properties the API answers, in its order; the id is the feature id, not a field
    properties = _api_properties(live_server, key)
    assert layer["fields"] == properties
    assert set(properties) == set(store.ISSUE_READ_COLUMNS) - {"id"}
    assert layer["types"]["reported_at"] == "DateTime"
    assert layer["crs"] == "EPSG:4326"

    # every issue, once, more than QGIS's 100-feature pages hold
    got = _by_external_id(layer["features"])
    read_count, expected_count = len(got), len(expected)
    assert layer["feature_count"] == read_count == expected_count > 100
    assert set(got) == set(expected["external_id"])
    for row in expected.itertuples():
        feature = got[row.external_id]
        assert feature["attributes"] == {"external_id": row.external_id, "category_code": row.category_code,
                                         "status": row.status, "department_code": row.department_code,
                                         "reported_at": f"{row.reported_at:%Y-%m-%dT%H:%M:%S}"}, row.external_id
        assert feature["xy"] == pytest.approx([row.geometry.x, row.geometry.y], abs=1e-6), row.external_id

    # the rectangle: the issues inside it, from QGIS's cache and from the server's bbox alike
    inside = store.query_issues(sample_engine, jurisdiction_code=j, where=IssueFilter(bbox=BBOX))
    assert len(inside) > 100  # the server's answer to the bbox takes more than one page
    for name in ("bbox_cached", "bbox_asked"):
        ids = [f["attributes"]["external_id"] for f in layer[name]]
        assert len(ids) == len(set(ids)) and sorted(ids) == sorted(inside["external_id"]), name
        assert all(BBOX[0] <= f["xy"][0] <= BBOX[2] and BBOX[1] <= f["xy"][1] <= BBOX[3] for f in layer[name])


def test_qgis_with_a_department_key_reads_its_departments_issues_only(live_server, sample_engine, sample_db, api_keys,
                                                                      tmp_path):
    """A sanitation user's key: QGIS reads the issues of sanitation and of its child departments
    (:func:`geo.loop.users.owned_departments`), none other, in the whole layer and in the bbox."""
    j = sample_db.jurisdiction_code
    own = users.owned_departments("sanitation")
    assert len(own) > 1  # the parent and its children
    read = _qgis_read(tmp_path, [{"uri": _uri(live_server, "issues", api_keys["sanitation"]),
                                               "typename": "issues", "bbox": list(BBOX), "keep": KEPT}])
    [layer] = read["layers"]
    assert layer["valid"], (read["version"], read["log"])
    expected = store.query_issues(sample_engine, jurisdiction_code=j, where=IssueFilter(departments=own))
    assert 0 < len(expected) < store.count_issues(sample_engine, jurisdiction_code=j)
    got = _by_external_id(layer["features"])
    read_count, expected_count = len(got), len(expected)
    assert layer["feature_count"] == read_count == expected_count
    assert set(got) == set(expected["external_id"])
    assert {f["attributes"]["department_code"] for f in layer["features"]} == set(own)
    inside = store.query_issues(sample_engine, jurisdiction_code=j, where=IssueFilter(bbox=BBOX, departments=own))
    assert len(inside) > 0
    for name in ("bbox_cached", "bbox_asked"):
        assert sorted(f["attributes"]["external_id"] for f in layer[name]) == sorted(inside["external_id"]), name


def test_qgis_without_a_key_reads_the_reference_layers_but_no_issue(live_server, sample_engine, sample_db, api_keys,
                                                                    tmp_path):
    """No key: the issues layer does not load (the items answer 401, which QGIS logs); the roads, public
    within the intranet, load whole. A ``public`` role's key loads the issues layer with no feature."""
    j = sample_db.jurisdiction_code
    roads = store.read_layer(sample_engine, "roads", jurisdiction_code=j)
    read = _qgis_read(tmp_path, [
        {"uri": _uri(live_server, "issues"), "typename": "issues", "keep": []},
        {"uri": _uri(live_server, "roads"), "typename": "roads", "keep": ["road_id"]},
        {"uri": _uri(live_server, "issues", api_keys["citizen"]), "typename": "issues", "keep": KEPT},
    ])
    anonymous_issues, anonymous_roads, public_issues = read["layers"]
    assert anonymous_issues == {"valid": False}
    assert any(tag == "OAPIF" and "authentication" in message.lower() for tag, message in read["log"]), read["log"]
    assert anonymous_roads["valid"], read["log"]
    assert anonymous_roads["feature_count"] == len(anonymous_roads["features"]) == len(roads) > 0
    assert sorted(f["attributes"]["road_id"] for f in anonymous_roads["features"]) == sorted(roads["road_id"])
    assert public_issues["valid"] and public_issues["features"] == [] and public_issues["feature_count"] == 0
