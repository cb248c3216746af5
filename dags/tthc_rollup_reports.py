"""Quarterly, half-year and annual TTHC reports (Decree 09 roll-ups of the monthly figures).

One file, three DAGs (`tthc_quarterly_report`, `tthc_half_year_report`, `tthc_annual_report`), each
on the ReportingPeriodTimetable of its frequency: the run's data interval is the roll-up period.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import Param, PokeReturnValue, dag, get_current_context, task
from tthc_timetables import ReportingPeriodTimetable  # plugins/, registered by its plugin

from tthc_airflow import DEFAULT_ARGS
from tthc_airflow.notifiers import tthc_alerts

LOCAL_TZ = "Asia/Ho_Chi_Minh"
SCHEME = os.environ.get("TTHC_PERIOD_SCHEME") or "decree09"
# frequency → (dag id, words, label pattern, example)
ROLLUPS = {
    "quarter": ("tthc_quarterly_report", "quý", r"^\d{4}-Q[1-4]$", "2025-Q1"),
    "half_year": ("tthc_half_year_report", "6 tháng", r"^\d{4}-H[12]$", "2025-H1"),
    "year": ("tthc_annual_report", "năm", r"^\d{4}$", "2025"),
}

DOC = """
### Báo cáo {words} — chỉ tiêu cải cách TTHC (Word và Excel)

Mỗi kỳ {words} chạy một lần (`ReportingPeriodTimetable("{frequency}")`); khoảng dữ liệu của lần chạy là
kỳ đó, theo Nghị định 09/2019/NĐ-CP: từ ngày 15 của tháng trước tháng đầu kỳ đến hết ngày 14 của tháng
cuối kỳ, ví dụ `{example}` (`TTHC_PERIOD_SCHEME=calendar` chuyển sang lịch dương). Ghi chú của lần
chạy ghi kỳ bằng chữ. Chạy lại một kỳ khác: Trigger với conf `{{"period": "{example}"}}`, hoặc
`tthc backfill --from {example} --to {example}`.

1. `wait_for_months` — báo cáo {words} được cộng từ số liệu các tháng: sensor này (chế độ reschedule,
   không giữ chỗ của worker) mỗi giờ xem kho dữ liệu cho đến khi mọi tháng của kỳ đã được
   `tthc_monthly_shared_drive` tổng hợp. Nó đọc kho dữ liệu chứ không chờ các lần chạy của DAG tháng,
   nên tháng tổng hợp bằng backfill, bằng lần chạy lại của DAG theo dõi hay bằng `tthc run` đều được.
2. `aggregate_rollup` — Σ tử số / Σ mẫu số qua các tháng (NQ01-1 là số tồn: lấy tháng cuối) cho từng
   đơn vị và toàn huyện → `mart_unit_kpi_rollup`, `mart_area_kpi_rollup` (một giao dịch). Đơn vị tính
   theo cuối kỳ: xã cũ sáp nhập ngày 01/07/2025 được tính vào xã mới (có ghi chú); các phòng, ban cấp
   huyện giữ số liệu đến 30/06/2025. Báo cáo năm so thêm với chỉ tiêu phấn đấu cuối năm của kế hoạch.
3. `write_rollup_report` — `BaoCao_TTHC_<kỳ>.docx` và `.xlsx` trong `TTHC_REPORTS_DIR/<kỳ>/`, bố cục như
   báo cáo tháng, có biểu đồ xu hướng theo tháng của toàn huyện.

Tổng hợp lại một tháng sau đó (bản sửa, backfill) cập nhật các kỳ {words} đã tính; Clear task
`write_rollup_report` để viết lại báo cáo. Bật DAG thì scheduler chạy bù mọi kỳ {words} đã kết thúc
sau lần chạy cuối.
"""


def _make_dag(frequency: str):
    dag_id, words, pattern, example = ROLLUPS[frequency]
    timetable = ReportingPeriodTimetable(frequency, scheme=SCHEME, tz=LOCAL_TZ)

    def rollup_label(context) -> str:
        conf = (context["dag_run"].conf or {}) if context.get("dag_run") else {}
        label = conf.get("period") or (context.get("params") or {}).get("period")
        if label:
            return str(label)
        label = timetable.label_for_interval(context["data_interval_start"], context["data_interval_end"])
        if label is None:
            raise ValueError("the run's data interval is not a reporting period: give conf {'period': ...}")
        return label

    @dag(
        dag_id=dag_id,
        schedule=timetable,
        start_date=pendulum.datetime(2024, 12, 15 if SCHEME == "decree09" else 1, tz=LOCAL_TZ),
        catchup=True,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["tthc", "report", frequency.replace("_", "-")],
        doc_md=DOC.format(words=words, frequency=frequency, example=example),
        params={"period": Param(None, type=["null", "string"], pattern=pattern,
                                description=f"Kỳ {words}, ví dụ {example} (để trống: kỳ của khoảng dữ liệu)")},
    )
    def rollup_dag():
        @task.sensor(mode="reschedule", poke_interval=timedelta(hours=1), timeout=timedelta(days=45))
        def wait_for_months() -> PokeReturnValue:
            from tthc.orchestration import months_aggregated

            from tthc_airflow import task_settings

            progress = months_aggregated(task_settings(), rollup_label(get_current_context()))
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
