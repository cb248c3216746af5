"""Benchmark: one period of the shared drive at province size (BENCH_WORKBOOKS unit workbooks, default
1,000) through the real pipeline, against the floor.

    python bench/bench_shared_drive.py                 # 1,000 workbooks (make bench runs it too)
    BENCH_WORKBOOKS=20 python bench/bench_shared_drive.py

What runs (see bench/README.md):

* setup, not timed: a temporary catalogue (include/catalogue/*.csv plus synthetic communes S-0001...,
  valid from the period's first day) and a share holding one workbook per synthetic unit, the
  template as issued (tthc.sources.shared_drive.template.write_unit_workbook) filled with the sample
  share's figures, sent on the period's last day;
* the pipeline, timed, through the steps `tthc run` takes: ingest_shared_drive (discover, parse,
  stage), validate_period (the submission suite), load_period, aggregate_period (the marts), on the
  embedded SQLite warehouse;
* the floor, timed: every workbook read with openpyxl (read-only, values only), its indicator rows
  inserted with one executemany into a bare SQLite table, and the area's sums by one SQL query. The
  floor's sums are compared with mart_area_kpi_monthly; the run fails if they differ.

The last line:
    bench: source=shared_drive workbooks=N processing_s=X floor_s=X ratio=X peak_mb=X
"""

from __future__ import annotations

import os
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))

from tthc.calendar import ReportingCalendar  # noqa: E402
from tthc.periods import Period  # noqa: E402
from tthc.settings import DEFAULT_CATALOGUE_DIR, Settings  # noqa: E402

WORKBOOKS = int(os.environ.get("BENCH_WORKBOOKS", "1000"))
PERIOD = Period.parse(os.environ.get("BENCH_PERIOD", "2025-09"))
KEEP = os.environ.get("BENCH_KEEP") == "1"
SCHEME = "calendar"
CALENDAR = ReportingCalendar(scheme=SCHEME)
TARGET_RATIO = 3.0


def log(msg: str) -> None:
    print(msg, flush=True)


def unit_codes() -> list[str]:
    return [f"S-{i:04d}" for i in range(1, WORKBOOKS + 1)]


def write_catalogue(target: Path) -> Path:
    shutil.copytree(DEFAULT_CATALOGUE_DIR, target)
    first = CALENDAR.bounds(PERIOD)[0].date().isoformat()
    with (target / "units.csv").open("a", encoding="utf-8") as f:
        for code in unit_codes():
            f.write(f"{code},Xã đo hiệu năng {code},commune,,{first},,\n")
    return target


def write_share(share: Path, settings: Settings) -> None:
    """One workbook per synthetic unit, sent on the period's last day (on time)."""
    from tthc.catalogue import load_catalogue
    from tthc.sources.shared_drive.template import write_unit_workbook
    from tthc_testing.sample_share import unit_figures

    catalogue = load_catalogue(settings)
    sent = (CALENDAR.bounds(PERIOD)[1] + timedelta(hours=10)).timestamp()
    for code in unit_codes():
        unit = catalogue.units[code]
        path = write_unit_workbook(share / PERIOD.label / f"{code}.xlsx", catalogue, unit, PERIOD,
                                   unit_figures(catalogue, unit, PERIOD), calendar=CALENDAR)
        os.utime(path, (sent, sent))


def run_pipeline(settings: Settings) -> dict:
    from tthc.checks.submissions import validate_period
    from tthc.marts import aggregate_period
    from tthc.sources.shared_drive.stage import ingest_shared_drive
    from tthc.warehouse.load import load_period

    seconds = {}
    for name, step in (("ingest", lambda: ingest_shared_drive(settings)),
                       ("validate", lambda: validate_period(settings, PERIOD)),
                       ("load", lambda: load_period(settings, PERIOD)),
                       ("aggregate", lambda: aggregate_period(settings, PERIOD))):
        started = time.perf_counter()
        summary = step()
        seconds[name] = time.perf_counter() - started
        log(f"  {name:<10} {seconds[name]:8.2f} s  {str(summary)[:110]}")
    return seconds


def pipeline_figures(settings: Settings, aliases: set[str]) -> dict:
    """The area's sums in the mart; an alias (NQ02-5 shows NQ01-5 again) is not a figure of its own."""
    from sqlalchemy import text

    from tthc.warehouse import transaction

    with transaction(settings.warehouse_url) as conn:
        return {code: (n, d) for code, n, d in conn.execute(text(
            "SELECT indicator_code, numerator, denominator FROM mart_area_kpi_monthly WHERE period = :p"),
            {"p": PERIOD.label}) if d and code not in aliases}


def floor(share: Path, db: Path, indicator_codes: set[str]) -> tuple[float, dict]:
    """The workbooks' indicator rows read with openpyxl, one executemany, one SUM ... GROUP BY."""
    from openpyxl import load_workbook

    from tthc.sources.shared_drive.template import COLUMN_KEYS

    code_at, num_at, den_at = (COLUMN_KEYS.index(k) for k in ("code", "num", "den"))
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("CREATE TABLE floor_figure (unit_code, indicator_code, numerator, denominator)")

    def rows():
        for path in sorted(share.rglob("*.xlsx")):
            wb = load_workbook(path, read_only=True, data_only=True)
            for values in wb.active.iter_rows(values_only=True):
                if len(values) > den_at and values[code_at] in indicator_codes:
                    yield path.stem, values[code_at], values[num_at], values[den_at]
            wb.close()

    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO floor_figure VALUES (?, ?, ?, ?)", rows())
    conn.execute("COMMIT")
    figures = {code: (n, d) for code, n, d in conn.execute(
        "SELECT indicator_code, SUM(numerator), SUM(denominator) FROM floor_figure GROUP BY indicator_code")
        if d}
    seconds = time.perf_counter() - started
    conn.close()
    return seconds, figures


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="tthc-bench-share-", dir=os.environ.get("BENCH_TMPDIR")))
    try:
        catalogue = write_catalogue(work / "catalogue")
        os.environ.update({"TTHC_DATA_DIR": str(work / "data"), "TTHC_CATALOGUE_DIR": str(catalogue),
                           "TTHC_SHARED_DRIVE": str(work / "share"), "TTHC_PERIOD_SCHEME": SCHEME})
        os.environ.pop("TTHC_WAREHOUSE_URL", None)
        settings = Settings.from_env()
        t = time.perf_counter()
        write_share(settings.shared_drive, settings)
        log(f"bench: shared drive, {WORKBOOKS:,} workbooks for {PERIOD} written in {time.perf_counter() - t:.1f} s "
            f"(setup, not counted), work dir {work}")
        from tthc.catalogue import load_catalogue
        from tthc.checks import validation_definition
        from tthc.warehouse import prepare

        prepare(settings)  # the schema exists before the run (installation, not counted)
        t = time.perf_counter()
        validation_definition("submission_rows")  # GX's import and context: once per process
        log(f"GX import + context {time.perf_counter() - t:.1f} s (once per process, not counted); pipeline:")
        seconds = run_pipeline(settings)
        processing = sum(seconds.values())
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        indicators = load_catalogue(settings).indicators
        expected = pipeline_figures(settings, {c for c, i in indicators.items() if i.alias_of})
        codes = set(indicators)
        floor_s, floor_figures = floor(settings.shared_drive, work / "floor.sqlite", codes)
        same = floor_figures == expected
        log(f"floor: openpyxl read of {WORKBOOKS:,} workbooks -> one executemany -> one SUM query: {floor_s:.2f} s; "
            f"area figures {'identical to' if same else 'DIFFERENT FROM'} the pipeline's ({len(expected)} indicators)")
        if not same or not expected:
            raise SystemExit(f"bench: the floor's figures differ from the pipeline's: {floor_figures} != {expected}")
        ratio = processing / floor_s
        log(f"target: ratio {ratio:.2f} {'<=' if ratio <= TARGET_RATIO else '> (MISSED)'} {TARGET_RATIO:g}")
        log(f"bench: source=shared_drive workbooks={WORKBOOKS} processing_s={processing:.2f} floor_s={floor_s:.2f} "
            f"ratio={ratio:.2f} peak_mb={peak_mb:.0f}")
    finally:
        if KEEP:
            print(f"(kept {work})", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
