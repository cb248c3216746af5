"""`tthc`: the pipeline from the command line, through the same functions as the DAG tasks."""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
from pathlib import Path

from .catalogue import CatalogueError
from .periods import Period, PeriodError
from .sources.portal.fetch import PortalError
from .settings import Settings, SettingsError
from .storage import StorageError
from .textsafety import safe_text
from .warehouse import WarehouseError

BOOL_COLUMNS = {"meets_target", "ytd_meets_target"}
TIME_COLUMNS = {"received_at", "deadline"}  # shown to the minute, local time (stored to the microsecond)


def _period(value: str) -> Period:
    try:
        return Period.parse(value)
    except PeriodError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _normalise(row: dict) -> dict:
    """Same output from SQLite and PostgreSQL: booleans as true/false, numbers as numbers, times to the minute."""
    from .reports.formatting import iso_minute

    out = {}
    for k, v in row.items():
        if k in BOOL_COLUMNS and v is not None:
            v = bool(v)
        elif k in TIME_COLUMNS:
            v = iso_minute(v)
        elif hasattr(v, "is_integer") and not isinstance(v, float):  # Decimal from PostgreSQL
            v = float(v)
        out[k] = v
    return out


def _cell(value) -> object:
    """A value for a spreadsheet or a terminal: text made inert (file names and reasons come from the
    units), numbers left numbers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return safe_text(value) if isinstance(value, str) else value


def _emit(rows: list[dict], fmt: str, columns: list[str]) -> None:
    rows = [_normalise(r) for r in rows]
    if fmt == "json":
        json.dump(rows, sys.stdout, ensure_ascii=False, indent=1, default=str)
        sys.stdout.write("\n")
    elif fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: _cell(v) for k, v in r.items()})
    else:
        cells = [{c: str(_cell(r.get(c))) for c in columns} for r in rows]
        widths = {c: max([len(c)] + [len(r[c]) for r in cells]) for c in columns}
        print("  ".join(c.ljust(widths[c]) for c in columns))
        for r in cells:
            print("  ".join(r[c].ljust(widths[c]) for c in columns))


def _columns(conn, name: str, period: Period) -> tuple[list[dict], list[str]]:
    from sqlalchemy import text

    from .warehouse import read_sql

    (statement,) = read_sql(name, conn.dialect.name)
    result = conn.execute(text(statement), {"period": period.label})
    columns = list(result.keys())
    return [dict(r._mapping) for r in result], columns


def cmd_run(args, settings: Settings) -> int:
    from .orchestration import run_pipeline

    summary = run_pipeline(settings, args.period)
    json.dump(summary, sys.stdout, ensure_ascii=False, indent=1, default=str)
    sys.stdout.write("\n")
    return 0


def cmd_rollup(args, settings: Settings) -> int:
    """A quarter's, half-year's or year's roll-up and its report, from months already run."""
    from .periods import RollupPeriod
    from .orchestration import MonthsNotAggregated, run_rollup

    try:
        summary = run_rollup(settings, RollupPeriod.parse(args.period))
    except MonthsNotAggregated as exc:
        print(f"tthc: {exc} (run `tthc run --period YYYY-MM` for each)", file=sys.stderr)
        return 2
    json.dump(summary, sys.stdout, ensure_ascii=False, indent=1, default=str)
    sys.stdout.write("\n")
    return 0


def _read_mart(settings: Settings, name: str, period: Period):
    from .warehouse import prepare, transaction

    prepare(settings)
    with transaction(settings.warehouse_url) as conn:
        return _columns(conn, name, period)


def cmd_export(args, settings: Settings) -> int:
    rows, columns = _read_mart(settings, f"queries/export_{args.level}", args.period)
    if not rows:
        print(f"tthc: no figures for {args.period} yet (run `tthc run --period {args.period}`)", file=sys.stderr)
    _emit(rows, args.format, columns)
    return 0


def cmd_status(args, settings: Settings) -> int:
    rows, columns = _read_mart(settings, "queries/export_status", args.period)
    if not rows:
        print(f"tthc: no status for {args.period} yet (run `tthc run --period {args.period}`)", file=sys.stderr)
    _emit(rows, args.format, columns)
    return 0


def cmd_template(args, settings: Settings) -> int:
    from .catalogue import Catalogue
    from .sources.shared_drive.template import write_templates

    paths = write_templates(Catalogue.load(settings.catalogue_dir), args.period, Path(args.out),
                            unit_code=args.unit, calendar=settings.calendar)
    for p in paths:
        print(p)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tthc", description="TTHC reform KPI pipeline (settings from TTHC_* variables)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="the whole pipeline for one period")
    p.add_argument("--period", type=_period, required=True, metavar="YYYY-MM")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("rollup", help="a quarter's, half-year's or year's figures and report (months run first)")
    p.add_argument("--period", required=True, metavar="YYYY-Qn|YYYY-Hn|YYYY")
    p.set_defaults(func=cmd_rollup)
    p = sub.add_parser("export", help="mart rows of a period on stdout")
    p.add_argument("--period", type=_period, required=True, metavar="YYYY-MM")
    p.add_argument("--level", choices=("unit", "area"), required=True)
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("status", help="who submitted, late, missing, rejected and why")
    p.add_argument("--period", type=_period, required=True, metavar="YYYY-MM")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("template", help="blank workbooks, one per unit that must report")
    p.add_argument("--period", type=_period, required=True, metavar="YYYY-MM")
    p.add_argument("--unit", metavar="CODE")
    p.add_argument("--out", required=True, metavar="DIR")
    p.set_defaults(func=cmd_template)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
        return args.func(args, settings)
    except (WarehouseError, PortalError, SettingsError, CatalogueError, StorageError, OSError, ValueError) as exc:
        # The environment, not a unit's file: one line naming the cause (with the system's errno text).
        print(f"tthc: {(str(exc).strip() or exc.__class__.__name__).splitlines()[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
