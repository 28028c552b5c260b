"""Phone masking: mobiles and landlines masked, other digit strings untouched."""

import pandas as pd
import pytest

from geo.privacy import mask_phone, mask_phones


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
