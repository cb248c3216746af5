"""Label matching and Vietnamese number/period reading for submissions."""

from __future__ import annotations

import math
import re
import unicodedata
from decimal import Decimal

from ...periods import Period, PeriodError

_SPACES = re.compile(r"\s+")


def normalize_label(text: object) -> str:
    """Fold a label for matching: case, diacritics (đ→d), spacing and a trailing colon ignored."""
    if text is None:
        return ""
    s = unicodedata.normalize("NFD", str(text))
    s = "".join(ch for ch in s if unicodedata.category(ch) != "Mn")
    s = s.replace("đ", "d").replace("Đ", "D").lower()
    s = _SPACES.sub(" ", s.replace("\u00a0", " ")).strip()
    return s.rstrip(":").strip()


# A count is a whole number ≥ 0 of at most this many digits (a district's yearly total is far below
# 10^15); the bound also keeps every conversion cheap: '1E+999999999' or a 5,000-digit text is
# rejected as written, never turned into an int.
MAX_COUNT_DIGITS = 15
COUNT_PATTERN = rf"^[0-9]{{1,{MAX_COUNT_DIGITS}}}$"
_COUNT = re.compile(COUNT_PATTERN)
_MAX_ECHO = 40  # characters of a cell quoted in a reason; the rest is summarised


def shown(text: str, limit: int = _MAX_ECHO) -> str:
    """A cell's text as quoted back to the clerk: whole if short, else its start and its length
    (a 20 MB cell must not become a 20 MB reason)."""
    if len(text) <= limit:
        return text
    return f"{text[:limit // 2]}… ({len(text):,} ký tự)".replace(",", ".")


def count_text(value: object) -> str:
    """Canonical text of a count cell: digits only when it is a whole number ≥ 0 of at most 15 digits,
    else the text as written (shortened), which the whole-number check rejects naming the cell.

    Vietnamese style: '.' groups thousands ('1.234' = 1234) and ',' is the decimal mark; an exponent
    ('1E+3') is not a count. '12,5' → '12.5', '-3' → '-3', 'abc' → 'abc'.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        # str() of an int past 4,300 digits (~14,000 bits) raises; no count gets near that.
        return shown(str(value)) if value.bit_length() <= 14_000 else f"số có hơn {MAX_COUNT_DIGITS} chữ số"
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        if not value.is_integer() or abs(value) >= 10 ** MAX_COUNT_DIGITS:
            return repr(value)
        return str(int(value))
    if isinstance(value, Decimal):
        return _decimal_text(value, str(value))
    s = str(value).strip().replace("\u00a0", "").replace(" ", "")
    if len(s) > _MAX_ECHO:
        return shown(str(value).strip())
    if re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?", s):  # 1.234 or 1.234,5
        s = s.replace(".", "").replace(",", ".")
    elif re.fullmatch(r"[+-]?\d+,\d+", s):  # 12,5
        s = s.replace(",", ".")
    if not re.fullmatch(r"[+-]?\d+(\.\d+)?", s):  # no exponent, no 'inf' or 'NaN'
        return str(value).strip()
    return _decimal_text(Decimal(s), s)


def _decimal_text(d: Decimal, written: str) -> str:
    if not d.is_finite() or d.adjusted() >= MAX_COUNT_DIGITS:
        return shown(written)  # too many digits for a count: int() of it could take forever
    return str(int(d)) if d == d.to_integral_value() else str(d.normalize())


def count_value(text: str) -> int | None:
    """The integer of a canonical count text, None where it is not a whole number ≥ 0 of at most 15 digits."""
    return int(text) if _COUNT.fullmatch(text or "") else None


def rate_value(value: object) -> float | None:
    """Read a 'Tỷ lệ (%)' cell: 85, '85%', '85,5', 0.855 → number as written (None if blank).

    Returns the number as written; `rate_deviation` decides whether a number ≤ 1 is a fraction.
    Raises ValueError on unreadable text.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        number = float(value) if not isinstance(value, int) or value.bit_length() <= 64 else math.inf
        if not math.isfinite(number):
            raise ValueError("tỷ lệ không đọc được: không phải số hữu hạn")
        return number
    s = str(value).strip().replace("\u00a0", "").replace(" ", "").rstrip("%").replace(",", ".")
    if len(s) > _MAX_ECHO or s.count(".") > 1 or not re.fullmatch(r"\d+(\.\d+)?|\.\d+", s):
        raise ValueError(f"tỷ lệ không đọc được: {shown(str(value))!r}")
    return float(s)


def rate_deviation(given: float | None, numerator: int | None, denominator: int | None) -> float | None:
    """Points between a stated rate and num/den, reading a number ≤ 1 as a fraction where that fits
    better (0.855 = 85,5 %). None when there is nothing to compare (no rate, 0/0, bad counts)."""
    if given is None or numerator is None or denominator is None or denominator == 0:
        return None
    actual = 100.0 * numerator / denominator
    candidates = [given] + ([given * 100] if given <= 1 else [])
    return min(abs(c - actual) for c in candidates)


_PERIOD_FORMS = [
    re.compile(r"^(?:thang\s*)?(\d{1,2})\s*[/.-]\s*(\d{4})$"),  # 03/2025, 3/2025, Tháng 03/2025
    re.compile(r"^(\d{4})\s*[-/.]\s*(\d{1,2})$"),  # 2025-03
]


def parse_period_text(value: object) -> Period:
    """Read a 'Kỳ báo cáo' value: '03/2025', '3/2025', '2025-03', 'Tháng 03/2025' (or a date cell)."""
    if hasattr(value, "year") and hasattr(value, "month"):
        return Period(value.year, value.month)
    s = normalize_label(value)
    m = _PERIOD_FORMS[0].match(s)
    if m:
        month, year = int(m.group(1)), int(m.group(2))
    else:
        m = _PERIOD_FORMS[1].match(s)
        if not m:
            raise PeriodError(f"kỳ báo cáo không đọc được: {value!r}")
        year, month = int(m.group(1)), int(m.group(2))
    try:
        return Period(year, month)
    except PeriodError:
        raise PeriodError(f"kỳ báo cáo không đọc được: {value!r}") from None
