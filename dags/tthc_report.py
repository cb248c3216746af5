"""The monthly report (Word + Excel), triggered by the aggregation through the `tthc_marts` asset."""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task

from tthc_airflow import DEFAULT_ARGS, MARTS_ASSET, period_param, requested_period, task_settings
from tthc_airflow.notifiers import tthc_alerts

DOC = """
### Báo cáo tháng — Word và Excel

Chạy khi `tthc_monthly_shared_drive` cập nhật asset `tthc_marts`, cho các kỳ có trong sự kiện của
asset (ghi chú của lần chạy ghi các kỳ đó). Viết `BaoCao_TTHC_<kỳ>.docx` và `.xlsx` vào
`TTHC_REPORTS_DIR/<kỳ>/`.

1. `periods_to_report` — các kỳ cần viết báo cáo: kỳ trong conf `{"period": "2025-03"}` nếu có, nếu
   không là các kỳ mà các lần tổng hợp vừa qua đã báo.
2. `write_monthly_report` — mỗi kỳ một task: báo cáo Word và Excel; báo "báo cáo đã sẵn sàng"
   (e-mail, webhook) khi xong.

Viết lại báo cáo của một kỳ: Trigger với conf `{"period": "2025-03"}` (không cần chạy lại cả kỳ).
DAG này nên luôn bật: nó chỉ chạy khi có số liệu mới.
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
