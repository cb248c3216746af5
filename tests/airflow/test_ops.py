"""The ops team's tools without a scheduler: backfill windows by period, run notes, the CLI on a
missing warehouse and on roll-up periods, quiet GX logs, the DAG docs, `make airflow-stop` safety.

The same tools against a real scheduler: tests/airflow/test_ops_scheduler.py.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from tests.support import ROOT
from tthc.backfill import BackfillError, dag_for, period_window
from tthc.calendar import ReportingCalendar
from tthc.periods import LOCAL_TZ

CLI = [sys.executable, "-m", "tthc.cli"]
NOW = datetime(2026, 11, 29, tzinfo=timezone.utc)
DECREE09, CALENDAR_MONTHS = ReportingCalendar("decree09"), ReportingCalendar("calendar")


def _local(*args) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


# --- backfill windows ----------------------------------------------------------------------------


def test_months_become_the_local_starts_of_each_period():
    window = period_window("2025-01", "2025-03", DECREE09, now=NOW)
    assert window.frequency == "month" and window.labels == ["2025-01", "2025-02", "2025-03"]
    assert window.starts == [_local(2024, 12, 15), _local(2025, 1, 15), _local(2025, 2, 15)]
    # What the API receives: local midnight with its offset, never a bare UTC date.
    assert window.from_date.isoformat() == "2024-12-15T00:00:00+07:00"
    assert window.to_date.isoformat() == "2025-02-15T00:00:00+07:00"


def test_calendar_scheme_and_rollup_periods():
    assert period_window("2025-03", "2025-03", CALENDAR_MONTHS, now=NOW).starts == [_local(2025, 3, 1)]
    quarters = period_window("2024-Q4", "2025-Q2", DECREE09, now=NOW)
    assert quarters.frequency == "quarter" and quarters.labels == ["2024-Q4", "2025-Q1", "2025-Q2"]
    assert quarters.starts == [_local(2024, 9, 15), _local(2024, 12, 15), _local(2025, 3, 15)]
    halves = period_window("2025-H1", "2025-H2", DECREE09, now=NOW)
    assert halves.starts == [_local(2024, 12, 15), _local(2025, 6, 15)]
    assert period_window("2025", "2025", DECREE09, now=NOW).starts == [_local(2024, 12, 15)]


@pytest.mark.parametrize("first, last, message", [
    ("2025-03", "2025-01", "after"),
    ("2025-Q1", "2025-03", "not the same kind"),
    ("2025-13", "2025-13", "YYYY-MM, YYYY-Q1..Q4"),
    ("2026-11", "2026-12", "2026-12 has not ended yet"),
])
def test_bad_windows_are_refused_with_the_reason(first, last, message):
    with pytest.raises(BackfillError, match=message):
        period_window(first, last, DECREE09, now=NOW)


def test_dag_by_kind_of_period_and_by_name():
    assert dag_for("month", None) == "tthc_monthly_shared_drive"
    assert dag_for("quarter", None) == "tthc_quarterly_report"
    assert dag_for("year", "annual") == "tthc_annual_report"
    assert dag_for("month", "my_other_dag") == "my_other_dag"
    with pytest.raises(BackfillError, match="runs year periods"):
        dag_for("month", "annual")


# --- run notes -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_notes():
    sys.path.insert(0, str(ROOT / "plugins"))
    import tthc_run_notes
    from tthc_timetables import ReportingPeriodTimetable

    return tthc_run_notes, ReportingPeriodTimetable


def _run(timetable=None, conf=None, interval=(None, None), events=(), run_type="backfill", logical_date=None):
    """A DagRun as the scheduler hands it to the listener (the fields the note reads)."""
    return SimpleNamespace(dag=SimpleNamespace(timetable=timetable), conf=conf or {}, run_type=run_type,
                           data_interval_start=interval[0], data_interval_end=interval[1],
                           logical_date=logical_date or interval[0], run_after=interval[1],
                           consumed_asset_events=[SimpleNamespace(extra=e) for e in events])


def test_run_note_names_the_period_of_the_data_interval_or_the_conf(run_notes):
    module, timetable_cls = run_notes
    month = timetable_cls("month")
    interval = month.interval_for_label("2025-03")
    assert module.run_note(_run(month, interval=interval)) == "Kỳ báo cáo tháng 03/2025 (15/02/2025 – 14/03/2025)"
    assert module.run_note(_run(month, conf={"period": "2025-07"}, interval=interval)) == \
        "Kỳ báo cáo tháng 07/2025 (15/06/2025 – 14/07/2025)"
    # A manual run with a logical date inside 2025-05, whatever interval Airflow inferred.
    assert module.run_note(_run(month, interval=interval, run_type="manual",
                                logical_date=_local(2025, 5, 10, 9))) == \
        "Kỳ báo cáo tháng 05/2025 (15/04/2025 – 14/05/2025)"
    quarter = timetable_cls("quarter")
    assert module.run_note(_run(quarter, interval=quarter.interval_for_label("2025-Q1"))) == \
        "Kỳ báo cáo quý I/2025 (15/12/2024 – 14/03/2025)"


def test_report_run_note_lists_the_periods_of_its_asset_events(run_notes):
    module, _ = run_notes
    note = module.run_note(_run(events=[{"period": "2025-02"}, {"period": "2025-01"}, {"period": "2025-02"}, {}]))
    assert note == ("Kỳ báo cáo tháng 01/2025 (15/12/2024 – 14/01/2025); "
                    "Kỳ báo cáo tháng 02/2025 (15/01/2025 – 14/02/2025)")
    correction = {"period": "2025-03", "refreshed_later_periods": ["2025-04"], "refreshed_rollups": ["2025-Q1"]}
    assert module.run_note(_run(events=[correction])) == (
        "Kỳ báo cáo tháng 03/2025 (15/02/2025 – 14/03/2025); Kỳ báo cáo tháng 04/2025 (15/03/2025 – 14/04/2025); "
        "Kỳ báo cáo quý I/2025 (15/12/2024 – 14/03/2025)")
    assert module.run_note(_run()) is None  # the watcher: no period


def test_listener_keeps_a_note_already_there(run_notes):
    module, timetable_cls = run_notes
    month = timetable_cls("month")
    typed = _run(month, interval=month.interval_for_label("2025-03"))
    typed.note = "chạy lại theo yêu cầu của Sở"
    module.RunNotes().on_dag_run_running(typed, "started")
    assert typed.note == "chạy lại theo yêu cầu của Sở"
    empty = _run(month, interval=month.interval_for_label("2025-03"))
    empty.note = None
    module.RunNotes().on_dag_run_running(empty, "started")
    assert empty.note.startswith("Kỳ báo cáo tháng 03/2025")


# --- the CLI on a missing warehouse, and on roll-up periods ------------------------------------


def _cli(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env={**os.environ, **(env or {})},
                          cwd=ROOT)


@pytest.mark.parametrize("args", [("status", "--period", "2025-03"),
                                  ("export", "--period", "2025-03", "--level", "area"),
                                  ("export", "--period", "2025-Q1", "--level", "unit")])
def test_reading_a_missing_warehouse_says_so_and_creates_nothing(tmp_path, args):
    data = tmp_path / "nothing_here"
    done = _cli(*args, env={"TTHC_DATA_DIR": str(data)})
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [f"tthc: no warehouse at {data / 'warehouse.sqlite'} (run `tthc run "
                                        f"--period YYYY-MM` or `make demo` first, or set TTHC_DATA_DIR / "
                                        f"TTHC_WAREHOUSE_URL)"]
    assert not data.exists()


def test_an_empty_database_is_no_warehouse(tmp_path):
    import sqlite3

    path = tmp_path / "empty.sqlite"
    sqlite3.connect(path).close()
    done = _cli("status", "--period", "2025-03", env={"TTHC_WAREHOUSE_URL": f"sqlite:///{path}"})
    assert done.returncode == 2 and "holds no warehouse" in done.stderr and len(done.stderr.splitlines()) == 1


def test_export_of_a_rollup_period(tthc_env):
    from tthc import orchestration
    from tthc.catalogue import Catalogue
    from tthc.periods import Period
    from tthc.sources.shared_drive.template import write_unit_workbook
    from tthc_testing.sample_share import unit_figures

    catalogue = Catalogue.load(tthc_env.catalogue_dir)
    months = Period.range(Period(2025, 1), Period(2025, 3))
    for period in months:  # two units report; the others are missing, which a roll-up allows
        for code in ("VL-TP", "X-19363"):
            unit = catalogue.units[code]
            write_unit_workbook(tthc_env.shared_drive / period.label / f"{code}.xlsx", catalogue, unit, period,
                                unit_figures(catalogue, unit, period))
    for period in months:
        orchestration.ingest_shared_drive(tthc_env)
        orchestration.validate_period(tthc_env, period)
        orchestration.load_period(tthc_env, period)
        orchestration.aggregate_period(tthc_env, period)
    orchestration.aggregate_rollup(tthc_env, "2025-Q1")
    done = _cli("export", "--period", "2025-Q1", "--level", "area", "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert {r["rollup_period"] for r in rows} == {"2025-Q1"} and len(rows) >= 13
    assert {(r["first_period"], r["last_period"], r["months_aggregated"]) for r in rows} == {("2025-01", "2025-03", 3)}
    units = _cli("export", "--period", "2025-Q1", "--level", "unit")
    assert units.returncode == 0 and units.stdout.splitlines()[0].startswith("rollup_period,frequency,")
    assert {line.split(",")[4] for line in units.stdout.splitlines()[1:]} == {"VL-TP", "X-19363"}
    missing = _cli("export", "--period", "2025-H1", "--level", "area")
    assert missing.returncode == 0 and "tthc rollup --period 2025-H1" in missing.stderr


def test_backfill_without_an_api_server_says_where_it_looked():
    done = _cli("backfill", "--from", "2025-01", "--to", "2025-03", env={"TTHC_AIRFLOW_API_URL": "http://127.0.0.1:9"})
    assert done.returncode == 2
    assert done.stderr.startswith("tthc: Airflow API at http://127.0.0.1:9 not reachable")


# --- GX keeps its own chatter out of task logs ------------------------------------------------------


def test_validation_logs_no_gx_info(tthc_env, caplog):
    from tthc import orchestration
    from tthc.catalogue import Catalogue
    from tthc.periods import Period
    from tthc_testing.sample_share import generate_shared_drive

    generate_shared_drive(tthc_env.shared_drive, Catalogue.load(tthc_env.catalogue_dir), [Period(2025, 3)])
    orchestration.ingest_shared_drive(tthc_env)
    with caplog.at_level(logging.DEBUG):
        summary = orchestration.validate_period(tthc_env, Period(2025, 3))
    assert summary  # the suite ran
    gx = [r for r in caplog.records if r.name.startswith("great_expectations") and r.levelno < logging.WARNING]
    assert gx == [], [f"{r.name}: {r.getMessage()[:80]}" for r in gx[:5]]


# --- DAG docs for the ops team ----------------------------------------------------------------------


@pytest.mark.airflow
def test_dag_docs_are_vietnamese_with_lists_numbered_from_one(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    for dag_id in bag.dag_ids:
        doc = bag.get_dag(dag_id).doc_md
        assert re.search(r"[ăâđêôơưạảấầẩậắằẳặẹẻẽếềểệịọỏốồổộớờởợụủứừửựỳỷỹ]", doc), dag_id
        numbers = [int(n) for n in re.findall(r"^(\d+)\. ", doc, re.M)]
        assert numbers and numbers[0] == 1, (dag_id, numbers)  # Markdown renders a list from 0 as from 1
        assert numbers == list(range(1, len(numbers) + 1)), (dag_id, numbers)


# --- make airflow-stop only stops what it started ------------------------------------------------


def test_stop_leaves_a_process_it_did_not_start(tmp_path):
    from tthc_airflow.local_cluster import STATE_FILE, stop_recorded

    other = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        (tmp_path / STATE_FILE).write_text(json.dumps({"port": 1, "components": {"scheduler": other.pid}}))
        assert stop_recorded(tmp_path) == {"scheduler": "not running"}
        time.sleep(0.2)
        assert other.poll() is None  # a reused pid is never signalled
        assert not (tmp_path / STATE_FILE).exists()
    finally:
        other.kill()
        other.wait()


# --- what task processes are forked from ---------------------------------------------------------


def test_every_task_preload_module_imports():
    """The forkserver skips a preload module that fails to import without a word (multiprocessing's
    own behaviour): a misspelt or moved module would silently make every task load it itself."""
    from tthc_airflow.local_cluster import TASK_PRELOAD

    script = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    done = subprocess.run([sys.executable, "-c", script, *TASK_PRELOAD], capture_output=True, text=True,
                          env={**os.environ, "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"}, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
