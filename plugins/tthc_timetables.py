"""Airflow timetable for the spec's reporting periods (spec "Periods"), registered as a plugin.

One DAG run per reporting period: the run's data interval *is* the period and its run id names it.

    from tthc_timetables import ReportingPeriodTimetable
    schedule=ReportingPeriodTimetable.for_calendar(settings.calendar, "month")   # 2025-03 = 15/02 → 15/03

The periods are the reporting calendar's (`tthc.calendar`): Decree 09/2019/NĐ-CP art. 12
("decree09": month 2025-03 = 15/02/2025 → 15/03/2025; quarter Q1/2025 = 15/12/2024 → 15/03/2025;
year 2025 = 15/12/2024 → 15/12/2025) or calendar months ("calendar"). This file only translates
them for Airflow: UTC-aware pendulum intervals, run ids `scheduled__2025-03__2025-03-14T17:00:00+00:00`,
and Vietnamese words for the UI. The DAG files build it from the deployment's calendar, the same
one the tasks ask (TTHC_PERIOD_SCHEME, read from the environment by every component).

Light on purpose (stdlib, pendulum, `tthc.calendar`, Airflow's timetable base; the public-holiday
data loads only when a deadline is asked for, which a timetable never does): plugins are imported
by the scheduler, the API server and the DAG processor. Serialising a DAG that uses this timetable
needs the plugin registered (an unregistered custom timetable fails serialisation).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pendulum

from airflow.plugins_manager import AirflowPlugin
from airflow.timetables.base import DagRunInfo, DataInterval, Timetable
from tthc.calendar import SCHEMES, ReportingCalendar
from tthc.periods import FREQUENCIES

if TYPE_CHECKING:
    from pendulum import DateTime

    from airflow.timetables.base import TimeRestriction
    from airflow.utils.types import DagRunType
    from tthc.calendar import ReportingPeriod

DEFAULT_TZ = "Asia/Ho_Chi_Minh"
_NOUN_VI = {"month": "tháng", "quarter": "quý", "half_year": "6 tháng", "year": "năm"}
_EXAMPLE_LABEL = {"month": "2025-03", "quarter": "2025-Q1", "half_year": "2025-H1", "year": "2025"}


def _to_utc(value: dt.datetime) -> DateTime:
    return pendulum.instance(value.astimezone(dt.timezone.utc)).in_timezone("UTC")


class ReportingPeriodTimetable(Timetable):
    """Schedules one run per reporting period; data interval = the period [start, end).

    :param frequency: "month", "quarter", "half_year" or "year".
    :param scheme: "decree09" (15th → 15th, Decree 09/2019/NĐ-CP art. 12) or "calendar".
    :param tz: IANA zone the period bounds are computed in.
    """

    periodic = True
    can_be_scheduled = True

    def __init__(self, frequency: str = "month", scheme: str = "decree09", tz: str = DEFAULT_TZ):
        if frequency not in FREQUENCIES:
            raise ValueError(f"frequency must be one of {sorted(FREQUENCIES)}, got {frequency!r}")
        self.frequency = frequency
        # Bounds and words only: the days off never change a data interval.
        self.calendar = ReportingCalendar(scheme=scheme, timezone=str(tz))  # raises for a bad scheme or zone
        self.description = self._describe_schedule()

    @classmethod
    def for_calendar(cls, calendar: ReportingCalendar, frequency: str = "month") -> ReportingPeriodTimetable:
        return cls(frequency, scheme=calendar.scheme, tz=calendar.timezone)

    @property
    def scheme(self) -> str:
        return self.calendar.scheme

    @property
    def tz(self) -> str:
        return self.calendar.timezone

    # ---- periods as Airflow intervals --------------------------------------------------------
    def _interval(self, period: ReportingPeriod) -> DataInterval:
        return DataInterval(*(_to_utc(t) for t in self.calendar.bounds(period)))

    def _containing(self, instant: dt.datetime) -> ReportingPeriod:
        return self.calendar.containing(instant, self.frequency)

    def _first_at_or_after(self, instant: dt.datetime) -> ReportingPeriod:
        period = self._containing(instant)
        return period if self.calendar.bounds(period)[0] >= instant else period.shift(1)

    def interval_for_label(self, label: str) -> DataInterval:
        """'2025-03' / '2025-Q1' / '2025-H1' / '2025' → its data interval (UTC)."""
        return self._interval(self.calendar.parse(label, self.frequency))

    def label_for_interval(self, start: dt.datetime, end: dt.datetime) -> str | None:
        """The label of the period that is exactly [start, end), or None if it is no period."""
        period = self.calendar.exact(start, end, self.frequency)
        return None if period is None else period.label

    def describe(self, start: dt.datetime, end: dt.datetime) -> str | None:
        """Vietnamese words for the period [start, end), or None if it is not one of ours."""
        period = self.calendar.exact(start, end, self.frequency)
        return None if period is None else self.calendar.words(period)

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
        example = self.calendar.words(self.calendar.parse(_EXAMPLE_LABEL[self.frequency], self.frequency))
        return (f"Mỗi kỳ báo cáo {noun} chạy một lần, ngay sau khi kỳ kết thúc; khoảng dữ liệu của "
                f"lần chạy chính là kỳ báo cáo, {rule}, giờ {self.tz}. Ví dụ: {example}.")

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        """The period holding `run_after`.

        Airflow 3.3 passes the logical date the user chose when a run is triggered from the UI or the
        REST API, and from `dag.test(logical_date=...)`: the interval is then the period the run
        processes (tthc.calendar.period_of_run). `airflow dags trigger` passes the trigger time instead:
        the interval is the current period, not yet ended, and the run id does not name it."""
        return self._interval(self._containing(run_after))

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        floor = None  # the first period allowed
        if restriction.earliest is not None:
            floor = self._first_at_or_after(restriction.earliest)  # first whole period from start_date
        if not restriction.catchup:
            latest_complete = self._containing(self._utcnow()).shift(-1)
            floor = latest_complete if floor is None else max(floor, latest_complete)

        if last_automated_data_interval is None:
            if floor is None:
                return None  # no start_date: don't schedule
            period = floor
        else:
            last = last_automated_data_interval
            period = max(self._first_at_or_after(last.end), self._containing(last.start).shift(1))
            if floor is not None:
                period = max(period, floor)

        interval = self._interval(period)
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
        Airflow's default when the interval is not exactly one of this timetable's periods, or is a
        period not ended when the run was made (a trigger without a usable logical date: the run
        processes another period, or is refused, and its id must not claim that one).
        """
        label = self.label_for_interval(*data_interval) if data_interval is not None else None
        if label is None or data_interval.end > run_after:
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


def describe_interval(start: dt.datetime, end: dt.datetime, tz: str = DEFAULT_TZ) -> str:
    """Vietnamese words for a data interval, for the UI and run notes.

    'Kỳ báo cáo tháng 03/2025 (15/02/2025 – 14/03/2025)' for a Decree 09 month; quarters, halves and
    years likewise; calendar periods are recognised too. Any other interval is described by its
    local bounds.
    """
    for scheme in SCHEMES:
        calendar = ReportingCalendar(scheme=scheme, timezone=tz)
        period = calendar.exact(start, end)
        if period is not None:
            return calendar.words(period)
    zone = ZoneInfo(tz)
    return (f"Khoảng dữ liệu {start.astimezone(zone):%d/%m/%Y %H:%M} – "
            f"{end.astimezone(zone):%d/%m/%Y %H:%M} ({tz})")


class TthcTimetablesPlugin(AirflowPlugin):
    name = "tthc_timetables"
    timetables = [ReportingPeriodTimetable]
