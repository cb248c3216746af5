"""Builds monthly_report.docx, the docxtpl template of the monthly report (Decree 30/2020/NĐ-CP layout).

The generated .docx is committed: the office may edit its wording in Word afterwards, keeping the
{{ … }} and {% … %} tags. Re-run this script only to start over from the house style:

    .venv/bin/python include/tthc/reports/templates/build_template.py
"""

from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

OUT = Path(__file__).with_name("monthly_report.docx")
FONT = "Times New Roman"
BODY_PT = 14
TABLE_PT = 13
TEXT_WIDTH_MM = 165  # A4 210 mm minus margins 30 (left) and 15 (right)

CENTER, RIGHT, LEFT, JUSTIFY = (WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.RIGHT,
                                WD_ALIGN_PARAGRAPH.LEFT, WD_ALIGN_PARAGRAPH.JUSTIFY)


def set_font(style_or_run, size: float | None = None) -> None:
    """Times New Roman for every script slot, so Word never falls back to a theme font."""
    font = style_or_run.font
    font.name = FONT
    if size:
        font.size = Pt(size)
    rpr = style_or_run.element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for slot in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(slot), FONT)


def para(container, text: str = "", *, bold=False, italic=False, size: float | None = None,
         align=None, indent=False, after: float = 0):
    p = container.add_paragraph()
    if text:
        run = p.add_run(text)
        run.bold, run.italic = bold or None, italic or None
        if size:
            run.font.size = Pt(size)
    fmt = p.paragraph_format
    if align is not None:
        p.alignment = align
    if indent:
        fmt.first_line_indent = Mm(12.7)
    fmt.space_before, fmt.space_after = Pt(0), Pt(after)
    return p


def no_borders(table) -> None:
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    table._tbl.tblPr.append(borders)


def repeat_header(row) -> None:
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(el)


def set_widths(table, widths_mm) -> None:
    table.autofit = False
    for row in table.rows:
        for cell, width in zip(row.cells, widths_mm):
            cell.width = Mm(width)


def first_para(cell, text: str, **kw):
    """Write into a cell's own first paragraph (python-docx creates one) instead of adding a blank."""
    p = cell.paragraphs[0]
    run = p.add_run(text)
    run.bold, run.italic = kw.get("bold") or None, kw.get("italic") or None
    if kw.get("size"):
        run.font.size = Pt(kw["size"])
    p.alignment = kw.get("align", CENTER)
    p.paragraph_format.space_after = Pt(0)
    return p


def loop_table(doc, columns: list[tuple[str, float, object, str]], loop: str):
    """A bordered table: a bold header row repeated on every page, then one row per item of
    `loop` (docxtpl's {%tr %} tags sit in rows of their own, as it requires)."""
    table = doc.add_table(rows=4, cols=len(columns))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    header, opening, body, closing = table.rows
    for i, (title, _width, align, field) in enumerate(columns):
        first_para(header.cells[i], title, bold=True, size=TABLE_PT)
        first_para(body.cells[i], "{{ r.%s }}" % field, size=TABLE_PT, align=align)
        for cell in (header.cells[i], body.cells[i]):
            cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    first_para(opening.cells[0], "{%%tr for r in %s %%}" % loop, align=LEFT)
    first_para(closing.cells[0], "{%tr endfor %}", align=LEFT)
    repeat_header(header)
    set_widths(table, [c[1] for c in columns])
    return table


def page_number_header(section) -> None:
    """Decree 30: page numbers centred in the header, from the second page."""
    section.different_first_page_header_footer = True
    p = section.header.paragraphs[0]
    p.alignment = CENTER
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "2"
    run.append(text)
    field.append(run)
    p._p.append(field)


def build(path: Path = OUT) -> Path:
    doc = Document()
    for name in ("Normal", "Table Grid", "Header"):
        set_font(doc.styles[name], BODY_PT if name == "Normal" else None)
    doc.styles["Normal"].paragraph_format.space_after = Pt(0)

    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)
    section.left_margin, section.right_margin = Mm(30), Mm(15)
    page_number_header(section)

    # Header: issuing body | national title; number | place and date (left blank for signing).
    head = doc.add_table(rows=2, cols=2)
    no_borders(head)
    left, right = head.rows[0].cells
    first_para(left, "ỦY BAN NHÂN DÂN", bold=True, size=13)
    para(left, "HUYỆN VĨNH LINH", bold=True, size=13, align=CENTER)
    first_para(right, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold=True, size=12.5)
    para(right, "Độc lập - Tự do - Hạnh phúc", bold=True, size=13, align=CENTER)
    number, date = head.rows[1].cells
    first_para(number, "Số:      /BC-UBND", size=13).paragraph_format.space_before = Pt(6)
    first_para(date, "Vĩnh Linh, ngày     tháng     năm {{ issue_year }}", italic=True,
               size=13).paragraph_format.space_before = Pt(6)
    set_widths(head, [62, TEXT_WIDTH_MM - 62])

    para(doc, "BÁO CÁO", bold=True, align=CENTER).paragraph_format.space_before = Pt(18)
    para(doc, "Kết quả thực hiện các chỉ tiêu cải cách thủ tục hành chính tháng {{ month_label }}",
         bold=True, align=CENTER)
    para(doc, "({{ period_text }})", italic=True, size=13, align=CENTER, after=12)

    para(doc, "Thực hiện Kế hoạch cải cách thủ tục hành chính trọng tâm năm {{ year }} của UBND huyện, "
              "UBND huyện Vĩnh Linh báo cáo kết quả thực hiện các chỉ tiêu trong kỳ như sau:",
         align=JUSTIFY, indent=True, after=6)
    para(doc, "{%p for s in summary %}")
    para(doc, "{{ s }}", align=JUSTIFY, indent=True, after=6)
    para(doc, "{%p endfor %}")

    para(doc, "I. KẾT QUẢ THỰC HIỆN CÁC CHỈ TIÊU", bold=True, after=6).paragraph_format.space_before = Pt(6)
    loop_table(doc, [
        ("STT", 10, CENTER, "stt"), ("Mã", 19, CENTER, "code"), ("Chỉ tiêu", 38, LEFT, "name"),
        ("Tử số", 16, RIGHT, "num"), ("Mẫu số", 16, RIGHT, "den"), ("Tháng (%)", 18, CENTER, "month"),
        ("Lũy kế (%)", 18, CENTER, "ytd"), ("Chỉ tiêu KH", 15, CENTER, "target"),
        ("Đánh giá", 15, CENTER, "verdict"),
    ], "indicators")
    para(doc, "{{ table_note }}", italic=True, size=12, align=JUSTIFY, after=6)

    para(doc, "II. ĐƠN VỊ CHƯA ĐẠT CHỈ TIÊU", bold=True, after=6).paragraph_format.space_before = Pt(6)
    para(doc, "1. Đơn vị có tỷ lệ thấp hơn chỉ tiêu kế hoạch", bold=True, italic=True, indent=True, after=6)
    para(doc, "{%p if below %}")
    loop_table(doc, [
        ("STT", 10, CENTER, "stt"), ("Đơn vị", 45, LEFT, "unit"), ("Chỉ tiêu", 45, LEFT, "indicator"),
        ("Tử số/Mẫu số", 25, CENTER, "counts"), ("Tỷ lệ", 20, CENTER, "value"),
        ("Chỉ tiêu KH", 20, CENTER, "target"),
    ], "below")
    para(doc, "{%p else %}")
    para(doc, "Không có đơn vị nào có tỷ lệ thấp hơn chỉ tiêu kế hoạch.", align=JUSTIFY, indent=True)
    para(doc, "{%p endif %}")
    para(doc, "2. Số liệu cần đối chiếu (đơn vị tự báo cáo chênh lệch trên {{ discrepancy_points }} "
              "điểm % so với số liệu trên Cổng dịch vụ công)", bold=True, italic=True, indent=True,
         after=6).paragraph_format.space_before = Pt(6)
    para(doc, "{%p if discrepancies %}")
    loop_table(doc, [
        ("STT", 10, CENTER, "stt"), ("Đơn vị", 42, LEFT, "unit"), ("Mã chỉ tiêu", 22, CENTER, "code"),
        ("Đơn vị báo cáo", 30, CENTER, "reported"), ("Cổng DVC", 30, CENTER, "portal"),
        ("Chênh lệch", 31, CENTER, "gap"),
    ], "discrepancies")
    para(doc, "{%p else %}")
    para(doc, "Không có số liệu chênh lệch cần đối chiếu.", align=JUSTIFY, indent=True)
    para(doc, "{%p endif %}")

    para(doc, "III. TÌNH HÌNH GỬI BÁO CÁO CỦA CÁC ĐƠN VỊ", bold=True,
         after=6).paragraph_format.space_before = Pt(6)
    para(doc, "{{ submission_text }}", align=JUSTIFY, indent=True, after=6)
    para(doc, "{%p if submissions %}")
    loop_table(doc, [
        ("STT", 10, CENTER, "stt"), ("Đơn vị", 38, LEFT, "unit"), ("Tình trạng", 20, CENTER, "status"),
        ("Thời điểm nhận", 22, CENTER, "received"), ("Tệp", 30, LEFT, "file"), ("Lý do", 45, LEFT, "reasons"),
    ], "submissions")
    para(doc, "{%p endif %}")

    para(doc, "IV. BIỂU ĐỒ", bold=True, after=6).paragraph_format.space_before = Pt(6)
    para(doc, "{{ chart }}", align=CENTER)
    para(doc, "Biểu đồ 1. {{ chart_caption }}", italic=True, size=13, align=CENTER, after=6)

    para(doc, "Trên đây là báo cáo kết quả thực hiện các chỉ tiêu cải cách thủ tục hành chính "
              "tháng {{ month_label }} của UBND huyện Vĩnh Linh./.", align=JUSTIFY, indent=True, after=12)

    # Recipients | signature, side by side without borders, as in the district's plan.
    sign = doc.add_table(rows=1, cols=2)
    no_borders(sign)
    recipients, signer = sign.rows[0].cells
    first_para(recipients, "Nơi nhận:", bold=True, italic=True, size=12, align=LEFT)
    for line in ("- UBND tỉnh (b/c);", "- Chủ tịch, các PCT UBND huyện;", "- Lưu: VT, VP."):
        para(recipients, line, size=11, align=LEFT)
    first_para(signer, "TM. ỦY BAN NHÂN DÂN", bold=True)
    for line in ("KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH"):
        para(signer, line, bold=True, align=CENTER)
    for _ in range(4):  # room for the signature and seal
        para(signer)
    set_widths(sign, [80, TEXT_WIDTH_MM - 80])

    doc.core_properties.title = "Báo cáo kết quả thực hiện các chỉ tiêu cải cách TTHC"
    doc.core_properties.author = "UBND huyện Vĩnh Linh"
    doc.save(path)
    return path


if __name__ == "__main__":
    print(build())
