"""What the monthly and roll-up reports show, read from the public marts through
include/sql/queries/report_*.sql (months) and report_rollup_*.sql (quarters, half-years, years)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..calendar import ReportingCalendar
from ..catalogue import Catalogue, Issuer, Unit
from ..marts.reconciliation import DISCREPANCY_POINTS
from ..periods import Period, RollupPeriod
from ..settings import Settings
from ..warehouse import query
from .formatting import as_bool

_BOOLEANS = ("meets_target", "ytd_meets_target", "meets_stretch", "expected")
_LAST = 10**6  # sorts codes the catalogue no longer knows after the known ones


# The rate column's words per kind of period.
PERIOD_NOUN = {"month": "tháng", "quarter": "quý", "half_year": "6 tháng", "year": "năm"}


@dataclass(frozen=True)
class ReportData:
    period: Period | RollupPeriod
    calendar: ReportingCalendar  # under the scheme the marts were computed with
    issue_year: int
    area: list[dict]
    units: list[dict]
    submissions: list[dict]
    discrepancies: list[dict]
    # Who issues it: the catalogue's issuer (issuers.csv) on the period's last day.
    issuer: Issuer
    # The area's rate per indicator and month since January up to the report's (last) month
    # ({code: [(label, pct)]}) and the months after which the expected units changed (the reorganisation).
    trend: dict[str, list[tuple[str, float | None]]] = field(default_factory=dict)
    unit_changes: list[str] = field(default_factory=list)
    catalogue: Catalogue | None = None
    # The unit of a unit's own report (from 2025-07 each new commune issues one); None: the area summary.
    unit: Unit | None = None

    @property
    def is_rollup(self) -> bool:
        return isinstance(self.period, RollupPeriod)

    @property
    def file_stem(self) -> str:
        """'BaoCao_TTHC_2025-07' (the area summary), 'BaoCao_TTHC_2025-07_XM-19366' (a unit's own)."""
        return f"BaoCao_TTHC_{self.label}" + (f"_{self.unit.code}" if self.unit else "")

    @property
    def coverage(self) -> str:
        """Whose figures, in captions ('huyện', 'xã'): the issuer's words."""
        return self.issuer.coverage_vi

    @property
    def kind(self) -> str:
        return self.period.frequency if self.is_rollup else "month"

    @property
    def noun(self) -> str:
        return PERIOD_NOUN[self.kind]

    @property
    def label(self) -> str:
        return self.period.label

    @property
    def period_text(self) -> str:
        return self.calendar.describe_vi(self.period)

    @property
    def month_label(self) -> str:
        """'03/2025' for a month; the roll-up's words ('quý I năm 2025') otherwise."""
        if self.is_rollup:
            return self.period.title_vi()
        return f"{self.period.month:02d}/{self.period.year}"

    @property
    def title(self) -> str:
        """'tháng 03/2025', 'quý I năm 2025', '6 tháng đầu năm 2025', 'năm 2025'."""
        return self.period.title_vi() if self.is_rollup else f"tháng {self.month_label}"

    def predecessor_notes(self) -> list[str]:
        """'Số liệu lũy kế của Xã Vĩnh Linh (XM-19363) gồm số liệu của các xã cũ trước 01/07/2025:
        Thị trấn Hồ Xá, Xã Vĩnh Chấp, Xã Vĩnh Long.' for each unit whose figures include old units'."""
        if self.catalogue is None:
            return []
        key = "predecessor_units" if self.is_rollup else "ytd_predecessor_units"
        codes = sorted({u["unit_code"] for u in self.units if (u.get(key) or 0) > 0},
                       key=lambda c: list(self.catalogue.units).index(c) if c in self.catalogue.units else _LAST)
        what = f"Số liệu {self.noun}" if self.is_rollup else "Số liệu lũy kế"
        notes = []
        for code in codes:
            unit = self.catalogue.units.get(code)
            olds = [u for u in self.catalogue.units.values() if u.successor_code == code]
            if unit is None or not olds:
                continue
            notes.append(f"{what} của {unit.name} ({code}) gồm số liệu của các xã cũ trước "
                         f"{unit.valid_from:%d/%m/%Y}: {', '.join(f'{u.name} ({u.code})' for u in olds)}.")
        return notes

    @property
    def below_target(self) -> list[dict]:
        """Unit figures below target; an alias repeats its original's figure, so it is left out."""
        return [u for u in self.units if u["meets_target"] is False and not u["alias_of"]]

    @property
    def verdicts(self) -> Counter:
        """Area indicators by verdict: True met, False not met, None not judged."""
        return Counter(r["meets_target"] for r in self.area)

    @property
    def submission_counts(self) -> Counter:
        """Statuses of the units that had to report, plus 'unexpected' rejected files."""
        return Counter(s["status"] if s["expected"] else "unexpected" for s in self.submissions)


def _rows(conn, name: str, period: Period | RollupPeriod, **params) -> list[dict]:
    if isinstance(period, RollupPeriod):
        params = {"rollup_period": period.label, "first_period": period.first.label,
                  "last_period": period.last.label, "year_start": Period(period.year, 1).label, **params}
        rows = query(conn, f"queries/{name}", **params)
    else:
        rows = query(conn, f"queries/{name}", period=period.label, **params)
    for row in rows:
        for key in _BOOLEANS:
            if key in row:
                row[key] = as_bool(row[key])
    return rows


def _label(row: dict, catalogue: Catalogue) -> dict:
    """Adds the catalogue's wording and order for the row's indicator."""
    indicator = catalogue.indicators.get(row["indicator_code"])
    row["order"] = indicator.display_order if indicator else _LAST
    row["short_name"] = indicator.short_name_vi if indicator else row.get("indicator_name", row["indicator_code"])
    row["name_vi"] = indicator.name_vi if indicator else row["short_name"]
    row["alias_of"] = indicator.alias_of if indicator else None
    # Unit rows exist only where the unit reported; an area row may have no figure behind it.
    row["reported"] = row.get("units_reported", 1) > 0
    return row


def load_trend(conn, year: int, last: Period) -> tuple[dict[str, list[tuple[str, float | None]]], list[str]]:
    """The area's rate per indicator and month from January of `year` to `last` ({code: [(label, pct)]}),
    and the months whose expected units differ from the month before's (the reorganisation)."""
    trend: dict[str, list[tuple[str, float | None]]] = {}
    expected: dict[str, set] = {}
    for r in query(conn, "queries/report_trend", year_start=Period(year, 1).label, last_period=last.label):
        trend.setdefault(r["indicator_code"], []).append((r["period"], r["value_pct"]))
        expected.setdefault(r["period"], set()).add((r["indicator_code"], r["units_expected"]))
    months = sorted(expected)
    changes = [b for a, b in zip(months, months[1:]) if dict(expected[a]) != dict(expected[b])]
    return trend, changes


def headline_codes(data: ReportData) -> list[str]:
    """The plan's headline indicators: those with an end-of-year stretch target in the catalogue for the
    period's year (aliases left out), in the catalogue's order."""
    if data.catalogue is None:
        return [r["indicator_code"] for r in data.area if r["stretch_pct"] is not None and not r["alias_of"]]
    year = data.period.year
    return [i.code for i in data.catalogue.ordered_indicators()
            if not i.alias_of and (t := data.catalogue.target(i.code, year)) is not None and t.stretch_pct is not None]


def unit_ranking(data: ReportData) -> dict[str, list[dict]]:
    """Per headline indicator ({code: rows}), the units with a figure for the period, best first (ties in
    the catalogue's unit order); 0/0 units have no rate to rank and are left out."""
    ranking = {}
    for code in headline_codes(data):
        rows = [u for u in data.units if u["indicator_code"] == code and u["value_pct"] is not None]
        ranking[code] = sorted(rows, key=lambda u: -u["value_pct"])  # stable: data.units is in unit order
    return ranking


def _calendar_of(area: list[dict], settings: Settings) -> ReportingCalendar:
    """The deployment's calendar, under the scheme the marts were computed with where they say."""
    stored = area[0]["period_scheme"] if area else None
    return settings.calendar.with_scheme(stored) if stored else settings.calendar


def load_report_data(conn, period: Period, settings: Settings, catalogue: Catalogue,
                     unit: Unit | None = None) -> ReportData:
    """The area summary of the month, or with `unit` that unit's own report (its figures, its
    submission, its discrepancies; no area trend or ranking), issued by whom the catalogue says."""
    if unit is None:
        area = _rows(conn, "report_area", period)
    else:
        area = _rows(conn, "report_unit_figures", period, unit_code=unit.code, year=period.year)
    area = sorted((_label(r, catalogue) for r in area), key=lambda r: r["order"])
    unit_rank = {code: i for i, code in enumerate(catalogue.units)}  # the catalogue's unit order
    units = sorted((_label(r, catalogue) for r in _rows(conn, "report_units", period)),
                   key=lambda r: (unit_rank.get(r["unit_code"], _LAST), r["order"]))
    discrepancies = [r for r in (_label(r, catalogue) for r in _rows(
        conn, "report_discrepancies", period)) if not r["alias_of"]]
    submissions = _rows(conn, "report_submissions", period)
    if unit is None:
        trend, changes = load_trend(conn, period.year, period)
    else:
        trend, changes = {}, []
        units, submissions, discrepancies = ([r for r in rows if r["unit_code"] == unit.code]
                                             for rows in (units, submissions, discrepancies))
    calendar = _calendar_of(area, settings)
    return ReportData(
        period=period, calendar=calendar,
        # The report is signed once the submission window has closed: that is the year it bears.
        issue_year=calendar.deadline(period).last_day.year,
        area=area, units=units, submissions=submissions,
        discrepancies=discrepancies, trend=trend, unit_changes=changes, catalogue=catalogue,
        issuer=catalogue.issuer(unit.code if unit else "area", calendar.last_day(period)), unit=unit,
    )


def load_rollup_report_data(conn, rollup: RollupPeriod, settings: Settings, catalogue: Catalogue) -> ReportData:
    """The roll-up marts of `rollup`, in the shape the monthly report reads (its month columns hold
    the roll-up's figures), plus the area's monthly trend since January."""
    area = sorted((_label(r, catalogue) for r in _rows(conn, "report_rollup_area", rollup)),
                  key=lambda r: r["order"])
    unit_rank = {code: i for i, code in enumerate(catalogue.units)}
    units = sorted((_label(r, catalogue) for r in _rows(conn, "report_rollup_units", rollup)),
                   key=lambda r: (unit_rank.get(r["unit_code"], _LAST), r["order"]))
    discrepancies = [r for r in (_label(r, catalogue) for r in _rows(
        conn, "report_rollup_discrepancies", rollup)) if not r["alias_of"]]
    trend, changes = load_trend(conn, rollup.year, rollup.last)
    calendar = _calendar_of(area, settings)
    return ReportData(
        period=rollup, calendar=calendar, issue_year=calendar.deadline(rollup).last_day.year,
        area=area, units=units, submissions=_rows(conn, "report_rollup_submissions", rollup),
        discrepancies=discrepancies, trend=trend, unit_changes=changes, catalogue=catalogue,
        issuer=catalogue.issuer("area", calendar.last_day(rollup)),
    )
