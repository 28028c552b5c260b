"""The pages in Simplified Chinese (the default) or English, with Flask-Babel.

The language is ``?lang=zh|en`` (remembered in a cookie), then the ``lang`` cookie,
then Chinese. Templates and code mark their words with ``_("…")`` (``gettext``); the
message ids are the Chinese text itself, so the default language needs no catalogue
and a message missing from the English one shows in Chinese rather than as a key. The
English catalogue is ``webmap/translations/en/LC_MESSAGES/messages.po``, read as it is
when the app starts (no compiled ``.mo`` to build or keep in step).
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from urllib.parse import urlencode

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from flask import Flask, Response, has_request_context, request
from flask_babel import Babel, Domain, gettext

from geo.statuses import STATUS_LABELS, STATUS_LABELS_EN

LANGUAGES = ("zh", "en")
TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
STATUS_NAMES = {"zh": STATUS_LABELS, "en": STATUS_LABELS_EN}


def read_catalogue(language: str) -> Translations:
    """The translations of ``language`` from its ``.po`` file (none for Chinese, the language of the ids)."""
    path = TRANSLATIONS_DIR / language / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return Translations()
    with path.open("rb") as po:
        catalogue = read_po(po, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue)
    compiled.seek(0)
    return Translations(compiled)


class _CatalogueDomain(Domain):
    """The ``messages`` domain read once per language from the ``.po`` files."""

    def get_translations(self) -> Translations:
        language = current_language()
        if language not in self.cache:
            self.cache[language] = read_catalogue(language)
        return self.cache[language]


class _Babel(Babel):
    _domain = _CatalogueDomain()

    @property
    def domain_instance(self) -> Domain:
        return self._domain


def current_language() -> str:
    """``zh`` or ``en`` for this request."""
    chosen = request.args.get("lang") or request.cookies.get("lang")
    return chosen if chosen in LANGUAGES else "zh"


def N_(message: str) -> str:  # noqa: N802 (gettext's name for "mark only")
    """Mark ``message`` for the catalogue without translating it: a label kept in a table, translated where it is
    shown with ``gettext(label)`` (outside a request, as the CLI runs, gettext gives the Chinese id back)."""
    return message


def status_labels() -> dict[str, str]:
    """Status → label in the request's language (Chinese outside a request)."""
    return STATUS_NAMES[current_language() if has_request_context() else "zh"]


def department_name(code: str, name: str | None = None) -> str:
    """A department's name in the request's language: the taxonomy's (Chinese or English); ``name`` (a community
    team's, which is layer data) or the code for one the taxonomy does not know."""
    from geo.taxonomy import load_taxonomy

    departments = load_taxonomy().departments
    if code in departments.index:
        column = "name_en" if has_request_context() and current_language() == "en" else "name"
        return str(departments.loc[code, column])
    return name or code


def status_name(status: str) -> str:
    """The label of an issue status in the request's language."""
    return STATUS_NAMES[current_language()].get(status, status)


_CJK = re.compile(r"[\u3400-\u9fff]")


def split_message(message: str) -> tuple[str | None, str | None]:
    """(Chinese, English) of a message; the domain's are often ``中文 (English)``, others one or the other.

    The English is a last parenthesis holding no Chinese after Chinese text; a message
    without Chinese is all English, one with Chinese and no such parenthesis all Chinese.
    """
    if not _CJK.search(message):
        return None, message
    if message.endswith(")"):
        depth = 0
        for i in range(len(message) - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(message[i], 0)
            if depth == 0:
                head, inner = message[:i].rstrip(), message[i + 1:-1]
                if _CJK.search(head) and not _CJK.search(inner) and re.search(r"[A-Za-z]", inner):
                    return head, inner
                break
    return message, None


def _in_general(status: int) -> str:
    """What a page says of an error of ``status`` whose message is not in the page's language."""
    said = {
        400: gettext("请求未被接受：请检查填写的内容后重试。"),
        401: gettext("请先登录。"),
        403: gettext("您无权进行此操作。"),
        404: gettext("未找到您要的页面或内容。"),
        409: gettext("该问题的状态刚被他人改变，请刷新页面后重试。"),
        413: gettext("上传的内容过大。"),
        429: gettext("尝试次数过多，请稍后再试。"),
    }
    return said.get(status, gettext("服务器出错，请稍后再试。"))


def page_message(message: str, status: int = 400) -> tuple[str, str | None]:
    """(what the page says, the technical detail or None) of an error message, in the request's language.

    The half of a ``中文 (English)`` message in the page's language is shown; a message only
    in the other language gives way to a sentence for its HTTP status, and is kept as the
    detail (shown small, for whoever helps the user).
    """
    chinese, english = split_message(message)
    shown = chinese if current_language() == "zh" else english
    return (shown, None) if shown else (_in_general(status), message)


def duration_text(seconds: float | None) -> str:
    """A duration in words of the page's language, to the minute (``3天4小时``, ``25分钟``); empty for None."""
    if seconds is None:
        return ""
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return gettext("%(d)s天%(h)s小时", d=days, h=hours)
    if hours:
        return gettext("%(h)s小时%(m)s分钟", h=hours, m=mins)
    return gettext("%(m)s分钟", m=mins) if mins else gettext("不到1分钟")


def switch_language_url() -> str:
    """This page in the other language: its query string kept, ``lang`` replaced."""
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    args.append(("lang", "zh" if current_language() == "en" else "en"))
    return "?" + urlencode(args)


def _remember(response: Response) -> Response:
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        response.set_cookie("lang", chosen, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


def _locale() -> str:
    return "en" if current_language() == "en" else "zh_Hans_CN"


def init_app(app: Flask) -> None:
    """Flask-Babel on the app (``_``, ``gettext``, ``ngettext`` and the number/date filters in every template),
    ``status_name``, ``page_message``, the ``duration`` filter and ``lang`` for templates, and ``?lang=``
    remembered in a cookie."""
    _Babel(app, locale_selector=_locale, default_locale="zh_Hans_CN", default_timezone="Asia/Shanghai")
    app.jinja_env.globals.update(status_name=status_name, page_message=page_message,
                                 switch_language_url=switch_language_url, department_name=department_name)
    app.jinja_env.filters["duration"] = duration_text
    app.context_processor(lambda: {"lang": current_language()})
    app.after_request(_remember)


__all__ = ["LANGUAGES", "N_", "current_language", "department_name", "duration_text", "init_app", "page_message",
           "read_catalogue", "split_message", "status_labels", "status_name"]
