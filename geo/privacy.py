"""Masking of reporters' phone numbers in text (PIPL: contact data never leaves masked).

Two kinds of number are masked, alone or inside free text:

* mainland mobile numbers, 11 digits ``1[3-9]xxxxxxxxx``, optionally prefixed by
  ``+86``/``86``/``0086`` and written with spaces or hyphens (``138-0013-8000``,
  ``138 0013 8000``): they become ``138****8000`` (a prefix is kept as written);
* landlines with an area code (``022-2437 1234``, ``(022)24371234``,
  ``0312-5123456``): the area code and the last four digits stay, the rest becomes
  ``****`` (``022-****1234``).

Other digit strings are left alone: a number only matches when it is not glued to
further digits or a decimal part, so 18-character ID numbers (``12011019900101123X``),
12345 case numbers (``2025031200123``, ``GD20250312001234567``), dates, amounts
(``13800138000.00``) and 11-digit runs inside longer runs are not touched. Bare
7–8-digit local numbers without an area code are not masked: they cannot be told
apart from dates (``20250312``) and amounts.
"""

from __future__ import annotations

import re

import pandas as pd

__all__ = ["mask_phone", "mask_phones"]

# A number must stand apart from other digits: ID and case numbers are longer digit
# runs, so an 11-digit window inside them is not a phone. Letters are allowed next
# to a number ("tel13800138000") because a missed phone is worse than a masked code.
# Neither side may be a decimal point followed/preceded by a digit (amounts).
_LEFT = r"(?<![0-9])(?<![0-9]\.)"
_RIGHT = r"(?![0-9])(?!\.[0-9])"
_SEP = r"[ \-]?"

_MOBILE = re.compile(
    _LEFT
    + r"(?P<prefix>(?:\+|00)?86[ \-]?)?"
    + r"(?P<head>1[3-9][0-9])" + _SEP + r"[0-9]{4}" + _SEP + r"(?P<tail>[0-9]{4})"
    + _RIGHT
)

# Area codes start with 0 and are 3 (010, 02x) or 4 digits; subscriber numbers are
# 7 or 8 digits and never start with 0 or 1.
_LANDLINE = re.compile(
    _LEFT
    + r"(?P<area>\(?0[1-9][0-9]{1,2}\)?)(?P<sep>[ \-]?)"
    + r"[2-9][0-9]{2,3}" + _SEP + r"(?P<tail>[0-9]{4})"
    + _RIGHT
)

_MOBILE_MASK = r"\g<prefix>\g<head>****\g<tail>"
_LANDLINE_MASK = r"\g<area>\g<sep>****\g<tail>"
#: joins the values of a Series for one regex pass: a control character no number contains
_JOIN = "\x00"


def mask_phone(text: str | None) -> str | None:
    """Mask every mobile and landline number in one piece of text.

    Parameters
    ----------
    text : str or None
        A phone field or free text (a 12345 complaint, a note).

    Returns
    -------
    str or None
        The text with numbers masked (``138****8000``, ``022-****1234``); ``None``
        stays ``None``.
    """
    if text is None:
        return None
    masked = _MOBILE.sub(_MOBILE_MASK, str(text))
    return _LANDLINE.sub(_LANDLINE_MASK, masked)


def mask_phones(series: pd.Series) -> pd.Series:
    """Vectorised :func:`mask_phone` over a Series.

    Parameters
    ----------
    series : pandas.Series
        Text values; non-text values (numbers read from a spreadsheet) are
        converted to text first so that they are masked too. Missing values stay
        missing.

    Returns
    -------
    pandas.Series
        A string Series with the same index.
    """
    if pd.api.types.is_float_dtype(series.dtype):
        # A number typed into a spreadsheet cell comes back as 13800138000.0, whose
        # ".0" would hide it from the patterns.
        series = series.round().astype("Int64")
    text = series.astype("string")
    present = text.notna().to_numpy()
    values = text[present].tolist()
    joined = _JOIN.join(values)
    if joined.count(_JOIN) != max(len(values) - 1, 0):
        # a value holds the separator itself: mask value by value
        masked = text.str.replace(_MOBILE, _MOBILE_MASK, regex=True)
        return masked.str.replace(_LANDLINE, _LANDLINE_MASK, regex=True)
    # One pass of each pattern over all values joined: the patterns cannot match across the
    # separator (neither a digit nor a character of a number), and the per-value calls of
    # Series.str.replace cost ten times more for a page of 1,000 issues.
    out = text.copy()
    out[present] = mask_phone(joined).split(_JOIN) if values else []
    return out
