"""The reporting calendar: the one place that knows what a period covers and when reports are due.

    calendar = settings.calendar                     # scheme, deadline working days, zone, days off
    calendar.bounds(Period(2025, 3))                 # 15/02/2025 00:00 → 15/03/2025 00:00 (Decree 09)
    calendar.words(Period(2025, 3))                  # 'Kỳ báo cáo tháng 03/2025 (15/02/2025 – 14/03/2025)'
    calendar.deadline(Period(2026, 2)).last_day      # 25/02/2026: the 3rd working day after Tết

Schemes (spec "Periods"): "decree09" (Decree 09/2019/NĐ-CP art. 12: a month runs from the 15th of
the month before, 00:00, to the 14th, 23:59:59, local time) or "calendar" (calendar months).
Quarters, halves and years are unions of their months.

Working days are Monday–Friday without Vietnam's public holidays and compensatory days off, plus
the make-up Saturdays the government announces: the `holidays` package (loaded on the first
deadline asked for: its import and lunar dates cost ~0.3 s, which the timetable plugin, imported
by every Airflow component, must not pay), then the office's own files in the catalogue,
`days_off.csv` and `make_up_days.csv` (columns date, note), for what the package lacks or learns
late. The office's files win.

Stdlib only at import: the Airflow timetable plugin imports this module.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone as dt_timezone
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from .periods import FREQUENCIES, Period, PeriodError, RollupPeriod, parse_period

SCHEMES = ("decree09", "calendar")
DAYS_OFF_FILE = "days_off.csv"
MAKE_UP_DAYS_FILE = "make_up_days.csv"
_SCHEME_VI = {"decree09": "theo Nghị định 09/2019/NĐ-CP", "calendar": "theo tháng dương lịch"}

ReportingPeriod = Period | RollupPeriod


class CalendarError(ValueError):
    """A calendar setting or an office day-off file the pipeline cannot use."""


class PeriodNotClosed(PeriodError):
    """A period asked to be processed before it has ended: nothing is written for it."""


@dataclass(frozen=True)
class Deadline:
    """A period's submission deadline, in both forms callers need."""

    last_day: date  # the last day a submission is on time (local)
    end: datetime  # exclusive: 00:00 local after last_day; a file received before it is on time

    def __str__(self) -> str:
        return f"{self.last_day:%d/%m/%Y}"


@dataclass(frozen=True)
class ReportingCalendar:
    scheme: str = "decree09"
    # Working days after a period's last day on which submissions are still on time.
    deadline_workdays: int = 3
    timezone: str = "Asia/Ho_Chi_Minh"
    # The office's additions to the package's days off / make-up working days.
    days_off: frozenset[date] = frozenset()
    make_up_days: frozenset[date] = frozenset()

    def __post_init__(self):
        if self.scheme not in SCHEMES:
            raise CalendarError(f"TTHC_PERIOD_SCHEME={self.scheme!r}: expected one of {', '.join(SCHEMES)}")
        if self.deadline_workdays < 0:
            raise CalendarError("TTHC_DEADLINE_WORKDAYS must be 0 or more")
        ZoneInfo(self.timezone)  # an unknown zone fails here, not at the first deadline
        both = sorted(self.days_off & self.make_up_days)
        if both:
            raise CalendarError(f"{both[0]:%d/%m/%Y} is both in {DAYS_OFF_FILE} and in {MAKE_UP_DAYS_FILE}")

    @classmethod
    def from_settings(cls, settings) -> "ReportingCalendar":
        """The deployment's calendar: TTHC_PERIOD_SCHEME, TTHC_DEADLINE_WORKDAYS, the zone, and the
        office's day-off files in TTHC_CATALOGUE_DIR."""
        directory = Path(settings.catalogue_dir)
        return cls(scheme=settings.period_scheme, deadline_workdays=settings.deadline_workdays,
                   timezone=settings.timezone, days_off=office_days(directory / DAYS_OFF_FILE),
                   make_up_days=office_days(directory / MAKE_UP_DAYS_FILE))

    def with_scheme(self, scheme: str) -> "ReportingCalendar":
        """The same days off under another scheme (figures stored under an earlier setting)."""
        return self if scheme == self.scheme else replace(self, scheme=scheme)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    # ---- periods --------------------------------------------------------------------------------
    @staticmethod
    def parse(label: str, frequency: str = "month") -> ReportingPeriod:
        return parse_period(label, frequency)

    def _month_start(self, month: Period) -> datetime:
        if self.scheme == "decree09":
            before = month.shift(-1)
            return datetime(before.year, before.month, 15, tzinfo=self.zone)
        return datetime(month.year, month.month, 1, tzinfo=self.zone)

    def bounds(self, period: ReportingPeriod) -> tuple[datetime, datetime]:
        """[start, end) in local time; a roll-up spans its months."""
        months = period.months
        return self._month_start(months[0]), self._month_start(months[-1].shift(1))

    def last_day(self, period: ReportingPeriod) -> date:
        return (self.bounds(period)[1] - timedelta(days=1)).date()

    def _local(self, instant: datetime) -> datetime:
        if instant.tzinfo is None:  # Airflow's convention for naive datetimes: UTC
            instant = instant.replace(tzinfo=dt_timezone.utc)
        return instant.astimezone(self.zone)

    def containing(self, instant: datetime, frequency: str = "month") -> ReportingPeriod:
        """The period of `frequency` that `instant` falls in."""
        if frequency not in FREQUENCIES:
            raise PeriodError(f"frequency must be one of {sorted(FREQUENCIES)}, got {frequency!r}")
        t = self._local(instant)
        month = Period(t.year, t.month)
        if self.scheme == "decree09" and t.day >= 15:
            month = month.shift(1)  # from the 15th on, an instant belongs to next month's period
        return month if frequency == "month" else RollupPeriod.of_month(frequency, month)

    def exact(self, start: datetime, end: datetime, frequency: str | None = None) -> ReportingPeriod | None:
        """The period (of `frequency`, or of any) whose bounds are exactly [start, end), else None."""
        for f in [frequency] if frequency else FREQUENCIES:
            period = self.containing(end - timedelta(microseconds=1), f)
            if self.bounds(period) == (self._local(start), self._local(end)):
                return period
        return None

    def is_closed(self, period: ReportingPeriod, now: datetime | None = None) -> bool:
        """Whether the period has ended (its last instant has passed)."""
        return (now or datetime.now(self.zone)) >= self.bounds(period)[1]

    def require_closed(self, period: ReportingPeriod, now: datetime | None = None) -> None:
        """Refuse a period that has not ended: its figures would be partial and its report a phantom."""
        if not self.is_closed(period, now):
            last = f"{self.last_day(period):%d/%m/%Y}"
            raise PeriodNotClosed(
                f"Kỳ {period.label} chưa kết thúc (đến hết ngày {last}): không xử lý kỳ chưa kết thúc, hãy chọn "
                f"kỳ đã kết thúc. / Period {period.label} has not ended yet (last day {last}): "
                "only closed periods are processed.")

    # ---- words ----------------------------------------------------------------------------------
    def words(self, period: ReportingPeriod) -> str:
        """'Kỳ báo cáo tháng 03/2025 (15/02/2025 – 14/03/2025)', 'Kỳ báo cáo quý I/2025 (…)',
        'Kỳ báo cáo 6 tháng đầu năm 2025 (…)', 'Kỳ báo cáo năm 2025 (…)': run notes, the UI."""
        name = (f"tháng {period.month:02d}/{period.year}" if isinstance(period, Period)
                else period.short_title_vi())
        start, end = self.bounds(period)
        return f"Kỳ báo cáo {name} ({start:%d/%m/%Y} – {end - timedelta(days=1):%d/%m/%Y})"

    def describe_vi(self, period: ReportingPeriod) -> str:
        """The period as reports and templates state it, naming the scheme:
        'Tháng 03/2025 (từ 15/02/2025 đến 14/03/2025, theo Nghị định 09/2019/NĐ-CP)',
        'Quý I năm 2025 (từ 15/12/2024 đến 14/03/2025, tháng 01–03/2025, theo …)'."""
        start, end = self.bounds(period)
        span = f"từ {start:%d/%m/%Y} đến {end - timedelta(days=1):%d/%m/%Y}"
        if isinstance(period, Period):
            return f"Tháng {period.month:02d}/{period.year} ({span}, {_SCHEME_VI[self.scheme]})"
        name = period.title_vi()
        return (f"{name[0].upper()}{name[1:]} ({span}, tháng {period.first.month:02d}–{period.last.month:02d}/"
                f"{period.year}, {_SCHEME_VI[self.scheme]})")

    # ---- working days and deadlines ---------------------------------------------------------------
    def is_working_day(self, day: date) -> bool:
        if day in self.make_up_days:
            return True
        if day in self.days_off:
            return False
        days_off, make_up, weekend = _public_year(day.year)
        if day in make_up:
            return True
        return day.weekday() not in weekend and day not in days_off

    def working_day_after(self, day: date, n: int) -> date:
        """The n-th working day after `day` (n = 0: `day` itself)."""
        while n > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                n -= 1
        return day

    def deadline(self, period: ReportingPeriod) -> Deadline:
        """On time until the end of the `deadline_workdays`-th working day after the period's last
        day; a roll-up's is its last month's."""
        last = self.working_day_after(self.last_day(period.months[-1]), self.deadline_workdays)
        return Deadline(last_day=last, end=datetime.combine(last + timedelta(days=1), time(), tzinfo=self.zone))

    def deadline_passed(self, period: ReportingPeriod, now: datetime | None = None) -> bool:
        return (now or datetime.now(self.zone)) >= self.deadline(period).end

    # ---- the period of an Airflow run ---------------------------------------------------------------
    def period_of_run(self, frequency: str = "month", *, requested: str | None = None,
                      logical_date: datetime | None = None,
                      data_interval: tuple[datetime, datetime] | None = None,
                      run_after: datetime | None = None, run_type: str | None = None) -> ReportingPeriod:
        """The period a DAG run processes, whoever made the run.

        1. `period` named in the run's conf or params (a re-run, the watcher's trigger);
        2. else the period holding the run's logical date: a scheduled or backfill run's is its
           period's start; a manual run's is the date the user chose (the UI, `airflow dags trigger
           --logical-date`), whatever data interval Airflow inferred from the trigger time;
        3. else the period of the data interval;
        4. else (a manual run with neither) the latest period that had ended when the run was made.

        A scheduled or backfill run's data interval was cut by the timetable: if it is not exactly
        the period, the timetable and this calendar disagree on the scheme, and nothing is processed.
        """
        if requested:
            period = self.parse(requested, frequency)
        elif logical_date is not None:
            period = self.containing(logical_date, frequency)
        elif data_interval is not None:
            period = self.containing(data_interval[1] - timedelta(microseconds=1), frequency)
        elif run_after is not None:
            period = self.containing(run_after, frequency).shift(-1)
        else:
            raise PeriodError("the run names no period: trigger it with conf {\"period\": \"YYYY-MM\"} "
                              "or a logical date inside the period")
        if run_type in ("scheduled", "backfill") and data_interval is not None and not requested:
            if self.exact(*data_interval, frequency) != period:
                raise PeriodError(
                    f"the run's data interval {data_interval[0].isoformat()} – {data_interval[1].isoformat()} is "
                    f"not period {period.label} of the {self.scheme!r} calendar: the timetable was built with "
                    "another TTHC_PERIOD_SCHEME than this worker's (set it once, for every Airflow component)")
        return period


def office_days(path: Path) -> frozenset[date]:
    """The dates of an office day-off file (header `date,note`; dates YYYY-MM-DD). No file: none."""
    path = Path(path)
    if not path.exists():
        return frozenset()
    return _read_office_days(path.resolve(), path.stat().st_mtime_ns)


@lru_cache(maxsize=16)
def _read_office_days(path: Path, _mtime_ns: int) -> frozenset[date]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        if "date" not in (reader.fieldnames or []):
            raise CalendarError(f"{path}: the header must have a 'date' column (date,note)")
        days = set()
        for line, row in enumerate(reader, start=2):
            value = (row.get("date") or "").strip()
            try:
                days.add(date.fromisoformat(value))
            except ValueError:
                raise CalendarError(f"{path}, dòng {line}: ngày {value!r} không hợp lệ "
                                    "(cần dạng YYYY-MM-DD, ví dụ 2026-02-16)") from None
    return frozenset(days)


@lru_cache(maxsize=None)
def _public_year(year: int) -> tuple[frozenset[date], frozenset[date], frozenset[int]]:
    """Vietnam's days off, make-up working days and weekend days of a year, from `holidays`."""
    import holidays  # here, not at import: see the module docstring

    vn = holidays.country_holidays("VN", years=year)
    return (frozenset(vn), frozenset(d for d in vn.weekend_workdays if d.year == year),
            frozenset(vn.weekend))


DEFAULT_CALENDAR = ReportingCalendar()
