"""Airflow timetable for the spec's reporting periods (spec "Periods"), registered as a plugin.

One DAG run per reporting period: the run's data interval *is* the period and its run id names it.

    from tthc_timetables import ReportingPeriodTimetable
    schedule=ReportingPeriodTimetable("month", scheme="decree09")   # 2025-03 = 15/02 → 15/03

Decree 09/2019/NĐ-CP art. 12 ("decree09"): a period ends at 00:00 on the 15th of its last month,
local time. Month 2025-03 = 15/02/2025 → 15/03/2025; quarter Q1/2025 = 15/12/2024 → 15/03/2025;
half-year H1/2025 = 15/12/2024 → 15/06/2025; year 2025 = 15/12/2024 → 15/12/2025.
"calendar": calendar months, quarters, halves and years (1st → 1st).

Intervals are computed in the timetable's zone (Asia/Ho_Chi_Minh) and handed to Airflow as
UTC-aware pendulum datetimes. Run ids: `scheduled__2025-03__2025-03-14T17:00:00+00:00`,
`manual__2025-03__<trigger time>`; see `generate_run_id`.

Light on purpose (stdlib, pendulum, Airflow's timetable base): plugins are imported by the
scheduler, the API server and the DAG processor. Serialising a DAG that uses this timetable needs
the plugin registered (an unregistered custom timetable fails serialisation).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pendulum

from airflow.plugins_manager import AirflowPlugin
from airflow.timetables.base import DagRunInfo, DataInterval, Timetable

if TYPE_CHECKING:
    from pendulum import DateTime

    from airflow.timetables.base import TimeRestriction
    from airflow.utils.types import DagRunType

DEFAULT_TZ = "Asia/Ho_Chi_Minh"
SCHEMES = ("decree09", "calendar")
# Months per period.
FREQUENCIES = {"month": 1, "quarter": 3, "half_year": 6, "year": 12}

_NOUN_VI = {"month": "tháng", "quarter": "quý", "half_year": "6 tháng", "year": "năm"}
_ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}
_LABEL_RE = {
    "month": re.compile(r"^(\d{4})-(\d{2})$"),
    "quarter": re.compile(r"^(\d{4})-Q([1-4])$"),
    "half_year": re.compile(r"^(\d{4})-H([12])$"),
    "year": re.compile(r"^(\d{4})$"),
}


def _to_utc(value: dt.datetime) -> DateTime:
    return pendulum.instance(value.astimezone(dt.timezone.utc)).in_timezone("UTC")


class ReportingPeriodTimetable(Timetable):
    """Schedules one run per reporting period; data interval = the period [start, end).

    :param frequency: "month", "quarter", "half_year" or "year".
    :param scheme: "decree09" (15th → 15th, Decree 09/2019/NĐ-CP art. 12) or "calendar".
    :param tz: IANA zone the period bounds are computed in.

    Periods are numbered by an integer index j (j = year * periods_per_year + position - 1); the
    start of period j is `_boundary(j)` and its end is `_boundary(j + 1)`.
    """

    periodic = True
    can_be_scheduled = True

    def __init__(self, frequency: str = "month", scheme: str = "decree09", tz: str = DEFAULT_TZ):
        if frequency not in FREQUENCIES:
            raise ValueError(f"frequency must be one of {sorted(FREQUENCIES)}, got {frequency!r}")
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {list(SCHEMES)}, got {scheme!r}")
        self.frequency = frequency
        self.scheme = scheme
        self.tz = str(tz)
        self._zone = ZoneInfo(self.tz)  # raises for an unknown zone
        self._months = FREQUENCIES[frequency]
        self.description = self._describe_schedule()

    # ---- period arithmetic (local time) -------------------------------------------------
    def _boundary(self, index: int) -> dt.datetime:
        """Local start of period `index`."""
        month_index = index * self._months - (1 if self.scheme == "decree09" else 0)
        day = 15 if self.scheme == "decree09" else 1
        return dt.datetime(month_index // 12, month_index % 12 + 1, day, tzinfo=self._zone)

    def _local(self, instant: dt.datetime) -> dt.datetime:
        if instant.tzinfo is None:  # Airflow's convention for naive datetimes: UTC
            instant = instant.replace(tzinfo=dt.timezone.utc)
        return instant.astimezone(self._zone)

    def _index_containing(self, instant: dt.datetime) -> int:
        t = self._local(instant)
        month_index = t.year * 12 + t.month - 1
        if self.scheme == "decree09" and t.day >= 15:
            month_index += 1  # from the 15th on, the instant belongs to next month's period
        return month_index // self._months

    def _first_index_at_or_after(self, instant: dt.datetime) -> int:
        index = self._index_containing(instant)
        return index if self._boundary(index) >= instant else index + 1

    def _interval(self, index: int) -> DataInterval:
        return DataInterval(_to_utc(self._boundary(index)), _to_utc(self._boundary(index + 1)))

    def _label(self, index: int) -> str:
        per_year = 12 // self._months
        year, position = divmod(index, per_year)
        position += 1
        if self.frequency == "month":
            return f"{year:04d}-{position:02d}"
        if self.frequency == "quarter":
            return f"{year:04d}-Q{position}"
        if self.frequency == "half_year":
            return f"{year:04d}-H{position}"
        return f"{year:04d}"

    def _index_of_label(self, label: str) -> int:
        m = _LABEL_RE[self.frequency].match(str(label).strip())
        if not m:
            raise ValueError(f"not a {self.frequency} period label: {label!r}")
        year = int(m.group(1))
        position = int(m.group(2)) if m.lastindex and m.lastindex >= 2 else 1
        per_year = 12 // self._months
        if not 1 <= position <= per_year:
            raise ValueError(f"not a {self.frequency} period label: {label!r}")
        return year * per_year + position - 1

    def _exact_index(self, start: dt.datetime, end: dt.datetime) -> int | None:
        """The index of the period whose bounds are exactly [start, end), else None."""
        index = self._index_containing(end - dt.timedelta(microseconds=1))
        if self._boundary(index) == start and self._boundary(index + 1) == end:
            return index
        return None

    # ---- public helpers ---------------------------------------------------------------
    def interval_for_label(self, label: str) -> DataInterval:
        """'2025-03' / '2025-Q1' / '2025-H1' / '2025' → its data interval (UTC)."""
        return self._interval(self._index_of_label(label))

    def label_for_interval(self, start: dt.datetime, end: dt.datetime) -> str | None:
        """The label of the period that is exactly [start, end), or None if it is no period."""
        index = self._exact_index(start, end)
        return None if index is None else self._label(index)

    def period_containing(self, instant: dt.datetime) -> DataInterval:
        return self._interval(self._index_containing(instant))

    def describe(self, start: dt.datetime, end: dt.datetime) -> str | None:
        """Vietnamese words for the period [start, end), or None if it is not one of ours."""
        index = self._exact_index(start, end)
        if index is None:
            return None
        first = self._boundary(index)
        last = self._boundary(index + 1) - dt.timedelta(seconds=1)
        label = self._label(index)
        year = label[:4]
        if self.frequency == "month":
            name = f"tháng {label[5:]}/{year}"
        elif self.frequency == "quarter":
            name = f"quý {_ROMAN[int(label[-1])]}/{year}"
        elif self.frequency == "half_year":
            name = f"6 tháng {'đầu' if label.endswith('H1') else 'cuối'} năm {year}"
        else:
            name = f"năm {year}"
        return f"Kỳ báo cáo {name} ({first:%d/%m/%Y} – {last:%d/%m/%Y})"

    @staticmethod
    def _utcnow() -> DateTime:
        return pendulum.now("UTC")

    # ---- Timetable API ----------------------------------------------------------------
    @property
    def summary(self) -> str:
        rule = "NĐ 09: 15 → 14" if self.scheme == "decree09" else "dương lịch"
        return f"Kỳ báo cáo {_NOUN_VI[self.frequency]} ({rule})"

    def _describe_schedule(self) -> str:
        noun = _NOUN_VI[self.frequency]
        if self.scheme == "decree09":
            rule = ("từ 00:00 ngày 15 tháng cuối của kỳ trước đến hết ngày 14 tháng cuối kỳ "
                    "(Nghị định 09/2019/NĐ-CP, điều 12)")
        else:
            rule = "theo lịch dương, từ ngày 1 đến hết ngày cuối tháng cuối kỳ"
        example = self.describe(*self._interval(self._index_of_label(_EXAMPLE_LABEL[self.frequency])))
        return (f"Mỗi kỳ báo cáo {noun} chạy một lần, ngay sau khi kỳ kết thúc; khoảng dữ liệu của "
                f"lần chạy chính là kỳ báo cáo, {rule}, giờ {self.tz}. Ví dụ: {example}.")

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        """The latest whole period ending at or before `run_after`."""
        return self._interval(self._index_containing(run_after) - 1)

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        earliest = restriction.earliest
        floor: int | None = None  # the first period index allowed
        if earliest is not None:
            floor = self._first_index_at_or_after(earliest)  # first whole period from start_date
        if not restriction.catchup:
            latest_complete = self._index_containing(self._utcnow()) - 1
            floor = latest_complete if floor is None else max(floor, latest_complete)

        if last_automated_data_interval is None:
            if floor is None:
                return None  # no start_date: don't schedule
            index = floor
        else:
            last = last_automated_data_interval
            index = max(self._first_index_at_or_after(last.end), self._index_containing(last.start) + 1)
            if floor is not None:
                index = max(index, floor)

        interval = self._interval(index)
        if restriction.latest is not None and interval.start > restriction.latest:
            return None
        return DagRunInfo.interval(start=interval.start, end=interval.end)  # run_after = period end

    def generate_run_id(
        self,
        *,
        run_type: DagRunType,
        run_after: DateTime,
        data_interval: DataInterval | None,
        **extra,
    ) -> str:
        """`<run type>__<period label>__<run_after ISO>`, e.g. scheduled__2025-03__2025-03-14T17:00:00+00:00.

        Keeps Airflow's `<run type>__` prefix (DagRunType.from_run_id relies on it) and its
        run_after suffix (unique even if the scheme changes and a label repeats). Falls back to
        Airflow's default when the interval is not exactly one of this timetable's periods.
        """
        label = self.label_for_interval(*data_interval) if data_interval is not None else None
        if label is None:
            return run_type.generate_run_id(suffix=run_after.isoformat())
        return run_type.generate_run_id(suffix=f"{label}__{run_after.isoformat()}")

    def serialize(self) -> dict[str, Any]:
        return {"frequency": self.frequency, "scheme": self.scheme, "timezone": self.tz}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> ReportingPeriodTimetable:
        return cls(data["frequency"], data["scheme"], data["timezone"])

    def __eq__(self, other: object) -> bool:
        # Compare by qualified name, not isinstance: the plugins manager re-imports this file under
        # the same module name, so a DAG file's class and the registered class are distinct objects.
        if (type(other).__module__, type(other).__qualname__) != (type(self).__module__,
                                                                  type(self).__qualname__):
            return NotImplemented
        return self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash((self.frequency, self.scheme, self.tz))

    def __repr__(self) -> str:
        return f"ReportingPeriodTimetable({self.frequency!r}, scheme={self.scheme!r}, tz={self.tz!r})"


_EXAMPLE_LABEL = {"month": "2025-03", "quarter": "2025-Q1", "half_year": "2025-H1", "year": "2025"}


def describe_interval(start: dt.datetime, end: dt.datetime, tz: str = DEFAULT_TZ) -> str:
    """Vietnamese words for a data interval, for the UI and run notes.

    'Kỳ báo cáo tháng 03/2025 (15/02/2025 – 14/03/2025)' for a Decree 09 month; quarters, halves and
    years likewise; calendar periods are recognised too. Any other interval is described by its
    local bounds.
    """
    for scheme in SCHEMES:
        for frequency in FREQUENCIES:
            words = ReportingPeriodTimetable(frequency, scheme, tz).describe(start, end)
            if words is not None:
                return words
    zone = ZoneInfo(tz)
    return (f"Khoảng dữ liệu {start.astimezone(zone):%d/%m/%Y %H:%M} – "
            f"{end.astimezone(zone):%d/%m/%Y %H:%M} ({tz})")


def period_words(label: str, scheme: str = "decree09", tz: str = DEFAULT_TZ) -> str:
    """'2025-03' → 'Kỳ báo cáo tháng 03/2025 (15/02/2025 – 14/03/2025)'; '2025-Q1', '2025-H1', '2025' too."""
    for frequency, pattern in _LABEL_RE.items():
        if pattern.match(str(label).strip()):
            timetable = ReportingPeriodTimetable(frequency, scheme, tz)
            return timetable.describe(*timetable.interval_for_label(label))
    raise ValueError(f"not a period label (YYYY-MM, YYYY-Qn, YYYY-Hn or YYYY): {label!r}")


class TthcTimetablesPlugin(AirflowPlugin):
    name = "tthc_timetables"
    timetables = [ReportingPeriodTimetable]
