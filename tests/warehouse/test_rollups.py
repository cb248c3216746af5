"""Quarterly, half-year and annual roll-ups and the reorganisation of 01/07/2025, on hand-made
submissions: Σnum/Σden over the months, 0/0, NQ01-1 (a stock) taking the latest month, the year
against the plan's stretch targets, old communes' figures under their successors (never by GSO code),
the expected units before and after the change, backfills in any order, and the roll-up reports."""

from __future__ import annotations

import json
import shutil

import pytest
from docx import Document
from openpyxl import load_workbook

from tests.support.rollups import check_rewritten, reported_quarter, settings_at, submit
from tests.support.steps import rows, run_period
from tthc import orchestration
from tthc.calendar import DEFAULT_CALENDAR
from tthc.periods import Period, RollupPeriod
from tthc.settings import DEFAULT_CATALOGUE_DIR
from tthc.warehouse import get_engine


def area(settings, rollup: str, code: str) -> dict:
    (row,) = rows(settings, "SELECT * FROM mart_area_kpi_rollup WHERE rollup_period = :r AND indicator_code = :c",
                  r=rollup, c=code)
    return row


def unit(settings, rollup: str, unit_code: str, code: str) -> dict | None:
    found = rows(settings, "SELECT * FROM mart_unit_kpi_rollup WHERE rollup_period = :r AND unit_code = :u "
                           "AND indicator_code = :c", r=rollup, u=unit_code, c=code)
    return found[0] if found else None


def monthly_unit(settings, period: str, unit_code: str, code: str) -> dict | None:
    found = rows(settings, "SELECT * FROM mart_unit_kpi_monthly WHERE period = :p AND unit_code = :u "
                           "AND indicator_code = :c", p=period, u=unit_code, c=code)
    return found[0] if found else None


def test_rollup_labels_and_decree09_bounds():
    q1, h2, year = RollupPeriod.parse("2025-Q1"), RollupPeriod.parse("2025-H2"), RollupPeriod.parse("2025")
    assert [p.label for p in q1.months] == ["2025-01", "2025-02", "2025-03"]
    assert [p.label for p in h2.months][0] == "2025-07" and len(year.months) == 12
    start, end = DEFAULT_CALENDAR.bounds(year)
    assert (start.isoformat(), end.isoformat()) == ("2024-12-15T00:00:00+07:00", "2025-12-15T00:00:00+07:00")
    assert (q1.title_vi(), h2.title_vi(), year.title_vi()) == ("quý I năm 2025", "6 tháng cuối năm 2025", "năm 2025")


# --- a quarter ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quarter(tmp_path_factory):
    settings = settings_at(tmp_path_factory.mktemp("quarter"))
    submit(settings, "X-19363", "2025-01", [("NQ01-3", 10, 20), ("NQ01-1", 50, 60), ("NQ02-6", 0, 0)])
    submit(settings, "X-19363", "2025-02", [("NQ01-3", 5, 10), ("NQ02-6", 0, 0)])
    submit(settings, "X-19363", "2025-03", [("NQ01-3", 0, 0), ("NQ01-1", 55, 60), ("NQ02-6", 0, 0)])
    submit(settings, "VL-TP", "2025-01", [("NQ01-3", 3, 4)])
    submit(settings, "VL-TP", "2025-02", [("NQ01-1", 20, 30)])
    for month in (1, 2, 3):
        run_period(settings, Period(2025, month))
    orchestration.aggregate_rollup(settings, "2025-Q1")
    yield settings
    get_engine(settings.warehouse_url).dispose()


def test_quarter_is_the_sum_of_its_months(quarter):
    a = area(quarter, "2025-Q1", "NQ01-3")
    assert (a["numerator"], a["denominator"]) == (18, 34)
    assert a["value_pct"] == pytest.approx(100 * 18 / 34) and a["meets_target"]  # 52.9 % ≥ 50
    monthly = rows(quarter, "SELECT SUM(numerator) AS n, SUM(denominator) AS d FROM mart_area_kpi_monthly "
                            "WHERE indicator_code = 'NQ01-3' AND period BETWEEN '2025-01' AND '2025-03'")[0]
    assert (monthly["n"], monthly["d"]) == (18, 34)
    assert (a["units_reported"], a["units_expected"]) == (2, 30)
    assert (a["unit_months_reported"], a["unit_months_expected"], a["months_aggregated"]) == (4, 90, 3)
    assert (a["first_period"], a["last_period"], a["frequency"]) == ("2025-01", "2025-03", "quarter")
    assert a["meets_stretch"] is None  # stretch targets are for the year only
    # The year to date at the quarter's end is March's.
    march = rows(quarter, "SELECT ytd_numerator, ytd_denominator FROM mart_area_kpi_monthly "
                          "WHERE period = '2025-03' AND indicator_code = 'NQ01-3'")[0]
    assert (a["ytd_numerator"], a["ytd_denominator"]) == (march["ytd_numerator"], march["ytd_denominator"])
    u = unit(quarter, "2025-Q1", "X-19363", "NQ01-3")
    assert (u["numerator"], u["denominator"], u["months_reported"], u["predecessor_units"]) == (15, 30, 3, 0)


def test_zero_over_zero_stays_not_applicable(quarter):
    a = area(quarter, "2025-Q1", "NQ02-6")
    assert (a["numerator"], a["denominator"], a["value_pct"], a["meets_target"]) == (0, 0, None, None)
    assert a["units_reported"] == 1
    u = unit(quarter, "2025-Q1", "X-19363", "NQ02-6")
    assert (u["value_pct"], u["meets_target"]) == (None, None)


def test_the_catalogue_stock_takes_each_units_latest_month(quarter):
    # X-19363: March's 55/60, not Jan + Mar; VL-TP: February's 20/30 (its latest).
    assert (unit(quarter, "2025-Q1", "X-19363", "NQ01-1")["numerator"],
            unit(quarter, "2025-Q1", "X-19363", "NQ01-1")["denominator"]) == (55, 60)
    a = area(quarter, "2025-Q1", "NQ01-1")
    assert (a["numerator"], a["denominator"]) == (75, 90)


def test_a_rollup_waits_for_all_its_months(quarter):
    assert orchestration.months_aggregated(quarter, "2025-Q2")["missing"] == ["2025-04", "2025-05", "2025-06"]
    with pytest.raises(orchestration.MonthsNotAggregated, match="2025-04"):
        orchestration.aggregate_rollup(quarter, "2025-Q2")


def test_a_quarter_report_in_word_and_excel(quarter):
    result = orchestration.report_rollup(quarter, "2025-Q1")
    folder = quarter.reports_dir / "2025-Q1"
    assert result["docx"] == str(folder / "BaoCao_TTHC_2025-Q1.docx")
    assert result["xlsx"] == str(folder / "BaoCao_TTHC_2025-Q1.xlsx")
    assert result["months"] == ["2025-01", "2025-02", "2025-03"]
    doc = Document(result["docx"])
    texts = [p.text for p in doc.paragraphs]
    assert "Kết quả thực hiện các chỉ tiêu cải cách thủ tục hành chính quý I năm 2025" in texts
    assert ("(Quý I năm 2025 (từ 15/12/2024 đến 14/03/2025, tháng 01–03/2025, theo Nghị định "
            "09/2019/NĐ-CP))") in texts
    assert any(t.startswith("Trên đây là báo cáo kết quả thực hiện các chỉ tiêu cải cách thủ tục hành chính "
                            "quý I năm 2025") for t in texts)
    table = next([[c.text for c in r.cells] for r in t.rows] for t in doc.tables
                 if t.rows[0].cells[0].text == "STT" and t.rows[0].cells[1].text == "Mã")
    assert table[0][5:7] == ["Quý (%)", "Lũy kế (%)"]
    nq013 = next(r for r in table if r[1] == "NQ01-3")
    assert nq013[3:6] == ["18", "34", "52,9%"]
    assert len(doc.inline_shapes) == 2  # the indicators against targets, and the monthly trend
    wb = load_workbook(result["xlsx"])
    assert wb.sheetnames == ["TongHop", "PhongBan", "Xa", "ThiTran", "TinhTrangNop", "ChenhLech", "XuHuong"]
    assert wb["TongHop"]["A1"].value == "Kết quả các chỉ tiêu cải cách TTHC của huyện quý I năm 2025"
    header = [c.value for c in wb["TongHop"][4]]
    record = dict(zip(header, next(r for r in wb["TongHop"].iter_rows(min_row=5, values_only=True)
                                   if r[0] == "NQ01-3")))
    assert (record["Tử số"], record["Mẫu số"], record["Tỷ lệ quý"]) == (18, 34, pytest.approx(18 / 34))
    assert "Mục tiêu cuối năm" not in header  # the year only
    trend = {r[0]: r[2:] for r in wb["XuHuong"].iter_rows(min_row=5, values_only=True)}
    assert trend["NQ01-3"] == (pytest.approx(13 / 24), pytest.approx(5 / 10), None)


def test_re_aggregating_a_month_refreshes_the_rollup(tmp_path):
    settings = settings_at(tmp_path)
    submit(settings, "X-19363", "2025-01", [("NQ01-3", 10, 20)])
    for month in (1, 2, 3):
        run_period(settings, Period(2025, month))
    orchestration.aggregate_rollup(settings, "2025-Q1")
    submit(settings, "X-19363", "2025-02", [("NQ01-3", 7, 10)])  # a late month's file
    run_period(settings, Period(2025, 2))
    a = area(settings, "2025-Q1", "NQ01-3")
    assert (a["numerator"], a["denominator"]) == (17, 30)
    get_engine(settings.warehouse_url).dispose()


# --- a correction rewrites every report it changes ---------------------------------------------------------


def test_a_correction_through_tthc_run_rewrites_the_later_month_and_the_quarter(tmp_path):
    import subprocess
    import sys

    settings, reports = reported_quarter(tmp_path)
    env = {"TTHC_DATA_DIR": str(settings.data_dir), "TTHC_SHARED_DRIVE": str(settings.shared_drive),
           "PATH": "/usr/bin:/bin"}
    summary = json.loads(subprocess.run([sys.executable, "-m", "tthc.cli", "run", "--period", "2025-03"],
                                        capture_output=True, text=True, env=env, check=True).stdout)
    assert (summary["aggregate"]["refreshed_later_periods"], summary["aggregate"]["refreshed_rollups"]) == (
        ["2025-04"], ["2025-Q1"])
    assert summary["report"]["docx"] == reports["2025-03"]["docx"]
    assert [(r["period"], r["docx"]) for r in summary["refreshed_reports"]] == [
        ("2025-04", reports["2025-04"]["docx"]), ("2025-Q1", reports["2025-Q1"]["docx"])]
    check_rewritten(reports)
    get_engine(settings.warehouse_url).dispose()


def test_reports_changed_by_names_each_report_once_months_first():
    changes = [{"period": "2025-03", "refreshed_later_periods": ["2025-04", "2025-05"],
                "refreshed_rollups": ["2025", "2025-Q1", "2025-H1"]},
               {"period": "2025-05", "refreshed_later_periods": [], "refreshed_rollups": ["2025"]},
               {"period": "2025-02"}]  # an event from before roll-ups were named
    assert orchestration.reports_changed_by(changes) == [
        "2025-02", "2025-03", "2025-04", "2025-05", "2025-Q1", "2025-H1", "2025"]


# --- the year across the reorganisation ------------------------------------------------------------------


def year_submissions(settings) -> None:
    # Old Vĩnh Lâm (X-19405) and new Vĩnh Thủy (XM-19405) share GSO code 19405; old Vĩnh Thủy
    # (X-19402, GSO 19402) also merges into new Vĩnh Thủy.
    submit(settings, "X-19405", "2025-06", [("NQ01-3", 40, 50), ("NQ01-1", 30, 40)])
    submit(settings, "X-19402", "2025-06", [("NQ01-3", 10, 50)])
    submit(settings, "X-19363", "2025-06", [("NQ01-3", 5, 10)])
    submit(settings, "VL-TP", "2025-06", [("NQ01-3", 9, 10), ("NQ01-1", 20, 20)])
    submit(settings, "XM-19405", "2025-07", [("NQ01-3", 45, 50), ("NQ01-1", 70, 80)])
    submit(settings, "XM-19363", "2025-12", [("NQ01-3", 1, 2)])


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    settings = settings_at(tmp_path_factory.mktemp("year"))
    year_submissions(settings)
    for month in range(1, 13):
        run_period(settings, Period(2025, month))
    for label in ("2025-H1", "2025-H2", "2025"):
        orchestration.aggregate_rollup(settings, label)
    yield settings
    get_engine(settings.warehouse_url).dispose()


def test_expected_units_are_the_units_valid_in_the_period(year):
    counts = {r["period"]: r["n"] for r in rows(
        year, "SELECT period, COUNT(DISTINCT unit_code) AS n FROM ref_period_unit_indicator GROUP BY period")}
    assert (counts["2025-06"], counts["2025-07"], counts["2025-12"]) == (30, 5, 5)
    expected = {r["period"]: r["units_expected"] for r in rows(
        year, "SELECT period, units_expected FROM mart_area_kpi_monthly WHERE indicator_code = 'NQ01-3'")}
    assert (expected["2025-06"], expected["2025-07"]) == (30, 5)
    status = rows(year, "SELECT unit_code FROM mart_submission_status WHERE period = '2025-07'")
    assert sorted(r["unit_code"] for r in status) == ["XM-19363", "XM-19366", "XM-19372", "XM-19405", "XM-19414"]


def test_a_new_communes_year_to_date_includes_its_predecessors(year):
    june_old = monthly_unit(year, "2025-06", "X-19405", "NQ01-3")
    assert (june_old["ytd_numerator"], june_old["ytd_denominator"], june_old["ytd_predecessor_units"]) == (40, 50, 0)
    july = monthly_unit(year, "2025-07", "XM-19405", "NQ01-3")
    assert (july["numerator"], july["denominator"]) == (45, 50)  # its own month, never mixed with X-19405's
    assert (july["ytd_numerator"], july["ytd_denominator"]) == (45 + 40 + 10, 50 + 50 + 50)
    assert july["ytd_predecessor_units"] == 2  # labelled: X-19405 and X-19402
    # The stock: July's catalogue of the new commune, not its predecessors' June ones added to it.
    stock = monthly_unit(year, "2025-07", "XM-19405", "NQ01-1")
    assert (stock["ytd_numerator"], stock["ytd_denominator"], stock["ytd_predecessor_units"]) == (70, 80, 0)
    # The two units sharing GSO 19405 keep their own rows, under their own codes.
    assert monthly_unit(year, "2025-07", "X-19405", "NQ01-3") is None
    assert monthly_unit(year, "2025-06", "XM-19405", "NQ01-3") is None
    # The area's year to date still sums every unit's figures of the year.
    a = rows(year, "SELECT * FROM mart_area_kpi_monthly WHERE period = '2025-07' AND indicator_code = 'NQ01-3'")[0]
    assert (a["ytd_numerator"], a["ytd_denominator"]) == (109, 170)


def test_successors_follow_the_unit_code_not_the_gso_code(tmp_path):
    """With a catalogue where old Vĩnh Lâm (GSO 19405) merges into Cửa Tùng instead, new Vĩnh Thủy
    (GSO 19405) no longer counts its figures: the successor mapping, never the GSO code, decides."""
    catalogue = tmp_path / "catalogue"
    shutil.copytree(DEFAULT_CATALOGUE_DIR, catalogue)
    units = catalogue / "units.csv"
    units.write_text(units.read_text(encoding="utf-8").replace(
        "X-19405,Xã Vĩnh Lâm,commune,19405,2019-01-01,2025-06-30,XM-19405",
        "X-19405,Xã Vĩnh Lâm,commune,19405,2019-01-01,2025-06-30,XM-19414"), encoding="utf-8")
    settings = settings_at(tmp_path, TTHC_CATALOGUE_DIR=str(catalogue))
    year_submissions(settings)
    for month in (6, 7):
        run_period(settings, Period(2025, month))
    july = monthly_unit(settings, "2025-07", "XM-19405", "NQ01-3")
    assert (july["ytd_numerator"], july["ytd_denominator"], july["ytd_predecessor_units"]) == (55, 100, 1)
    get_engine(settings.warehouse_url).dispose()


def _doc_texts(path: str) -> list[str]:
    doc = Document(path)
    return [p.text for p in doc.paragraphs] + [
        p.text for t in doc.tables for row in t.rows for c in row.cells for p in c.paragraphs]


def test_the_issuing_body_follows_the_two_tier_reorganisation(year):
    june = orchestration.report_period(year, Period(2025, 6))
    july = orchestration.report_period(year, Period(2025, 7))
    # Through 2025-06 the district issues the one report; from 2025-07 each new commune issues its
    # own and the area summary comes from the body the catalogue names for it.
    assert (june["issuer"], june["unit_reports"]) == ("UBND huyện Vĩnh Linh", [])
    assert july["issuer"] == "Văn phòng UBND tỉnh Quảng Trị"
    assert [(r["unit"], r["issuer"]) for r in july["unit_reports"]] == [
        ("XM-19363", "UBND xã Vĩnh Linh"), ("XM-19366", "UBND xã Bến Quan"), ("XM-19372", "UBND xã Vĩnh Hoàng"),
        ("XM-19405", "UBND xã Vĩnh Thủy"), ("XM-19414", "UBND xã Cửa Tùng")]
    folder = year.reports_dir / "2025-07"
    assert sorted(p.name for p in folder.iterdir() if p.suffix == ".docx") == [
        "BaoCao_TTHC_2025-07.docx", *(f"BaoCao_TTHC_2025-07_{u}.docx" for u in
                                      ("XM-19363", "XM-19366", "XM-19372", "XM-19405", "XM-19414"))]

    texts = _doc_texts(june["docx"])
    assert {"ỦY BAN NHÂN DÂN", "HUYỆN VĨNH LINH", "Số:      /BC-UBND",
            "Vĩnh Linh, ngày     tháng     năm 2025"} <= set(texts)
    texts = _doc_texts(july["docx"])
    assert not any("HUYỆN VĨNH LINH" in t for t in texts)
    assert {"UBND TỈNH QUẢNG TRỊ", "VĂN PHÒNG", "Số:      /BC-VP", "Quảng Trị, ngày     tháng     năm 2025",
            "KT. CHÁNH VĂN PHÒNG", "PHÓ CHÁNH VĂN PHÒNG", "- Lưu: VT, KSTT."} <= set(texts)
    assert any(t.startswith("Thực hiện Kế hoạch cải cách thủ tục hành chính trọng tâm năm 2025 của UBND huyện "
                            "Vĩnh Linh, Văn phòng UBND tỉnh Quảng Trị báo cáo") for t in texts)

    thuy = next(r for r in july["unit_reports"] if r["unit"] == "XM-19405")
    texts = _doc_texts(thuy["docx"])
    assert {"ỦY BAN NHÂN DÂN", "XÃ VĨNH THỦY", "Số:      /BC-UBND", "Vĩnh Thủy, ngày     tháng     năm 2025",
            "TM. ỦY BAN NHÂN DÂN", "- Chủ tịch, các PCT UBND xã;", "- Lưu: VT."} <= set(texts)
    assert any(t.endswith("tháng 07/2025 của UBND xã Vĩnh Thủy./.") for t in texts)
    assert Document(thuy["docx"]).core_properties.author == "UBND xã Vĩnh Thủy"
    # Its own figures: 45/50 in July, and a year to date including the old communes merged into it.
    table = next([[c.text for c in r.cells] for r in t.rows] for t in Document(thuy["docx"]).tables
                 if t.rows[0].cells[0].text == "STT" and t.rows[0].cells[1].text == "Mã")
    assert next(r for r in table if r[1] == "NQ01-3")[2:] == [
        "Hồ sơ trực tuyến", "45", "50", "90,0%", "63,3%", "≥ 50", "✓"]  # 95/150 since January
    assert next(r for r in table if r[1] == "NQ01-2")[5:] == ["chưa có số liệu", "chưa có số liệu", "≥ 45", "—"]
    assert any(t.startswith("Báo cáo của Xã Vĩnh Thủy: đúng hạn, nhận lúc 09:00 10/07/2025. Hạn gửi báo cáo: "
                            "hết ngày") for t in texts)
    wb = load_workbook(thuy["xlsx"])
    assert wb["TongHop"]["A1"].value == "Kết quả các chỉ tiêu cải cách TTHC của xã tháng 07/2025"
    assert [r[0] for r in wb["Xa"].iter_rows(min_row=5, values_only=True)] == ["XM-19405"] * 2

    # Roll-ups ending after the reorganisation: the area summary's issuer of their last day.
    assert orchestration.report_rollup(year, "2025-H1")["issuer"] == "UBND huyện Vĩnh Linh"
    assert orchestration.report_rollup(year, "2025")["issuer"] == "Văn phòng UBND tỉnh Quảng Trị"


@pytest.mark.parametrize("edit, error", [
    (lambda t: t.replace("2025-07-01,\n", "2025-06-01,\n", 1), "overlap another row for area"),
    (lambda t: t + "XX-1,,A,B,xã,P,BC,T,,R,2025-07-01,\n", "scope must be 'area' or a unit code"),
    (lambda t: t.replace("UBND xã Vĩnh Linh,xã,Vĩnh Linh", "UBND xã Vĩnh Linh,xã,"), "empty place"),
])
def test_bad_issuer_rows_are_refused_naming_the_line(small_catalogue, edit, error):
    from tthc.catalogue import Catalogue, CatalogueError

    issuers = small_catalogue / "issuers.csv"
    issuers.write_text(edit(issuers.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(CatalogueError, match=f"issuers.csv line \\d+ .*{error}"):
        Catalogue.load(small_catalogue)


def test_a_period_without_an_issuer_says_which_row_is_missing(small_catalogue):
    from tthc.catalogue import Catalogue, CatalogueError

    issuers = small_catalogue / "issuers.csv"
    issuers.write_text("\n".join(l for l in issuers.read_text(encoding="utf-8").splitlines()
                                  if not l.startswith("area,UBND")) + "\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"no issuer for 'area' on 14/07/2025"):
        Catalogue.load(small_catalogue).issuer("area", DEFAULT_CALENDAR.last_day(Period(2025, 7)))


def test_the_year_spans_the_reorganisation_and_meets_the_stretch_targets_or_not(year):
    a = area(year, "2025", "NQ01-3")
    assert (a["numerator"], a["denominator"]) == (110, 172)  # Σ all units Jan–Dec
    assert a["target_pct"] == 50 and a["meets_target"]  # 64.0 % ≥ 50
    assert a["stretch_pct"] == 80 and not a["meets_stretch"]  # but short of the 80 % stretch goal
    assert (a["units_reported"], a["units_expected"]) == (6, 35)
    # Per unit, as of December: new communes include the old communes merged into them ...
    vinh_thuy = unit(year, "2025", "XM-19405", "NQ01-3")
    assert (vinh_thuy["numerator"], vinh_thuy["denominator"], vinh_thuy["predecessor_units"]) == (95, 150, 2)
    vinh_linh = unit(year, "2025", "XM-19363", "NQ01-3")
    assert (vinh_linh["numerator"], vinh_linh["denominator"], vinh_linh["predecessor_units"]) == (6, 12, 1)
    assert unit(year, "2025", "X-19405", "NQ01-3") is None and unit(year, "2025", "X-19363", "NQ01-3") is None
    # ... the abolished departments keep their own figures up to 30/06/2025.
    tp = unit(year, "2025", "VL-TP", "NQ01-3")
    assert (tp["numerator"], tp["denominator"], tp["unit_valid_to"]) == (9, 10, "2025-06-30")
    per_unit = rows(year, "SELECT SUM(numerator) AS n, SUM(denominator) AS d FROM mart_unit_kpi_rollup "
                          "WHERE rollup_period = '2025' AND indicator_code = 'NQ01-3'")[0]
    assert (per_unit["n"], per_unit["d"]) == (110, 172)
    # The catalogue stock at the year's end: the units that exist then (new Vĩnh Thủy's July 70/80).
    stock = area(year, "2025", "NQ01-1")
    assert (stock["numerator"], stock["denominator"]) == (70, 80)
    assert stock["meets_target"] and stock["stretch_pct"] == 100 and not stock["meets_stretch"]
    # The half-years: H1 the old 30 units, H2 the five new communes.
    assert area(year, "2025-H1", "NQ01-3")["units_expected"] == 30
    assert area(year, "2025-H2", "NQ01-3")["units_expected"] == 5
    assert unit(year, "2025-H2", "XM-19405", "NQ01-3")["predecessor_units"] == 0  # no old figure in H2


def test_the_annual_report(year):
    result = orchestration.report_rollup(year, "2025")
    assert result["docx"].endswith("/2025/BaoCao_TTHC_2025.docx")
    assert (result["stretch_met"], result["stretch_not_met"]) == (0, 2)
    doc = Document(result["docx"])
    texts = [p.text for p in doc.paragraphs]
    assert "Kết quả thực hiện các chỉ tiêu cải cách thủ tục hành chính năm 2025" in texts
    assert ("Số liệu năm của Xã Vĩnh Thủy (XM-19405) gồm số liệu của các xã cũ trước 01/07/2025: "
            "Xã Vĩnh Thủy (X-19402), Xã Vĩnh Lâm (X-19405), Xã Vĩnh Sơn (X-19420).") in texts
    assert any(t.startswith("So với mục tiêu phấn đấu đến hết năm 2025 của Kế hoạch: tỷ lệ DVC trực tuyến "
                            "toàn trình đạt 87,5%, chưa đạt mục tiêu 100%") for t in texts)
    stretch = next([[c.text for c in r.cells] for r in t.rows] for t in doc.tables
                   if t.rows[0].cells[-2].text == "Mục tiêu cuối năm")
    assert stretch[1:] == [["1", "NQ01-1", "DVC trực tuyến toàn trình", "87,5%", "≥ 80", "≥ 100", "Chưa đạt mục tiêu"],
                           # 110/172 = 63,95 %, rounded half up
                           ["2", "NQ01-3", "Hồ sơ trực tuyến", "64,0%", "≥ 50", "≥ 80", "Chưa đạt mục tiêu"]]
    wb = load_workbook(result["xlsx"])
    header = [c.value for c in wb["Xa"][4]]
    records = [dict(zip(header, r)) for r in wb["Xa"].iter_rows(min_row=5, values_only=True)]
    thuy = next(r for r in records if r["Mã đơn vị"] == "XM-19405" and r["Mã chỉ tiêu"] == "NQ01-3")
    assert thuy["Gồm số liệu của đơn vị cũ"] == "Xã Vĩnh Thủy (X-19402), Xã Vĩnh Lâm (X-19405), Xã Vĩnh Sơn (X-19420)"
    departments = [dict(zip(header, r)) for r in wb["PhongBan"].iter_rows(min_row=5, values_only=True)]
    assert {r["Hoạt động đến ngày"] for r in departments} == {"30/06/2025"}


# --- backfills across the boundary ----------------------------------------------------------------------

MARTS = ["mart_unit_kpi_monthly", "mart_area_kpi_monthly", "mart_submission_status", "ref_period_unit_key",
         "ref_period_unit_indicator", "core_unit_indicator"]


def test_backfills_across_the_boundary_give_the_same_marts_in_any_order(tmp_path):
    share = tmp_path / "share"
    months = [Period(2025, m) for m in (5, 6, 7, 8)]
    in_order, reverse = settings_at(tmp_path / "a", share), settings_at(tmp_path / "b", share)
    submit(in_order, "X-19405", "2025-05", [("NQ01-3", 4, 8), ("NQ01-1", 30, 40)])
    submit(in_order, "X-19405", "2025-06", [("NQ01-3", 40, 50), ("NQ01-1", 31, 40)])
    submit(in_order, "X-19402", "2025-06", [("NQ01-3", 10, 50)])
    submit(in_order, "VL-TP", "2025-05", [("NQ01-3", 9, 10), ("NQ01-1", 20, 20)])
    submit(in_order, "XM-19405", "2025-07", [("NQ01-3", 45, 50), ("NQ01-1", 70, 80)])
    submit(in_order, "XM-19405", "2025-08", [("NQ01-3", 5, 50)])
    submit(in_order, "XM-19414", "2025-08", [("NQ01-3", 1, 1), ("NQ01-1", 9, 10)])
    for period in months:
        run_period(in_order, period)
    for period in reversed(months):
        run_period(reverse, period)

    def snapshot(settings):
        out = {}
        for table in MARTS:
            found = rows(settings, f"SELECT * FROM {table}")
            for r in found:
                r.pop("received_at", None)
            out[table] = sorted(json.dumps(r, sort_keys=True, default=str) for r in found)
        return out

    assert snapshot(reverse) == snapshot(in_order)
    aug = monthly_unit(in_order, "2025-08", "XM-19405", "NQ01-3")
    assert (aug["ytd_numerator"], aug["ytd_denominator"], aug["ytd_predecessor_units"]) == (104, 208, 2)
    for s in (in_order, reverse):
        get_engine(s.warehouse_url).dispose()


@pytest.mark.postgres
def test_the_same_rollups_on_postgresql(year, pg_url, tmp_path):
    settings = settings_at(tmp_path, year.shared_drive, TTHC_WAREHOUSE_URL=pg_url)
    for month in range(1, 13):
        run_period(settings, Period(2025, month))
    for label in ("2025-H1", "2025-H2", "2025"):
        orchestration.aggregate_rollup(settings, label)

    def comparable(s, table):
        def norm(v):
            return int(v) if isinstance(v, bool) else round(v, 9) if isinstance(v, float) else v
        return sorted(json.dumps({k: norm(v) for k, v in r.items()}, sort_keys=True, default=str)
                      for r in rows(s, f"SELECT * FROM {table}"))

    for table in ("mart_area_kpi_rollup", "mart_unit_kpi_rollup", "mart_unit_kpi_monthly", "mart_area_kpi_monthly"):
        assert comparable(settings, table) == comparable(year, table), table


def test_cli_rollup(quarter):
    import subprocess
    import sys

    env = {"TTHC_DATA_DIR": str(quarter.data_dir), "TTHC_SHARED_DRIVE": str(quarter.shared_drive), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "tthc.cli", "rollup", "--period", "2025-Q1"],
                         capture_output=True, text=True, env=env, check=True).stdout
    summary = json.loads(out)
    assert summary["aggregate"]["rollup_period"] == "2025-Q1"
    assert summary["report"]["docx"].endswith("2025-Q1/BaoCao_TTHC_2025-Q1.docx")
    refused = subprocess.run([sys.executable, "-m", "tthc.cli", "rollup", "--period", "2025"],
                             capture_output=True, text=True, env=env)
    assert refused.returncode == 2 and refused.stderr.startswith("tthc: kỳ 2025: chưa tổng hợp các tháng 2025-04")
