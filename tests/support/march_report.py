"""The hand-written mart rows of 2025-03 the report tests share (tests/warehouse/test_reports.py checks
the report's content, tests/e2e/test_report_rendering.py its layout); the `report` fixture of
tests/conftest.py writes the report from them."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import text

from tthc.calendar import DEFAULT_CALENDAR
from tthc.catalogue import Catalogue
from tthc.periods import Period
from tthc.reports import write_monthly_report
from tthc.settings import DEFAULT_CATALOGUE_DIR, Settings
from tthc.warehouse import migrate, transaction

MARCH = Period(2025, 3)
CATALOGUE = Catalogue.load(DEFAULT_CATALOGUE_DIR)

# Area figures (numerator, denominator) of 2025-03; NQ02-6 had no feedback due: 0/0.
AREA = {
    "NQ01-1": (45, 52), "NQ01-2": (310, 620), "NQ01-3": (1248, 2000), "NQ01-4": (1500, 1980),
    "NQ01-5": (1980, 1980), "NQ01-6.1": (2850, 2950), "NQ01-6.2": (4100, 5000), "NQ02-1": (1900, 1980),
    "NQ02-2": (800, 800), "NQ02-3": (1100, 2000), "NQ02-4": (30, 30), "NQ02-5": (1980, 1980),
    "NQ02-6": (0, 0), "NQ02-7": (460, 500), "TDGQ-1": (1700, 1980),  # on-time rate: no target
}
# (unit, indicator, source, numerator, denominator)
UNIT_FIGURES = [
    ("X-19363", "NQ01-3", "portal", 30, 100),        # Hồ Xá: 30 % against ≥ 50
    ("X-19363", "NQ01-5", "portal", 98, 100),         # and 98 % against 100, shown again as NQ02-5
    ("X-19363", "NQ02-5", "portal", 98, 100),
    ("VL-NV", "NQ01-6.1", "shared_drive", 90, 100),   # 90 % against ≥ 95
    ("VL-TP", "NQ02-2", "shared_drive", 10, 10),
    ("X-19369", "NQ01-4", "portal", 40, 50),          # the portal's 80 % counts (meets ≥ 80) …
    ("X-19369", "NQ01-4", "shared_drive", 35, 50),    # … the self-reported 70 % is a discrepancy
    ("X-19366", "NQ02-6", "shared_drive", 0, 0),
    # NQ01-3 is a headline indicator (a stretch target): the monthly report ranks the units on it.
    ("X-19366", "NQ01-3", "portal", 85, 100),         # Bến Quan 85 %: first
    ("X-19369", "NQ01-3", "portal", 62, 100),         # Vĩnh Thái and Vĩnh Tú tie at 62 %: in the
    ("X-19372", "NQ01-3", "portal", 124, 200),        # catalogue's unit order; Hồ Xá's 30 % is last
]
REJECTED_JSON = json.dumps(["Ô D12: tử số 130 lớn hơn mẫu số 120", "Ô B3: kỳ báo cáo \"13/2025\" không đọc được"],
                           ensure_ascii=False)
FORMULA_REASON = "=HYPERLINK(\"http://x.invalid\",\"Bấm vào đây\")"
# unit -> (status, received_at, file, reasons); every other expected unit sent on time, once.
STATUS = {
    # Sent on time, then corrected after the deadline: still on time, shown as corrected.
    "X-19387": ("on_time", "2025-03-20T14:30:45.654321+07:00", "2025-03/X-19387-sua.xlsx", None),
    "VL-NV": ("late", "2025-03-21T08:15:00+07:00", "2025-03/VL-NV.xlsx", None),
    "X-19375": ("missing", None, None, None),
    "X-19378": ("rejected", "2025-03-17T10:00:00.123456+07:00", "2025-03/Trung Nam & <sửa>.xlsx", REJECTED_JSON),
    "X-19384": ("rejected", "2025-03-18T16:45:00+07:00", "2025-03/X-19384.csv", FORMULA_REASON),
}

VERSIONS = {"X-19387": 2}  # file versions seen per unit where more than one


def _pct(num: int, den: int) -> float | None:
    return 100.0 * num / den if den else None


def _target(code: str, field: str):
    target = CATALOGUE.target(code, 2025)
    return getattr(target, field) if target else None


def _meets(code: str, num: int, den: int) -> bool | None:
    target = CATALOGUE.target(code, 2025)
    if not den or target is None:
        return None
    return num * 100 == target.target_pct * den if target.comparator == "=" else num * 100 >= target.target_pct * den


def seed_march(url: str) -> None:
    """The ref_* rows the queries join and the three public marts, as the aggregation leaves them."""
    migrate(url)
    units = CATALOGUE.units_in(MARCH, DEFAULT_CALENDAR)
    with transaction(url) as conn:
        conn.execute(text("INSERT INTO ref_unit (unit_code, name, unit_type, valid_from) "
                          "VALUES (:code, :name, :unit_type, '2019-01-01')"),
                     [{"code": u.code, "name": u.name, "unit_type": u.unit_type} for u in units])
        conn.execute(text("INSERT INTO ref_period_unit_indicator (period, unit_code, indicator_code) "
                          "VALUES ('2025-03', :u, :i)"),
                     [{"u": u.code, "i": i.code} for u in units for i in CATALOGUE.applicable(u)])
        expected = {code: sum(ind.applies(u) for u in units) for code, ind in CATALOGUE.indicators.items()}
        conn.execute(text(
            "INSERT INTO mart_area_kpi_monthly (period, indicator_code, indicator_name, numerator, denominator, "
            "value_pct, target_pct, comparator, stretch_pct, meets_target, units_reported, units_expected, "
            "ytd_numerator, ytd_denominator, ytd_value_pct, ytd_meets_target, sources, period_scheme) VALUES "
            "('2025-03', :code, :name, :num, :den, :pct, :target, :cmp, :stretch, :meets, :reported, :expected, "
            ":ynum, :yden, :ypct, :ymeets, 'portal,shared_drive', 'decree09')"),
            [{"code": code, "name": CATALOGUE.indicators[code].name_vi, "num": num, "den": den, "pct": _pct(num, den),
              "target": _target(code, "target_pct"), "cmp": _target(code, "comparator"),
              "stretch": _target(code, "stretch_pct"), "meets": _meets(code, num, den),
              "reported": expected[code] - 2, "expected": expected[code], "ynum": num * 3, "yden": den * 3,
              "ypct": _pct(num * 3, den * 3), "ymeets": _meets(code, num * 3, den * 3)}
             for code, (num, den) in AREA.items()])
        by_code = {u.code: u for u in units}
        conn.execute(text(
            "INSERT INTO mart_unit_kpi_monthly (period, unit_code, unit_name, unit_type, indicator_code, numerator, "
            "denominator, value_pct, target_pct, comparator, meets_target, ytd_numerator, ytd_denominator, "
            "ytd_value_pct, ytd_meets_target, source, period_scheme, file_path) VALUES ('2025-03', :unit, :name, "
            ":type, :code, :num, :den, :pct, :target, :cmp, :meets, :num, :den, :pct, :meets, :source, 'decree09', "
            ":file)"),
            [{"unit": unit, "name": by_code[unit].name, "type": by_code[unit].unit_type, "code": code,
              "num": num, "den": den, "pct": _pct(num, den), "target": CATALOGUE.target(code, 2025).target_pct,
              "cmp": CATALOGUE.target(code, 2025).comparator, "meets": _meets(code, num, den), "source": source,
              "file": f"2025-03/{unit}.xlsx" if source == "shared_drive" else None}
             for unit, code, source, num, den in UNIT_FIGURES])
        # Vĩnh Thái's self-reported NQ01-4 (70 %) is 10 points from the portal's (80 %).
        conn.execute(text(
            "INSERT INTO mart_reconciliation (period, unit_code, indicator_code, self_numerator, self_denominator, "
            "self_value_pct, portal_numerator, portal_denominator, portal_value_pct, difference_points) "
            "VALUES ('2025-03', 'X-19369', 'NQ01-4', 35, 50, 70.0, 40, 50, 80.0, -10.0)"))
        deadline = DEFAULT_CALENDAR.deadline(MARCH).end.isoformat()
        rows = [{"unit": u.code, "name": u.name, "status": "on_time", "at": "2025-03-16T09:00:00+07:00",
                 "file": f"2025-03/{u.code}.xlsx", "reasons": None} for u in units if u.code not in STATUS]
        rows += [{"unit": code, "name": by_code[code].name, "status": s, "at": at, "file": f, "reasons": r}
                 for code, (s, at, f, r) in STATUS.items()]
        # A file naming a unit that does not exist: rejected, outside the expected units.
        rows.append({"unit": "X-99999", "name": None, "status": "rejected", "at": "2025-03-19T07:00:00+07:00",
                     "file": "2025-03/khong-ro.xlsx", "reasons": "Ô C4: mã đơn vị X-99999 không có trong danh mục"})
        conn.execute(text(
            "INSERT INTO mart_submission_status (period, unit_code, unit_name, status, received_at, file, reasons, "
            "deadline, versions) VALUES ('2025-03', :unit, :name, :status, :at, :file, :reasons, :deadline, "
            ":versions)"),
            [dict(r, deadline=deadline, versions=VERSIONS.get(r["unit"], 0 if r["file"] is None else 1))
             for r in rows])


def report_settings(tmp_path, url: str) -> Settings:
    return Settings.from_env({"TTHC_DATA_DIR": str(tmp_path / "data"), "TTHC_WAREHOUSE_URL": url})


def write_report(settings: Settings) -> dict:
    with transaction(settings.warehouse_url) as conn:
        return write_monthly_report(conn, MARCH, settings, CATALOGUE)



def written_report(tmp: Path) -> tuple[Settings, dict]:
    """(settings, result) of the report for MARCH, written from a fresh SQLite warehouse in tmp."""
    url = f"sqlite:///{tmp / 'warehouse.sqlite'}"
    seed_march(url)
    settings = report_settings(tmp, url)
    return settings, write_report(settings)
