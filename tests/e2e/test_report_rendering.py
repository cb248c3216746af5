"""The monthly report as it prints: the fixture report of 2025-03 (tests/report_fixtures.py) converted to
PDF by LibreOffice, then measured with poppler's tools.

Needs soffice (Debian package libreoffice-writer-nogui), pdfinfo/pdffonts/pdftotext/pdftoppm
(poppler-utils) and fc-match (fontconfig) with Liberation Serif (fonts-liberation), Times New Roman's
metric-compatible substitute. Skipped without them, except under CI (the CI variable set), where a
missing tool fails the test.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn

from tests.support import missing
from tests.support.march_report import AREA, CATALOGUE

TOOLS = {"soffice": "libreoffice-writer-nogui", "pdfinfo": "poppler-utils", "pdffonts": "poppler-utils",
         "pdftotext": "poppler-utils", "pdftoppm": "poppler-utils", "fc-match": "fontconfig"}
MM = 72 / 25.4  # points per millimetre
A4 = (210 * MM, 297 * MM)
# Decree 30 margins of the template: top 20, bottom 20, left 30, right 15 mm.
TOP, BOTTOM, LEFT, RIGHT = 20 * MM, 20 * MM, 30 * MM, 15 * MM
TOLERANCE = 1.0  # pt
# The fixture data (14 indicators, 2 units below target, 5 submissions listed, three charts: the
# indicators, the trend since January, the units ranked on NQ01-3) fills 5 A4 pages (4 with the first
# chart only); autofitted columns (one word of an indicator's name per line) made it 9.
PAGES = range(3, 6)
SERIF = ("TimesNewRoman", "LiberationSerif")  # Times New Roman, or LibreOffice's metric-compatible stand-in
# LibreOffice draws a glyph its font lacks from a fallback font: fonts-liberation 1.x has no Vietnamese
# letters with two marks (ộ, ủ, ư…), nor ✓ ✗; those come from DejaVu.
FALLBACK = ("DejaVuSerif", "DejaVuSans", "DejaVuMathTeXGyre")
# Table columns holding text copied from submissions (file names, reasons): not checked, any token can
# come in there; LibreOffice and Word break one too long for its cell inside the cell.
FREE_TEXT = {"Tệp", "Lý do"}


def _require_tools() -> None:
    absent = sorted({f"{tool} (Debian package {package})" for tool, package in TOOLS.items()
                     if shutil.which(tool) is None})
    if absent:
        missing("rendering the report needs " + ", ".join(absent))


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=180).stdout


@pytest.fixture(scope="module")
def docx_path(report) -> Path:
    return Path(report[1]["docx"])


@pytest.fixture(scope="module")
def pdf(docx_path, tmp_path_factory) -> Path:
    _require_tools()
    out = tmp_path_factory.mktemp("pdf")
    profile = tmp_path_factory.mktemp("soffice-profile")  # its own profile: parallel runs do not clash
    done = subprocess.run(["soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless", "--convert-to",
                           "pdf", "--outdir", str(out), str(docx_path)], capture_output=True, text=True, timeout=180)
    path = out / f"{docx_path.stem}.pdf"
    assert path.exists(), f"soffice wrote no PDF (exit {done.returncode}): {done.stderr or done.stdout}"
    return path


@pytest.fixture(scope="module")
def pages(pdf) -> list[int]:
    return list(range(1, int(re.search(r"^Pages:\s+(\d+)", _run("pdfinfo", str(pdf)), re.M).group(1)) + 1))


@dataclass(frozen=True)
class Word:
    page: int
    x0: float
    y0: float
    x1: float
    y1: float
    text: str


@pytest.fixture(scope="module")
def words(pdf) -> list[Word]:
    """Every word pdftotext finds, with its box in points from the page's top left corner. A glyph drawn
    from a fallback font is a word of its own ('HUY', 'Ệ', 'N'): match text with the spaces removed."""
    root = ET.fromstring(_run("pdftotext", "-bbox-layout", str(pdf), "-"))
    out = []
    for number, page in enumerate(root.iter("{http://www.w3.org/1999/xhtml}page"), 1):
        assert (float(page.get("width")), float(page.get("height"))) == pytest.approx(A4, abs=TOLERANCE)
        out += [Word(number, *(float(w.get(k)) for k in ("xMin", "yMin", "xMax", "yMax")), w.text or "")
                for w in page.iter("{http://www.w3.org/1999/xhtml}word")]
    return out


def _rows(words: list[Word]) -> list[list[Word]]:
    """Words grouped into printed lines (same page, vertical centres within 3 pt), each left to right."""
    rows: list[list[Word]] = []
    for w in sorted(words, key=lambda w: (w.page, (w.y0 + w.y1) / 2, w.x0)):
        last = rows[-1][0] if rows else None
        if last and last.page == w.page and abs((last.y0 + last.y1) / 2 - (w.y0 + w.y1) / 2) <= 3:
            rows[-1].append(w)
        else:
            rows.append([w])
    return [sorted(row, key=lambda w: w.x0) for row in rows]


def _segments(words: list[Word]) -> list[tuple[int, int, float, str]]:
    """(page, row, left x, text without spaces) of each run of words in a line with no gap wider than
    6 pt: a table cell's line (cells are 2 × 1.2 mm of padding apart), or a line of body text."""
    out = []
    for index, row in enumerate(_rows(words)):
        start = 0
        for i in range(1, len(row) + 1):
            if i == len(row) or row[i].x0 - row[i - 1].x1 > 6:
                out.append((row[0].page, index, row[start].x0, "".join(w.text for w in row[start:i])))
                start = i
    return out


def _lines_of(phrase: str, words: list[Word]) -> list[int]:
    """For each place the phrase is printed as left-aligned text (a table cell's lines start at the
    same x), how many lines it takes."""
    columns: dict[tuple[int, int], list[tuple[int, str]]] = {}
    for page, row, x, text in _segments(words):
        columns.setdefault((page, round(x)), []).append((row, text))
    target, found = phrase.replace(" ", ""), []
    for column in columns.values():
        owner = [row for row, text in column for _ in text]  # the line of each character
        stream = "".join(text for _, text in column)
        for match in re.finditer(re.escape(target), stream):
            found.append(len(set(owner[match.start():match.end()])))
    return found


# --- the PDF ---------------------------------------------------------------------------------------------


def test_a4_pages_and_page_count(pdf, pages):
    sizes = re.findall(r"^Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts",
                       _run("pdfinfo", "-f", "1", "-l", str(len(pages)), str(pdf)), re.M)
    assert len(sizes) == len(pages)
    for width, height in sizes:
        assert (float(width), float(height)) == pytest.approx(A4, abs=TOLERANCE)
    assert len(pages) in PAGES, f"{len(pages)} pages, expected {PAGES.start}-{PAGES.stop - 1}"


def test_fonts_are_embedded_and_the_body_is_times_or_its_substitute(pdf):
    lines = _run("pdffonts", str(pdf)).splitlines()
    header, rule = lines[0], lines[1]
    columns = [(m.start(), m.end()) for m in re.finditer(r"-+", rule)]
    names = header.split()
    fonts = [dict(zip(names, (line[a:b + 1].strip() if i else line[:b].strip() for i, (a, b) in enumerate(columns))))
             for line in lines[2:]]
    assert fonts, "the PDF has no fonts"
    assert [f["name"] for f in fonts if f["emb"] != "yes"] == []
    families = {f["name"].split("+")[-1] for f in fonts}
    serif = {name for name in families if name.startswith(SERIF)}
    # Regular, bold and italic of one serif family: the body, headings and notes.
    assert {name.split("-")[0] for name in serif} in ({"TimesNewRoman"}, {"TimesNewRomanPSMT"}, {"LiberationSerif"}), \
        families
    assert len(serif) >= 3, serif
    assert families - serif <= {name for name in families if name.startswith(FALLBACK)}, families
    # With a Liberation Serif that has the Vietnamese letters (fonts-liberation2), no serif fallback at all.
    serif_file = _run("fc-match", "--format=%{file}", "Liberation Serif")
    with_vietnamese = _run("fc-list", ":charset=1ed9", "file")  # ộ
    if serif_file and serif_file in with_vietnamese:
        assert not any(name.startswith("DejaVuSerif") for name in families), families


def test_no_text_outside_the_margins(words, pages):
    assert {w.page for w in words} == set(pages)
    width, height = A4
    outside = []
    for w in words:
        inside = (LEFT - TOLERANCE <= w.x0 and w.x1 <= width - RIGHT + TOLERANCE
                  and TOP - TOLERANCE <= w.y0 and w.y1 <= height - BOTTOM + TOLERANCE)
        # The page number, centred in the header band above the top margin, from page 2.
        page_number = (w.text == str(w.page) and w.page > 1 and w.y1 <= TOP
                       and abs((w.x0 + w.x1) / 2 - (LEFT + width - RIGHT) / 2) < 10)
        if not (inside or page_number):
            outside.append(w)
    assert outside == []


def test_header_lines_each_fit_on_one_line(words):
    first_page = ["".join(w.text for w in row) for row in _rows([w for w in words if w.page == 1])]
    for line in ("ỦY BAN NHÂN DÂN", "HUYỆN VĨNH LINH", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
                 "Độc lập - Tự do - Hạnh phúc", "Vĩnh Linh, ngày tháng năm 2025"):
        assert any(line.replace(" ", "") in row for row in first_page), f"{line!r} is not on one line"
    title = next(i for i, row in enumerate(first_page) if "CỘNGHÒAXÃHỘICHỦNGHĨAVIỆTNAM" in row)
    assert "Độclập-Tựdo-Hạnhphúc" in first_page[title + 1]


def test_indicator_codes_are_never_broken(words):
    texts = [w.text.rstrip(":,") for w in words]
    codes = set(CATALOGUE.indicators)
    # 'NQ01-' / '1' or 'NQ01-6.' / '1' at a line's end ('… của NQ01-5.' ends a sentence).
    broken = [t for t in texts if t.endswith(("-", ".")) and t not in codes and any(c.startswith(t) for c in codes)]
    assert broken == []
    assert set(AREA) <= set(texts)


def test_indicator_names_are_not_squeezed_into_a_narrow_column(words):
    """In table I the name column is 44 mm wide: a name takes a line per three words or fewer (an
    autofitted table gave it ~1.5 cm, a line per word)."""
    for code in AREA:
        name = CATALOGUE.indicators[code].short_name_vi
        found = _lines_of(name, words)
        assert found, f"{code} {name!r} not found in a table cell"
        assert min(found) <= math.ceil(len(name.split()) / 3), (code, name, found)
    assert min(_lines_of("Hồ sơ trực tuyến", words)) == 1


def test_pages_render_to_png(pdf, pages, tmp_path):
    _run("pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page"))
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == len(pages)
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 2000 for p in images)


# --- the .docx: each table cell's text fits its column ----------------------------------------------------


class _Metrics:
    """Advance widths of Liberation Serif (Times New Roman's metrics). A letter the font lacks (the
    Vietnamese ones in fonts-liberation 1.x) counts as its base letter, as wide in Times New Roman."""

    def __init__(self):
        from fontTools.ttLib import TTFont

        self.fonts = {}
        for bold in (False, True):
            style = "Bold" if bold else "Regular"
            path = _run("fc-match", "--format=%{file}", f"Liberation Serif:style={style}")
            if "LiberationSerif" not in path:
                pytest.skip("Liberation Serif is not installed (Debian package fonts-liberation)")
            font = TTFont(path)
            self.fonts[bold] = (font.getBestCmap(), font["hmtx"], font["head"].unitsPerEm)

    def width_pt(self, text: str, size: float, bold: bool) -> float:
        cmap, hmtx, units = self.fonts[bold]
        total = 0
        for ch in text:
            code = ord(ch) if ord(ch) in cmap else ord(unicodedata.normalize("NFD", ch)[0])
            total += hmtx[cmap.get(code, cmap[ord("M")])][0]
        return total * size / units


def _twips(el, attr: str = "w:w") -> float:
    return int(el.get(qn(attr))) / 20 if el is not None and el.get(qn(attr)) else 0.0


def test_every_word_in_a_table_cell_fits_its_column(docx_path):
    _require_tools()
    metrics = _Metrics()
    doc = Document(docx_path)
    normal = doc.styles["Normal"].font.size.pt
    too_wide = []
    for table in doc.tables:
        tbl_pr = table._tbl.tblPr
        layout = tbl_pr.find(qn("w:tblLayout"))
        assert layout is not None and layout.get(qn("w:type")) == "fixed"
        margins = tbl_pr.find(qn("w:tblCellMar"))
        assert margins is not None, "cell padding not set"
        padding = sum(_twips(margins.find(qn(f"w:{side}"))) for side in ("left", "right"))
        grid = [_twips(col) for col in table._tbl.tblGrid.findall(qn("w:gridCol"))]
        assert sum(grid) == pytest.approx((A4[0] - LEFT - RIGHT), abs=TOLERANCE)  # the text width
        headers = [cell.text for cell in table.rows[0].cells]
        for row in table.rows:
            for column, cell in enumerate(row.cells):
                assert _twips(cell._tc.tcPr.find(qn("w:tcW"))) == pytest.approx(grid[column], abs=0.1)
                for p in cell.paragraphs:
                    indent = (p.paragraph_format.left_indent or 0) / 12700  # EMU to pt
                    room = grid[column] - padding - indent
                    if not table.style or table.style.name != "Table Grid":  # header and signature block
                        tokens = [p.text]  # each of their lines must fit on one line
                    elif headers[column] in FREE_TEXT:
                        continue
                    else:
                        tokens = p.text.split()
                    size = next((r.font.size.pt for r in p.runs if r.font.size), normal)
                    bold = any(r.bold for r in p.runs)
                    for token in tokens:
                        if metrics.width_pt(token, size, bold) > room:
                            too_wide.append((headers[column], token, round(room / MM, 1)))
    assert too_wide == []
