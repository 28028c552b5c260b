"""Notifications: the outbox filled from the audit trail and the deadlines, delivered over HTTP to a receiver the
test runs on 127.0.0.1, which is down at first: nothing is lost, nothing arrives twice. On SpatiaLite and PostGIS."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from geo import store
from geo.errors import NotFoundError, ValidationError
from geo.loop import notify, workflow
from geo.settings import load_settings

J = "120110900"
NOW = datetime(2026, 12, 6, 10, 0)


class Receiver:
    """An HTTP server on 127.0.0.1 that records every POST (path, headers, JSON body); ``stop()`` takes it down
    and ``start()`` brings it back on the same port."""

    def __init__(self):
        self.posts: list[dict] = []
        self.port = 0
        self._server = None

    def start(self) -> None:
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server interface
                body = self.rfile.read(int(self.headers["Content-Length"]))
                posts.append({"path": self.path, "headers": dict(self.headers), "raw": body,
                              "json": json.loads(body)})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = HTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_port
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def receiver():
    r = Receiver()
    r.start()
    yield r
    if r._server is not None:
        r.stop()


def _settings(**overrides):
    return load_settings({"notify_lookback_h": 24, "due_soon_h": 4, "notify_retry_base_s": 30,
                          "notify_retry_cap_s": 3600, **overrides}, environ={})


def _issues(engine, rows: list[dict]) -> list[int]:
    """Reported issues (``department``, ``deadline``, ``description``), ids in the same order."""
    frame = gpd.GeoDataFrame({
        "source": "web", "external_id": [f"n{i}" for i in range(len(rows))], "source_system": "wgs84",
        "category_code": "06010", "status": "reported", "reported_at": pd.Timestamp(NOW - timedelta(days=1)),
        "deadline_at": [r["deadline"] for r in rows], "department_code": [r["department"] for r in rows],
        "description": [r.get("description", "垃圾") for r in rows], "address": "金桥街",
    }, geometry=[Point(117.35, 39.10)] * len(rows), crs="EPSG:4326")
    store.insert_issues(engine, frame, jurisdiction_code=J, file="test", actor="test")
    ids = store.query_issues(engine, jurisdiction_code=J, columns=("id", "external_id"))
    return ids.set_index("external_id").loc[frame["external_id"], "id"].astype(int).tolist()


def _step(engine, issue_id: int, action: str, at: datetime, **kwargs) -> None:
    role = "department" if action == "handle" else "dispatcher"
    extra = {"note": "已清理，联系人 13812345678", "photo": "p.jpg", "department_code": "sanitation_west"} \
        if action == "handle" else {}
    workflow.apply_transition(engine, issue_id, action, actor="王调度", role=role, now=at, **{**extra, **kwargs})


def test_messages_wait_for_a_receiver_that_is_down_and_arrive_once(db_engine, receiver):
    settings = _settings()
    late, soon, other = _issues(db_engine, [
        {"department": "sanitation_west", "deadline": NOW + timedelta(hours=20), "description": "请打13900001111"},
        {"department": "sanitation_east", "deadline": NOW + timedelta(hours=2)},
        {"department": "construction", "deadline": NOW - timedelta(hours=1)},
    ])
    token = store.create_receipt(db_engine, late, jurisdiction_code=J, user_id=None, api_key_id=None, now=NOW)
    secrets = {
        "sanitation": notify.set_webhook(db_engine, settings, receiver.url("/sanitation"), now=NOW,
                                         department_code="sanitation"),
        "citizen": notify.set_webhook(db_engine, settings, receiver.url("/citizen"), now=NOW, token=token),
        "construction": notify.set_webhook(db_engine, settings, receiver.url("/construction"), now=NOW,
                                           department_code="construction"),
    }
    # an old step is history, never announced; the steps of the last hours are
    _step(db_engine, other, "register", NOW - timedelta(days=3))
    _step(db_engine, late, "register", NOW - timedelta(hours=3))
    _step(db_engine, late, "dispatch", NOW - timedelta(hours=2), department_code="sanitation_west")
    _step(db_engine, late, "handle", NOW - timedelta(hours=1))
    _step(db_engine, late, "verify", NOW - timedelta(minutes=30))
    _step(db_engine, late, "close", NOW - timedelta(minutes=20))
    receiver.stop()

    first = notify.run_notifications(db_engine, settings, now=NOW)
    # one attempt per receiver; its other messages wait with the failed one
    assert (first.queued, first.sent, first.failed, first.pending) == (6, 0, 3, 6)
    outbox = store.read_notifications(db_engine, jurisdiction_code=J)
    assert sorted(zip(outbox["kind"], outbox["issue_id"])) == sorted([
        ("dispatched", late), ("closed", late), ("due_soon", soon),  # to sanitation (owns its contractors)
        ("dispatched", late), ("closed", late),  # to the report's own webhook
        ("overdue", other),  # to construction
    ])
    assert sorted(outbox["attempts"]) == [0, 0, 0, 1, 1, 1]
    assert set(outbox["next_at"]) == {NOW + timedelta(seconds=30)}
    assert outbox["last_error"].dropna().str.contains(f"127.0.0.1:{receiver.port}").sum() == 3
    # running again queues nothing twice; before its wait is over nothing is tried again
    again = notify.run_notifications(db_engine, settings, now=NOW + timedelta(seconds=10))
    assert (again.queued, again.sent, again.failed, again.pending) == (0, 0, 0, 6)
    # still down at the retry: the wait doubles
    notify.run_notifications(db_engine, settings, now=NOW + timedelta(seconds=31))
    outbox = store.read_notifications(db_engine, jurisdiction_code=J)
    assert sorted(outbox["attempts"]) == [0, 0, 0, 2, 2, 2]
    assert set(outbox["next_at"]) == {NOW + timedelta(seconds=91)}

    receiver.start()
    back = notify.run_notifications(db_engine, settings, now=NOW + timedelta(seconds=95))
    assert (back.queued, back.sent, back.failed, back.pending) == (0, 6, 0, 0)
    assert notify.run_notifications(db_engine, settings, now=NOW + timedelta(hours=1)).sent == 0
    keys = [(p["path"], p["headers"]["X-Citymap-Event"]) for p in receiver.posts]
    assert len(keys) == len(set(keys)) == 6

    by_path = {}
    for post in receiver.posts:
        by_path.setdefault(post["path"], []).append(post)
        secret = secrets[post["path"].strip("/")]
        expected = "sha256=" + hmac.new(secret.encode(), post["raw"], hashlib.sha256).hexdigest()
        assert post["headers"]["X-Citymap-Signature"] == expected
        assert post["json"]["event"] == post["headers"]["X-Citymap-Event"]
    staff = {p["json"]["kind"]: p["json"] for p in by_path["/sanitation"]}
    assert set(staff) == {"dispatched", "closed", "due_soon"}
    assert staff["dispatched"]["department_code"] == "sanitation_west"
    assert staff["dispatched"]["department_name"] == "西片环卫一体化作业单位"
    assert staff["dispatched"]["at"] == f"{NOW - timedelta(hours=2):%Y-%m-%dT%H:%M:%S}+08:00"
    assert staff["dispatched"]["description"] == "请打139****1111"
    assert staff["due_soon"]["issue_id"] == soon and staff["due_soon"]["department_code"] == "sanitation_east"
    citizen = [p["json"] for p in by_path["/citizen"]]
    assert [c["kind"] for c in citizen] == ["dispatched", "closed"]
    assert citizen[1]["plain"] == "已办结" and citizen[1]["category"] == "垃圾乱堆乱放"
    for message in citizen:
        assert set(message) == {"kind", "event", "issue_id", "at", "status", "deadline_at", "plain", "category"}
        assert "13900001111" not in json.dumps(message, ensure_ascii=False)
    [overdue] = [p["json"] for p in by_path["/construction"]]
    assert (overdue["kind"], overdue["issue_id"]) == ("overdue", other)


def test_a_reworked_issue_falls_overdue_again_and_a_moved_deadline_is_due_soon_again(db_engine, receiver):
    settings = _settings()
    [issue] = _issues(db_engine, [{"department": "sanitation_west", "deadline": NOW - timedelta(hours=2)}])
    notify.set_webhook(db_engine, settings, receiver.url("/s"), now=NOW, department_code="sanitation_west")
    assert notify.fill_outbox(db_engine, settings, now=NOW) == 1
    _step(db_engine, issue, "register", NOW)
    _step(db_engine, issue, "dispatch", NOW + timedelta(minutes=1))
    _step(db_engine, issue, "handle", NOW + timedelta(minutes=2))
    _step(db_engine, issue, "rework", NOW + timedelta(minutes=3), note="没扫干净")
    # dispatch, then rework (back to dispatched), then overdue once more with the new rework count
    assert notify.fill_outbox(db_engine, settings, now=NOW + timedelta(minutes=5)) == 3
    kinds = store.read_notifications(db_engine, jurisdiction_code=J)[["kind", "event_key"]]
    assert kinds["kind"].tolist() == ["overdue", "dispatched", "dispatched", "overdue"]
    assert kinds["event_key"].iloc[-1].endswith(":1") and kinds["event_key"].iloc[0].endswith(":0")
    assert notify.fill_outbox(db_engine, settings, now=NOW + timedelta(minutes=6)) == 0


def test_two_senders_never_send_one_message_twice(db_engine, receiver):
    settings = _settings()
    [issue] = _issues(db_engine, [{"department": "sanitation_west", "deadline": NOW - timedelta(hours=1)}])
    notify.set_webhook(db_engine, settings, receiver.url("/s"), now=NOW, department_code="sanitation")
    notify.fill_outbox(db_engine, settings, now=NOW)
    [message] = store.due_notifications(db_engine, jurisdiction_code=J, now=NOW, limit=10).itertuples()
    assert store.claim_notification(db_engine, message.id, attempts=0, until=NOW + notify.CLAIM_HOLD)
    # a second sender that read the message before the claim loses
    assert not store.claim_notification(db_engine, message.id, attempts=0, until=NOW + notify.CLAIM_HOLD)
    # and finds nothing due until the claim lapses
    assert store.due_notifications(db_engine, jurisdiction_code=J, now=NOW, limit=10).empty
    late = NOW + notify.CLAIM_HOLD
    assert notify.deliver_outbox(db_engine, settings, now=late) == (1, 0)
    assert [p["json"]["issue_id"] for p in receiver.posts] == [issue]


def test_webhook_targets_are_checked(db_engine):
    settings = _settings()
    with pytest.raises(ValidationError, match="'ftp://x'"):
        notify.set_webhook(db_engine, settings, "ftp://x", now=NOW, department_code="sanitation")
    with pytest.raises(ValidationError, match="department 'nope' is unknown"):
        notify.set_webhook(db_engine, settings, "http://127.0.0.1:9/", now=NOW, department_code="nope")
    with pytest.raises(NotFoundError, match="tracking token"):
        notify.set_webhook(db_engine, settings, "http://127.0.0.1:9/", now=NOW, token="A" * 43)
    with pytest.raises(ValidationError, match="not both"):
        notify.set_webhook(db_engine, settings, "http://127.0.0.1:9/", now=NOW)
    first = notify.set_webhook(db_engine, settings, "http://127.0.0.1:9/a", now=NOW, department_code="sanitation")
    # a new URL keeps the secret; removing drops the webhook
    assert notify.set_webhook(db_engine, settings, "http://127.0.0.1:9/b", now=NOW,
                              department_code="sanitation") == first
    assert store.read_webhooks(db_engine, jurisdiction_code=J)["url"].tolist() == ["http://127.0.0.1:9/b"]
    assert notify.remove_webhook(db_engine, settings, department_code="sanitation") == 1
    assert store.read_webhooks(db_engine, jurisdiction_code=J).empty


def test_retry_waits_double_up_to_the_cap():
    waits = [notify.retry_delay(n, base_s=30, cap_s=3600).total_seconds() for n in (1, 2, 3, 7, 8, 500)]
    assert waits == [30, 60, 120, 1920, 3600, 3600]


def test_the_cli_sets_webhooks_and_runs_a_round(sample_copy, receiver):
    import subprocess
    import sys
    from pathlib import Path

    from geo.clock import local_now
    from geo.issue_filter import IssueFilter
    from geo.store.db import make_engine

    citymap = str(Path(sys.executable).parent / "citymap")
    env = {"CITYMAP_DATA_DIR": str(sample_copy.data_dir), "PATH": "/usr/bin:/bin"}

    def cli(*args):
        return subprocess.run([citymap, "notify", *args], capture_output=True, text=True, env=env, check=False)

    done = cli("webhook", "set", receiver.url("/crew"), "--department", "sanitation")
    assert done.returncode == 0, done.stderr
    secret = done.stdout.strip().splitlines()[-1]
    assert len(secret) == 64 and int(secret, 16) >= 0
    assert cli("webhook", "list").stdout.splitlines() == [f"department sanitation\t{receiver.url('/crew')}",
                                                          "1 webhooks"]
    engine = make_engine(sample_copy.resolved_database_url)
    registered = store.query_issues(engine, jurisdiction_code=J, columns=("id",), limit=1,
                                    where=IssueFilter(statuses=["registered"]))
    issue_id = int(registered["id"].iloc[0])
    workflow.apply_transition(engine, issue_id, "dispatch", actor="王调度", role="dispatcher", now=local_now(),
                              department_code="sanitation_west")
    engine.dispose()
    first = cli("run")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("1 notifications queued, 1 delivered, 0 failed")
    assert [p["json"]["issue_id"] for p in receiver.posts] == [issue_id]
    assert cli("run").stdout.startswith("0 notifications queued, 0 delivered")
    refused = cli("webhook", "set", receiver.url("/x"), "--token", "A" * 43)
    assert refused.returncode == 1 and refused.stderr == "error: no report has that tracking token\n"
    assert cli("webhook", "set", "file:///etc/passwd", "--department", "sanitation").returncode == 1
    assert cli("webhook", "remove", "--department", "sanitation").stdout == "webhook removed\n"
    assert cli("webhook", "list").stdout == "0 webhooks\n"


def test_the_servers_thread_runs_the_rounds(spatialite_url, receiver):
    import time

    from geo.clock import local_now
    from geo.store.db import init_db, make_engine
    from webmap.cli.notify import start_notifier

    settings = _settings(database_url=spatialite_url)
    engine = make_engine(spatialite_url)
    init_db(engine)
    [issue] = _issues(engine, [{"department": "construction", "deadline": local_now() - timedelta(minutes=5)}])
    notify.set_webhook(engine, settings, receiver.url("/c"), now=local_now(), department_code="construction")
    stop = start_notifier(settings, 0.2)
    try:
        for _ in range(100):
            if receiver.posts:
                break
            time.sleep(0.1)
        time.sleep(0.5)  # a few more rounds: still one message
    finally:
        stop.set()
    assert [(p["json"]["kind"], p["json"]["issue_id"]) for p in receiver.posts] == [("overdue", issue)]
    engine.dispose()
