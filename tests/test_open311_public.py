"""Open311 reads as the spec has them (``open311_public_read``): the unmodified ``georeport`` client reads services
and requests over HTTP without a key, with public fields only; with the setting off a key is needed, as before.
Either way a submitter reads its own request with the key that filed it."""

from __future__ import annotations

import importlib
from dataclasses import replace
from datetime import datetime

import pytest
import requests
from conftest import _serve_in_thread
from georeport import GeoReport

from geo import store
from geo.issue_filter import IssueFilter

J = "120110900"
BASE = "/open311/v2"
JUNE = {"start_date": "2025-06-01T00:00:00+08:00", "end_date": "2025-06-30T23:59:59+08:00"}
INSIDE = {"lat": "39.1", "long": "117.37"}


@pytest.fixture(scope="module")
def public_settings(sample_copy):
    return replace(sample_copy, open311_public_read=True)


@pytest.fixture(scope="module")
def public_server(public_settings):
    yield from _serve_in_thread(public_settings)


def _post(url: str, key: str, **fields) -> dict:
    answer = requests.post(f"{url}{BASE}/requests.json", timeout=30,
                           data={"api_key": key, "service_code": "06010", **INSIDE, **fields})
    assert answer.status_code == 201, answer.text
    return answer.json()[0]


def test_the_unmodified_client_reads_without_a_key_when_reading_is_public(public_server, copy_engine):
    client = GeoReport(f"{public_server}{BASE}", jurisdiction=J)
    assert len(client.get_service_list()) == 97
    got = client.get_service_requests(service_code="06042", **JUNE)
    expected = store.query_issues(copy_engine, jurisdiction_code=J, columns=("id",), where=IssueFilter(
        categories=["06042"], since=datetime(2025, 6, 1), until=datetime(2025, 7, 1)))
    assert {r["service_request_id"] for r in got} == set(expected["id"]) and len(got) > 10
    one = client.get_service_request(str(got[0]["service_request_id"]))
    assert one["service_request_id"] == got[0]["service_request_id"] and one["status"] in ("open", "closed")
    xml = GeoReport(f"{public_server}{BASE}", jurisdiction=J, output_format="xml")
    assert int(xml.get_service_request(str(got[0]["service_request_id"]))["service_request_id"]) == \
        got[0]["service_request_id"]


def test_public_reads_show_public_fields_only(public_server, api_keys):
    created = _post(public_server, api_keys["keyless"], description="请联系13812345678处理",
                    phone="13900001111", email="someone@example.cn", first_name="李")
    issue_id, token = created["service_request_id"], created["token"]
    anonymous = requests.get(f"{public_server}{BASE}/requests/{issue_id}.json", timeout=10)
    [shown] = anonymous.json()
    assert shown["description"] == "请联系138****5678处理" and shown["token"] is None
    body = anonymous.text + requests.get(f"{public_server}{BASE}/requests/{issue_id}.xml", timeout=10).text
    for secret in ("13812345678", "13900001111", "someone@example.cn", "李"):
        assert secret not in body
    # the token resolves without a key; the submitting key and a reader of every request see it in full
    assert requests.get(f"{public_server}{BASE}/tokens/{token}.json", timeout=10).json() == [
        {"service_request_id": issue_id, "token": token}]
    for key in ("keyless", "supervisor"):
        [full] = requests.get(f"{public_server}{BASE}/requests/{issue_id}.json", params={"api_key": api_keys[key]},
                              timeout=10).json()
        assert full["token"] == token, key
    # another public key reads it as anybody does: public fields
    [other] = requests.get(f"{public_server}{BASE}/requests/{issue_id}.json", params={"api_key": api_keys["citizen"]},
                           timeout=10).json()
    assert other["token"] is None and other["description"] == shown["description"]
    # a wrong key is still refused, public or not
    assert requests.get(f"{public_server}{BASE}/requests.json", params={"api_key": "wrong"}, timeout=10).status_code == 403


def test_without_the_setting_reading_needs_a_key_and_a_submitter_reads_its_own(copy_server, api_keys, monkeypatch):
    """copy_server runs with the default settings: open311_public_read off."""
    with pytest.raises(requests.HTTPError, match="403"):
        GeoReport(f"{copy_server}{BASE}", jurisdiction=J).get_service_requests(**JUNE)
    assert len(GeoReport(f"{copy_server}{BASE}", jurisdiction=J).get_service_list()) == 97
    mine = _post(copy_server, api_keys["citizen"], description="我的上报")
    theirs = _post(copy_server, api_keys["keyless"], description="别人的上报")
    # georeport keeps the key but sends it with no GET: its requests go through a session that adds it
    session = requests.Session()
    session.params = {"api_key": api_keys["citizen"]}
    monkeypatch.setattr(importlib.import_module("georeport.georeport"), "requests", session)
    client = GeoReport(f"{copy_server}{BASE}", jurisdiction=J, api_key=api_keys["citizen"])
    assert client.get_service_request(str(mine["service_request_id"]))["token"] == mine["token"]
    listed = {r["service_request_id"] for r in client.get_service_requests(status="open")}
    assert mine["service_request_id"] in listed and theirs["service_request_id"] not in listed
    with pytest.raises(requests.HTTPError, match="404"):
        client.get_service_request(str(theirs["service_request_id"]))
    # the June requests of the sample are nobody's own: a public key reads none of them
    assert client.get_service_requests(**JUNE) == []

