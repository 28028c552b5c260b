"""The closed loop: every transition per role, audit events, races, the departments' requests."""

from __future__ import annotations

import multiprocessing
from datetime import datetime

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from geo import store
from geo.errors import ConflictError, ForbiddenError, NotFoundError, ValidationError
from geo.issue_filter import IssueFilter
from geo.loop import workflow
from geo.loop.users import role_names
from geo.statuses import ISSUE_STATUSES
from geo.store.db import init_db, make_engine

J = "120110900"
NOW = datetime(2025, 3, 4, 10, 0)
# Which stamp an issue in each state already carries (so that rework/close have something to build on).
_STAMPS = {"reported": [], "registered": ["registered_at"], "dispatched": ["registered_at", "dispatched_at"],
           "handled": ["registered_at", "dispatched_at", "handled_at"],
           "verified": ["registered_at", "dispatched_at", "handled_at", "verified_at"],
           "closed": ["registered_at", "dispatched_at", "handled_at", "verified_at", "closed_at"],
           "refused": [], "merged": []}


def insert(engine, statuses: list[str], *, department: str = "sanitation_west", category: str = "06010",
           tag: str = "t") -> list[int]:
    """Issues in the given states (one per entry), ids in the same order."""
    frame = gpd.GeoDataFrame({
        "source": "inspection", "external_id": [f"{tag}{i}" for i in range(len(statuses))],
        "source_system": "wgs84", "category_code": category, "status": statuses,
        "reported_at": pd.Timestamp("2025-03-03 09:00"), "deadline_at": pd.Timestamp("2025-03-03 23:59:59"),
        "department_code": department,
        **{c: [pd.Timestamp("2025-03-03 10:00") if c in _STAMPS[s] else pd.NaT for s in statuses]
           for c in ("registered_at", "dispatched_at", "handled_at", "verified_at", "closed_at")},
    }, geometry=[Point(117.35, 39.10)] * len(statuses), crs="EPSG:4326")
    store.insert_issues(engine, frame, jurisdiction_code=J, file="test", actor="test")
    ids = store.query_issues(engine, jurisdiction_code=J, columns=("id", "external_id"))
    return ids.set_index("external_id").loc[frame["external_id"], "id"].astype(int).tolist()


def _arguments(action: str, role: str, target: int) -> dict:
    return {"actor": "张三", "role": role, "note": "已清理", "photo": "photos/1.jpg", "lon": 117.35, "lat": 39.1,
            "department_code": "sanitation_west" if role == "department" else None,
            "merge_into": target if action == "merge" else None, "days": 2 if action == "ask_extension" else None,
            "now": NOW}


def _ask_first(engine, issue_id: int, action: str, state: str) -> None:
    """Open the request a grant or a refusal answers (none is pending on a fresh issue)."""
    step = workflow.load_transitions().set_index("action").loc[[action]].iloc[0]
    if step["request"] in ("grant", "refuse") and state == "dispatched":
        kind = step["request_kind"] or "return"
        workflow.apply_transition(engine, issue_id, f"ask_{kind}", **_arguments(f"ask_{kind}", "department", 0)
                                  | {"merge_into": None})


@pytest.fixture
def sqlite_engine(spatialite_url):
    engine = make_engine(spatialite_url)
    init_db(engine)
    yield engine
    engine.dispose()


def test_transition_table_is_the_designed_loop():
    table = workflow.load_transitions()
    pairs = set(zip(table["action"], table["from"], table["to"]))
    assert pairs == {
        ("register", "reported", "registered"), ("refuse", "reported", "refused"),
        ("merge", "reported", "merged"), ("merge", "registered", "merged"),
        ("dispatch", "registered", "dispatched"), ("reassign", "dispatched", "dispatched"),
        ("handle", "dispatched", "handled"), ("verify", "handled", "verified"),
        ("rework", "handled", "dispatched"), ("close", "verified", "closed"),
        ("urge", "dispatched", "dispatched"), ("ask_return", "dispatched", "dispatched"),
        ("ask_extension", "dispatched", "dispatched"), ("grant_return", "dispatched", "registered"),
        ("grant_extension", "dispatched", "dispatched"), ("refuse_request", "dispatched", "dispatched"),
    }
    assert workflow.allowed_actions("handled", "dispatcher") == ["verify", "rework"]
    # a request is asked when none is pending, granted when one of its kind is, refused when any is
    assert workflow.allowed_actions("dispatched", "department") == ["handle", "ask_return", "ask_extension"]
    assert workflow.allowed_actions("dispatched", "department", pending="return") == ["handle"]
    assert workflow.allowed_actions("dispatched", "dispatcher") == ["reassign", "urge"]
    assert workflow.allowed_actions("dispatched", "dispatcher", pending="extension") == [
        "reassign", "urge", "grant_extension", "refuse_request"]
    assert workflow.allowed_actions("closed", "dispatcher") == []
    names = table.drop_duplicates("action").set_index("action")["name"]
    assert names[["urge", "ask_return", "ask_extension", "grant_return", "grant_extension"]].tolist() == [
        "督办", "申请退回", "申请延期", "同意退回", "同意延期"]
    assert table.set_index("action").loc["handle", "photos"] == ("before", "after")


def test_every_action_for_every_role_and_state(sqlite_engine):
    """Allowed (action, from, role) → the issue moves and one event is written; every other pair is refused."""
    table = workflow.load_transitions()
    cases = [(a, s, r) for a in table["action"].unique() for s in ISSUE_STATUSES for r in role_names()]
    ids = insert(sqlite_engine, [s for _, s, _ in cases])
    (target,) = insert(sqlite_engine, ["registered"], tag="target")
    outcomes = {"ok": 0, "forbidden": 0, "conflict": 0}
    for (action, state, role), issue_id in zip(cases, ids):
        rows = table[table["action"] == action]
        args = _arguments(action, role, target)
        if role not in rows.iloc[0]["roles"]:
            with pytest.raises(ForbiddenError, match=f"role '{role}' may not {action}"):
                workflow.apply_transition(sqlite_engine, issue_id, action, **args)
            outcomes["forbidden"] += 1
        elif state not in set(rows["from"]):
            with pytest.raises(ConflictError, match=f"issue {issue_id} is '{state}' now"):
                workflow.apply_transition(sqlite_engine, issue_id, action, **args)
            outcomes["conflict"] += 1
        else:
            _ask_first(sqlite_engine, issue_id, action, state)
            result = workflow.apply_transition(sqlite_engine, issue_id, action, **args)
            expected = rows.loc[rows["from"] == state, "to"].iloc[0]
            assert (result["from_status"], result["to_status"]) == (state, expected)
            events = store.read_issue_events(sqlite_engine, issue_id)
            last = events.iloc[-1]
            assert (last["action"], last["from_status"], last["to_status"], last["actor"]) == (
                action, state, expected, "张三")
            assert last["at"] == pd.Timestamp(NOW)
            assert (last["lon"], last["lat"]) == pytest.approx((117.35, 39.1))
            outcomes["ok"] += 1
            state = expected
        # A refused step leaves the issue as it was.
        assert store.query_issues(sqlite_engine, jurisdiction_code=J, where=IssueFilter(ids=[issue_id]),
                                  columns=("status",))["status"].iloc[0] == state
    # 16 (action, from) rows, each allowed for exactly one role.
    assert outcomes["ok"] == 16
    assert outcomes["forbidden"] == 15 * len(ISSUE_STATUSES) * (len(role_names()) - 1)


def test_lifecycle_sets_stamps_rework_and_events(sqlite_engine):
    (i,) = insert(sqlite_engine, ["reported"])
    go = lambda action, role="dispatcher", **kw: workflow.apply_transition(
        sqlite_engine, i, action, actor="u", role=role, **kw)
    go("register", now=datetime(2025, 3, 3, 9, 30))
    result = go("dispatch", department_code="sanitation_east", now=datetime(2025, 3, 3, 9, 40))
    assert result["department_code"] == "sanitation_east"
    # sanitation_east is a child of sanitation: the sanitation office may act for it, the west crew may not.
    with pytest.raises(ForbiddenError, match="belongs to department 'sanitation_east'"):
        go("handle", role="department", department_code="sanitation_west", note="n", photo="p")
    go("handle", role="department", department_code="sanitation", note="清了", photo="a.jpg",
       now=datetime(2025, 3, 3, 12, 0))
    go("rework", note="没清干净", now=datetime(2025, 3, 3, 13, 0))
    row = store.query_issues(sqlite_engine, jurisdiction_code=J, where=IssueFilter(ids=[i]),
                             columns=("status", "handled_at", "dispatched_at", "rework_count")).iloc[0]
    assert row["status"] == "dispatched" and pd.isna(row["handled_at"]) and row["rework_count"] == 1
    assert row["dispatched_at"] == pd.Timestamp("2025-03-03 13:00")
    go("handle", role="department", department_code="sanitation_east", note="再清", photo="b.jpg",
       now=datetime(2025, 3, 3, 15, 0))
    go("verify", now=datetime(2025, 3, 3, 16, 0))
    go("close", now=datetime(2025, 3, 3, 16, 5))
    row = store.query_issues(sqlite_engine, jurisdiction_code=J, where=IssueFilter(ids=[i]), columns=(
        "status", "registered_at", "handled_at", "verified_at", "closed_at", "rework_count", "department_code")).iloc[0]
    assert row["status"] == "closed" and row["rework_count"] == 1 and row["department_code"] == "sanitation_east"
    assert (row["registered_at"], row["handled_at"], row["closed_at"]) == (
        pd.Timestamp("2025-03-03 09:30"), pd.Timestamp("2025-03-03 15:00"), pd.Timestamp("2025-03-03 16:05"))
    events = store.read_issue_events(sqlite_engine, i)
    assert events["action"].tolist() == ["register", "dispatch", "handle", "rework", "handle", "verify", "close"]
    assert events.loc[events["action"] == "handle", "photo"].tolist() == ["a.jpg", "b.jpg"]
    assert events["note"].iloc[3] == "没清干净"


def test_requests_extension_return_refusal_lapse_and_urging(db_engine):
    """A department asks 延期 / 退回, the dispatcher grants or refuses; the answer moves the deadline or the issue."""
    extend, back, refuse, lapse = insert(db_engine, ["dispatched"] * 4)
    crew = {"actor": "西片", "role": "department", "department_code": "sanitation_west"}
    desk = {"actor": "调度", "role": "dispatcher"}
    go = workflow.apply_transition
    # 2025-03-03 is a Monday: 3 working days on from its 23:59:59 deadline is Thursday, the time of day kept
    asked = go(db_engine, extend, "ask_extension", **crew, note="需要吊车", days=3, now=datetime(2025, 3, 3, 12))
    with pytest.raises(ConflictError, match="已有待答复的申请"):
        go(db_engine, extend, "ask_return", **crew, note="不归我们", now=datetime(2025, 3, 3, 12, 5))
    with pytest.raises(ConflictError, match="no pending return request"):
        go(db_engine, extend, "grant_return", **desk)
    granted = go(db_engine, extend, "grant_extension", **desk, now=datetime(2025, 3, 3, 14))
    assert granted["request_id"] == asked["request_id"] and granted["to_status"] == "dispatched"
    assert granted["deadline_at"] == datetime(2025, 3, 6, 23, 59, 59)
    row = store.query_issues(db_engine, jurisdiction_code=J, where=IssueFilter(ids=[extend]),
                             columns=("status", "deadline_at", "deadline_provisional")).iloc[0]
    assert (row["status"], row["deadline_at"], row["deadline_provisional"]) == (
        "dispatched", pd.Timestamp("2025-03-06 23:59:59"), False)
    # a return granted sends the issue back to be dispatched again
    go(db_engine, back, "ask_return", **crew, note="应由执法大队处理", now=datetime(2025, 3, 3, 12))
    assert workflow.allowed_actions("dispatched", "dispatcher", pending="return")[-2:] == ["grant_return",
                                                                                           "refuse_request"]
    go(db_engine, back, "grant_return", **desk, now=datetime(2025, 3, 3, 13))
    row = store.query_issues(db_engine, jurisdiction_code=J, where=IssueFilter(ids=[back]),
                             columns=("status", "dispatched_at", "department_code")).iloc[0]
    assert row["status"] == "registered" and pd.isna(row["dispatched_at"])
    # refused: nothing moves but the request
    go(db_engine, refuse, "ask_extension", **crew, note="人手不够", days=5, now=datetime(2025, 3, 3, 12))
    go(db_engine, refuse, "refuse_request", **desk, note="今日必须完成", now=datetime(2025, 3, 3, 12, 30))
    with pytest.raises(ConflictError, match="没有待答复的申请"):
        go(db_engine, refuse, "refuse_request", **desk, note="again")
    go(db_engine, refuse, "urge", **desk, note="请今日处置", now=datetime(2025, 3, 3, 15))
    # handling while a request waits lets it lapse
    go(db_engine, lapse, "ask_return", **crew, note="不归我们", now=datetime(2025, 3, 3, 12))
    go(db_engine, lapse, "handle", **crew, note="还是清了", photo="a.jpg", now=datetime(2025, 3, 3, 16))
    requests = store.read_requests(db_engine, jurisdiction_code=J, issue_ids=[extend, back, refuse, lapse])
    shown = requests[["issue_id", "kind", "days", "status", "answered_by"]].astype(object)
    assert shown.where(shown.notna(), None).values.tolist() == [
        [extend, "extension", 3, "granted", "调度"], [back, "return", None, "granted", "调度"],
        [refuse, "extension", 5, "refused", "调度"], [lapse, "return", None, "lapsed", "西片"]]
    assert requests["answer_note"].tolist()[2] == "今日必须完成"
    assert store.count_pending_requests(db_engine, jurisdiction_code=J) == 0
    assert store.read_issue_events(db_engine, refuse)["action"].tolist() == [
        "register", "dispatch", "ask_extension", "refuse_request", "urge"]
    # one pending request per issue, whatever writes it
    go(db_engine, refuse, "ask_return", **crew, note="不归我们", now=datetime(2025, 3, 3, 17))
    assert store.count_pending_requests(db_engine, jurisdiction_code=J, departments=["sanitation_west"]) == 1
    assert store.count_pending_requests(db_engine, jurisdiction_code=J, departments=["construction"]) == 0
    from sqlalchemy.exc import IntegrityError

    from geo.store.db import write_tx
    with pytest.raises(IntegrityError), write_tx(db_engine) as conn:
        store.insert_request(conn, {"jurisdiction_code": J, "issue_id": refuse, "kind": "return", "asked_by": "x",
                                    "asked_at": NOW})


def test_request_steps_check_their_days():
    with pytest.raises(ValidationError, match="延期天数应为 1…30 个工作日"):
        workflow.apply_transition(None, 1, "ask_extension", actor="u", role="department", note="n",
                                  department_code="sanitation")
    for days in (0, 31, True, 2.5):
        with pytest.raises(ValidationError, match="延期天数"):
            workflow.apply_transition(None, 1, "ask_extension", actor="u", role="department", note="n",
                                      department_code="sanitation", days=days)
    with pytest.raises(ValidationError, match="days is for asking an extension only"):
        workflow.apply_transition(None, 1, "urge", actor="u", role="dispatcher", days=3)
    moved, provisional = workflow.extended_deadline(datetime(2025, 9, 30, 18, 0), 1)
    # the National Day holidays of 2025 run to 8 October
    assert (moved, provisional) == (datetime(2025, 10, 9, 18, 0), False)


def test_inputs_are_checked_before_anything_is_written(sqlite_engine):
    reported, registered, merged = insert(sqlite_engine, ["reported", "registered", "merged"])
    call = workflow.apply_transition
    with pytest.raises(ValidationError, match="action 'destroy' is unknown"):
        call(sqlite_engine, reported, "destroy", actor="u", role="dispatcher")
    with pytest.raises(ValidationError, match="role 'boss' is unknown"):
        call(sqlite_engine, reported, "register", actor="u", role="boss")
    with pytest.raises(ValidationError, match=r"请填写说明 \(note is required\)"):
        call(sqlite_engine, reported, "refuse", actor="u", role="dispatcher")
    with pytest.raises(ValidationError, match="both lon and lat"):
        call(sqlite_engine, reported, "register", actor="u", role="dispatcher", lon=117.3)
    with pytest.raises(ValidationError, match="department 'nobody' is unknown"):
        call(sqlite_engine, registered, "dispatch", actor="u", role="dispatcher", department_code="nobody")
    with pytest.raises(ValidationError, match="merge needs the id"):
        call(sqlite_engine, reported, "merge", actor="u", role="dispatcher")
    with pytest.raises(ValidationError, match=r"cannot be merged into issue \d+ \(merged\)"):
        call(sqlite_engine, reported, "merge", actor="u", role="dispatcher", merge_into=merged)
    with pytest.raises(ValidationError, match="itself"):
        call(sqlite_engine, reported, "merge", actor="u", role="dispatcher", merge_into=reported)
    with pytest.raises(NotFoundError, match="issue 999999 does not exist"):
        call(sqlite_engine, 999999, "register", actor="u", role="dispatcher")
    assert store.read_issue_events(sqlite_engine, reported).empty
    result = call(sqlite_engine, reported, "merge", actor="u", role="dispatcher", merge_into=registered)
    assert result["to_status"] == "merged"
    assert store.query_issues(sqlite_engine, jurisdiction_code=J, where=IssueFilter(ids=[reported]),
                              columns=("merged_into",))["merged_into"].iloc[0] == registered
    # The losing side of a race: the conditional UPDATE matches no row.
    from geo.store.db import write_tx
    with write_tx(sqlite_engine) as conn:
        assert store.update_issue_if_status(conn, registered, expected_status="reported",
                                            values={"status": "registered"}) == 0


def _race_worker(url: str, issue_id: int, actor: str, barrier, results) -> None:
    engine = make_engine(url)
    engine.connect().close()  # pay the connection (and SpatiaLite loading) before the start line
    barrier.wait()
    try:
        workflow.apply_transition(engine, issue_id, "register", actor=actor, role="dispatcher")
        results.put((actor, "won", ""))
    except ConflictError as exc:
        results.put((actor, "conflict", str(exc)))
    finally:
        engine.dispose()


def test_racing_transitions_from_two_processes(db_engine, db_url):
    """Two processes register the same issues at the same moment: exactly one wins each race."""
    ids = insert(db_engine, ["reported"] * 3)
    ctx = multiprocessing.get_context("spawn")
    for issue_id in ids:
        barrier, results = ctx.Barrier(2), ctx.Queue()
        procs = [ctx.Process(target=_race_worker, args=(db_url, issue_id, a, barrier, results)) for a in ("甲", "乙")]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=120) for _ in procs]
        for p in procs:
            p.join(timeout=60)
            assert p.exitcode == 0
        assert sorted(o[1] for o in outcomes) == ["conflict", "won"]
        loser = next(o for o in outcomes if o[1] == "conflict")
        assert f"issue {issue_id}" in loser[2] and "reload" in loser[2]
        winner = next(o[0] for o in outcomes if o[1] == "won")
        events = store.read_issue_events(db_engine, issue_id)
        assert events["action"].tolist() == ["register"] and events["actor"].tolist() == [winner]
