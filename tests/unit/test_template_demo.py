"""Templates, CSV submissions and the demo shared drive, read back through the real parser."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import unicodedata
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tthc.calendar import DEFAULT_CALENDAR
from tthc.catalogue import Catalogue
from tthc_testing.sample_share import LAYOUT_VARIANTS, generate_shared_drive
from tthc.periods import Period
from tthc.settings import DEFAULT_CATALOGUE_DIR
from tthc.sources.shared_drive.template import (
    Layout, rate_as_written, to_cp1258_text, write_templates, write_unit_csv, write_unit_workbook,
)

MARCH = Period(2025, 3)
DEMO_PERIODS = [Period(2025, 1), Period(2025, 2)]
COMMUNE_CODES = ["NQ01-1", "NQ01-2", "NQ01-3", "NQ01-4", "NQ01-5", "NQ01-6.2", "NQ02-1", "NQ02-2",
                 "NQ02-3", "NQ02-4", "NQ02-6", "NQ02-7"]
JUSTICE_CODES = ["NQ01-1", "NQ01-2", "NQ01-3", "NQ01-4", "NQ01-5", "NQ01-6.1", "NQ02-1", "NQ02-2",
                 "NQ02-3", "NQ02-4", "NQ02-6", "NQ02-7"]
NEW_COMMUNES = ["XM-19363", "XM-19366", "XM-19372", "XM-19405", "XM-19414"]
# One commune's month, with a count above a thousand (written '1.234' as text) and a 0/0.
FIGURES = {
    "NQ01-1": (45, 60), "NQ01-2": (17, 40), "NQ01-3": (171, 200), "NQ01-4": (150, 180),
    "NQ01-5": (180, 180), "NQ01-6.2": (1234, 1500), "NQ02-1": (179, 180), "NQ02-2": (88, 90),
    "NQ02-3": (61, 200), "NQ02-4": (3, 3), "NQ02-6": (0, 0), "NQ02-7": (66, 73),
}
EXPECTED_TABLE = [(code, str(n), str(d)) for code, (n, d) in FIGURES.items()]
# FIGURES' NQ01-3 rate 171/200 = 85,5 % as each form writes it, and as the parser reads it.
RATE_READ = {None: None, "number": 85.5, "percent": 85.5, "comma": 85.5, "fraction": 0.855}


@pytest.fixture(scope="module")
def catalogue():
    return Catalogue.load(DEFAULT_CATALOGUE_DIR)


def parse(path):
    from tthc.sources.shared_drive.parse import parse_submission  # written alongside this module

    return parse_submission(path)


def table(parsed):
    return [(r.indicator_code, r.numerator_text, r.denominator_text) for r in parsed.rows]


# --- templates ---------------------------------------------------------------------------------

def test_template_pack_for_march_has_the_30_units_before_the_reorganisation(catalogue, tmp_path):
    paths = write_templates(catalogue, MARCH, tmp_path)
    assert len(paths) == 30
    assert {p.parent for p in paths} == {tmp_path / "2025-03"}
    assert [p.name for p in paths[:2]] == ["VL-VP.xlsx", "VL-NV.xlsx"]
    assert sum(p.name.startswith("X-") for p in paths) == 18


def test_template_pack_for_august_has_the_5_new_communes(catalogue, tmp_path):
    paths = write_templates(catalogue, "2025-08", tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [f"2025-08/{c}.xlsx" for c in NEW_COMMUNES]


def test_template_for_one_unit_and_units_that_do_not_report(catalogue, tmp_path):
    assert write_templates(catalogue, MARCH, tmp_path, unit_code="VL-TP") == [tmp_path / "2025-03" / "VL-TP.xlsx"]
    with pytest.raises(ValueError, match="'VL-XX' không có trong danh mục"):
        write_templates(catalogue, MARCH, tmp_path, unit_code="VL-XX")
    with pytest.raises(ValueError, match="XM-19363 .* không báo cáo kỳ 2025-03: hiệu lực từ 01/07/2025"):
        write_templates(catalogue, MARCH, tmp_path, unit_code="XM-19363")
    with pytest.raises(ValueError, match="VL-VP .* không báo cáo kỳ 2025-08: .* đến 30/06/2025"):
        write_templates(catalogue, "2025-08", tmp_path, unit_code="VL-VP")


def test_template_workbook_layout_validation_and_instructions(catalogue, tmp_path):
    [path] = write_templates(catalogue, MARCH, tmp_path, unit_code="X-19369")
    wb = load_workbook(path)
    assert wb.sheetnames == ["BaoCao", "HuongDan"]
    ws = wb["BaoCao"]
    assert [ws.cell(r, 1).value for r in range(1, 4)] == [
        "UBND HUYỆN VĨNH LINH", "UBND XÃ VĨNH THÁI", "BÁO CÁO KẾT QUẢ THỰC HIỆN CHỈ TIÊU CẢI CÁCH TTHC"]
    assert {str(r) for r in ws.merged_cells.ranges} == {"A1:G1", "A2:G2", "A3:G3", "A4:G4"}
    assert (ws["A6"].value, ws["B6"].value) == ("Mã đơn vị", "X-19369")
    assert (ws["A8"].value, ws["B8"].value) == ("Kỳ báo cáo", "03/2025")
    assert [c.value for c in ws[10]] == ["STT", "Mã chỉ tiêu", "Tên chỉ tiêu", "Tử số", "Mẫu số", "Tỷ lệ (%)", "Ghi chú"]
    assert [ws.cell(r, 2).value for r in range(11, 23)] == COMMUNE_CODES
    assert [ws.cell(r, c).value for r in range(11, 23) for c in (4, 5, 6)] == [None] * 36

    [dv] = ws.data_validations.dataValidation
    assert (dv.type, dv.operator, dv.formula1, dv.allow_blank) == ("whole", "greaterThanOrEqual", "0", True)
    assert dv.error.startswith("Tử số và mẫu số là số nguyên không âm")
    assert {cell for rng in dv.sqref.ranges for cell in rng.cells} == {(r, c) for r in range(11, 23) for c in (4, 5)}
    assert ws["D11"].comment.text == "Tử số: Số TTHC được cung cấp DVC trực tuyến toàn trình"
    assert ws["E16"].comment.text == "Mẫu số: Số văn bản, hồ sơ công việc đã xử lý (trừ hồ sơ mật)"

    help_text = "\n".join(str(c.value) for row in wb["HuongDan"].iter_rows() for c in row if c.value)
    assert "NQ02-5 là cùng một số liệu với NQ01-5" in help_text
    assert "bất kỳ đâu trong thư mục dùng chung" in help_text
    assert "tệp hợp lệ mới nhất được tính" in help_text


def test_template_after_the_reorganisation_is_headed_by_the_province(catalogue, tmp_path):
    [path] = write_templates(catalogue, "2025-08", tmp_path, unit_code="XM-19405")
    ws = load_workbook(path)["BaoCao"]
    assert [ws.cell(r, 1).value for r in (1, 2)] == ["UBND TỈNH QUẢNG TRỊ", "UBND XÃ VĨNH THỦY"]


def test_templates_are_byte_reproducible(catalogue, tmp_path):
    first = write_templates(catalogue, MARCH, tmp_path / "a", unit_code="VL-TP")[0].read_bytes()
    second = write_templates(catalogue, MARCH, tmp_path / "b", unit_code="VL-TP")[0].read_bytes()
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()


def test_blank_template_parses_to_the_unit_period_and_empty_counts(catalogue, tmp_path):
    [path] = write_templates(catalogue, MARCH, tmp_path, unit_code="VL-TP")
    parsed = parse(path)
    assert (parsed.unit_code, str(parsed.period)) == ("VL-TP", "2025-03")
    assert table(parsed) == [(code, "", "") for code in JUSTICE_CODES]
    assert [r.rate for r in parsed.rows] == [None] * 12


# --- filled workbooks and CSVs -----------------------------------------------------------------

LAYOUTS = [Layout(), *LAYOUT_VARIANTS,
           Layout(period_form="thang", label_colon=True, ascii_labels=True),
           Layout(title_rows=0, columns=("den", "num", "code"), text_counts=True)]


@pytest.mark.parametrize("layout", LAYOUTS, ids=[f"layout{i}" for i in range(len(LAYOUTS))])
def test_filled_workbook_round_trips_through_the_parser(catalogue, tmp_path, layout):
    path = write_unit_workbook(tmp_path / "r.xlsx", catalogue, "X-19369", MARCH, FIGURES, layout=layout)
    parsed = parse(path)
    assert (parsed.unit_code, str(parsed.period)) == ("X-19369", "2025-03")
    assert table(parsed) == EXPECTED_TABLE
    rates = {r.indicator_code: r.rate for r in parsed.rows}
    expected = RATE_READ[layout.rate_form]
    assert rates["NQ01-3"] is None if expected is None else rates["NQ01-3"] == pytest.approx(expected)
    assert rates["NQ02-6"] is None  # 0/0: nothing to count, no rate


def test_text_counts_are_written_vietnamese_style(catalogue, tmp_path):
    path = write_unit_workbook(tmp_path / "t.xlsx", catalogue, "X-19369", MARCH, FIGURES,
                               layout=Layout(text_counts=True, period_form="iso"))
    ws = load_workbook(path)["BaoCao"]
    assert (ws["B8"].value, ws["D16"].value, ws["E16"].value, ws["G21"].value) == ("2025-03", "1.234", "1.500", "Không phát sinh")


def test_rate_as_written_in_the_four_forms():
    assert [rate_as_written(171, 200, f) for f in ("number", "percent", "comma", "fraction")] == [85.5, "85,5%", "85,5", 0.855]
    assert rate_as_written(3, 3, "percent") == "100%"
    assert rate_as_written(0, 0, "number") is None


def test_cp1258_text_keeps_base_letters_and_spells_tones_as_combining_marks():
    text = "Mức độ hài lòng; Xã Vĩnh Thủy; ặ ậ ự ở ễ Đ"
    with pytest.raises(UnicodeEncodeError):
        text.encode("cp1258")  # why the converter exists
    converted = to_cp1258_text(text)
    assert converted.startswith("M\u01b0\u0301c \u0111\u00f4\u0323")  # ư + acute, đ, ô + dot below
    assert unicodedata.normalize("NFC", converted.encode("cp1258").decode("cp1258")) == text


@pytest.mark.parametrize("encoding,delimiter", [("utf-8-sig", ","), ("cp1258", ";")])
def test_csv_round_trips_in_both_encodings(catalogue, tmp_path, encoding, delimiter):
    path = write_unit_csv(tmp_path / "r.csv", catalogue, "X-19369", MARCH, FIGURES, encoding=encoding,
                          delimiter=delimiter, rate_form="comma")
    data = path.read_bytes()
    header = "ma_don_vi,ky_bao_cao,ma_chi_tieu,tu_so,mau_so,ty_le,ghi_chu".replace(",", delimiter)
    text = unicodedata.normalize("NFC", data.decode(encoding))
    assert text.splitlines()[0] == header
    records = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    assert records[12] == ["X-19369", "2025-03", "NQ02-7", "66", "73", "90,4", "Mức độ hài lòng"]
    assert records[11] == ["X-19369", "2025-03", "NQ02-6", "0", "0", "", "Xử lý phản ánh, kiến nghị đúng hạn - Không phát sinh"]
    assert data.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
    parsed = parse(path)
    assert (parsed.unit_code, str(parsed.period)) == ("X-19369", "2025-03")
    assert table(parsed) == EXPECTED_TABLE
    assert {r.indicator_code: r.rate for r in parsed.rows}["NQ01-3"] == pytest.approx(85.5)


# --- the demo shared drive ---------------------------------------------------------------------

def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    return {p.relative_to(root).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), int(p.stat().st_mtime))
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def demo(catalogue, tmp_path_factory):
    root = tmp_path_factory.mktemp("drive")
    return root, generate_shared_drive(root, catalogue, DEMO_PERIODS)


def test_demo_drive_is_deterministic(catalogue, demo, tmp_path):
    root, manifest = demo
    again = generate_shared_drive(tmp_path, catalogue, DEMO_PERIODS)
    assert again == manifest
    assert _snapshot(tmp_path) == _snapshot(root)
    other = generate_shared_drive(tmp_path / "other", catalogue, DEMO_PERIODS, seed=7)
    assert other["2025-01"]["X-19363"]["figures"] != manifest["2025-01"]["X-19363"]["figures"]


def test_demo_drive_has_the_described_statuses_and_files(demo):
    root, manifest = demo
    entries = [e for period in manifest.values() for e in period.values()]
    assert {p: len(units) for p, units in manifest.items()} == {"2025-01": 30, "2025-02": 30}
    assert Counter(e["expected_status"] for e in entries) == {"on_time": 49, "rejected": 6, "late": 4, "missing": 1}
    assert sum(len(e["files"]) == 2 for e in entries) == 1  # the correction
    assert [e["files"] for e in entries if e["expected_status"] == "missing"] == [[]]
    listed = {f for e in entries for f in e["files"]}
    on_disk = set(_snapshot(root))
    assert on_disk - listed == {"ghi chu.txt", "2025-02/~$VL-NV.xlsx"}
    assert listed <= on_disk and len(listed) == 60
    assert Counter(Path(f).suffix for f in listed) == {".xlsx": 56, ".csv": 4}
    assert "Phong Tu phap/2025/bao cao thang 1.xlsx" in listed
    assert sum(f.startswith("xa/") for f in listed) == 6  # two communes' own folders, one CSV exporter
    for e in entries:
        if e["expected_status"] == "rejected":
            assert set(e) == {"expected_status", "files", "reason_fragment"}
        else:
            assert all(n <= d for n, d in e.get("figures", {}).values())


def test_demo_mtimes_follow_the_deadline(demo):
    root, manifest = demo
    for label, units in manifest.items():
        period = Period.parse(label)
        end, deadline = DEFAULT_CALENDAR.bounds(period)[1].timestamp(), DEFAULT_CALENDAR.deadline(period).end.timestamp()
        for e in units.values():
            times = [os.stat(root / f).st_mtime for f in e["files"]]
            assert times == sorted(times)
            if e["expected_status"] == "late":
                assert deadline <= times[-1] <= deadline + 5 * 86400
            elif e["files"]:
                assert all(end <= t < deadline for t in times)


def test_demo_files_parse_back_to_the_manifest_figures(demo):
    root, manifest = demo
    checked = 0
    for label, units in manifest.items():
        for code, e in units.items():
            if "figures" not in e:
                continue
            parsed = parse(root / e["files"][-1])
            assert (parsed.unit_code, str(parsed.period)) == (code, label)
            assert {r.indicator_code: (int(r.numerator_text), int(r.denominator_text)) for r in parsed.rows} == e["figures"]
            assert len(parsed.rows) == len(e["figures"])
            checked += 1
            if len(e["files"]) == 2:  # the superseded version: valid, one denominator off
                first = parse(root / e["files"][0])
                old = {r.indicator_code: (int(r.numerator_text), int(r.denominator_text)) for r in first.rows}
                assert {c for c in old if old[c] != e["figures"][c]} == {"NQ01-4"}
    assert checked == 53


def test_demo_rejected_files_fail_with_the_expected_reason(catalogue, demo):
    from tthc.sources.shared_drive.parse import SubmissionParseError
    from tthc.checks.submissions import validate_submission

    root, manifest = demo
    fragments = []
    for label, units in manifest.items():
        for code, e in units.items():
            if e["expected_status"] != "rejected":
                continue
            try:
                parsed = parse(root / e["files"][0])
            except SubmissionParseError as exc:
                reasons = exc.reasons
            else:
                submission = {"unit_code": parsed.unit_code, "unit_cell": parsed.unit_cell,
                              "columns_found": json.dumps(parsed.columns)}
                outcome = validate_submission(submission, [asdict(r) for r in parsed.rows], catalogue, parsed.period)
                assert not outcome.accepted
                reasons = outcome.reasons
            # Only the intended rule is broken (a duplicate names both of its rows).
            assert reasons and all(e["reason_fragment"] in r for r in reasons), (e, reasons)
            fragments.append(e["reason_fragment"])
    assert len(fragments) == 6
