"""Unit workbooks and CSVs in the shared-drive format (spec "Source 1"): blank templates and demo files.

The layout options exist so the demo can write the shapes units really send (their own copies of
the template, edited); the parser must read every one of them.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from ...calendar import DEFAULT_CALENDAR, ReportingCalendar
from ...catalogue import Catalogue, Unit
from ...periods import Period

SHEET_NAME = "BaoCao"
HELP_SHEET_NAME = "HuongDan"
DISTRICT_BODY = "UBND HUYỆN VĨNH LINH"
# After the July 2025 reorganisation the communes report straight to the province.
PROVINCE_BODY = "UBND TỈNH QUẢNG TRỊ"
REPORT_TITLE = "BÁO CÁO KẾT QUẢ THỰC HIỆN CHỈ TIÊU CẢI CÁCH TTHC"
NO_ACTIVITY_NOTE = "Không phát sinh"

COLUMN_KEYS = ("stt", "code", "name", "num", "den", "rate", "note")
HEADERS = {
    "stt": "STT", "code": "Mã chỉ tiêu", "name": "Tên chỉ tiêu", "num": "Tử số",
    "den": "Mẫu số", "rate": "Tỷ lệ (%)", "note": "Ghi chú",
}
_WIDTHS = {"stt": 12, "code": 14, "name": 60, "num": 12, "den": 12, "rate": 11, "note": 28}
CSV_COLUMNS = ("ma_don_vi", "ky_bao_cao", "ma_chi_tieu", "tu_so", "mau_so", "ty_le", "ghi_chu")

PERIOD_FORMS = ("mm/yyyy", "m/yyyy", "thang", "iso")
RATE_FORMS = ("number", "percent", "comma", "fraction")

Count = int | str  # a str is written as typed: '1.234', or a wrong value such as '12,5'
Figure = tuple[Count, Count] | tuple[Count, Count, object]
Figures = Mapping[str, Figure] | Iterable[tuple[str, Figure]]


@dataclass(frozen=True)
class Layout:
    """How a unit's copy of the template looks; the default is the template as issued."""

    title_rows: int = 4  # 0..4 lines: superior body, unit, title, period described
    columns: tuple[str, ...] = COLUMN_KEYS  # any order; 'code', 'num', 'den' required
    ascii_labels: bool = False  # 'Ma don vi', typed without diacritics
    upper_labels: bool = False
    label_colon: bool = False  # 'Mã đơn vị:'
    text_counts: bool = False  # counts as Vietnamese-style text: '1.234'
    period_form: str = "mm/yyyy"  # see PERIOD_FORMS
    period_text: str | None = None  # written verbatim instead of the period (e.g. '13/2025')
    rate_form: str | None = None  # None leaves 'Tỷ lệ (%)' blank; else one of RATE_FORMS

    def __post_init__(self):
        missing = {"code", "num", "den"} - set(self.columns)
        if missing or not set(self.columns) <= set(COLUMN_KEYS) or len(set(self.columns)) != len(self.columns):
            raise ValueError(f"layout columns must be distinct keys of {COLUMN_KEYS} with code, num, den")
        if self.period_form not in PERIOD_FORMS:
            raise ValueError(f"period_form must be one of {PERIOD_FORMS}")
        if self.rate_form not in (None, *RATE_FORMS):
            raise ValueError(f"rate_form must be None or one of {RATE_FORMS}")
        if not 0 <= self.title_rows <= 4:
            raise ValueError("title_rows must be 0..4")

    def label(self, text: str, *, colon: bool = True) -> str:
        """A label as this layout types it; table headers take no colon (colon=False)."""
        if self.ascii_labels:
            text = strip_diacritics(text)
        if self.upper_labels:
            text = text.upper()
        return text + ":" if colon and self.label_colon else text


def strip_diacritics(text: str) -> str:
    """'Mã đơn vị' → 'Ma don vi' (case kept), as typed on a keyboard without Vietnamese input."""
    s = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in s if unicodedata.category(ch) != "Mn").replace("đ", "d").replace("Đ", "D")


def period_text(period: Period, form: str = "mm/yyyy") -> str:
    return {
        "mm/yyyy": f"{period.month:02d}/{period.year}",
        "m/yyyy": f"{period.month}/{period.year}",
        "thang": f"Tháng {period.month:02d}/{period.year}",
        "iso": period.label,
    }[form]


def count_as_text(n: int) -> str:
    """Vietnamese grouping: 1234 → '1.234'."""
    return f"{n:,}".replace(",", ".")


def rate_as_written(numerator: int, denominator: int, form: str) -> float | str | None:
    """The rate as a clerk types it, consistent with num/den; None (blank) when nothing to count."""
    if denominator == 0:
        return None
    pct = round(100 * numerator / denominator, 1)
    shown = f"{pct:g}".replace(".", ",")
    return {
        "number": pct,
        "percent": shown + "%",
        "comma": shown,
        "fraction": round(numerator / denominator, 4),
    }[form]


def resolve_unit(catalogue: Catalogue, unit: Unit | str, period: Period,
                 calendar: ReportingCalendar = DEFAULT_CALENDAR) -> Unit:
    """The catalogue unit for a code, checked to be one that reports in the period."""
    if isinstance(unit, str):
        if unit not in catalogue.units:
            raise ValueError(f"mã đơn vị {unit!r} không có trong danh mục đơn vị ({catalogue.directory / 'units.csv'})")
        unit = catalogue.units[unit]
    if not unit.valid_in(period, calendar):
        until = unit.valid_to.strftime("%d/%m/%Y") if unit.valid_to else "nay"
        raise ValueError(
            f"đơn vị {unit.code} ({unit.name}) không báo cáo kỳ {period.label}: "
            f"hiệu lực từ {unit.valid_from:%d/%m/%Y} đến {until}"
        )
    return unit


def _as_period(period: Period | str) -> Period:
    return period if isinstance(period, Period) else Period.parse(period)


def _figure_rows(catalogue: Catalogue, unit: Unit, figures: Figures | None) -> list[tuple[str, Figure | None]]:
    """Rows to write: the unit's codes in catalogue order (blank where no figure), each figure given
    for it (twice if given twice), then figures under codes the unit does not report."""
    items = list(figures.items() if isinstance(figures, Mapping) else figures or ())
    codes = catalogue.reportable_codes(unit)
    rows: list[tuple[str, Figure | None]] = []
    for code in codes:
        given = [fig for c, fig in items if c == code]
        rows.extend((code, fig) for fig in given or [None])
    rows.extend((c, fig) for c, fig in items if c not in codes)
    return rows


def _rate_cell(figure: Figure | None, rate_form: str | None):
    if figure is None:
        return None
    if len(figure) == 3:
        return figure[2]
    num, den = figure
    if rate_form and isinstance(num, int) and isinstance(den, int):
        return rate_as_written(num, den, rate_form)
    return None


def _note(figure: Figure | None) -> str | None:
    return NO_ACTIVITY_NOTE if figure is not None and figure[0] == 0 and figure[1] == 0 else None


def _superior_body(catalogue: Catalogue, period: Period, calendar: ReportingCalendar) -> str:
    # The district exists as long as its departments do (catalogue data, not a hard-coded date).
    has_district = any(u.unit_type == "department" for u in catalogue.units_in(period, calendar))
    return DISTRICT_BODY if has_district else PROVINCE_BODY


def _issuing_body(unit: Unit) -> str:
    return (unit.name if unit.unit_type == "department" else f"UBND {unit.name}").upper()


_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")
_HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")


def write_unit_workbook(path, catalogue: Catalogue, unit: Unit | str, period: Period | str,
                        figures: Figures | None = None, *, layout: Layout | None = None,
                        calendar: ReportingCalendar = DEFAULT_CALENDAR) -> Path:
    """Write one unit's report workbook: blank (a template) or filled with `figures`.

    figures: code -> (numerator, denominator[, rate as written]); or (code, figure) pairs, which
    may repeat a code. Without a written rate, `layout.rate_form` decides (blank by default).
    """
    period = _as_period(period)
    unit = resolve_unit(catalogue, unit, period, calendar)
    layout = layout or Layout()
    path = Path(path)
    cols = {key: i + 1 for i, key in enumerate(layout.columns)}
    width = len(layout.columns)

    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_NAME
    for key, col in cols.items():
        ws.column_dimensions[get_column_letter(col)].width = _WIDTHS[key]
    ws.column_dimensions["A"].width = max(_WIDTHS[layout.columns[0]], 16)  # room for the labels

    titles = [_superior_body(catalogue, period, calendar), _issuing_body(unit), REPORT_TITLE,
              calendar.describe_vi(period)][: layout.title_rows]
    row = 1
    for i, text in enumerate(titles):
        ws.cell(row, 1, text).font = Font(bold=i != 3, size=13 if i == 2 else 12, italic=i == 3)
        ws.cell(row, 1).alignment = Alignment(horizontal="center")
        if width > 1:
            ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=width)
        row += 1
    if titles:
        row += 1

    written_period = layout.period_text if layout.period_text is not None else period_text(period, layout.period_form)
    for label, value in (("Mã đơn vị", unit.code), ("Tên đơn vị", unit.name), ("Kỳ báo cáo", written_period)):
        ws.cell(row, 1, layout.label(label)).font = Font(bold=True)
        ws.cell(row, 2, value)
        row += 1
    row += 1

    header_row = row
    for key, col in cols.items():
        cell = ws.cell(header_row, col, layout.label(HEADERS[key], colon=False))
        cell.font, cell.fill, cell.border = Font(bold=True), _HEADER_FILL, _BOX
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)

    counts = DataValidation(
        type="whole", operator="greaterThanOrEqual", formula1="0", allow_blank=True,
        showErrorMessage=True, errorStyle="stop", errorTitle="Số liệu không hợp lệ",
        error="Tử số và mẫu số là số nguyên không âm (0, 1, 2, ...). Không phát sinh thì ghi 0 và 0.",
        showInputMessage=True, promptTitle="Nhập số liệu", prompt="Số nguyên ≥ 0; tử số không lớn hơn mẫu số.",
    )
    ws.add_data_validation(counts)

    for stt, (code, figure) in enumerate(_figure_rows(catalogue, unit, figures), start=1):
        row += 1
        indicator = catalogue.indicators.get(code)
        num, den = (figure[0], figure[1]) if figure is not None else (None, None)
        values = {
            "stt": stt, "code": code, "name": indicator.name_vi if indicator else None,
            "num": _count_cell(num, layout), "den": _count_cell(den, layout),
            "rate": _rate_cell(figure, layout.rate_form), "note": _note(figure),
        }
        for key, col in cols.items():
            cell = ws.cell(row, col, values[key])
            cell.border = _BOX
            cell.alignment = Alignment(vertical="top", wrap_text=key == "name")
        for key, hint in (("num", indicator and indicator.numerator_vi), ("den", indicator and indicator.denominator_vi)):
            cell = ws.cell(row, cols[key])
            cell.fill = _INPUT_FILL
            if hint:
                cell.comment = Comment(f"{HEADERS[key]}: {hint}", "Văn phòng HĐND và UBND huyện")
            counts.add(cell)
    ws.freeze_panes = ws.cell(header_row + 1, 1)

    # Below the table, after a blank row (which ends the table for the parser).
    row += 2
    ws.cell(row, 1, "Người lập biểu").font = Font(bold=True)
    ws.cell(row, min(width, 3), "Thủ trưởng đơn vị").font = Font(bold=True)

    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    _write_help_sheet(wb.create_sheet(HELP_SHEET_NAME), catalogue, unit, period, calendar)
    return _save_reproducible(wb, path, calendar.bounds(period)[1])


def _count_cell(value: Count | None, layout: Layout):
    if isinstance(value, int) and layout.text_counts:
        return count_as_text(value)
    return value


def _write_help_sheet(ws, catalogue: Catalogue, unit: Unit, period: Period, calendar: ReportingCalendar) -> None:
    lines = [
        ("HƯỚNG DẪN ĐIỀN BÁO CÁO", True),
        (f"Đơn vị: {unit.name} (mã {unit.code}). Kỳ báo cáo: {calendar.describe_vi(period)}.", False),
        ("1. Điền vào sheet BaoCao, mỗi chỉ tiêu một dòng: cột Tử số và Mẫu số là số nguyên không âm "
         "(có thể viết 1.234). Tử số không được lớn hơn mẫu số.", False),
        ("2. Không phát sinh (không có gì để đếm) thì ghi 0 ở cả tử số và mẫu số; chỉ tiêu đó không bị "
         "đánh giá so với mục tiêu.", False),
        ("3. Cột Tỷ lệ (%) có thể để trống; nếu ghi, tỷ lệ phải khớp với tử số/mẫu số (lệch không quá "
         "0,5 điểm %). Không dùng công thức.", False),
        ("4. Không sửa mã đơn vị, kỳ báo cáo (dạng 03/2025) và mã chỉ tiêu; không thêm dòng trùng chỉ tiêu.", False),
        ("5. Chỉ tiêu NQ02-5 là cùng một số liệu với NQ01-5 (đồng bộ kết quả lên Cổng DVCQG): chỉ ghi "
         "ở dòng NQ01-5.", False),
        ("6. Lưu tệp ở bất kỳ đâu trong thư mục dùng chung; nên đặt theo mẫu "
         f"{period.label}/{unit.code}.xlsx. Hệ thống đọc mã đơn vị và kỳ báo cáo trong tệp, không theo tên tệp.", False),
        ("7. Muốn sửa số liệu đã gửi: gửi (lưu) một tệp mới cho cùng kỳ; tệp hợp lệ mới nhất được tính, "
         "các tệp cũ vẫn được lưu lại để đối chiếu.", False),
        ("8. Tệp có lỗi bị trả lại toàn bộ, kèm lý do và ô bị lỗi; sửa rồi gửi lại.", False),
        ("", False),
        ("Nội dung tử số, mẫu số của từng chỉ tiêu", True),
    ]
    for r, (text, bold) in enumerate(lines, start=1):
        ws.cell(r, 1, text).font = Font(bold=bold)
    r = len(lines) + 1
    for c, head in enumerate(("Mã chỉ tiêu", "Tên chỉ tiêu", "Tử số", "Mẫu số"), start=1):
        ws.cell(r, c, head).font = Font(bold=True)
    for code in catalogue.reportable_codes(unit):
        ind = catalogue.indicators[code]
        r += 1
        for c, value in enumerate((code, ind.short_name_vi, ind.numerator_vi, ind.denominator_vi), start=1):
            ws.cell(r, c, value).alignment = Alignment(wrap_text=True, vertical="top")
    for col, w in zip("ABCD", (14, 40, 50, 50)):
        ws.column_dimensions[col].width = w


def _save_reproducible(wb: Workbook, path: Path, when: datetime) -> Path:
    """Save with fixed document and zip timestamps: the same content gives the same bytes."""
    stamp = when.astimezone(timezone.utc).replace(tzinfo=None)
    wb.properties.created = stamp
    buf = io.BytesIO()
    wb.save(buf)  # openpyxl sets `modified` to now and zip entries to the clock: both rewritten below
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = _fix_modified(data, stamp)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6]), data,
                         compress_type=zipfile.ZIP_DEFLATED)
    return path


def _fix_modified(core_xml: bytes, stamp: datetime) -> bytes:
    start = core_xml.index(b"<dcterms:modified")
    start = core_xml.index(b">", start) + 1
    end = core_xml.index(b"</dcterms:modified>", start)
    return core_xml[:start] + stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode() + core_xml[end:]


def write_templates(catalogue: Catalogue, period: Period | str, out_dir, unit_code: str | None = None,
                    calendar: ReportingCalendar = DEFAULT_CALENDAR) -> list[Path]:
    """Blank workbooks `<out_dir>/<period>/<unit_code>.xlsx` for every unit reporting in the period."""
    period = _as_period(period)
    units = ([resolve_unit(catalogue, unit_code, period, calendar)] if unit_code
             else catalogue.units_in(period, calendar))
    out = Path(out_dir) / period.label
    return [write_unit_workbook(out / f"{u.code}.xlsx", catalogue, u, period, calendar=calendar) for u in units]


# --- CSV ---------------------------------------------------------------------------------------
# cp1258 holds the base letters â ê ô ă ơ ư đ precomposed but tone marks only as combining
# characters, so Python's codec fails on NFC text ('ố'): keep those three modifiers composed
# with their letter and leave the tone marks combining.
_BASE_MODIFIERS = {"\u0302", "\u0306", "\u031b"}  # circumflex, breve, horn


def to_cp1258_text(text: str) -> str:
    """Vietnamese text in the form the cp1258 codec can encode (decode + NFC gives it back)."""
    out: list[str] = []
    base, marks = "", []

    def flush():
        if base:
            keep = "".join(m for m in marks if m in _BASE_MODIFIERS)
            out.append(unicodedata.normalize("NFC", base + keep) + "".join(m for m in marks if m not in _BASE_MODIFIERS))

    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.combining(ch) and base:
            marks.append(ch)
        else:
            flush()
            base, marks = ch, []
    flush()
    return "".join(out)


def write_unit_csv(path, catalogue: Catalogue, unit: Unit | str, period: Period | str, figures: Figures, *,
                   encoding: str = "utf-8-sig", delimiter: str = ",", rate_form: str | None = None,
                   calendar: ReportingCalendar = DEFAULT_CALENDAR) -> Path:
    """A CSV submission, one row per figure (same rows as the workbook, blank codes left out)."""
    period = _as_period(period)
    unit = resolve_unit(catalogue, unit, period, calendar)
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for code, figure in _figure_rows(catalogue, unit, figures):
        if figure is None:
            continue
        indicator = catalogue.indicators.get(code)
        note = " - ".join(filter(None, (indicator and indicator.short_name_vi, _note(figure))))
        rate = _rate_cell(figure, rate_form)
        writer.writerow([unit.code, period.label, code, figure[0], figure[1], "" if rate is None else rate, note])
    text = buf.getvalue()
    if encoding.replace("-", "").replace("_", "").lower() in ("cp1258", "windows1258"):
        text = to_cp1258_text(text)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path
