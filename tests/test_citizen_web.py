"""The citizen's pages over the test client: the short category list, the confirmation with the deadline and the
tracking link, the public status page (plain words, after-photos, nobody else's report), 我的上报, the staff's
timeline on the issue page, and error pages in the page's language."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from io import BytesIO

import pytest
from conftest import tiny_image
from ui_language import chinese_runs

from geo import store
from geo.clock import local_now
from geo.issue_filter import IssueFilter
from geo.loop import workflow
from geo.loop.citizen import category_plain_words, common_categories
from geo.loop.views import department_names
from geo.statuses import STATUS_PLAIN
from webmap.app import create_app
from webmap.i18n import split_message

J = "120110900"
INSIDE = {"lon": "117.37", "lat": "39.1"}
PNG = tiny_image()


@pytest.fixture(scope="module")
def app(sample_copy):
    return create_app(sample_copy)


@pytest.fixture
def as_user(app, login):
    def run(name):
        client = app.test_client()
        client.csrf = login(client, name)
        return client

    return run


def _report(client, **fields) -> tuple[int, str]:
    """File a report through the form; (issue id, tracking path) from the confirmation page."""
    answer = client.post("/report", data={**INSIDE, "category_code": "06010", "description": "门口垃圾",
                                          "csrf_token": client.csrf, **fields}, content_type="multipart/form-data")
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    done = client.get(answer.headers["Location"])
    page = done.get_data(as_text=True)
    issue_id = int(re.search(r'id="report-number">#(\d+)<', page).group(1))
    link = html.unescape(re.search(r'id="tracking-link" href="([^"]+)"', page).group(1))
    return issue_id, link.removeprefix("http://localhost")


def _text(answer) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", answer.get_data(as_text=True))))


def test_the_short_list_is_the_most_reported_problems_in_plain_words(as_user, copy_engine, sample_copy):
    top = common_categories(copy_engine, sample_copy)
    newest = store.issue_time_range(copy_engine, jurisdiction_code=J)[1]
    issues = store.query_issues(copy_engine, jurisdiction_code=J, columns=("category_code",),
                                where=IssueFilter(since=newest - timedelta(days=365)))
    counts = issues["category_code"].value_counts()
    assert top["count"].tolist() == counts.head(10).tolist() and len(top) == 10
    assert set(top["code"]) == set(counts.index[:10]) or counts.iloc[9] == counts.iloc[10]
    plain = category_plain_words()["plain"]
    assert top["plain"].tolist() == [plain.get(c) for c in top["code"]]
    form = as_user("citizen").get("/report").get_data(as_text=True)
    tiles = re.findall(r'name="category_code" value="(\d{5})"><span>([^<]+)</span>', form)
    assert tiles == list(zip(top["code"], top["plain"]))
    # every category is behind 更多
    assert len(re.findall(r'<option value="\d{5}"', form)) == 97


def test_a_report_gets_its_deadline_and_a_tracking_link_that_needs_no_login(as_user, app, copy_engine):
    citizen = as_user("citizen")
    issue_id, link = _report(citizen, description="{{7*7}}</script><script>alert(1)</script> 13912345678",
                             photos=[(BytesIO(PNG), "before.png")])
    issue = store.query_issues(copy_engine, jurisdiction_code=J, where=IssueFilter(ids=[issue_id]),
                               columns=("deadline_at",)).iloc[0]
    done = _text(citizen.get(f"/report/done?issue={issue_id}"))
    assert f"预计处理时限 {issue['deadline_at']:%Y-%m-%d %H:%M} 前" in done
    anonymous = app.test_client()
    page = anonymous.get(link)
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "private, no-store"
    assert "noindex" in page.headers["X-Robots-Tag"]
    assert "{{7*7}}&lt;/script&gt;&lt;script&gt;" in body and "<script>alert" not in body and "49" not in body
    assert "139****5678" in body and "13912345678" not in body
    assert STATUS_PLAIN["reported"] in _text(page) and "垃圾乱堆乱放" in _text(page)
    # the citizen's own photo is no after-photo: not on the page, not served through the link
    photo = store.read_issue_photos(copy_engine, issue_id=issue_id)["file"].iloc[0]
    assert photo not in body and anonymous.get(f"{link}/photos/{photo}").status_code == 404
    # the token is the key: a changed one, another report's number, a malformed one are all simply not found
    token = link.rsplit("/", 1)[1]
    for wrong in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "1", str(issue_id), "x" * 300):
        assert anonymous.get(f"/track/{wrong}").status_code == 404
    # another citizen does not see the confirmation, nor the report among its own
    other = as_user("supervisor")
    assert other.get(f"/report/done?issue={issue_id}").status_code == 404
    assert other.get(f"/my/reports/{issue_id}").status_code == 404
    assert f"#{issue_id}" not in other.get("/my/reports").get_data(as_text=True)


def test_the_status_page_follows_the_loop_in_plain_words_with_the_after_photo(as_user, app, copy_engine, sample_copy):
    citizen = as_user("citizen")
    issue_id, link = _report(citizen)
    now = local_now()
    department = store.query_issues(copy_engine, jurisdiction_code=J, where=IssueFilter(ids=[issue_id]),
                                    columns=("department_code",))["department_code"].iloc[0]
    dispatcher = as_user("dispatcher")
    after = dispatcher.post(f"/api/issues/{issue_id}/photos", headers={"X-CSRF-Token": dispatcher.csrf},
                            data={"photo": (BytesIO(PNG), "after.png")}, content_type="multipart/form-data")
    after_name = after.get_json()["photo"]
    for action, role, extra in (("register", "dispatcher", {}), ("dispatch", "dispatcher", {}),
                                ("handle", "department", {"note": "内部说明：王五已处理", "photo": after_name,
                                                          "department_code": department}),
                                ("verify", "dispatcher", {}), ("close", "dispatcher", {})):
        workflow.apply_transition(copy_engine, issue_id, action, actor="王调度", role=role, now=now, **extra)
    page = app.test_client().get(link)
    text = _text(page)
    assert "已办结" in text and "预计处理时限" not in text
    assert [STATUS_PLAIN[s] for s in ("reported", "registered", "dispatched", "handled", "verified", "closed")] == \
        re.findall(r'<b class="plain">([^<]+)</b>', page.get_data(as_text=True))
    for hidden in ("王调度", "内部说明", "王五", department):
        assert hidden not in page.get_data(as_text=True)
    # in English, the page's own words are English (the category and the description are the report's data)
    english = app.test_client().get(f"{link}?lang=en").get_data(as_text=True)
    assert chinese_runs(english) == set() and "closed" in english
    served = app.test_client().get(f"{link}/photos/{after_name}")
    assert served.status_code == 200 and served.data == PNG and served.mimetype == "image/png"
    # the same page in 我的上报, for the logged-in citizen
    mine = citizen.get(f"/my/reports/{issue_id}")
    assert mine.status_code == 200 and "已办结" in _text(mine)
    assert citizen.get(f"/my/reports/{issue_id}/photos/{after_name}").data == PNG
    listed = citizen.get("/my/reports").get_data(as_text=True)
    assert f'href="/my/reports/{issue_id}"' in listed

    # the staff's timeline: named steps, the report first, whom it went to, no "nan"
    staff = dispatcher.get(f"/issues/{issue_id}").get_data(as_text=True)
    steps = re.findall(r'<b class="step">([^<]+)</b>', staff)
    assert steps[0] == "上报" and steps[1:] == ["立案（挂号）", "派遣", "处置", "核查通过", "结案（销号）"]
    sent_to = re.findall(r'派遣至：<span>([^<]+)</span>', staff)
    assert sent_to == [department_names(copy_engine, sample_copy)[department]]
    assert "nan" not in _text(dispatcher.get(f"/issues/{issue_id}")).lower()


def test_an_error_page_speaks_the_pages_language(as_user, copy_engine):
    dispatcher = as_user("dispatcher")
    handled = store.query_issues(copy_engine, jurisdiction_code=J, where=IssueFilter(statuses=["handled"]), limit=1)
    issue_id = int(handled["id"].iloc[0])
    for lang, expected, absent in (("zh", "请填写说明", "note is required"), ("en", "note is required", "请填写")):
        answer = dispatcher.post(f"/issues/{issue_id}/transitions?lang={lang}",
                                 data={"action": "rework", "csrf_token": dispatcher.csrf})
        assert answer.status_code == 400
        shown = re.search(r'id="error-message">([^<]*)<', answer.get_data(as_text=True)).group(1)
        assert expected in shown and absent not in answer.get_data(as_text=True), lang
    # a message only in English gives way to a sentence in the page's language, the original kept as the detail
    conflict = dispatcher.post(f"/issues/{issue_id}/transitions?lang=zh",
                               data={"action": "close", "csrf_token": dispatcher.csrf})
    body = conflict.get_data(as_text=True)
    assert conflict.status_code == 409 and "该问题的状态刚被他人改变" in body
    assert re.search(r'<details id="error-detail"><summary>技术细节</summary><code>issue \d+ is', body)


@pytest.mark.parametrize("message, halves", [
    ("请填写说明 (note is required)", ("请填写说明", "note is required")),
    ("角色 'public' 无权访问此页面 (role 'public' may not use pages.x)", ("角色 'public' 无权访问此页面",
                                                                       "role 'public' may not use pages.x")),
    ("week='x'：应为 ISO 周 (expected an ISO week (YYYY-Www) such as 2025-W50)",
     ("week='x'：应为 ISO 周", "expected an ISO week (YYYY-Www) such as 2025-W50")),
    ("issue 5 is 'closed' now", (None, "issue 5 is 'closed' now")),
    ("没有这个问题类别", ("没有这个问题类别", None)),
    ("照片（一）不可用", ("照片（一）不可用", None)),
    ("说明 (见附件)", ("说明 (见附件)", None)),
])
def test_messages_split_into_their_chinese_and_english(message, halves):
    assert split_message(message) == halves


def test_the_done_page_needs_its_number(as_user):
    citizen = as_user("citizen")
    assert citizen.get("/report/done").status_code == 400
    assert citizen.get("/report/done?issue=999999999").status_code == 404


def test_a_merged_report_shows_how_the_report_it_joined_goes_on(as_user, app, copy_engine):
    citizen = as_user("citizen")
    first, _ = _report(citizen, description="第一次上报")
    second, link = _report(citizen, description="同一堆垃圾")
    workflow.apply_transition(copy_engine, first, "register", actor="王调度", role="dispatcher")
    workflow.apply_transition(copy_engine, second, "merge", actor="王调度", role="dispatcher", merge_into=first)
    text = _text(app.test_client().get(link))
    assert "与其他上报合并处理" in text
    assert f"您的上报与同一问题的其他上报一并处理，当前进度：{STATUS_PLAIN['registered']}" in text
    assert f"#{first}" not in text  # the other report stays its own reporter's
