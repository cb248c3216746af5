"""Benchmark: one period of portal dossiers through the real pipeline, against the floor.

    make bench                       # 1,000,000 dossiers: 100 units x 10,000
    BENCH_DOSSIERS=100000 make bench # 100 units x 1,000

What runs (see bench/README.md for how to read the output):

* the fake portal (tthc_testing.fake_portal) in a separate process, on loopback HTTP, serving a
  temporary catalogue with BENCH_UNITS synthetic units (B-001...) valid from the period's first
  day, BENCH_DOSSIERS / BENCH_UNITS dossiers each for the (calendar) period; it is warmed first
  (every unit-period requested once), so its generation cost is not the pipeline's;
* the pipeline, in this process, through its real functions: tthc.sources.portal.stage.ingest_portal_unit
  per unit (fetch -> personal data dropped -> archive -> dossier_batch suite -> load, whole or not
  at all), then compute_portal_indicators (one set-based SQL model), on the embedded SQLite
  warehouse (BENCH_WAREHOUSE_URL: another SQLAlchemy URL, e.g. PostgreSQL);
* the floor, after the pipeline: the same records (as archived, personal data removed) written
  as one JSON-lines file, then loaded into a bare table of the same engine and aggregated into
  the same figures by one SQL query, with no pipeline around it.

Every figure printed is measured in this run. The last line:
    bench: dossiers=N processing_s=X end_to_end_s=X peak_mb=X floor_s=X ratio=X
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))

from tthc import dossiers  # noqa: E402
from tthc.calendar import ReportingCalendar  # noqa: E402
from tthc.periods import Period  # noqa: E402
from tthc.sources.portal import client as portal_client  # noqa: E402
from tthc.settings import DEFAULT_CATALOGUE_DIR, Settings  # noqa: E402

DOSSIERS = int(os.environ.get("BENCH_DOSSIERS", "1000000"))
UNITS = int(os.environ.get("BENCH_UNITS", "100"))
PERIOD = Period.parse(os.environ.get("BENCH_PERIOD", "2025-09"))
WAREHOUSE_URL = os.environ.get("BENCH_WAREHOUSE_URL")  # default: SQLite in the run's temp dir
KEEP = os.environ.get("BENCH_KEEP") == "1"  # keep the temp dir (warehouse, archives, JSON lines)
SCHEME = "calendar"  # the period is one calendar month: each unit serves exactly its per-unit count
CALENDAR = ReportingCalendar(scheme=SCHEME)
TARGETS = {"processing_s": 30.0, "end_to_end_s": 90.0, "peak_mb": 2048.0, "ratio": 5.0}

# Portal field -> floor column (the fact_dossier columns, raw portal values, no conversion).
FLOOR_FIELDS = ("MaHoSo", "MaTTHC", "MaLinhVuc", "DonViXuLy", "KenhThucHien", "TrangThaiHoSo",
                "NgayTiepNhan", "NgayHenTra", "NgayKetThucXuLy", *dossiers.FLAGS, "DanhGia", "ChuHoSoKey")


def log(msg: str) -> None:
    print(msg, flush=True)


# --- setup ---------------------------------------------------------------------------------------


def unit_codes() -> list[str]:
    return [f"B-{i:03d}" for i in range(1, UNITS + 1)]


def write_catalogue(target: Path) -> Path:
    """The project's catalogue plus the synthetic units, valid from the period's first day."""
    shutil.copytree(DEFAULT_CATALOGUE_DIR, target)
    first = CALENDAR.bounds(PERIOD)[0].date().isoformat()
    with (target / "units.csv").open("a", encoding="utf-8") as f:
        for code in unit_codes():
            f.write(f"{code},Đơn vị đo hiệu năng {code},commune,,{first},,\n")
    return target


def start_portal(catalogue: Path, per_unit: int, token: str) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "tthc_testing.fake_portal", "--port", "0", "--token", token,
           "--catalogue", str(catalogue), "--per-month", str(per_unit), str(per_unit),
           "--cache-rows", str(max(2 * DOSSIERS, 2_000_000))]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "include"))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()  # "fake portal at http://127.0.0.1:PORT (Ctrl-C to stop)"
    if "http://" not in line:
        proc.kill()
        raise SystemExit(f"bench: the fake portal did not start: {line!r}")
    return proc, line.split(" at ", 1)[1].split()[0]


def warm_portal(url: str, token: str) -> int:
    """Request every unit-period once (1 record) so the server generates and caches it."""
    start, _ = CALENDAR.bounds(PERIOD)
    total = 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=600) as http:
        for code in unit_codes():
            body = http.get(portal_client.HOSO_PATH, params={
                "maDonVi": code, "tuNgay": f"{start:%Y%m%d}", "denNgay": f"{CALENDAR.last_day(PERIOD):%Y%m%d}",
                "trang": 1, "soBanGhi": 1}).json()
            total += int(body["tongSoBanGhi"])
            http.get(portal_client.TTHC_PATH, params={"maDonVi": code}).raise_for_status()
    return total


def server_peak_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


class StripTimer:
    """Times tthc.sources.portal.privacy.strip_personal as the client calls it (personal-data removal is
    done inside the client's page loop; this splits it out of the fetch time). The two clock reads
    per record are charged to the removal, i.e. against the pipeline."""

    def __init__(self):
        self.seconds = 0.0
        self._original = portal_client.strip_personal

    def __enter__(self):
        original, clock = self._original, time.perf_counter

        def timed(record, salt):
            t = clock()
            out = original(record, salt)
            self.seconds += clock() - t
            return out

        portal_client.strip_personal = timed
        return self

    def __exit__(self, *exc):
        portal_client.strip_personal = self._original


# --- the pipeline --------------------------------------------------------------------------------


def run_pipeline(settings: Settings) -> dict:
    stages = defaultdict(float)
    fetched = loaded = 0
    started = time.perf_counter()
    with StripTimer() as strip:
        for code in unit_codes():
            summary = dossiers.ingest_portal_unit(settings, PERIOD, code)  # its own client, as in run_portal
            if summary["outcome"] != "loaded":
                raise SystemExit(f"bench: unit {code} was not loaded: {summary}")
            fetched += summary["records_fetched"]
            loaded += summary["dossiers"]
            for stage, seconds in summary["seconds"].items():
                stages[stage] += seconds
    t = time.perf_counter()
    figures = dossiers.compute_portal_indicators(settings, PERIOD)
    stages["indicators"] = time.perf_counter() - t
    end_to_end = time.perf_counter() - started
    stages["strip"] = strip.seconds
    stages["fetch"] -= strip.seconds  # the client's page loop, without the removal
    if figures["units"] != UNITS:
        raise SystemExit(f"bench: expected figures for {UNITS} units, got {figures}")
    processing = sum(v for k, v in stages.items() if k != "fetch")
    return {"stages": dict(stages), "end_to_end": end_to_end, "processing": processing,
            "fetched": fetched, "loaded": loaded, "figures": figures["figures"],
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def pipeline_figures(settings: Settings) -> dict:
    from sqlalchemy import text

    from tthc.warehouse import transaction

    with transaction(settings.warehouse_url) as conn:
        return {(u, i): (n, d) for u, i, n, d in conn.execute(text(
            "SELECT unit_code, indicator_code, numerator, denominator FROM core_unit_indicator "
            "WHERE period = :p AND source = 'portal' AND indicator_code <> 'NQ01-1'"), {"p": PERIOD.label})}


# --- the floor -----------------------------------------------------------------------------------


def write_jsonl(settings: Settings, path: Path) -> int:
    """The archived pages (personal data already removed) as one JSON-lines file, one dossier a line."""
    n = 0
    with path.open("w", encoding="utf-8") as out:
        for code in unit_codes():
            with gzip.open(settings.archive_dir / "portal" / PERIOD.label / f"{code}.jsonl.gz", "rt",
                           encoding="utf-8") as f:
                for line in f:
                    for record in json.loads(line):
                        out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
                        n += 1
    return n


def floor_query(param, col) -> str:
    """One aggregate over the raw rows: the counts behind every dossier-based indicator.
    param(name) renders a bound parameter, col(field, as_int) a column of the floor table."""
    s, e = param("s"), param("e")
    received, due, resolved = col("NgayTiepNhan"), col("NgayHenTra"), col("NgayKetThucXuLy")
    rec = f"{received} >= {s} AND {received} < {e}"
    res = f"{resolved} >= {s} AND {resolved} < {e}"  # '' (in process) sorts before any date

    def flag(name: str) -> str:
        return f"{col(name, True)} = 1"

    counts = {
        "received_fee": f"{rec} AND {flag('PhaiThanhToan')}",
        "fee_online": f"{rec} AND {flag('PhaiThanhToan')} AND {flag('DuocThanhToanTrucTuyen')}",
        "received": rec,
        "received_online": f"{rec} AND {col('KenhThucHien', True)} = 2",
        "received_reuse": f"{rec} AND {flag('CoTaiSuDungDuLieu')}",
        "resolved": res,
        "digitised": f"{res} AND {flag('HoSoCoThanhPhanSoHoa')} AND {flag('KetQuaDuocSoHoa')}",
        "synced": f"{res} AND {flag('DaDongBoDVCQG')}",
        "electronic": f"{res} AND {flag('CoKetQuaDienTu')}",
        "on_time": f"{res} AND {resolved} <= {due}",
        "ratings": f"{res} AND {col('DanhGia')} IS NOT NULL",
        "satisfied": f"{res} AND {col('DanhGia')} IN ('RAT_HAI_LONG', 'HAI_LONG')",
    }
    sums = ", ".join(f"SUM(CASE WHEN {cond} THEN 1 ELSE 0 END) AS {name}" for name, cond in counts.items())
    unit = col("DonViXuLy")
    return f"SELECT {unit} AS unit_code, {sums} FROM floor_dossier GROUP BY {unit}"


# indicator -> (numerator column, denominator column) of the floor query
FLOOR_INDICATORS = {"NQ01-2": ("fee_online", "received_fee"), "NQ01-3": ("received_online", "received"),
                    "NQ02-3": ("received_reuse", "received"), "NQ01-4": ("digitised", "resolved"),
                    "NQ01-5": ("synced", "resolved"), "NQ02-1": ("electronic", "resolved"),
                    "NQ02-7": ("satisfied", "ratings"), "TDGQ-1": ("on_time", "resolved")}


def _floor_bounds() -> dict:
    start, end = CALENDAR.bounds(PERIOD)
    return {"s": f"{start:%Y%m%d%H%M%S}", "e": f"{end:%Y%m%d%H%M%S}"}


def _as_figures(rows, names) -> dict:
    out = {}
    for row in rows:
        r = dict(zip(names, row))
        for code, (num, den) in FLOOR_INDICATORS.items():
            out[(r["unit_code"], code)] = (r[num], r[den])
    return out


def floor_sqlite(path: Path, db: Path) -> tuple[float, dict]:
    """SQLite has no JSON-lines loader: the file is read and decoded to tuples in Python (the
    least a load can do) and inserted with one executemany into a bare table (no key, no index),
    with the warehouse's pragmas; then one SQL query."""
    import sqlite3

    db.unlink(missing_ok=True)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(f"CREATE TABLE floor_dossier ({', '.join(FLOOR_FIELDS)})")
    loads, fields = json.loads, FLOOR_FIELDS
    started = time.perf_counter()
    conn.execute("BEGIN")
    with path.open("r", encoding="utf-8") as f:
        conn.executemany(f"INSERT INTO floor_dossier VALUES ({', '.join('?' * len(FLOOR_FIELDS))})",
                         (tuple(map(loads(line).get, fields)) for line in f))
    conn.execute("COMMIT")
    cur = conn.execute(floor_query(lambda p: f":{p}", lambda c, _as_int=False: c), _floor_bounds())
    rows = cur.fetchall()
    seconds = time.perf_counter() - started
    names = [d[0] for d in cur.description]
    conn.close()
    return seconds, _as_figures(rows, names)


def floor_postgres(path: Path, url: str) -> tuple[float, dict]:
    """PostgreSQL: COPY of the JSON lines into a one-column jsonb table, then one SQL query."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    dsn = u.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS floor_dossier")
        conn.execute("CREATE UNLOGGED TABLE floor_dossier (doc jsonb)")
        started = time.perf_counter()
        with conn.cursor() as cur:
            # CSV with quote and delimiter bytes that JSON text never holds: each line is one value.
            with cur.copy("COPY floor_dossier (doc) FROM STDIN WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')") as copy:
                with path.open("rb") as f:
                    while block := f.read(1 << 20):
                        copy.write(block)

            def col(name, as_int=False):
                return f"(doc->>'{name}')" + ("::int" if as_int else "")

            cur.execute(floor_query(lambda p: f"%({p})s", col), _floor_bounds())
            rows = cur.fetchall()
            names = [d.name for d in cur.description]
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE floor_dossier")
    return seconds, _as_figures(rows, names)


# --- main ----------------------------------------------------------------------------------------


def main() -> None:
    if DOSSIERS % UNITS:
        raise SystemExit(f"bench: BENCH_DOSSIERS={DOSSIERS} is not a multiple of BENCH_UNITS={UNITS}")
    per_unit = DOSSIERS // UNITS
    work = Path(tempfile.mkdtemp(prefix="tthc-bench-", dir=os.environ.get("BENCH_TMPDIR")))
    token = secrets.token_urlsafe(16)
    log(f"bench: {DOSSIERS:,} dossiers = {UNITS} units x {per_unit:,}, period {PERIOD} ({SCHEME}), "
        f"work dir {work}")
    server = None
    try:
        catalogue = write_catalogue(work / "catalogue")
        t = time.perf_counter()
        server, url = start_portal(catalogue, per_unit, token)
        served = warm_portal(url, token)
        log(f"fake portal: pid {server.pid} at {url}, {served:,} dossiers generated and cached in "
            f"{time.perf_counter() - t:.1f} s (warm-up, not counted)")
        if served != DOSSIERS:
            raise SystemExit(f"bench: the portal serves {served} dossiers, expected {DOSSIERS}")
        env = {"TTHC_DATA_DIR": str(work / "data"), "TTHC_CATALOGUE_DIR": str(catalogue),
               "TTHC_PORTAL_URL": url, "TTHC_PORTAL_TOKEN": token, "TTHC_PERIOD_SCHEME": SCHEME,
               "TTHC_PII_SALT": secrets.token_hex(16)}
        if WAREHOUSE_URL:
            env["TTHC_WAREHOUSE_URL"] = WAREHOUSE_URL
        os.environ.update(env)  # the client reads the salt from the environment, as in production
        settings = Settings.from_env()
        from tthc.warehouse import prepare

        prepare(settings)  # the schema exists before the run (installation, not counted)
        engine_name = settings.warehouse_url.split(":", 1)[0]
        log(f"warehouse: {engine_name}; pipeline running ...")

        result = run_pipeline(settings)
        srv_mb = server_peak_mb(server.pid)
        server.terminate()
        server.wait(timeout=30)
        server = None

        stages = result["stages"]
        log("")
        log(f"pipeline: {result['fetched']:,} records fetched, {result['loaded']:,} dossiers loaded, "
            f"{result['figures']} unit figures")
        order = [("fetch", "fetch: HTTP + JSON decode in the client (not processing)"),
                 ("strip", "personal-data removal (salted HMAC key)"), ("archive", "archive (gzip JSON lines)"),
                 ("frame", "batch frame (dedupe, dates)"), ("validate", "GX dossier_batch suite"),
                 ("load", "load (warehouse transaction)"), ("indicators", "indicators (SQL model)")]
        for key, label in order:
            log(f"  {label:<58} {stages.get(key, 0.0):8.2f} s")
        log(f"  {'processing (everything after fetch)':<58} {result['processing']:8.2f} s")
        log(f"  {'end to end (wall clock)':<58} {result['end_to_end']:8.2f} s")
        log(f"  {'peak memory, pipeline process (ru_maxrss)':<58} {result['peak_mb']:8.0f} MB")
        if srv_mb is not None:
            log(f"  {'peak memory, fake portal process (VmHWM, not counted)':<58} {srv_mb:8.0f} MB")

        expected = pipeline_figures(settings)
        jsonl = work / "dossiers.jsonl"
        lines = write_jsonl(settings, jsonl)
        if WAREHOUSE_URL and WAREHOUSE_URL.startswith("postgresql"):
            floor_s, floor_figures = floor_postgres(jsonl, WAREHOUSE_URL)
            how = "COPY of the JSON lines into a jsonb table + one query"
        else:
            floor_s, floor_figures = floor_sqlite(jsonl, work / "floor.sqlite")
            how = "json.loads -> tuples -> one executemany into a bare table + one query"
        same = floor_figures == expected
        log(f"floor: {lines:,} dossiers, {jsonl.stat().st_size / 1e6:.0f} MB of JSON lines; {how}: "
            f"{floor_s:.2f} s; figures {'identical to' if same else 'DIFFERENT FROM'} the pipeline's")
        if not same:
            raise SystemExit("bench: the floor's figures differ from the pipeline's")

        figures = {"processing_s": result["processing"], "end_to_end_s": result["end_to_end"],
                   "peak_mb": result["peak_mb"], "ratio": result["processing"] / floor_s}
        log("targets: " + ", ".join(
            f"{k} {v:.2f} {'<=' if v <= TARGETS[k] else '>'} {TARGETS[k]:g} "
            f"{'met' if v <= TARGETS[k] else 'MISSED'}" for k, v in figures.items()))
        log(f"bench: dossiers={result['loaded']} processing_s={result['processing']:.2f} "
            f"end_to_end_s={result['end_to_end']:.2f} peak_mb={result['peak_mb']:.0f} floor_s={floor_s:.2f} "
            f"ratio={figures['ratio']:.2f}")
    finally:
        if server is not None:
            server.kill()
            server.wait()
        if KEEP:
            print(f"(kept {work})", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
