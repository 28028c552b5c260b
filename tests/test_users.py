"""Users and roles (geo.loop.users), their storage on both back ends (geo.store), photo checks (geo.io) and
``citymap user create``."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import tiny_image
from shapely.geometry import Point

from geo import io, store
from geo.errors import ConfigError, ConflictError, ValidationError
from geo.issue_filter import IssueFilter
from geo.loop import users
from geo.loop.users import owns
from geo.store.db import make_engine
from geo.taxonomy import load_taxonomy
from webmap.cli import main

J = "120110900"
NOW = datetime(2025, 6, 1, 9, 0, 0)
PNG = tiny_image("PNG")
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 40
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 20


def test_roles_table_matches_the_workflow_roles():
    roles = users.load_roles()
    assert tuple(roles.index) == ("supervisor", "dispatcher", "department", "public", "admin")
    assert roles.loc["supervisor", "sees"] == "all" and roles.loc["department", "sees"] == "department"
    assert roles.loc["public", "sees"] == "none"
    assert roles.index[roles["reveals_phone"]].tolist() == ["dispatcher"]
    assert roles.index[roles["manages_users"]].tolist() == ["admin"]


@pytest.mark.parametrize("text, message", [
    ("role,name,name_en,sees,reveals_phone,manages_users\nx,X,X,some,0,0\n", "sees 'some'"),
    ("role,name,name_en,sees,reveals_phone,manages_users\nx,X,X,all,2,0\n", "reveals_phone must be 0 or 1"),
    ("role,name,name_en,sees,reveals_phone,manages_users\nx,X,X,all,0,0\nx,Y,Y,all,0,0\n", "role 'x' repeats"),
    ("role,name\nx,X\n", "missing column"),
])
def test_a_bad_roles_table_is_refused(tmp_path, text, message):
    path = tmp_path / "roles.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        users.load_roles(path)


def test_passwords_are_scrypt_hashes():
    digest = users.hash_password("correct horse")
    assert digest.startswith("scrypt:") and "correct horse" not in digest
    assert users.check_password(digest, "correct horse")
    assert not users.check_password(digest, "correct horsE")
    assert not users.check_password(None, "correct horse")
    assert users.hash_password("correct horse") != digest  # salted
    with pytest.raises(ValidationError, match="at least 10 characters"):
        users.hash_password("short")


@pytest.mark.parametrize("name, role, department, message", [
    ("a", "supervisor", None, "user name 'a'"),
    ("bad name", "supervisor", None, "user name 'bad name'"),
    ("<script>", "supervisor", None, "user name '<script>'"),
    ("ok", "boss", None, "role 'boss' is unknown"),
    ("ok", "department", None, "department None is unknown"),
    ("ok", "department", "nowhere", "department 'nowhere' is unknown"),
    ("ok", "supervisor", "sanitation", "takes no department"),
])
def test_account_checks_quote_the_bad_value(name, role, department, message):
    with pytest.raises(ValidationError, match=message):
        users.check_account(name, role, department)


def test_account_check_accepts_chinese_names_and_cleans():
    assert users.check_account(" 王网格 ", "department", "sanitation_west") == ("王网格", "department", "sanitation_west")
    assert users.check_account("li.ming", "dispatcher", "  ") == ("li.ming", "dispatcher", None)


def test_owned_departments_agree_with_the_workflow_rule():
    communities = ["120110900001", "120110900002"]
    issue_departments = [*load_taxonomy().departments.index, *(f"community:{c}" for c in communities),
                         "frontage:F-1", None]
    for department in load_taxonomy().departments.index:
        owned = users.owned_departments(department, community_codes=communities)
        assert [d for d in issue_departments if d in owned] == [d for d in issue_departments if owns(department, d)]
    assert users.owned_departments("sanitation") == ["sanitation", "sanitation_west", "sanitation_east"]


def test_who_may_see_an_issue():
    assert users.may_see("supervisor", None, "construction")
    assert users.may_see("department", "sanitation", "sanitation_east")
    assert not users.may_see("department", "construction", "sanitation_east")
    assert not users.may_see("department", None, "sanitation_east")
    assert not users.may_see("public", None, "construction")
    with pytest.raises(ValidationError, match="role 'boss'"):
        users.may_see("boss", None, "construction")


@pytest.mark.parametrize("data, kind", [(PNG, "image/png"), (JPEG, "image/jpeg"), (WEBP, "image/webp"),
                                        (b"<svg onload=alert(1)>", None), (b"GIF89a" + b"\x00" * 10, None), (b"", None)])
def test_photo_type_is_judged_by_magic_bytes(data, kind):
    assert io.photo_type(data) == kind


def test_photos_are_checked_and_stored_under_random_names(tmp_path):
    name, kind = io.save_photo(PNG, photos_dir=tmp_path, max_bytes=1000)
    assert kind == "image/png" and io.PHOTO_NAME_RE.fullmatch(name)
    assert io.photo_file(tmp_path, name).read_bytes() == PNG
    assert io.photo_file(tmp_path, "../" + name) is None and io.photo_file(tmp_path, "0" * 32 + ".png") is None
    with pytest.raises(ValidationError, match="at most 0.0 MB"):
        io.save_photo(PNG, photos_dir=tmp_path, max_bytes=10)
    with pytest.raises(ValidationError, match="not a JPEG, PNG or WebP"):
        io.save_photo(b"<?php echo 1; ?>", photos_dir=tmp_path, max_bytes=1000)
    with pytest.raises(ValidationError, match="empty"):
        io.save_photo(b"", photos_dir=tmp_path, max_bytes=1000)
    assert len(list(tmp_path.iterdir())) == 1


def _bomb_png(width: int, height: int) -> bytes:
    """A valid one-bit PNG of ``width`` × ``height`` black pixels: a few KB that decode to width × height bytes."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    pixels = zlib.compressobj(9)
    body = b"".join(pixels.compress(row) for _ in range(height)) + pixels.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", body) + chunk(b"IEND", b""))


@pytest.mark.parametrize("width, height, message", [
    (20000, 20000, "DecompressionBomb|megapixels"),  # 400 MP: Pillow itself refuses to open it
    (8000, 7000, "8000 × 7000 pixels"),  # 56 MP: opened, counted, refused
])
def test_a_decompression_bomb_is_refused_before_it_is_decoded(tmp_path, width, height, message):
    bomb = _bomb_png(width, height)
    assert len(bomb) < 200_000
    with pytest.raises(ValidationError, match=message):
        io.save_photo(bomb, photos_dir=tmp_path, max_bytes=5_000_000)
    assert list(tmp_path.iterdir()) == []
    name, kind = io.save_photo(_bomb_png(4000, 3000), photos_dir=tmp_path, max_bytes=5_000_000)  # 12 MP is a photo
    assert kind == "image/png"


def test_a_photo_that_only_starts_like_one_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="not a readable image/png"):
        io.save_photo(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, photos_dir=tmp_path, max_bytes=1000)
    assert io.save_photo(tiny_image("JPEG"), photos_dir=tmp_path, max_bytes=10_000)[1] == "image/jpeg"
    assert io.save_photo(tiny_image("WEBP"), photos_dir=tmp_path, max_bytes=10_000)[1] == "image/webp"


def _one_issue(engine, *, phone: str | None) -> int:
    frame = gpd.GeoDataFrame({"source": ["web"], "external_id": ["t-1"], "source_system": ["wgs84"],
                              "category_code": ["07001"], "reported_at": [NOW], "phone": [phone],
                              "department_code": ["enforcement"]},
                             geometry=[Point(117.37, 39.1)], crs="EPSG:4326")
    store.insert_issues(engine, frame, jurisdiction_code=J, file="test", actor="test")
    return store.issue_id_of(engine, jurisdiction_code=J, source="web", external_id="t-1")


def test_users_sessions_failures_reveals_and_photos_are_stored(db_engine):
    engine = db_engine
    user_id = store.create_user(engine, name="disp", password_hash=users.hash_password("password-1"),
                                role="dispatcher", department_code=None, jurisdiction_code=J, now=NOW)
    with pytest.raises(ConflictError, match="'disp' already exists"):
        store.create_user(engine, name="disp", password_hash="x", role="public", department_code=None,
                          jurisdiction_code=J, now=NOW)
    login = store.read_login(engine, "disp", jurisdiction_code=J)
    assert login["id"] == user_id and users.check_password(login["password_hash"], "password-1")
    assert store.read_login(engine, "disp", jurisdiction_code="999999999") is None
    assert store.read_users(engine, jurisdiction_code=J)["name"].tolist() == ["disp"]
    assert "password_hash" not in store.read_users(engine, jurisdiction_code=J)

    # sessions: found until they expire or are deleted; expired ones go when a new one is made
    store.create_session(engine, token_sha256="a" * 64, user_id=user_id, now=NOW, expires_at=NOW + timedelta(hours=1),
                         ip="127.0.0.1")
    assert store.session_user(engine, "a" * 64, now=NOW)["name"] == "disp"
    assert store.session_user(engine, "a" * 64, now=NOW + timedelta(hours=2)) is None
    assert store.session_user(engine, "b" * 64, now=NOW) is None
    store.create_session(engine, token_sha256="b" * 64, user_id=user_id, now=NOW + timedelta(hours=2),
                         expires_at=NOW + timedelta(hours=3), ip=None)
    assert store.count_rows(engine, "users", jurisdiction_code=J) == 1
    assert store.delete_session(engine, "b" * 64) == 1
    assert store.delete_session(engine, "b" * 64) == 0
    assert store.delete_session(engine, "a" * 64) == 0  # purged as expired

    # a phone reveal returns the number and logs who, when, which issue; no phone, no log
    issue_id = _one_issue(engine, phone="13800138000")
    assert store.read_contact(engine, issue_id)["phone"] == "13800138000"
    assert store.reveal_phone(engine, issue_id, user_name="disp", at=NOW, ip="10.0.0.1") == "13800138000"
    log = store.read_phone_reveals(engine, jurisdiction_code=J, issue_id=issue_id)
    assert log[["issue_id", "user_name", "ip"]].values.tolist() == [[issue_id, "disp", "10.0.0.1"]]
    assert log["at"].tolist() == [pd.Timestamp(NOW)]

    photos = pd.DataFrame({"issue_id": [issue_id], "file": ["0" * 32 + ".png"], "content_type": ["image/png"],
                           "size_bytes": [48], "uploaded_by": ["disp"], "at": [NOW]})
    assert store.insert_issue_photos(engine, photos, jurisdiction_code=J) == 1
    assert store.read_issue_photos(engine, issue_id=issue_id)["file"].tolist() == ["0" * 32 + ".png"]
    assert store.read_issue_photos(engine, file="0" * 32 + ".png")["issue_id"].tolist() == [issue_id]
    assert store.read_issue_photos(engine, file="f" * 32 + ".png").empty


def test_department_and_community_filters(db_engine):
    issue_id = _one_issue(db_engine, phone=None)
    assert store.query_issues(db_engine, jurisdiction_code=J,
                              where=IssueFilter(departments=["enforcement"]))["id"].tolist() == [issue_id]
    assert store.count_issues(db_engine, jurisdiction_code=J, where=IssueFilter(departments=["construction"])) == 0
    assert store.count_issues(db_engine, jurisdiction_code=J, where=IssueFilter(departments=[])) == 0
    assert store.count_issues(db_engine, jurisdiction_code=J, where=IssueFilter(communities=["120110900001"])) == 0


def _cli(data_dir, *args, **kwargs):
    env = {key: None for key in os.environ if key.startswith("CITYMAP_")} | {"CITYMAP_DATA_DIR": str(data_dir)}
    return CliRunner().invoke(main, [str(a) for a in args], env=env, **kwargs)


def test_cli_user_create(tmp_path):
    assert _cli(tmp_path, "init-db").exit_code == 0
    done = _cli(tmp_path, "user", "create", "wang", "--role", "department", "--department", "sanitation_west",
                "--password", "secret-pass")
    assert done.exit_code == 0, done.output
    assert "user 'wang' created" in done.output and "department sanitation_west" in done.output
    prompted = _cli(tmp_path, "user", "create", "li", "--role", "dispatcher", input="pass-word-9\npass-word-9\n")
    assert prompted.exit_code == 0, prompted.output
    engine = make_engine(f"sqlite:///{tmp_path / 'citymap.sqlite'}")
    assert users.check_password(store.read_login(engine, "li", jurisdiction_code=J)["password_hash"], "pass-word-9")
    stored = store.read_users(engine, jurisdiction_code=J).set_index("name")
    assert stored.loc["wang", "role"] == "department" and stored.loc["wang", "department_code"] == "sanitation_west"
    engine.dispose()
    for args, message in [(("wang", "--role", "public", "--password", "secret-pass"), "'wang' already exists"),
                          (("zhao", "--role", "department", "--password", "secret-pass"), "department None"),
                          (("zhao", "--role", "boss", "--password", "secret-pass"), "role 'boss'"),
                          (("zhao", "--role", "public", "--password", "short"), "密码至少 10 个字符")]:
        refused = _cli(tmp_path, "user", "create", *args)
        assert refused.exit_code == 1 and message in refused.output, refused.output
