"""Read one shared-drive submission (.xlsx or .csv) into rows, before validation (spec "Source 1").

The parser only finds things: the unit code, the period and the indicator table, cell by cell.
Judging the figures (whole numbers, num ≤ den, known codes...) is the validator's job; the parser
rejects a file outright only when there is nothing sensible to validate, or when the file could
harm the process (too large, zip bomb, too many cells).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from defusedxml.ElementTree import fromstring, iterparse
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.xml.constants import SHEET_MAIN_NS

from ...periods import Period, PeriodError
from .cells import count_text, normalize_label, parse_period_text, rate_value, shown


class SubmissionParseError(Exception):
    """The whole file is rejected before validation.

    `reasons` are Vietnamese sentences naming the cell or row; `unit_code` and `period` are what
    could be read (or None), so the rejection can still be filed under a unit and a period.
    """

    def __init__(self, reasons: list[str], unit_code: str | None = None, period: Period | None = None):
        self.reasons = list(reasons)
        self.unit_code = unit_code
        self.period = period
        super().__init__("; ".join(self.reasons))

    def __reduce__(self):  # it comes back from the parsing child process whole
        return type(self), (self.reasons, self.unit_code, self.period)


@dataclass
class ParsedRow:
    row_number: int  # 1-based sheet row (xlsx) or line number in the CSV (header = line 1)
    row_ref: str  # 'Dòng 12'
    indicator_code: str  # stripped, upper-cased ('' if blank)
    numerator_text: str  # count_text(cell)
    denominator_text: str  # count_text(cell)
    rate: float | None  # rate_value(cell); None if the column is absent or the cell blank
    rate_text: str  # the rate as written ('' if absent)
    note: str
    cells: dict[str, str]  # canonical column → 'D12' (xlsx) or 'dòng 5, cột tu_so' (csv)


@dataclass
class ParsedSubmission:
    file_kind: str  # 'xlsx' | 'csv'
    sheet: str | None
    unit_code: str
    unit_cell: str
    period: Period
    period_cell: str
    columns: list[str]  # canonical names found, in the file's order
    rows: list[ParsedRow]
    warnings: list[str] = field(default_factory=list)


# Header labels by key (see _key): the workbook's Vietnamese headers and the CSV names share keys.
_COLUMNS = {
    "stt": "stt",
    "machitieu": "indicator_code",
    "tenchitieu": "indicator_name",
    "tuso": "numerator",
    "mauso": "denominator",
    "tyle": "rate",
    "ghichu": "note",
}
_UNIT_KEY, _PERIOD_KEY, _SHEET_KEY = "madonvi", "kybaocao", "baocao"
_LABEL_KEYS = (_UNIT_KEY, _PERIOD_KEY)
# Columns whose cell a row reports (the validator names them in its reasons).
_CELL_COLUMNS = ("indicator_code", "numerator", "denominator", "rate")

_NOT_READABLE = "Tệp không phải bảng tính Excel (.xlsx) hoặc CSV đọc được: {}"
_NO_TABLE = 'Không tìm thấy bảng chỉ tiêu (dòng tiêu đề có "Mã chỉ tiêu", "Tử số", "Mẫu số")'
_NO_UNIT = 'Không tìm thấy mã đơn vị (ô "Mã đơn vị")'
_NO_PERIOD = 'Không tìm thấy kỳ báo cáo (ô "Kỳ báo cáo")'
_BAD_PERIOD = '{}: kỳ báo cáo "{}" không đọc được (dạng 03/2025, 2025-03 hoặc Tháng 03/2025)'
_UNCACHED = "{}: công thức chưa có giá trị tính sẵn; hãy mở tệp bằng Excel, lưu lại rồi gửi"

_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # encrypted .xlsx and old .xls are both OLE compound files
_ZIP_MAGIC = b"PK\x03\x04"
_MACRO_SUFFIXES = (".xlsm", ".xltm")
_MAX_UNZIP_FACTOR = 20  # total uncompressed size allowed, as a multiple of max_bytes
# Sheet XML compresses ~10-50×; a large entry far beyond that is a zip bomb, not a report.
_MAX_ENTRY_RATIO, _RATIO_CHECK_FROM = 200, 1_000_000
# Limits per part of the package, by role, checked on the zip directory before openpyxl reads anything.
# openpyxl holds a parsed part in memory: 1 MB of styles costs ~0.7 s and ~30 MB, 1 MB of shared
# strings up to ~1 s, so a 700 KB file carrying 124 MB of styles took 72 s and 3.5 GB. A district
# report (one sheet, ~15 rows) needs a small fraction of each cap.
_MB = 1_000_000
_MAX_PARTS = 1_000
_PART_CAPS = {  # role → (how the reason names it, largest uncompressed size)
    "styles": ("bảng kiểu định dạng", 2 * _MB),
    "strings": ("bảng chuỗi dùng chung", 1 * _MB),
    "workbook": ("cấu trúc sổ tính", 1 * _MB),
    "package": ("mô tả gói tệp", 1 * _MB),
    "part": ("thành phần", 10 * _MB),  # a sheet of 200,000 cells is ~8 MB of XML
}
_ROLE_BY_TYPE = (("styles+xml", "styles"), ("sharedstrings+xml", "strings"), (".main+xml", "workbook"),
                 ("relationships+xml", "package"), ("properties+xml", "package"), ("theme+xml", "package"))
_ROLE_BY_PATH = {"[Content_Types].xml": "package", "xl/styles.xml": "styles",
                 "xl/sharedStrings.xml": "strings", "xl/workbook.xml": "workbook"}
_PACKAGE_PREFIXES = ("docProps/", "xl/theme/")
# A cell value longer than this in the sheet XML is no number a report holds (used to name the cell
# when openpyxl cannot convert it, e.g. an integer of 4,301+ digits).
_LONG_VALUE = 100
_CONTENT_TYPES_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"

_SPREADSHEET_NS = "{%s}" % SHEET_MAIN_NS
_CELL_TAG, _FORMULA_TAG, _VALUE_TAG = (_SPREADSHEET_NS + t for t in ("c", "f", "v"))
_FORMULA_ELEMENT = re.compile(rb"<(?:[\w.-]+:)?f[\s>/]")  # <f>, <f t="shared" .../>, <x:f>


MAX_BYTES = 20_000_000  # a district report is ~10-50 KB
MAX_CELLS = 200_000


def parse_submission(path: Path, *, max_bytes: int = MAX_BYTES, max_cells: int = MAX_CELLS) -> ParsedSubmission:
    """Read a submission file; raise SubmissionParseError when it cannot be read at all.

    OSError (file vanished, share unreachable) propagates: that is not the sender's fault.
    """
    path = Path(path)
    with path.open("rb") as fh:
        data = fh.read(max_bytes + 1)  # never more than the limit, even if the file grows meanwhile
    return parse_bytes(data, path.suffix.lower(), max_bytes=max_bytes, max_cells=max_cells)


def too_large(max_bytes: int) -> SubmissionParseError:
    return SubmissionParseError([f"Tệp lớn hơn giới hạn {_mb(max_bytes)}; hãy kiểm tra lại tệp gửi"])


def parse_bytes(data: bytes, suffix: str, *, max_bytes: int = MAX_BYTES, max_cells: int = MAX_CELLS) -> ParsedSubmission:
    """The submission in `data` (the file's bytes; `suffix` its extension, lower case, with the dot)."""
    if len(data) > max_bytes:
        raise too_large(max_bytes)
    if data.startswith(_OLE_MAGIC):
        raise SubmissionParseError([
            "Tệp được đặt mật khẩu hoặc là định dạng Excel cũ (.xls); "
            "hãy bỏ mật khẩu và lưu lại dưới dạng .xlsx"])
    if data.startswith(_ZIP_MAGIC):
        return _parse_xlsx(data, suffix, max_bytes, max_cells)
    if suffix == ".csv":
        return _parse_csv(data, max_cells)
    raise _not_readable("nội dung tệp không phải định dạng .xlsx")


# --- shared helpers -------------------------------------------------------------------------

_MAX_LABEL = 200  # no label is longer; longer text is never folded (200,000 cells × 32,767 characters)


def _key(text: object) -> str:
    """Label key: normalize_label without spaces or punctuation ('Tỷ lệ (%)' and 'ty_le' → 'tyle')."""
    if isinstance(text, str) and len(text) > _MAX_LABEL:
        return ""
    return re.sub(r"[^0-9a-z]", "", normalize_label(text))


def _as_written(value: object, limit: int = 40) -> str:
    """A cell as the clerk sees it: text stripped (long text shortened), numbers without a spurious '.0'."""
    return shown(value.strip(), limit) if isinstance(value, str) else count_text(value)


def _reason_prefix(ref: str) -> str:
    """'F12' → 'Ô F12'; 'dòng 5, cột ty_le' → 'Dòng 5, cột ty_le' (a reason starts with it)."""
    return "D" + ref[1:] if ref.startswith("dòng") else f"Ô {ref}"


def _mb(n: int) -> str:
    return f"{n / 1_000_000:g} MB"


def _not_readable(detail: str) -> SubmissionParseError:
    return SubmissionParseError([_NOT_READABLE.format(detail)])


def _vn(n: int) -> str:
    return f"{n:,}".replace(",", ".")  # Vietnamese digit grouping


def _too_many_cells(max_cells: int) -> SubmissionParseError:
    return SubmissionParseError([f"Trang tính có hơn {_vn(max_cells)} ô, quá lớn cho một báo cáo"])


def _map_header(header: list[object], where, extra: dict[str, str], warn: list[str]) -> dict[str, int]:
    """Canonical column → 0-based position in a header row; the first of two same headers wins.

    `where(position)` names a header cell in the duplicate warning; `extra` adds keys (CSV unit, period).
    """
    found: dict[str, int] = {}
    for position, label in enumerate(header):
        name = _COLUMNS.get(_key(label)) or extra.get(_key(label))
        if name is None:
            continue
        if name in found:
            first = where(found[name])
            warn.append(f'Cột "{str(label).strip()}" có hai lần ({first} và {where(position)}); dùng {first}')
            continue
        found[name] = position
    return found


def _make_row(row_number: int, values: dict[str, object], cells: dict[str, str],
              reasons: list[str]) -> ParsedRow:
    """One table row from its cells by canonical column (absent columns are simply missing)."""
    rate_cell = values.get("rate")
    try:
        rate = rate_value(rate_cell)
    except ValueError:
        rate = None
        reasons.append(f'{_reason_prefix(cells["rate"])}: tỷ lệ "{_as_written(rate_cell)}" không đọc được')
    return ParsedRow(
        row_number=row_number,
        row_ref=f"Dòng {row_number}",
        indicator_code=_as_written(values.get("indicator_code")).upper(),
        numerator_text=count_text(values.get("numerator")),
        denominator_text=count_text(values.get("denominator")),
        rate=rate,
        rate_text=_as_written(rate_cell),
        note=_as_written(values.get("note"), limit=500),
        cells={name: ref for name, ref in cells.items() if name in _CELL_COLUMNS},
    )


# --- workbooks ------------------------------------------------------------------------------

def _parse_xlsx(data: bytes, suffix: str, max_bytes: int, max_cells: int) -> ParsedSubmission:
    _check_package(data, suffix, max_bytes)
    sheet, warn = _read_sheet(data, max_cells)
    reasons: list[str] = []

    unit_value, unit_cell = sheet.find_label(_UNIT_KEY, _NO_UNIT, reasons)
    unit_code = _as_written(unit_value).upper() if unit_cell else None
    period_value, period_cell = sheet.find_label(_PERIOD_KEY, _NO_PERIOD, reasons)
    period = None
    if period_cell:
        try:
            period = parse_period_text(period_value)
        except PeriodError:
            reasons.append(_BAD_PERIOD.format(_reason_prefix(period_cell), _as_written(period_value)))

    columns, rows = sheet.read_table(reasons, warn)
    if reasons:
        raise SubmissionParseError(reasons, unit_code, period)
    return ParsedSubmission("xlsx", sheet.title, unit_code, unit_cell, period, period_cell, columns, rows, warn)


def _check_package(data: bytes, suffix: str, max_bytes: int) -> None:
    """Refuse, before openpyxl inflates anything, packages that are broken, bombs or carry macros."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            entries = zf.infolist()
    except MemoryError:  # the worker's limit, not damage: the sandbox says so
        raise
    except Exception as exc:  # BadZipFile, NotImplementedError, ValueError... by the kind of damage
        raise _not_readable("tệp .xlsx bị hỏng (không giải nén được)") from exc
    # zipfile never inflates an entry beyond its declared file_size, so these sizes are a real bound.
    if sum(e.file_size for e in entries) > _MAX_UNZIP_FACTOR * max_bytes:
        raise SubmissionParseError([
            f"Tệp nén chứa hơn {_mb(_MAX_UNZIP_FACTOR * max_bytes)} dữ liệu khi giải nén; "
            "không phải một báo cáo bình thường"])
    for e in entries:
        if e.file_size > _RATIO_CHECK_FROM and e.file_size > _MAX_ENTRY_RATIO * max(e.compress_size, 1):
            raise SubmissionParseError([
                f'Tệp có thành phần "{shown(e.filename)}" nén bất thường (tỷ lệ nén hơn {_MAX_ENTRY_RATIO} lần); '
                "không phải một báo cáo bình thường"])
    _check_parts(data, entries)
    if suffix in _MACRO_SUFFIXES or any(e.filename.lower().endswith("vbaproject.bin") for e in entries):
        raise SubmissionParseError(["Tệp có macro (.xlsm) không được chấp nhận; hãy lưu lại dưới dạng .xlsx"])


def _check_parts(data: bytes, entries: list[zipfile.ZipInfo]) -> None:
    """Every part within the cap of its role (styles, shared strings, workbook, package, any other)."""
    if len(entries) > _MAX_PARTS:
        raise SubmissionParseError([f"Tệp nén có {_vn(len(entries))} thành phần (quá {_vn(_MAX_PARTS)}); "
                                    "không phải một báo cáo bình thường"])
    declared = _declared_roles(data, entries)
    for e in entries:
        roles = {declared.get(e.filename), _ROLE_BY_PATH.get(e.filename), "part"}
        if e.filename.endswith(".rels") or e.filename.startswith(_PACKAGE_PREFIXES):
            roles.add("package")
        what, cap = min((_PART_CAPS[r] for r in roles if r), key=lambda c: c[1])
        if e.file_size > cap:
            raise SubmissionParseError([
                f'Thành phần "{shown(e.filename)}" ({what}) có {f"{e.file_size / _MB:.1f}".replace(".", ",")} MB '
                f"khi giải nén, quá giới hạn {_mb(cap)} cho một báo cáo; "
                "hãy chép số liệu sang mẫu báo cáo trống rồi gửi lại"])


def _declared_roles(data: bytes, entries: list[zipfile.ZipInfo]) -> dict[str, str]:
    """Part name → role, as [Content_Types].xml declares it (openpyxl finds the shared strings and the
    workbook that way, under any name). Empty when it is missing, too big or unreadable: openpyxl then
    refuses the file itself, and the caps by path still hold."""
    info = next((e for e in entries if e.filename == "[Content_Types].xml"), None)
    if info is None or info.file_size > _PART_CAPS["package"][1]:
        return {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            root = fromstring(zf.read(info))
    except MemoryError:
        raise
    except Exception:  # damaged (zlib.error, BadZipFile...) or refused XML (entities): by path only
        return {}
    roles = {}
    for override in root.iter(f"{_CONTENT_TYPES_NS}Override"):
        kind = (override.get("ContentType") or "").lower()
        role = next((r for suffix, r in _ROLE_BY_TYPE if kind.endswith(suffix)), None)
        if role:
            roles[(override.get("PartName") or "").lstrip("/")] = role
    return roles


def _read_sheet(data: bytes, max_cells: int) -> tuple["_Sheet", list[str]]:
    """The report sheet's cached values (data_only: formulas as Excel last computed them)."""
    warn: list[str] = []
    # openpyxl warns about features it drops (data validation, extensions): irrelevant to values.
    # Any exception from it means a package it cannot read; its types vary with the damage.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
        except MemoryError:
            raise
        except Exception as exc:
            raise _not_readable("tệp không chứa bảng tính Excel hợp lệ") from exc
        try:
            ws = _choose_sheet(wb, warn)
            if (ws.max_row or 0) * (ws.max_column or 0) > max_cells:
                raise _too_many_cells(max_cells)
            # The declared dimension may be too small (some generators write 'A1'): read past it,
            # counting cells (an empty row counts as one) so a lying file still stops at the limit.
            ws.reset_dimensions()
            values, count = [], 0
            try:
                for row in ws.iter_rows(values_only=True):
                    count += max(len(row), 1)
                    if count > max_cells:
                        raise _too_many_cells(max_cells)
                    values.append(row)
            except (SubmissionParseError, MemoryError):
                raise
            except Exception as exc:
                raise _unreadable_sheet(data, ws._worksheet_path, ws.title) from exc
            # openpyxl's private path to the sheet part; only the raw XML tells a formula never
            # computed from one whose result is "" (both read as None).
            return _Sheet(data, ws.title, ws._worksheet_path, values), warn
        finally:
            wb.close()


def _choose_sheet(wb, warn: list[str]):
    """The first visible sheet named BaoCao, else the first visible sheet; hidden ones are ignored."""
    visible = [ws for ws in wb.worksheets if ws.sheet_state == "visible"]
    for ws in wb.worksheets:
        if _key(ws.title) == _SHEET_KEY and ws.sheet_state != "visible":
            warn.append(f'Trang tính "{ws.title}" đang ẩn nên không được đọc')
    chosen = next((ws for ws in visible if _key(ws.title) == _SHEET_KEY), None) or next(iter(visible), None)
    if chosen is None:
        raise SubmissionParseError(["Tệp không có trang tính nào đang hiển thị"])
    if warn:
        warn.append(f'Đã đọc trang tính "{chosen.title}"')
    return chosen


def _raw_cells(data: bytes, part: str, title: str):
    """The <c> elements of a sheet part, straight from its XML (each cleared once seen)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf, zf.open(part.lstrip("/")) as src:
            for _event, el in iterparse(src):
                if el.tag == _CELL_TAG:
                    yield el
                    el.clear()
    except (MemoryError, SubmissionParseError):
        raise
    except Exception as exc:  # ParseError, refused entities, zlib.error on a damaged entry...
        raise _not_readable(f'trang tính "{title}" bị hỏng') from exc


def _sheet_xml(data: bytes, part: str, title: str) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            return zf.read(part.lstrip("/"))
    except MemoryError:
        raise
    except Exception as exc:  # zlib.error, BadZipFile (a CRC that does not match)...
        raise _not_readable(f'trang tính "{title}" bị hỏng') from exc


def _unreadable_sheet(data: bytes, part: str, title: str) -> SubmissionParseError:
    """Why openpyxl could not read the sheet: a value no number can be (such as an integer of 4,301+
    digits, which Python refuses to convert) is named by its cell; anything else is a damaged sheet."""
    for el in _raw_cells(data, part, title):
        v = el.find(_VALUE_TAG)
        if el.get("t") in (None, "n") and v is not None and v.text and len(v.text) > _LONG_VALUE:
            return SubmissionParseError([f'Ô {shown(el.get("r") or "?")}: giá trị "{shown(v.text)}" '
                                         "không phải một số đọc được"])
    return _not_readable(f'trang tính "{title}" bị hỏng')


class _Sheet:
    """Cell values of the chosen sheet by (row, column), 1-based, blank text folded to None."""

    def __init__(self, data: bytes, title: str, part: str, values: list[tuple]):
        self._data, self.title, self._part, self._values = data, title, part, values

    def value(self, r: int, c: int) -> object:
        row = self._values[r - 1] if r <= len(self._values) else ()
        v = row[c - 1] if c <= len(row) else None
        return None if isinstance(v, str) and not v.strip() else v

    def uncached(self, r: int, c: int) -> bool:
        return self.value(r, c) is None and f"{get_column_letter(c)}{r}" in self._uncached_formulas

    def blank(self, r: int, c: int) -> bool:
        return self.value(r, c) is None and not self.uncached(r, c)

    @cached_property
    def _uncached_formulas(self) -> frozenset[str]:
        """Cells holding a formula with no cached value (<f> and no <v>, or an empty one not typed str).

        Excel writes t="str" and an empty <v> for a formula whose result is "" – a real, empty value.
        """
        if not _FORMULA_ELEMENT.search(_sheet_xml(self._data, self._part, self.title)):
            return frozenset()  # no formula at all: spare a second parse of the whole sheet
        found = set()
        for el in _raw_cells(self._data, self._part, self.title):
            v = el.find(_VALUE_TAG)
            no_value = v is None or not v.text
            if el.find(_FORMULA_TAG) is not None and el.get("t") != "str" and no_value:
                found.add(el.get("r"))
        return frozenset(found)

    def cells(self):
        for r, row in enumerate(self._values, 1):
            for c, v in enumerate(row, 1):
                if v is not None:
                    yield r, c, v

    def find_label(self, key: str, missing: str, reasons: list[str]) -> tuple[object, str | None]:
        """(value, its cell) for a label: after a colon in the label cell, else the next non-empty cell right.

        (None, None) when it cannot be read, with the reason added.
        """
        for r, c, v in self.cells():
            if not isinstance(v, str) or len(v) > _MAX_LABEL:  # a label, with its value, is short
                continue
            label, colon, rest = v.partition(":")
            if _key(label) != key:
                continue
            if colon and rest.strip():
                return rest.strip(), f"{get_column_letter(c)}{r}"
            for c2 in range(c + 1, len(self._values[r - 1]) + 1):
                ref = f"{get_column_letter(c2)}{r}"
                if self.uncached(r, c2):
                    reasons.append(_UNCACHED.format(f"Ô {ref}"))
                    return None, None
                found = self.value(r, c2)
                if _key(str(found).partition(":")[0]) in _LABEL_KEYS:
                    break  # the next label on the row: this one's value was left empty
                if found is not None:
                    return found, ref
            reasons.append(f"{missing}: ô bên phải ô {get_column_letter(c)}{r} để trống")
            return None, None
        reasons.append(missing)
        return None, None

    def read_table(self, reasons: list[str], warn: list[str]) -> tuple[list[str], list[ParsedRow]]:
        """The indicator table: its header row's canonical columns and the rows down to the first blank one."""
        header_row = next((r for r, _c, v in self.cells() if _key(v) == "machitieu"), None)
        if header_row is None:
            reasons.append(_NO_TABLE)
            return [], []
        positions = _map_header(list(self._values[header_row - 1]),
                                lambda i: f"ô {get_column_letter(i + 1)}{header_row}", {}, warn)
        columns = {name: i + 1 for name, i in positions.items()}

        rows = []
        for r in range(header_row + 1, len(self._values) + 1):
            if all(self.blank(r, c) for c in columns.values()):
                break
            cells = {name: f"{get_column_letter(c)}{r}" for name, c in columns.items()}
            for name in _CELL_COLUMNS:
                if name in columns and self.uncached(r, columns[name]):
                    if name == "rate":
                        # The rate is optional and only cross-checked: without a value, skip the check.
                        warn.append(f"Ô {cells[name]}: công thức tỷ lệ chưa có giá trị tính sẵn; "
                                    "tỷ lệ không được đối chiếu")
                    else:
                        reasons.append(_UNCACHED.format(f"Ô {cells[name]}"))
            values = {name: self.value(r, c) for name, c in columns.items()}
            rows.append(_make_row(r, values, cells, reasons))
        return list(columns), rows


# --- CSV ------------------------------------------------------------------------------------

def _decode_csv(data: bytes) -> str:
    """UTF-8 (BOM or not), else Windows-1258, recomposed: cp1258 spells tones as combining marks."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1258")
        except UnicodeDecodeError as exc:
            raise _not_readable("không nhận ra bảng mã ký tự (cần UTF-8 hoặc Windows-1258)") from exc
    return unicodedata.normalize("NFC", text)


def _parse_csv(data: bytes, max_cells: int) -> ParsedSubmission:
    names, records = _read_csv(data, max_cells)
    warn: list[str] = []
    positions = _map_header(names, lambda i: f"cột thứ {i + 1}", {_UNIT_KEY: "unit", _PERIOD_KEY: "period"}, warn)
    if "indicator_code" not in positions:
        raise SubmissionParseError(
            ['Không tìm thấy bảng chỉ tiêu (dòng tiêu đề có "ma_chi_tieu", "tu_so", "mau_so")'])

    def ref(line: int, position: int) -> str:
        return f"dòng {line}, cột {names[position]}"

    reasons: list[str] = []
    unit_code, unit_cell = _csv_constant(records, positions.get("unit"), ref, reasons, "unit")
    period, period_cell = _csv_constant(records, positions.get("period"), ref, reasons, "period")
    columns = [name for name in positions if name not in _CSV_CONSTANTS]
    rows = []
    for line, record in records:
        values = {name: _field(record, positions[name]) for name in columns}
        rows.append(_make_row(line, values, {name: ref(line, positions[name]) for name in columns}, reasons))
    if reasons:
        raise SubmissionParseError(reasons, unit_code, period)
    return ParsedSubmission("csv", None, unit_code, unit_cell, period, period_cell, columns, rows, warn)


def _read_csv(data: bytes, max_cells: int) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header names (stripped) and the non-blank records with their line numbers."""
    if b"\x00" in data:
        raise _not_readable("tệp .csv chứa dữ liệu nhị phân")
    text = _decode_csv(data)
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise _not_readable("tệp .csv trống hoặc thiếu dòng tiêu đề")
        records, count = [], len(header)
        for record in reader:
            count += max(len(record), 1)
            if count > max_cells:
                raise _too_many_cells(max_cells)
            # Unlike a sheet's table, a CSV carries the unit on every row: a blank line hides nothing.
            if any(f.strip() for f in record):
                records.append((reader.line_num, record))
    except csv.Error as exc:
        raise _not_readable(f"tệp .csv sai cấu trúc ({exc})") from exc
    return [h.strip() for h in header], records


def _field(record: list[str], position: int) -> str:
    return record[position] if position < len(record) else ""


_CSV_CONSTANTS = {  # columns that hold one value for the whole file: (what, CSV name, reader)
    "unit": ("mã đơn vị", "ma_don_vi", str.upper),
    "period": ("kỳ báo cáo", "ky_bao_cao", parse_period_text),
}


def _csv_constant(records, position: int | None, ref, reasons: list[str], column: str) -> tuple:
    """(value, cell) that every row gives for the unit or the period; (None, None) with a reason if not.

    Blank cells are tolerated; a second, different value or an unreadable one is a reason naming its line.
    """
    what, csv_name, read = _CSV_CONSTANTS[column]
    found = None
    for line, record in records if position is not None else ():
        text = shown(_field(record, position).strip())  # quoted in reasons and stored: never a flood
        if not text:
            continue
        try:
            value = read(text)
        except PeriodError:
            reasons.append(_BAD_PERIOD.format(_reason_prefix(ref(line, position)), text))
            return found or (None, None)
        if found is None:
            found = (value, ref(line, position))
        elif value != found[0]:
            where = _reason_prefix(ref(line, position))
            reasons.append(f'{where}: {what} "{text}" khác với {found[1]} ("{found[0]}")')
            return found
    if found is None:
        reasons.append(f'Không tìm thấy {what} (cột "{csv_name}")')
        return None, None
    return found
