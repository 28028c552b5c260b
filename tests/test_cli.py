"""The ``citymap`` command on a temporary SpatiaLite database (CITYMAP_DATA_DIR).

One database is set up once (``init-db``, ``load-sample --no-issues``); each test
that writes works on its own copy of it.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import LineString

from geo import store
from geo.crs import to_metric
from geo.layers import reference_layers
from geo.store.db import head_revision, make_engine
from webmap.cli import main

J = "120110900"
CONSOLE_SCRIPT = Path(sys.executable).parent / "citymap"


def _env(data_dir: Path) -> dict:
    """The CLI's environment: this data directory and no other citymap setting of the caller's."""
    return {key: None for key in os.environ if key.startswith("CITYMAP_")} | {"CITYMAP_DATA_DIR": str(data_dir)}


def _run(data_dir: Path, *args: str):
    return CliRunner().invoke(main, [str(a) for a in args], env=_env(data_dir))


def _engine(data_dir: Path):
    return make_engine(f"sqlite:///{data_dir / 'citymap.sqlite'}")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A data directory whose database has the sample layers and no issue; the two set-up runs."""
    data_dir = tmp_path_factory.mktemp("cli-base")
    return data_dir, _run(data_dir, "init-db"), _run(data_dir, "load-sample", "--no-issues")


@pytest.fixture
def data_dir(base, tmp_path) -> Path:
    """A private copy of :func:`base`'s database."""
    source = sqlite3.connect(base[0] / "citymap.sqlite")
    target = sqlite3.connect(tmp_path / "citymap.sqlite")
    source.backup(target)
    source.close()
    target.close()
    return tmp_path


def _sample_rows(repo_root, n: int, *, start: int = 0) -> pd.DataFrame:
    rows = pd.read_csv(repo_root / "data" / "issues" / "jinqiao_2025_issues.csv", dtype=str, keep_default_na=False)
    return rows.iloc[start:start + n].reset_index(drop=True)


def _csv_with_bad_rows(repo_root, path: Path, *, start: int = 0) -> pd.DataFrame:
    """Eight sample rows of which rows 4 and 7 of the file (after the header) are bad; returns the good rows."""
    rows = _sample_rows(repo_root, 8, start=start)
    rows.loc[2, "category_code"] = "不存在的类别"  # file row 4
    rows.loc[5, "lon"] = "217.35"  # file row 7
    rows.to_csv(path, index=False)
    return rows.drop(index=[2, 5])


def _lines(text: str) -> list[str]:
    """Output lines without tqdm's progress-bar redraws (a bar shows its elapsed time: ``[00:03…``)."""
    return [line for line in text.replace("\r", "\n").splitlines() if line.strip()
            and not re.search(r"\[\d\d:\d\d", line)]


def test_init_db_and_load_sample_without_issues(base):
    data_dir, init, load = base
    assert init.exit_code == 0, init.output
    assert f"database ready at schema revision {head_revision()}" in init.stdout
    assert str(data_dir / "citymap.sqlite") in init.stdout
    assert load.exit_code == 0, load.output
    engine = _engine(data_dir)
    layers = {spec.name: store.count_rows(engine, spec.table, jurisdiction_code=J) for spec in reference_layers()}
    assert store.count_rows(engine, "issues", jurisdiction_code=J) == 0
    engine.dispose()
    assert all(n > 0 for n in layers.values()), layers
    assert f"communities {layers['communities']}" in load.stdout and f"segments {layers['segments']}" in load.stdout


def test_import_reports_each_bad_row_and_loads_the_rest(data_dir, repo_root):
    path = data_dir / "export.csv"
    good = _csv_with_bad_rows(repo_root, path)
    result = _run(data_dir, "import", path)
    assert result.exit_code == 0, result.output
    errors = [line.strip() for line in _lines(result.stderr)]
    assert len(errors) == 2
    assert errors[0].startswith("export.csv: row 4: category: ") and "不存在的类别" in errors[0]
    assert errors[1] == "export.csv: row 7: lon: out of range -180..180 (value '217.35')"
    assert _lines(result.stdout) == ["export.csv: 8 rows read, 6 issues loaded, 0 already present, 2 rows rejected"]
    engine = _engine(data_dir)
    got = store.query_issues(engine, jurisdiction_code=J, columns=("external_id",))
    engine.dispose()
    assert sorted(got["external_id"]) == sorted(good["external_id"])
    again = _run(data_dir, "import", path)
    assert _lines(again.stdout) == ["export.csv: 8 rows read, 0 issues loaded, 6 already present, 2 rows rejected"]


def test_strict_import_prints_the_errors_and_exits_1(data_dir, repo_root):
    path = data_dir / "strict.csv"
    _csv_with_bad_rows(repo_root, path)
    result = _run(data_dir, "import", "--strict", path)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    lines = _lines(result.stderr)
    assert [line.split(":")[1].strip() for line in lines[:2]] == ["row 4", "row 7"]
    assert [line for line in lines if line.startswith("error:")] == [
        "error: strict.csv: 2 of 8 rows are bad; --strict loads nothing"]
    assert lines[-1].startswith("error:") and len(lines) == 3
    engine = _engine(data_dir)
    assert store.count_rows(engine, "issues", jurisdiction_code=J) == 0
    assert store.count_rows(engine, "import_batches", jurisdiction_code=J) == 0
    engine.dispose()


def test_import_of_a_file_missing_a_column_is_one_error_line(data_dir, repo_root):
    path = data_dir / "no_time.csv"
    _sample_rows(repo_root, 3).drop(columns=["reported_at"]).to_csv(path, index=False)
    result = _run(data_dir, "import", path)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    lines = _lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: no_time.csv: missing column(s) reported_at"), lines


def _read_issues_export(path: Path) -> gpd.GeoDataFrame:
    return gpd.read_file(path) if path.suffix == ".gpkg" else gpd.GeoDataFrame.from_features(
        json.loads(path.read_text(encoding="utf-8"))["features"], crs="EPSG:4326")


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_export_writes_issues_with_their_assignment(data_dir, repo_root, suffix):
    path = data_dir / "export.csv"
    _csv_with_bad_rows(repo_root, path)
    assert _run(data_dir, "import", path).exit_code == 0
    out = data_dir / f"issues{suffix}"
    result = _run(data_dir, "export", "--out", out)
    assert result.exit_code == 0, result.output
    assert _lines(result.stdout) == [f"6 features written to {out}"]
    engine = _engine(data_dir)
    stored = store.query_issues(engine, jurisdiction_code=J).set_index("external_id")
    engine.dispose()
    exported = _read_issues_export(out).set_index("external_id").loc[stored.index]
    assert "phone" not in exported.columns
    for column in ("cell_code", "compound_code", "community_code", "grid_code", "department_code"):
        assert list(exported[column].where(exported[column].notna(), None)) == list(
            stored[column].where(stored[column].notna(), None)), column
    np.testing.assert_allclose(exported.geometry.x, stored.geometry.x, atol=1e-6)
    if suffix == ".gpkg":
        roads_out = data_dir / "roads.gpkg"
        assert _run(data_dir, "export", "--layer", "roads", "--out", roads_out).exit_code == 0
        assert pyogrio.list_layers(roads_out)[0][0] == "roads"
        assert len(gpd.read_file(roads_out)) == len(gpd.read_file(repo_root / "data" / "roads" / "roads.geojson"))


def test_assign_with_nothing_changed_gives_the_same_columns(data_dir, repo_root):
    path = data_dir / "export.csv"
    _csv_with_bad_rows(repo_root, path)
    assert _run(data_dir, "import", path).exit_code == 0
    columns = ("id", *store.ASSIGNMENT_COLUMNS)
    engine = _engine(data_dir)
    before = store.query_issues(engine, jurisdiction_code=J, columns=columns)
    result = _run(data_dir, "assign")
    after = store.query_issues(engine, jurisdiction_code=J, columns=columns)
    engine.dispose()
    assert result.exit_code == 0, result.output
    assert _lines(result.stdout) == ["6 issues re-assigned"]
    assert before["cell_code"].notna().all()
    pd.testing.assert_frame_equal(pd.DataFrame(after), pd.DataFrame(before))


def test_importing_roads_splits_them_into_segments_again(data_dir):
    # Two roads crossing: T1 west→east (~600 m), T2 south→north (~670 m) through T1.
    roads = gpd.GeoDataFrame(
        {"road_id": ["T1", "T2"], "name": ["测试东西路", "测试南北路"], "road_class": ["主干路", "branch"],
         "is_priority": [True, False], "oneway": [False, False], "jurisdiction_code": [J, J]},
        geometry=[LineString([(117.350, 39.100), (117.357, 39.100)]),
                  LineString([(117.3535, 39.097), (117.3535, 39.103)])], crs="EPSG:4326")
    path = data_dir / "new_roads.geojson"
    roads.to_file(path, driver="GeoJSON")
    result = _run(data_dir, "import", "--kind", "roads", path)
    assert result.exit_code == 0, result.output
    assert _lines(result.stdout) == [
        f"roads: 2 features loaded from {path}, cut into 8 segments of at most 200 m",
        "run `citymap assign` to re-assign the stored issues to the new layer"]

    engine = _engine(data_dir)
    segments = store.read_layer(engine, "segments", jurisdiction_code=J)
    stored_roads = store.read_layer(engine, "roads", jurisdiction_code=J)
    engine.dispose()
    assert sorted(stored_roads["road_id"]) == ["T1", "T2"]
    assert sorted(set(segments["road_id"])) == ["T1", "T2"]
    metric = to_metric(roads, crs="EPSG:4548").set_index("road_id").geometry
    crossing = shapely.intersection(metric["T1"], metric["T2"])
    for road_id, part in segments.sort_values(["road_id", "seq"]).groupby("road_id"):
        line = metric[road_id]
        # one cut at the crossing, then each half in the fewest equal pieces ≤ 200 m: 2 + 2
        assert list(part["seq"]) == [1, 2, 3, 4]
        assert part["from_m"].iloc[0] == 0 and part["to_m"].iloc[-1] == pytest.approx(line.length, abs=0.1)
        np.testing.assert_allclose(part["from_m"].iloc[1:], part["to_m"].iloc[:-1])
        assert (part["length_m"] <= 200).all()
        assert part["to_m"].iloc[1] == pytest.approx(line.project(crossing), abs=0.1)
        assert (part["road_class"] == ("arterial" if road_id == "T1" else "branch")).all()


def test_api_key_create_for_a_user_or_for_submitting_only(data_dir):
    assert _run(data_dir, "user", "create", "巡查员", "--role", "department", "--department", "sanitation",
                "--password", "a-long-password").exit_code == 0
    owned = _run(data_dir, "api-key", "create", "巡查APP", "--user", "巡查员")
    assert owned.exit_code == 0, owned.output
    assert "acting as user '巡查员'" in owned.stdout
    plain = _run(data_dir, "api-key", "create", "12345热线")
    assert plain.exit_code == 0, plain.output
    assert "reads no issue" in plain.stdout
    engine = _engine(data_dir)
    user = store.api_key_user(engine, _lines(owned.stdout)[-1], jurisdiction_code=J)
    keyless = store.api_key_user(engine, _lines(plain.stdout)[-1], jurisdiction_code=J)
    engine.dispose()
    assert (user["name"], user["role"], user["department_code"], user["key_name"]) == (
        "巡查员", "department", "sanitation", "巡查APP")
    assert (keyless["id"], keyless["name"], keyless["role"], keyless["department_code"]) == (
        None, "12345热线", "public", None)
    unknown = _run(data_dir, "api-key", "create", "无主APP", "--user", "nobody")
    assert unknown.exit_code == 1
    assert _lines(unknown.stderr) == [("error: user 'nobody' not found among the active users of 120110900; "
                                       "create it first (citymap user create)")]


def test_the_console_script_runs(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("CITYMAP_")}
    env["CITYMAP_DATA_DIR"] = str(tmp_path)
    helped = subprocess.run([CONSOLE_SCRIPT, "--help"], check=False, capture_output=True, text=True, env=env, timeout=60)
    assert helped.returncode == 0, helped.stderr
    listed = {line.split()[0] for line in helped.stdout.split("Commands:")[1].splitlines() if line.strip()}
    assert {"init-db", "load-sample", "import", "assign", "export", "serve", "demo"} <= listed
    missing = subprocess.run([CONSOLE_SCRIPT, "export", "--out", tmp_path / "x.shp"], check=False, capture_output=True,
                             text=True, env=env, timeout=60)
    assert missing.returncode == 1
    # a database never initialised: one line from the console script, no traceback
    assert missing.stderr.strip().count("\n") == 0 and missing.stderr.startswith("error: "), missing.stderr
    assert "no such table: issues" in missing.stderr
