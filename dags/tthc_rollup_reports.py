"""Quarterly, half-year and annual TTHC reports (Decree 09 roll-ups of the monthly figures).

One file, three DAGs (`tthc_quarterly_report`, `tthc_half_year_report`, `tthc_annual_report`), each
on the ReportingPeriodTimetable of its frequency: the run's data interval is the roll-up period.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, PokeReturnValue, dag, get_current_context, task
from tthc_timetables import ReportingPeriodTimetable  # plugins/, registered by its plugin

from tthc_airflow import DEFAULT_ARGS, first_run_start, reporting_calendar
from tthc_airflow.notifiers import tthc_alerts

# The deployment's calendar (TTHC_PERIOD_SCHEME): the same one the tasks ask for their run's period.
CALENDAR = reporting_calendar()
# frequency → (dag id, words, label pattern, example)
ROLLUPS = {
    "quarter": ("tthc_quarterly_report", "quý", r"^\d{4}-Q[1-4]$", "2025-Q1"),
    "half_year": ("tthc_half_year_report", "6 tháng", r"^\d{4}-H[12]$", "2025-H1"),
    "year": ("tthc_annual_report", "năm", r"^\d{4}$", "2025"),
}

DOC = """
### Báo cáo {words} — chỉ tiêu cải cách TTHC (Word và Excel)

One run per {words} period (`ReportingPeriodTimetable("{frequency}")`, Decree 09/2019: the period
runs from the 15th of the month before its first month to the 14th of its last month, e.g. `{example}`;
`TTHC_PERIOD_SCHEME=calendar` switches to calendar periods). A manual run processes the period named
in its conf `{{"period": "{example}"}}`, else the period holding its logical date; a period that has
not ended yet is refused.

1. `wait_for_months` — the roll-up is made of the monthly figures: this sensor (reschedule mode, no
   worker slot held) checks the warehouse every hour until every month of the period has been
   aggregated by `tthc_monthly_shared_drive` (its marts exist). It reads the marts rather than
   waiting on the monthly DAG's runs (an ExternalTaskSensor), so months aggregated by a backfill,
   a watcher re-run or `tthc run` count alike.
2. `aggregate_rollup` — Σnumerator/Σdenominator over the months (NQ01-1, a stock: the latest month)
   per unit and for the area → `mart_unit_kpi_rollup`, `mart_area_kpi_rollup` (one transaction).
   Units are those at the period's end: an old commune merged on 01/07/2025 counts under its new
   commune (labelled); the abolished district departments keep their figures up to 30/06/2025.
   The annual roll-up is also compared with the plan's end-of-year stretch targets.
3. `write_rollup_report` — `BaoCao_TTHC_<period>.docx` and `.xlsx` under `TTHC_REPORTS_DIR/<period>/`,
   laid out as the monthly report, with the area's monthly trend chart.

Re-aggregating a month later (a correction, a backfill) refreshes the roll-ups already computed;
clear `write_rollup_report` to write the report again.
"""


def _make_dag(frequency: str):
    dag_id, words, pattern, example = ROLLUPS[frequency]
    @dag(
        dag_id=dag_id,
        schedule=ReportingPeriodTimetable.for_calendar(CALENDAR, frequency),
        start_date=first_run_start(CALENDAR),
        catchup=True,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["tthc", "report", frequency.replace("_", "-")],
        doc_md=DOC.format(words=words, frequency=frequency, example=example),
        params={"period": Param(None, type=["null", "string"], pattern=pattern,
                                description=f"Kỳ {words}, ví dụ {example} (để trống: kỳ chứa ngày logic của lượt chạy)")},
    )
    def rollup_dag():
        @task.sensor(mode="reschedule", poke_interval=timedelta(hours=1), timeout=timedelta(days=45))
        def wait_for_months() -> PokeReturnValue:
            from tthc.orchestration import months_aggregated

            from tthc_airflow import run_period, task_settings

            progress = months_aggregated(task_settings(), run_period(get_current_context()))
            return PokeReturnValue(is_done=not progress["missing"], xcom_value=progress)

        @task
        def aggregate_rollup(progress: dict) -> dict:
            from tthc.orchestration import aggregate_rollup as aggregate

            from tthc_airflow import task_settings

            return aggregate(task_settings(), progress["rollup_period"])

        @task(on_success_callback=tthc_alerts("report_ready"))
        def write_rollup_report(summary: dict) -> dict:
            from tthc.orchestration import report_rollup

            from tthc_airflow import task_settings

            return report_rollup(task_settings(), summary["rollup_period"])

        write_rollup_report(aggregate_rollup(wait_for_months()))

    return rollup_dag()


for _frequency in ROLLUPS:
    _make_dag(_frequency)
