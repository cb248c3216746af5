"""tthc.sources.shared_drive.parse: workbook and CSV shapes a district clerk actually sends, built on the fly."""

from __future__ import annotations

import os
import unicodedata
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from tthc.sources.shared_drive.parse import ParsedSubmission, SubmissionParseError, parse_submission
from tthc.periods import Period

HEADER = ["STT", "Mã chỉ tiêu", "Tên chỉ tiêu", "Tử số", "Mẫu số", "Tỷ lệ (%)", "Ghi chú"]
DATA = [
    [1, "NQ01-1", "DVC trực tuyến toàn trình", 40, 50, 80, None],
    [2, "nq01-3 ", "Hồ sơ trực tuyến", "1.234", "2.000", "61,7", "Đã đối chiếu"],
]
SHEET_XML = "xl/worksheets/sheet1.xml"
NOT_READABLE = "Tệp không phải bảng tính Excel (.xlsx) hoặc CSV đọc được: "


def report_book(unit="VL-TP", period="03/2025", header=HEADER, data=DATA, title="BaoCao") -> Workbook:
    """The district template: titles and merged cells above, labels in A4/A5 with values in C, table at row 11."""
    wb = Workbook()
    ws = wb.active
    ws.title = title
    ws["A1"] = "UBND HUYỆN VĨNH LINH"
    ws.merge_cells("A1:G1")
    ws["A2"] = "BÁO CÁO KẾT QUẢ THỰC HIỆN CHỈ TIÊU CẢI CÁCH TTHC"
    ws.merge_cells("A2:G2")
    ws["A4"], ws["C4"] = "Mã đơn vị:", unit
    ws.merge_cells("A4:B4")
    ws["A5"], ws["C5"] = "Kỳ báo cáo:", period
    ws.merge_cells("A5:B5")
    ws["A8"] = "Đơn vị điền số liệu vào bảng dưới đây."
    for c, label in enumerate(header, 1):
        ws.cell(11, c, label)
    for r, row in enumerate(data, 12):
        for c, value in enumerate(row, 1):
            ws.cell(r, c, value)
    return wb


def save(wb: Workbook, tmp_path: Path, name: str = "bao_cao.xlsx") -> Path:
    path = tmp_path / name
    wb.save(path)
    return path


def rewrite_zip(path: Path, edit) -> None:
    """Rewrite an .xlsx through edit(name, bytes) -> bytes: shapes openpyxl itself cannot write."""
    with zipfile.ZipFile(path) as zf:
        entries = [(info, zf.read(info)) for info in zf.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in entries:
            zf.writestr(info.filename, edit(info.filename, data))


def patch_sheet(path: Path, old: str, new: str) -> None:
    def edit(name, data):
        if name != SHEET_XML:
            return data
        assert old.encode() in data, old
        return data.replace(old.encode(), new.encode())

    rewrite_zip(path, edit)


def add_entry(path: Path, name: str, data: bytes) -> None:
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, data)


def reasons_of(path: Path, **limits) -> list[str]:
    with pytest.raises(SubmissionParseError) as info:
        parse_submission(path, **limits)
    return info.value.reasons


_CP1258_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def to_cp1258(text: str) -> bytes:
    """Windows-1258 bytes: it has 'ư', 'ê', 'ă'... precomposed but spells most tones as combining marks."""
    out = []
    for ch in text:
        try:
            out.append(ch.encode("cp1258"))
        except UnicodeEncodeError:
            decomposed = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(m for m in decomposed if m not in _CP1258_TONES))
            out.append((base + "".join(m for m in decomposed if m in _CP1258_TONES)).encode("cp1258"))
    return b"".join(out)


# --- workbooks ------------------------------------------------------------------------------

def test_plain_layout_with_titles_and_merged_cells(tmp_path):
    sub = parse_submission(save(report_book(), tmp_path))

    assert isinstance(sub, ParsedSubmission)
    assert (sub.file_kind, sub.sheet) == ("xlsx", "BaoCao")
    assert (sub.unit_code, sub.unit_cell) == ("VL-TP", "C4")
    assert (sub.period, sub.period_cell) == (Period(2025, 3), "C5")
    assert sub.columns == ["stt", "indicator_code", "indicator_name", "numerator", "denominator", "rate", "note"]
    assert sub.warnings == []
    first, second = sub.rows
    assert (first.row_number, first.row_ref, first.indicator_code) == (12, "Dòng 12", "NQ01-1")
    assert (first.numerator_text, first.denominator_text, first.rate, first.rate_text) == ("40", "50", 80.0, "80")
    assert first.note == ""
    assert first.cells == {"indicator_code": "B12", "numerator": "D12", "denominator": "E12", "rate": "F12"}
    # Vietnamese-style text numbers; the code is stripped and upper-cased
    assert (second.indicator_code, second.numerator_text, second.denominator_text) == ("NQ01-3", "1234", "2000")
    assert (second.rate, second.rate_text, second.note) == (61.7, "61,7", "Đã đối chiếu")


def test_reordered_columns_and_loosely_written_labels(tmp_path):
    wb = report_book(header=["Ghi chú", "MẪU SỐ", "ma chi tieu", "  Tu   so :", "TỶ LỆ %"],
                     data=[["x", 120, "NQ02-1", 130, "108,3%"]])
    ws = wb.active
    ws["A4"], ws["A5"] = "  MA   DON VI :", "KY BAO CAO"
    ws["C4"] = 19405  # a unit code typed as a number
    sub = parse_submission(save(wb, tmp_path))

    assert (sub.unit_code, sub.period) == ("19405", Period(2025, 3))
    assert sub.columns == ["note", "denominator", "indicator_code", "numerator", "rate"]
    (row,) = sub.rows
    assert (row.indicator_code, row.numerator_text, row.denominator_text) == ("NQ02-1", "130", "120")
    assert (row.rate, row.rate_text, row.note) == (108.3, "108,3%", "x")
    assert row.cells == {"indicator_code": "C12", "numerator": "D12", "denominator": "B12", "rate": "E12"}


def test_label_value_after_colon_in_the_same_cell(tmp_path):
    wb = report_book()
    ws = wb.active
    ws["A5"], ws["C5"] = "Kỳ báo cáo: Tháng 3/2025", None
    ws["A4"], ws["C4"] = "Mã đơn vị: vl-tp", None
    sub = parse_submission(save(wb, tmp_path))

    assert (sub.unit_code, sub.unit_cell) == ("VL-TP", "A4")
    assert (sub.period, sub.period_cell) == (Period(2025, 3), "A5")


@pytest.mark.parametrize("written", ["3/2025", "2025-03", "Tháng 03/2025", " tháng 3 / 2025 ",
                                     datetime(2025, 3, 1)])
def test_period_forms_including_a_date_cell(tmp_path, written):
    sub = parse_submission(save(report_book(period=written), tmp_path))
    assert (sub.period, sub.period_cell) == (Period(2025, 3), "C5")


@pytest.mark.parametrize("written, rate, text", [(85, 85.0, "85"), ("85%", 85.0, "85%"),
                                                 ("85,5", 85.5, "85,5"), (0.855, 0.855, "0.855"),
                                                 (None, None, "")])
def test_rate_forms(tmp_path, written, rate, text):
    sub = parse_submission(save(report_book(data=[[1, "NQ01-3", "", 171, 200, written, ""]]), tmp_path))
    assert (sub.rows[0].rate, sub.rows[0].rate_text) == (rate, text)


def test_table_ends_at_first_blank_row_and_keeps_rows_without_code(tmp_path):
    wb = report_book(data=DATA + [[3, None, "Tổng cộng", 5, None, None, None]])
    ws = wb.active
    ws["B16"], ws["D16"] = "NQ99", 1  # junk below the blank row 15
    ws["A18"] = "Người lập biểu"
    sub = parse_submission(save(wb, tmp_path))

    assert [r.indicator_code for r in sub.rows] == ["NQ01-1", "NQ01-3", ""]
    assert (sub.rows[2].row_ref, sub.rows[2].numerator_text, sub.rows[2].denominator_text) == ("Dòng 14", "5", "")


def test_sheet_named_bao_cao_is_used_even_when_not_first(tmp_path):
    wb = report_book(title="Báo cáo")
    guide = wb.create_sheet("Hướng dẫn", 0)
    guide["A1"], guide["B1"] = "Mã đơn vị", "VÍ-DỤ"
    sub = parse_submission(save(wb, tmp_path))
    assert (sub.sheet, sub.unit_code, len(sub.rows)) == ("Báo cáo", "VL-TP", 2)


def test_hidden_sheets_are_ignored(tmp_path):
    wb = report_book(title="Sheet1")
    old = wb.create_sheet("Cũ", 0)
    old["A1"], old["B1"] = "Mã đơn vị", "VL-NV"
    old.sheet_state = "hidden"
    sub = parse_submission(save(wb, tmp_path))
    assert (sub.sheet, sub.unit_code, sub.warnings) == ("Sheet1", "VL-TP", [])


def test_hidden_bao_cao_sheet_is_ignored_with_a_warning(tmp_path):
    wb = report_book(title="Nhap lieu")
    hidden = wb.create_sheet("BAOCAO")
    hidden["A1"], hidden["B1"] = "Mã đơn vị", "VL-NV"
    hidden.sheet_state = "hidden"
    sub = parse_submission(save(wb, tmp_path))
    assert (sub.sheet, sub.unit_code) == ("Nhap lieu", "VL-TP")
    assert sub.warnings == ['Trang tính "BAOCAO" đang ẩn nên không được đọc', 'Đã đọc trang tính "Nhap lieu"']


def test_duplicate_header_keeps_the_first_column_with_a_warning(tmp_path):
    sub = parse_submission(save(report_book(header=HEADER + ["Tử số"]), tmp_path))
    assert sub.rows[0].cells["numerator"] == "D12"
    assert sub.warnings == ['Cột "Tử số" có hai lần (ô D11 và ô H11); dùng ô D11']


def test_formula_with_cached_value_is_read(tmp_path):
    path = save(report_book(data=[[1, "NQ01-1", "", "=20+20", 50, None, None]]), tmp_path)
    patch_sheet(path, "<f>20+20</f><v></v>", "<f>20+20</f><v>40</v>")  # what Excel saves
    assert parse_submission(path).rows[0].numerator_text == "40"


def test_formula_without_cached_value_is_rejected(tmp_path):
    path = save(report_book(data=[[1, "NQ01-1", "", "=20+20", 50, None, None]]), tmp_path)
    assert reasons_of(path) == [
        "Ô D12: công thức chưa có giá trị tính sẵn; hãy mở tệp bằng Excel, lưu lại rồi gửi"]


def test_uncached_rate_formula_skips_the_rate_check_with_a_warning(tmp_path):
    # The rate is optional: a formula saved by a library (no cached value) must not reject the file.
    path = save(report_book(data=[[1, "NQ01-1", "", 30, 40, "=D12/E12*100", None]]), tmp_path)
    sub = parse_submission(path)
    assert [(r.numerator_text, r.denominator_text, r.rate, r.rate_text) for r in sub.rows] == [("30", "40", None, "")]
    assert sub.warnings == ["Ô F12: công thức tỷ lệ chưa có giá trị tính sẵn; tỷ lệ không được đối chiếu"]


def test_formula_whose_result_is_empty_text_is_blank(tmp_path):
    # A template's rate formula =IF(E12=0,"",...) copied below the table; Excel caches "" as t="str", <v></v>.
    formula = '=IF(E{0}=0,"",D{0}/E{0}*100)'
    wb = report_book(data=[[1, "NQ02-2", "", 0, 0, formula.format(12), None]])
    wb.active["F13"] = formula.format(13)
    path = save(wb, tmp_path)
    for r in (12, 13):
        f = formula.format(r)[1:]
        patch_sheet(path, f'<c r="F{r}"><f>{f}</f><v></v>', f'<c r="F{r}" t="str"><f>{f}</f><v></v>')
    sub = parse_submission(path)
    assert [(r.indicator_code, r.rate, r.rate_text) for r in sub.rows] == [("NQ02-2", None, "")]


def test_uncached_formula_as_unit_value_is_named(tmp_path):
    path = save(report_book(unit='=UPPER("vl-tp")'), tmp_path)
    assert reasons_of(path) == ["Ô C4: công thức chưa có giá trị tính sẵn; hãy mở tệp bằng Excel, lưu lại rồi gửi"]


def test_missing_unit_label(tmp_path):
    wb = report_book()
    wb.active["A4"] = "Đơn vị"
    with pytest.raises(SubmissionParseError) as info:
        parse_submission(save(wb, tmp_path))
    assert info.value.reasons == ['Không tìm thấy mã đơn vị (ô "Mã đơn vị")']
    assert (info.value.unit_code, info.value.period) == (None, Period(2025, 3))


def test_empty_unit_value_does_not_take_the_next_label(tmp_path):
    wb = report_book(unit=None)
    ws = wb.active
    ws["E4"], ws["F4"] = "Kỳ báo cáo", "03/2025"
    assert reasons_of(save(wb, tmp_path)) == ['Không tìm thấy mã đơn vị (ô "Mã đơn vị"): ô bên phải ô A4 để trống']


def test_unreadable_period_names_the_cell(tmp_path):
    with pytest.raises(SubmissionParseError) as info:
        parse_submission(save(report_book(period="13/2025"), tmp_path))
    assert info.value.reasons == [
        'Ô C5: kỳ báo cáo "13/2025" không đọc được (dạng 03/2025, 2025-03 hoặc Tháng 03/2025)']
    assert (info.value.unit_code, info.value.period) == ("VL-TP", None)


def test_unreadable_rate_names_the_cell(tmp_path):
    path = save(report_book(data=[[1, "NQ01-1", "", 40, 50, "khoảng 80", None]]), tmp_path)
    assert reasons_of(path) == ['Ô F12: tỷ lệ "khoảng 80" không đọc được']


def test_no_indicator_table(tmp_path):
    path = save(report_book(header=["STT", "Chỉ tiêu", "Tử số", "Mẫu số"]), tmp_path)
    assert reasons_of(path) == ['Không tìm thấy bảng chỉ tiêu (dòng tiêu đề có "Mã chỉ tiêu", "Tử số", "Mẫu số")']


def test_missing_required_column_is_left_to_validation(tmp_path):
    sub = parse_submission(save(report_book(header=["STT", "Mã chỉ tiêu", "Tên chỉ tiêu", "Tử số"]), tmp_path))
    assert sub.columns == ["stt", "indicator_code", "indicator_name", "numerator"]
    assert (sub.rows[0].denominator_text, sub.rows[0].rate) == ("", None)
    assert sub.rows[0].cells == {"indicator_code": "B12", "numerator": "D12"}


# --- files that are not reports, or are hostile -----------------------------------------------

def _docx_like(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("word/document.xml", "<w:document/>")


@pytest.mark.parametrize("name, content", [
    ("bao_cao.xlsx", os.urandom(4000)),
    ("~$bao_cao.xlsx", b"\x0cNguyen Van A" + b"\x00" * 150),
    ("bao_cao.pdf", b"%PDF-1.4\n%..."),
    ("bao_cao.txt", "Mã đơn vị: VL-TP".encode()),
    ("bao_cao.csv", b""),
    ("bao_cao.csv", b"\x00\x01\x02binary"),
    ("bao_cao.csv", b"\x81\x8d\x8f\x90 kh\xf4ng ph\xe3i cp1258\n"),
])
def test_not_a_workbook_or_csv(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    (reason,) = reasons_of(path)
    assert reason.startswith(NOT_READABLE)


def test_zip_without_workbook_and_truncated_workbook(tmp_path):
    docx = tmp_path / "bao_cao.docx"
    _docx_like(docx)
    assert reasons_of(docx) == [NOT_READABLE + "tệp không chứa bảng tính Excel hợp lệ"]
    whole = save(report_book(), tmp_path).read_bytes()
    truncated = tmp_path / "cat_do.xlsx"
    truncated.write_bytes(whole[: len(whole) // 2])
    assert reasons_of(truncated) == [NOT_READABLE + "tệp .xlsx bị hỏng (không giải nén được)"]


def test_encrypted_workbook_is_an_ole_file(tmp_path):
    path = tmp_path / "mat_khau.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4096)
    (reason,) = reasons_of(path)
    assert "mật khẩu" in reason and ".xls" in reason


def test_file_larger_than_limit(tmp_path):
    path = save(report_book(), tmp_path)
    assert reasons_of(path, max_bytes=1000) == ["Tệp lớn hơn giới hạn 0.001 MB; hãy kiểm tra lại tệp gửi"]


def test_zip_bomb_by_compression_ratio(tmp_path):
    path = save(report_book(), tmp_path)
    add_entry(path, "xl/media/image1.bin", b"\x00" * 30_000_000)
    assert path.stat().st_size < 200_000
    (reason,) = reasons_of(path)
    assert reason.startswith('Tệp có thành phần "xl/media/image1.bin" nén bất thường')


def test_zip_bomb_by_total_size(tmp_path):
    path = save(report_book(), tmp_path)
    add_entry(path, "xl/media/image1.bin", b"\x00" * 2_000_000)
    assert reasons_of(path, max_bytes=50_000) == [
        "Tệp nén chứa hơn 1 MB dữ liệu khi giải nén; không phải một báo cáo bình thường"]


def test_too_many_cells_by_declared_dimension(tmp_path):
    path = save(report_book(), tmp_path)  # A1:G13 = 91 cells
    assert reasons_of(path, max_cells=90) == ["Trang tính có hơn 90 ô, quá lớn cho một báo cáo"]
    assert len(parse_submission(path, max_cells=91).rows) == 2


def test_too_many_cells_counted_while_reading_when_dimension_lies(tmp_path):
    path = save(report_book(), tmp_path)
    patch_sheet(path, '<dimension ref="A1:G13"/>', '<dimension ref="A1"/>')
    assert len(parse_submission(path).rows) == 2  # rows past the declared dimension are still read
    assert reasons_of(path, max_cells=20) == ["Trang tính có hơn 20 ô, quá lớn cho một báo cáo"]


def test_macro_workbooks_are_rejected(tmp_path):
    macro = "Tệp có macro (.xlsm) không được chấp nhận; hãy lưu lại dưới dạng .xlsx"
    assert reasons_of(save(report_book(), tmp_path, "bao_cao.xlsm")) == [macro]
    disguised = save(report_book(), tmp_path)
    add_entry(disguised, "xl/vbaProject.bin", b"\x01" * 64)
    assert reasons_of(disguised) == [macro]


# --- CSV ------------------------------------------------------------------------------------

def test_csv_utf8_with_bom_and_comma(tmp_path):
    path = tmp_path / "VL-TP.csv"
    path.write_bytes("\ufeffma_don_vi,ky_bao_cao,ma_chi_tieu,tu_so,mau_so,ty_le,ghi_chu\r\n"
                     "VL-TP,03/2025,NQ01-1,40,50,80,\r\n"
                     'vl-tp,2025-03,NQ01-3,1.234,2.000,"61,7",Đã đối chiếu\r\n'
                     ",,,,,,\r\n".encode("utf-8"))
    sub = parse_submission(path)

    assert (sub.file_kind, sub.sheet, sub.unit_code, sub.period) == ("csv", None, "VL-TP", Period(2025, 3))
    assert (sub.unit_cell, sub.period_cell) == ("dòng 2, cột ma_don_vi", "dòng 2, cột ky_bao_cao")
    assert sub.columns == ["indicator_code", "numerator", "denominator", "rate", "note"]
    first, second = sub.rows
    assert (first.row_number, first.row_ref, first.rate) == (2, "Dòng 2", 80.0)
    assert (second.indicator_code, second.numerator_text, second.denominator_text) == ("NQ01-3", "1234", "2000")
    assert (second.rate, second.rate_text, second.note) == (61.7, "61,7", "Đã đối chiếu")
    assert second.cells == {"indicator_code": "dòng 3, cột ma_chi_tieu", "numerator": "dòng 3, cột tu_so",
                            "denominator": "dòng 3, cột mau_so", "rate": "dòng 3, cột ty_le"}


def test_csv_windows_1258_with_semicolon_and_vietnamese_headers(tmp_path):
    text = ("Mã đơn vị;Kỳ báo cáo;Mã chỉ tiêu;Tử số;Mẫu số;Tỷ lệ;Ghi chú\n"
            "VL-TP;Tháng 03/2025;NQ02-7;45;50;90%;Mức độ hài lòng rất cao, ý kiến tốt\n")
    raw = to_cp1258(text)
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "\u0301".encode("cp1258") in raw  # tones really are combining marks in the file
    path = tmp_path / "VL-TP.csv"
    path.write_bytes(raw)
    sub = parse_submission(path)

    assert (sub.unit_code, sub.period, sub.unit_cell) == ("VL-TP", Period(2025, 3), "dòng 2, cột Mã đơn vị")
    (row,) = sub.rows
    assert (row.indicator_code, row.numerator_text, row.denominator_text, row.rate) == ("NQ02-7", "45", "50", 90.0)
    assert row.note == "Mức độ hài lòng rất cao, ý kiến tốt"
    assert row.cells["numerator"] == "dòng 2, cột Tử số"


def test_csv_rows_must_agree_on_unit_and_period(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("ma_don_vi;ky_bao_cao;ma_chi_tieu;tu_so;mau_so\n"
                    "VL-TP;03/2025;NQ01-1;1;2\n"
                    "VL-NV;3/2025;NQ01-3;1;2\n"
                    ";04/2025;NQ01-4;1;2\n", encoding="utf-8")
    with pytest.raises(SubmissionParseError) as info:
        parse_submission(path)
    assert info.value.reasons == [
        'Dòng 3, cột ma_don_vi: mã đơn vị "VL-NV" khác với dòng 2, cột ma_don_vi ("VL-TP")',
        'Dòng 4, cột ky_bao_cao: kỳ báo cáo "04/2025" khác với dòng 2, cột ky_bao_cao ("2025-03")',
    ]
    assert (info.value.unit_code, info.value.period) == ("VL-TP", Period(2025, 3))


def test_csv_missing_columns_and_unreadable_period(tmp_path):
    no_unit = tmp_path / "a.csv"
    no_unit.write_text("ky_bao_cao,ma_chi_tieu,tu_so,mau_so\n13/2025,NQ01-1,1,2\n", encoding="utf-8")
    assert reasons_of(no_unit) == [
        'Không tìm thấy mã đơn vị (cột "ma_don_vi")',
        'Dòng 2, cột ky_bao_cao: kỳ báo cáo "13/2025" không đọc được (dạng 03/2025, 2025-03 hoặc Tháng 03/2025)',
    ]
    no_table = tmp_path / "b.csv"
    no_table.write_text("ma_don_vi,ky_bao_cao,chi_tieu\nVL-TP,03/2025,NQ01-1\n", encoding="utf-8")
    assert reasons_of(no_table) == [
        'Không tìm thấy bảng chỉ tiêu (dòng tiêu đề có "ma_chi_tieu", "tu_so", "mau_so")']


def test_csv_too_many_cells(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("ma_don_vi,ky_bao_cao,ma_chi_tieu,tu_so,mau_so\n" + "VL-TP,03/2025,NQ01-1,1,2\n" * 300,
                    encoding="utf-8")
    assert reasons_of(path, max_cells=1_000) == ["Trang tính có hơn 1.000 ô, quá lớn cho một báo cáo"]
