"""Reporting periods (spec "Periods"): labels YYYY-MM, Decree 09 or calendar bounds, deadlines."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import total_ordering
from zoneinfo import ZoneInfo

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

    def bounds(self, scheme: str = "decree09") -> tuple[datetime, datetime]:
        """[start, end) in local time. Decree 09: 15th of the previous month to the 15th."""
        if scheme == "decree09":
            prev = self.shift(-1)
            return (datetime(prev.year, prev.month, 15, tzinfo=LOCAL_TZ),
                    datetime(self.year, self.month, 15, tzinfo=LOCAL_TZ))
        if scheme == "calendar":
            nxt = self.shift(1)
            return (datetime(self.year, self.month, 1, tzinfo=LOCAL_TZ),
                    datetime(nxt.year, nxt.month, 1, tzinfo=LOCAL_TZ))
        raise PeriodError(f"unknown period scheme {scheme!r}")

    def last_day(self, scheme: str = "decree09") -> date:
        return (self.bounds(scheme)[1] - timedelta(days=1)).date()

    def deadline(self, scheme: str = "decree09", workdays: int = 3) -> datetime:
        """End (exclusive) of the submission window: `workdays` Mon–Fri days after the last day."""
        day = self.last_day(scheme)
        remaining = workdays
        while remaining > 0:
            day += timedelta(days=1)
            if day.weekday() < 5:
                remaining -= 1
        return datetime(day.year, day.month, day.day, tzinfo=LOCAL_TZ) + timedelta(days=1)

    def year_to_date(self) -> list["Period"]:
        """Periods of the same reporting year up to and including this one."""
        return [Period(self.year, m) for m in range(1, self.month + 1)]

    @classmethod
    def for_interval(cls, start: datetime, end: datetime) -> "Period":
        """The period a data interval [start, end) covers: the month holding its last instant."""
        last = (end - timedelta(seconds=1)).astimezone(LOCAL_TZ)
        return cls(last.year, last.month)

    @classmethod
    def range(cls, first: "Period", last: "Period") -> list["Period"]:
        out, p = [], first
        while p <= last:
            out.append(p)
            p = p.shift(1)
        return out

    def describe_vi(self, scheme: str = "decree09") -> str:
        start, end = self.bounds(scheme)
        last = end - timedelta(seconds=1)
        return (f"Tháng {self.month:02d}/{self.year} (từ {start:%d/%m/%Y} đến {last:%d/%m/%Y}"
                f"{', theo Nghị định 09/2019/NĐ-CP' if scheme == 'decree09' else ', theo tháng dương lịch'})")


_ROLLUP_LABEL = re.compile(r"^(\d{4})(?:-(Q[1-4]|H[12]))?$")
_ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}
ROLLUP_FREQUENCIES = {"quarter": 3, "half_year": 6, "year": 12}


@dataclass(frozen=True)
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

    @property
    def label(self) -> str:
        if self.frequency == "year":
            return f"{self.year:04d}"
        return f"{self.year:04d}-{'Q' if self.frequency == 'quarter' else 'H'}{self.position}"

    def __str__(self) -> str:
        return self.label

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

    def bounds(self, scheme: str = "decree09") -> tuple[datetime, datetime]:
        return self.first.bounds(scheme)[0], self.last.bounds(scheme)[1]

    def last_day(self, scheme: str = "decree09") -> date:
        return self.last.last_day(scheme)

    def deadline(self, scheme: str = "decree09", workdays: int = 3) -> datetime:
        return self.last.deadline(scheme, workdays)

    def title_vi(self) -> str:
        """'quý I năm 2025', '6 tháng đầu năm 2025', '6 tháng cuối năm 2025', 'năm 2025'."""
        if self.frequency == "quarter":
            return f"quý {_ROMAN[self.position]} năm {self.year}"
        if self.frequency == "half_year":
            return f"6 tháng {'đầu' if self.position == 1 else 'cuối'} năm {self.year}"
        return f"năm {self.year}"

    def describe_vi(self, scheme: str = "decree09") -> str:
        start, end = self.bounds(scheme)
        last = end - timedelta(seconds=1)
        name = self.title_vi()
        return (f"{name[0].upper()}{name[1:]} (từ {start:%d/%m/%Y} đến {last:%d/%m/%Y}, tháng "
                f"{self.first.month:02d}–{self.last.month:02d}/{self.year}"
                f"{', theo Nghị định 09/2019/NĐ-CP' if scheme == 'decree09' else ', theo tháng dương lịch'})")
