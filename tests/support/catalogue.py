"""Catalogues for tests: the production one (include/catalogue) cut down in a declared way, so that a
unit or an indicator added there breaks only the tests about the real catalogue
(tests/warehouse/test_catalogue_contract.py and those comparing the district's own figures).

    write_catalogue(tmp_path / "catalogue", units=SMALL_UNITS, indicators=SMALL_INDICATORS)

Every file is copied; units.csv keeps only `units` (when given) and issuers.csv the area's rows and those
units'; indicators.csv keeps only `indicators` (when given, with the indicator each alias repeats) and
targets.csv their rows. The rows kept are the production rows, unchanged."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Callable, Iterable

from tthc.settings import DEFAULT_CATALOGUE_DIR

# The small catalogue of the `small_catalogue` fixture (tests/conftest.py): a department, a town and a
# commune before the reorganisation of 01/07/2025 and the new commune succeeding both; the indicators
# of each kind: a stock (NQ01-1, latest month), a sum with a stretch target (NQ01-3), one only for
# Phòng Tư pháp (NQ02-2), and an alias (NQ02-5 repeats NQ01-5).
SMALL_UNITS = ("VL-TP", "X-19363", "X-19375", "XM-19363")
SMALL_INDICATORS = ("NQ01-1", "NQ01-3", "NQ01-5", "NQ02-2", "NQ02-5")


def _filter_csv(path: Path, keep: Callable[[dict], bool]) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    kept = [r for r in rows if keep(r)]
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=reader.fieldnames, lineterminator="\n")
        writer.writeheader()
        writer.writerows(kept)
    return kept


def write_catalogue(target: Path, *, units: Iterable[str] | None = None,
                    indicators: Iterable[str] | None = None) -> Path:
    """A copy of the production catalogue in `target` with only the given units and indicators."""
    shutil.copytree(DEFAULT_CATALOGUE_DIR, target)
    if units is not None:
        units = set(units)
        _filter_csv(target / "units.csv", lambda r: r["unit_code"] in units)
        _filter_csv(target / "issuers.csv", lambda r: r["scope"] == "area" or r["scope"] in units)
    if indicators is not None:
        codes = set(indicators)
        kept = _filter_csv(target / "indicators.csv", lambda r: r["code"] in codes)
        if missing := {r["alias_of"] for r in kept if r["alias_of"]} - codes:
            raise ValueError(f"aliases of indicators left out: {sorted(missing)}")
        _filter_csv(target / "targets.csv", lambda r: r["indicator_code"] in codes)
    return target
