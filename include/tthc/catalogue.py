"""The reference catalogue (units, indicators, targets by year), read from CSV data files."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from .periods import Period


class CatalogueError(ValueError):
    pass


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    unit_type: str  # department | commune | town
    gso_code: str | None
    valid_from: date
    valid_to: date | None
    successor_code: str | None

    def valid_in(self, period: Period, scheme: str = "decree09") -> bool:
        """Valid on the period's last day: from 2025-07 (15/06–14/07) the five new communes report."""
        last = period.last_day(scheme)
        return self.valid_from <= last and (self.valid_to is None or self.valid_to >= last)

    def existed_during(self, period: Period, scheme: str = "decree09") -> bool:
        """Valid on some day of the period: in 2025-07 the old units too (until 30/06)."""
        first, last = period.bounds(scheme)[0].date(), period.last_day(scheme)
        return self.valid_from <= last and (self.valid_to is None or self.valid_to >= first)


@dataclass(frozen=True)
class Indicator:
    code: str
    display_order: int
    resolution: str
    name_vi: str
    short_name_vi: str
    applies_to: tuple[str, ...]  # 'all', unit types or unit codes
    numerator_vi: str
    denominator_vi: str
    alias_of: str | None  # NQ02-5 is the same figure as NQ01-5
    ytd_method: str  # sum | latest (a stock such as the procedure catalogue)
    portal_rule: str | None
    self_reported: bool  # units write it in their workbooks (False: computed from portal dossiers only)

    def applies(self, unit: Unit) -> bool:
        return "all" in self.applies_to or unit.unit_type in self.applies_to or unit.code in self.applies_to


@dataclass(frozen=True)
class Target:
    indicator_code: str
    year: int
    comparator: str  # '>=' or '='
    target_pct: float
    stretch_pct: float | None
    note: str


def _date(s: str) -> date | None:
    return date.fromisoformat(s) if s else None


def _read(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        raise CatalogueError(f"catalogue file missing: {path}")
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(f)]


@dataclass(frozen=True)
class Catalogue:
    units: dict[str, Unit]
    indicators: dict[str, Indicator]
    targets: dict[tuple[str, int], Target]
    directory: Path

    @classmethod
    def load(cls, directory: Path) -> "Catalogue":
        return _load(Path(directory).resolve())

    # --- queries -------------------------------------------------------------
    def units_in(self, period: Period, scheme: str = "decree09") -> list[Unit]:
        return [u for u in self.units.values() if u.valid_in(period, scheme)]

    def units_during(self, period: Period, scheme: str = "decree09") -> list[Unit]:
        """Every unit that existed on some day of the period (whose dossiers the period may hold)."""
        return [u for u in self.units.values() if u.existed_during(period, scheme)]

    def applicable(self, unit: Unit) -> list[Indicator]:
        return [i for i in self.ordered_indicators() if i.applies(unit)]

    def ordered_indicators(self) -> list[Indicator]:
        return sorted(self.indicators.values(), key=lambda i: i.display_order)

    def reportable_codes(self, unit: Unit) -> list[str]:
        """Codes a unit writes in its workbook: aliases are written under their original code."""
        return [i.code for i in self.applicable(unit) if i.self_reported and not i.alias_of]

    def self_reportable(self, unit: Unit) -> list[str]:
        """Codes a workbook may carry for the unit (its reportable codes and their aliases)."""
        return [i.code for i in self.applicable(unit) if i.self_reported]

    def target(self, code: str, year: int) -> Target | None:
        return self.targets.get((code, year))

    def canonical_code(self, code: str) -> str:
        ind = self.indicators.get(code)
        return ind.alias_of if ind and ind.alias_of else code


def load_catalogue(settings) -> Catalogue:
    """The catalogue the settings name (TTHC_CATALOGUE_DIR)."""
    return Catalogue.load(settings.catalogue_dir)


@lru_cache(maxsize=8)
def _load(directory: Path) -> Catalogue:
    units = {}
    for r in _read(directory / "units.csv"):
        if r["unit_type"] not in ("department", "commune", "town"):
            raise CatalogueError(f"units.csv: {r['unit_code']}: unknown unit_type {r['unit_type']!r}")
        units[r["unit_code"]] = Unit(
            code=r["unit_code"], name=r["name"], unit_type=r["unit_type"], gso_code=r["gso_code"] or None,
            valid_from=_date(r["valid_from"]), valid_to=_date(r["valid_to"]),
            successor_code=r["successor_code"] or None,
        )
    for u in units.values():
        if u.successor_code and u.successor_code not in units:
            raise CatalogueError(f"units.csv: {u.code}: successor {u.successor_code} is not a unit")
    indicators = {}
    for r in _read(directory / "indicators.csv"):
        indicators[r["code"]] = Indicator(
            code=r["code"], display_order=int(r["display_order"]), resolution=r["resolution"],
            name_vi=r["name_vi"], short_name_vi=r["short_name_vi"],
            applies_to=tuple(t.strip() for t in r["applies_to"].split(";") if t.strip()),
            numerator_vi=r["numerator_vi"], denominator_vi=r["denominator_vi"],
            alias_of=r["alias_of"] or None, ytd_method=r["ytd_method"] or "sum",
            portal_rule=r["portal_rule"] or None,
            self_reported=r["self_reported"] == "1",
        )
    targets = {}
    for r in _read(directory / "targets.csv"):
        if r["indicator_code"] not in indicators:
            raise CatalogueError(f"targets.csv: unknown indicator {r['indicator_code']}")
        if r["comparator"] not in (">=", "="):
            raise CatalogueError(f"targets.csv: {r['indicator_code']}: comparator must be >= or =")
        t = Target(r["indicator_code"], int(r["year"]), r["comparator"], float(r["target_pct"]),
                   float(r["stretch_pct"]) if r["stretch_pct"] else None, r["note"])
        targets[(t.indicator_code, t.year)] = t
    return Catalogue(units, indicators, targets, directory)
