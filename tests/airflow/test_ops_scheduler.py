"""The ops team's jobs against a real scheduler, dag-processor and api-server, set up as the demo
sets them up (tthc_airflow.local_cluster: LocalExecutor, the metadata DB a fresh database on the
local PostgreSQL server), with the scheduler's own scheduling held off for the backfills and
switched on in step 4 (the demo holds it off with TTHC_SCHEDULE_FROM instead).

1. `tthc backfill --from 2025-01 --to 2025-04` and `--from 2025-Q1 --to 2025-Q1`: backfill runs whose
   logical date is the period's start, data interval the period, note the period in words.
2. `tthc backfill --from 2025-01 --to 2025-03` again re-runs exactly those three (2025-04 untouched).
3. Manual runs with conf `period=2025-03` and with a logical date inside 2025-03 both process 2025-03
   (their `tthc_marts` events say so) and say so in their notes.
4. Scheduling on: the report DAG writes the reports of every period the runs aggregated.
5. A correction to 2025-03 (a new file, then a run of 2025-03 as the watcher makes it) rewrites the
   2025-04 and 2025-Q1 reports with the new figures; unpausing the monthly DAG for it goes on with
   the next period, 2025-05, as a scheduled run named after it, without sticking on taken slots.
6. Every component and task process is gone afterwards.

One unit reports (the figures of tests/warehouse/test_rollups.py's correction case); no portal (its mapped
fetch is skipped). Progress is printed (`pytest -s`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime

import pytest

from tthc_airflow.local_cluster import airflow_cluster, group_members
from tests.support.drive import write_csv
from tests.support.rollups import check_rewritten, report_figures, settings_at, submit
from tthc.calendar import ReportingCalendar
from tthc.periods import Period

pytestmark = pytest.mark.airflow

MONTHLY, QUARTERLY, REPORT = "tthc_monthly_shared_drive", "tthc_quarterly_report", "tthc_monthly_report"
CALENDAR = ReportingCalendar("decree09")
TIMEOUT = 1500  # seconds for the whole test (a busy 2-core machine)
TERMINAL = {"success", "failed"}


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


class Ops:
    """What an ops person does: `tthc` commands, the REST API, and waiting for runs."""

    def __init__(self, cluster, deadline: float):
        self.cluster, self.deadline, self.t0 = cluster, deadline, time.monotonic()

    def say(self, message: str) -> None:
        print(f"[ops-scheduler-test {time.monotonic() - self.t0:6.1f} s] {message}", flush=True)

    def left(self) -> float:
        return max(30.0, self.deadline - time.monotonic())

    def tthc(self, *args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "tthc.cli", *args], capture_output=True, text=True,
                              timeout=self.left(), env={**os.environ, "TTHC_AIRFLOW_API_URL": self.cluster.base_url})
        assert done.returncode == 0, f"tthc {' '.join(args)}: {done.stdout}{done.stderr}\n{self.cluster.log_tails(20)}"
        return done

    def runs(self, dag_id: str, **params) -> list[dict]:
        return self.cluster.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"limit": 100, **params})["dag_runs"]

    def by_period(self, dag_id: str, frequency: str = "month", run_type: str = "backfill") -> dict[str, dict]:
        """Runs of one type by the period that is their data interval (each must be one)."""
        out = {}
        for run in self.runs(dag_id, run_type=run_type):
            period = CALENDAR.exact(_ts(run["data_interval_start"]), _ts(run["data_interval_end"]), frequency)
            assert period is not None, run
            out[period.label] = run
        return out

    def wait_for(self, what: str, done, poll: float = 1.0):
        while True:
            self.cluster.check_alive()
            result = done()
            if result:
                return result
            assert time.monotonic() < self.deadline, f"{what}: not done in time\n{self.cluster.log_tails(30)}"
            time.sleep(poll)

    def trigger(self, dag_id: str, **body) -> dict:
        return self.cluster.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, **body})

    def finished(self, dag_id: str, run_id: str) -> dict | None:
        run = self.cluster.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        return run if run["state"] in TERMINAL else None

    def marts_periods(self, run_id: str) -> list[str]:
        events = self.cluster.api("GET", "/api/v2/assets/events",
                                  params={"source_dag_id": MONTHLY, "source_run_id": run_id})["asset_events"]
        return [e["extra"].get("period") for e in events]


def test_the_ops_jobs_under_a_real_scheduler(tmp_path, pg_url):
    settings = settings_at(tmp_path)
    submit(settings, "X-19363", "2025-01", [("NQ01-3", 10, 20)])
    submit(settings, "X-19363", "2025-03", [("NQ01-3", 5, 10)])
    submit(settings, "X-19363", "2025-04", [("NQ01-3", 8, 10)])
    submit(settings, "X-19363", "2025-05", [("NQ01-3", 7, 10)])
    env = {"TTHC_DATA_DIR": str(settings.data_dir), "TTHC_SHARED_DRIVE": str(settings.shared_drive),
           "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False"}  # backfills first; on in step 4
    with airflow_cluster(tmp_path / "airflow_home", pg_url, env=env, parallelism=4, start_timeout=300) as cluster:
        ops = Ops(cluster, time.monotonic() + TIMEOUT)
        sessions = cluster.pgids()
        ops.say(f"cluster up (healthy after {cluster.ready_after:.1f} s)")
        cluster.wait_for_dags([MONTHLY, QUARTERLY, REPORT], timeout=300)
        for dag_id in (MONTHLY, QUARTERLY, REPORT):
            cluster.set_paused(dag_id, False)

        # 1. Backfills by period.
        first = ops.tthc("backfill", "--from", "2025-01", "--to", "2025-04", "--wait")
        assert first.stdout.splitlines()[0].endswith("2025-01, 2025-02, 2025-03, 2025-04 (4 run(s), at most 3 at a time)")
        before = ops.by_period(MONTHLY)
        assert sorted(before) == ["2025-01", "2025-02", "2025-03", "2025-04"]
        for label, run in before.items():
            period = Period.parse(label)
            assert run["state"] == "success"
            assert _ts(run["logical_date"]) == CALENDAR.bounds(period)[0]
            assert run["note"] == (f"Kỳ báo cáo tháng {period.month:02d}/2025 ({CALENDAR.bounds(period)[0]:%d/%m/%Y}"
                                   f" – {CALENDAR.last_day(period):%d/%m/%Y})")
        ops.tthc("backfill", "--from", "2025-Q1", "--to", "2025-Q1", "--wait")
        (q1,) = ops.by_period(QUARTERLY, "quarter").values()
        assert q1["state"] == "success" and q1["note"] == "Kỳ báo cáo quý I/2025 (15/12/2024 – 14/03/2025)"
        ops.say("2025-01..04 and 2025-Q1 backfilled")

        # 2. The same periods again: exactly those.
        again = ops.tthc("backfill", "--from", "2025-01", "--to", "2025-03", "--wait")
        assert again.stdout.splitlines()[0].endswith("2025-01, 2025-02, 2025-03 (3 run(s), at most 3 at a time)")
        after = ops.by_period(MONTHLY)
        assert sorted(after) == sorted(before)  # no other period, no second run of one
        for label in ("2025-01", "2025-02", "2025-03"):
            assert after[label]["state"] == "success"
            assert _ts(after[label]["start_date"]) > _ts(before["2025-04"]["end_date"]), label  # ran again
            assert after[label]["dag_run_id"] == before[label]["dag_run_id"]  # the same run, cleared
        assert after["2025-04"]["end_date"] == before["2025-04"]["end_date"]  # untouched
        ops.say("2025-01..03 re-run, 2025-04 untouched")

        # 3. Manual runs: by conf, and by a logical date inside the period.
        by_conf = ops.trigger(MONTHLY, conf={"period": "2025-03"})
        by_date = ops.trigger(MONTHLY, logical_date="2025-03-10T09:00:00+07:00")
        for manual in (by_conf, by_date):
            run = ops.wait_for(f"manual run {manual['dag_run_id']}", lambda: ops.finished(MONTHLY, manual["dag_run_id"]))
            assert run["state"] == "success", run
            assert run["note"] == "Kỳ báo cáo tháng 03/2025 (15/02/2025 – 14/03/2025)"
            assert ops.marts_periods(run["dag_run_id"]) == ["2025-03"]
        ops.say("manual runs by conf and by logical date both processed 2025-03")

        # 4. The scheduler's own scheduling on (the DAGs that would catch up paused first): reports.
        for dag_id in (MONTHLY, QUARTERLY):
            cluster.set_paused(dag_id, True)
        cluster.restart_component("scheduler", {"AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "True"}, timeout=ops.left())
        reports = {label: {kind: settings.reports_dir / label / f"BaoCao_TTHC_{label}.{kind}" for kind in ("docx", "xlsx")}
                   for label in ("2025-03", "2025-04", "2025-Q1")}
        ops.wait_for("the reports of the backfilled periods", lambda: all(p["xlsx"].exists() for p in reports.values())
                     and _reports_idle(ops), poll=2)
        april, quarter = report_figures(reports["2025-04"]["xlsx"], "NQ01-3"), report_figures(reports["2025-Q1"]["xlsx"], "NQ01-3")
        assert (april["Tử số lũy kế"], april["Mẫu số lũy kế"], quarter["Tử số"], quarter["Mẫu số"]) == (23, 40, 15, 30)
        ops.say("reports of 2025-01..04 and 2025-Q1 written from the asset events")

        # 5. A correction of March (5/10 → 9/10); its run, as the watcher triggers it.
        write_csv(settings.shared_drive, "2025-03/X-19363-sua.csv", "X-19363", "2025-03", [("NQ01-3", 9, 10)],
                  mtime="2025-04-20 09:00")
        correction = ops.trigger(MONTHLY, conf={"period": "2025-03"})
        cluster.set_paused(MONTHLY, False)
        scheduled = ops.wait_for("a scheduled run after unpausing", lambda: ops.by_period(MONTHLY, run_type="scheduled"))
        first_scheduled = min(scheduled)
        assert first_scheduled == "2025-05", sorted(scheduled)
        assert scheduled["2025-05"]["dag_run_id"].startswith("scheduled__2025-05__")
        assert _ts(scheduled["2025-05"]["logical_date"]) == CALENDAR.bounds(Period(2025, 5))[0]
        run = ops.wait_for("the correction run", lambda: ops.finished(MONTHLY, correction["dag_run_id"]))
        cluster.set_paused(MONTHLY, True)  # no further catch-up: the test is about where it goes on
        assert run["state"] == "success", run
        ops.say(f"correction run done; scheduled runs after unpausing: {sorted(scheduled)}")
        ops.wait_for("the rewritten reports", lambda: report_figures(reports["2025-Q1"]["xlsx"], "NQ01-3")["Tử số"] == 19
                     and _reports_idle(ops), poll=2)
        check_rewritten({label: {k: str(v) for k, v in paths.items()} for label, paths in reports.items()})
        # A taken slot makes the scheduler step past it, not loop on it.
        skipped = (cluster.home / "scheduler.log").read_text(encoding="utf-8", errors="replace").count(
            "run already exists; skipping dagrun creation")
        assert skipped <= len(before), skipped
        ops.say("2025-03, 2025-04 and 2025-Q1 reports rewritten with the corrected figures")
    leftovers = {sid: group_members(sid) for sid in sessions}
    assert not any(leftovers.values()), leftovers


def _reports_idle(ops: Ops) -> bool:
    """No report run queued or running, and no asset event waiting for one."""
    runs = ops.runs(REPORT)
    queued = ops.cluster.api("GET", f"/api/v2/dags/{REPORT}/assets/queuedEvents")
    return bool(runs) and all(r["state"] in TERMINAL for r in runs) and not queued.get("total_entries")
