"""tthc.calendar: the one reporting calendar (bounds, labels, words, deadlines with Vietnam's days off,
the period of an Airflow run, refusal of periods not yet ended)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tthc.calendar import DEFAULT_CALENDAR, CalendarError, Deadline, PeriodNotClosed, ReportingCalendar
from tthc.periods import Period, PeriodError, RollupPeriod
from tthc.settings import DEFAULT_CATALOGUE_DIR, Settings

VN = ZoneInfo("Asia/Ho_Chi_Minh")
DECREE09 = DEFAULT_CALENDAR
CAL = ReportingCalendar(scheme="calendar")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=VN)


# ---- bounds, labels, words -------------------------------------------------------------------

@pytest.mark.parametrize("calendar, frequency, label, start, end", [
    (DECREE09, "month", "2025-03", local(2025, 2, 15), local(2025, 3, 15)),
    (DECREE09, "month", "2025-01", local(2024, 12, 15), local(2025, 1, 15)),
    (DECREE09, "quarter", "2025-Q1", local(2024, 12, 15), local(2025, 3, 15)),
    (DECREE09, "half_year", "2025-H2", local(2025, 6, 15), local(2025, 12, 15)),
    (DECREE09, "year", "2025", local(2024, 12, 15), local(2025, 12, 15)),
    (CAL, "month", "2025-02", local(2025, 2, 1), local(2025, 3, 1)),
    (CAL, "quarter", "2025-Q4", local(2025, 10, 1), local(2026, 1, 1)),
    (CAL, "year", "2025", local(2025, 1, 1), local(2026, 1, 1)),
])
def test_bounds_and_last_day(calendar, frequency, label, start, end):
    period = calendar.parse(label, frequency)
    assert calendar.bounds(period) == (start, end)
    assert calendar.last_day(period) == (end - timedelta(days=1)).date()
    assert calendar.exact(start, end) == period
    assert calendar.exact(start, end + timedelta(days=1)) is None


@pytest.mark.parametrize("instant, frequency, label", [
    (local(2025, 3, 14, 23, 59, 59), "month", "2025-03"),
    (local(2025, 3, 15), "month", "2025-04"),
    (local(2024, 12, 15), "month", "2025-01"),  # the Dec → Jan year boundary
    (local(2024, 12, 20), "year", "2025"),
    (local(2025, 6, 14, 12), "half_year", "2025-H1"),
    (local(2025, 6, 15), "quarter", "2025-Q3"),
    (datetime(2025, 3, 14, 17, 0, tzinfo=timezone.utc), "month", "2025-04"),  # 15/03 00:00 local
    (datetime(2025, 3, 14, 16, 59), "month", "2025-03"),  # naive = UTC, Airflow's convention
])
def test_the_period_containing_an_instant(instant, frequency, label):
    assert DECREE09.containing(instant, frequency).label == label


def test_calendar_months_and_bad_arguments():
    assert CAL.containing(local(2025, 3, 31, 23)).label == "2025-03"
    assert CAL.containing(local(2025, 4, 1)).label == "2025-04"
    with pytest.raises(PeriodError):
        DECREE09.containing(local(2025, 3, 1), "week")
    with pytest.raises(PeriodError, match="not a quarter"):
        DECREE09.parse("2025-H1", "quarter")
    with pytest.raises(CalendarError, match="TTHC_PERIOD_SCHEME"):
        ReportingCalendar(scheme="lunar")
    with pytest.raises(CalendarError, match="TTHC_DEADLINE_WORKDAYS"):
        ReportingCalendar(deadline_workdays=-1)


def test_rollups_shift_and_hold_their_months():
    q4 = RollupPeriod.parse("2025-Q4")
    assert q4.shift(1).label == "2026-Q1" and q4.shift(-4).label == "2024-Q4"
    assert RollupPeriod.of_month("half_year", Period(2025, 7)).label == "2025-H2"
    assert RollupPeriod.parse("2025-Q1") < RollupPeriod.parse("2025-Q2")


@pytest.mark.parametrize("calendar, label, frequency, words", [
    (DECREE09, "2025-03", "month", "Kỳ báo cáo tháng 03/2025 (15/02/2025 – 14/03/2025)"),
    (DECREE09, "2025-Q1", "quarter", "Kỳ báo cáo quý I/2025 (15/12/2024 – 14/03/2025)"),
    (DECREE09, "2025-H1", "half_year", "Kỳ báo cáo 6 tháng đầu năm 2025 (15/12/2024 – 14/06/2025)"),
    (DECREE09, "2025", "year", "Kỳ báo cáo năm 2025 (15/12/2024 – 14/12/2025)"),
    (CAL, "2025-02", "month", "Kỳ báo cáo tháng 02/2025 (01/02/2025 – 28/02/2025)"),
])
def test_words(calendar, label, frequency, words):
    assert calendar.words(calendar.parse(label, frequency)) == words


def test_words_for_reports_name_the_scheme():
    assert DECREE09.describe_vi(Period(2025, 3)) == (
        "Tháng 03/2025 (từ 15/02/2025 đến 14/03/2025, theo Nghị định 09/2019/NĐ-CP)")
    assert CAL.describe_vi(Period(2025, 3)) == "Tháng 03/2025 (từ 01/03/2025 đến 31/03/2025, theo tháng dương lịch)"
    assert DECREE09.describe_vi(RollupPeriod.parse("2025-Q1")) == (
        "Quý I năm 2025 (từ 15/12/2024 đến 14/03/2025, tháng 01–03/2025, theo Nghị định 09/2019/NĐ-CP)")


# ---- working days and deadlines -------------------------------------------------------------------

def test_deadline_is_the_third_working_day_after_the_period():
    deadline = DECREE09.deadline(Period(2025, 3))  # closes Friday 14/03/2025
    assert deadline == Deadline(last_day=date(2025, 3, 19), end=local(2025, 3, 20))
    assert str(deadline) == "19/03/2025"
    assert not DECREE09.deadline_passed(Period(2025, 3), local(2025, 3, 19, 23, 59, 59))
    assert DECREE09.deadline_passed(Period(2025, 3), local(2025, 3, 20))
    # A roll-up's deadline is its last month's.
    assert DECREE09.deadline(RollupPeriod.parse("2025-Q1")) == deadline
    assert ReportingCalendar(deadline_workdays=0).deadline(Period(2025, 3)).last_day == date(2025, 3, 14)


def test_2026_02_deadline_skips_the_tet_days_off():
    """2026-02 closes on Saturday 14/02/2026, right before Tết (days off Mon 16 – Fri 20/02): the three
    working days are Mon 23, Tue 24, Wed 25/02 (on weekdays alone it would have been Wed 18/02)."""
    assert [d for d in (date(2026, 2, 16) + timedelta(days=i) for i in range(5))
            if DECREE09.is_working_day(d)] == []
    deadline = DECREE09.deadline(Period(2026, 2))
    assert deadline.last_day == date(2026, 2, 25)
    assert deadline.end == local(2026, 2, 26)


def test_the_2025_swap_friday_02_05_off_and_saturday_26_04_worked():
    """The government's 2025 swap for 30/4–1/5: Friday 02/05 off, made up on Saturday 26/04."""
    assert not DECREE09.is_working_day(date(2025, 5, 2))
    assert DECREE09.is_working_day(date(2025, 4, 26))
    assert DECREE09.working_day_after(date(2025, 4, 25), 1) == date(2025, 4, 26)
    # Calendar month 2025-04 ends on 30/04 (a holiday): 1/5 and 2/5 are off, so Tue 06 → Wed 07/05.
    assert CAL.deadline(Period(2025, 4)).last_day == date(2025, 5, 7)
    # Hùng Kings on Monday 07/04/2025, National Day 01–02/09/2025.
    assert not DECREE09.is_working_day(date(2025, 4, 7))
    assert CAL.deadline(Period(2025, 8)).last_day == date(2025, 9, 5)


def test_decree09_deadlines_of_2025_fall_on_weekdays_without_holidays():
    """No Decree 09 deadline of 2025 meets a holiday: the demo's statuses stay as they were."""
    lasts = [DECREE09.deadline(Period(2025, m)).last_day for m in range(1, 13)]
    assert lasts == [date(2025, 1, 17), date(2025, 2, 19), date(2025, 3, 19), date(2025, 4, 17),
                     date(2025, 5, 19), date(2025, 6, 18), date(2025, 7, 17), date(2025, 8, 19),
                     date(2025, 9, 17), date(2025, 10, 17), date(2025, 11, 19), date(2025, 12, 17)]


def _office_files(directory: Path, days_off: str = "", make_up: str = "") -> Path:
    """The catalogue in `directory` with these office files (its units and indicators do not matter here)."""
    (directory / "days_off.csv").write_text("date,note\n" + days_off, encoding="utf-8")
    (directory / "make_up_days.csv").write_text("date,note\n" + make_up, encoding="utf-8")
    return directory


def test_office_files_add_days_off_and_make_up_days(small_catalogue):
    directory = _office_files(small_catalogue, days_off="2025-03-17,Nghỉ bù do UBND tỉnh quyết định\n",
                              make_up="2025-03-15,Làm bù thứ Bảy\n")
    calendar = Settings.from_env({"TTHC_CATALOGUE_DIR": str(directory)}).calendar
    assert calendar.days_off == {date(2025, 3, 17)} and calendar.make_up_days == {date(2025, 3, 15)}
    # Sat 15 worked, Mon 17 off: Sat 15, Tue 18, Wed 19 → still 19/03; without the Saturday, 20/03.
    assert calendar.deadline(Period(2025, 3)).last_day == date(2025, 3, 19)
    assert calendar.working_day_after(date(2025, 3, 14), 2) == date(2025, 3, 18)
    only_off = ReportingCalendar(days_off=frozenset({date(2025, 3, 17)}))
    assert only_off.deadline(Period(2025, 3)).last_day == date(2025, 3, 20)
    # The office's word wins over the package's: a make-up day on a public holiday.
    assert ReportingCalendar(make_up_days=frozenset({date(2026, 2, 16)})).is_working_day(date(2026, 2, 16))


def test_the_shipped_office_files_are_readable(tmp_path):
    calendar = Settings.from_env({"TTHC_DATA_DIR": str(tmp_path)}).calendar
    assert calendar.deadline(Period(2025, 3)).last_day == date(2025, 3, 19)
    for name in ("days_off.csv", "make_up_days.csv"):
        assert (DEFAULT_CATALOGUE_DIR / name).read_text(encoding="utf-8").splitlines()[0] == "date,note"


@pytest.mark.parametrize("days_off, make_up, message", [
    ("16/02/2026,Tết\n", "", r"days_off\.csv, dòng 2: ngày '16/02/2026' không hợp lệ"),
    ("", "2025-02-30,x\n", r"make_up_days\.csv, dòng 2: ngày '2025-02-30'"),
    ("2025-03-15,x\n", "2025-03-15,y\n", "15/03/2025 is both in days_off.csv and in make_up_days.csv"),
])
def test_bad_office_files_are_refused_naming_file_and_line(small_catalogue, days_off, make_up, message):
    directory = _office_files(small_catalogue, days_off, make_up)
    with pytest.raises(CalendarError, match=message):
        Settings.from_env({"TTHC_CATALOGUE_DIR": str(directory)})


def test_a_file_without_a_date_column_is_refused(small_catalogue):
    directory = _office_files(small_catalogue)
    (directory / "days_off.csv").write_text("ngay,ghi_chu\n2025-03-17,x\n", encoding="utf-8")
    with pytest.raises(CalendarError, match="'date' column"):
        Settings.from_env({"TTHC_CATALOGUE_DIR": str(directory)})


# ---- the period of an Airflow run ------------------------------------------------------------------

MARCH = (local(2025, 2, 15), local(2025, 3, 15))


def test_scheduled_and_backfill_runs_process_their_interval():
    for run_type in ("scheduled", "backfill"):
        assert DECREE09.period_of_run(logical_date=MARCH[0], data_interval=MARCH, run_type=run_type).label == "2025-03"
    q1 = DECREE09.bounds(RollupPeriod.parse("2025-Q1"))
    assert DECREE09.period_of_run("quarter", logical_date=q1[0], data_interval=q1, run_type="scheduled").label == (
        "2025-Q1")


def test_a_manual_run_with_a_logical_date_processes_the_period_holding_it():
    # `airflow dags trigger --logical-date 2025-03-10`: Airflow infers the interval from the trigger
    # time (here the current period); the user meant March.
    now = local(2026, 11, 29, 10)
    current = DECREE09.bounds(DECREE09.containing(now))
    assert DECREE09.period_of_run(logical_date=local(2025, 3, 10), data_interval=current, run_after=now,
                                  run_type="manual").label == "2025-03"
    assert DECREE09.period_of_run(logical_date=local(2025, 3, 1), run_type="manual").label == "2025-03"


def test_a_period_named_in_the_conf_wins():
    now = local(2026, 11, 29, 10)
    assert DECREE09.period_of_run(requested="2025-03", logical_date=now, data_interval=DECREE09.bounds(
        DECREE09.containing(now)), run_type="manual").label == "2025-03"
    assert DECREE09.period_of_run("half_year", requested="2025-H1", run_type="manual").label == "2025-H1"
    with pytest.raises(PeriodError, match="not a half_year"):
        DECREE09.period_of_run("half_year", requested="2025-Q1")


def test_without_date_or_interval_the_latest_period_ended():
    assert DECREE09.period_of_run(run_after=local(2025, 3, 20), run_type="manual").label == "2025-03"
    assert DECREE09.period_of_run(data_interval=MARCH).label == "2025-03"
    with pytest.raises(PeriodError, match="names no period"):
        DECREE09.period_of_run()


def test_a_timetable_on_another_scheme_is_caught():
    """A scheduled run whose interval was cut under another scheme is refused, not processed as the
    wrong month (dag-processor and worker with different TTHC_PERIOD_SCHEME)."""
    march = CAL.bounds(Period(2025, 3))  # 01/03 → 01/04: under Decree 09, 01/03 falls in 2025-03 too
    with pytest.raises(PeriodError, match="TTHC_PERIOD_SCHEME"):
        DECREE09.period_of_run(logical_date=march[0], data_interval=march, run_type="scheduled")


def test_periods_not_ended_are_refused_in_both_languages():
    assert DECREE09.is_closed(Period(2025, 3), local(2025, 3, 15))
    assert not DECREE09.is_closed(Period(2025, 3), local(2025, 3, 14, 23, 59))
    with pytest.raises(PeriodNotClosed) as refused:
        DECREE09.require_closed(Period(2025, 3), local(2025, 3, 14, 23, 59))
    assert str(refused.value).startswith("Kỳ 2025-03 chưa kết thúc (đến hết ngày 14/03/2025)")
    assert "Period 2025-03 has not ended yet" in str(refused.value)
    DECREE09.require_closed(RollupPeriod.parse("2025-Q1"), local(2025, 3, 15))


def test_the_cli_refuses_a_period_not_ended_and_writes_nothing(tthc_env, capsys):
    from tthc.cli import main

    label = DECREE09.containing(datetime.now(VN)).label
    assert main(["run", "--period", label]) == 2
    assert f"Kỳ {label} chưa kết thúc" in capsys.readouterr().err
    assert not tthc_env.data_dir.exists() or list(tthc_env.data_dir.iterdir()) == []
