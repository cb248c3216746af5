"""Monthly TTHC indicators from the shared drive: ingest → validate → load → aggregate."""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import PokeReturnValue, dag, get_current_context, task
from tthc_timetables import ReportingPeriodTimetable  # plugins/, registered by its plugin

from tthc_airflow import DEFAULT_ARGS, MARTS_ASSET, period_param, run_period, task_settings

LOCAL_TZ = "Asia/Ho_Chi_Minh"
SCHEME = os.environ.get("TTHC_PERIOD_SCHEME") or "decree09"

DOC = """
### Chỉ tiêu cải cách TTHC hằng tháng — thư mục dùng chung

One run per reporting period; the run's data interval **is** the period (Decree 09/2019: the 15th of
the previous month 00:00 to the 14th 23:59:59, Asia/Ho_Chi_Minh; `TTHC_PERIOD_SCHEME=calendar`
switches to calendar months). A manual run can name another period with conf `{"period": "2025-03"}`.

0. `wait_for_submissions` — until the submission deadline (`TTHC_DEADLINE_WORKDAYS` working days after
   the period's last day) checks the share every hour in reschedule mode (no worker is held) and logs
   who is still missing; at the deadline it goes on with what arrived (the rest are `missing`).
   Files arriving later are `late`; `tthc_watch_shared_drive` re-runs their period.
1. `ingest_shared_drive` — records every file on the share, archives and parses new content versions.
2. `validate_submissions` — runs the Great Expectations suite `submission_rows` on the period's files;
   rejected files get Vietnamese reasons naming the cell (`tthc status --period ...`).
3. `load_warehouse` — the newest valid file per unit → core tables (one transaction).
4. `aggregate_marts` — the public marts (one transaction); updates the `tthc_marts` asset, which
   triggers `tthc_monthly_report` for the period.

Re-running a period is always safe: each step replaces that period's rows.
"""


@dag(
    dag_id="tthc_monthly_shared_drive",
    # The run's data interval is the period: Decree 09 15th → 14th (2025-03 = 15/02–14/03), or calendar months.
    schedule=ReportingPeriodTimetable("month", scheme=SCHEME, tz=LOCAL_TZ),
    start_date=pendulum.datetime(2024, 12, 15 if SCHEME == "decree09" else 1, tz=LOCAL_TZ),
    catchup=True,
    max_active_runs=3,
    default_args=DEFAULT_ARGS,
    tags=["tthc", "shared-drive", "monthly"],
    doc_md=DOC,
    params={"period": period_param("kỳ của khoảng dữ liệu")},
)
def tthc_monthly_shared_drive():
    @task.sensor(mode="reschedule", poke_interval=timedelta(hours=1), timeout=timedelta(days=21))
    def wait_for_submissions() -> PokeReturnValue:
        from tthc.pipeline import submission_progress

        progress = submission_progress(task_settings(), run_period(get_current_context()))
        return PokeReturnValue(is_done=not progress["missing"] or progress["deadline_passed"], xcom_value=progress)

    @task
    def ingest_shared_drive(_progress: dict) -> dict:
        from tthc.pipeline import ingest_shared_drive as ingest

        return ingest(task_settings())

    @task
    def validate_submissions(_ingested: dict) -> dict:
        from tthc.pipeline import validate_period

        return validate_period(task_settings(), run_period(get_current_context()))

    @task
    def load_warehouse(_validated: dict) -> dict:
        from tthc.pipeline import load_period

        return load_period(task_settings(), run_period(get_current_context()))

    @task(outlets=[MARTS_ASSET])
    def aggregate_marts(_loaded: dict) -> dict:
        from tthc.pipeline import aggregate_period

        context = get_current_context()
        period = run_period(context)
        summary = aggregate_period(task_settings(), period)
        # The report DAG reads the period from the asset event.
        context["outlet_events"][MARTS_ASSET].extra = {"period": period.label}
        return summary

    aggregate_marts(load_warehouse(validate_submissions(ingest_shared_drive(wait_for_submissions()))))


tthc_monthly_shared_drive()
