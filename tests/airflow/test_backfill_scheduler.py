"""A backfill under a real scheduler equals running each period alone.

A throw-away Airflow (scheduler + dag-processor + api-server, LocalExecutor, metadata DB on a fresh
PostgreSQL database) backfills `tthc_monthly_shared_drive` over 2025-01..2025-06 with three runs at a
time, into a SQLite warehouse. The same shared drive goes period by period, in order, through
tthc.orchestration into a second warehouse. The marts must be identical: aggregating a period refreshes
the year-to-date figures of later periods already aggregated, so the order runs finish in must not
matter.

The scheduler's own cron scheduling is off (`[scheduler] use_job_schedule = False`): the DAG has
catchup=True, so unpausing it would also queue every period since 2024-12-15 beside the backfill.
A task that fails or goes up for retry fails the test at once with its error (retry_delay is
minutes). Progress, the backfill's timing and a per-task breakdown are printed (`pytest -s`).
"""

from __future__ import annotations

import time

import pytest

from tests.support.cluster import (create_backfill, failure_details, mart_rows, max_overlap, state_summary,
                                   table_differences, ts)
from tthc import orchestration
from tthc.calendar import DEFAULT_CALENDAR
from tthc.catalogue import Catalogue
from tthc.periods import Period
from tthc_airflow.local_cluster import airflow_cluster, group_members
from tthc_testing.sample_share import generate_shared_drive

pytestmark = [pytest.mark.airflow, pytest.mark.postgres]

DAG_ID = "tthc_monthly_shared_drive"
PERIODS = Period.range(Period(2025, 1), Period(2025, 6))
MAX_ACTIVE_RUNS = 3
TIMEOUT = 600  # seconds for the whole test (about 150-220 s seen on 2 cores; over 420 s while other jobs share them)
MARTS = ("mart_unit_kpi_monthly", "mart_area_kpi_monthly", "mart_submission_status")  # period first
TERMINAL = {"success", "failed"}


def _progress(t0: float, message: str) -> None:
    print(f"[backfill-test {time.monotonic() - t0:6.1f} s] {message}", flush=True)


def _left(deadline: float) -> float:
    return max(5.0, deadline - time.monotonic())


def _reference_warehouse(settings) -> str:
    """Each period alone, in order, through the pipeline (the report is not part of the marts)."""
    for period in PERIODS:
        orchestration.ingest_shared_drive(settings)
        orchestration.validate_period(settings, period)
        orchestration.load_period(settings, period)
        orchestration.aggregate_period(settings, period)
    return settings.warehouse_url


def test_backfill_with_concurrent_runs_equals_running_each_period_alone(tthc_env, pg_url, tmp_path):
    t0 = time.monotonic()
    deadline = t0 + TIMEOUT
    share = tthc_env.shared_drive
    manifest = generate_shared_drive(share, Catalogue.load(tthc_env.catalogue_dir), PERIODS)
    assert sorted(manifest) == [p.label for p in PERIODS]
    reference_url = _reference_warehouse(tthc_env)
    _progress(t0, f"reference warehouse: {len(PERIODS)} periods one by one through tthc.orchestration")

    airflow_data = tmp_path / "airflow_data"
    backfill_url = f"sqlite:///{airflow_data / 'warehouse.sqlite'}"
    task_env = {  # what the tasks read (tthc_airflow.task_settings falls back to TTHC_*)
        "TTHC_DATA_DIR": str(airflow_data),
        "TTHC_SHARED_DRIVE": str(share),
        "TTHC_WAREHOUSE_URL": backfill_url,
    }
    # No scheduled (catch-up) runs beside the backfill's; the scheduler still runs those.
    config = {"scheduler": {"use_job_schedule": "False"}}
    pgids: list[int] = []
    summary: dict = {}
    with airflow_cluster(tmp_path / "airflow_home", pg_url, env=task_env, config=config, parallelism=4,
                         start_timeout=min(150, _left(deadline))) as cluster:
        pgids = cluster.pgids()
        summary["components_ready_s"] = round(cluster.ready_after, 1)
        _progress(t0, f"cluster up (components healthy after {cluster.ready_after:.1f} s)")
        t_create = time.monotonic()
        command = create_backfill(cluster, DAG_ID, PERIODS, max_active_runs=MAX_ACTIVE_RUNS, timeout=_left(deadline))
        _progress(t0, f"backfill of the six periods created (dry run checked): airflow {' '.join(command)}")
        runs: list[dict] = []
        seen_running, last_progress = 0, ""
        while True:
            cluster.check_alive()
            runs = cluster.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns", params={"limit": 100})["dag_runs"]
            tis = cluster.api("GET", f"/api/v2/dags/{DAG_ID}/dagRuns/~/taskInstances", params={"limit": 200})
            tis = tis["task_instances"]
            states = [r["state"] for r in runs]
            seen_running = max(seen_running, states.count("running"))
            if len(runs) == len(PERIODS) and set(states) <= TERMINAL:
                break
            # A retry waits out retry_delay (minutes): fail now, with the task's error, instead.
            if {"failed", "up_for_retry", "upstream_failed"} & {t["state"] for t in tis}:
                pytest.fail(f"a backfill task failed ({time.monotonic() - t_create:.0f} s after create):\n"
                            f"{failure_details(cluster, DAG_ID, tis)}")
            if time.monotonic() > deadline:
                pytest.fail(f"backfill not finished in {TIMEOUT} s: runs {state_summary(runs)}; tasks {state_summary(tis)}\n"
                            f"{cluster.log_tails()}")
            if (progress := f"runs: {state_summary(runs)}; tasks: {state_summary(tis)}") != last_progress:
                _progress(t0, progress)
                last_progress = progress
            time.sleep(1)
        summary["backfill_wall_s"] = round(time.monotonic() - t_create, 1)
        _progress(t0, f"all {len(runs)} runs finished in {summary['backfill_wall_s']} s after `backfill create`")
        assert [r for r in runs if r["state"] != "success"] == [], failure_details(cluster, DAG_ID, tis)
        assert {r["run_type"] for r in runs} == {"backfill"}
        n_tasks = cluster.api("GET", f"/api/v2/dags/{DAG_ID}/tasks")["total_entries"]
        assert len(tis) == n_tasks * len(PERIODS)
        # No portal is configured here: the per-unit fetch is mapped over no units, and only it is skipped.
        assert {(t["task_id"], t["state"]) for t in tis if t["state"] != "success"} <= {("fetch_portal_unit", "skipped")}
        assert {t["try_number"] for t in tis if t["state"] == "success"} == {1}, "a task needed a retry"

        backfills = cluster.api("GET", "/api/v2/backfills", params={"dag_id": DAG_ID})["backfills"]
        assert len(backfills) == 1 and backfills[0]["max_active_runs"] == MAX_ACTIVE_RUNS

        # Each run's data interval is its period, and each period ran once.
        by_period = {DEFAULT_CALENDAR.exact(ts(r["data_interval_start"]), ts(r["data_interval_end"])): r
                     for r in runs}
        assert sorted(by_period) == PERIODS

        # Timing: runs really overlapped (never more than the backfill allows); per-task overhead.
        intervals = [(ts(r["start_date"]), ts(r["end_date"])) for r in runs]
        overlap = max_overlap(intervals)
        print(f"\n{'period':8} {'run s':>6} {'tasks s':>8} {'gaps s':>7}  task durations (s)")
        task_seconds, run_seconds = [], []
        for period, run in sorted(by_period.items()):
            # Tasks that ran (the skipped portal fetch never started).
            run_tis = sorted((t for t in tis if t["dag_run_id"] == run["dag_run_id"] and t["start_date"]),
                             key=lambda t: t["start_date"])
            durations = [t["duration"] for t in run_tis]
            run_s = (ts(run["end_date"]) - ts(run["start_date"])).total_seconds()
            task_seconds += durations
            run_seconds.append(run_s)
            print(f"{period.label:8} {run_s:6.1f} {sum(durations):8.1f} {run_s - sum(durations):7.1f}  "
                  + ", ".join(f"{t['task_id']}={t['duration']:.1f}" for t in run_tis))
        waits = [(ts(t["start_date"]) - ts(t["queued_when"])).total_seconds() for t in tis if t["start_date"]]
        summary.update(max_concurrent_runs=overlap, max_running_seen=seen_running,
                       mean_queued_to_start_s=round(sum(waits) / len(waits), 2),
                       mean_task_s=round(sum(task_seconds) / len(task_seconds), 2),
                       mean_run_s=round(sum(run_seconds) / len(run_seconds), 1),
                       mean_gap_per_task_s=round((sum(run_seconds) - sum(task_seconds)) / len(task_seconds), 2))
        assert 2 <= overlap <= MAX_ACTIVE_RUNS, f"max concurrent runs {overlap}"

        # Every aggregation told the report DAG its period through the asset event.
        events = cluster.api("GET", "/api/v2/assets/events", params={"source_dag_id": DAG_ID, "limit": 100})
        assert sorted(e["extra"].get("period") for e in events["asset_events"]) == [p.label for p in PERIODS]

        # Every run has ended (the report DAG stays paused): the demo's stop, every component at once.
        stopped = cluster.stop(idle=True)
        assert sorted(stopped) == ["api-server", "dag-processor", "scheduler"], stopped
        _progress(t0, f"stopped together: {stopped}")

    _progress(t0, f"summary: {summary}")
    # No process of any component survives (task and executor processes share their component's group).
    leftovers = {pgid: group_members(pgid) for pgid in pgids}
    assert not any(leftovers.values()), leftovers

    backfilled, reference = mart_rows(backfill_url, MARTS), mart_rows(reference_url, MARTS)
    for table in MARTS:
        assert backfilled[table], f"{table} is empty"
        assert {r["period"] for r in backfilled[table]} == {p.label for p in PERIODS}, table
    assert not (differences := table_differences(backfilled, reference)), "\n".join(differences)
    _progress(t0, "marts identical: " + ", ".join(f"{t} {len(r)} rows" for t, r in backfilled.items()))
