"""The taxonomy data (codes, departments, tasks, rules, synonyms) and its API."""

import shutil
from datetime import datetime, time, timedelta, timezone

import pandas as pd
import pytest

from geo.errors import ConfigError, NotFoundError, ValidationError
from geo.taxonomy import DATA_DIR, DEADLINE_KINDS, load_taxonomy


@pytest.fixture(scope="module")
def tax():
    return load_taxonomy()


def test_codes_are_unique_five_digit_and_carry_the_standard(tax):
    cats = tax.categories
    assert cats["code"].is_unique
    assert cats["code"].str.fullmatch(r"\d{5}").all()
    assert (cats["code"].str[:2] == cats["major_code"]).all()
    assert set(cats["major_code"]) == {"06", "07", "08", "09", "10"}
    assert (cats["standard"] == "GB/T 47678.5").all() and (cats["standard_year"] == 2026).all()
    raw = pd.read_csv(DATA_DIR / "event_codes.csv", dtype=str)
    assert set(cats["code"]) == set(raw["code"])


def test_every_category_has_a_lead_a_rule_and_a_task(tax):
    cats, deps, tasks = tax.categories, tax.departments, tax.plan_tasks
    assert cats["lead_department"].isin(deps["code"]).all()
    assert cats["supporting_departments"].explode().dropna().isin(deps["code"]).all()
    assert (cats["plan_tasks"].map(len) >= 1).all()
    assert cats["plan_tasks"].explode().isin(tasks["number"]).all()
    assert cats["deadline_kind"].isin(DEADLINE_KINDS).all()
    same = cats["deadline_kind"] == "same_day"
    assert cats.loc[same, "deadline_value"].isna().all()
    work_days = cats.loc[~same, "deadline_value"]
    assert work_days.notna().all() and work_days.between(1, 5).all()
    # A lead department never supports itself.
    assert not any(lead in sup for lead, sup in zip(cats["lead_department"], cats["supporting_departments"]))


def test_garbage_is_cleared_the_same_day_by_sanitation(tax):
    garbage = ("06010", "06011", "06012", "06014", "06017", "06018", "06020", "06036", "06037", "06041", "06042")
    for code in (*garbage, "10001"):
        row = tax.category(code)
        assert (row["lead_department"], row["deadline_kind"]) == ("sanitation", "same_day"), code
    assert tax.lead_department("07001") == "enforcement"
    assert "sanitation" in tax.category("07001")["supporting_departments"]
    assert tax.lead_department("07003") == tax.lead_department("07006") == "construction"
    assert 14 in tax.category("06017")["plan_tasks"]


def test_departments_and_plan_tasks(tax):
    deps, tasks = tax.departments, tax.plan_tasks
    assert deps["code"].is_unique
    assert set(deps["kind"]) == {"office", "community", "contractor"}
    contractors = deps[deps["kind"] == "contractor"]
    assert set(contractors["code"]) == {"sanitation_west", "sanitation_east"}
    assert (contractors["parent"] == "sanitation").all()
    assert deps.loc[deps["kind"] != "contractor", "parent"].isna().all()
    assert list(tasks["number"]) == list(range(1, 25))
    assert tasks["lead"].isin(deps["code"]).all()
    assert tasks["supporting"].explode().dropna().isin(deps["code"]).all()
    assert tasks.loc[1, "title"] == "实施环境卫生提升行动"
    assert tasks.loc[14, "lead"] == "sanitation"
    assert tasks.loc[23, "supporting"] == ("sanitation", "rivers")
    assert tax.department("sanitation_west")["name"] == "西片环卫一体化作业单位"
    with pytest.raises(NotFoundError, match="'parks'"):
        tax.department("parks")


def test_synonyms_and_legacy_codes_resolve_to_existing_codes(tax):
    assert len(tax.synonyms) >= 40 and tax.synonyms["text"].is_unique
    assert tax.synonyms["code"].isin(tax.categories["code"]).all()
    assert tax.legacy_codes["code"].isin(tax.categories["code"]).all()
    assert not tax.legacy_codes["legacy_code"].isin(tax.categories["code"]).any()
    codes, errors = tax.resolve_categories(tax.synonyms["text"])
    assert not errors.any() and (codes == tax.synonyms["code"]).all()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("06010", "06010"),
        ("12011006010", "06010"),  # 东丽区 case code
        ("０６０４２", "06042"),  # full-width digits
        (" 06042\t", "06042"),
        ("暴露垃圾", "06010"),
        ("垃圾站(箱)满溢", "06042"),  # half-width brackets for the standard's （箱）
        ("垃圾站（箱） 满溢", "06042"),
        ("道路积雪结冰", "10001"),  # the standard writes 道路积雪、结冰
        ("小广告", "07001"),
        ("垃圾桶满溢", "06042"),
        ("流动摊贩", "09006"),
        ("0102", "06010"),  # CJ/T 214-2007
        ("01010", "06010"),  # GB/T 30428.2-2013
    ],
)
def test_resolve_category_forms(tax, text, code):
    assert tax.resolve_category(text) == code


def test_unknown_text_lists_close_matches(tax):
    with pytest.raises(ValidationError) as err:
        tax.resolve_category("垃圾桶溢出")
    message = str(err.value)
    assert "'垃圾桶溢出'" in message and "06042 垃圾站（箱）满溢" in message
    with pytest.raises(ValidationError, match="'12011099999'"):
        tax.resolve_category("12011099999")
    with pytest.raises(ValidationError, match="no close match"):
        tax.resolve_category("   ")
    with pytest.raises(ValidationError):
        tax.resolve_category(6010)


def test_category_lookup_errors(tax):
    with pytest.raises(NotFoundError, match="'06031'"):
        tax.category("06031")  # absent from the transcription
    with pytest.raises(ValidationError, match="'6010'"):
        tax.category("6010")


def test_resolve_categories_vectorised(tax):
    texts = pd.Series(["小广告", None, "不知道", "06010", "小广告", 6010], index=list("abcdef"))
    codes, errors = tax.resolve_categories(texts)
    assert list(codes.index) == list("abcdef")
    assert codes.tolist() == ["07001", None, None, "06010", "07001", None]
    assert errors.tolist() == [False, True, True, False, False, True]


def test_same_day_deadline_and_cutoff(tax):
    # Garbage reported before 20:00 is due by the end of that day, after it by the end of the next.
    assert tax.deadline("06010", datetime(2025, 3, 7, 19, 59)) == datetime(2025, 3, 7, 23, 59, 59)
    assert tax.deadline("06010", datetime(2025, 3, 7, 20, 0)) == datetime(2025, 3, 8, 23, 59, 59)
    # Holidays do not pause 日产日清.
    assert tax.deadline("06042", datetime(2025, 1, 29, 8)) == datetime(2025, 1, 29, 23, 59, 59)
    assert tax.deadline(
        "06010", datetime(2025, 3, 7, 19), day_cutoff=time(18, 0), day_end=time(22, 0)
    ) == datetime(2025, 3, 8, 22, 0)


def test_working_day_deadlines_across_the_spring_festival(tax):
    assert tax.category("07001")["deadline_value"] == 1
    # Monday 2025-01-27 is the last working day before the holiday (1-28 to 2-4).
    assert tax.deadline("07001", datetime(2025, 1, 27, 21, 0)) == datetime(2025, 2, 5, 18, 0)
    # 2026: a Friday report is due on the make-up Saturday 2-14.
    assert tax.deadline("07001", datetime(2026, 2, 13, 9, 0)) == datetime(2026, 2, 14, 18, 0)
    # Five working days from Friday 2026-02-13: 2-14 (make-up), then 2-24 … 2-27.
    assert tax.category("07003")["deadline_value"] == 5
    assert tax.deadline("07003", datetime(2026, 2, 13, 9, 0)) == datetime(2026, 2, 27, 18, 0)
    beijing = timezone(timedelta(hours=8))
    assert tax.deadline("07001", datetime(2025, 1, 27, 10, tzinfo=beijing)) == datetime(2025, 2, 5, 18, tzinfo=beijing)


def test_deadlines_vectorised_equals_scalar(tax):
    codes = pd.Series(["06010", "07001", "06010", "09006", "10001"], index=[3, 3, 4, 5, 6])
    reported = pd.Series(
        pd.to_datetime(["2025-01-27 21:00", "2025-01-27 21:00", None, "2026-02-13 09:00", "2026-02-16 07:00"]),
        index=codes.index,
    )
    due = tax.deadlines(codes, reported)
    assert due.tolist()[:2] == [pd.Timestamp("2025-01-28 23:59:59"), pd.Timestamp("2025-02-05 18:00")]
    assert pd.isna(due.iloc[2])
    for pos in (0, 1, 3, 4):
        assert due.iloc[pos] == tax.deadline(codes.iloc[pos], reported.iloc[pos].to_pydatetime())
    with pytest.raises(ValidationError, match="'99999'"):
        tax.deadlines(pd.Series(["99999"]), pd.Series([pd.Timestamp("2025-03-07")]))
    with pytest.raises(ValidationError, match="index"):
        tax.deadlines(codes, reported.reset_index(drop=True))


def test_inconsistent_data_is_refused(tmp_path):
    for name in DATA_DIR.glob("*.csv"):
        shutil.copy(name, tmp_path / name.name)
    rules = (tmp_path / "category_rules.csv").read_text(encoding="utf-8")
    (tmp_path / "category_rules.csv").write_text(rules.replace("07001,enforcement", "07001,parks"), encoding="utf-8")
    with pytest.raises(ConfigError, match="'parks'"):
        load_taxonomy(data_dir=tmp_path)
