"""tthc.alerts: what each alert says, from plain values, without Airflow."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timezone

import pytest

from tthc.alerts import (Alert, deadline_missed_alert, first_line, report_ready_alert, run_deadline_alert,
                         task_failed_alert)
from tthc.calendar import DEFAULT_CALENDAR
from tthc.periods import Period


def test_the_message_model_never_imports_airflow():
    code = "import sys, tthc.alerts; print('AIRFLOW=' + ','.join(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "AIRFLOW="


def test_task_failed_names_period_task_unit_and_the_first_line_of_the_error():
    error = ConnectionError("máy chủ 10.0.0.5 từ chối\nTraceback dòng thứ hai")
    alert = task_failed_alert(error, period=Period(2025, 3), unit="VL-YT", dag_id="d", run_id="r",
                              task_id="load_warehouse", try_number=2, map_index=4)
    assert alert.message_vi == "[TTHC] Kỳ 2025-03: tác vụ load_warehouse (đơn vị VL-YT) thất bại — máy chủ 10.0.0.5 từ chối"
    assert alert.details == ("Lỗi: ConnectionError: máy chủ 10.0.0.5 từ chối", "Lần thử: 2",
                             "Chỉ số ánh xạ (map index): 4")
    assert alert.payload() == {"event": "task_failed", "period": "2025-03", "dag_id": "d", "run_id": "r",
                               "task_id": "load_warehouse", "unit": "VL-YT", "message_vi": alert.message_vi,
                               "reports": {}, "error": "máy chủ 10.0.0.5 từ chối", "error_type": "ConnectionError"}
    assert "dòng thứ hai" not in alert.text() and "Tác vụ: load_warehouse" in alert.text()
    # No period known, no error text: still a message that says so.
    bare = task_failed_alert(RuntimeError(), task_id="t")
    assert bare.message_vi == "[TTHC] Kỳ (không xác định): tác vụ t thất bại — RuntimeError"
    assert first_line("x" * 400).endswith("…") and len(first_line("x" * 400)) == 300


def test_report_ready_lists_the_files_and_the_summary():
    alert = report_ready_alert({"period": "2025-02", "docx": "/r/2025-02/a.docx", "xlsx": "/r/2025-02/a.xlsx",
                                "indicators": 12, "ignored": "x"}, period="2025-09", task_id="write_monthly_report")
    assert alert.message_vi == "[TTHC] Báo cáo kỳ 2025-02 đã sẵn sàng: /r/2025-02/a.docx, /r/2025-02/a.xlsx"
    assert alert.payload()["summary"] == {"indicators": 12}
    # A result without a period: the run's.
    assert report_ready_alert(None, period="2025-09").message_vi == \
        "[TTHC] Báo cáo kỳ 2025-09 đã sẵn sàng: (không có tệp)"


def test_deadline_missed_shows_the_last_day_on_time():
    missing = [("VL-YT", "Phòng Y tế")]
    expected = "[TTHC] Kỳ 2025-03: hết hạn nộp báo cáo (19/03/2025), còn 1 đơn vị chưa nộp: Phòng Y tế (VL-YT)"
    # The calendar's Deadline, its last day as a date or ISO text, or none (the period's own).
    for deadline in (DEFAULT_CALENDAR.deadline(Period(2025, 3)), date(2025, 3, 19), "2025-03-19", None):
        assert deadline_missed_alert("2025-03", missing, deadline).message_vi == expected, deadline
    # 2026-02 closes on Saturday 14/02/2026, right before Tết (16–20/02 off): three working days later is 25/02.
    assert deadline_missed_alert("2026-02", missing, calendar=DEFAULT_CALENDAR).message_vi.startswith(
        "[TTHC] Kỳ 2026-02: hết hạn nộp báo cáo (25/02/2026)")


def test_run_deadline_names_the_run_and_airflows_alert_time():
    alert = run_deadline_alert("2025-03", run_id="scheduled__2025-03", dag_id="tthc_monthly_shared_drive",
                               alert_time=datetime(2025, 3, 20, 2, 30, tzinfo=timezone.utc))
    assert alert.event == "deadline_missed" and alert.payload()["deadline"] == "2025-03-19"
    assert alert.message_vi == ("[TTHC] Kỳ 2025-03: hết hạn nộp báo cáo (19/03/2025), lượt chạy scheduled__2025-03 "
                                "chưa hoàn tất (mốc cảnh báo 09:30 20/03/2025)")


def test_a_subject_is_one_line_and_events_are_checked():
    # A reason or unit name carrying a line break would forge mail headers or log lines.
    alert = deadline_missed_alert("2025-03", [("X", "Xã\r\nBcc: ai@ngoai.vn")], date(2025, 3, 19))
    assert "\n" not in alert.message_vi and "\r" not in alert.message_vi
    assert alert.message_vi.endswith("Xã Bcc: ai@ngoai.vn (X)")
    with pytest.raises(ValueError, match="unknown alert event 'task_exploded'"):
        Alert(event="task_exploded", message_vi="x")
