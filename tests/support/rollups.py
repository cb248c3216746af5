"""Hand-made monthly submissions and their roll-ups, as the roll-up tests make them
(tests/warehouse/test_rollups.py; the correction case also in tests/airflow/test_dag_runs.py and
tests/airflow/test_ops_scheduler.py)."""

from __future__ import annotations

import pytest
from docx import Document
from openpyxl import load_workbook

from tests.support.drive import write_csv
from tests.support.steps import run_period
from tthc import orchestration
from tthc.periods import Period
from tthc.settings import Settings


def settings_at(root, share=None, **env) -> Settings:
    share = share or root / "share"
    share.mkdir(parents=True, exist_ok=True)
    return Settings.from_env({"TTHC_DATA_DIR": str(root / "data"), "TTHC_SHARED_DRIVE": str(share), **env})


def submit(settings, unit: str, label: str, rows: list[tuple], suffix: str = "") -> None:
    """An on-time CSV (sent on the 10th of the period's last month)."""
    write_csv(settings.shared_drive, f"{label}/{unit}{suffix}.csv", unit, label, rows, mtime=f"{label}-10 09:00")


# --- a correction rewrites every report it changes ---------------------------------------------------------


def report_figures(xlsx: str, code: str) -> dict:
    """The TongHop row of indicator `code` in a report workbook, by column header."""
    ws = load_workbook(xlsx)["TongHop"]
    header = [c.value for c in ws[4]]
    return dict(zip(header, next(r for r in ws.iter_rows(min_row=5, values_only=True) if r[0] == code)))


def reported_quarter(root):
    """2025-01..04 aggregated, Q1 rolled up, and the 2025-03, 2025-04 and 2025-Q1 reports written."""
    settings = settings_at(root)
    submit(settings, "X-19363", "2025-01", [("NQ01-3", 10, 20)])
    submit(settings, "X-19363", "2025-03", [("NQ01-3", 5, 10)])
    submit(settings, "X-19363", "2025-04", [("NQ01-3", 8, 10)])
    for month in (1, 2, 3, 4):
        run_period(settings, Period(2025, month))
    orchestration.aggregate_rollup(settings, "2025-Q1")
    reports = {label: orchestration.write_report(settings, label) for label in ("2025-03", "2025-04", "2025-Q1")}
    april, q1 = report_figures(reports["2025-04"]["xlsx"], "NQ01-3"), report_figures(reports["2025-Q1"]["xlsx"], "NQ01-3")
    assert (april["Tử số lũy kế"], april["Mẫu số lũy kế"], q1["Tử số"], q1["Mẫu số"]) == (23, 40, 15, 30)
    # The unit corrects March (5/10 → 9/10) after April and the quarter were reported.
    write_csv(settings.shared_drive, "2025-03/X-19363-sua.csv", "X-19363", "2025-03", [("NQ01-3", 9, 10)],
              mtime="2025-04-20 09:00")
    return settings, reports


def check_rewritten(reports: dict) -> None:
    march, april = report_figures(reports["2025-03"]["xlsx"], "NQ01-3"), report_figures(reports["2025-04"]["xlsx"], "NQ01-3")
    q1 = report_figures(reports["2025-Q1"]["xlsx"], "NQ01-3")
    assert (march["Tử số"], march["Mẫu số"]) == (9, 10)
    assert (april["Tử số"], april["Tử số lũy kế"], april["Mẫu số lũy kế"]) == (8, 27, 40)  # 10 + 9 + 8
    assert (q1["Tử số"], q1["Mẫu số"], q1["Tỷ lệ quý"]) == (19, 30, pytest.approx(19 / 30))
    table = next([[c.text for c in r.cells] for r in t.rows] for t in Document(reports["2025-04"]["docx"]).tables
                 if t.rows[0].cells[0].text == "STT" and t.rows[0].cells[1].text == "Mã")
    assert next(r for r in table if r[1] == "NQ01-3")[5:7] == ["80,0%", "67,5%"]  # the month, the year to date
