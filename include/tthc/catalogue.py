"""The reference catalogue (units, indicators, targets by year, report issuers by date), read from CSV data files."""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from .calendar import DEFAULT_CALENDAR, ReportingCalendar
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
    # The folder on the share (relative, '/'-separated) where only this unit's files may be: a file
    # there naming another unit is rejected. None: the unit is not bound to a folder.
    share_folder: str | None = None

    def valid_in(self, period: Period, calendar: ReportingCalendar = DEFAULT_CALENDAR) -> bool:
        """Valid on the period's last day: from 2025-07 (15/06–14/07) the five new communes report."""
        last = calendar.last_day(period)
        return self.valid_from <= last and (self.valid_to is None or self.valid_to >= last)


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


@dataclass(frozen=True)
class Issuer:
    """Who issues a report (Decree 30/2020 header, number, place and signature), valid for periods whose
    last day falls in [valid_from, valid_to]. Multi-line fields are written with '|' in issuers.csv."""

    scope: str  # 'area' (the area summary) or a unit code (that unit's own report)
    superior: tuple[str, ...]  # the body above the issuer, if any (regular capitals)
    name: tuple[str, ...]  # the issuing body (bold capitals), e.g. ('ỦY BAN NHÂN DÂN', 'XÃ BẾN QUAN')
    short_name: str  # in sentences: 'UBND xã Bến Quan'
    coverage_vi: str  # whose figures, in captions: 'huyện', 'xã'
    place: str  # 'Bến Quan, ngày … tháng … năm …'
    number_prefix: str  # 'Số:      /BC-UBND'
    signer_title: tuple[str, ...]  # 'TM. ỦY BAN NHÂN DÂN', 'KT. CHỦ TỊCH', 'PHÓ CHỦ TỊCH'
    signer_name: str | None
    recipients: tuple[str, ...]  # 'Nơi nhận', one line each
    valid_from: date
    valid_to: date | None

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


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
    issuers: tuple[Issuer, ...] = ()

    @classmethod
    def load(cls, directory: Path) -> "Catalogue":
        return _load(Path(directory).resolve())

    # --- queries -------------------------------------------------------------
    def units_in(self, period: Period, calendar: ReportingCalendar = DEFAULT_CALENDAR) -> list[Unit]:
        return [u for u in self.units.values() if u.valid_in(period, calendar)]

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

    def folder_owner(self, path: str) -> tuple[Unit, str] | None:
        """The unit whose share_folder holds `path` (a path on the share as recorded), with that folder;
        the deepest folder wins. Compared as a Windows share does: case-insensitive, Unicode-normalised."""
        key = _folder_key(path)
        owners = [u for u in self.units.values()  # recorded paths spell '%' as %25 (discover.path_key)
                  if u.share_folder and key.startswith(_folder_key(u.share_folder.replace("%", "%25")) + "/")]
        if not owners:
            return None
        unit = max(owners, key=lambda u: len(u.share_folder))
        return unit, unit.share_folder

    def issuer(self, scope: str, day: date) -> Issuer:
        """Who issues the `scope` report ('area' or a unit code) of a period whose last day is `day`."""
        for issuer in self.issuers:
            if issuer.scope == scope and issuer.valid_on(day):
                return issuer
        raise CatalogueError(f"issuers.csv: no issuer for {scope!r} on {day:%d/%m/%Y} "
                             f"(add a row for it, with valid_from/valid_to covering that day)")

    def units_with_own_report(self, period: Period, calendar: ReportingCalendar = DEFAULT_CALENDAR) -> list[Unit]:
        """Units that issue their own report for the period (from 2025-07 each new commune's People's
        Committee): those reporting in it with an issuer row of their own valid on its last day."""
        day = calendar.last_day(period)
        return [u for u in self.units_in(period, calendar)
                if any(i.scope == u.code and i.valid_on(day) for i in self.issuers)]

    def canonical_code(self, code: str) -> str:
        ind = self.indicators.get(code)
        return ind.alias_of if ind and ind.alias_of else code


def _folder_key(path: str) -> str:
    return unicodedata.normalize("NFC", path).casefold()


def _share_folder(text: str, code: str) -> str | None:
    """'don_vi\\VL-TP\\' → 'don_vi/VL-TP'; a path leaving the share is a catalogue error."""
    folder = text.replace("\\", "/").strip().strip("/")
    if not folder:
        return None
    if any(part in ("", ".", "..") for part in folder.split("/")):
        raise CatalogueError(f"units.csv: {code}: share_folder {text!r} must be a folder inside the share")
    return folder


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
            share_folder=_share_folder(r.get("share_folder") or "", r["unit_code"]),
        )
    folders: dict[str, str] = {}
    for u in units.values():
        if u.successor_code and u.successor_code not in units:
            raise CatalogueError(f"units.csv: {u.code}: successor {u.successor_code} is not a unit")
        if u.share_folder:
            other = folders.setdefault(_folder_key(u.share_folder), u.code)
            if other != u.code:
                raise CatalogueError(f"units.csv: {u.code} and {other} are bound to the same share_folder")
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
    return Catalogue(units, indicators, targets, directory, _issuers(directory / "issuers.csv", units))


def _lines(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split("|") if part.strip())


def _issuers(path: Path, units: dict[str, Unit]) -> tuple[Issuer, ...]:
    issuers = []
    for line, r in enumerate(_read(path), start=2):
        where = f"issuers.csv line {line} ({r.get('scope') or '?'})"
        missing = [k for k in ("scope", "name", "short_name", "coverage_vi", "place", "number_prefix",
                               "signer_title", "valid_from") if not r.get(k)]
        if missing:
            raise CatalogueError(f"{where}: empty {', '.join(missing)}")
        if r["scope"] != "area" and r["scope"] not in units:
            raise CatalogueError(f"{where}: scope must be 'area' or a unit code of units.csv")
        try:
            valid_from, valid_to = _date(r["valid_from"]), _date(r["valid_to"])
        except ValueError as exc:
            raise CatalogueError(f"{where}: valid_from/valid_to must be YYYY-MM-DD ({exc})") from None
        if valid_to is not None and valid_to < valid_from:
            raise CatalogueError(f"{where}: valid_to {valid_to} is before valid_from {valid_from}")
        issuer = Issuer(
            scope=r["scope"], superior=_lines(r["superior"]), name=_lines(r["name"]), short_name=r["short_name"],
            coverage_vi=r["coverage_vi"], place=r["place"], number_prefix=r["number_prefix"],
            signer_title=_lines(r["signer_title"]), signer_name=r["signer_name"] or None,
            recipients=_lines(r["recipients"]), valid_from=valid_from, valid_to=valid_to)
        if any(o.scope == issuer.scope and (o.valid_on(issuer.valid_from) or issuer.valid_on(o.valid_from))
               for o in issuers):
            raise CatalogueError(f"{where}: its dates overlap another row for {issuer.scope}")
        issuers.append(issuer)
    return tuple(issuers)
