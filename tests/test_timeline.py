"""An issue's timeline: the staff's rows (names from transitions.csv, the report first, whom it was dispatched to,
time per step, by the deadline or not) and the citizen's plain ones; on tiny hand-made events."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from geo.errors import ValidationError
from geo.loop.timeline import PUBLIC_COLUMNS, TIMELINE_COLUMNS, after_photos, issue_timeline, public_timeline
from geo.loop.workflow import load_transitions

PHOTO = "0123456789abcdef0123456789abcdef.jpg"
ISSUE = {"reported_at": datetime(2026, 12, 1, 8, 0), "deadline_at": datetime(2026, 12, 1, 20, 0),
         "department_code": "construction"}
NAMES = {"sanitation": "公共管理办（市容环卫）", "construction": "城建办"}


def _events(rows: list[tuple]) -> pd.DataFrame:
    """(at, action, from, to, note, photo, department) → events as geo.store.read_issue_events gives them."""
    frame = pd.DataFrame(rows, columns=["at", "action", "from_status", "to_status", "note", "photo",
                                        "department_code"])
    return frame.assign(id=range(1, len(rows) + 1), at=pd.to_datetime(frame["at"]), actor="王调度",
                        lon=float("nan"), lat=float("nan"))


EVENTS = _events([
    ("2026-12-01 09:00", "register", "reported", "registered", None, None, None),
    ("2026-12-01 10:00", "dispatch", "registered", "dispatched", float("nan"), None, "sanitation"),
    ("2026-12-01 10:30", "reassign", "dispatched", "dispatched", "不归环卫", None, "construction"),
    ("2026-12-02 09:00", "handle", "dispatched", "handled", "已清理", PHOTO, "construction"),
    ("2026-12-02 12:00", "verify", "handled", "verified", None, None, "construction"),
    ("2026-12-02 12:05", "close", "verified", "closed", None, None, "construction"),
])


def test_staff_rows_name_each_step_and_judge_the_handling_by_the_deadline():
    rows = issue_timeline(ISSUE, EVENTS, department_names=NAMES)
    assert list(rows.columns) == list(TIMELINE_COLUMNS)
    names = load_transitions().drop_duplicates("action").set_index("action")["name"]
    assert rows["name"].tolist() == ["上报", *names[["register", "dispatch", "reassign", "handle", "verify",
                                                    "close"]]]
    assert rows["action"].tolist()[0] == "report" and rows["status"].tolist()[0] == "reported"
    # whom the dispatch and the reassignment sent it to, as each step recorded it
    assert rows["department_name"].tolist() == [None, None, "公共管理办（市容环卫）", "城建办", None, None, None]
    assert rows["elapsed_s"].tolist() == [None, 3600.0, 3600.0, 1800.0, 81000.0, 10800.0, 300.0]
    # register, dispatch and reassign before 20:00 were on time, the handling next morning late; verifying and
    # closing are not judged by the handling deadline
    assert rows["on_time"].tolist() == [None, True, True, True, False, None, None]
    assert rows["note"].tolist() == [None, None, None, "不归环卫", "已清理", None, None]
    assert not any(isinstance(v, float) and v != v for v in rows.to_numpy().ravel())  # None, never NaN


def test_imported_history_falls_back_to_the_issues_department_and_unknown_actions_keep_their_code():
    events = _events([
        ("2026-12-01 09:00", "dispatch", "registered", "dispatched", None, None, None),
        ("2026-12-01 11:00", "escalate", "dispatched", "dispatched", "请加快", None, "construction"),
    ])
    rows = issue_timeline({**ISSUE, "deadline_at": None}, events, department_names={})
    assert rows["department_code"].tolist() == [None, "construction", None]
    assert rows["department_name"].tolist() == [None, "construction", None]
    assert rows["name"].tolist()[-1] == "escalate"
    assert rows["on_time"].tolist() == [None, None, None]  # no deadline: nothing judged


def test_a_report_without_events_is_one_row():
    rows = issue_timeline(ISSUE, EVENTS.iloc[0:0], department_names=NAMES)
    assert rows[["action", "name", "elapsed_s"]].to_dict("records") == [
        {"action": "report", "name": "上报", "elapsed_s": None}]


def test_the_citizens_rows_are_plain_words_without_names_or_notes():
    rows = public_timeline(ISSUE, EVENTS)
    assert list(rows.columns) == list(PUBLIC_COLUMNS)
    # the reassignment changes nothing a citizen sees: left out, and its time counts into the next step
    assert rows["plain"].tolist() == ["已收到，等待受理", "已受理，等待派遣", "已派给责任单位处理", "已处理，等待核查",
                                      "已核查，即将办结", "已办结"]
    assert rows["elapsed_s"].tolist() == [None, 3600.0, 3600.0, 82800.0, 10800.0, 300.0]
    assert rows["photo"].tolist() == [None, None, None, PHOTO, None, None]
    shown = " ".join(map(str, rows.to_numpy().ravel()))
    for hidden in ("王调度", "不归环卫", "已清理", "sanitation", "construction", "城建办"):
        assert hidden not in shown
    assert after_photos(EVENTS) == [PHOTO]
    # a photo reference that is no stored photo (a URL someone typed) is never shown
    odd = EVENTS.assign(photo=EVENTS["photo"].replace(PHOTO, "http://evil.example/x.jpg"))
    assert after_photos(odd) == [] and public_timeline(ISSUE, odd)["photo"].isna().all()


def test_bad_input_is_refused():
    with pytest.raises(ValidationError, match="deadline_at"):
        issue_timeline({"reported_at": datetime(2026, 1, 1)}, EVENTS, department_names={})
    with pytest.raises(ValidationError, match="to_status"):
        public_timeline(ISSUE, EVENTS.drop(columns="to_status"))
