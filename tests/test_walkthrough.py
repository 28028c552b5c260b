"""The README's walkthrough, run as written: its commands on the made-up office files, its printed output
compared line by line with the page, then the service it ends with, over HTTP and in Chromium.

Also the CLI of issue 18 beyond the walkthrough: a line file with a name column and nothing
else imports and sweeps.
"""

from __future__ import annotations

import os
import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pytest
import requests
from click.testing import CliRunner
from shapely.geometry import LineString

from geo.layers import OSM_HIGHWAY_CLASSES
from geo.sample.office_files import HOSTILE_NAME
from webmap.cli import main

ROOT = Path(__file__).resolve().parents[1]
CONSOLE_SCRIPT = Path(sys.executable).parent / "citymap"
SECTION = "## An office's own files to a running service"


def _readme_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(SECTION)
    return text[start:text.index("\n## ", start + len(SECTION))]


def walkthrough() -> list[tuple[str, list[str]]]:
    """The README's console block: (command, the lines it prints) in order."""
    block = re.search(r"```console\n(.*?)```", _readme_section(), re.S)[1]
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


#: what differs from run to run or branch to branch, and what the README writes instead
VARYING = ((r"schema revision \w+", "schema revision N"), (r"http://127\.0\.0\.1:\d+/", "http://127.0.0.1:PORT/"),
           (r"sqlite:////\S+/var/", "sqlite:///…/var/"))


def shown(output: str) -> list[str]:
    """Output as a terminal leaves it: the import's progress bar, which it erases when done, is gone;
    the schema revision, the port and the database's folder are made the same (:data:`VARYING`)."""
    lines = [line.split("\r")[-1].rstrip() for line in output.splitlines()]
    lines = [line for line in lines if line.strip() and not re.search(r"\d+%\|.*\| \d+/\d+ \[|\d+ rows \[", line)]
    for pattern, replacement in VARYING:
        lines = [re.sub(pattern, replacement, line) for line in lines]
    return lines


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def walked(tmp_path_factory):
    """Run the walkthrough in a fresh folder; its server stays up for the module's tests."""
    folder = tmp_path_factory.mktemp("walkthrough")
    env = {key: value for key, value in os.environ.items() if not key.startswith("CITYMAP_")}
    printed: list[tuple[str, list[str], list[str]]] = []
    server = None
    for command, expected in walkthrough():
        words = shlex.split(command)
        if words[0] in (".", "source"):
            output = ""
        elif words[0] == "export":
            key, value = words[1].split("=", 1)
            env[key] = value
            output = ""
        elif words[0] == "python":
            done = subprocess.run([sys.executable, str(ROOT / words[1]), *words[2:]], cwd=folder, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
            assert done.returncode == 0, done.stdout
            output = done.stdout
        elif words[:2] == ["citymap", "serve"]:
            port = _free_port()
            server = subprocess.Popen([str(CONSOLE_SCRIPT), *words[1:], "--port", str(port)], cwd=folder, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            output = server.stdout.readline()
        else:
            assert words[0] == "citymap", command
            cwd = os.getcwd()
            os.chdir(folder)
            try:
                result = CliRunner().invoke(main, words[1:], env={**{k: None for k in os.environ
                                                                    if k.startswith("CITYMAP_")}, **{
                    k: v for k, v in env.items() if k.startswith("CITYMAP_")}})
            finally:
                os.chdir(cwd)
            assert result.exit_code == 0, (command, result.output, result.exception)
            output = result.output
        printed.append((command, shown("\n".join(expected)), shown(output)))
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            requests.get(f"{base}/login", timeout=2)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    yield {"printed": printed, "base": base, "folder": folder}
    server.terminate()
    server.wait(timeout=30)


def test_the_readme_walkthrough_prints_what_the_page_says(walked):
    commands = [command for command, _, _ in walked["printed"]]
    assert commands[-1] == "citymap serve" and any(c.startswith("citymap grid build") for c in commands)
    for command, expected, actual in walked["printed"]:
        assert actual == expected, f"$ {command}\n" + "\n".join(actual)


def test_the_service_it_ends_with_serves_the_imported_layers_and_issues(walked):
    session = requests.Session()
    session.headers["Accept-Language"] = "zh-CN"
    login = session.post(f"{walked['base']}/login", json={"name": "主任", "password": "a-long-password-2026"}, timeout=30)
    assert login.status_code == 200, login.text
    home = session.get(f"{walked['base']}/", timeout=60)
    assert home.status_code == 200 and "金桥街道（示例一角）" in home.text
    issues = session.get(f"{walked['base']}/api/issues", timeout=60).json()
    assert len(issues["features"]) == 6
    assert {f["properties"]["cell_code"][:12] for f in issues["features"]} <= {"120110900001", "120110900002"}
    answer = session.get(f"{walked['base']}/maps/overview/data", timeout=60)
    # the hostile street name reaches the map as data: escaped in the JSON sent, intact once decoded
    assert answer.status_code == 200 and "</script>" not in answer.text and "<" not in answer.text
    roads = [layer for layer in answer.json()["layers"] if layer["name"] == "道路"][0]
    names = {feature["properties"]["name"] for feature in roads["data"]["features"]}
    assert HOSTILE_NAME in names and "津北公路" in names and "幸福里" in names


@pytest.mark.browser
def test_the_overview_map_of_the_walkthrough_in_chromium(walked, page_watch):
    page, errors, outside = page_watch
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{walked['base']}/login", wait_until="domcontentloaded")
    page.fill("#login-name", "主任")
    page.fill("#login-password", "a-long-password-2026")
    page.click("#login-button")
    page.wait_for_load_state("domcontentloaded")
    page.goto(f"{walked['base']}/maps/overview", wait_until="networkidle")
    page.wait_for_function("window.citymapMap && citymapMap.drawn && citymapMap.drawn.length > 0")
    tooltips = page.evaluate("""() => {
      const out = [];
      citymapMap.drawn.forEach(d => d.layer.eachLayer && d.layer.eachLayer(l => {
        if (l.getTooltip && l.getTooltip()) { l.openTooltip(); out.push(l.getTooltip().getElement().textContent); }
      }));
      return out;
    }""")
    assert any(HOSTILE_NAME in text for text in tooltips), tooltips[:20]
    assert dialogs == [] and errors == [] and outside == []
    assert page.evaluate("typeof window.cmPwned") == "undefined"


def test_the_readme_has_the_highway_table_the_import_uses():
    rows = re.findall(r"^\| ((?:`\w+`(?:, )?)+) \| `(\w+)` \|$", _readme_section(), re.M)
    table = {tag.strip("`"): road_class for tags, road_class in rows for tag in tags.split(", ")}
    assert table == OSM_HIGHWAY_CLASSES


def test_a_line_file_with_only_a_name_imports_and_sweeps(tmp_path, walked):
    # two streets crossing inside the walkthrough's boundary, and a lane off one of them (which, as in any
    # digitised network, has a vertex where the lane meets it)
    streets = gpd.GeoDataFrame({"name": ["东西街", "南北街", "小胡同"]}, geometry=[
        LineString([(117.3510, 39.0980), (117.3580, 39.0980), (117.3600, 39.0980)]),
        LineString([(117.3550, 39.0960), (117.3550, 39.1000)]),
        LineString([(117.3580, 39.0980), (117.3580, 39.0965)])], crs=4326)
    path = tmp_path / "streets.geojson"
    streets.to_file(path, driver="GeoJSON")
    env = {key: None for key in os.environ if key.startswith("CITYMAP_")} | {
        "CITYMAP_DATA_DIR": str(walked["folder"] / "var" / "jinqiao")}
    imported = CliRunner().invoke(main, ["import", str(path), "--kind", "roads"], env=env)
    assert imported.exit_code == 0, imported.output
    lines = imported.stdout.splitlines()
    # 东西街 (777 m) cut at 南北街 and at the lane's end into 345 + 259 + 173 m: 2 + 2 + 1 pieces; 南北街 (444 m)
    # at 东西街: 2 + 2; the lane (167 m): 1
    assert lines[0] == f"roads: 3 features loaded from {path}, cut into 10 segments of at most 200 m"
    assert "  guess: road_class: no class column (road_class/等级/道路等级/class/fclass/highway); every road taken " \
           "as branch (--default-class)" in lines
    assert any(line.startswith("  guess: road_id: no id column; made from each feature's geometry") for line in lines)
    out = tmp_path / "sweep.geojson"
    swept = CliRunner().invoke(main, ["route", "sweep", "--roads", str(path), "--depot", "117.3510,39.0980",
                                      "--oneway", "小胡同", "--ignore-oneway", "--out", str(out)], env=env)
    assert swept.exit_code == 0, swept.output
    assert "guess: oneway: 1 road(s) named by --oneway" in swept.stdout
    assert re.search(r"total \d+ m, required \d+ m, deadhead \d+ m", swept.stdout)
    route = gpd.read_file(out)
    assert (route["kind"] == "route").sum() == 1


def test_a_layer_import_keeps_its_good_features_unless_strict(tmp_path, walked):
    env = {key: None for key in os.environ if key.startswith("CITYMAP_")} | {
        "CITYMAP_DATA_DIR": str(walked["folder"] / "var" / "jinqiao")}
    streets = gpd.GeoDataFrame({"名称": ["好街", "路" * 101], "等级": ["支路", "主干路"]}, geometry=[
        LineString([(117.3510, 39.0970), (117.3600, 39.0970)]),
        LineString([(117.3530, 39.0960), (117.3530, 39.1000)])], crs=4326)
    path = tmp_path / "streets.geojson"
    streets.to_file(path, driver="GeoJSON")
    strict = CliRunner().invoke(main, ["import", str(path), "--kind", "roads", "--strict"], env=env)
    assert strict.exit_code == 1
    assert strict.stderr.splitlines()[0].startswith("  streets.geojson: row 2: name: longer than 100 characters (101)")
    assert "error: streets.geojson: 1 problem(s) in the roads layer; nothing was loaded" in strict.stderr
    loose = CliRunner().invoke(main, ["import", str(path), "--kind", "roads"], env=env)
    assert loose.exit_code == 0, loose.output
    assert loose.stderr.startswith("  streets.geojson: row 2: name: longer than 100 characters (101)")
    # the good street alone (777 m, crossing nothing): 4 pieces of 194 m
    assert loose.stdout.splitlines()[0] == (f"roads: 1 features loaded from {path} (1 rejected), cut into 4 segments "
                                            "of at most 200 m")
