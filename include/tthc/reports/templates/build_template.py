"""Builds monthly_report.docx, the docxtpl template of the monthly report (Decree 30/2020/NĐ-CP layout),
also used for the quarterly, half-year and annual roll-ups (the period's words, the rate column's
header, the stretch-target table, the trend chart and, for a month, the units ranked on the plan's
headline indicators come from the context).

The generated .docx is committed: the office may edit its wording in Word afterwards, keeping the
{{ … }} and {% … %} tags. Re-run this script only to start over from the house style:

    .venv/bin/python include/tthc/reports/templates/build_template.py
"""

from __future__ import annotations

from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

OUT = Path(__file__).with_name("monthly_report.docx")
FONT = "Times New Roman"
BODY_PT = 14
TABLE_PT = 12
TEXT_WIDTH_MM = 165  # A4 210 mm minus margins 30 (left) and 15 (right)
CELL_MARGIN_MM = 1.2  # left and right padding of the bordered tables' cells
CELL_PAD_MM = 0.4  # top and bottom padding: text clear of the borders
HEADER_MARGIN_MM = 0.5  # the borderless header and signature tables
LEFT_HEAD_MM = 60  # header: issuing body | national title and motto (which must fit on one line)
# Widths of the text the header's rules are drawn under, in Times New Roman (and its metric twin
# Liberation Serif): "Độc lập - Tự do - Hạnh phúc" bold 14 pt is 60.2 mm; the issuing body's rule is
# short (Decree 30: a third to a half of the name's line).
MOTTO_RULE_MM = 60.5
BODY_RULE_MM = 20

# pPr children that follow w:pBdr in the schema's sequence.
_AFTER_PBDR = ("w:shd", "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct",
               "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd", "w:snapToGrid",
               "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap", "w:jc",
               "w:textDirection", "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl", "w:divId",
               "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange")

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
         align=None, indent=False, after: float = 0, before: float = 0, keep: bool = False):
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
    fmt.space_before, fmt.space_after = Pt(before), Pt(after)
    if keep:  # a heading stays with what it introduces
        fmt.keep_with_next = True
    return p


def heading(doc, text: str, *, italic: bool = False, indent: bool = False):
    return para(doc, text, bold=True, italic=italic, indent=indent, before=6, after=4, keep=True)




def repeat_header(row) -> None:
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(el)


def _twips(mm: float) -> str:
    return str(round(mm * 1440 / 25.4))


def _tbl_pr_child(table, tag: str):
    """The tblPr child `tag`, created in its schema position (Word rejects misordered ones)."""
    tbl_pr = table._tbl.tblPr
    el = tbl_pr.find(qn(tag))
    if el is None:
        el = OxmlElement(tag)
        order = ["w:tblStyle", "w:tblpPr", "w:tblOverlap", "w:bidiVisual", "w:tblStyleRowBandSize",
                 "w:tblStyleColBandSize", "w:tblW", "w:jc", "w:tblCellSpacing", "w:tblInd", "w:tblBorders",
                 "w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook", "w:tblCaption", "w:tblDescription"]
        later = order[order.index(tag) + 1:]
        successor = next((c for c in tbl_pr if c.tag in {qn(t) for t in later}), None)
        if successor is None:
            tbl_pr.append(el)
        else:
            successor.addprevious(el)
    return el


def no_borders(table) -> None:
    borders = _tbl_pr_child(table, "w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)


def set_widths(table, widths_mm, cell_margin_mm: float = CELL_MARGIN_MM) -> None:
    """Fixed layout at exactly these column widths, in Word and in LibreOffice: the table's width,
    tblLayout fixed, the grid's columns and every cell's own width (also in the rows docxtpl copies
    for {%tr for %}), else either program autofits to the content and squeezes the text columns."""
    assert abs(sum(widths_mm) - TEXT_WIDTH_MM) < 0.01, widths_mm
    table.autofit = False
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    width = _tbl_pr_child(table, "w:tblW")
    width.set(qn("w:type"), "dxa")
    width.set(qn("w:w"), _twips(sum(widths_mm)))
    _tbl_pr_child(table, "w:tblLayout").set(qn("w:type"), "fixed")
    margins = _tbl_pr_child(table, "w:tblCellMar")
    for side, mm in (("top", CELL_PAD_MM), ("left", cell_margin_mm), ("bottom", CELL_PAD_MM),
                     ("right", cell_margin_mm)):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:w"), _twips(mm))
        el.set(qn("w:type"), "dxa")
        margins.append(el)
    for column, w in zip(table.columns, widths_mm):
        column.width = Mm(w)  # the gridCol
    for row in table.rows:
        for cell, w in zip(row.cells, widths_mm):
            cell.width = Mm(w)


def cant_split(row) -> None:
    """A row stays on one page (the table's rows are a few lines each)."""
    el = OxmlElement("w:cantSplit")
    el.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(el)


def rule(container, length_mm: float, width_mm: float, *, space_before: float = 0) -> None:
    """A horizontal line `length_mm` long, centred in a column `width_mm` wide: the top border of an
    empty, 1 pt-high paragraph indented from both sides (Word and LibreOffice draw it alike)."""
    p = container.add_paragraph()
    fmt = p.paragraph_format
    side = (width_mm - length_mm) / 2
    fmt.left_indent, fmt.right_indent = Mm(side), Mm(side)
    fmt.space_before, fmt.space_after = Pt(space_before), Pt(0)
    fmt.line_spacing, fmt.line_spacing_rule = Pt(1), WD_LINE_SPACING.EXACTLY
    p_pr = p._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    top = OxmlElement("w:top")
    for key, value in (("val", "single"), ("sz", "6"), ("space", "0"), ("color", "000000")):
        top.set(qn(f"w:{key}"), value)
    borders.append(top)
    p_pr.insert_element_before(borders, *_AFTER_PBDR)
    mark = OxmlElement("w:rPr")  # the paragraph mark's size, so the empty line stays 1 pt high
    size = OxmlElement("w:sz")
    size.set(qn("w:val"), "2")
    mark.append(size)
    p_pr.append(mark)


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


def loop_table(doc, columns: list[tuple[str, float, object, str]], loop: str, keep_rows: bool = True):
    """A bordered table: a bold header row repeated on every page, then one row per item of
    `loop` (docxtpl's {%tr %} tags sit in rows of their own, as it requires). A field named
    '*name' is a list, one paragraph per item (its wrapped lines indented under the first)."""
    table = doc.add_table(rows=4, cols=len(columns))
    table.style = "Table Grid"
    header, opening, body, closing = table.rows
    for i, (title, _width, align, field) in enumerate(columns):
        first_para(header.cells[i], title, bold=True, size=TABLE_PT)
        if field.startswith("*"):
            first_para(body.cells[i], "{%%p for item in r.%s %%}" % field[1:], size=TABLE_PT, align=align)
            item = para(body.cells[i], "{{ item }}", size=TABLE_PT, align=align)
            item.paragraph_format.left_indent, item.paragraph_format.first_line_indent = Mm(4), Mm(-4)
            para(body.cells[i], "{%p endfor %}", size=TABLE_PT, align=align)
        else:
            first_para(body.cells[i], "{{ r.%s }}" % field, size=TABLE_PT, align=align)
        for cell in (header.cells[i], body.cells[i]):
            cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    first_para(opening.cells[0], "{%%tr for r in %s %%}" % loop, align=LEFT)
    first_para(closing.cells[0], "{%tr endfor %}", align=LEFT)
    repeat_header(header)
    cant_split(header)
    if keep_rows:
        cant_split(body)
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
    # Decree 30: national title 12-13 pt bold capitals on one line (95.7 mm at 13 pt), the motto
    # 13-14 pt bold with a rule as long as it under it; the issuing body bold with a short rule.
    head = doc.add_table(rows=2, cols=2)
    no_borders(head)
    widths = [LEFT_HEAD_MM, TEXT_WIDTH_MM - LEFT_HEAD_MM]
    inner = [w - 2 * HEADER_MARGIN_MM for w in widths]
    left, right = head.rows[0].cells
    # The issuing body from the catalogue (issuers.csv, by the period's last day): the body above it,
    # if any, in regular capitals, then its own name in bold.
    first_para(left, "{%p for line in issuer.superior %}", size=13)
    para(left, "{{ line }}", size=13, align=CENTER)
    para(left, "{%p endfor %}", size=13, align=CENTER)
    para(left, "{%p for line in issuer.name %}", size=13, align=CENTER)
    para(left, "{{ line }}", bold=True, size=13, align=CENTER)
    para(left, "{%p endfor %}", size=13, align=CENTER)
    rule(left, BODY_RULE_MM, inner[0], space_before=2)
    first_para(right, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", bold=True, size=13)
    para(right, "Độc lập - Tự do - Hạnh phúc", bold=True, size=14, align=CENTER)
    rule(right, MOTTO_RULE_MM, inner[1], space_before=2)
    number, date = head.rows[1].cells
    first_para(number, "{{ issuer.number }}", size=13).paragraph_format.space_before = Pt(8)
    first_para(date, "{{ issuer.place }}, ngày     tháng     năm {{ issue_year }}", italic=True,
               size=14).paragraph_format.space_before = Pt(8)
    set_widths(head, widths, HEADER_MARGIN_MM)

    para(doc, "BÁO CÁO", bold=True, align=CENTER).paragraph_format.space_before = Pt(18)
    para(doc, "Kết quả thực hiện các chỉ tiêu cải cách thủ tục hành chính {{ period_title }}",
         bold=True, align=CENTER)
    para(doc, "({{ period_text }})", italic=True, size=13, align=CENTER, after=12)

    para(doc, "Thực hiện Kế hoạch cải cách thủ tục hành chính trọng tâm năm {{ year }} của UBND huyện "
              "Vĩnh Linh, {{ issuer.short_name }} báo cáo kết quả thực hiện các chỉ tiêu trong kỳ như sau:",
         align=JUSTIFY, indent=True, after=6)
    para(doc, "{%p for s in summary %}")
    para(doc, "{{ s }}", align=JUSTIFY, indent=True, after=6)
    para(doc, "{%p endfor %}")

    # Column widths (mm, 165 in all) at 12 pt with 1.2 mm cell padding: 'NQ01-6.1' needs 19.4,
    # '100,0%' 15.5, the bold 'STT' 10.4, '(28/30 đơn vị báo cáo)' 40.7.
    heading(doc, "I. KẾT QUẢ THỰC HIỆN CÁC CHỈ TIÊU")
    loop_table(doc, [
        ("STT", 11, CENTER, "stt"), ("Mã", 20, CENTER, "code"), ("Chỉ tiêu", 44, LEFT, "name"),
        ("Tử số", 15, RIGHT, "num"), ("Mẫu số", 15, RIGHT, "den"), ("{{ rate_header }}", 16, CENTER, "month"),
        ("Lũy kế (%)", 16, CENTER, "ytd"), ("Chỉ tiêu KH", 15, CENTER, "target"),
        ("Đánh giá", 13, CENTER, "verdict"),
    ], "indicators")
    para(doc, "{{ table_note }}", italic=True, size=12, align=JUSTIFY, before=3, after=6)
    para(doc, "{%p for note in unit_notes %}")
    para(doc, "{{ note }}", italic=True, size=12, align=JUSTIFY, after=3)
    para(doc, "{%p endfor %}")
    # The annual report: the year against the plan's end-of-year stretch targets (plan §III.2).
    para(doc, "{%p if stretch %}")
    heading(doc, "{{ stretch_heading }}", italic=True, indent=True)
    loop_table(doc, [
        ("STT", 11, CENTER, "stt"), ("Mã", 20, CENTER, "code"), ("Chỉ tiêu", 50, LEFT, "name"),
        ("{{ rate_header }}", 18, CENTER, "value"), ("Chỉ tiêu KH", 17, CENTER, "target"),
        ("Mục tiêu cuối năm", 20, CENTER, "stretch"), ("Đánh giá", 29, CENTER, "verdict"),
    ], "stretch")
    para(doc, "{%p endif %}")

    heading(doc, "II. ĐƠN VỊ CHƯA ĐẠT CHỈ TIÊU")
    heading(doc, "1. Đơn vị có tỷ lệ thấp hơn chỉ tiêu kế hoạch", italic=True, indent=True)
    para(doc, "{%p if below %}")
    # One row per unit, listing its indicators below target (a unit × indicator table runs to pages).
    loop_table(doc, [
        ("STT", 11, CENTER, "stt"), ("Đơn vị", 34, LEFT, "unit"),
        ("Chỉ tiêu chưa đạt: tỷ lệ (tử số/mẫu số), chỉ tiêu kế hoạch (KH)", 120, LEFT, "*shortfalls"),
    ], "below")
    para(doc, "{%p else %}")
    para(doc, "Không có đơn vị nào có tỷ lệ thấp hơn chỉ tiêu kế hoạch.", align=JUSTIFY, indent=True)
    para(doc, "{%p endif %}")
    heading(doc, "2. Số liệu cần đối chiếu (đơn vị tự báo cáo chênh lệch trên {{ discrepancy_points }} "
                 "điểm % so với số liệu trên Cổng dịch vụ công)", italic=True, indent=True)
    para(doc, "{%p if discrepancies %}")
    loop_table(doc, [
        ("STT", 11, CENTER, "stt"), ("Đơn vị", 44, LEFT, "unit"), ("Mã chỉ tiêu", 22, CENTER, "code"),
        ("Đơn vị báo cáo", 30, CENTER, "reported"), ("Cổng DVC", 30, CENTER, "portal"),
        ("Chênh lệch", 28, CENTER, "gap"),
    ], "discrepancies")
    para(doc, "{%p else %}")
    para(doc, "Không có số liệu chênh lệch cần đối chiếu.", align=JUSTIFY, indent=True)
    para(doc, "{%p endif %}")

    heading(doc, "III. TÌNH HÌNH GỬI BÁO CÁO CỦA CÁC ĐƠN VỊ")
    para(doc, "{{ submission_text }}", align=JUSTIFY, indent=True, after=6)
    para(doc, "{%p if submissions %}")
    loop_table(doc, [  # reasons are free text of any length: those rows may break across pages
        ("STT", 11, CENTER, "stt"), ("Đơn vị", 38, LEFT, "unit"), ("Tình trạng", 18, CENTER, "status"),
        ("Thời điểm nhận", 22, CENTER, "received"), ("Tệp", 36, LEFT, "file"), ("Lý do", 40, LEFT, "reasons"),
    ], "submissions", keep_rows=False)
    para(doc, "{%p endif %}")

    heading(doc, "IV. BIỂU ĐỒ")
    para(doc, "{{ chart }}", align=CENTER, keep=True)
    para(doc, "Biểu đồ 1. {{ chart_caption }}", italic=True, size=13, align=CENTER, after=6)
    para(doc, "{%p if trend_chart %}")
    para(doc, "{{ trend_chart }}", align=CENTER, keep=True)
    para(doc, "Biểu đồ 2. {{ trend_caption }}", italic=True, size=13, align=CENTER, after=6)
    para(doc, "{%p endif %}")
    para(doc, "{%p if ranking_chart %}")
    para(doc, "{{ ranking_chart }}", align=CENTER, keep=True)
    para(doc, "Biểu đồ {{ ranking_number }}. {{ ranking_caption }}", italic=True, size=13, align=CENTER, after=6)
    para(doc, "{%p endif %}")

    para(doc, "Trên đây là báo cáo kết quả thực hiện các chỉ tiêu cải cách thủ tục hành chính "
              "{{ period_title }} của {{ issuer.short_name }}./.", align=JUSTIFY, indent=True, after=12,
         keep=True)

    # Recipients | signature, side by side without borders, as in the district's plan.
    sign = doc.add_table(rows=1, cols=2)
    no_borders(sign)
    recipients, signer = sign.rows[0].cells
    first_para(recipients, "Nơi nhận:", bold=True, italic=True, size=12, align=LEFT)
    para(recipients, "{%p for line in issuer.recipients %}", size=11, align=LEFT)
    para(recipients, "{{ line }}", size=11, align=LEFT)
    para(recipients, "{%p endfor %}", size=11, align=LEFT)
    first_para(signer, "{%p for line in issuer.signer_title %}")
    para(signer, "{{ line }}", bold=True, align=CENTER)
    para(signer, "{%p endfor %}", align=CENTER)
    for _ in range(4):  # room for the signature and seal
        para(signer)
    para(signer, "{{ issuer.signer_name }}", bold=True, align=CENTER)
    set_widths(sign, [75, TEXT_WIDTH_MM - 75], HEADER_MARGIN_MM)
    cant_split(sign.rows[0])

    doc.core_properties.title = "Báo cáo kết quả thực hiện các chỉ tiêu cải cách TTHC"
    doc.core_properties.author = "{{ issuer.short_name }}"  # docxtpl renders the properties too
    doc.save(path)
    return path


if __name__ == "__main__":
    print(build())
