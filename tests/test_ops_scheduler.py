"""The ops team's jobs against a real scheduler, dag-processor and api-server (the demo's setup:
tthc_airflow.local_cluster, SQLite metadata DB, LocalExecutor).

After a demo-like set of runs (2025-01..04 by Airflow's backfill, through `tthc backfill`):
- every run's data interval is its period and its note says which, in Vietnamese;
- `tthc backfill --from 2025-01 --to 2025-03` re-runs exactly those three periods (2025-04 untouched),
  although they have run before;
- with the scheduler's own scheduling on, unpausing the monthly DAG goes on with the next period
  (2025-05): its run is a scheduled one, named after the period, and the scheduler does not stick on
  slots already taken.

No portal (its mapped fetch is skipped); a small share (a few units per month) keeps it quick.
Progress is printed (`pytest -s`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime

import pytest

from airflow_cluster import airflow_cluster, group_members
from tthc.calendar import ReportingCalendar
from tthc.catalogue import Catalogue
from tthc.periods import Period
from tthc.sources.shared_drive.template import write_unit_workbook
from tthc_testing.sample_share import unit_figures

pytestmark = pytest.mark.airflow

DAG_ID = "tthc_monthly_shared_drive"
UNITS = ("VL-TP", "VL-VP", "X-19363")
TIMEOUT = 900  # seconds for the whole test
CALENDAR = ReportingCalendar("decree09")


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def _progress(t0: float, message: str) -> None:
    print(f"[ops-scheduler-test {time.monotonic() - t0:6.1f} s] {message}", flush=True)


def _tthc(*args: str, api_url: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tthc.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "TTHC_AIRFLOW_API_URL": api_url})


def _runs(cluster) -> dict[str, dict]:
    """Runs of the monthly DAG by the period that is their data interval."""
    runs = cluster.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns", params={"limit": 100})["dag_runs"]
    periods = {r["dag_run_id"]: CALENDAR.exact(_ts(r["data_interval_start"]), _ts(r["data_interval_end"]), "month")
               for r in runs}
    assert None not in periods.values(), runs  # every run's data interval is a period
    return {periods[r["dag_run_id"]].label: r for r in runs}


def test_backfill_by_period_and_unpausing_goes_on_with_the_next_period(tthc_env, tmp_path):
    t0 = time.monotonic()
    deadline = t0 + TIMEOUT
    catalogue = Catalogue.load(tthc_env.catalogue_dir)
    for period in Period.range(Period(2025, 1), Period(2025, 5)):
        for code in UNITS:
            unit = catalogue.units[code]
            write_unit_workbook(tthc_env.shared_drive / period.label / f"{code}.xlsx", catalogue, unit, period,
                                unit_figures(catalogue, unit, period))
    # Backfills only at first, as in the demo: unpaused, the DAG would also catch up from 2025-01.
    env = {"TTHC_DATA_DIR": str(tthc_env.data_dir), "TTHC_SHARED_DRIVE": str(tthc_env.shared_drive),
           "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False"}
    with airflow_cluster(tmp_path / "airflow_home", env=env, parallelism=4, start_timeout=300) as cluster:
        sessions = cluster.pgids()
        _progress(t0, f"cluster up (healthy after {cluster.ready_after:.1f} s)")
        cluster.wait_for_dags([DAG_ID], timeout=300)
        cluster.set_paused(DAG_ID, False)
        left = lambda: max(30.0, deadline - time.monotonic())  # noqa: E731

        first = _tthc("backfill", "--from", "2025-01", "--to", "2025-04", "--wait", api_url=cluster.base_url,
                      timeout=left())
        assert first.returncode == 0, first.stdout + first.stderr + cluster.log_tails(20)
        assert first.stdout.splitlines()[0].startswith("backfill ")
        before = _runs(cluster)
        assert sorted(before) == ["2025-01", "2025-02", "2025-03", "2025-04"]
        _progress(t0, "2025-01..04 backfilled: " + ", ".join(f"{p} {r['state']}" for p, r in before.items()))
        for label, run in before.items():
            period = Period.parse(label)
            assert run["state"] == "success" and run["run_type"] == "backfill"
            # The logical date is the period's start, as the timetable puts it; the note names the period.
            assert _ts(run["logical_date"]) == CALENDAR.bounds(period)[0]
            assert run["note"] == _note(label)

        again = _tthc("backfill", "--from", "2025-01", "--to", "2025-03", "--wait", api_url=cluster.base_url,
                      timeout=left())
        assert again.returncode == 0, again.stdout + again.stderr
        assert again.stdout.splitlines()[0].endswith("2025-01, 2025-02, 2025-03 (3 run(s), at most 3 at a time)")
        after = _runs(cluster)
        _progress(t0, "re-run 2025-01..03: " + ", ".join(f"{p} {r['state']} ended {r['end_date']}"
                                                        for p, r in after.items()))
        assert sorted(after) == sorted(before)  # no other period, no second run of one
        for label in ("2025-01", "2025-02", "2025-03"):
            assert after[label]["state"] == "success"
            assert _ts(after[label]["start_date"]) > _ts(before["2025-04"]["end_date"]), label  # ran again
            assert after[label]["dag_run_id"] == before[label]["dag_run_id"]  # the same run, cleared
        assert after["2025-04"]["end_date"] == before["2025-04"]["end_date"]  # untouched
        backfills = cluster.api("GET", "/api/v2/backfills", params={"dag_id": DAG_ID})["backfills"]
        assert [b["reprocess_behavior"] for b in backfills] == ["completed", "completed"]

        # The scheduler's own scheduling on: unpausing goes on with 2025-05.
        cluster.set_paused(DAG_ID, True)
        cluster.restart_component("scheduler", {"AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "True"}, timeout=left())
        cluster.set_paused(DAG_ID, False)
        while True:
            scheduled = {p: r for p, r in _runs(cluster).items() if r["run_type"] == "scheduled"}
            if scheduled:
                break
            assert time.monotonic() < deadline, "no scheduled run after unpausing\n" + cluster.log_tails(30)
            time.sleep(1)
        cluster.set_paused(DAG_ID, True)  # no further catch-up: the test is about where it goes on
        _progress(t0, f"after unpausing: scheduled runs {sorted(scheduled)}")
        first_scheduled = min(scheduled)
        assert first_scheduled == "2025-05"
        run = scheduled[first_scheduled]
        assert run["dag_run_id"].startswith("scheduled__2025-05__")
        assert _ts(run["logical_date"]) == CALENDAR.bounds(Period(2025, 5))[0]
        assert sorted(scheduled) == [p.label for p in Period.range(Period(2025, 5), Period.parse(max(scheduled)))]
        # A taken slot makes the scheduler step past it, not loop on it.
        skipped = (cluster.home / "scheduler.log").read_text(encoding="utf-8", errors="replace").count(
            "run already exists; skipping dagrun creation")
        assert skipped <= len(before), skipped
    leftovers = {sid: group_members(sid) for sid in sessions}
    assert not any(leftovers.values()), leftovers


def _note(label: str) -> str:
    period = Period.parse(label)
    return (f"Kỳ báo cáo tháng {period.month:02d}/{period.year} "
            f"({CALENDAR.bounds(period)[0]:%d/%m/%Y} – {CALENDAR.last_day(period):%d/%m/%Y})")
