"""The catalogue (include/catalogue/*.csv) against the code that reads it: what a maintainer adds
there must be enough. Every portal rule has its SQL, every self-reported indicator a demo profile,
every target and precedence row names something that exists; an indicator the portal does not
compute goes from a workbook to the export with nothing but two catalogue rows added; the source
precedence the SQL applies is the catalogue's."""

from __future__ import annotations

import json
import pkgutil
import shutil

import pytest
from sqlalchemy import text

import tthc.sources
from tthc import cli, orchestration
from tthc.catalogue import Catalogue, CatalogueError
from tthc.periods import Period
from tthc.settings import DEFAULT_CATALOGUE_DIR, Settings
from tthc.sources.shared_drive.template import write_unit_workbook
from tthc.warehouse import execute_file, get_engine, migrate, now_local, query, transaction
from tthc.warehouse.load import refresh_reference
from tthc_testing.sample_share import unit_figures

MARCH, AUGUST = Period(2025, 3), Period(2025, 8)  # before and after the reorganisation of 01/07/2025
CATALOGUE = Catalogue.load(DEFAULT_CATALOGUE_DIR)
# An indicator the portal does not compute, as the office would add it: one row in indicators.csv
# (communes and towns report it) and its 2025 target in targets.csv.
NEW_INDICATOR = ("NQ03-1,16,03/KH-UBND,Tỷ lệ hồ sơ được tiếp nhận tại bộ phận một cửa trong ngày,"
                 "Tiếp nhận trong ngày,commune;town,Số hồ sơ tiếp nhận trong ngày,Số hồ sơ tiếp nhận,,sum,,1\n")
NEW_TARGET = "NQ03-1,2025,>=,70,,\n"


def catalogue_copy(tmp_path, **appended: str):
    """A copy of the production catalogue with lines appended to some of its files."""
    directory = tmp_path / "catalogue"
    shutil.copytree(DEFAULT_CATALOGUE_DIR, directory)
    for name, lines in appended.items():
        with (directory / f"{name}.csv").open("a", encoding="utf-8") as f:
            f.write(lines)
    return directory


def warehouse_settings(tmp_path, monkeypatch, catalogue_dir) -> Settings:
    """An empty installation reading the given catalogue, for the steps and the `tthc` CLI alike."""
    monkeypatch.setenv("TTHC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TTHC_SHARED_DRIVE", str(tmp_path / "share"))
    monkeypatch.setenv("TTHC_CATALOGUE_DIR", str(catalogue_dir))
    (tmp_path / "share").mkdir()
    return Settings.from_env()


# --- the contract ---------------------------------------------------------------------------------

def test_every_portal_rule_has_its_sql_rule(tthc_env):
    """A unit with a loaded (empty) portal batch gets a figure for every indicator with a portal_rule:
    models/portal_unit_indicator.sql has a formula for each (none is left `without_formula`)."""
    migrate(tthc_env.warehouse_url)
    with transaction(tthc_env.warehouse_url) as conn:
        execute_file(conn, "loads/portal_batch", period=MARCH.label, unit_code="X-19363", outcome="loaded",
                     reasons=None, records_fetched=0, dossiers=0, procedures=0, archive_path=None,
                     attempted_at=now_local(), loaded_at=now_local())
    summary = orchestration.compute_portal_indicators(tthc_env, MARCH)
    portal_codes = sorted(i.code for i in CATALOGUE.indicators.values() if i.portal_rule and not i.alias_of)
    assert len(portal_codes) >= 9
    assert summary["without_formula"] == []
    assert summary["indicators"] == portal_codes
    get_engine(tthc_env.warehouse_url).dispose()


def test_every_self_reported_indicator_has_a_demo_profile():
    """The sample shared drive (demo, tests) gives every unit a figure for each code it reports."""
    for period in (MARCH, AUGUST):
        for unit in CATALOGUE.units_in(period):
            figures = unit_figures(CATALOGUE, unit, period)
            assert sorted(figures) == sorted(CATALOGUE.reportable_codes(unit)), unit.code
            assert all(0 <= num <= den for num, den in figures.values()), unit.code


def test_every_target_names_an_indicator_of_the_catalogue(tmp_path):
    assert {t.indicator_code for t in CATALOGUE.targets.values()} <= set(CATALOGUE.indicators)
    with pytest.raises(CatalogueError, match="targets.csv: unknown indicator NQ09-9"):
        Catalogue.load(catalogue_copy(tmp_path, targets="NQ09-9,2025,>=,50,,\n"))


def test_every_source_has_its_precedence_and_every_precedence_row_a_source():
    """The sources are the packages under tthc.sources; each has one rank, and the portal (what
    happened) counts over the self-reports."""
    packages = {m.name for m in pkgutil.iter_modules(tthc.sources.__path__) if m.ispkg}
    assert set(CATALOGUE.sources) == packages
    assert [s.code for s in CATALOGUE.sources.values()] == ["portal", "shared_drive"]


@pytest.mark.parametrize("rows, reason", [
    ("portal,1,\nshared_drive,1,\n", "line 3: shared_drive has the rank 1 of portal"),
    ("portal,1,\nportal,2,\n", "line 3: source portal is listed twice"),
    ("portal,first,\n", "line 2: portal: rank must be a whole number from 1, not 'first'"),
    ("", "expected a row per source"),
])
def test_a_bad_precedence_row_is_refused_with_its_line(tmp_path, rows, reason):
    directory = catalogue_copy(tmp_path)
    (directory / "source_precedence.csv").write_text("source,rank,note\n" + rows, encoding="utf-8")
    with pytest.raises(CatalogueError, match=f"source_precedence.csv.*{reason}"):
        Catalogue.load(directory)


# --- the SQL reads the catalogue --------------------------------------------------------------------

def _two_sources(conn, unit: str) -> None:
    for source, num in (("shared_drive", 7), ("portal", 3)):
        conn.execute(text("INSERT INTO core_unit_indicator (period, unit_code, indicator_code, source, numerator, "
                          "denominator) VALUES (:p, :u, 'NQ01-3', :s, :n, 10)"),
                     {"p": MARCH.label, "u": unit, "s": source, "n": num})


def test_the_counting_source_follows_the_catalogues_precedence(tmp_path, monkeypatch):
    """Reversing the ranks in source_precedence.csv makes the self-report count, in the effective
    figures the area marts sum and in the report's unit figures: the rule lives in the data."""
    directory = catalogue_copy(tmp_path)
    (directory / "source_precedence.csv").write_text("source,rank,note\nshared_drive,1,\nportal,2,\n",
                                                     encoding="utf-8")
    settings = warehouse_settings(tmp_path, monkeypatch, directory)
    migrate(settings.warehouse_url)
    counting = "SELECT source FROM core_effective_figure WHERE unit_code = 'X-19363' AND indicator_code = 'NQ01-3'"
    with transaction(settings.warehouse_url) as conn:
        _two_sources(conn, "X-19363")
        assert [r[0] for r in conn.execute(text(counting))] == ["portal"]  # as migrated: the rule until now
        refresh_reference(conn, Catalogue.load(directory), MARCH, settings)
        assert [r[0] for r in conn.execute(text(counting))] == ["shared_drive"]
    orchestration.aggregate_period(settings, MARCH)
    with transaction(settings.warehouse_url) as conn:
        (area,) = conn.execute(text("SELECT numerator, denominator, sources FROM mart_area_kpi_monthly "
                                    "WHERE period = :p AND indicator_code = 'NQ01-3'"), {"p": MARCH.label})
        units = [(r["unit_code"], r["source"]) for r in query(conn, "queries/report_units", period=MARCH.label)]
    assert tuple(area) == (7, 10, "shared_drive")
    assert units == [("X-19363", "shared_drive")]
    get_engine(settings.warehouse_url).dispose()


# --- adding an indicator touches only the catalogue --------------------------------------------------

def test_an_indicator_the_portal_does_not_compute_needs_only_catalogue_rows(tmp_path, monkeypatch, capsys):
    """A temporary catalogue with one more indicator (and its target): the template carries it, a
    workbook filled in with it is accepted, and the marts, the report and `tthc export` show it."""
    directory = catalogue_copy(tmp_path, indicators=NEW_INDICATOR, targets=NEW_TARGET)
    settings = warehouse_settings(tmp_path, monkeypatch, directory)
    catalogue = Catalogue.load(directory)
    new = {"X-19363": (40, 50), "X-19369": (9, 20)}  # 80 % and 45 % against ≥ 70
    for unit_code, figure in new.items():
        unit = catalogue.units[unit_code]
        assert "NQ03-1" in catalogue.reportable_codes(unit)
        figures = dict(unit_figures(CATALOGUE, unit, MARCH), **{"NQ03-1": figure})
        write_unit_workbook(settings.shared_drive / MARCH.label / f"{unit_code}.xlsx", catalogue, unit, MARCH,
                            figures)
    assert "NQ03-1" not in catalogue.reportable_codes(catalogue.units["VL-TP"])  # a department: not its

    summary = orchestration.run_pipeline(settings, MARCH)
    assert summary["validate"]["accepted"] == 2 and summary["validate"]["rejected"] == 0
    assert summary["portal"] == {"period": MARCH.label, "skipped": True}

    assert cli.main(["export", "--period", MARCH.label, "--level", "area", "--format", "json"]) == 0
    area = {r["indicator_code"]: r for r in json.loads(capsys.readouterr().out)}
    row = area["NQ03-1"]
    assert (row["numerator"], row["denominator"], row["target_pct"], row["comparator"]) == (49, 70, 70, ">=")
    assert row["value_pct"] == pytest.approx(70.0) and row["meets_target"] is True
    communes_and_towns = [u for u in catalogue.units_in(MARCH) if u.unit_type in ("commune", "town")]
    assert (row["units_reported"], row["units_expected"]) == (2, len(communes_and_towns))
    assert cli.main(["export", "--period", MARCH.label, "--level", "unit", "--format", "json"]) == 0
    units = {r["unit_code"]: r for r in json.loads(capsys.readouterr().out) if r["indicator_code"] == "NQ03-1"}
    assert units["X-19369"]["meets_target"] is False and units["X-19363"]["meets_target"] is True
    assert units["X-19369"]["file_path"] == f"{MARCH.label}/X-19369.xlsx"

    from openpyxl import load_workbook

    workbook = load_workbook(summary["report"]["xlsx"], read_only=True)
    cells = {c for ws in workbook.worksheets for row in ws.iter_rows(values_only=True) for c in row}
    assert "NQ03-1" in cells
    get_engine(settings.warehouse_url).dispose()
