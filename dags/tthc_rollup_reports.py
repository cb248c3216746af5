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

Mỗi kỳ {words} chạy một lần (`ReportingPeriodTimetable("{frequency}")`); khoảng dữ liệu của lần chạy là
kỳ đó, theo Nghị định 09/2019/NĐ-CP: từ ngày 15 của tháng trước tháng đầu kỳ đến hết ngày 14 của tháng
cuối kỳ, ví dụ `{example}` (`TTHC_PERIOD_SCHEME=calendar` chuyển sang lịch dương). Ghi chú của lần
chạy ghi kỳ bằng chữ. Lần chạy thủ công xử lý kỳ ghi trong conf `{{"period": "{example}"}}`, nếu không
thì kỳ chứa ngày logic của nó; kỳ chưa kết thúc bị từ chối. Chạy lại nhiều kỳ:
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

Tổng hợp lại một tháng sau đó (bản sửa, backfill) tính lại các kỳ {words} đã tính có chứa tháng đó,
và `tthc_monthly_report` viết lại báo cáo của chúng. Bật DAG thì scheduler chạy bù mọi kỳ {words} đã
kết thúc sau lần chạy cuối.
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

        # One XCom each, the summary: `-> dict` alone would also push each of its keys (a request apiece).
        @task(multiple_outputs=False)
        def aggregate_rollup(progress: dict) -> dict:
            from tthc.orchestration import aggregate_rollup as aggregate

            from tthc_airflow import task_settings

            return aggregate(task_settings(), progress["rollup_period"])

        @task(on_success_callback=tthc_alerts("report_ready"), multiple_outputs=False)
        def write_rollup_report(summary: dict) -> dict:
            from tthc.orchestration import report_rollup

            from tthc_airflow import task_settings

            return report_rollup(task_settings(), summary["rollup_period"])

        write_rollup_report(aggregate_rollup(wait_for_months()))

    return rollup_dag()


for _frequency in ROLLUPS:
    _make_dag(_frequency)
