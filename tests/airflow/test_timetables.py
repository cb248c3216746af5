"""plugins/tthc_timetables.py: reporting-period timetable (spec "Periods"), its plugin and run ids."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pendulum
import pytest

import airflow  # noqa: F401  - puts the plugins folder (set in conftest) on sys.path
from tests.support import ROOT

from tthc.calendar import DEFAULT_CALENDAR, ReportingCalendar
from tthc.periods import Period, RollupPeriod
from tthc_timetables import ReportingPeriodTimetable, TthcTimetablesPlugin, describe_interval

from airflow.timetables.base import DataInterval, TimeRestriction
from airflow.utils.types import DagRunType

VN = ZoneInfo("Asia/Ho_Chi_Minh")
UTC = ZoneInfo("UTC")


def local(*args) -> datetime:
    return datetime(*args, tzinfo=VN)


def interval(tt, label):
    iv = tt.interval_for_label(label)
    return iv.start, iv.end


# ---- period bounds --------------------------------------------------------------------------

@pytest.mark.parametrize("frequency, label, start, end", [
    ("month", "2025-03", local(2025, 2, 15), local(2025, 3, 15)),
    ("month", "2025-01", local(2024, 12, 15), local(2025, 1, 15)),  # the Dec → Jan year boundary
    ("month", "2025-12", local(2025, 11, 15), local(2025, 12, 15)),
    ("quarter", "2025-Q1", local(2024, 12, 15), local(2025, 3, 15)),
    ("quarter", "2025-Q2", local(2025, 3, 15), local(2025, 6, 15)),
    ("quarter", "2025-Q4", local(2025, 9, 15), local(2025, 12, 15)),
    ("half_year", "2025-H1", local(2024, 12, 15), local(2025, 6, 15)),
    ("half_year", "2025-H2", local(2025, 6, 15), local(2025, 12, 15)),
    ("year", "2025", local(2024, 12, 15), local(2025, 12, 15)),
])
def test_decree09_periods(frequency, label, start, end):
    tt = ReportingPeriodTimetable(frequency, scheme="decree09")
    assert interval(tt, label) == (start, end)
    assert tt.label_for_interval(start, end) == label


@pytest.mark.parametrize("frequency, label, start, end", [
    ("month", "2025-03", local(2025, 3, 1), local(2025, 4, 1)),
    ("month", "2025-12", local(2025, 12, 1), local(2026, 1, 1)),
    ("quarter", "2025-Q1", local(2025, 1, 1), local(2025, 4, 1)),
    ("quarter", "2025-Q4", local(2025, 10, 1), local(2026, 1, 1)),
    ("half_year", "2025-H1", local(2025, 1, 1), local(2025, 7, 1)),
    ("half_year", "2025-H2", local(2025, 7, 1), local(2026, 1, 1)),
    ("year", "2025", local(2025, 1, 1), local(2026, 1, 1)),
])
def test_calendar_periods(frequency, label, start, end):
    tt = ReportingPeriodTimetable(frequency, scheme="calendar")
    assert interval(tt, label) == (start, end)
    assert tt.label_for_interval(start, end) == label


def test_intervals_are_utc_pendulum_datetimes():
    iv = ReportingPeriodTimetable().interval_for_label("2025-03")
    assert isinstance(iv.start, pendulum.DateTime) and iv.start.utcoffset() == timedelta(0)
    assert (iv.start.isoformat(), iv.end.isoformat()) == (
        "2025-02-14T17:00:00+00:00", "2025-03-14T17:00:00+00:00")


@pytest.mark.parametrize("scheme", ["decree09", "calendar"])
def test_monthly_intervals_are_the_reporting_calendars_periods(scheme):
    tt = ReportingPeriodTimetable("month", scheme=scheme)
    calendar = ReportingCalendar(scheme=scheme)
    for p in Period.range(Period(2023, 11), Period(2026, 2)):
        assert interval(tt, p.label) == calendar.bounds(p), p.label
        assert calendar.exact(*interval(tt, p.label)) == p
    assert ReportingPeriodTimetable.for_calendar(calendar, "quarter") == ReportingPeriodTimetable("quarter", scheme)


def test_quarter_is_union_of_its_months():
    months = ReportingPeriodTimetable("month")
    q2 = ReportingPeriodTimetable("quarter").interval_for_label("2025-Q2")
    assert q2.start == months.interval_for_label("2025-04").start
    assert q2.end == months.interval_for_label("2025-06").end


def test_label_for_interval_rejects_non_periods_and_bad_arguments():
    tt = ReportingPeriodTimetable()
    assert tt.label_for_interval(local(2025, 2, 15), local(2025, 3, 16)) is None
    assert tt.label_for_interval(local(2025, 3, 1), local(2025, 4, 1)) is None  # a calendar month
    with pytest.raises(ValueError):
        tt.interval_for_label("2025-13")
    with pytest.raises(ValueError):
        ReportingPeriodTimetable("week")
    with pytest.raises(ValueError):
        ReportingPeriodTimetable("month", scheme="lunar")


# ---- scheduling -----------------------------------------------------------------------------

def _run_sequence(tt, restriction, n):
    infos, last = [], None
    for _ in range(n):
        info = tt.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        if info is None:
            break
        infos.append(info)
        last = info.data_interval
    return infos


def test_catchup_first_six_monthly_runs():
    tt = ReportingPeriodTimetable("month")
    restriction = TimeRestriction(earliest=pendulum.datetime(2024, 12, 15, tz="Asia/Ho_Chi_Minh"),
                                  latest=None, catchup=True)
    infos = _run_sequence(tt, restriction, 6)
    assert [tt.label_for_interval(*i.data_interval) for i in infos] == [
        "2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]
    assert [i.data_interval for i in infos] == [
        DataInterval(*DEFAULT_CALENDAR.bounds(Period.parse(lbl))) for lbl in
        ["2025-01", "2025-02", "2025-03", "2025-04", "2025-05", "2025-06"]]
    # Runs are created once the period is over.
    assert all(i.run_after == i.data_interval.end for i in infos)
    assert infos[0].logical_date == local(2024, 12, 15)


def test_first_run_is_first_whole_period_from_start_date():
    tt = ReportingPeriodTimetable("month")
    # start_date 16/12/2024 is inside 2025-01, so the first whole period is 2025-02.
    restriction = TimeRestriction(earliest=local(2024, 12, 16), latest=None, catchup=True)
    [info] = _run_sequence(tt, restriction, 1)
    assert tt.label_for_interval(*info.data_interval) == "2025-02"
    # A quarter timetable from 15/12/2024 starts with Q1/2025, then Q2.
    q = ReportingPeriodTimetable("quarter")
    infos = _run_sequence(q, TimeRestriction(local(2024, 12, 15), None, True), 2)
    assert [q.label_for_interval(*i.data_interval) for i in infos] == ["2025-Q1", "2025-Q2"]


def test_latest_restriction_stops_scheduling():
    tt = ReportingPeriodTimetable("month")
    restriction = TimeRestriction(earliest=local(2024, 12, 15), latest=local(2025, 2, 15), catchup=True)
    infos = _run_sequence(tt, restriction, 10)
    assert [tt.label_for_interval(*i.data_interval) for i in infos] == ["2025-01", "2025-02", "2025-03"]


def test_no_start_date_no_schedule():
    tt = ReportingPeriodTimetable()
    assert tt.next_dagrun_info(last_automated_data_interval=None,
                               restriction=TimeRestriction(None, None, True)) is None


@pytest.mark.parametrize("now, expected", [
    (local(2025, 7, 20, 10, 0), "2025-07"),        # inside 2025-08: the latest complete period is 2025-07
    (local(2025, 7, 15, 0, 0), "2025-07"),         # on the boundary: 2025-07 has just ended
    (local(2025, 7, 14, 23, 59, 59), "2025-06"),
])
def test_no_catchup_starts_from_latest_period(monkeypatch, now, expected):
    tt = ReportingPeriodTimetable("month")
    monkeypatch.setattr(ReportingPeriodTimetable, "_utcnow",
                        staticmethod(lambda: pendulum.instance(now.astimezone(UTC))))
    restriction = TimeRestriction(earliest=local(2024, 12, 15), latest=None, catchup=False)
    info = tt.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    assert tt.label_for_interval(*info.data_interval) == expected
    assert info.run_after <= now
    # After an old run, catchup=False still jumps to the latest period.
    old = tt.interval_for_label("2025-02")
    info = tt.next_dagrun_info(last_automated_data_interval=old, restriction=restriction)
    assert tt.label_for_interval(*info.data_interval) == expected


def test_no_catchup_respects_a_future_start_date(monkeypatch):
    tt = ReportingPeriodTimetable("month")
    monkeypatch.setattr(ReportingPeriodTimetable, "_utcnow", staticmethod(lambda: local(2025, 7, 20)))
    info = tt.next_dagrun_info(last_automated_data_interval=None,
                               restriction=TimeRestriction(local(2025, 9, 1), None, False))
    assert tt.label_for_interval(*info.data_interval) == "2025-10"


def test_next_run_after_a_misaligned_interval_moves_forward():
    """After a schedule change (e.g. calendar → Decree 09) the next run never repeats a period."""
    tt = ReportingPeriodTimetable("month", scheme="decree09")
    calendar_march = ReportingPeriodTimetable("month", scheme="calendar").interval_for_label("2025-03")
    info = tt.next_dagrun_info(last_automated_data_interval=calendar_march,
                               restriction=TimeRestriction(local(2024, 12, 15), None, True))
    assert tt.label_for_interval(*info.data_interval) == "2025-05"  # first 15th at/after 01/04


# Airflow 3.3 hands infer_manual_data_interval the logical date a user picks in the UI (or gives
# dag.test()): the interval is the period holding it, the period the run processes (a logical date
# of 10/03/2025 is 2025-03, not 2025-02 as when the interval was the last period ended before it).
@pytest.mark.parametrize("run_after, expected", [
    (local(2025, 3, 15, 0, 0, 0), "2025-04"),
    (local(2025, 3, 14, 23, 59, 59), "2025-03"),
    (local(2025, 3, 10), "2025-03"),
    (local(2025, 1, 10), "2025-01"),
    (local(2024, 12, 15), "2025-01"),
])
def test_manual_inference_is_the_period_holding_the_date(run_after, expected):
    tt = ReportingPeriodTimetable("month")
    iv = tt.infer_manual_data_interval(run_after=pendulum.instance(run_after.astimezone(UTC)))
    assert tt.label_for_interval(*iv) == expected
    assert (iv.start, iv.end) == DEFAULT_CALENDAR.bounds(Period.parse(expected))


def test_manual_inference_for_quarters_and_calendar():
    q = ReportingPeriodTimetable("quarter")
    assert q.label_for_interval(*q.infer_manual_data_interval(run_after=local(2025, 3, 15))) == "2025-Q2"
    assert q.label_for_interval(*q.infer_manual_data_interval(run_after=local(2025, 3, 14))) == "2025-Q1"
    c = ReportingPeriodTimetable("month", scheme="calendar")
    assert c.label_for_interval(*c.infer_manual_data_interval(run_after=local(2025, 4, 1))) == "2025-04"
    assert c.label_for_interval(*c.infer_manual_data_interval(run_after=local(2025, 3, 31, 23))) == "2025-03"


# ---- words for the UI -------------------------------------------------------------------------

def test_summary_and_description_in_vietnamese():
    tt = ReportingPeriodTimetable()
    assert tt.summary == "Kỳ báo cáo tháng (NĐ 09: 15 → 14)"
    assert ReportingPeriodTimetable("quarter", scheme="calendar").summary == "Kỳ báo cáo quý (dương lịch)"
    assert ReportingPeriodTimetable("half_year").summary == "Kỳ báo cáo 6 tháng (NĐ 09: 15 → 14)"
    assert ReportingPeriodTimetable("year").summary == "Kỳ báo cáo năm (NĐ 09: 15 → 14)"
    assert "Nghị định 09/2019/NĐ-CP" in tt.description
    assert "Kỳ báo cáo tháng 03/2025 (15/02/2025 – 14/03/2025)" in tt.description
    assert "quý I/2025 (15/12/2024 – 14/03/2025)" in ReportingPeriodTimetable("quarter").description
    assert len(tt.description) < 1000  # DagModel.timetable_description is String(1000)
    assert tt.periodic and tt.can_be_scheduled


@pytest.mark.parametrize("frequency, scheme, label, words", [
    ("month", "decree09", "2025-03", "Kỳ báo cáo tháng 03/2025 (15/02/2025 – 14/03/2025)"),
    ("month", "decree09", "2025-01", "Kỳ báo cáo tháng 01/2025 (15/12/2024 – 14/01/2025)"),
    ("quarter", "decree09", "2025-Q1", "Kỳ báo cáo quý I/2025 (15/12/2024 – 14/03/2025)"),
    ("half_year", "decree09", "2025-H2", "Kỳ báo cáo 6 tháng cuối năm 2025 (15/06/2025 – 14/12/2025)"),
    ("year", "decree09", "2025", "Kỳ báo cáo năm 2025 (15/12/2024 – 14/12/2025)"),
    ("month", "calendar", "2025-02", "Kỳ báo cáo tháng 02/2025 (01/02/2025 – 28/02/2025)"),
    ("half_year", "calendar", "2025-H1", "Kỳ báo cáo 6 tháng đầu năm 2025 (01/01/2025 – 30/06/2025)"),
])
def test_describe_interval(frequency, scheme, label, words):
    iv = ReportingPeriodTimetable(frequency, scheme=scheme).interval_for_label(label)
    assert describe_interval(iv.start, iv.end) == words


def test_describe_interval_of_a_non_period():
    assert describe_interval(local(2025, 3, 2, 8, 0), local(2025, 3, 9, 8, 0)) == (
        "Khoảng dữ liệu 02/03/2025 08:00 – 09/03/2025 08:00 (Asia/Ho_Chi_Minh)")


# ---- run ids --------------------------------------------------------------------------------

def test_generate_run_id_names_the_period():
    tt = ReportingPeriodTimetable()
    iv = tt.interval_for_label("2025-03")
    assert tt.generate_run_id(run_type=DagRunType.SCHEDULED, run_after=iv.end, data_interval=iv,
                              partition_key=None) == "scheduled__2025-03__2025-03-14T17:00:00+00:00"
    now = pendulum.datetime(2025, 3, 20, 2, 30, tz="UTC")
    assert tt.generate_run_id(run_type=DagRunType.MANUAL, run_after=now, data_interval=iv) == (
        "manual__2025-03__2025-03-20T02:30:00+00:00")
    q = ReportingPeriodTimetable("quarter")
    qiv = q.interval_for_label("2025-Q1")
    assert q.generate_run_id(run_type=DagRunType.BACKFILL_JOB, run_after=qiv.end, data_interval=qiv) == (
        "backfill__2025-Q1__2025-03-14T17:00:00+00:00")
    # No interval, one that is not a period, or a period not ended when the run was made (`airflow
    # dags trigger` infers it from the trigger time; the run processes its logical date's period or
    # is refused): Airflow's default id.
    assert tt.generate_run_id(run_type=DagRunType.MANUAL, run_after=now, data_interval=None) == (
        "manual__2025-03-20T02:30:00+00:00")
    odd = DataInterval(now, now.add(days=1))
    assert tt.generate_run_id(run_type=DagRunType.MANUAL, run_after=now, data_interval=odd) == (
        "manual__2025-03-20T02:30:00+00:00")
    current = tt.infer_manual_data_interval(run_after=now)  # 2025-04, ending 15/04
    assert tt.generate_run_id(run_type=DagRunType.MANUAL, run_after=now, data_interval=current) == (
        "manual__2025-03-20T02:30:00+00:00")


def test_run_ids_pass_airflow_validation():
    import re

    from airflow.configuration import conf

    pattern = conf.get("scheduler", "allowed_run_id_pattern")
    tt = ReportingPeriodTimetable("half_year")
    iv = tt.interval_for_label("2025-H1")
    run_id = tt.generate_run_id(run_type=DagRunType.SCHEDULED, run_after=iv.end, data_interval=iv)
    assert run_id == "scheduled__2025-H1__2025-06-14T17:00:00+00:00"
    assert re.match(pattern, run_id) and ".." not in run_id
    assert DagRunType.from_run_id(run_id) == DagRunType.SCHEDULED


# ---- plugin and serialization -----------------------------------------------------------------

def test_plugin_is_discovered_from_the_plugins_folder():
    from airflow import plugins_manager, settings

    assert settings.PLUGINS_FOLDER == str(ROOT / "plugins")
    plugins, import_errors = plugins_manager._get_plugins()
    assert not any("tthc_timetables" in str(k) for k in import_errors), import_errors
    ours = [p for p in plugins if p.name == "tthc_timetables"]
    assert len(ours) == 1 and ours[0].timetables[0].__name__ == "ReportingPeriodTimetable"
    registered = plugins_manager.get_timetables_plugins()
    assert "tthc_timetables.ReportingPeriodTimetable" in registered
    assert TthcTimetablesPlugin.name == "tthc_timetables"
    # The plugins manager re-imports the file: the registered class is another object with the
    # same qualified name (what serialization keys on); instances still compare equal.
    cls = registered["tthc_timetables.ReportingPeriodTimetable"]
    assert cls("quarter") == ReportingPeriodTimetable("quarter")
    assert cls("quarter") != ReportingPeriodTimetable("quarter", scheme="calendar")


@pytest.mark.parametrize("frequency, scheme", [("month", "decree09"), ("quarter", "calendar"),
                                               ("year", "decree09")])
def test_serialize_round_trip(frequency, scheme):
    tt = ReportingPeriodTimetable(frequency, scheme=scheme)
    data = tt.serialize()
    assert data == {"frequency": frequency, "scheme": scheme, "timezone": "Asia/Ho_Chi_Minh"}
    back = ReportingPeriodTimetable.deserialize(data)
    assert back == tt and back.summary == tt.summary and back.description == tt.description


def _probe_dag(dag_id: str, frequency: str = "month") -> str:
    return textwrap.dedent(f"""
        import pendulum
        from airflow.providers.standard.operators.empty import EmptyOperator
        from airflow.sdk import DAG
        from tthc_timetables import ReportingPeriodTimetable

        with DAG(
            dag_id={dag_id!r},
            schedule=ReportingPeriodTimetable({frequency!r}, scheme="decree09"),
            start_date=pendulum.datetime(2024, 12, 15, tz="Asia/Ho_Chi_Minh"),
            catchup=True,
            tags=["tthc"],
        ):
            EmptyOperator(task_id="noop")
    """)


def test_dag_serialization_keeps_the_timetable(airflow_db, tmp_path):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    (tmp_path / "probe.py").write_text(_probe_dag("tt_probe_quarter", "quarter"))
    bag = DagBag(dag_folder=str(tmp_path))
    assert bag.import_errors == {}
    dag = bag.get_dag("tt_probe_quarter")
    data = DagSerialization.to_dict(dag)
    assert data["dag"]["timetable"] == {
        "__type": "tthc_timetables.ReportingPeriodTimetable",
        "__var": {"frequency": "quarter", "scheme": "decree09", "timezone": "Asia/Ho_Chi_Minh"},
    }
    ser = DagSerialization.from_dict(data)
    assert type(ser.timetable).__name__ == "ReportingPeriodTimetable"
    assert ser.timetable.serialize() == {"frequency": "quarter", "scheme": "decree09",
                                         "timezone": "Asia/Ho_Chi_Minh"}
    assert ser.timetable.summary == "Kỳ báo cáo quý (NĐ 09: 15 → 14)"
    # The backfill path (iter_dagrun_infos_between) on the serialized DAG yields the periods.
    infos = list(ser.iter_dagrun_infos_between(local(2024, 12, 15), local(2025, 9, 15)))
    assert [ser.timetable.label_for_interval(*i.data_interval) for i in infos] == [
        "2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]


# ---- end to end through Airflow's metadata DB --------------------------------------------------

@pytest.fixture
def probe_dag_in_db(airflow_db, tmp_path):
    """A throwaway DAG using the timetable, parsed and written to the metadata DB."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag, sync_bag_to_db

    dag_id = f"tt_probe_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{dag_id}.py").write_text(_probe_dag(dag_id))
    DagBundlesManager().sync_bundles_to_db()
    bag = BundleDagBag(dag_folder=str(tmp_path), bundle_path=tmp_path, bundle_name="dags-folder")
    assert bag.import_errors == {}
    sync_bag_to_db(bag, "dags-folder", None)
    return dag_id


@pytest.mark.airflow
def test_metadata_db_scheduler_and_manual_runs_carry_the_period(probe_dag_in_db):
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.models.dag import DagModel
    from airflow.models.dagbag import DBDagBag
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunTriggeredByType

    dag_id = probe_dag_in_db
    with create_session() as session:
        dm = session.get(DagModel, dag_id)
        # What the UI shows for the schedule.
        assert dm.timetable_summary == "Kỳ báo cáo tháng (NĐ 09: 15 → 14)"
        assert "Kỳ báo cáo tháng 03/2025 (15/02/2025 – 14/03/2025)" in dm.timetable_description
        assert dm.timetable_type == "tthc_timetables.ReportingPeriodTimetable"
        # The scheduler's first run: 2025-01, created after 15/01/2025 00:00 local.
        assert pendulum.instance(dm.next_dagrun_data_interval_start) == local(2024, 12, 15)
        assert pendulum.instance(dm.next_dagrun_data_interval_end) == local(2025, 1, 15)
        assert pendulum.instance(dm.next_dagrun_create_after) == local(2025, 1, 15)

        # The scheduler's own code path (SchedulerJobRunner._create_dag_runs) for that run.
        serdag = DBDagBag().get_latest_version_of_dag(dag_id, session=session)
        info = serdag.timetable.next_run_info_from_dag_model(dag_model=dm)
        run_id = serdag.timetable.generate_run_id(run_type=DagRunType.SCHEDULED, run_after=info.run_after,
                                                  data_interval=info.data_interval,
                                                  partition_key=info.partition_key)
        assert run_id == "scheduled__2025-01__2025-01-14T17:00:00+00:00"
        dr = serdag.create_dagrun(run_id=run_id, logical_date=info.logical_date,
                                  data_interval=info.data_interval, run_after=info.run_after,
                                  run_type=DagRunType.SCHEDULED,
                                  triggered_by=DagRunTriggeredByType.TIMETABLE,
                                  state=DagRunState.QUEUED, session=session)
        assert dr.run_id == run_id
        assert (dr.data_interval_start, dr.data_interval_end) == DEFAULT_CALENDAR.bounds(Period.parse("2025-01"))

    # `airflow dags trigger --logical-date` (airflow.api.common.trigger_dag): Airflow infers the
    # interval from the trigger time, here inside 2025-04, not ended yet: the run id names no period.
    # The run processes the period of its logical date (tthc.calendar: period_of_run), 2025-03.
    dr = trigger_dag(dag_id, triggered_by=DagRunTriggeredByType.TEST,
                     logical_date=pendulum.datetime(2025, 3, 10, 9, 0, tz="Asia/Ho_Chi_Minh"),
                     run_after=pendulum.datetime(2025, 3, 20, 2, 0, tz="UTC"))
    assert dr.run_id == "manual__2025-03-20T02:00:00+00:00"
    assert (dr.data_interval_start, dr.data_interval_end) == DEFAULT_CALENDAR.bounds(Period.parse("2025-04"))
    assert DEFAULT_CALENDAR.period_of_run(logical_date=dr.logical_date, run_type="manual",
                                          data_interval=(dr.data_interval_start, dr.data_interval_end)).label == (
        "2025-03")

    # The UI and the REST API (POST /dags/{id}/dagRuns) infer the interval from the logical date:
    # interval, run id and work are the period holding it.
    from airflow.api_fastapi.core_api.datamodels.dag_run import TriggerDAGRunPostBody

    with create_session() as session:
        serdag = DBDagBag().get_latest_version_of_dag(dag_id, session=session)
    run = TriggerDAGRunPostBody(logical_date=pendulum.datetime(2025, 3, 10, 9, 0, tz="Asia/Ho_Chi_Minh"),
                                run_after=pendulum.datetime(2026, 11, 29, 3, 0, tz="UTC")).validate_context(serdag)
    assert run["run_id"] == "manual__2025-03__2026-11-29T03:00:00+00:00"
    assert tuple(run["data_interval"]) == DEFAULT_CALENDAR.bounds(Period.parse("2025-03"))


@pytest.mark.airflow
def test_backfill_runs_cover_periods_but_airflow_names_them(probe_dag_in_db):
    """Airflow 3.3's non-partitioned backfill ignores Timetable.generate_run_id (documents it)."""
    from airflow.models.backfill import BackfillDagRun, _create_backfill
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    backfill = _create_backfill(dag_id=probe_dag_in_db, from_date=local(2025, 1, 1),
                                to_date=local(2025, 3, 1), max_active_runs=1, reverse=False,
                                dag_run_conf=None, triggering_user_name="test")
    with create_session() as session:
        runs = session.scalars(select(DagRun).join(BackfillDagRun, BackfillDagRun.dag_run_id == DagRun.id)
                               .where(BackfillDagRun.backfill_id == backfill.id)
                               .order_by(DagRun.data_interval_start)).all()
        assert [(r.data_interval_start, r.data_interval_end) for r in runs] == [
            DEFAULT_CALENDAR.bounds(Period.parse(p)) for p in ("2025-02", "2025-03")]
        assert [r.run_id for r in runs] == ["backfill__2025-02-14T17:00:00+00:00",
                                            "backfill__2025-03-14T17:00:00+00:00"]


# ---- what the plugin and the tasks ask the calendar (its own tests: tests/unit/test_calendar.py) ----


def test_holidays_load_only_when_a_deadline_is_asked():
    """The timetable plugin (imported by every Airflow component) must not pay for the holiday data."""
    code = ("import sys; sys.path[:0] = [%r, %r]\n"
            "import tthc_timetables\n"
            "t = tthc_timetables.ReportingPeriodTimetable('quarter')\n"
            "t.interval_for_label('2025-Q1'); t.description\n"
            "print('BEFORE=' + str('holidays' in sys.modules))\n"
            "from tthc.calendar import DEFAULT_CALENDAR\n"
            "from tthc.periods import Period\n"
            "DEFAULT_CALENDAR.deadline(Period(2026, 2))\n"
            "print('AFTER=' + str('holidays' in sys.modules))\n") % (str(ROOT / "plugins"), str(ROOT / "include"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert [line for line in out.stdout.splitlines() if line.startswith(("BEFORE=", "AFTER="))] == [
        "BEFORE=False", "AFTER=True"]


def test_tasks_ask_the_calendar_for_their_runs_period():
    """tthc_airflow.period_of_run / run_period read the run as the task SDK gives it: the DAG's
    timetable frequency, the SDK's run type enum, conf and params."""
    from types import SimpleNamespace

    from airflow.sdk.api.datamodels._generated import DagRunType
    from airflow.sdk.exceptions import AirflowFailException
    from tthc_airflow import period_of_run, run_period

    march = (local(2025, 2, 15), local(2025, 3, 15))

    def context(frequency="month", run_type=DagRunType.MANUAL, conf=None, logical_date=None, interval=None):
        return {"dag": SimpleNamespace(timetable=ReportingPeriodTimetable(frequency)),
                "dag_run": SimpleNamespace(conf=conf or {}, run_type=run_type, run_after=local(2026, 11, 29)),
                "params": {"period": None}, "logical_date": logical_date,
                "data_interval_start": interval[0] if interval else None,
                "data_interval_end": interval[1] if interval else None}

    assert run_period(context(run_type=DagRunType.SCHEDULED, logical_date=march[0], interval=march)).label == "2025-03"
    assert run_period(context(run_type=DagRunType.BACKFILL, logical_date=march[0], interval=march)).label == "2025-03"
    assert run_period(context(logical_date=local(2025, 3, 10))).label == "2025-03"
    assert run_period(context(conf={"period": "2025-01"}, logical_date=local(2026, 11, 29))).label == "2025-01"
    q1 = DEFAULT_CALENDAR.bounds(RollupPeriod.parse("2025-Q1"))
    assert run_period(context("quarter", DagRunType.SCHEDULED, logical_date=q1[0], interval=q1)).label == "2025-Q1"
    # A calendar-month interval under a Decree 09 worker: refused, not processed as another month.
    with pytest.raises(AirflowFailException, match="TTHC_PERIOD_SCHEME"):
        run_period(context(run_type=DagRunType.SCHEDULED, logical_date=local(2025, 3, 1),
                           interval=ReportingCalendar(scheme="calendar").bounds(Period(2025, 3))))
    # Today's period has not ended: the task fails without retries and says why.
    today = datetime.now(VN)
    with pytest.raises(AirflowFailException, match="chưa kết thúc"):
        run_period(context(logical_date=today))
    assert period_of_run(context(logical_date=today)) == DEFAULT_CALENDAR.containing(today)  # for the alert's words
