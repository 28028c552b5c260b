"""The pages' words in Simplified Chinese (the default) and English.

The language is ``?lang=zh|en`` (remembered in a cookie by :mod:`webmap.auth`), then
the ``lang`` cookie, then Chinese. Templates call ``t("key")``; a key missing from
the English table falls back to the Chinese text, and an unknown key shows itself.
"""

from __future__ import annotations

from flask import Flask, Response, request

from geo.statuses import STATUS_LABELS, STATUS_LABELS_EN

LANGUAGES = ("zh", "en")

CATALOGUE: dict[str, dict[str, str]] = {
    "zh": {
        "app": "城市管理地图", "home": "首页", "issues": "问题列表", "report": "上报问题", "login": "登录",
        "logout": "退出", "user": "用户", "password": "密码", "language": "English",
        "new_today": "今日新增", "open": "未结案", "overdue": "超期", "closed_today": "今日结案",
        "close_rate": "本月结案率", "on_time_rate": "本月按期结案率", "due_month": "本月应结案",
        "greening": "重点道路绿化进度", "routes": "清运与清扫路线", "coverage": "巡查覆盖",
        "league": "责任科室考核排名", "plan_tasks": "专项任务看板",
        "status": "状态", "category": "类别", "department": "责任单位", "community": "社区", "since": "上报起",
        "until": "上报止", "filter": "筛选", "all": "全部", "id": "编号", "reported_at": "上报时间",
        "deadline": "处置期限", "provisional": "（暂定：该年节假日尚未发布，按周一至周五计算）",
        "provisional_short": "（暂定）", "address": "地址", "description": "描述", "photos": "照片", "timeline": "办理过程",
        "actor": "办理人", "action": "环节", "note": "说明", "prev": "上一页", "next": "下一页", "page": "第",
        "of_pages": "页，共", "n_issues": "条", "none_found": "没有符合条件的问题。", "reporter": "上报人",
        "phone": "联系电话", "reveal": "显示完整号码（将记录查看）", "revealed": "已显示完整号码，本次查看已记录。",
        "actions": "办理", "submit": "提交", "merge_into": "合并到问题编号", "dispatch_to": "派遣至",
        "pick_point": "在地图上点击问题位置", "point_chosen": "已选位置", "choose": "请选择",
        "photo_limits": "照片：JPEG、PNG 或 WebP，每张不超过 {mb} MB，最多 {n} 张", "report_done": "上报成功",
        "report_number": "问题编号", "view_issue": "查看问题", "report_again": "继续上报",
        "phone_optional": "联系电话（选填，仅调度员可查看）", "source": "来源", "no_photos": "无照片",
        "no_events": "尚无办理记录", "login_title": "登录 citymap", "open_issues_map": "未结案问题地图",
        "issue_map": "问题位置", "cell": "单元网格", "road_segment": "路段", "role": "角色",
    },
    "en": {
        "app": "City management map", "home": "Home", "issues": "Issues", "report": "Report an issue",
        "login": "Log in", "logout": "Log out", "user": "User name", "password": "Password", "language": "中文",
        "new_today": "New today", "open": "Open", "overdue": "Overdue", "closed_today": "Closed today",
        "close_rate": "Closure rate this month", "on_time_rate": "On-time closure rate this month",
        "due_month": "Due this month", "greening": "Greening of priority roads", "routes": "Pickup and sweep routes",
        "coverage": "Inspection coverage", "league": "Department league table", "plan_tasks": "Plan-task board",
        "status": "Status", "category": "Category", "department": "Department", "community": "Community",
        "since": "Reported from", "until": "Reported until", "filter": "Filter", "all": "All", "id": "No.",
        "reported_at": "Reported", "deadline": "Deadline",
        "provisional": " (provisional: that year's holidays are not published yet; counted Monday–Friday)",
        "provisional_short": " (provisional)", "address": "Address", "description": "Description",
        "photos": "Photos", "timeline": "Timeline", "actor": "By", "action": "Step", "note": "Note",
        "prev": "Previous", "next": "Next", "page": "Page", "of_pages": "of", "n_issues": "issues",
        "none_found": "No issue matches.", "reporter": "Reporter", "phone": "Phone",
        "reveal": "Show the full number (the view is logged)", "revealed": "Full number shown; this view was logged.",
        "actions": "Actions", "submit": "Submit", "merge_into": "Merge into issue no.", "dispatch_to": "Dispatch to",
        "pick_point": "Click the map where the problem is", "point_chosen": "Chosen point", "choose": "Choose",
        "photo_limits": "Photos: JPEG, PNG or WebP, at most {mb} MB each, at most {n}", "report_done": "Reported",
        "report_number": "Issue number", "view_issue": "View the issue", "report_again": "Report another",
        "phone_optional": "Phone (optional; only dispatchers see it)", "source": "Source", "no_photos": "No photos",
        "no_events": "No steps yet", "login_title": "Log in to citymap", "open_issues_map": "Map of open issues",
        "issue_map": "Where it is", "cell": "Unit cell", "road_segment": "Road segment", "role": "Role",
    },
}

STATUS_NAMES = {"zh": STATUS_LABELS, "en": STATUS_LABELS_EN}


def current_language() -> str:
    """``zh`` or ``en`` for this request."""
    chosen = request.args.get("lang") or request.cookies.get("lang")
    return chosen if chosen in LANGUAGES else "zh"


def translate(key: str, **values: object) -> str:
    """The text of ``key`` in the request's language, with ``{name}`` placeholders filled."""
    lang = current_language()
    text = CATALOGUE[lang].get(key) or CATALOGUE["zh"].get(key, key)
    return text.format(**values) if values else text


def status_name(status: str) -> str:
    return STATUS_NAMES[current_language()].get(status, status)


def _remember(response: Response) -> Response:
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        response.set_cookie("lang", chosen, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


def init_app(app: Flask) -> None:
    """Make ``t``, ``status_name`` and ``lang`` available to every template; remember ``?lang=`` in a cookie."""
    app.jinja_env.globals.update(t=translate, status_name=status_name)
    app.context_processor(lambda: {"lang": current_language()})
    app.after_request(_remember)
