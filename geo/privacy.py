"""Reporters' phone numbers: normalised on the way in, masked on every way out (PIPL).

Normalising (:func:`normalise_phone`, :func:`normalise_phones`) turns what a
reporter typed into one stored form and refuses what is not a phone number:

* full-width digits become ASCII (NFKC), separators are dropped (spaces of any
  width, no-break and zero-width spaces, hyphens and dashes, ``.``, ``/``, ``_``,
  parentheses);
* a mainland mobile, 11 digits ``1[3-9]xxxxxxxxx`` optionally after ``+86``/``0086``/``86``,
  is stored as its 11 digits (``13800138000``);
* a landline with its area code (010 and 02x take 8-digit numbers, the other area
  codes are 4 digits, subscriber numbers 7–8 digits not starting with 0 or 1),
  optionally after ``+86``/``0086``, is stored as ``022-24371234``.

400/800 service numbers, extensions and bare local numbers are refused: a
citizen's call-back number is a mobile or a landline, and the masking below
knows those two shapes only.

Masking (:func:`mask_phone`, :func:`mask_phones`) hides those two kinds alone or
inside free text, written as people write them in a complaint:

* mobiles, contiguous or grouped 3-4-4 or 3-8, with any of the separators above
  (a run of up to three between groups; ``(138)0013 8000``), full-width digits and zero-width
  characters between digits: they become ``138****8000`` (a prefix is kept as
  written);
* landlines with an area code (``022-2437 1234``, ``(022)24371234``,
  ``（０３１２）５１２３４５６``, ``+86 22 2437 1234``): the area code and the last
  four digits stay, the rest becomes ``****`` (``022-****1234``).

Other digit strings are left alone: a number only matches when it is not glued to
further digits or a decimal part, so 18-character ID numbers (``12011019900101123X``),
12345 case numbers (``2025031200123``, ``GD20250312001234567``, ``2025-1391234-0024``:
a mobile is never grouped 7-4), dates, amounts (``13800138000.00``) and 11-digit runs
inside longer runs are not touched. Bare 7–8-digit local numbers without an area
code are not masked: they cannot be told apart from dates (``20250312``) and amounts.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from geo.errors import ValidationError

__all__ = ["PHONE_REFUSED", "mask_phone", "mask_phones", "mask_texts", "normalise_phone", "normalise_phones"]

#: what a phone field must hold, for messages (Chinese, then English)
PHONE_REFUSED = ("不是电话号码：应为 11 位手机号（可带 +86）或带区号的座机号，如 13800138000、022-24371234 "
                 "(not a phone number: expected an 11-digit mainland mobile, optionally with +86, or a landline "
                 "with its area code, e.g. 13800138000 or 022-24371234)")

# --------------------------------------------------------------------------- character classes
# Characters nobody sees, which a paste from a chat app or a web page leaves between digits.
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
# Spaces of every width (NBSP, en/em/thin/hair spaces, the ideographic space), hyphens, dashes and
# the minus sign, dots, slashes, underscores and parentheses, in their ASCII and full-width forms.
_SEPARATORS = (" \t\u00a0\u2000-\u200a\u202f\u205f\u3000" + _INVISIBLE
               + r"\-\u2010-\u2015\u2212\ufe58\ufe63\uff0d" + r"./_\uff0e\uff0f\uff3f()\uff08\uff09")
_DIGIT = "[0-9\uff10-\uff19]"
_Z = f"[{_INVISIBLE}]*"
_SEP = f"[{_SEPARATORS}]{{1,3}}"


def _digit(chars: str) -> str:
    """One digit of ``chars`` (ASCII digits or ranges) in its ASCII or full-width form."""
    wide = re.sub(r"[0-9]", lambda m: chr(ord(m[0]) + 0xFEE0), chars)
    return f"[{chars}{wide}]"


def _run(n: int) -> str:
    """``n`` digits, invisible characters allowed between them."""
    return _DIGIT + f"(?:{_Z}{_DIGIT}){{{n - 1}}}"


# A number must stand apart from other digits: ID and case numbers are longer digit
# runs, so an 11-digit window inside them is not a phone. Letters are allowed next
# to a number ("tel13800138000") because a missed phone is worse than a masked code.
# Neither side may be a decimal point followed/preceded by a digit (amounts).
_LEFT = f"(?<!{_DIGIT})(?<!{_DIGIT}[.\uff0e])"
_RIGHT = f"(?!{_Z}{_DIGIT})(?!{_Z}[.\uff0e]{_Z}{_DIGIT})"

#: the country code as written before a number: +86, 0086 or 86, with separators after it
_COUNTRY = f"{_digit('8')}{_Z}{_digit('6')}[{_SEPARATORS}]{{0,3}}"
_PLUS_OR_00 = f"(?:[+\uff0b]|{_digit('0')}{_Z}{_digit('0')}{_Z})"

# Each pattern opens with a look at the one character a number can start with: without it the
# look-behinds run at every character of the text, three times slower over a page of issues.
_MOBILE = re.compile(
    "(?=[+\uff0b0\uff108\uff181\uff11])"
    + _LEFT
    + f"(?P<prefix>{_PLUS_OR_00}?{_COUNTRY})?"
    + f"(?P<head>{_digit('1')}{_Z}{_digit('3-9')}{_Z}{_DIGIT})"
    # 11 digits in a row, 3-4-4 or 3-8; never 7-4, the shape of a case number's middle (2025-1391234-0024)
    + f"(?:{_Z}{_run(4)}{_Z}|{_SEP}{_run(4)}{_SEP}|{_SEP}{_run(4)}{_Z})"
    + f"(?P<tail>{_run(4)})"
    + _RIGHT
)

# Area codes start with 0 and are 3 (010, 02x) or 4 digits, after +86/0086 the 0 may be left out;
# subscriber numbers are 7 or 8 digits and never start with 0 or 1.
_LANDLINE = re.compile(
    "(?=[+\uff0b0\uff10(\uff08])"
    + _LEFT
    + f"(?P<area>(?:{_PLUS_OR_00}{_COUNTRY}[(\uff08]?{_digit('0')}?|[(\uff08]?{_digit('0')})"
    + f"{_Z}{_digit('1-9')}(?:{_Z}{_DIGIT}){{1,2}}[)\uff09]?)"
    + f"(?P<sep>[{_SEPARATORS}]{{0,3}})"
    + f"{_digit('2-9')}(?:{_Z}{_DIGIT}){{2,3}}[{_SEPARATORS}]{{0,3}}(?P<tail>{_run(4)})"
    + _RIGHT
)

_MOBILE_MASK = r"\g<prefix>\g<head>****\g<tail>"
_LANDLINE_MASK = r"\g<area>\g<sep>****\g<tail>"
#: joins the values of a Series for one regex pass: a control character no number contains
_JOIN = "\x00"

# --------------------------------------------------------------------------- normalising a phone field
# After NFKC (full-width forms and the odd spaces become ASCII), what a phone field may hold besides digits.
_FIELD_SEPARATORS = re.compile(r"[\s" + _INVISIBLE + r"\-\u2010-\u2015\u2212./_()]")
_FIELD_MOBILE = r"(?:\+86|0086|86)?(?P<mobile>1[3-9][0-9]{9})"
# 010 and 02x are the 3-digit area codes, every other one has 4 digits; abroad the trunk 0 is left out
_FIELD_LANDLINE = r"(?:(?:\+86|0086)0?|0)(?P<area>10|2[0-9]|[3-9][0-9]{2})(?P<number>[2-9][0-9]{6,7})"
_FIELD = re.compile(f"^(?:{_FIELD_MOBILE}|{_FIELD_LANDLINE})$")


def normalise_phones(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Normalise a column of phone fields; which values are not phone numbers.

    Parameters
    ----------
    series : pandas.Series
        What reporters typed (text; numbers read from a spreadsheet are taken as
        their digits). Missing and blank values are no phone and are valid.

    Returns
    -------
    normalised : pandas.Series
        A string Series with the same index: ``13800138000`` for a mobile,
        ``022-24371234`` for a landline, missing for a blank value or a refused one.
    invalid : pandas.Series
        Boolean, True where a value was given and is not a phone number.
    """
    if pd.api.types.is_float_dtype(series.dtype):
        # a number typed into a spreadsheet cell comes back as 13800138000.0
        series = series.round().astype("Int64")
    text = series.astype("string")
    # most fields hold a mobile as stored already: they are taken as they are, the rest go through the patterns
    plain = _plain_mobiles(text)
    rest = text[~plain].str.strip()
    rest = rest[rest.notna() & (rest != "")]
    clean = rest.str.normalize("NFKC").str.replace(_FIELD_SEPARATORS, "", regex=True)
    parts = clean.str.extract(_FIELD)
    normalised = text.where(plain)
    normalised[rest.index] = parts["mobile"].fillna("0" + parts["area"] + "-" + parts["number"])
    invalid = pd.Series(False, index=text.index)
    invalid[rest.index] = normalised[rest.index].isna().to_numpy()
    return normalised, invalid


def _plain_mobiles(text: pd.Series) -> np.ndarray:
    """Which values are a mainland mobile written as its 11 ASCII digits (``1[3-9]`` then 9 digits), nothing else."""
    values = text.to_numpy(dtype=object, na_value="")
    plain = np.fromiter(map(len, values), dtype=np.int64, count=len(values)) == 11
    chars = values[plain].astype("<U11").view(np.uint32).reshape(-1, 11)
    digits = chars.astype(np.int64) - ord("0")
    plain[plain] = ((digits >= 0) & (digits <= 9)).all(axis=1) & (digits[:, 0] == 1) & (digits[:, 1] >= 3)
    return plain


def normalise_phone(text: str | None, *, field: str = "phone") -> str | None:
    """Normalise one phone field (see :func:`normalise_phones`); None for a blank one.

    Parameters
    ----------
    text : str or None
        What the reporter typed.
    field : str, keyword-only
        The field's name, for the message.

    Raises
    ------
    geo.errors.ValidationError
        When ``text`` is not a phone number; the message quotes it (any phone-shaped
        run in it masked) and says what a phone number looks like.
    """
    normalised, invalid = normalise_phones(pd.Series([text], dtype=object))
    if invalid.iloc[0]:
        raise ValidationError(f"{field} {mask_phone(str(text)[:60])!r} {PHONE_REFUSED}")
    value = normalised.iloc[0]
    return None if pd.isna(value) else str(value)


# --------------------------------------------------------------------------- masking
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
    out = text.copy()
    out[present] = mask_texts(text[present].tolist())
    return out


def mask_texts(values: list[str | None]) -> list[str | None]:
    """:func:`mask_phone` of every value of a list, in one pass of each pattern over them all.

    Parameters
    ----------
    values : list of str or None
        Text values (None stays None).

    Returns
    -------
    list of str or None
        The masked values, in order.
    """
    present = [v for v in values if v is not None]
    joined = _JOIN.join(present)
    if joined.count(_JOIN) != max(len(present) - 1, 0):
        # a value holds the separator itself: mask value by value
        return [mask_phone(v) for v in values]
    # One pass of each pattern over all values joined: the patterns cannot match across the
    # separator (neither a digit nor a character of a number), and the per-value calls of
    # Series.str.replace cost ten times more for a page of 1,000 issues.
    masked = iter(mask_phone(joined).split(_JOIN) if present else [])
    return [None if v is None else next(masked) for v in values]
