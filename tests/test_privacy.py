"""Phone masking: mobiles and landlines masked, other digit strings untouched."""

import pandas as pd
import pytest

from geo.errors import ValidationError
from geo.privacy import mask_phone, mask_phones, normalise_phone, normalise_phones


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13800138000", "138****8000"),
        ("138-0013-8000", "138****8000"),
        ("138 0013 8000", "138****8000"),
        ("+86 138-0013-8000", "+86 138****8000"),
        ("+8613800138000", "+86138****8000"),
        ("8613800138000", "86138****8000"),
        ("19912345678", "199****5678"),
        ("022-2437 1234", "022-****1234"),
        ("022-24371234", "022-****1234"),
        ("(022)24371234", "(022)****1234"),
        ("0312-5123456", "0312-****3456"),
        ("tel13800138000", "tel138****8000"),
    ],
)
def test_phone_numbers_are_masked(text, expected):
    assert mask_phone(text) == expected


def test_phones_inside_free_text_are_masked():
    text = "市民反映津北公路垃圾堆放，联系电话：138-0013-8000，座机022-2437 1234，请回电。"
    assert mask_phone(text) == "市民反映津北公路垃圾堆放，联系电话：138****8000，座机022-****1234，请回电。"


@pytest.mark.parametrize(
    "text",
    [
        "12011019900101123X",  # 18-character ID number
        "120110199001011234",
        "2025031200123",  # 12345 case number
        "GD20250312001234567",
        "2025-03-12 08:30:00",
        "20250312",
        "2025/3/12",
        "金额13800138000.00元",
        "¥1,380,013.80",
        "123800138000",  # 11-digit run inside a longer digit run
        "13800138000123",
        "3.13800138000",
        "12800138000",  # 12x is not a mobile prefix
    ],
)
def test_other_digit_strings_are_left_alone(text):
    assert mask_phone(text) == text


def test_id_and_case_number_next_to_a_phone():
    text = "身份证12011019900101123X 工单2025031200123 电话13800138000"
    assert mask_phone(text) == "身份证12011019900101123X 工单2025031200123 电话138****8000"


def test_none_stays_none():
    assert mask_phone(None) is None


def test_mask_phones_is_vectorised_and_keeps_missing():
    series = pd.Series(["13800138000", None, "022-2437 1234", "GD20250312001234567"], index=[5, 6, 7, 8])
    masked = mask_phones(series)
    assert masked.index.tolist() == [5, 6, 7, 8]
    assert masked[5] == "138****8000"
    assert pd.isna(masked[6])
    assert masked[7] == "022-****1234"
    assert masked[8] == "GD20250312001234567"


def test_mask_phones_masks_numbers_read_from_spreadsheets():
    assert mask_phones(pd.Series([13800138000.0, None])).tolist()[0] == "138****8000"
    assert mask_phones(pd.Series([13800138000])).tolist() == ["138****8000"]


@pytest.mark.parametrize("extra", ["", "控制符\x00之后 13900001111"])
def test_mask_phones_over_a_column_equals_masking_each_value(extra):
    """The one-pass masking of a whole column gives what masking value by value gives, edges included."""
    values = ["13800138000", "电话13800138000。", "身份证12011019900101123X", "022-24371234", "2025031200123",
              "13800138000\n022-24371234", "(022)24371234 13800138000.00", "", "86 138-0013-8000", None, extra]
    got = mask_phones(pd.Series(values, index=range(10, 10 + len(values))))
    assert list(got.index) == list(range(10, 10 + len(values)))
    assert [None if v is pd.NA else v for v in got] == [mask_phone(v) for v in values]


# --------------------------------------------------------------------------- issue 14 item 4: no failing open

#: what a reporter types into a phone field → what is stored
NORMALISED = [
    ("13912345678", "13912345678"),
    ("１３９１２３４５６７８", "13912345678"),  # full-width digits
    ("139 1234 5678", "13912345678"),
    ("139\u00a01234\u00a05678", "13912345678"),  # no-break space
    ("139\u200b1234\u200b5678", "13912345678"),  # zero-width space
    ("\ufeff139\u200c1234\u200d5678", "13912345678"),  # BOM, zero-width non-joiner and joiner
    ("139\u20131234\u20145678", "13912345678"),  # en and em dash
    ("139.1234.5678", "13912345678"),
    ("139/1234/5678", "13912345678"),
    ("139_1234_5678", "13912345678"),
    ("(139)1234-5678", "13912345678"),
    ("139\u20091234\u20095678", "13912345678"),  # thin space
    ("+86 139-1234-5678", "13912345678"),
    ("＋８６　１３９１２３４５６７８", "13912345678"),  # full-width plus, ideographic space
    ("0086 139 1234 5678", "13912345678"),
    ("8613912345678", "13912345678"),
    ("022-24371234", "022-24371234"),
    ("(022) 2437 1234", "022-24371234"),
    ("（０２２）２４３７１２３４", "022-24371234"),  # full-width parentheses and digits
    ("0312-5123456", "0312-5123456"),
    ("010 6512 3456", "010-65123456"),
    ("+86 22 2437 1234", "022-24371234"),  # abroad the area code drops its 0
    ("  ", None),
    ("", None),
    (None, None),
]

#: phone fields that are not a phone number
REFUSED = [
    "1391234567",  # 10 digits
    "139123456789",  # 12 digits
    "12912345678",  # 12x is no mobile prefix
    "24371234",  # a local number without its area code
    "022-1437123",  # a subscriber number never starts with 1
    "400-810-8888",  # a service number, not a reporter's
    "022-24371234转8001",  # an extension
    "139-1234-567８９",
    "电话",
    "abc13912345678",
    "13912345678+",
    "1391234５６７8 / 13900001111",  # two numbers
]

#: free text → the same text with its phone numbers masked (odd separators, full-width digits, invisible characters)
MASKED_IN_TEXT = [
    ("电话１３９１２３４５６７８请回电", "电话１３９****５６７８请回电"),
    ("电话139\u00a01234\u00a05678", "电话139****5678"),
    ("电话139\u200b1234\u200b5678", "电话139****5678"),
    ("电话1\u200b3\u200b9\u200b1\u200b2\u200b3\u200b4\u200b5\u200b6\u200b7\u200b8", "电话1\u200b3\u200b9****5\u200b6\u200b7\u200b8"),
    ("电话139\u20131234\u20135678", "电话139****5678"),
    ("电话139\u20141234\u20145678", "电话139****5678"),
    ("电话139.1234.5678。", "电话139****5678。"),
    ("电话139/1234/5678", "电话139****5678"),
    ("电话139_1234_5678", "电话139****5678"),
    ("电话(139)1234 5678", "电话(139****5678"),
    ("电话139 - 1234 - 5678", "电话139****5678"),
    ("电话139-12345678", "电话139****5678"),
    ("电话139\u20091234\u20095678", "电话139****5678"),
    ("电话＋８６\u00a0１３９１２３４５６７８", "电话＋８６\u00a0１３９****５６７８"),
    ("座机（０２２）２４３７\u3000１２３４", "座机（０２２）****１２３４"),
    ("座机022\u20132437\u00a01234", "座机022\u2013****1234"),
    ("座机022.2437.1234", "座机022.****1234"),
    ("座机+86 22 2437 1234", "座机+86 22 ****1234"),
    ("座机0086-312-5123456", "座机0086-312-****3456"),
    ("两个号码13800138000/13900139000", "两个号码138****8000/139****9000"),
    ("两个号码13800138000、022-24371234", "两个号码138****8000、022-****1234"),
]

#: digit strings that look a little like phones and must come out as they went in
LEFT_ALONE = [
    "工单2025-1391234-0024已派遣",  # a case number: a mobile is never grouped 7-4
    "工单２０２５－１３９１２３４－００２４",
    "工单2025\u20131391234\u20130024",
    "身份证１２０１１０１９９００１０１１２３Ｘ",
    "受理时间2025.03.12 08:30",
    "2025/03/12",
    "金额１３８００１３８０００．００元",
    "金额13800138000.00元",
    "编号1391234-0024",
    "编号1380013-8000",
]


@pytest.mark.parametrize(("typed", "stored"), NORMALISED)
def test_a_phone_field_is_normalised(typed, stored):
    assert normalise_phone(typed) == stored


@pytest.mark.parametrize("typed", REFUSED)
def test_a_phone_field_that_is_no_phone_number_is_refused_with_what_a_phone_looks_like(typed):
    with pytest.raises(ValidationError) as caught:
        normalise_phone(typed, field="联系电话")
    message = str(caught.value)
    assert message.startswith(f"联系电话 {mask_phone(typed)!r} ")
    assert "11 位手机号" in message and "expected an 11-digit mainland mobile" in message
    assert caught.value.status == 400


def test_a_refused_phone_is_quoted_with_its_phone_shaped_runs_masked():
    with pytest.raises(ValidationError, match=r"'022-\*\*\*\*1234转8001'"):
        normalise_phone("022-24371234转8001")


def test_normalise_phones_is_vectorised_and_names_the_invalid_rows():
    typed = pd.Series(["１３９ １２３４ ５６７８", None, "", "abc", "(022)24371234", "+86 139 1234 5678", "400-810-8888"],
                      index=range(3, 10), dtype=object)
    normalised, invalid = normalise_phones(typed)
    assert normalised.index.tolist() == invalid.index.tolist() == list(range(3, 10))
    assert [None if pd.isna(v) else v for v in normalised] == [
        "13912345678", None, None, None, "022-24371234", "13912345678", None]
    assert invalid.tolist() == [False, False, False, True, False, False, True]
    # a number read from a spreadsheet cell
    assert normalise_phones(pd.Series([13912345678.0, None]))[0].tolist()[0] == "13912345678"


@pytest.mark.parametrize(("typed", "stored"), [case for case in NORMALISED if case[1]])
def test_every_normalised_phone_is_masked_whole(typed, stored):
    masked = mask_phone(stored)
    assert masked != stored and masked.count("****") == 1
    assert masked.endswith(stored[-4:]) and masked.startswith(stored[:3])
    # what the reporter typed, left in a description, is masked too
    assert stored.replace("-", "")[-8:-4] not in mask_phone(f"电话{typed}。").replace("８", "8")


@pytest.mark.parametrize(("text", "expected"), MASKED_IN_TEXT)
def test_phones_in_free_text_are_masked_whatever_the_separators(text, expected):
    assert mask_phone(text) == expected
    assert mask_phones(pd.Series([text, None])).tolist()[0] == expected


@pytest.mark.parametrize("text", LEFT_ALONE)
def test_case_numbers_ids_dates_and_amounts_stay_as_written(text):
    assert mask_phone(text) == text


def test_masking_is_idempotent():
    once = [mask_phone(text) for text, _ in MASKED_IN_TEXT]
    assert [mask_phone(text) for text in once] == once


def test_count_of_masking_cases():
    """The number of phone cases this file tries (stated in the issue's note)."""
    cases = len(NORMALISED) + len(REFUSED) + len(MASKED_IN_TEXT) + len(LEFT_ALONE)
    assert cases >= 30
    print(f"phone cases: {cases}")
