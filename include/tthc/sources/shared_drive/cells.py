"""Label matching and Vietnamese number/period reading for submissions."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

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


def count_text(value: object) -> str:
    """Canonical text of a count cell: digits only when it is a number, else the text as written.

    Vietnamese style: '.' groups thousands ('1.234' = 1234) and ',' is the decimal mark.
    A whole number ≥ 0 comes out as plain digits ('1234'); anything else keeps a form that
    the whole-number check rejects ('12,5' → '12.5', '-3' → '-3', 'abc' → 'abc').
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else str(value)
    s = str(value).strip().replace("\u00a0", "").replace(" ", "")
    if re.fullmatch(r"[+-]?\d{1,3}(\.\d{3})+(,\d+)?", s):  # 1.234 or 1.234,5
        s = s.replace(".", "").replace(",", ".")
    elif re.fullmatch(r"[+-]?\d+,\d+", s):  # 12,5
        s = s.replace(",", ".")
    try:
        d = Decimal(s)
    except InvalidOperation:
        return str(value).strip()
    if not d.is_finite():  # 'inf', 'NaN' are text to reject, not numbers (int() would raise)
        return str(value).strip()
    if d == d.to_integral_value() and d >= 0 and not s.startswith("-"):
        return str(int(d))
    return str(d.normalize()) if d != d.to_integral_value() else str(int(d))


def count_value(text: str) -> int | None:
    """The integer of a canonical count text, None where it is not a whole number ≥ 0."""
    return int(text) if re.fullmatch(r"\d+", text or "") else None


def rate_value(value: object) -> float | None:
    """Read a 'Tỷ lệ (%)' cell: 85, '85%', '85,5', 0.855 → number as written (None if blank).

    Returns the number as written; `rate_deviation` decides whether a number ≤ 1 is a fraction.
    Raises ValueError on unreadable text.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return float(value)
    s = str(value).strip().replace("\u00a0", "").replace(" ", "").rstrip("%").replace(",", ".")
    if s.count(".") > 1 or not re.fullmatch(r"\d+(\.\d+)?|\.\d+", s):
        raise ValueError(f"tỷ lệ không đọc được: {value!r}")
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
