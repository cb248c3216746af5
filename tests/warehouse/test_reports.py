"""The monthly report (Word + Excel) from hand-written mart rows for 2025-03 (tests/report_fixtures.py)."""

from __future__ import annotations

from datetime import datetime

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlalchemy import text

from tthc.periods import Period
from tthc.reports import write_monthly_report
from tthc.reports import monthly
from tthc.reports.data import headline_codes, load_report_data, unit_ranking
from tthc.reports.formatting import reason_list, safe_text, target_text, vn_int, vn_number, vn_pct
from tthc.warehouse import get_engine, transaction

from tests.support.march_report import AREA, CATALOGUE, FORMULA_REASON, MARCH, report_settings, seed_march, write_report


@pytest.fixture(scope="module")
def doc(report):
    return Document(report[1]["docx"])


def _texts(doc) -> list[str]:
    """Every paragraph of the body and of its tables, in order."""
    out = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        out += [p.text for row in table.rows for cell in row.cells for p in cell.paragraphs]
    return out


def _table(doc, first_headers: tuple[str, ...]) -> list[list[str]]:
    """The rows (as cell texts) of the table whose header row starts with `first_headers`."""
    for table in doc.tables:
        rows = [[c.text for c in row.cells] for row in table.rows]
        if tuple(rows[0][:len(first_headers)]) == first_headers:
            return rows
    raise AssertionError(f"no table with headers {first_headers}")


# --- formatting helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw, safe", [
    ("=1+1", "'=1+1"), ("+84 912", "'+84 912"), ("-3", "'-3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("  =cmd", "'=cmd"), ("Ô D12: tử số\x00 130", "Ô D12: tử số  130"), ("a\r\nb", "a\nb"), (None, ""),
])
def test_safe_text_neutralises_formulas_and_control_characters(raw, safe):
    assert safe_text(raw) == safe


def test_reason_list_reads_json_plain_text_and_prefixed_json():
    assert reason_list('["Ô D12: lỗi", "=2+2"]') == ["Ô D12: lỗi", "'=2+2"]
    assert reason_list("Ô C4: mã đơn vị X-99999 không có trong danh mục") == [
        "Ô C4: mã đơn vị X-99999 không có trong danh mục"]
    assert reason_list('Tệp mới hơn a.xlsx bị từ chối: ["Ô D5: trống"]') == [
        "Tệp mới hơn a.xlsx bị từ chối:", "Ô D5: trống"]
    assert reason_list("Dòng 4: mã [NQ9] không có") == ["Dòng 4: mã [NQ9] không có"]
    assert reason_list(None) == [] and reason_list("  ") == []


def test_vietnamese_number_style():
    assert (vn_int(1234567), vn_pct(62.4), vn_pct(100.0), vn_pct(None)) == ("1.234.567", "62,4%", "100,0%",
                                                                            "không phát sinh")
    # One decimal rounded half up, as people round (3232/3552 = 90,99 %), also where the float sits
    # just under the half (100 * 1249 / 2000 = 62,45).
    assert (vn_pct(100 * 3232 / 3552), vn_pct(62.45), vn_pct(100 * 1249 / 2000), vn_pct(62.44)) == (
        "91,0%", "62,5%", "62,5%", "62,4%")
    assert (target_text(">=", 80.0), target_text("=", 100.0), target_text(">=", 95.5)) == ("≥ 80", "100", "≥ 95,5")
    # Gaps in points: one decimal half up; a gap one decimal would round to nothing keeps its digits.
    assert (vn_number(95 - 100 * 3232 / 3552), vn_number(10.0), vn_number(0.04), vn_number(0.001)) == (
        "4,0", "10", "0,04", "0,001")


def _figure(pct: float, target: float, meets: bool, comparator: str = ">=") -> dict:
    return {"short_name": "Cấp kết quả điện tử", "name_vi": "Tỷ lệ cấp kết quả giải quyết TTHC điện tử",
            "value_pct": pct, "reported": True, "target_pct": target, "comparator": comparator, "meets_target": meets}


def test_verdicts_and_gaps_in_words_come_from_the_exact_rate():
    # 90,99 % is printed 91,0 % and is 4,01 points short of 95 (not 4,1 from a rounded-down 90,9).
    assert monthly._result_phrase(_figure(100 * 3232 / 3552, 95, False)) == (
        "tỷ lệ cấp kết quả điện tử đạt 91,0%, thấp hơn chỉ tiêu 4,0 điểm %")
    # 79,96 % prints as 80,0 % yet misses 80: the words say by how much.
    assert monthly._result_phrase(_figure(79.96, 80, False)) == (
        "tỷ lệ cấp kết quả điện tử đạt 80,0%, thấp hơn chỉ tiêu 0,04 điểm %")
    assert monthly._result_phrase(_figure(80.04, 80, True)) == (
        "tỷ lệ cấp kết quả điện tử đạt 80,0%, vượt chỉ tiêu 0,04 điểm %")
    assert monthly._result_phrase(_figure(100.0, 100, True, "=")) == "tỷ lệ cấp kết quả điện tử đạt 100,0%, đạt chỉ tiêu"


# --- the Word report ---------------------------------------------------------------------------------


def test_return_value(report):
    settings, result = report
    folder = settings.reports_dir / "2025-03"
    assert result["docx"] == str(folder / "BaoCao_TTHC_2025-03.docx")
    assert result["xlsx"] == str(folder / "BaoCao_TTHC_2025-03.xlsx")
    assert (result["indicators"], result["indicators_met"], result["indicators_not_met"]) == (15, 11, 2)
    # Hồ Xá (NQ01-3, NQ01-5) and Phòng Nội vụ; Vĩnh Thái's portal figure meets its target.
    assert result["units_below_target"] == 2
    assert result["discrepancies"] == 1
    assert result["submissions"] == {"on_time": 26, "late": 1, "missing": 1, "rejected": 2, "unexpected": 1}
    assert sorted(p.name for p in folder.iterdir()) == ["BaoCao_TTHC_2025-03.docx", "BaoCao_TTHC_2025-03.xlsx"]


def test_decree_30_layout(doc):
    texts = _texts(doc)
    for expected in ("ỦY BAN NHÂN DÂN", "HUYỆN VĨNH LINH", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                     "Độc lập - Tự do - Hạnh phúc", "Số:      /BC-UBND", "Vĩnh Linh, ngày     tháng     năm 2025",
                     "BÁO CÁO", "Kết quả thực hiện các chỉ tiêu cải cách thủ tục hành chính tháng 03/2025",
                     "(Tháng 03/2025 (từ 15/02/2025 đến 14/03/2025, theo Nghị định 09/2019/NĐ-CP))",
                     "Nơi nhận:", "- UBND tỉnh (b/c);", "- Chủ tịch, các PCT UBND huyện;", "- Lưu: VT, VP.",
                     "TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"):
        assert expected in texts, expected
    section = doc.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    assert [round(m.mm) for m in (section.top_margin, section.bottom_margin, section.left_margin,
                                  section.right_margin)] == [20, 20, 30, 15]
    normal = doc.styles["Normal"]
    assert (normal.font.name, normal.font.size.pt) == ("Times New Roman", 14)
    fonts = {r.font.name for p in doc.paragraphs for r in p.runs} | {
        r.font.name for t in doc.tables for row in t.rows for c in row.cells for p in c.paragraphs for r in p.runs}
    assert fonts <= {None, "Times New Roman"}  # None: inherited from Normal
    # Section IV: the indicators against targets, the trend since January and the units ranked on NQ01-3.
    assert len(doc.inline_shapes) == 3


def test_results_in_words(doc):
    texts = _texts(doc)
    assert ("Trong 15 chỉ tiêu, 11 chỉ tiêu đạt kế hoạch, 2 chỉ tiêu chưa đạt, 1 chỉ tiêu không phát sinh "
            "(không đánh giá), 1 chỉ tiêu bổ sung không có chỉ tiêu kế hoạch.") in texts
    # Indicators with a stretch goal are the plan's headline ones.
    assert ("Tỷ lệ DVC trực tuyến toàn trình đạt 86,5%, vượt chỉ tiêu 6,5 điểm %; tỷ lệ hồ sơ trực tuyến đạt "
            "62,4%, vượt chỉ tiêu 12,4 điểm %.") in texts
    # 1500/1980 = 75,76 % and 1900/1980 = 95,96 %: rounded half up, gaps from the exact rates.
    assert ("Các chỉ tiêu chưa đạt: tỷ lệ số hóa hồ sơ, kết quả giải quyết đạt 75,8%, thấp hơn chỉ tiêu 4,2 "
            "điểm %; tỷ lệ cấp kết quả điện tử đạt 96,0%, thấp hơn chỉ tiêu 4,0 điểm %.") in texts
    assert ("26/30 đơn vị gửi báo cáo đúng hạn, 1 đơn vị gửi muộn, 1 đơn vị chưa gửi, 2 báo cáo bị từ chối; "
            "ngoài ra 1 tệp bị từ chối không thuộc đơn vị nào phải báo cáo. Hạn gửi báo cáo: hết ngày "
            "19/03/2025.") in texts


def test_charts_section(doc):
    texts = _texts(doc)
    assert "Biểu đồ 2. Tỷ lệ của huyện theo tháng từ đầu năm 2025 đến hết tháng 03/2025" in texts
    assert "Biểu đồ 3. Xếp hạng các đơn vị theo NQ01-3 tháng 03/2025 so với chỉ tiêu kế hoạch" in texts


def test_units_ranked_on_the_headline_indicators(report):
    settings, _ = report
    with transaction(settings.warehouse_url) as conn:
        data = load_report_data(conn, MARCH, settings, CATALOGUE)
    # The headline indicators are those with a stretch target in the catalogue, not a fixed list.
    assert headline_codes(data) == ["NQ01-1", "NQ01-3"]
    ranking = unit_ranking(data)
    assert list(ranking) == ["NQ01-1", "NQ01-3"] and ranking["NQ01-1"] == []  # no unit figures: no panel
    # Best first; Vĩnh Thái and Vĩnh Tú tie at 62 % and keep the catalogue's unit order.
    assert [(u["unit_code"], u["value_pct"]) for u in ranking["NQ01-3"]] == [
        ("X-19366", 85.0), ("X-19369", 62.0), ("X-19372", 62.0), ("X-19363", 30.0)]
    assert [u["meets_target"] for u in ranking["NQ01-3"]] == [True, True, True, False]
    # The trend since January, up to the report's month (the fixture has March only).
    assert data.trend["NQ01-3"] == [("2025-03", pytest.approx(62.4))] and data.unit_changes == []


def test_indicator_table(doc):
    rows = _table(doc, ("STT", "Mã", "Chỉ tiêu", "Tử số", "Mẫu số", "Tháng (%)", "Lũy kế (%)"))
    assert rows[0] == ["STT", "Mã", "Chỉ tiêu", "Tử số", "Mẫu số", "Tháng (%)", "Lũy kế (%)", "Chỉ tiêu KH",
                       "Đánh giá"]
    assert [r[1] for r in rows[1:]] == [i.code for i in CATALOGUE.ordered_indicators()]
    by_code = {r[1]: r for r in rows[1:]}
    assert by_code["NQ01-3"] == ["3", "NQ01-3", "Hồ sơ trực tuyến\n(28/30 đơn vị báo cáo)", "1.248", "2.000",
                                 "62,4%", "62,4%", "≥ 50", "✓"]
    assert by_code["NQ01-4"][5:] == ["75,8%", "75,8%", "≥ 80", "✗"]
    assert by_code["NQ02-1"][5:] == ["96,0%", "96,0%", "100", "✗"]
    assert by_code["NQ01-6.1"][2] == "Xử lý văn bản trên môi trường mạng (phòng, ban)\n(10/12 đơn vị báo cáo)"
    assert by_code["NQ02-6"][3:] == ["0", "0", "không phát sinh", "không phát sinh", "100", "—"]


def test_units_below_target_and_discrepancies(doc):
    # One row per unit, its indicators below target one per line ('KH ≥ 95' held by no-break spaces).
    below = _table(doc, ("STT", "Đơn vị", "Chỉ tiêu chưa đạt: tỷ lệ (tử số/mẫu số), chỉ tiêu kế hoạch (KH)"))
    assert [[cell.replace("\u00a0", "~") for cell in row] for row in below[1:]] == [
        ["1", "Phòng Nội vụ", "NQ01-6.1 Xử lý văn bản trên môi trường mạng (phòng, ban): 90,0% (90/100), KH~≥~95"],
        ["2", "Thị trấn Hồ Xá", "NQ01-3 Hồ sơ trực tuyến: 30,0% (30/100), KH~≥~50\n"
                               "NQ01-5 Đồng bộ kết quả lên Cổng DVCQG: 98,0% (98/100), KH~100"],
    ]
    gaps = _table(doc, ("STT", "Đơn vị", "Mã chỉ tiêu", "Đơn vị báo cáo"))
    assert gaps[1:] == [["1", "Xã Vĩnh Thái", "NQ01-4", "70,0% (35/50)", "80,0% (40/50)", "10 điểm %"]]


def test_submissions_section(doc):
    rows = _table(doc, ("STT", "Đơn vị", "Tình trạng", "Thời điểm nhận"))
    assert rows[1:] == [
        ["1", "Xã Vĩnh Chấp (X-19375)", "chưa gửi", "", "", ""],
        ["2", "Xã Trung Nam (X-19378)", "bị từ chối", "10:00 17/03/2025", "2025-03/Trung Nam & <sửa>.xlsx",
         "Ô D12: tử số 130 lớn hơn mẫu số 120\nÔ B3: kỳ báo cáo \"13/2025\" không đọc được"],
        ["3", "Xã Kim Thạch (X-19384)", "bị từ chối", "16:45 18/03/2025", "2025-03/X-19384.csv",
         "'" + FORMULA_REASON],
        ["4", "Không xác định đơn vị (X-99999)", "bị từ chối", "07:00 19/03/2025", "2025-03/khong-ro.xlsx",
         "Ô C4: mã đơn vị X-99999 không có trong danh mục"],
        ["5", "Phòng Nội vụ (VL-NV)", "muộn", "08:15 21/03/2025", "2025-03/VL-NV.xlsx", ""],
        # On time by its first version; the correction counts, to the minute.
        ["6", "Xã Vĩnh Long (X-19387)", "đúng hạn, đã sửa đổi (2 phiên bản)", "14:30 20/03/2025",
         "2025-03/X-19387-sua.xlsx", ""],
    ]


# --- the Excel workbook ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workbook(report):
    return load_workbook(report[1]["xlsx"])


def _records(ws) -> list[dict]:
    header = [c.value for c in ws[4]]
    return [dict(zip(header, row)) for row in ws.iter_rows(min_row=5, values_only=True)]


def test_workbook_sheets_and_summary(workbook):
    assert workbook.sheetnames == ["TongHop", "PhongBan", "Xa", "ThiTran", "TinhTrangNop", "ChenhLech"]
    ws = workbook["TongHop"]
    assert ws["A1"].value == "Kết quả các chỉ tiêu cải cách TTHC của huyện tháng 03/2025"
    assert ws.freeze_panes == "C5"
    assert ws["A4"].font.b is True
    records = _records(ws)
    assert [r["Mã chỉ tiêu"] for r in records] == [i.code for i in CATALOGUE.ordered_indicators()]
    for r in records:
        num, den = AREA[r["Mã chỉ tiêu"]]
        assert (r["Tử số"], r["Mẫu số"], r["Tử số lũy kế"], r["Mẫu số lũy kế"]) == (num, den, 3 * num, 3 * den)
        if den:
            assert r["Tỷ lệ tháng"] == pytest.approx(num / den)
        assert r["Đơn vị phải báo cáo"] - r["Đơn vị đã báo cáo"] == 2
    nq013 = records[2]
    assert (nq013["So sánh"], nq013["Chỉ tiêu KH"], nq013["Đánh giá tháng"]) == ("≥", 0.5, "Đạt")
    assert ws["E7"].number_format == "0.0%" and ws["E7"].value == pytest.approx(0.624)
    nq026 = records[12]
    assert (nq026["Tỷ lệ tháng"], nq026["Tỷ lệ lũy kế"], nq026["Đánh giá tháng"]) == (
        "không phát sinh", "không phát sinh", "Không đánh giá")


def test_workbook_unit_sheets(workbook):
    assert [(r["Mã đơn vị"], r["Mã chỉ tiêu"], r["Nguồn"]) for r in _records(workbook["Xa"])] == [
        ("X-19369", "NQ01-3", "Cổng DVC"),
        ("X-19369", "NQ01-4", "Cổng DVC"),  # the portal's figure, not the self-report
        ("X-19372", "NQ01-3", "Cổng DVC")]
    town = _records(workbook["ThiTran"])
    assert [(r["Mã đơn vị"], r["Mã chỉ tiêu"], r["Tỷ lệ tháng"], r["Đánh giá tháng"]) for r in town] == [
        ("X-19363", "NQ01-3", 0.3, "Chưa đạt"), ("X-19363", "NQ01-5", 0.98, "Chưa đạt"),
        ("X-19363", "NQ02-5", 0.98, "Chưa đạt"), ("X-19366", "NQ01-3", 0.85, "Đạt"),
        ("X-19366", "NQ02-6", "không phát sinh", "Không đánh giá")]
    assert [(r["Mã đơn vị"], r["Tử số"], r["Tệp"]) for r in _records(workbook["PhongBan"])] == [
        ("VL-NV", 90, "2025-03/VL-NV.xlsx"), ("VL-TP", 10, "2025-03/VL-TP.xlsx")]
    gap = _records(workbook["ChenhLech"])
    assert [(r["Mã đơn vị"], r["Tỷ lệ (đơn vị báo cáo)"], r["Tỷ lệ (Cổng DVC)"], r["Chênh lệch (điểm %)"])
            for r in gap] == [("X-19369", 0.7, 0.8, pytest.approx(10.0))]


def test_workbook_submission_status(workbook):
    ws = workbook["TinhTrangNop"]
    records = {r["Mã đơn vị"]: r for r in _records(ws)}
    assert len(records) == 31
    assert records["X-19375"]["Tình trạng"] == "chưa gửi" and records["X-19375"]["Thời điểm nhận"] is None
    assert records["VL-NV"]["Tình trạng"] == "muộn"
    assert records["VL-NV"]["Thời điểm nhận"] == datetime(2025, 3, 21, 8, 15)
    assert (records["X-19387"]["Tình trạng"], records["X-19387"]["Số phiên bản"]) == ("đúng hạn", 2)
    assert records["X-19387"]["Thời điểm nhận"] == datetime(2025, 3, 20, 14, 30)  # to the minute
    assert records["X-19378"]["Lý do"] == ("Ô D12: tử số 130 lớn hơn mẫu số 120\n"
                                           "Ô B3: kỳ báo cáo \"13/2025\" không đọc được")
    # The reason that looks like a formula is stored as text, behind an apostrophe.
    row = next(r for r in range(5, ws.max_row + 1) if ws.cell(r, 1).value == "X-19384")
    cell = ws.cell(row, 7)
    assert (cell.value, cell.data_type) == ("'" + FORMULA_REASON, "s")
    assert not any(c.data_type == "f" for sheet in workbook for row in sheet.iter_rows() for c in row)


# --- failure and portability ---------------------------------------------------------------------------


def test_a_failed_write_leaves_no_partial_report(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    seed_march(url)
    settings = report_settings(tmp_path, url)
    folder = settings.reports_dir / "2025-03"

    def disk_full(data, path):
        path.write_bytes(b"PK\x03\x04 half a workbook")
        raise OSError("No space left on device")

    real = monthly.write_workbook
    monkeypatch.setattr(monthly, "write_workbook", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_report(settings)
    assert list(folder.iterdir()) == []

    monkeypatch.setattr(monthly, "write_workbook", real)
    good = write_report(settings)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    monkeypatch.setattr(monthly, "write_workbook", disk_full)
    with pytest.raises(OSError):
        write_report(settings)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # the earlier report is intact
    assert good["units_below_target"] == 2
    get_engine(url).dispose()


@pytest.mark.postgres
def test_same_report_on_postgresql(pg_url, report, tmp_path):
    seed_march(pg_url)
    result = write_report(report_settings(tmp_path, pg_url))
    sqlite_result = report[1]
    for key in ("indicators", "indicators_met", "indicators_not_met", "units_below_target", "discrepancies",
                "submissions"):
        assert result[key] == sqlite_result[key], key
    assert _records(load_workbook(result["xlsx"])["TongHop"]) == _records(load_workbook(sqlite_result["xlsx"])["TongHop"])
    assert _texts(Document(result["docx"])) == _texts(Document(sqlite_result["docx"]))


def test_a_period_without_figures_still_gives_a_report(report):
    settings, _ = report
    with transaction(settings.warehouse_url) as conn:
        result = write_monthly_report(conn, Period(2025, 4), settings, CATALOGUE)
    texts = _texts(Document(result["docx"]))
    for expected in ("Chưa có số liệu tổng hợp của kỳ báo cáo.",
                     "Không có đơn vị nào có tỷ lệ thấp hơn chỉ tiêu kế hoạch.",
                     "Không có số liệu chênh lệch cần đối chiếu.",
                     "0/0 đơn vị gửi báo cáo đúng hạn, 0 đơn vị gửi muộn, 0 đơn vị chưa gửi, 0 báo cáo bị từ chối.",
                     "(Tháng 04/2025 (từ 15/03/2025 đến 14/04/2025, theo Nghị định 09/2019/NĐ-CP))"):
        assert expected in texts, expected
    assert (result["indicators"], result["units_below_target"]) == (0, 0)
    assert [len(_records(load_workbook(result["xlsx"])[name])) for name in ("TongHop", "TinhTrangNop")] == [0, 0]


def test_an_indicator_nobody_reported_is_not_called_no_activity(report):
    settings, _ = report
    with transaction(settings.warehouse_url) as conn:
        conn.execute(text(
            "INSERT INTO mart_area_kpi_monthly (period, indicator_code, indicator_name, numerator, denominator, "
            "target_pct, comparator, units_reported, units_expected, ytd_numerator, ytd_denominator, period_scheme) "
            "VALUES ('2025-05', 'NQ01-2', 'x', 0, 0, 45, '>=', 0, 30, 0, 0, 'decree09')"))
        result = write_monthly_report(conn, Period(2025, 5), settings, CATALOGUE)
    doc = Document(result["docx"])
    assert "Trong 1 chỉ tiêu, 0 chỉ tiêu đạt kế hoạch, 0 chỉ tiêu chưa đạt, 1 chỉ tiêu chưa có đơn vị nào báo cáo." \
        in _texts(doc)
    rows = _table(doc, ("STT", "Mã", "Chỉ tiêu", "Tử số"))
    assert rows[1][5:] == ["chưa có số liệu", "chưa có số liệu", "≥ 45", "—"]
    (summary,) = _records(load_workbook(result["xlsx"])["TongHop"])
    assert (summary["Tỷ lệ tháng"], summary["Đánh giá tháng"]) == ("chưa có số liệu", "Không đánh giá")
