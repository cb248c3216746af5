"""A corpus of hostile submissions, built on the fly: what a unit can drop on the share to stop, hang or
flood the district's run, each with the outcome it must get.

`KINDS` maps a kind's name to (build, outcome). build(directory) writes one file and returns its path;
the outcome is `Parsed(check)` (the parser reads it and `check(parsed)` holds: the validator judges
it afterwards) or `Rejected(pattern)` (the parser refuses it with a reason matching the regex).
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

from tthc.catalogue import Catalogue
from tthc.settings import DEFAULT_CATALOGUE_DIR
from tthc.sources.shared_drive.cells import count_value
from tthc.sources.shared_drive.template import write_unit_csv, write_unit_workbook

UNIT, PERIOD = "VL-TP", "2025-03"
FIGURES = {"NQ01-1": (40, 50), "NQ01-3": (1234, 2000)}  # applicable to every unit
SHEET = "xl/worksheets/sheet1.xml"
_MB = 1_000_000


@dataclass(frozen=True)
class Parsed:
    check: Callable  # parsed submission -> bool


@dataclass(frozen=True)
class Rejected:
    pattern: str  # regex the (joined) reasons must match


def catalogue() -> Catalogue:
    return Catalogue.load(DEFAULT_CATALOGUE_DIR)


def valid_workbook(path: Path, unit: str = UNIT, figures: dict = FIGURES, period: str = PERIOD) -> Path:
    return write_unit_workbook(path, catalogue(), unit, period, figures)


def valid_csv(path: Path, unit: str = UNIT, figures: dict = FIGURES, period: str = PERIOD) -> Path:
    return write_unit_csv(path, catalogue(), unit, period, figures)


def _parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _write_parts(path: Path, parts: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


def _edit(directory: Path, name: str, edit: Callable[[dict[str, bytes]], None]) -> Path:
    """A valid workbook whose parts `edit` changes in place."""
    path = valid_workbook(directory / name)
    parts = _parts(path)
    edit(parts)
    return _write_parts(path, parts)


def _cell_xml(parts: dict[str, bytes], ref: str) -> bytes:
    m = re.search(rb'<c r="%s"[^>]*?(/>|>.*?</c>)' % ref.encode(), parts[SHEET])
    assert m, ref
    return m.group(0)


def _set_cell(parts: dict[str, bytes], ref: str, xml: str) -> None:
    parts[SHEET] = parts[SHEET].replace(_cell_xml(parts, ref), xml.encode(), 1)


@lru_cache(maxsize=1)
def numerator_cell() -> str:
    """The cell holding the first figure's numerator in the district template (found, not assumed)."""
    from openpyxl import load_workbook

    with tempfile.TemporaryDirectory() as tmp:
        wb = load_workbook(valid_workbook(Path(tmp) / "probe.xlsx"), read_only=True)
        found = [c.coordinate for row in wb.active.iter_rows() for c in row if c.value == 40]
        wb.close()
    assert found, "no numerator 40 in the template"
    return found[0]


# --- builders ----------------------------------------------------------------------------------

def _numerator_as(value_xml: Callable[[str], str]) -> Callable[[Path, str], Path]:
    def build(directory: Path, name: str) -> Path:
        ref = numerator_cell()
        return _edit(directory, name, lambda parts: _set_cell(parts, ref, value_xml(ref)))
    return build


def _inline(text: str) -> Callable[[str], str]:
    return lambda ref: f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def _number(text: str) -> Callable[[str], str]:
    return lambda ref: f'<c r="{ref}"><v>{text}</v></c>'


def _varied(template: str) -> Callable[[int], bytes]:
    """Element number i of a padding: numbered so that it compresses like real XML (~10-50×), not
    like a run of one byte (the ratio check would refuse that before any per-part cap)."""
    return lambda i: template.replace("{}", str(i)).encode()


def _inflate(part: str, size: int, unit, before: bytes) -> Callable[[Path, str], Path]:
    """A part padded to `size` bytes with `unit` (bytes, or i -> bytes), inserted before `before`."""
    def build(directory: Path, name: str) -> Path:
        def edit(parts):
            data = parts[part]
            assert before in data, (part, before)
            pad, length = [], 0
            while length < size:
                pad.append(unit(len(pad)) if callable(unit) else unit)
                length += len(pad[-1])
            parts[part] = data.replace(before, b"".join(pad) + before, 1)
        return _edit(directory, name, edit)
    return build


def _styles(size: int) -> Callable[[Path, str], Path]:
    """A styles part of `size` bytes of cell formats (what bloats a workbook copied around for years)."""
    return _inflate("xl/styles.xml", size, _varied('<xf numFmtId="{}" fontId="0" fillId="0" borderId="0" xfId="0"/>'),
                    b"</cellXfs>")


def _shared_strings(size: int, name: str = "xl/sharedStrings.xml") -> Callable[[Path, str], Path]:
    """A shared-strings part of `size` bytes of distinct short strings, declared in the content types."""
    def build(directory: Path, file_name: str) -> Path:
        def edit(parts):
            items, length = [], 0
            while length < size - 200:
                items.append(b"<si><t>%d</t></si>" % len(items))
                length += len(items[-1])
            strings = b"".join(items)
            parts[name] = (b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                           + strings + b"</sst>")
            parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
                b"</Types>", b'<Override PartName="/%s" ContentType="application/vnd.openxmlformats-'
                b'officedocument.spreadsheetml.sharedStrings+xml"/></Types>' % name.encode())
        return _edit(directory, file_name, edit)
    return build


def _many_parts(directory: Path, name: str) -> Path:
    def edit(parts):
        for i in range(1_500):
            parts[f"xl/media/x{i}.bin"] = b"x"
    return _edit(directory, name, edit)


def _ratio_bomb(directory: Path, name: str) -> Path:
    return _edit(directory, name, lambda parts: parts.__setitem__("xl/media/image1.bin", b"\0" * 30 * _MB))


def _entities(directory: Path, name: str) -> Path:
    """Billion laughs in the sheet: entity expansion must be refused, not evaluated."""
    lol = ('<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)) + "]>")

    def edit(parts):
        xml = parts[SHEET].decode()
        decl_end = xml.index("?>") + 2 if xml.startswith("<?xml") else 0
        xml = xml[:decl_end] + lol + xml[decl_end:]
        parts[SHEET] = xml.replace("<sheetData>", '<sheetData><row r="100"><c r="A100" t="inlineStr"><is><t>&i;</t></is></c></row>', 1).encode()
    return _edit(directory, name, edit)


def _external_entity(directory: Path, name: str) -> Path:
    """XXE: a workbook part pulling /etc/passwd through an external entity."""
    def edit(parts):
        xml = parts["xl/workbook.xml"].decode()
        decl_end = xml.index("?>") + 2 if xml.startswith("<?xml") else 0
        parts["xl/workbook.xml"] = (xml[:decl_end] + '<!DOCTYPE w [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                                    + xml[decl_end:].replace("<sheets>", "<sheets>&x;", 1)).encode()
    return _edit(directory, name, edit)


def _deep_nesting(directory: Path, name: str) -> Path:
    def edit(parts):
        parts[SHEET] = parts[SHEET].replace(b"</sheetData>", b"</sheetData>" + b"<x>" * 20_000 + b"</x>" * 20_000, 1)
    return _edit(directory, name, edit)


def _huge_dimension(directory: Path, name: str) -> Path:
    def edit(parts):
        parts[SHEET] = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1:XFD1048576"/>', parts[SHEET])
    return _edit(directory, name, edit)


def _far_cell(directory: Path, name: str) -> Path:
    """One cell at the last row and column, under a dimension that hides it."""
    def edit(parts):
        parts[SHEET] = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1"/>', parts[SHEET]).replace(
            b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>', 1)
    return _edit(directory, name, edit)


def _long_strings_everywhere(directory: Path, name: str) -> Path:
    """100,000 cells all showing one 32,767-character string: folding every cell as a label would
    take minutes; labels are never that long."""
    def edit(parts):
        parts["xl/sharedStrings.xml"] = (b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                                         b"<si><t>" + "Mã đơn vị ".encode() * 3276 + b"</t></si></sst>")
        parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
            b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
            b'officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
        rows = b"".join(b'<row r="%d">' % r + b"".join(b'<c r="%s%d" t="s"><v>0</v></c>' % (c, r) for c in (b"A", b"B", b"C", b"D"))
                        + b"</row>" for r in range(200, 25_200))
        parts[SHEET] = re.sub(rb'<dimension ref="[^"]*"/>', b'<dimension ref="A1"/>', parts[SHEET]).replace(
            b"</sheetData>", rows + b"</sheetData>", 1)
    return _edit(directory, name, edit)


def _all_hidden(directory: Path, name: str) -> Path:
    return _edit(directory, name, lambda parts: parts.__setitem__(
        "xl/workbook.xml", parts["xl/workbook.xml"].replace(b'state="visible"', b'state="hidden"')))


def _no_content_types(directory: Path, name: str) -> Path:
    return _edit(directory, name, lambda parts: parts.pop("[Content_Types].xml"))


def _macro(directory: Path, name: str) -> Path:
    return _edit(directory, name, lambda parts: parts.__setitem__("xl/vbaProject.bin", b"\x01" * 64))


def _truncated(directory: Path, name: str) -> Path:
    data = valid_workbook(directory / name).read_bytes()
    path = directory / name
    path.write_bytes(data[: len(data) // 2])
    return path


def _bytes(content: bytes) -> Callable[[Path, str], Path]:
    def build(directory: Path, name: str) -> Path:
        path = directory / name
        path.write_bytes(content)
        return path
    return build


def _csv(lines: list[str], encoding: str = "utf-8") -> Callable[[Path, str], Path]:
    return _bytes(("\n".join(lines) + "\n").encode(encoding))


_HEADER = "ma_don_vi,ky_bao_cao,ma_chi_tieu,tu_so,mau_so,ty_le,ghi_chu"


def _csv_row(num: str, den: str = "50", code: str = "NQ01-1", unit: str = UNIT, rate: str = "", note: str = "") -> str:
    return f"{unit},03/2025,{code},{num},{den},{rate},{note}"


def _first_numerator(expected: str) -> Callable:
    return lambda parsed: parsed.rows[0].numerator_text == expected and count_value(expected) is None


# --- the corpus ----------------------------------------------------------------------------------

KINDS: dict[str, tuple[Callable[[Path, str], Path], Parsed | Rejected, str]] = {
    # name: (build, outcome, file name)
    "exponent count as text (hung the parse)": (_numerator_as(_inline("1E+999999999")),
                                                 Parsed(_first_numerator("1E+999999999")), "exp_text.xlsx"),
    "exponent count as a number cell": (_numerator_as(_number("1E+999999999")), Parsed(_first_numerator("inf")), "exp_num.xlsx"),
    "5,000-digit number cell (int() refuses it)": (_numerator_as(_number("9" * 5000)),
                                                    Rejected(r"^Ô D\d+: giá trị \"9{20}… \(5\.000 ký tự\)\" không phải một số"), "long_num.xlsx"),
    "5,000-digit count as text": (_numerator_as(_inline("9" * 5000)),
                                  Parsed(_first_numerator("99999999999999999999… (5.000 ký tự)")), "long_text.xlsx"),
    "16-digit count": (_numerator_as(_number("1234567890123456")), Parsed(_first_numerator("1234567890123456")), "digits16.xlsx"),
    "CSV: exponent, 5,000 digits, 16 digits": (_csv([_HEADER, _csv_row("1E+999999999"), _csv_row("9" * 5000, code="NQ01-3"),
                                                     _csv_row("1234567890123456", "1234567890123457", code="NQ02-2")]),
                                              Parsed(lambda p: [count_value(r.numerator_text) for r in p.rows] == [None] * 3),
                                              "counts.csv"),
    "CSV: NaN, inf, negative, fraction counts": (_csv([_HEADER, _csv_row("NaN"), _csv_row("inf", code="NQ01-3"),
                                                       _csv_row("-3", code="NQ02-2"), _csv_row('"12,5"', code="NQ01-4")]),
                                                 Parsed(lambda p: [r.numerator_text for r in p.rows] == ["NaN", "inf", "-3", "12.5"]),
                                                 "odd_counts.csv"),
    "rate NaN": (_csv([_HEADER, _csv_row("40", rate="NaN")]), Rejected(r"tỷ lệ \"NaN\" không đọc được"), "rate_nan.csv"),
    "styles.xml of 3 MB (72 s, 3.5 GB at 124 MB)": (_styles(3 * _MB),
                                                  Rejected(r'"xl/styles.xml" \(bảng kiểu định dạng\) có 3,0 MB'), "styles.xlsx"),
    "sharedStrings.xml of 2 MB": (_shared_strings(2 * _MB), Rejected(r"bảng chuỗi dùng chung"), "strings.xlsx"),
    "shared strings under another name, declared": (_shared_strings(5 * _MB, "xl/other.xml"),
                                                    Rejected(r'"xl/other.xml" \(bảng chuỗi dùng chung\)'), "strings2.xlsx"),
    "workbook.xml of 2 MB": (_inflate("xl/workbook.xml", 2 * _MB, _varied('<sheet xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" name="S{}" sheetId="{}" r:id="rId1"/>'), b"</sheets>"),
                             Rejected(r"cấu trúc sổ tính"), "workbook.xlsx"),
    "1,500 parts in the package": (_many_parts, Rejected(r"1\.\d{3} thành phần"), "parts.xlsx"),
    "zip bomb by compression ratio": (_ratio_bomb, Rejected(r"nén bất thường"), "ratio.xlsx"),
    "sheet of 12 MB of XML": (_inflate(SHEET, 12 * _MB, b"<!-- padding -->", b"</worksheet>"),
                              Rejected(r"nén bất thường|quá giới hạn"), "bigsheet.xlsx"),
    "billion laughs in the sheet": (_entities, Rejected(r"không chứa bảng tính Excel hợp lệ|bị hỏng"), "lol.xlsx"),
    "external entity (XXE) in workbook.xml": (_external_entity, Rejected(r"không chứa bảng tính Excel hợp lệ|bị hỏng"), "xxe.xlsx"),
    "20,000 nested elements": (_deep_nesting, Parsed(lambda p: p.unit_code == UNIT and p.rows[0].numerator_text == "40"), "deep.xlsx"),
    "dimension A1:XFD1048576": (_huge_dimension, Rejected(r"Trang tính có hơn 200\.000 ô"), "dimension.xlsx"),
    "one cell at XFD1048576 under a lying dimension": (_far_cell, Rejected(r"Trang tính có hơn 200\.000 ô"), "far.xlsx"),
    "100,000 cells of a 32,767-character string": (_long_strings_everywhere, Parsed(lambda p: p.unit_code == UNIT), "longstr.xlsx"),
    "only hidden sheets": (_all_hidden, Rejected(r"không có trang tính nào đang hiển thị"), "hidden.xlsx"),
    "no [Content_Types].xml": (_no_content_types, Rejected(r"không chứa bảng tính Excel hợp lệ"), "noct.xlsx"),
    "macro hidden in a .xlsx": (_macro, Rejected(r"macro"), "macro.xlsx"),
    "truncated workbook": (_truncated, Rejected(r"bị hỏng"), "cut.xlsx"),
    "encrypted (OLE) workbook": (_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4096), Rejected(r"mật khẩu"), "ole.xlsx"),
    "random bytes named .xlsx": (_bytes(bytes(range(256)) * 16), Rejected(r"không phải định dạng .xlsx"), "random.xlsx"),
    "empty .xlsx": (_bytes(b""), Rejected(r"không phải định dạng .xlsx"), "empty.xlsx"),
    "CSV with NUL bytes": (_bytes(b"ma_don_vi\0,tu_so\n\0\0"), Rejected(r"dữ liệu nhị phân"), "nul.csv"),
    "CSV neither UTF-8 nor cp1258": (_bytes(b"\x81\x8d\x8f\x90 x\n"), Rejected(r"bảng mã"), "enc.csv"),
    "CSV field of 2 MB": (_csv([_HEADER, _csv_row("40", note="x" * 2 * _MB)]), Rejected(r"sai cấu trúc"), "field.csv"),
    "CSV of 300,000 lines": (_csv([_HEADER] + [_csv_row("1")] * 300_000), Rejected(r"Trang tính có hơn 200\.000 ô"), "lines.csv"),
    "CSV formula injection in the unit code": (_csv([_HEADER, _csv_row("1", unit="=cmd|' /C calc'!A0")]),
                                               Parsed(lambda p: p.unit_code == "=CMD|' /C CALC'!A0"), "inject.csv"),
    "CSV with only a BOM": (_bytes("\ufeff".encode()), Rejected(r"trống"), "bom.csv"),
}

def _many_cells(directory: Path, name: str) -> Path:
    """160,000 numeric cells and one formula (under every cap): a few seconds of CPU, as the
    formula makes the parser read the sheet's XML a second time."""
    rows = b"".join(b'<row r="%d">' % r + b"".join(b'<c r="%s%d" s="0"><v>%d.123456789</v></c>' % (c, r, r * 7919)
                                                   for c in (b"A", b"B", b"C", b"D"))
                    + b"</row>" for r in range(100, 40_100))
    rows += b'<row r="40100"><c r="A40100"><f>1+1</f><v>2</v></c></row>'
    return _edit(directory, name, lambda parts: parts.__setitem__(SHEET, parts[SHEET].replace(
        b"</sheetData>", rows + b"</sheetData>", 1)))


# The sandbox's limits, reached with small limits by files the caps allow (each still a real parse):
# several seconds of CPU, and ~50 MB of memory above the worker's own.
SLOW_BUT_ALLOWED = (_many_cells, "slow.xlsx")
HUNGRY_BUT_ALLOWED = (_styles(int(1.9 * _MB)), "hungry.xlsx")


def build_all(directory: Path) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    return {kind: build(directory, name) for kind, (build, _outcome, name) in KINDS.items()}


def non_utf8_name(directory: Path, unit: str = "VL-NV", figures: dict = FIGURES) -> Path:
    """A valid CSV whose name is cp1258 bytes ('Báo cáo VL-NV.csv' as unzipped from a Windows archive)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = Path(os.fsdecode(os.fsencode(directory) + b"/" + f"Báo cáo {unit}.csv".encode("cp1258")))
    return valid_csv(path, unit=unit, figures=figures)


def zipped(parts: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return buf.getvalue()
