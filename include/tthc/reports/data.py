"""What the monthly report shows, read from the public marts through include/sql/queries/report_*.sql."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..catalogue import Catalogue
from ..periods import Period
from ..settings import Settings
from ..warehouse import query
from .formatting import as_bool

# The spec's threshold for listing a self-report that disagrees with the portal.
DISCREPANCY_POINTS = 5.0
_BOOLEANS = ("meets_target", "ytd_meets_target", "expected")
_LAST = 10**6  # sorts codes the catalogue no longer knows after the known ones


@dataclass(frozen=True)
class ReportData:
    period: Period
    scheme: str
    issue_year: int
    area: list[dict]
    units: list[dict]
    submissions: list[dict]
    discrepancies: list[dict]

    @property
    def period_text(self) -> str:
        return self.period.describe_vi(self.scheme)

    @property
    def month_label(self) -> str:
        return f"{self.period.month:02d}/{self.period.year}"

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


def _rows(conn, name: str, period: Period, **params) -> list[dict]:
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


def load_report_data(conn, period: Period, settings: Settings, catalogue: Catalogue) -> ReportData:
    area = sorted((_label(r, catalogue) for r in _rows(conn, "report_area", period)), key=lambda r: r["order"])
    unit_rank = {code: i for i, code in enumerate(catalogue.units)}  # the catalogue's unit order
    units = sorted((_label(r, catalogue) for r in _rows(conn, "report_units", period)),
                   key=lambda r: (unit_rank.get(r["unit_code"], _LAST), r["order"]))
    discrepancies = [r for r in (_label(r, catalogue) for r in _rows(
        conn, "report_discrepancies", period)) if not r["alias_of"]]
    scheme = area[0]["period_scheme"] if area else settings.period_scheme
    return ReportData(
        period=period, scheme=scheme,
        # The report is signed once the submission window has closed: that is the year it bears.
        issue_year=period.deadline(scheme, settings.deadline_workdays).year,
        area=area, units=units, submissions=_rows(conn, "report_submissions", period),
        discrepancies=discrepancies,
    )
