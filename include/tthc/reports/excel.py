"""The report's figures as an Excel workbook (xlsxwriter), one sheet per view.

Rates are stored as fractions with a % format, counts as integers, so the province can compute
with them; every text goes through write_string (never a formula) after safe_text."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import xlsxwriter

from .data import ReportData
from .formatting import STATUS_VI, as_bool, local_datetime, reason_list, safe_text, vn_pct

UNIT_SHEETS = {"department": ("PhongBan", "các phòng, ban"), "commune": ("Xa", "các xã"),
               "town": ("ThiTran", "các thị trấn")}
SOURCE_VI = {"portal": "Cổng DVC", "shared_drive": "Đơn vị tự báo cáo"}
VERDICT_VI = {True: "Đạt", False: "Chưa đạt", None: "Không đánh giá"}
HEADER_ROW = 3  # title, period, blank line, then the table


@dataclass(frozen=True)
class Column:
    header: str
    width: float
    kind: str  # text | int | pct | target | datetime | points
    get: Callable[[dict], object]


def _key(name: str) -> Callable[[dict], object]:
    return lambda row: row[name]


def _verdict(name: str) -> Callable[[dict], str]:
    return lambda row: VERDICT_VI[as_bool(row[name])]


def _rate(name: str) -> Callable[[dict], object]:
    """The rate, or why there is none ('không phát sinh' / 'chưa có số liệu'), never 0 %."""
    return lambda row: vn_pct(None, row["reported"]) if row[name] is None else row[name]


def _comparator(row: dict) -> str:
    return {">=": "≥", "=": "="}.get(row["comparator"] or "", "")


def _figure_columns(prefix: str = "", noun: str = "tháng") -> list[Column]:
    """The period's (month, quarter…) and year-to-date counts and rate, then the target and the verdicts."""
    return [
        Column(f"Tử số{prefix}", 10, "int", _key("numerator")),
        Column(f"Mẫu số{prefix}", 10, "int", _key("denominator")),
        Column(f"Tỷ lệ {noun}", 12, "pct", _rate("value_pct")),
        Column("Tử số lũy kế", 11, "int", _key("ytd_numerator")),
        Column("Mẫu số lũy kế", 11, "int", _key("ytd_denominator")),
        Column("Tỷ lệ lũy kế", 12, "pct", _rate("ytd_value_pct")),
        Column("So sánh", 8, "text", _comparator),
        Column("Chỉ tiêu KH", 11, "target", _key("target_pct")),
        Column(f"Đánh giá {noun}", 14, "text", _verdict("meets_target")),
        Column("Đánh giá lũy kế", 14, "text", _verdict("ytd_meets_target")),
    ]


def _stretch_columns() -> list[Column]:
    """The year against the plan's end-of-year stretch target (plan §III.2)."""
    return [Column("Mục tiêu cuối năm", 11, "target", _key("stretch_pct")),
            Column("Đánh giá so với mục tiêu cuối năm", 16, "text",
                   lambda r: VERDICT_VI[as_bool(r["meets_stretch"])] if r["stretch_pct"] is not None else None)]


def _predecessors_text(data: ReportData, key: str) -> Callable[[dict], str | None]:
    """The old units whose figures a new commune's figures include, by name and code."""
    def get(row: dict) -> str | None:
        if not row.get(key) or data.catalogue is None:
            return None
        return ", ".join(f"{u.name} ({u.code})" for u in data.catalogue.units.values()
                         if u.successor_code == row["unit_code"])
    return get


INDICATOR = [Column("Mã chỉ tiêu", 11, "text", _key("indicator_code")),
             Column("Chỉ tiêu", 40, "text", _key("short_name"))]
UNIT = [Column("Mã đơn vị", 12, "text", _key("unit_code")), Column("Đơn vị", 34, "text", _key("unit_name"))]

SUMMARY = INDICATOR + _figure_columns() + [
    Column("Đơn vị đã báo cáo", 12, "int", _key("units_reported")),
    Column("Đơn vị phải báo cáo", 12, "int", _key("units_expected")),
    Column("Nguồn số liệu", 22, "text", lambda r: ", ".join(SOURCE_VI.get(s, s) for s in (r["sources"] or "").split(",") if s)),
    Column("Tên đầy đủ", 70, "text", _key("name_vi")),
]
UNIT_FIGURES = UNIT + INDICATOR + _figure_columns() + [
    Column("Nguồn", 18, "text", lambda r: SOURCE_VI.get(r["source"], r["source"])),
    Column("Tệp", 30, "text", _key("file_path")),
    Column("Dòng", 8, "text", _key("file_row")),
]


def _sources(r: dict, key: str) -> str:
    return ", ".join(SOURCE_VI.get(s, s) for s in (r[key] or "").split(",") if s)


def rollup_columns(data: ReportData) -> tuple[list[Column], list[Column]]:
    """(area, unit) columns of a roll-up's sheets: the roll-up's figure in place of the month's, the
    stretch target for the year, and which old units a new commune's figures include."""
    noun, year = data.noun, data.kind == "year"
    area = INDICATOR + _figure_columns(noun=noun) + (_stretch_columns() if year else []) + [
        Column("Đơn vị đã báo cáo", 12, "int", _key("units_reported")),
        Column("Đơn vị phải báo cáo", 12, "int", _key("units_expected")),
        Column("Lượt báo cáo (đơn vị × tháng)", 14, "int", _key("unit_months_reported")),
        Column("Lượt phải báo cáo", 12, "int", _key("unit_months_expected")),
        Column("Nguồn số liệu", 22, "text", lambda r: _sources(r, "sources")),
        Column("Tên đầy đủ", 70, "text", _key("name_vi")),
    ]
    unit = UNIT + INDICATOR + [
        Column("Tử số", 10, "int", _key("numerator")),
        Column("Mẫu số", 10, "int", _key("denominator")),
        Column(f"Tỷ lệ {noun}", 12, "pct", _rate("value_pct")),
        Column("So sánh", 8, "text", _comparator),
        Column("Chỉ tiêu KH", 11, "target", _key("target_pct")),
        Column(f"Đánh giá {noun}", 14, "text", _verdict("meets_target")),
    ] + (_stretch_columns() if year else []) + [
        Column("Số tháng có số liệu", 10, "int", _key("months_reported")),
        Column("Gồm số liệu của đơn vị cũ", 50, "text", _predecessors_text(data, "predecessor_units")),
        Column("Hoạt động đến ngày", 12, "text",
               lambda r: f"{r['unit_valid_to'][8:10]}/{r['unit_valid_to'][5:7]}/{r['unit_valid_to'][:4]}"
               if r.get("unit_valid_to") else None),
        Column("Nguồn", 18, "text", lambda r: _sources(r, "source")),
    ]
    return area, unit


def trend_sheet(data: ReportData) -> tuple[list[Column], list[dict]]:
    """One row per indicator, one rate column per month since January."""
    months = sorted({label for points in data.trend.values() for label, _ in points})
    columns = INDICATOR + [Column(f"Tháng {m[5:]}/{m[:4]}", 11, "pct",
                                  (lambda m: lambda r: r["months"].get(m))(m)) for m in months]
    rows = [dict(r, months=dict(data.trend.get(r["indicator_code"], []))) for r in data.area]
    return columns, rows


PERIOD = [Column("Kỳ", 9, "text", _key("period"))]
STATUS = UNIT + [
    Column("Tình trạng", 12, "text", lambda r: STATUS_VI.get(r["status"], r["status"])),
    Column("Thời điểm nhận", 17, "datetime", _key("received_at")),
    Column("Tệp", 34, "text", _key("file")),
    Column("Số phiên bản", 10, "int", _key("versions")),
    Column("Lý do", 70, "text", lambda r: "\n".join(reason_list(r["reasons"]))),
]
DISCREPANCY = UNIT + [Column("Mã chỉ tiêu", 11, "text", _key("indicator_code"))] + [
    Column(f"{label} ({side})", 12, kind, _key(f"{prefix}_{field}"))
    for side, prefix in (("đơn vị báo cáo", "reported"), ("Cổng DVC", "portal"))
    for label, kind, field in (("Tử số", "int", "numerator"), ("Mẫu số", "int", "denominator"),
                               ("Tỷ lệ", "pct", "value_pct"))
] + [Column("Chênh lệch (điểm %)", 12, "points", lambda r: abs(r["reported_value_pct"] - r["portal_value_pct"])),
     Column("Tệp", 30, "text", _key("file_path"))]


class _Writer:
    def __init__(self, workbook: xlsxwriter.Workbook, data: ReportData):
        self.wb, self.data = workbook, data
        base = {"font_name": "Times New Roman", "font_size": 12, "valign": "top"}

        def add(**kw):
            return workbook.add_format({**base, **kw})

        self.fmt = {
            "title": add(bold=True, font_size=14), "subtitle": add(italic=True),
            "header": add(bold=True, text_wrap=True, border=1, align="center", valign="vcenter", bg_color="#D9E1F2"),
            "text": add(text_wrap=True), "int": add(num_format="#,##0"), "pct": add(num_format="0.0%"),
            "target": add(num_format="0%"), "points": add(num_format="0.0"),
            "datetime": add(num_format="dd/mm/yyyy hh:mm"),
        }

    def sheet(self, name: str, subject: str, columns: list[Column], rows: list[dict]) -> None:
        ws = self.wb.add_worksheet(name)
        ws.write_string(0, 0, f"{subject} {self.data.title}", self.fmt["title"])
        ws.write_string(1, 0, self.data.period_text, self.fmt["subtitle"])
        for c, col in enumerate(columns):
            ws.set_column(c, c, col.width)
            ws.write_string(HEADER_ROW, c, col.header, self.fmt["header"])
        for r, row in enumerate(rows, HEADER_ROW + 1):
            for c, col in enumerate(columns):
                self.cell(ws, r, c, col.kind, col.get(row))
        ws.freeze_panes(HEADER_ROW + 1, 2)
        ws.autofilter(HEADER_ROW, 0, HEADER_ROW + max(len(rows), 1), len(columns) - 1)

    def cell(self, ws, r: int, c: int, kind: str, value) -> None:
        if value is None:
            return
        if kind == "datetime":
            ws.write_datetime(r, c, local_datetime(value), self.fmt["datetime"])
        elif isinstance(value, str) or kind == "text":  # also the words standing in for a rate
            ws.write_string(r, c, safe_text(value), self.fmt["text"])
        elif kind == "int":
            ws.write_number(r, c, int(value), self.fmt["int"])
        elif kind in ("pct", "target"):
            ws.write_number(r, c, float(value) / 100, self.fmt[kind])
        else:
            ws.write_number(r, c, float(value), self.fmt["points"])


def write_workbook(data: ReportData, path: Path) -> None:
    workbook = xlsxwriter.Workbook(str(path))
    writer = _Writer(workbook, data)
    if data.is_rollup:
        summary, unit_figures = rollup_columns(data)
        status, discrepancy = PERIOD + STATUS, PERIOD + DISCREPANCY
    else:
        unit_figures = UNIT_FIGURES + [Column("Lũy kế gồm số liệu của đơn vị cũ", 50, "text",
                                              _predecessors_text(data, "ytd_predecessor_units"))]
        summary, status, discrepancy = SUMMARY, STATUS, DISCREPANCY
    writer.sheet("TongHop", f"Kết quả các chỉ tiêu cải cách TTHC của {data.coverage}", summary, data.area)
    for unit_type, (name, label) in UNIT_SHEETS.items():
        writer.sheet(name, f"Kết quả các chỉ tiêu của {label}", unit_figures,
                     [u for u in data.units if u["unit_type"] == unit_type])
    writer.sheet("TinhTrangNop", "Tình hình gửi báo cáo của các đơn vị", status, data.submissions)
    writer.sheet("ChenhLech", "Số liệu đơn vị báo cáo chênh lệch với Cổng DVC", discrepancy, data.discrepancies)
    if data.trend and data.is_rollup:  # the monthly report charts the trend; its workbook keeps the month
        columns, rows = trend_sheet(data)
        writer.sheet("XuHuong", f"Tỷ lệ của {data.coverage} theo tháng từ đầu năm đến hết", columns, rows)
    workbook.close()
