"""The pipeline on exact, hand-made submissions: arithmetic, statuses, idempotency, atomic loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime

import pytest
from sqlalchemy import text

from tests.support.drive import set_mtime, write_csv
from tests.support.steps import rows
from tests.support.steps import run_period as run
from tthc import orchestration
from tthc.catalogue import load_catalogue
from tthc.periods import LOCAL_TZ, Period
from tthc.warehouse import WarehouseError

MAR = Period(2025, 3)
APR = Period(2025, 4)
# Decree 09, 3 working days: 2025-03 closes 14/03 (Fri) → on time until Wed 19/03 23:59:59.
ON_TIME = "2025-03-12 09:00"
LATE = "2025-03-20 08:00"


def area(settings, period, code):
    (row,) = rows(settings, "SELECT * FROM mart_area_kpi_monthly WHERE period = :p AND indicator_code = :c",
                  p=period.label, c=code)
    return row


def status(settings, period):
    return {r["unit_code"]: r for r in rows(settings, "SELECT * FROM mart_submission_status WHERE period = :p",
                                            p=period.label)}


@pytest.fixture
def march_drive(tthc_env):
    share = tthc_env.shared_drive
    write_csv(share, "2025-03/X-19363.csv", "X-19363", "2025-03",
              [("NQ01-3", 30, 40, "75%"), ("NQ01-1", 50, 60), ("NQ02-6", 0, 0), ("NQ01-5", 9, 10)], mtime=ON_TIME)
    write_csv(share, "xa/ben quan.csv", "X-19366", "2025-03",
              [("NQ01-3", 10, 60), ("NQ01-1", 20, 20), ("NQ02-6", 0, 0), ("NQ02-5", 10, 10)], mtime=LATE,
              delimiter=";", encoding="cp1258")
    write_csv(share, "2025-03/VL-TP.csv", "VL-TP", "2025-03", [("NQ01-3", 130, 120)], mtime=ON_TIME)
    write_csv(share, "2025-03/VL-NV.csv", "VL-NV", "2025-03", [("NQ01-3", 1, 2)], mtime="2025-03-10 08:00")
    # A correction: the newer file counts, the older stays in the audit trail.
    write_csv(share, "2025-03/VL-NV-sua.csv", "VL-NV", "2025-03", [("NQ01-3", 2, 2)], mtime="2025-03-11 08:00")
    write_csv(share, "khac/ZZ.csv", "ZZ-1", "2025-03", [("NQ01-3", 1, 2)], mtime=ON_TIME)
    (share / "ghi chu.txt").write_text("không phải báo cáo")
    return tthc_env


def test_area_rate_is_sum_of_numerators_over_sum_of_denominators(march_drive):
    run(march_drive, MAR)
    a = area(march_drive, MAR, "NQ01-3")
    # X-19363 30/40, X-19366 10/60, VL-NV 2/2 (corrected); VL-TP rejected.
    assert (a["numerator"], a["denominator"]) == (42, 102)
    assert a["value_pct"] == pytest.approx(100 * 42 / 102)
    assert a["units_reported"] == 3 and a["units_expected"] == len(load_catalogue(march_drive).units_in(MAR))
    assert not a["meets_target"]  # 41.2 % < 50 %


def test_zero_over_zero_is_no_activity_not_zero_percent(march_drive):
    run(march_drive, MAR)
    a = area(march_drive, MAR, "NQ02-6")
    assert (a["numerator"], a["denominator"], a["value_pct"], a["meets_target"]) == (0, 0, None, None)
    assert a["units_reported"] == 2  # 0/0 is a reported figure
    unit = rows(march_drive, "SELECT * FROM mart_unit_kpi_monthly WHERE unit_code = 'X-19363' AND indicator_code = 'NQ02-6'")
    assert unit[0]["value_pct"] is None and unit[0]["meets_target"] is None


def test_targets_and_the_nq01_5_nq02_5_twin(march_drive):
    run(march_drive, MAR)
    nq015, nq025 = area(march_drive, MAR, "NQ01-5"), area(march_drive, MAR, "NQ02-5")
    assert (nq015["numerator"], nq015["denominator"]) == (19, 20)
    assert (nq025["numerator"], nq025["denominator"]) == (19, 20)
    assert nq015["target_pct"] == 100 and nq015["comparator"] == "=" and not nq015["meets_target"]
    nq011 = area(march_drive, MAR, "NQ01-1")
    assert nq011["target_pct"] == 80 and nq011["stretch_pct"] == 100 and nq011["meets_target"]  # 70/80


def test_statuses_and_reasons(march_drive):
    run(march_drive, MAR)
    s = status(march_drive, MAR)
    assert s["X-19363"]["status"] == "on_time"
    assert s["X-19366"]["status"] == "late"
    assert s["VL-NV"]["status"] == "on_time" and s["VL-NV"]["file"] == "2025-03/VL-NV-sua.csv"
    assert s["VL-NV"]["versions"] == 2
    assert s["VL-TP"]["status"] == "rejected"
    assert "tử số 130 lớn hơn mẫu số 120" in s["VL-TP"]["reasons"]
    assert s["ZZ-1"]["status"] == "rejected" and "ZZ-1" in s["ZZ-1"]["reasons"]
    assert s["VL-YT"]["status"] == "missing" and s["VL-YT"]["file"] is None
    assert sum(1 for r in s.values() if r["status"] == "missing") == len(load_catalogue(march_drive).units_in(MAR)) - 4
    ignored = rows(march_drive, "SELECT path FROM ignored_file")
    assert ignored == [{"path": "ghi chu.txt"}]


def test_an_on_time_submission_corrected_after_the_deadline_stays_on_time(march_drive):
    share = march_drive.shared_drive
    write_csv(share, "2025-03/X-19363-sua.csv", "X-19363", "2025-03",
              [("NQ01-3", 35, 40), ("NQ01-1", 50, 60), ("NQ02-6", 0, 0), ("NQ01-5", 9, 10)], mtime=LATE)
    # A late first file corrected later stays late.
    write_csv(share, "xa/ben quan-sua.csv", "X-19366", "2025-03",
              [("NQ01-3", 12, 60), ("NQ01-1", 20, 20), ("NQ02-6", 0, 0), ("NQ02-5", 10, 10)],
              mtime="2025-03-24 10:00")
    run(march_drive, MAR)
    s = status(march_drive, MAR)
    assert (s["X-19363"]["status"], s["X-19363"]["versions"], s["X-19363"]["file"]) == (
        "on_time", 2, "2025-03/X-19363-sua.csv")
    assert s["X-19363"]["received_at"].startswith("2025-03-20T08:00")  # the correction's time
    assert (s["X-19366"]["status"], s["X-19366"]["versions"]) == ("late", 2)
    assert area(march_drive, MAR, "NQ01-3")["numerator"] == 35 + 12 + 2  # the corrections count


def test_year_to_date_sums_months_and_keeps_latest_for_the_catalogue(march_drive):
    share = march_drive.shared_drive
    write_csv(share, "2025-04/X-19363.csv", "X-19363", "2025-04", [("NQ01-3", 20, 20), ("NQ01-1", 55, 60)],
              mtime="2025-04-14 10:00")
    run(march_drive, MAR)
    run(march_drive, APR)
    (u,) = rows(march_drive, "SELECT * FROM mart_unit_kpi_monthly WHERE period = '2025-04' AND unit_code = 'X-19363' "
                             "AND indicator_code = 'NQ01-3'")
    assert (u["numerator"], u["denominator"], u["ytd_numerator"], u["ytd_denominator"]) == (20, 20, 50, 60)
    (c,) = rows(march_drive, "SELECT * FROM mart_unit_kpi_monthly WHERE period = '2025-04' AND unit_code = 'X-19363' "
                             "AND indicator_code = 'NQ01-1'")
    assert (c["ytd_numerator"], c["ytd_denominator"]) == (55, 60)  # a stock: April's catalogue, not Mar + Apr
    a = area(march_drive, APR, "NQ01-3")
    # Area YTD includes March figures of units that did not report in April.
    assert (a["ytd_numerator"], a["ytd_denominator"]) == (42 + 20, 102 + 20)


def test_rerunning_an_earlier_month_refreshes_later_year_to_date(march_drive):
    share = march_drive.shared_drive
    write_csv(share, "2025-04/X-19363.csv", "X-19363", "2025-04", [("NQ01-3", 20, 20)], mtime="2025-04-14 10:00")
    run(march_drive, APR)
    assert area(march_drive, APR, "NQ01-3")["ytd_denominator"] == 20
    run(march_drive, MAR)
    assert area(march_drive, APR, "NQ01-3")["ytd_denominator"] == 122


TABLES = ["core_submission", "core_unit_indicator", "mart_unit_kpi_monthly", "mart_area_kpi_monthly",
          "mart_submission_status", "validation_result", "stg_submission", "stg_submission_row", "raw_file",
          "ref_period_unit_indicator"]


def snapshot(settings):
    return {t: sorted(json.dumps(r, sort_keys=True, default=str) for r in rows(settings, f"SELECT * FROM {t}"))
            for t in TABLES}


def test_running_a_period_twice_gives_identical_tables(march_drive):
    run(march_drive, MAR)
    first = snapshot(march_drive)
    summary = orchestration.ingest_shared_drive(march_drive)
    assert summary["unchanged"] == 6 and summary["new_versions"] == 0  # no file read twice
    run(march_drive, MAR)
    assert snapshot(march_drive) == first


def test_a_failed_load_leaves_the_warehouse_as_it_was(march_drive, monkeypatch):
    run(march_drive, MAR)
    before = snapshot(march_drive)
    write_csv(march_drive.shared_drive, "2025-03/VL-YT.csv", "VL-YT", "2025-03", [("NQ01-3", 5, 5)], mtime=ON_TIME)
    orchestration.ingest_shared_drive(march_drive)
    orchestration.validate_period(march_drive, MAR)
    before_load = snapshot(march_drive)
    from tthc.warehouse import load as warehouse_load

    real = warehouse_load.execute_file

    def failing(conn, name, **params):
        real(conn, name, **params)
        if name == "models/core_unit_indicator":
            conn.execute(text("SELECT * FROM no_such_table"))

    monkeypatch.setattr(warehouse_load, "execute_file", failing)
    with pytest.raises(WarehouseError, match="no_such_table"):
        orchestration.load_period(march_drive, MAR)
    assert snapshot(march_drive) == before_load
    assert before_load["core_submission"] == before["core_submission"]


def test_the_same_content_at_two_paths_is_read_once(march_drive):
    share = march_drive.shared_drive
    (share / "copy").mkdir()
    (share / "copy" / "X-19363.csv").write_bytes((share / "2025-03/X-19363.csv").read_bytes())
    set_mtime(share / "copy" / "X-19363.csv", ON_TIME)
    summary = orchestration.ingest_shared_drive(march_drive)
    assert summary["new_versions"] == 6 and summary["known_content"] == 1
    archived = list((march_drive.archive_dir / "shared_drive").rglob("*.csv"))
    assert len(archived) == 6


def test_unreadable_period_is_listed_in_the_collection_window(march_drive):
    share = march_drive.shared_drive
    path = write_csv(share, "2025-03/VL-YT.csv", "VL-YT", "2025-03", [("NQ01-3", 5, 5)], mtime=ON_TIME)
    path.write_text(path.read_text(encoding="utf-8-sig").replace("03/2025", "13/2025"), encoding="utf-8")
    set_mtime(path, ON_TIME)
    run(march_drive, MAR)
    s = status(march_drive, MAR)
    assert s["VL-YT"]["status"] == "rejected"
    assert "13/2025" in s["VL-YT"]["reasons"]


def test_cli_export_and_status(march_drive):
    run(march_drive, MAR)
    env = {"TTHC_DATA_DIR": str(march_drive.data_dir), "TTHC_SHARED_DRIVE": str(march_drive.shared_drive),
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "tthc.cli", "export", "--period", "2025-03", "--level", "area",
                          "--format", "csv"], capture_output=True, text=True, env=env, check=True).stdout
    lines = out.strip().splitlines()
    assert lines[0].startswith("period,indicator_code,indicator_name,numerator,denominator,value_pct")
    assert [l.split(",")[1] for l in lines[1:]] == [
        "NQ01-1", "NQ01-2", "NQ01-3", "NQ01-4", "NQ01-5", "NQ01-6.1", "NQ01-6.2", "NQ02-1", "NQ02-2",
        "NQ02-3", "NQ02-4", "NQ02-5", "NQ02-6", "NQ02-7", "TDGQ-1"]
    status_rows = json.loads(subprocess.run(
        [sys.executable, "-m", "tthc.cli", "status", "--period", "2025-03", "--format", "json"],
        capture_output=True, text=True, env=env, check=True).stdout)
    by_unit = {r["unit_code"]: r for r in status_rows}
    assert by_unit["X-19366"]["status"] == "late"
    # Times to the minute, local time (the share's mtime may carry microseconds).
    assert (by_unit["X-19366"]["received_at"], by_unit["X-19366"]["deadline"]) == (
        "2025-03-20T08:00+07:00", "2025-03-20T00:00+07:00")
    unit_rows = json.loads(subprocess.run(
        [sys.executable, "-m", "tthc.cli", "export", "--period", "2025-03", "--level", "unit", "--format", "json"],
        capture_output=True, text=True, env=env, check=True).stdout)
    twin = [r for r in unit_rows if r["unit_code"] == "X-19366" and r["indicator_code"] in ("NQ01-5", "NQ02-5")]
    assert [(r["numerator"], r["denominator"], r["meets_target"]) for r in twin] == [(10, 10, True)] * 2

    # A reader that leaves early (`tthc status | head`) is not an error: no traceback, no message.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run([sys.executable, "-m", "tthc.cli", "status", "--period", "2025-03"],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, env=env)
    finally:
        os.close(write_end)
    assert (proc.returncode, proc.stderr) == (0, "")


def test_cli_reports_a_broken_warehouse_in_one_line(tthc_env):
    env = {"TTHC_DATA_DIR": str(tthc_env.data_dir), "TTHC_WAREHOUSE_URL": "postgresql+psycopg2://nobody@127.0.0.1:1/x",
           "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "tthc.cli", "status", "--period", "2025-03"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert proc.stderr.startswith("tthc: warehouse postgresql+psycopg2://nobody@127.0.0.1:1/x: OperationalError")
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.postgres
def test_the_same_figures_on_postgresql(march_drive, pg_url):
    sqlite_settings = march_drive
    run(sqlite_settings, MAR)
    pg_settings = sqlite_settings.with_(warehouse_url=pg_url)
    run(pg_settings, MAR)
    run(pg_settings, MAR)  # idempotent there too
    for t in ("mart_area_kpi_monthly", "mart_unit_kpi_monthly", "mart_submission_status"):
        lite = rows(sqlite_settings, f"SELECT * FROM {t} ORDER BY 1, 2, 3")
        pg = rows(pg_settings, f"SELECT * FROM {t} ORDER BY 1, 2, 3")
        assert _comparable(pg) == _comparable(lite), t


def _comparable(rs):
    def norm(v):
        if isinstance(v, bool):
            return int(v)
        if isinstance(v, float):
            return round(v, 9)
        return v
    return sorted(json.dumps({k: norm(v) for k, v in r.items()}, sort_keys=True, default=str) for r in rs)


def test_progress_lists_missing_units_until_the_deadline(march_drive):
    before = orchestration.submission_progress(march_drive, MAR, now=datetime(2025, 3, 19, 23, 0, tzinfo=LOCAL_TZ))
    expected = len(load_catalogue(march_drive).units_in(MAR))
    assert (before["expected"], before["received"], before["deadline_passed"]) == (expected, 3, False)
    assert ["VL-YT", "Phòng Y tế"] in before["missing"] and ["VL-TP", "Phòng Tư pháp"] in before["missing"]
    assert before["deadline"] == "2025-03-19"  # the last day on time (the calendar's Deadline.last_day)
    after = orchestration.submission_progress(march_drive, MAR, now=datetime(2025, 3, 20, 0, 0, tzinfo=LOCAL_TZ))
    assert after["deadline_passed"] is True


def test_2026_02_deadline_skips_tet_in_the_status_and_the_report(tthc_env):
    """2026-02 closes on Saturday 14/02/2026; Tết days off are 16–20/02: files are on time until the
    end of Wednesday 25/02 (on weekdays alone, 18/02)."""
    feb = Period(2026, 2)
    share = tthc_env.shared_drive
    write_csv(share, "2026-02/XM-19363.csv", "XM-19363", "2026-02", [("NQ01-3", 3, 4)], mtime="2026-02-24 15:00")
    write_csv(share, "2026-02/XM-19366.csv", "XM-19366", "2026-02", [("NQ01-3", 3, 4)], mtime="2026-02-26 08:00")
    run(tthc_env, feb)
    (period,) = rows(tthc_env, "SELECT deadline FROM ref_period WHERE period = '2026-02'")
    assert str(period["deadline"]).startswith("2026-02-26T00:00:00")
    got = status(tthc_env, feb)
    assert (got["XM-19363"]["status"], got["XM-19366"]["status"]) == ("on_time", "late")
    result = orchestration.report_period(tthc_env, feb)
    from docx import Document

    words = "\n".join(p.text for p in Document(result["docx"]).paragraphs)
    assert "Hạn gửi báo cáo: hết ngày 25/02/2026." in words


def test_a_late_or_corrected_file_reruns_only_its_already_reported_period(march_drive):
    run(march_drive, MAR)
    assert orchestration.periods_to_rerun(march_drive) == []
    share = march_drive.shared_drive
    write_csv(share, "2025-03/VL-YT.csv", "VL-YT", "2025-03", [("NQ01-3", 5, 5)], mtime="2025-03-25 08:00")
    write_csv(share, "2025-04/VL-YT.csv", "VL-YT", "2025-04", [("NQ01-3", 5, 5)], mtime="2025-04-10 08:00")
    assert orchestration.periods_to_rerun(march_drive) == ["2025-03"]  # April has not been reported yet
    run(march_drive, MAR)
    assert status(march_drive, MAR)["VL-YT"]["status"] == "late"
    assert orchestration.periods_to_rerun(march_drive) == []


def test_a_late_file_read_by_another_periods_run_still_reruns_its_period(march_drive):
    """April's run ingests the whole share, March's late file included: the watcher must still see it."""
    run(march_drive, MAR)
    write_csv(march_drive.shared_drive, "2025-03/VL-YT.csv", "VL-YT", "2025-03", [("NQ01-3", 5, 5)],
              mtime="2025-03-25 08:00")
    run(march_drive, APR)
    assert orchestration.periods_to_rerun(march_drive) == ["2025-03"]


def test_files_checked_together_get_the_verdicts_and_reasons_of_their_own_runs(tthc_env):
    """validate_period checks a period's files in one GX run: each file's outcome is the one the suite
    gives it alone, whatever the other files hold (a code valid for one unit, not for another)."""
    from tthc.checks.submissions import validate_submission, validate_submissions
    from tthc.warehouse import query, transaction

    share = tthc_env.shared_drive
    files = {
        "X-19363": [("NQ01-3", 30, 40, "75%"), ("NQ01-6.2", 5, 6)],      # a commune's own indicator
        "VL-NV": [("NQ01-3", 1, 2), ("NQ01-6.2", 5, 6)],                 # ... not a department's
        "X-19366": [("NQ01-3", 10, 60), ("NQ01-3", 1, 2)],               # twice in one file
        "X-19369": [("NQ01-3", 3, 4), ("NQ01-1", 6, 5), ("ZZ-9", 1, 1)],  # num > den, unknown code
        "VL-TP": [("NQ01-3", "1,5", 2), ("NQ01-1", 1, 2, "80%")],        # not a count, wrong rate
        "VL-VP": [("NQ01-3", 1, 2), ("NQ01-6.1", 1, 2)],                 # valid, beside the others
    }
    for unit, table in files.items():
        write_csv(share, f"2025-03/{unit}.csv", unit, "2025-03", table, mtime=ON_TIME)
    orchestration.ingest_shared_drive(tthc_env)
    catalogue = load_catalogue(tthc_env)
    with transaction(tthc_env.warehouse_url) as conn:
        subs = query(conn, "queries/submissions_to_validate", period="2025-03", window_start="2025-01-01",
                     window_end="2025-04-01")
        rows = query(conn, "queries/submission_rows_of_period", period="2025-03")
    pairs = [(s, [r for r in rows if r["file_hash"] == s["file_hash"]]) for s in subs if s["parse_outcome"] == "parsed"]
    assert len(pairs) == len(files)  # none rejected by the parser: every rule here is the suite's
    together, run = validate_submissions(pairs, catalogue, MAR, tthc_env.calendar)
    verdicts = {}
    for sub, sub_rows in pairs:
        alone = validate_submission(sub, sub_rows, catalogue, MAR, tthc_env.calendar)
        outcome = together[sub["file_hash"]]
        assert (outcome.accepted, outcome.reasons) == (alone.accepted, alone.reasons)
        verdicts[sub["unit_code"]] = alone.accepted
    assert verdicts == {"X-19363": True, "VL-NV": False, "X-19366": False, "X-19369": False, "VL-TP": False,
                        "VL-VP": True}
    assert sorted(run["file_hashes"]) == sorted(s["file_hash"] for s, _ in pairs)
