"""The monthly report (Word + Excel), triggered by the aggregation through the `tthc_marts` asset."""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task

from tthc_airflow import DEFAULT_ARGS, MARTS_ASSET, period_param, requested_period, task_settings
from tthc_airflow.notifiers import tthc_alerts

DOC = """
### Báo cáo tháng — Word và Excel

Runs when `tthc_monthly_shared_drive` updates the `tthc_marts` asset, for the period named in the
asset event; or by hand with conf `{"period": "2025-03"}` to write a period's report again.
Writes `BaoCao_TTHC_<period>.docx` and `.xlsx` under `TTHC_REPORTS_DIR/<period>/`.
"""


@dag(
    dag_id="tthc_monthly_report",
    schedule=[MARTS_ASSET],
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["tthc", "report", "monthly"],
    doc_md=DOC,
    params={"period": period_param("kỳ trong sự kiện tthc_marts")},
)
def tthc_monthly_report():
    @task
    def periods_to_report() -> list[str]:
        context = get_current_context()
        if label := requested_period(context):
            return [label]
        events = context["triggering_asset_events"].get(MARTS_ASSET, [])
        periods = sorted({e.extra["period"] for e in events if e.extra.get("period")})
        if not periods:
            raise ValueError("no period given: trigger with conf {'period': 'YYYY-MM'}")
        return periods

    @task(on_success_callback=tthc_alerts("report_ready"), map_index_template="{{ period }}")
    def write_monthly_report(period: str) -> dict:
        from tthc.periods import Period
        from tthc.orchestration import report_period

        return report_period(task_settings(), Period.parse(period))

    write_monthly_report.expand(period=periods_to_report())


tthc_monthly_report()
