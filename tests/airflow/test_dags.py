"""DAG files import cleanly, follow the house rules, and parse without heavy imports."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support import ROOT
from tthc.settings import Settings

pytestmark = pytest.mark.airflow
EXPECTED = {"tthc_monthly_shared_drive", "tthc_monthly_report", "tthc_watch_shared_drive",
            "tthc_quarterly_report", "tthc_half_year_report", "tthc_annual_report"}


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert EXPECTED <= set(dagbag.dag_ids)


def test_every_dag_has_docs_tags_owner_and_retries(dagbag):
    for dag_id in dagbag.dag_ids:
        dag = dagbag.get_dag(dag_id)
        assert dag.doc_md and len(dag.doc_md) > 100, dag_id
        assert "tthc" in dag.tags, dag_id
        for t in dag.tasks:
            assert t.owner == "tthc-ops", (dag_id, t.task_id)
            assert t.retries >= 1, (dag_id, t.task_id)
            assert t.execution_timeout and t.execution_timeout.total_seconds() <= 4 * 3600, (dag_id, t.task_id)


def test_monthly_dag_is_a_chain_of_named_steps(dagbag):
    dag = dagbag.get_dag("tthc_monthly_shared_drive")
    order = ["wait_for_submissions", "ingest_shared_drive", "validate_submissions", "load_warehouse",
             "compute_portal_indicators", "reconcile_sources", "aggregate_marts"]
    for upstream, downstream in zip(order, order[1:]):
        assert downstream in dag.get_task(upstream).downstream_task_ids
    assert [o.name for o in dag.get_task("aggregate_marts").outlets] == ["tthc_marts"]
    # The mapped fetches only fetch; one task checks the period's batches together and loads them.
    assert dag.get_task("portal_units").downstream_task_ids == {"fetch_portal_unit", "load_portal_batches"}
    assert dag.get_task("fetch_portal_unit").downstream_task_ids == {"load_portal_batches"}
    assert "compute_portal_indicators" in dag.get_task("load_portal_batches").downstream_task_ids
    assert dag.get_task("fetch_portal_unit").pool == "tthc_portal"
    assert dag.get_task("load_portal_batches").pool != "tthc_portal"  # no portal slot held while loading
    # A fetch gives up at its own deadline, before Airflow kills it.
    fetch_timeout = dag.get_task("fetch_portal_unit").execution_timeout.total_seconds()
    assert fetch_timeout > Settings.from_env().portal_fetch_deadline
    assert dag.get_task("load_portal_batches").trigger_rule == "all_done"
    assert dag.get_task("compute_portal_indicators").trigger_rule == "all_done"
    assert dag.get_task("load_warehouse").on_failure_callback  # alerts wired through default_args
    assert dag.catchup is True


def test_monthly_runs_cover_decree09_periods(dagbag):
    """The timetable's intervals are the periods: 2025-03 = 15/02 00:00 → 15/03 00:00 local."""
    from tthc.calendar import DEFAULT_CALENDAR
    from tthc.periods import Period

    from airflow.serialization.serialized_objects import DagSerialization

    # The scheduler works on the serialized DAG, whose timetable is the core implementation.
    dag = DagSerialization.from_dict(DagSerialization.to_dict(dagbag.get_dag("tthc_monthly_shared_drive")))
    info = dag.timetable.next_dagrun_info(last_automated_data_interval=None,
                                          restriction=_restriction(dag))
    start, end = DEFAULT_CALENDAR.bounds(Period.parse("2025-01"))
    assert info.data_interval.start == start and info.data_interval.end == end


def _restriction(dag):
    from airflow.timetables.base import TimeRestriction

    return TimeRestriction(earliest=dag.start_date, latest=None, catchup=True)


def test_dag_files_do_not_import_heavy_libraries_when_parsed():
    """Parsing a DAG file must not pull pandas, Great Expectations, openpyxl, docxtpl or matplotlib."""
    code = (
        "import glob, runpy, sys\n"
        "for f in sorted(glob.glob(%r)): runpy.run_path(f)\n"
        "heavy = [m for m in ('pandas', 'great_expectations', 'openpyxl', 'docxtpl', 'matplotlib') if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    ) % str(ROOT / "dags" / "*.py")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # Airflow may print deprecation warnings on stdout too; only the marked line is ours.
    assert [line for line in out.stdout.splitlines() if line.startswith("HEAVY=")] == ["HEAVY="]


def test_deadline_alert_is_set_from_the_environment_and_serializes(airflow_db):
    """Production sets TTHC_RUN_DEADLINE_DAYS: the DAG then carries a Deadline Alert the scheduler can store."""
    code = (
        "from airflow.dag_processing.dagbag import DagBag\n"
        "from airflow.serialization.serialized_objects import DagSerialization\n"
        "dag = DagBag(dag_folder=%r).dags['tthc_monthly_shared_drive']\n"
        "DagSerialization.to_dict(dag)\n"
        "(alert,) = dag.deadline\n"
        "print('INTERVAL=%%s' %% alert.interval.total_seconds())\n"
        "print('CALLBACK=%%s' %% alert.callback.path)\n"
    ) % str(ROOT / "dags")
    env = {**os.environ, "TTHC_RUN_DEADLINE_DAYS": "6"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [line for line in out.stdout.splitlines() if line.startswith(("INTERVAL=", "CALLBACK="))]
    assert lines == ["INTERVAL=518400.0", "CALLBACK=tthc_airflow.deadline_callbacks.deadline_alert_callback"]


@pytest.mark.parametrize("dag_id, frequency, label", [
    ("tthc_quarterly_report", "quarter", "2025-Q1"), ("tthc_half_year_report", "half_year", "2025-H1"),
    ("tthc_annual_report", "year", "2025")])
def test_rollup_dags_wait_for_the_months_then_aggregate_and_report(dagbag, dag_id, frequency, label):
    """Roll-up DAGs: the Decree 09 roll-up periods as data intervals, a reschedule-mode sensor on the
    monthly marts, then aggregate → report."""
    from airflow.serialization.serialized_objects import DagSerialization

    dag = dagbag.get_dag(dag_id)
    order = ["wait_for_months", "aggregate_rollup", "write_rollup_report"]
    for upstream, downstream in zip(order, order[1:]):
        assert downstream in dag.get_task(upstream).downstream_task_ids
    assert dag.get_task("wait_for_months").mode == "reschedule"
    assert dag.timetable.frequency == frequency
    serialized = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    info = serialized.timetable.next_dagrun_info(last_automated_data_interval=None,
                                                 restriction=_restriction(serialized))
    assert dag.timetable.label_for_interval(info.data_interval.start, info.data_interval.end) == label
    # Decree 09: every roll-up of 2025 starts on 15/12/2024.
    assert info.data_interval.start.isoformat() == "2024-12-14T17:00:00+00:00"



def test_the_scheduler_runs_periods_from_tthc_schedule_from(airflow_db):
    """TTHC_SCHEDULE_FROM moves where every scheduled DAG starts (and so where unpausing catches up
    from): the first run of each is its first period from that month; a backfill still reaches before it."""
    code = (
        "from airflow.dag_processing.dagbag import DagBag\n"
        "from airflow.timetables.base import TimeRestriction\n"
        "bag = DagBag(dag_folder=%r)\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "for dag_id in ('tthc_monthly_shared_drive', 'tthc_quarterly_report', 'tthc_annual_report'):\n"
        "    dag = bag.dags[dag_id]\n"
        "    info = dag.timetable.next_dagrun_info(last_automated_data_interval=None,\n"
        "                                          restriction=TimeRestriction(dag.start_date, None, True))\n"
        "    print('FIRST=%%s %%s' %% (dag_id, dag.timetable.label_for_interval(*info.data_interval)))\n"
        "from airflow.serialization.serialized_objects import DagSerialization\n"
        "dag = DagSerialization.from_dict(DagSerialization.to_dict(bag.dags['tthc_monthly_shared_drive']))\n"
        "early = [dag.timetable.label_for_interval(*i.data_interval) for i in dag.iter_dagrun_infos_between(\n"
        "    dag.start_date.subtract(months=2), dag.start_date.subtract(days=1))]\n"
        "print('BACKFILL=' + ','.join(early))\n"
    ) % str(ROOT / "dags")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "TTHC_SCHEDULE_FROM": "2026-02"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert [line for line in out.stdout.splitlines() if line.startswith(("FIRST=", "BACKFILL="))] == [
        "FIRST=tthc_monthly_shared_drive 2026-02",
        "FIRST=tthc_quarterly_report 2026-Q2",  # the first whole quarter from 15/01/2026
        "FIRST=tthc_annual_report 2027",
        "BACKFILL=2025-12,2026-01",
    ]
    bad = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "TTHC_SCHEDULE_FROM": "2026-2"})
    assert bad.returncode != 0 and "TTHC_SCHEDULE_FROM=" in bad.stderr and "expected a month, YYYY-MM" in bad.stderr

def test_the_scheme_is_one_deployment_setting_for_timetables_and_tasks(airflow_db):
    """TTHC_PERIOD_SCHEME, read from the environment, cuts every DAG's periods and is what the tasks'
    calendar uses; no Airflow variable can make the tasks read another scheme than the timetable's."""
    code = (
        "from airflow.dag_processing.dagbag import DagBag\n"
        "import tthc_airflow\n"
        "bag = DagBag(dag_folder=%r)\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "for dag_id in ('tthc_monthly_shared_drive', 'tthc_quarterly_report', 'tthc_annual_report'):\n"
        "    dag = bag.dags[dag_id]\n"
        "    print('DAG=%%s %%s %%s' %% (dag_id, dag.timetable.scheme, dag.start_date.isoformat()))\n"
        "print('TASKS=' + tthc_airflow.task_settings().calendar.scheme)\n"
        "print('VARIABLES=' + ','.join(sorted(tthc_airflow.VARIABLES)))\n"
    ) % str(ROOT / "dags")
    env = {**os.environ, "TTHC_PERIOD_SCHEME": "calendar", "AIRFLOW_VAR_TTHC_PERIOD_SCHEME": "decree09"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [line for line in out.stdout.splitlines() if line.startswith(("DAG=", "TASKS=", "VARIABLES="))]
    assert lines == [
        "DAG=tthc_monthly_shared_drive calendar 2024-12-31T17:00:00+00:00",
        "DAG=tthc_quarterly_report calendar 2024-12-31T17:00:00+00:00",
        "DAG=tthc_annual_report calendar 2024-12-31T17:00:00+00:00",
        "TASKS=calendar",
        "VARIABLES=tthc_archive_dir,tthc_reports_dir,tthc_shared_drive",
    ]
