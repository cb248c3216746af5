"""`tthc`: the pipeline from the command line, through the same functions as the DAG tasks."""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import sys
from pathlib import Path

from .backfill import BackfillError
from .catalogue import CatalogueError
from .periods import Period, PeriodError, RollupPeriod, parse_period
from .redaction import safe_url
from .sources.portal.fetch import PortalError
from .settings import Settings, SettingsError
from .storage import StorageError
from .textsafety import safe_text
from .warehouse import WarehouseError

BOOL_COLUMNS = {"meets_target", "ytd_meets_target", "meets_stretch"}
TIME_COLUMNS = {"received_at", "deadline"}  # shown to the minute, local time (stored to the microsecond)


def _period(value: str) -> Period:
    try:
        return Period.parse(value)
    except PeriodError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _any_period(value: str) -> Period | RollupPeriod:
    """A month (2025-03) or a roll-up period (2025-Q1, 2025-H1, 2025)."""
    try:
        return parse_period(value, None)
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


def _columns(conn, name: str, period: Period | RollupPeriod) -> tuple[list[dict], list[str]]:
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


def _existing_warehouse(settings: Settings) -> None:
    """Reading commands never create a warehouse: a missing one is an error naming where it was looked for."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from .warehouse import get_engine, prepare

    url = settings.warehouse_url
    hint = "run `tthc run --period YYYY-MM` or `make demo` first, or set TTHC_DATA_DIR / TTHC_WAREHOUSE_URL"
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[-1])
        if not path.is_file():
            raise WarehouseError(f"no warehouse at {path} ({hint})")
    try:
        with get_engine(url).connect() as conn:
            migrated = inspect(conn).has_table("schema_version")
    except SQLAlchemyError as exc:  # the server or database is missing: say so, not a traceback
        raise WarehouseError(f"warehouse {safe_url(url)}: {exc.__class__.__name__}: "
                             f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}") from None
    if not migrated:
        raise WarehouseError(f"the database of TTHC_WAREHOUSE_URL holds no warehouse ({hint})")
    prepare(settings)  # a warehouse of an older schema version is brought up to date


def _read_mart(settings: Settings, name: str, period: Period | RollupPeriod):
    from .warehouse import transaction

    _existing_warehouse(settings)
    with transaction(settings.warehouse_url) as conn:
        return _columns(conn, name, period)


def cmd_export(args, settings: Settings) -> int:
    rollup = isinstance(args.period, RollupPeriod)
    rows, columns = _read_mart(settings, f"queries/export_{'rollup_' if rollup else ''}{args.level}", args.period)
    if not rows:
        how = f"tthc rollup --period {args.period}" if rollup else f"tthc run --period {args.period}"
        print(f"tthc: no figures for {args.period} yet (run `{how}`)", file=sys.stderr)
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


def cmd_backfill(args, settings: Settings) -> int:
    """Closed periods re-run by Airflow's scheduler, through the API server's backfill API."""
    from . import backfill

    window = backfill.period_window(args.first, args.last, settings.calendar)
    dag_id = backfill.dag_for(window.frequency, args.dag)
    with backfill.AirflowApi(args.api_url) as api:
        if args.dry_run:
            dates = backfill.plan(api, dag_id, window, args.max_active_runs)
            for label, date in zip(window.labels, dates):
                print(f"{dag_id}  {label}  logical date {date}")
            return 0
        if backfill.is_paused(api, dag_id):
            print(f"tthc: {dag_id} is paused: its backfill runs start once it is unpaused (unpausing also lets "
                  f"the scheduler catch up on later periods: see README, Operate)", file=sys.stderr)
            if args.wait:
                return 2
        created = backfill.create(api, dag_id, window, args.max_active_runs, waiting=lambda earlier: print(
            f"tthc: waiting for Airflow to mark backfill {', '.join(str(b['id']) for b in earlier)} of {dag_id} "
            f"complete: its runs have ended, and the scheduler marks it within 30 s", file=sys.stderr))
        print(f"backfill {created['id']} of {dag_id}: {', '.join(window.labels)} "
              f"({len(window.labels)} run(s), at most {args.max_active_runs} at a time)")
        if not args.wait:
            return 0
        runs = backfill.wait(api, created, window, timeout=args.timeout,
                             progress=lambda states: print(f"  runs: {states}", file=sys.stderr))
    failed = [r for r in runs if r["state"] != "success"]
    for label, run in zip(window.labels, sorted(runs, key=lambda r: r["logical_date"])):
        print(f"{label}  {run['state']}  {run['dag_run_id']}")
    return 1 if failed else 0


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
    p = sub.add_parser("export", help="mart rows of a period (a month or a roll-up) on stdout")
    p.add_argument("--period", type=_any_period, required=True, metavar="YYYY-MM|YYYY-Qn|YYYY-Hn|YYYY")
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
    p = sub.add_parser("backfill", help="re-run closed periods through Airflow's scheduler (its backfill API)")
    p.add_argument("--from", dest="first", required=True, metavar="PERIOD", help="2025-01, 2025-Q1, 2025-H1 or 2025")
    p.add_argument("--to", dest="last", required=True, metavar="PERIOD", help="the last period, included")
    p.add_argument("--dag", metavar="NAME", help="monthly, quarterly, half-year, annual or a DAG id "
                                                 "(default: the DAG of the periods' kind)")
    p.add_argument("--max-active-runs", type=int, default=3, metavar="N")
    p.add_argument("--dry-run", action="store_true", help="show the runs Airflow would create, create none")
    p.add_argument("--wait", action="store_true", help="wait for every run; exit 1 if one failed")
    p.add_argument("--timeout", type=float, default=3600, metavar="SECONDS", help="with --wait")
    p.add_argument("--api-url", metavar="URL", help="the Airflow API server (default: TTHC_AIRFLOW_API_URL "
                                                     "or http://127.0.0.1:8080)")
    p.set_defaults(func=cmd_backfill)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
        return args.func(args, settings)
    except BrokenPipeError:
        # The reader left (`tthc status | head`): not an error. Point stdout at /dev/null so the
        # interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (WarehouseError, PortalError, SettingsError, CatalogueError, StorageError, BackfillError, OSError,
            ValueError) as exc:
        # The environment, not a unit's file: one line naming the cause (with the system's errno text).
        print(f"tthc: {(str(exc).strip() or exc.__class__.__name__).splitlines()[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
