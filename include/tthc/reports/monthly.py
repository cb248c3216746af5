"""The report: Word (Decree 30/2020 layout, from a docxtpl template) and Excel, per monthly period,
and the same for quarters, half-years and years (write_rollup_report, from the roll-up marts)."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import Iterator

from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage

from ..catalogue import Catalogue
from ..periods import Period, RollupPeriod
from ..settings import Settings
from .charts import indicator_chart, ranking_chart, trend_chart
from .data import (
    DISCREPANCY_POINTS, ReportData, load_report_data, load_rollup_report_data, unit_ranking,
)
from .excel import write_workbook
from .formatting import (
    STATUS_VI, reason_list, safe_text, target_text, verdict, vn_datetime, vn_int,
    vn_number, vn_pct,
)

TEMPLATE = Path(__file__).with_name("templates") / "monthly_report.docx"
NBSP = "\u00a0"
_MONTH_TREND = {"columns": 4, "panel_height": 1.15}


def monthly_report_data(conn, period: Period, settings: Settings, catalogue: Catalogue) -> list[ReportData]:
    """What the month's reports show, read from the marts: the area summary's data, then that of each
    unit the catalogue names an issuer for (from 2025-07 each new commune's People's Committee).
    Read apart from the writing, so that the transaction can end before the charts are drawn."""
    area = load_report_data(conn, period, settings, catalogue)
    units = catalogue.units_with_own_report(period, settings.calendar.with_scheme(area.calendar.scheme))
    return [area, *(load_report_data(conn, period, settings, catalogue, unit) for unit in units)]


def write_monthly_reports(data: list[ReportData], settings: Settings, started: float | None = None) -> dict:
    """<reports_dir>/<period>/BaoCao_TTHC_<period>.docx and .xlsx from monthly_report_data, both or
    neither (a failed run leaves any earlier report as it was), and each unit's own,
    BaoCao_TTHC_<period>_<unit>.docx/.xlsx ("unit_reports")."""
    area, *units = data
    result = write_report(area, settings, started)
    result["unit_reports"] = [write_report(unit, settings) for unit in units]
    return result


def write_rollup_report(data: ReportData, settings: Settings, started: float | None = None) -> dict:
    """The quarter's, half-year's or year's report from the roll-up marts (`data`, from
    load_rollup_report_data): <reports_dir>/<label>/BaoCao_TTHC_<label>.docx and .xlsx (e.g. 2025-Q1),
    laid out as the monthly one, with the area's monthly trend and, for the year, the plan's
    end-of-year stretch targets."""
    return write_report(data, settings, started)


def write_report(data: ReportData, settings: Settings, started: float | None = None) -> dict:
    started = time.perf_counter() if started is None else started
    period = data.period
    folder = Path(settings.reports_dir) / period.label
    folder.mkdir(parents=True, exist_ok=True)
    docx_path = folder / f"{data.file_stem}.docx"
    xlsx_path = docx_path.with_suffix(".xlsx")
    with staged(docx_path, xlsx_path) as (docx_tmp, xlsx_tmp):
        render_docx(data, docx_tmp)
        write_workbook(data, xlsx_tmp)
    counts, verdicts = data.submission_counts, data.verdicts
    extra = {}
    if data.is_rollup:
        extra = {"months": [p.label for p in period.months],
                 "months_aggregated": max((r["months_aggregated"] for r in data.area), default=0)}
        if data.kind == "year":
            extra["stretch_met"] = sum(1 for r in data.area if r["meets_stretch"] is True and not r["alias_of"])
            extra["stretch_not_met"] = sum(1 for r in data.area if r["meets_stretch"] is False and not r["alias_of"])
    if data.unit is not None:
        extra["unit"] = data.unit.code
    return {
        "period": period.label,
        **extra,
        "scheme": data.calendar.scheme,
        "issuer": data.issuer.short_name,
        "docx": str(docx_path),
        "xlsx": str(xlsx_path),
        "indicators": len(data.area),
        "indicators_met": verdicts[True],
        "indicators_not_met": verdicts[False],
        "units_below_target": len({r["unit_code"] for r in data.below_target}),
        "discrepancies": len(data.discrepancies),
        "submissions": {status: counts[status] for status in (*STATUS_VI, "unexpected")},
        "seconds": round(time.perf_counter() - started, 2),
    }


@contextmanager
def staged(*finals: Path) -> Iterator[list[Path]]:
    """Temporary paths beside `finals` (same folder, so the rename is atomic), moved into place
    only when the block succeeds and removed in any case."""
    temps = [f.with_name(f".{f.name}.{os.getpid()}.tmp") for f in finals]
    try:
        yield temps
        for temp, final in zip(temps, finals):
            os.replace(temp, final)
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)


def render_docx(data: ReportData, path: Path) -> None:
    template = DocxTemplate(TEMPLATE)
    chart_rows = [r for r in data.area if not r["alias_of"]]
    year = data.period.year
    # Headline indicators no unit has a rate for this month get no panel; a unit's own report ranks nothing.
    ranking = ({} if data.is_rollup or data.unit else
               {code: units for code, units in unit_ranking(data).items() if units})
    context = {
        "issuer": issuer_context(data),
        "issue_year": data.issue_year,
        "year": year,
        "month_label": data.month_label,
        "period_title": data.title,
        "rate_header": f"{data.noun[0].upper()}{data.noun[1:]} (%)",
        "period_text": data.period_text,
        "unit_notes": unit_notes(data),
        "stretch": _stretch_rows(data) if data.kind == "year" else [],
        "stretch_heading": (f"Kết quả năm {year} so với mục tiêu phấn đấu đến hết năm {year} "
                            "(Kế hoạch, mục III.2)"),
        # A month's trend has at most a few points a panel: smaller panels keep the report compact.
        "trend_chart": (InlineImage(template, BytesIO(trend_chart(chart_rows, data.trend, data.unit_changes,
                                                                  **({} if data.is_rollup else _MONTH_TREND))),
                                    width=Mm(160)) if data.trend else ""),
        "trend_caption": (f"Tỷ lệ của {data.coverage} theo tháng từ đầu năm {year} đến hết {data.title}"
                          + (" (đường chấm: thay đổi đơn vị do sắp xếp đơn vị hành chính)" if data.unit_changes else "")),
        # The monthly report ranks the units on the plan's headline indicators (those with a stretch target).
        "ranking_chart": (InlineImage(template, BytesIO(ranking_chart(ranking, data.area)), width=Mm(160))
                          if ranking else ""),
        "ranking_number": 3 if data.trend else 2,
        "ranking_caption": (f"Xếp hạng các đơn vị theo {', '.join(ranking)} {data.title} so với chỉ tiêu kế hoạch"
                            if ranking else ""),
        "summary": summary_paragraphs(data),
        "indicators": [_indicator_row(i, r, data.unit is None) for i, r in enumerate(data.area, 1)],
        "table_note": _table_note(data),
        "below": _below_rows(data.below_target),
        "discrepancy_points": vn_number(DISCREPANCY_POINTS),
        "discrepancies": [_discrepancy_row(i, r) for i, r in enumerate(data.discrepancies, 1)],
        "submission_text": submission_sentence(data),
        "submissions": [_submission_row(i, r) for i, r in enumerate(_noteworthy(data.submissions), 1)],
        "chart": InlineImage(template, BytesIO(indicator_chart(chart_rows)), width=Mm(160)),
        "chart_caption": f"Tỷ lệ thực hiện các chỉ tiêu của {data.coverage} {data.title} so với kế hoạch",
    }
    # autoescape: file names and reasons may hold '<' or '&', which would break the XML.
    template.render(context, autoescape=True)
    template.save(path)


def issuer_context(data: ReportData) -> dict:
    """The header, number line, place, recipients and signature (Decree 30) from the catalogue's
    issuer of the report: who existed on the period's last day (the district until 30/06/2025)."""
    issuer = data.issuer
    recipients = [f"- {line}" for line in issuer.recipients]
    return {
        "superior": list(issuer.superior), "name": list(issuer.name), "short_name": issuer.short_name,
        "number": f"Số:      /{issuer.number_prefix}", "place": issuer.place,
        # Decree 30: each recipient line ends with ';', the last (the archive) with '.'.
        "recipients": [line + ("." if i == len(recipients) - 1 else ";") for i, line in enumerate(recipients)],
        "signer_title": list(issuer.signer_title), "signer_name": issuer.signer_name or "",
    }


def _indicator_row(stt: int, r: dict, with_units: bool = True) -> dict:
    """A row of section I; the area's name says how many units reported it (a unit's own report does not)."""
    units = f"\n({r['units_reported']}/{r['units_expected']} đơn vị báo cáo)" if with_units else ""
    return {
        "stt": stt, "code": r["indicator_code"],
        "name": f"{r['short_name']}{units}",
        "num": vn_int(r["numerator"]), "den": vn_int(r["denominator"]),
        "month": vn_pct(r["value_pct"], r["reported"]), "ytd": vn_pct(r["ytd_value_pct"], r["reported"]),
        "target": target_text(r["comparator"], r["target_pct"]), "verdict": verdict(r["meets_target"]),
    }


def _stretch_rows(data: ReportData) -> list[dict]:
    """The indicators with an end-of-year stretch goal: the year's figure against it."""
    rows = [r for r in data.area if r["stretch_pct"] is not None and not r["alias_of"]]
    verdicts = {True: "Đạt mục tiêu", False: "Chưa đạt mục tiêu", None: "Không đánh giá"}
    return [{"stt": i, "code": r["indicator_code"], "name": r["short_name"],
             "value": vn_pct(r["value_pct"], r["reported"]), "target": target_text(r["comparator"], r["target_pct"]),
             "stretch": target_text(">=", r["stretch_pct"]), "verdict": verdicts[r["meets_stretch"]]}
            for i, r in enumerate(rows, 1)]


def unit_notes(data: ReportData) -> list[str]:
    """Labels for figures spanning the reorganisation: new communes including the old communes merged
    into them, and units that stopped during the roll-up (their figures up to their last day)."""
    notes = data.predecessor_notes() + data.portal_merged_notes()
    if data.is_rollup and data.catalogue is not None:
        ended: dict[str, int] = {}
        for code in sorted({u["unit_code"] for u in data.units if u.get("unit_valid_to")}):
            unit = data.catalogue.units.get(code)
            if unit and unit.valid_to and unit.valid_to < data.calendar.last_day(data.period) and not unit.successor_code:
                ended[f"{unit.valid_to:%d/%m/%Y}"] = ended.get(f"{unit.valid_to:%d/%m/%Y}", 0) + 1
        for day, count in ended.items():
            notes.append(f"{count} đơn vị thôi hoạt động sau ngày {day} (cấp huyện không còn tổ chức): "
                         f"số liệu của các đơn vị này tính đến hết ngày {day}.")
    return notes


def _unit_name(r: dict) -> str:
    n = r.get("predecessor_units") or 0
    return f"{r['unit_name']} (gồm số liệu của {n} xã cũ)" if n else r["unit_name"]


def _below_rows(below: list[dict]) -> list[dict]:
    """One row per unit (in the order given: the catalogue's), listing its indicators below target as
    'NQ01-3 Hồ sơ trực tuyến: 30,0% (30/100), KH ≥ 50' ('KH ≥ 50' held together by no-break spaces)."""
    units: dict[str, dict] = {}
    for r in below:
        unit = units.setdefault(r["unit_code"], {"stt": len(units) + 1, "unit": _unit_name(r), "shortfalls": []})
        target = target_text(r["comparator"], r["target_pct"]).replace(" ", NBSP)
        unit["shortfalls"].append(f"{r['indicator_code']} {r['short_name']}: {vn_pct(r['value_pct'])} "
                                  f"({vn_int(r['numerator'])}/{vn_int(r['denominator'])}), KH{NBSP}{target}")
    return list(units.values())


def _discrepancy_row(stt: int, r: dict) -> dict:
    def figure(prefix: str) -> str:
        return (f"{vn_pct(r[prefix + '_value_pct'])} "
                f"({vn_int(r[prefix + '_numerator'])}/{vn_int(r[prefix + '_denominator'])})")

    gap = abs(r["reported_value_pct"] - r["portal_value_pct"])
    unit = r["unit_name"] if not r.get("period") else f"{r['unit_name']} (tháng {r['period'][5:]}/{r['period'][:4]})"
    return {"stt": stt, "unit": unit, "code": r["indicator_code"], "reported": figure("reported"),
            "portal": figure("portal"), "gap": f"{vn_number(gap)} điểm %"}


def _noteworthy(submissions: list[dict]) -> list[dict]:
    """Section III lists every submission that was not simply on time: late, missing, rejected,
    corrected (more than one version) or carrying a note."""
    return [s for s in submissions if s["status"] != "on_time" or s["reasons"] or (s["versions"] or 0) > 1]


def _status_text(s: dict) -> str:
    """'đúng hạn, đã sửa đổi (2 phiên bản)': a correction keeps the status of the first valid version
    (its time is the counting file's, which may be after the deadline)."""
    text = STATUS_VI.get(s["status"], safe_text(s["status"]))
    versions = s["versions"] or 0
    if versions > 1:
        corrected = s["status"] in ("on_time", "late")  # a counting file that replaced an earlier one
        text += f", đã sửa đổi ({versions} phiên bản)" if corrected else f" ({versions} phiên bản)"
    return text + (f" (tháng {s['period'][5:]}/{s['period'][:4]})" if s.get("period") else "")


def _submission_row(stt: int, s: dict) -> dict:
    name = safe_text(s["unit_name"]) or "Không xác định đơn vị"
    return {
        "stt": stt, "unit": f"{name} ({safe_text(s['unit_code'])})" if s["unit_code"] else name,
        "status": _status_text(s),
        "received": vn_datetime(s["received_at"]), "file": safe_text(s["file"]),
        "reasons": "\n".join(reason_list(s["reasons"])),
    }


def _table_note(data: ReportData) -> str:
    aliases = "".join(f" {r['indicator_code']} là số liệu của {r['alias_of']}." for r in data.area if r["alias_of"])
    area = "" if data.unit else f"tỷ lệ của {data.coverage} = tổng tử số/tổng mẫu số của các đơn vị; "
    return (f"Ghi chú: {area}“không phát sinh”: mẫu số "
            "bằng 0, không đánh giá; ✓ đạt, ✗ chưa đạt, — không đánh giá. Lũy kế tính từ đầu năm "
            f"{data.period.year}.{_rollup_note(data)}{aliases}")


def _rollup_note(data: ReportData) -> str:
    if not data.is_rollup:
        return ""
    return (f" Số liệu {data.title} = tổng tử số/tổng mẫu số của các tháng {data.period.first.month:02d}–"
            f"{data.period.last.month:02d}/{data.period.year}; riêng NQ01-1 (số TTHC) lấy số liệu tháng gần nhất.")


def _rate_phrase(r: dict) -> str:
    """'tỷ lệ hồ sơ trực tuyến' from the short name; 'Mức độ hài lòng' is not a rate of anything."""
    name = r["short_name"]
    if name[1:2].islower():  # keep acronyms such as 'DVC' as written
        name = name[0].lower() + name[1:]
    return f"tỷ lệ {name}" if r["name_vi"].startswith("Tỷ lệ") else name


def _result_phrase(r: dict) -> str:
    """'tỷ lệ hồ sơ trực tuyến đạt 62,4%, vượt chỉ tiêu 12,4 điểm %': the verdict and the gap from the
    exact rate (90,99 % against 95: '91,0%', lower by 4,0 points, not 4,1), only the words rounded."""
    subject = _rate_phrase(r)
    if r["value_pct"] is None:
        return f"{subject} {vn_pct(None, r['reported'])}"
    text = f"{subject} đạt {vn_pct(r['value_pct'])}"
    if r["meets_target"] is None:
        return text
    gap = r["value_pct"] - r["target_pct"]
    if r["meets_target"] is False:
        return f"{text}, thấp hơn chỉ tiêu {vn_number(-gap)} điểm %"
    return f"{text}, vượt chỉ tiêu {vn_number(gap)} điểm %" if gap > 0 else f"{text}, đạt chỉ tiêu"


def _stretch_phrase(r: dict) -> str:
    """'tỷ lệ hồ sơ trực tuyến đạt 72,0%, chưa đạt mục tiêu 80%' (the year against its stretch goal)."""
    subject = _rate_phrase(r)
    if r["value_pct"] is None:
        return f"{subject} {vn_pct(None, r['reported'])}"
    words = {True: "đạt mục tiêu", False: "chưa đạt mục tiêu", None: "mục tiêu"}[r["meets_stretch"]]
    return f"{subject} đạt {vn_pct(r['value_pct'])}, {words} {vn_number(r['stretch_pct'])}%"


def _sentence(phrases: list[str], lead: str = "") -> str:
    text = lead + "; ".join(phrases)
    return text[0].upper() + text[1:] + "."


def summary_paragraphs(data: ReportData) -> list[str]:
    """The results in words: how many indicators met target, the plan's headline indicators (those
    with a stretch goal) and every indicator below target."""
    if not data.area:
        return ["Chưa có số liệu tổng hợp của kỳ báo cáo."]
    not_arising = sum(r["value_pct"] is None and r["reported"] for r in data.area)
    no_data = sum(not r["reported"] for r in data.area)
    # Supplementary indicators (e.g. the on-time rate) have a figure but no target in the plan.
    no_target = sum(r["value_pct"] is not None and r["target_pct"] is None for r in data.area)
    counts = (f"Trong {len(data.area)} chỉ tiêu, {data.verdicts[True]} chỉ tiêu đạt kế hoạch, "
              f"{data.verdicts[False]} chỉ tiêu chưa đạt")
    if not_arising:
        counts += f", {not_arising} chỉ tiêu không phát sinh (không đánh giá)"
    if no_target:
        counts += f", {no_target} chỉ tiêu bổ sung không có chỉ tiêu kế hoạch"
    if no_data:
        counts += f", {no_data} chỉ tiêu " + ("chưa có số liệu" if data.unit else "chưa có đơn vị nào báo cáo")
    paragraphs = [counts + "."]
    distinct = [r for r in data.area if not r["alias_of"]]
    headline = [_result_phrase(r) for r in distinct if r["stretch_pct"] is not None and r["meets_target"] is not False]
    if headline:
        paragraphs.append(_sentence(headline))
    below = [_result_phrase(r) for r in distinct if r["meets_target"] is False]
    if below:
        paragraphs.append(_sentence(below, lead="Các chỉ tiêu chưa đạt: "))
    if data.kind == "year":
        stretch = [_stretch_phrase(r) for r in distinct if r["stretch_pct"] is not None]
        if stretch:
            paragraphs.append(_sentence(stretch, lead=f"So với mục tiêu phấn đấu đến hết năm {data.period.year} "
                                                      "của Kế hoạch: "))
    return paragraphs


def submission_sentence(data: ReportData) -> str:
    counts = data.submission_counts
    if data.unit is not None:
        own = next((s for s in data.submissions if s["expected"]), None)
        text = f"Báo cáo của {data.unit.name}: " + (_status_text(own) if own else STATUS_VI["missing"])
        if own and own["received_at"]:
            text += f", nhận lúc {vn_datetime(own['received_at'])}"
        return text + _deadline_text(data) + "."
    expected = sum(counts[s] for s in STATUS_VI)
    if data.is_rollup:
        text = (f"Trong {len(data.period.months)} kỳ báo cáo tháng: {counts['on_time']}/{expected} lượt báo cáo "
                f"đúng hạn, {counts['late']} lượt gửi muộn, {counts['missing']} lượt chưa gửi, "
                f"{counts['rejected']} lượt bị từ chối")
        if counts["unexpected"]:
            text += f"; ngoài ra {counts['unexpected']} tệp bị từ chối không thuộc đơn vị nào phải báo cáo"
        return text + "."
    text = (f"{counts['on_time']}/{expected} đơn vị gửi báo cáo đúng hạn, {counts['late']} đơn vị gửi muộn, "
            f"{counts['missing']} đơn vị chưa gửi, {counts['rejected']} báo cáo bị từ chối")
    if counts["unexpected"]:
        text += f"; ngoài ra {counts['unexpected']} tệp bị từ chối không thuộc đơn vị nào phải báo cáo"
    return text + _deadline_text(data) + "."


def _deadline_text(data: ReportData) -> str:
    if not data.submissions:  # a period nobody was asked about yet has no deadline to state
        return ""
    return f". Hạn gửi báo cáo: hết ngày {data.calendar.deadline(data.period)}"
