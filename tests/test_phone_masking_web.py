"""Phone numbers never fail open (issue 14 item 4).

Phones go in through every way an issue arrives — the report form, ``POST /api/issues``, Open311, a CSV and
an XLSX import — as the contact field (normalised, or refused when it is no phone number) and written into
the description, the address, a transition note and a greening record note with full-width digits,
dots, slashes, underscores, parentheses, no-break, thin and zero-width spaces and dashes. As a supervisor
and as a department user, no page, API answer, map document, GeoJSON or export holds one unmasked; a
case number and an ID number beside them come out as written; the dispatcher's logged reveal still shows
the contact phone. The storage part runs on SpatiaLite and PostGIS.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata

import geopandas as gpd
import openpyxl
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from sqlalchemy import text

from geo import io, store
from geo.errors import ValidationError
from geo.store.db import make_engine
from webmap.app import create_app
from webmap.cli import main

J = "120110900"
INSIDE = {"lon": 117.37, "lat": 39.1}
NEAR = "117.364,39.097,117.376,39.103"
CASE_NUMBER = "2025-1391234-0024"
ID_NUMBER = "12011019900101123X"
#: the ways in, each with its own numbers
ENTRY_POINTS = ("form", "rest", "open311", "csv", "xlsx")
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def mobile(kind: int, n: int) -> str:
    """An 11-digit mobile number of its own for entry point ``kind``, form ``n``."""
    return f"139{kind}{n:03d}{kind}{n:03d}"


def landline(kind: int, n: int) -> str:
    """A Tianjin landline (area code 022, 8 digits) of its own, without separators."""
    return f"0226{kind}{n:02d}{kind}{n:03d}"


#: how a mobile is written in free text (each gets its own number)
MOBILE_FORMS = (
    lambda d: d.translate(FULL_WIDTH),
    lambda d: f"{d[:3]}.{d[3:7]}.{d[7:]}",
    lambda d: f"{d[:3]}/{d[3:7]}/{d[7:]}",
    lambda d: f"{d[:3]}_{d[3:7]}_{d[7:]}",
    lambda d: f"({d[:3]}){d[3:7]} {d[7:]}",
    lambda d: f"{d[:3]}\u00a0{d[3:7]}\u00a0{d[7:]}",
    lambda d: f"{d[:3]}\u2013{d[3:7]}\u2013{d[7:]}",
    lambda d: f"{d[:3]}\u2014{d[3:7]}\u2014{d[7:]}",
    lambda d: f"{d[:3]}\u200b{d[3:7]}\u200b{d[7:]}",
    lambda d: "\u200b".join(d),
    lambda d: f"{d[:3]}\u2009{d[3:7]}\u2009{d[7:]}",
    lambda d: f"+86\u00a0{d[:3]}-{d[3:7]}-{d[7:]}",
    lambda d: f"＋８６{d.translate(FULL_WIDTH)}",
)
#: how a landline is written in free text
LANDLINE_FORMS = (
    lambda d: f"（{d[:3]}）{d[3:7]}\u3000{d[7:]}".translate(FULL_WIDTH),
    lambda d: f"{d[:3]}\u2013{d[3:7]}\u00a0{d[7:]}",
    lambda d: f"{d[:3]}.{d[3:7]}.{d[7:]}",
    lambda d: f"+86 {d[1:3]} {d[3:7]} {d[7:]}",
)
#: the contact phone each entry point is given, as typed, and as it must be stored
CONTACT_TYPED = {"form": "１３９ ８８８１ ０００１", "rest": "139.8881.0002", "open311": "+86 139-8881-0003",
                 "csv": "139\u200b8881\u200b0004", "xlsx": "(022) 2888\u00a00005"}
CONTACT_STORED = {"form": "13988810001", "rest": "13988810002", "open311": "13988810003",
                  "csv": "13988810004", "xlsx": "022-28880005"}


def phone_text(kind: str, field: str) -> tuple[str, list[str]]:
    """A free text for ``field`` of ``kind``'s issue holding every form of phone; and its phones' digits."""
    k = ENTRY_POINTS.index(kind) + 1
    f = ("description", "address", "note", "greening").index(field)
    mobiles = [mobile(k, 100 * f + n) for n in range(len(MOBILE_FORMS))]
    landlines = [landline(k, 10 * f + n) for n in range(len(LANDLINE_FORMS))]
    pairs = [*zip(MOBILE_FORMS, mobiles), *zip(LANDLINE_FORMS, landlines)]
    if field == "address":  # an address holds at most 200 characters: every third form
        pairs = pairs[::3]
    return (f"[{kind}-{field}] 工单{CASE_NUMBER} 身份证{ID_NUMBER} 电话：" + "，".join(form(d) for form, d in pairs)
            + "。", [d for _, d in pairs])


#: every digit string that must never be shown whole
ALL_PHONES: set[str] = set()
for _kind in ENTRY_POINTS:
    for _field in ("description", "address", "note"):
        ALL_PHONES.update(phone_text(_kind, _field)[1])
ALL_PHONES.update(phone_text("csv", "greening")[1])
ALL_PHONES.update(CONTACT_STORED[k].replace("-", "") for k in ENTRY_POINTS)
_STRIPPED = re.compile(r"[\s\u00ad\u200b-\u200d\u2060\ufeff\-\u2010-\u2015\u2212./_()]")


def skeleton(page: str) -> str:
    """A page's text as digits would be matched: NFKC, separators and invisible characters dropped."""
    return _STRIPPED.sub("", unicodedata.normalize("NFKC", html.unescape(page)))


def unmasked(page: str) -> set[str]:
    """The phone numbers of this test that a page shows whole."""
    bare = skeleton(page)
    # a landline written +86 22 … drops its 0
    return {digits for digits in ALL_PHONES if digits in bare or (digits[0] == "0" and "86" + digits[1:] in bare)}


class World:
    """The copy of the sample with the phone-bearing issues; ``issues``: entry point → issue id."""

    def __init__(self, settings, issues: dict[str, int]):
        self.settings, self.issues = settings, issues


def _import_row(kind: str) -> dict:
    return {"external_id": f"PHONE-{kind.upper()}", "source": "12345", "reported_at": "2025-12-20 09:00:00",
            "lon": INSIDE["lon"] + 0.001, "lat": INSIDE["lat"], "coord_system": "wgs84", "category_code": "06010",
            "description": phone_text(kind, "description")[0], "address": phone_text(kind, "address")[0],
            "phone": CONTACT_TYPED[kind], "status": "registered", "registered_at": "2025-12-20 09:30:00"}


@pytest.fixture(scope="module")
def world(sample_copy, api_keys, login, tmp_path_factory) -> World:
    settings = sample_copy
    url = settings.resolved_database_url
    engine = make_engine(url)
    client = create_app(settings).test_client()
    issues = {}

    token = login(client, "citizen")
    answer = client.post("/report", data={**{k: str(v) for k, v in INSIDE.items()}, "category_code": "06010",
                                          "description": phone_text("form", "description")[0],
                                          "address": phone_text("form", "address")[0],
                                          "phone": CONTACT_TYPED["form"], "csrf_token": token})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    issues["form"] = int(re.search(r"issue=(\d+)", answer.headers["Location"]).group(1))

    answer = client.post("/open311/v2/requests.json", data={
        "api_key": api_keys["citizen"], "service_code": "06010", "lat": INSIDE["lat"], "long": INSIDE["lon"] - 0.001,
        "description": phone_text("open311", "description")[0],
        "address_string": phone_text("open311", "address")[0], "phone": CONTACT_TYPED["open311"]})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    issues["open311"] = int(answer.get_json()[0]["service_request_id"])

    token = login(client, "dispatcher")
    answer = client.post("/api/issues", headers={"X-CSRF-Token": token},
                         json={**INSIDE, "category_code": "06010", "description": phone_text("rest", "description")[0],
                               "address": phone_text("rest", "address")[0], "phone": CONTACT_TYPED["rest"]})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    issues["rest"] = answer.get_json()["id"]

    folder = tmp_path_factory.mktemp("phones")
    runner = CliRunner()
    csv_path = folder / "issues.csv"
    bad = {**_import_row("csv"), "external_id": "PHONE-BAD", "phone": "139-1234-567"}
    pd.DataFrame([_import_row("csv"), bad]).to_csv(csv_path, index=False)
    book = openpyxl.Workbook()
    row = _import_row("xlsx")
    book.active.append(list(row))
    book.active.append(list(row.values()))
    book.save(folder / "issues.xlsx")
    for path in (csv_path, folder / "issues.xlsx"):
        result = runner.invoke(main, ["--database-url", url, "import", str(path)])
        assert result.exit_code == 0, result.output
    issues["csv"] = store.issue_id_of(engine, jurisdiction_code=J, source="12345", external_id="PHONE-CSV")
    issues["xlsx"] = store.issue_id_of(engine, jurisdiction_code=J, source="12345", external_id="PHONE-XLSX")

    # every issue goes to sanitation (so its department user reads them all), with a phone in the note
    for kind, issue_id in issues.items():
        steps = [("dispatch", {"department_code": "sanitation", "note": phone_text(kind, "note")[0]})]
        if kind in ("form", "rest", "open311"):
            steps.insert(0, ("register", {}))
        for action, extra in steps:
            moved = client.post(f"/api/issues/{issue_id}/transitions", headers={"X-CSRF-Token": token},
                                json={"action": action, **extra})
            assert moved.status_code == 200, (kind, moved.get_data(as_text=True))

    records = folder / "greening.csv"
    pd.DataFrame([{"道路": "津北公路", "作业": "夏季修剪", "侧别": "左侧", "起点桩号": 0, "终点桩号": 200,
                   "作业日期": "2025-07-31", "班组": "绿化一队", "照片": "IMG_0012.jpg",
                   "备注": phone_text("csv", "greening")[0]}]).to_csv(records, index=False)
    result = runner.invoke(main, ["--database-url", url, "greening", "import", str(records)])
    assert result.exit_code == 0 and "1 greening records loaded" in result.output, result.output
    engine.dispose()
    return World(settings, issues)


def test_the_contact_phone_is_stored_normalised(world):
    engine = make_engine(world.settings.resolved_database_url)
    for kind, issue_id in world.issues.items():
        assert store.read_contact(engine, issue_id)["phone"] == CONTACT_STORED[kind], kind
    engine.dispose()


def test_an_import_row_whose_phone_is_no_phone_number_is_refused_alone(world, tmp_path):
    engine = make_engine(world.settings.resolved_database_url)
    assert store.issue_id_of(engine, jurisdiction_code=J, source="12345", external_id="PHONE-BAD") is None
    engine.dispose()
    path = tmp_path / "bad.csv"
    pd.DataFrame([_import_row("csv"), {**_import_row("csv"), "external_id": "B2", "phone": "电话坏了"}]).to_csv(
        path, index=False)
    batch = io.read_issue_file(path, coord_system="wgs84")
    assert batch.frame["external_id"].tolist() == ["PHONE-CSV"]
    assert batch.frame["phone"].tolist() == ["13988810004"]
    [error] = batch.errors
    assert (error.file, error.row, error.field, error.value) == ("bad.csv", 3, "phone", "电话坏了")
    assert str(error).startswith("bad.csv: row 3: phone: 不是电话号码：应为 11 位手机号")
    assert "expected an 11-digit mainland mobile" in str(error)


@pytest.mark.parametrize(("path", "field"), [("/api/issues", "phone"), ("/open311/v2/requests.json", "phone")])
def test_a_phone_field_that_is_no_phone_number_is_a_400_with_the_form_a_phone_takes(world, login, api_keys, path,
                                                                                      field):
    client = create_app(world.settings).test_client()
    token = login(client, "dispatcher")
    typed = "139/1234/567"
    if path == "/api/issues":
        answer = client.post(path, headers={"X-CSRF-Token": token},
                             json={**INSIDE, "category_code": "06010", "description": "垃圾", "phone": typed})
        message = answer.get_json()["error"]
    else:
        answer = client.post(path, data={"api_key": api_keys["citizen"], "service_code": "06010", "lat": INSIDE["lat"],
                                         "long": INSIDE["lon"], "description": "垃圾", "phone": typed})
        message = answer.get_json()[0]["description"]
    assert answer.status_code == 400
    assert f"phone {typed!r} 不是电话号码" in message and "022-24371234" in message


def test_the_report_form_refuses_a_phone_that_is_no_phone_number(world, login):
    client = create_app(world.settings).test_client()
    token = login(client, "citizen")
    answer = client.post("/report", data={**{k: str(v) for k, v in INSIDE.items()}, "category_code": "06010",
                                          "description": "垃圾", "phone": "12345", "csrf_token": token})
    assert answer.status_code == 400
    assert "不是电话号码" in html.unescape(answer.get_data(as_text=True))


def _views(world: World) -> list[str]:
    ids = world.issues.values()
    views = [f"/api/issues?bbox={NEAR}&limit=10000", f"/issues?bbox={NEAR}&since=2025-12-19",
             f"/maps/issues/data?bbox={NEAR}", "/maps/issues/data?status=open", "/maps/overview/data",
             f"/ogcapi/collections/issues/items?bbox={NEAR}&limit=10000",
             "/greening?year=2025&task=summer_pruning", "/maps/greening/data?year=2025&task=summer_pruning"]
    for issue_id in ids:
        views += [f"/api/issues/{issue_id}", f"/api/issues/{issue_id}/events", f"/issues/{issue_id}",
                  f"/maps/issues/{issue_id}/data"]
    return views


@pytest.mark.parametrize("user", ["supervisor", "sanitation", "dispatcher"])
def test_no_page_map_or_api_answer_shows_a_phone_whole(world, login, user):
    client = create_app(world.settings).test_client()
    login(client, user)
    shown_case_number = checked = 0
    for path in _views(world):
        answer = client.get(path)
        if answer.status_code == 403:  # a map or page the role is not for
            continue
        assert answer.status_code == 200, (user, path, answer.get_data(as_text=True)[:300])
        body = answer.get_data(as_text=True)
        if answer.is_json:
            body = json.dumps(answer.get_json(), ensure_ascii=False)
        assert unmasked(body) == set(), (user, path)
        shown_case_number += CASE_NUMBER in html.unescape(body)
        checked += 1
    print(f"{user}: {checked} views checked, case number shown whole in {shown_case_number}")
    # the issue pages, their API answers and maps show the text: the case number beside the phones is intact
    assert checked >= 5 * 4 and shown_case_number >= 5 * 3, (checked, shown_case_number)


def test_the_masked_forms_are_what_the_issue_page_shows(world, login):
    client = create_app(world.settings).test_client()
    login(client, "sanitation")
    page = html.unescape(client.get(f"/issues/{world.issues['rest']}").get_data(as_text=True))
    # the description, the address and the dispatch note, each with its phones masked in place
    digits = phone_text("rest", "description")[1]
    assert f"{digits[1][:3]}.****{digits[1][-4:]}" not in page
    assert f"{digits[1][:3]}****{digits[1][-4:]}" in page
    assert "１３９****" in page
    assert phone_text("rest", "note")[1][2][-4:] in page and ID_NUMBER in page
    assert 'id="phone-masked">139****0002<' in page


def test_the_dispatcher_reveal_still_shows_the_contact_phone(world, login):
    client = create_app(world.settings).test_client()
    token = login(client, "dispatcher")
    answer = client.post(f"/issues/{world.issues['open311']}/phone", data={"csrf_token": token})
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert 'id="phone-revealed">13988810003<' in page
    # the rest of the page stays masked
    assert unmasked(page) == {"13988810003"}


def test_open311_answers_and_exports_never_hold_a_phone_whole(world, api_keys, tmp_path):
    client = create_app(world.settings).test_client()
    ids = ",".join(str(i) for i in world.issues.values())
    answer = client.get(f"/open311/v2/requests.json?service_request_id={ids}&api_key={api_keys['supervisor']}")
    assert answer.status_code == 200 and len(answer.get_json()) == len(world.issues)
    assert unmasked(json.dumps(answer.get_json(), ensure_ascii=False)) == set()
    out = tmp_path / "issues.geojson"
    result = CliRunner().invoke(main, ["--database-url", world.settings.resolved_database_url, "export", "--out",
                                       str(out)])
    assert result.exit_code == 0, result.output
    exported = out.read_text(encoding="utf-8")
    assert unmasked(json.dumps(json.loads(exported), ensure_ascii=False)) == set()
    assert CASE_NUMBER in json.dumps(json.loads(exported), ensure_ascii=False)


# --------------------------------------------------------------------------- storage, on SpatiaLite and PostGIS

def _stored_issues(phones: list) -> gpd.GeoDataFrame:
    n = len(phones)
    return gpd.GeoDataFrame({
        "source": "12345", "external_id": [f"P{i}" for i in range(n)], "source_system": "wgs84",
        "category_code": "06010", "description": [phone_text("csv", "description")[0]] * n,
        "address": [phone_text("csv", "address")[0]] * n, "status": "registered",
        "reported_at": pd.Timestamp("2025-03-01 08:00"), "registered_at": pd.Timestamp("2025-03-01 09:00"),
        "phone": phones,
    }, geometry=gpd.points_from_xy([117.37] * n, [39.1] * n), crs="EPSG:4326")


def test_storage_normalises_the_phone_and_reads_every_text_masked(db_engine):
    typed = ["１３９ ８８８１ ０００１", "139\u200b8881\u200b0004", "(022) 2888\u00a00005", None]
    store.insert_issues(db_engine, _stored_issues(typed), jurisdiction_code=J, file="a.csv", actor="test")
    with db_engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT i.external_id, c.phone FROM reporter_contacts c "
                                        "JOIN issues i ON i.id = c.issue_id")).fetchall())
        # the raw text is kept as typed; only what is read for display is masked
        raw = conn.execute(text("SELECT description FROM issues WHERE external_id = 'P0'")).scalar_one()
    assert stored == {"P0": "13988810001", "P1": "13988810004", "P2": "022-28880005"}
    assert raw == phone_text("csv", "description")[0]

    issues = store.query_issues(db_engine, jurisdiction_code=J)
    assert len(issues) == 4
    for column in ("description", "address"):
        for value in issues[column]:
            assert unmasked(value) == set() and CASE_NUMBER in value and ID_NUMBER in value
    issue_id = int(issues["id"].iloc[0])
    with db_engine.begin() as conn:
        store.insert_issue_event(conn, {"jurisdiction_code": J, "issue_id": issue_id, "at": pd.Timestamp(
            "2025-03-02 08:00").to_pydatetime(), "actor": "test", "action": "dispatch", "from_status": "registered",
            "to_status": "dispatched", "note": phone_text("csv", "note")[0]})
    notes = store.read_issue_events(db_engine, issue_id)["note"].dropna().tolist()
    assert len(notes) == 1 and unmasked(notes[0]) == set() and CASE_NUMBER in notes[0]

    record = gpd.GeoDataFrame({"external_id": ["G1"], "road_id": ["R001"], "task_code": ["pruning"], "side": ["left"],
                               "from_m": [0.0], "to_m": [100.0], "done_on": pd.to_datetime(["2025-04-01"]),
                               "team": ["绿化一队 13988810009"], "quantity": [1.0], "photo": [None],
                               "note": [phone_text("csv", "greening")[0]], "source": ["test"]},
                              geometry=[shapely.LineString([(117.36, 39.1), (117.37, 39.1)])], crs="EPSG:4326")
    store.insert_greening_records(db_engine, record, jurisdiction_code=J)
    read = store.read_greening_records(db_engine, jurisdiction_code=J)
    assert unmasked(read["note"].iloc[0]) == set() and read["team"].iloc[0] == "绿化一队 139****0009"


def test_storage_refuses_a_phone_that_is_no_phone_number(db_engine):
    with pytest.raises(ValidationError, match=r"issue 'P1': phone '139-1234' 不是电话号码"):
        store.insert_issues(db_engine, _stored_issues(["13988810001", "139-1234"]), jurisdiction_code=J,
                            file="a.csv", actor="test")
    assert store.count_rows(db_engine, "issues", jurisdiction_code=J) == 0
