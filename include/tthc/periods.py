"""Reporting periods as small values (spec "Periods"): labels YYYY-MM, and quarters, halves, years.

What a period covers (its bounds under Decree 09 or calendar months), its deadline and its words
depend on the deployment's scheme and days off: ask the reporting calendar (`tthc.calendar`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering
from typing import ClassVar
from zoneinfo import ZoneInfo

# The office's zone: timestamps (file times, portal dates) are read and shown in it.
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
_LABEL = re.compile(r"^(\d{4})-(\d{2})$")


class PeriodError(ValueError):
    pass


@total_ordering
@dataclass(frozen=True)
class Period:
    """A monthly reporting period, e.g. Period(2025, 3) == '2025-03'."""

    year: int
    month: int
    frequency: ClassVar[str] = "month"

    def __post_init__(self):
        if not (1 <= self.month <= 12) or not (1900 <= self.year <= 9999):
            raise PeriodError(f"kỳ báo cáo không hợp lệ: {self.year}-{self.month}")

    @classmethod
    def parse(cls, label: str) -> "Period":
        m = _LABEL.match(str(label).strip())
        if not m:
            raise PeriodError(f"kỳ báo cáo phải có dạng YYYY-MM, nhận được {label!r}")
        return cls(int(m.group(1)), int(m.group(2)))

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def __str__(self) -> str:
        return self.label

    def __lt__(self, other: "Period") -> bool:
        return (self.year, self.month) < (other.year, other.month)

    def shift(self, months: int) -> "Period":
        index = self.year * 12 + self.month - 1 + months
        return Period(index // 12, index % 12 + 1)

    @property
    def months(self) -> list["Period"]:
        return [self]

    def year_to_date(self) -> list["Period"]:
        """Periods of the same reporting year up to and including this one."""
        return [Period(self.year, m) for m in range(1, self.month + 1)]

    @classmethod
    def range(cls, first: "Period", last: "Period") -> list["Period"]:
        out, p = [], first
        while p <= last:
            out.append(p)
            p = p.shift(1)
        return out


_ROLLUP_LABEL = re.compile(r"^(\d{4})(?:-(Q[1-4]|H[12]))?$")
_ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}
ROLLUP_FREQUENCIES = {"quarter": 3, "half_year": 6, "year": 12}
# Months per period, for every kind of period.
FREQUENCIES = {"month": 1, **ROLLUP_FREQUENCIES}
_NOUN_VI = {"month": "tháng", "quarter": "quý", "half_year": "6 tháng", "year": "năm"}


@dataclass(frozen=True, order=True)
class RollupPeriod:
    """A quarter, half-year or year made of monthly periods: '2025-Q1', '2025-H1', '2025'.

    Its bounds follow the months' scheme: Decree 09 year 2025 = 15/12/2024 → 14/12/2025."""

    frequency: str  # quarter | half_year | year
    year: int
    position: int = 1  # the quarter (1-4) or half (1-2); 1 for a year

    def __post_init__(self):
        size = ROLLUP_FREQUENCIES.get(self.frequency)
        if size is None or not 1 <= self.position <= 12 // size:
            raise PeriodError(f"kỳ tổng hợp không hợp lệ: {self.frequency} {self.position}/{self.year}")

    @classmethod
    def parse(cls, label: str) -> "RollupPeriod":
        m = _ROLLUP_LABEL.match(str(label).strip())
        if not m:
            raise PeriodError(f"kỳ tổng hợp phải có dạng YYYY-Q1..Q4, YYYY-H1..H2 hoặc YYYY, nhận được {label!r}")
        year, part = int(m.group(1)), m.group(2)
        if part is None:
            return cls("year", year, 1)
        return cls("quarter" if part[0] == "Q" else "half_year", year, int(part[1]))

    @classmethod
    def of_frequency(cls, frequency: str, year: int) -> list["RollupPeriod"]:
        return [cls(frequency, year, i) for i in range(1, 12 // ROLLUP_FREQUENCIES[frequency] + 1)]

    @classmethod
    def of_month(cls, frequency: str, month: Period) -> "RollupPeriod":
        """The quarter, half-year or year that holds `month`."""
        if frequency not in ROLLUP_FREQUENCIES:
            raise PeriodError(f"kỳ tổng hợp không hợp lệ: {frequency!r}")
        return cls(frequency, month.year, (month.month - 1) // ROLLUP_FREQUENCIES[frequency] + 1)

    @property
    def label(self) -> str:
        if self.frequency == "year":
            return f"{self.year:04d}"
        return f"{self.year:04d}-{'Q' if self.frequency == 'quarter' else 'H'}{self.position}"

    def __str__(self) -> str:
        return self.label

    def shift(self, periods: int) -> "RollupPeriod":
        per_year = 12 // ROLLUP_FREQUENCIES[self.frequency]
        year, position = divmod(self.year * per_year + self.position - 1 + periods, per_year)
        return RollupPeriod(self.frequency, year, position + 1)

    @property
    def months(self) -> list[Period]:
        size = ROLLUP_FREQUENCIES[self.frequency]
        first = (self.position - 1) * size + 1
        return [Period(self.year, m) for m in range(first, first + size)]

    @property
    def first(self) -> Period:
        return self.months[0]

    @property
    def last(self) -> Period:
        return self.months[-1]

    def title_vi(self) -> str:
        """'quý I năm 2025', '6 tháng đầu năm 2025', '6 tháng cuối năm 2025', 'năm 2025'."""
        if self.frequency == "quarter":
            return f"quý {_ROMAN[self.position]} năm {self.year}"
        if self.frequency == "half_year":
            return f"6 tháng {'đầu' if self.position == 1 else 'cuối'} năm {self.year}"
        return f"năm {self.year}"

    def short_title_vi(self) -> str:
        """'quý I/2025' for a quarter (as the timetable names runs); the title otherwise."""
        if self.frequency == "quarter":
            return f"quý {_ROMAN[self.position]}/{self.year}"
        return self.title_vi()


def parse_period(label: str, frequency: str | None = "month") -> Period | RollupPeriod:
    """A label of the given frequency: '2025-03' (month), '2025-Q1', '2025-H1', '2025'; with
    frequency None, a label of any of them."""
    if frequency is None:
        for kind in (Period, RollupPeriod):
            try:
                return kind.parse(label)
            except PeriodError:
                pass
        raise PeriodError(f"kỳ báo cáo phải có dạng YYYY-MM, YYYY-Q1..Q4, YYYY-H1..H2 hoặc YYYY, nhận được {label!r}")
    if frequency == "month":
        return Period.parse(label)
    period = RollupPeriod.parse(label)
    if period.frequency != frequency:
        raise PeriodError(f"kỳ {period.label} không phải kỳ {_NOUN_VI.get(frequency, frequency)} "
                          f"(period {period.label} is not a {frequency} period)")
    return period

