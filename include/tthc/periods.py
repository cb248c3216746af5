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
