"""The English catalogue covers every message the templates and webmap's code mark, and pages use it."""

from __future__ import annotations

import re

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from webmap.app import create_app
from webmap.i18n import TRANSLATIONS_DIR, read_catalogue

ROOT = TRANSLATIONS_DIR.parent
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
CJK = re.compile(r"[\u3400-\u9fff]")


def _marked() -> dict[str, list[str]]:
    """msgid → where it is marked (file:line), from the templates and the Python of webmap."""
    found: dict[str, list[str]] = {}
    for name, line, message, _comments, _context in extract_from_dir(
            str(ROOT), METHODS, options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}):
        for msgid in (message if isinstance(message, tuple) else (message,)):
            if msgid:
                found.setdefault(msgid, []).append(f"{name}:{line}")
    return found


def _catalogue():
    with (TRANSLATIONS_DIR / "en" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale="en")


def test_every_marked_message_has_its_english():
    marked, catalogue = _marked(), _catalogue()
    assert len(marked) > 50
    missing = {m: where for m, where in marked.items() if not (catalogue.get(m) and catalogue.get(m).string)}
    assert missing == {}, f"add these to {TRANSLATIONS_DIR}/en/LC_MESSAGES/messages.po"


def test_the_catalogue_holds_no_message_nothing_marks():
    marked = _marked()
    unused = [m.id for m in _catalogue() if m.id and m.id not in marked]
    assert unused == []


def test_english_translations_are_english_and_keep_their_placeholders():
    for message in _catalogue():
        if not message.id:
            continue
        if message.id != "English":
            assert not CJK.search(message.string), message.id
        assert sorted(re.findall(r"%\(\w+\)s", message.id)) == sorted(re.findall(r"%\(\w+\)s", message.string))


def test_pages_follow_the_chosen_language(sample_db, login):
    client = create_app(sample_db).test_client()
    login(client, "supervisor")
    chinese = client.get("/issues").get_data(as_text=True)
    english = client.get("/issues?lang=en").get_data(as_text=True)
    assert "上一页" in chinese or "下一页" in chinese
    assert "Next" in english and ">下一页<" not in english
    # the cookie keeps the choice for the next page
    assert "Previous" in client.get("/issues?page=2").get_data(as_text=True)
    assert read_catalogue("zh").gettext("下一页") == "下一页"
    assert read_catalogue("en").gettext("下一页") == "Next"


def test_the_language_reader_sees_text_not_code_or_data():
    from ui_language import chinese_runs, english_words

    page = ('<p>问题 list <b>Issue</b></p><script>var English = 1;</script><td data-value>Main Street</td>'
            '<img alt="Photo 照片"><input type="submit" value="Send"><p>GPX 5 km</p>')
    assert english_words(page) == {"list", "Issue", "Photo", "Send"}
    assert chinese_runs(page) == {"问题", "照片"}
    assert english_words(page, allow={"list", "Issue", "Photo", "Send"}) == set()
