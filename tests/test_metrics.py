"""Accountability figures on hand-made cases, the published report's arithmetic, deadlines and overdue."""

from __future__ import annotations

from datetime import datetime, time

import numpy as np
import pandas as pd
import pytest

from geo.loop import metrics
from geo.taxonomy import load_taxonomy

T = pd.Timestamp


def frame(rows: list[dict]) -> pd.DataFrame:
    base = {"id": 0, "category_code": "06010", "status": "closed", "reported_at": pd.NaT, "registered_at": pd.NaT,
            "handled_at": pd.NaT, "closed_at": pd.NaT, "deadline_at": pd.NaT, "rework_count": 0,
            "community_code": None, "grid_code": None, "zone_code": None, "department_code": None}
    out = pd.DataFrame([{**base, "id": i + 1, **r} for i, r in enumerate(rows)])
    for c in ("reported_at", "registered_at", "handled_at", "closed_at", "deadline_at"):
        out[c] = pd.to_datetime(out[c], format="mixed")
    return out


MARCH = {"start": datetime(2025, 3, 1), "end": datetime(2025, 4, 1), "now": datetime(2025, 4, 1, 9, 0)}


def test_published_monthly_report_arithmetic():
    """972 cases due in the month, 911 closed, 737 of them handled on time → 93.72 % and 75.82 %."""
    n = 972
    closed = np.arange(n) < 911
    on_time = np.arange(n) < 737
    deadline = T("2025-03-20 18:00")
    issues = frame([{
        "reported_at": T("2025-03-15 09:00"), "registered_at": T("2025-03-15 09:10"), "deadline_at": deadline,
        "handled_at": deadline - pd.Timedelta(hours=1) if on_time[i] else deadline + pd.Timedelta(hours=5),
        "closed_at": T("2025-03-25 10:00") if closed[i] else pd.NaT,
        "status": "closed" if closed[i] else "handled",
    } for i in range(n)])
    fig = metrics.period_figures(issues, **MARCH)
    assert (fig["due"], fig["closed"], fig["closed_on_time"]) == (972, 911, 737)
    assert round(fig["close_rate_pct"], 2) == 93.72
    assert round(fig["on_time_rate_pct"], 2) == 75.82


def test_each_figure_on_hand_made_cases():
    issues = frame([
        # 1: registered and due in March, handled on time after one rework, closed in March.
        {"reported_at": "2025-03-02 08:00", "registered_at": "2025-03-02 09:00", "deadline_at": "2025-03-05 18:00",
             "handled_at": "2025-03-04 08:00", "closed_at": "2025-03-04 12:00", "rework_count": 1, "department_code": "A"},
        # 2: registered in February, due in March, handled late, closed in March.
        {"reported_at": "2025-02-27 10:00", "registered_at": "2025-02-27 11:00", "deadline_at": "2025-03-03 18:00",
             "handled_at": "2025-03-06 10:00", "closed_at": "2025-03-07 10:00", "department_code": "A"},
        # 3: registered in March, due in April: counts as registered, not as due; still dispatched.
        {"reported_at": "2025-03-31 10:00", "registered_at": "2025-03-31 11:00", "deadline_at": "2025-04-03 18:00",
             "status": "dispatched", "department_code": "B"},
        # 4: due in March, not handled: due, not closed, overdue at the start of April.
        {"reported_at": "2025-03-10 10:00", "registered_at": "2025-03-10 11:00", "deadline_at": "2025-03-12 18:00",
             "status": "dispatched", "department_code": "B"},
        # 5: due in March, closed only in April: due, not closed within the period.
        {"reported_at": "2025-03-20 10:00", "registered_at": "2025-03-20 11:00", "deadline_at": "2025-03-25 18:00",
             "handled_at": "2025-03-24 10:00", "closed_at": "2025-04-02 10:00", "department_code": "A"},
        # 6: refused: counts nowhere.
        {"reported_at": "2025-03-03 10:00", "registered_at": "2025-03-03 10:30", "deadline_at": "2025-03-06 18:00",
             "status": "refused", "department_code": "A"},
    ])
    fig = metrics.period_figures(issues, **MARCH)
    assert fig["registered"] == 4          # 1, 3, 4, 5 (2 in February, 6 refused)
    assert fig["due"] == 4                 # 1, 2, 4, 5
    assert fig["closed"] == 2              # 1, 2
    assert fig["closed_on_time"] == 1      # 1
    assert fig["close_rate_pct"] == pytest.approx(50.0)
    assert fig["on_time_rate_pct"] == pytest.approx(25.0)
    assert (fig["handled"], fig["rework"]) == (4, 1)     # 1 (2 reports), 2, 5 handled in March
    assert fig["rework_rate_pct"] == pytest.approx(25.0)
    # Hours from report to handling: 48, 168 (2-27 10:00 → 3-06 10:00, February has 28 days), 96.
    assert fig["handle_h_median"] == pytest.approx(96.0)
    assert fig["handle_h_p90"] == pytest.approx(96 + 0.8 * (168 - 96))
    assert (fig["backlog"], fig["overdue"]) == (2, 1)

    table = metrics.accountability(issues, by="department", **MARCH,
                                   extents=pd.DataFrame({"area_km2": [2.0, 4.0, 1.0], "road_km": [10.0, 0.0, 1.0]},
                                                        index=["A", "B", "C"]))
    assert table.index.tolist() == ["A", "B", "C"]
    assert table.loc["A", ["registered", "due", "closed", "closed_on_time"]].tolist() == [2, 3, 2, 1]
    assert table.loc["B", ["registered", "due", "backlog", "overdue"]].tolist() == [2, 1, 2, 1]
    assert table.loc["C", ["registered", "due"]].tolist() == [0, 0] and np.isnan(table.loc["C", "close_rate_pct"])
    assert table.loc["A", "registered_per_km2"] == pytest.approx(1.0)
    assert table.loc["A", "registered_per_road_km"] == pytest.approx(0.2)
    assert np.isnan(table.loc["B", "registered_per_road_km"])   # no road in the patch: undefined, not infinite


def test_overdue_means_past_deadline_and_not_yet_handled():
    issues = frame([
        {"status": "dispatched", "deadline_at": "2025-03-05 18:00"},
        {"status": "handled", "deadline_at": "2025-03-05 18:00"},
        {"status": "registered", "deadline_at": "2025-03-07 18:00"},
        {"status": "refused", "deadline_at": "2025-03-01 18:00"},
        {"status": "reported", "deadline_at": pd.NaT},
    ])
    assert metrics.overdue_mask(issues, now=datetime(2025, 3, 6)).tolist() == [True, False, False, False, False]
    assert metrics.overdue_mask(issues, now=datetime(2025, 3, 5, 18, 0)).tolist() == [False] * 5


def test_deadlines_across_the_spring_festival_and_a_make_up_saturday():
    """2025: holiday 1-28 … 2-04, make-up working days Sunday 1-26 and Saturday 2-08."""
    tax = load_taxonomy()
    codes = pd.Series(["06001", "06002", "06010", "06010"])     # 5 and 3 working days; 日产日清
    reported = pd.Series(pd.to_datetime(["2025-01-27 10:00", "2025-01-27 10:00", "2025-01-29 21:00",
                                         "2025-01-29 19:59"]))
    due = tax.deadlines(codes, reported, day_cutoff=time(20, 0))
    # 5 working days after Monday 1-27: 2-05, 2-06, 2-07, Saturday 2-08 (make-up), Monday 2-10.
    # 3: 2-05, 2-06, 2-07. Garbage on a holiday is still cleared that day, after 20:00 the next.
    assert due.tolist() == [T("2025-02-10 18:00"), T("2025-02-07 18:00"), T("2025-01-30 23:59:59"),
                            T("2025-01-29 23:59:59")]
    issues = frame([{"status": "dispatched", "deadline_at": d} for d in due])
    assert metrics.overdue_mask(issues, now=datetime(2025, 2, 8, 12)).tolist() == [False, True, True, True]
    assert metrics.overdue_mask(issues, now=datetime(2025, 2, 10, 18, 1)).tolist() == [True] * 4


def test_home_figures_today_and_this_month():
    issues = frame([
        {"reported_at": "2025-03-15 08:00", "registered_at": "2025-03-15 08:10", "deadline_at": "2025-03-15 23:59:59",
             "handled_at": "2025-03-15 09:00", "closed_at": "2025-03-15 09:30"},
        {"reported_at": "2025-03-15 07:00", "registered_at": "2025-03-15 07:05", "deadline_at": "2025-03-15 09:00",
             "status": "dispatched"},
        {"reported_at": "2025-03-14 07:00", "registered_at": "2025-03-14 07:05", "deadline_at": "2025-03-14 23:59:59",
             "handled_at": "2025-03-14 22:00", "closed_at": "2025-03-15 08:00"},
        {"reported_at": "2025-03-15 10:30", "status": "reported"},                     # after "now": not yet reported
        {"reported_at": "2025-02-10 07:00", "registered_at": "2025-02-10 07:05", "deadline_at": "2025-02-10 23:59:59",
             "handled_at": "2025-02-11 22:00", "closed_at": "2025-02-12 08:00"},
    ])
    fig = metrics.home_figures(issues, now=datetime(2025, 3, 15, 10, 0))
    assert fig["new_today"] == 2
    assert fig["open"] == 2 and fig["overdue"] == 1
    assert fig["closed_today"] == 2
    # Due so far this month: issues 2 (9:00) and 3 (3-14); issue 1 is due tonight, issue 5 in February.
    assert (fig["month_due"], fig["month_closed"], fig["month_closed_on_time"]) == (2, 1, 1)
    assert fig["month_close_rate_pct"] == pytest.approx(50.0) and fig["month_on_time_rate_pct"] == pytest.approx(50.0)
    empty = metrics.home_figures(issues.iloc[:0], now=datetime(2025, 3, 15, 10, 0))
    assert empty["month_close_rate_pct"] is None and empty["open"] == 0


def test_plan_task_figures_count_an_issue_under_every_task_it_serves():
    tax = load_taxonomy()
    serves = tax.categories.loc["06010", "plan_tasks"]
    issues = frame([{"category_code": "06010", "reported_at": "2025-03-02 08:00", "registered_at": "2025-03-02 09:00",
                         "deadline_at": "2025-03-02 23:59:59", "handled_at": "2025-03-02 10:00",
                         "closed_at": "2025-03-02 11:00"}])
    board = metrics.plan_task_figures(issues, **MARCH)
    assert len(board) == 24 and board.index.tolist() == list(range(1, 25))
    assert set(board.index[board["registered"] == 1]) == set(serves)
    assert board.loc[list(serves), "close_rate_pct"].tolist() == [100.0] * len(serves)
    assert board.loc[1, "lead"] == "sanitation" and "06010" in board.loc[1, "categories"].split(";")


def test_inputs_are_validated():
    issues = frame([{}])
    with pytest.raises(Exception, match="cannot group by 'street'"):
        metrics.accountability(issues, by="street", **MARCH)
    with pytest.raises(Exception, match="lack column"):
        metrics.period_figures(issues.drop(columns="deadline_at"), **MARCH)
    with pytest.raises(Exception, match="not after its start"):
        metrics.period_figures(issues, start=datetime(2025, 4, 1), end=datetime(2025, 3, 1), now=datetime(2025, 4, 1))
