"""Benchmark: one period of portal dossiers through the real pipeline, against the floor.

    make bench                       # 1,000,000 dossiers: 100 units x 10,000
    BENCH_DOSSIERS=100000 make bench # 100 units x 1,000
    BENCH_PROFILE=vnpt-igate make bench  # through the vnpt-igate profile (OAuth2, 300 s tokens)

What runs (see bench/README.md for how to read the output):

* the fake portal (tthc_testing.fake_portal) in a separate process, on loopback HTTP, speaking the
  BENCH_PROFILE portal profile (national-sync, or vnpt-igate: OAuth2 sign-in with tokens of
  BENCH_TOKEN_TTL seconds, nested records, UTC dates, two requests per unit), serving a
  temporary catalogue with BENCH_UNITS synthetic units (B-001...) valid from the period's first
  day, BENCH_DOSSIERS / BENCH_UNITS dossiers each for the (calendar) period; it is warmed first
  (every unit-period requested once), so its generation cost is not the pipeline's;
* the pipeline, once per backend of BENCH_BACKENDS (default sqlite,postgresql), each in its own
  process, through its real functions: tthc.sources.portal.stage.ingest_portal_units, as run_portal
  (per unit: fetch -> personal data dropped -> archive; the dossier_batch suite over groups of
  units; per unit, load whole or not at all), then compute_portal_indicators (one set-based SQL
  model), on the embedded SQLite warehouse or a fresh database on the local PostgreSQL server
  (BENCH_PG_ADMIN_URL), dropped afterwards;
* the floor, after the pipeline: the same records (as archived, personal data removed) written
  as one JSON-lines file, then loaded into a bare table of the same engine and aggregated into
  the same figures by one SQL query, with no pipeline around it.

Every figure printed is measured in this run. One line per backend:
    bench: backend=sqlite|postgresql dossiers=N processing_s=X end_to_end_s=X peak_mb=X floor_s=X ratio=X
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

from tthc.calendar import ReportingCalendar  # noqa: E402
from tthc.periods import Period  # noqa: E402
from tthc.settings import DEFAULT_CATALOGUE_DIR, Settings  # noqa: E402
from tthc.sources.portal import page_records, read_archive  # noqa: E402
from tthc.sources.portal import stage as dossiers  # noqa: E402
from tthc.sources.portal.auth import BearerToken, OAuth2SignIn  # noqa: E402
from tthc.sources.portal.privacy import APPLICANT_KEY, KEPT_FIELDS  # noqa: E402
from tthc.sources.portal.profile import dig, load_profile  # noqa: E402
from tthc_testing import local_postgres  # noqa: E402

DOSSIERS = int(os.environ.get("BENCH_DOSSIERS", "1000000"))
UNITS = int(os.environ.get("BENCH_UNITS", "100"))
PERIOD = Period.parse(os.environ.get("BENCH_PERIOD", "2025-09"))
PROFILE = load_profile(os.environ.get("BENCH_PROFILE", "national-sync"))
TOKEN_TTL = float(os.environ.get("BENCH_TOKEN_TTL", "300"))  # OAuth2 profiles: access token lifetime
KEEP = os.environ.get("BENCH_KEEP") == "1"  # keep the temp dir (warehouse, archives, JSON lines)
SCHEME = "calendar"  # the period is one calendar month: each unit serves exactly its per-unit count
CALENDAR = ReportingCalendar(scheme=SCHEME)

# The floor's columns: the fact_dossier fields as archived (mapped by the profile, dates ISO local).
FLOOR_FIELDS = (*KEPT_FIELDS, APPLICANT_KEY)


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


def start_portal(catalogue: Path, per_unit: int, secret: str) -> tuple[subprocess.Popen, str]:
    # '--token=…': a secret may start with '-', which argparse would read as an option.
    cmd = [sys.executable, "-m", "tthc_testing.fake_portal", "--port", "0", "--profile", PROFILE.name,
           f"--token={secret}", f"--client-secret={secret}", "--token-ttl", str(TOKEN_TTL),
           "--catalogue", str(catalogue), "--per-month", str(per_unit), str(per_unit),
           "--cache-rows", str(max(2 * DOSSIERS, 2_000_000))]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "include"))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()  # "fake portal at http://127.0.0.1:PORT <profile> ... (Ctrl-C to stop)"
    if "http://" not in line:
        proc.kill()
        raise SystemExit(f"bench: the fake portal did not start: {line!r}")
    return proc, line.split(" at ", 1)[1].split()[0]


def portal_env(url: str, secret: str) -> dict:
    """The TTHC_PORTAL_* settings for the fake portal (its default OAuth2 client for vnpt-igate)."""
    if PROFILE.auth == "bearer":
        return {"TTHC_PORTAL_TOKEN": secret}
    from tthc_testing.fake_portal import TOKEN_PATH

    return {"TTHC_PORTAL_TOKEN_URL": url + TOKEN_PATH, "TTHC_PORTAL_CLIENT_ID": "tthc-pipeline",
            "TTHC_PORTAL_CLIENT_SECRET": secret}


def warm_portal(url: str, secret: str) -> int:
    """Request every unit-period once (1 record per request) so the server generates and caches it."""
    env = portal_env(url, secret)
    auth = (BearerToken(secret) if PROFILE.auth == "bearer" else
            OAuth2SignIn(env["TTHC_PORTAL_TOKEN_URL"], env["TTHC_PORTAL_CLIENT_ID"], secret))
    paging, total = PROFILE.paging, 0
    with httpx.Client(base_url=url, auth=auth, timeout=600) as http:
        for code in unit_codes():
            for params in PROFILE.dossiers.params(code, PERIOD, CALENDAR):
                body = http.get(PROFILE.dossiers.path, params={
                    **params, paging.page_param: paging.first_page, paging.size_param: 1}).json()
                total += int(dig(body, paging.total))
            http.get(PROFILE.procedures.path, params=PROFILE.procedures.params(code)[0]).raise_for_status()
    auth.close()
    return total


def server_peak_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# --- the pipeline --------------------------------------------------------------------------------


def run_pipeline(settings: Settings) -> dict:
    stages = defaultdict(float)
    fetched = loaded = 0
    started = time.perf_counter()
    outcomes = dossiers.ingest_portal_units(settings, PERIOD, unit_codes())  # its own client, as run_portal
    t = time.perf_counter()
    figures = dossiers.compute_portal_indicators(settings, PERIOD)
    stages["indicators"] = time.perf_counter() - t
    end_to_end = time.perf_counter() - started
    for code, summary in outcomes.items():
        if not isinstance(summary, dict) or summary["outcome"] != "loaded":
            raise SystemExit(f"bench: unit {code} was not loaded: {summary}")
        fetched += summary["records_fetched"]
        loaded += summary["dossiers"]
        for stage, seconds in summary["seconds"].items():
            stages[stage] += seconds
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
    """The archived pages (mapped fields only) as one JSON-lines file, one dossier a line."""
    n = 0
    with path.open("w", encoding="utf-8") as out:
        for code in unit_codes():
            for page in read_archive(settings.archive_dir / "portal" / PERIOD.label / f"{code}.jsonl.gz"):
                for record in page_records(page):
                    out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
                    n += 1
    return n


def floor_query(param, col) -> str:
    """One aggregate over the raw rows: the counts behind every dossier-based indicator.
    param(name) renders a bound parameter, col(field, as_int) a column of the floor table."""
    s, e = param("s"), param("e")
    received, due, resolved = col("received_at"), col("due_at"), col("resolved_at")
    rec = f"{received} >= {s} AND {received} < {e}"
    res = f"{resolved} >= {s} AND {resolved} < {e}"  # NULL (in process) is never in the period

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
    return {"s": start.isoformat(), "e": end.isoformat()}


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
    """PostgreSQL: COPY of the JSON lines into a one-column jsonb UNLOGGED table, then one SQL query."""
    import psycopg2
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = psycopg2.connect(host=u.host, port=u.port, user=u.username, password=u.password, dbname=u.database)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS floor_dossier")
            cur.execute("CREATE UNLOGGED TABLE floor_dossier (doc jsonb)")
            started = time.perf_counter()
            # CSV with quote and delimiter bytes that JSON text never holds: each line is one value.
            with path.open("rb") as f:
                cur.copy_expert("COPY floor_dossier (doc) FROM STDIN WITH (FORMAT csv, QUOTE E'\\x01', "
                                "DELIMITER E'\\x02')", f, size=1 << 20)

            def col(name, as_int=False):
                return f"(doc->>'{name}')" + ("::int" if as_int else "")

            cur.execute(floor_query(lambda p: f"%({p})s", col), _floor_bounds())
            rows = cur.fetchall()
            names = [d.name for d in cur.description]
            seconds = time.perf_counter() - started
            cur.execute("DROP TABLE floor_dossier")
    finally:
        conn.close()
    return seconds, _as_figures(rows, names)


# --- main ----------------------------------------------------------------------------------------


BACKENDS = [b.strip() for b in os.environ.get("BENCH_BACKENDS", "sqlite,postgresql").split(",") if b.strip()]
# The PostgreSQL server the bench makes its fresh database on (dropped afterwards).
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", local_postgres.LOCAL_ADMIN_URL)
TARGET_RATIO = {"1000000": 2.0, "100000": 3.0}.get(str(DOSSIERS))
TARGET_PEAK_MB = 1024.0


def run_backend(backend: str) -> None:
    """One backend's run, in its own process (its own peak memory, GX imported afresh): the pipeline
    on the warehouse of TTHC_WAREHOUSE_URL, then the floor on the same engine."""
    settings = Settings.from_env()
    work = Path(os.environ["BENCH_WORK"])
    from tthc.checks import validation_definition
    from tthc.warehouse import prepare

    prepare(settings)  # the schema exists before the run (installation, not counted)
    t = time.perf_counter()
    validation_definition("dossier_batch")  # GX's import and context: once per process
    log(f"[{backend}] GX import + context {time.perf_counter() - t:.1f} s (once per process, not counted); "
        f"pipeline running ...")
    result = run_pipeline(settings)
    stages = result["stages"]
    log(f"[{backend}] pipeline: {result['fetched']:,} records fetched, {result['loaded']:,} dossiers loaded, "
        f"{result['figures']} unit figures")
    order = [("fetch", "fetch: HTTP + JSON decode + sign-in in the client (not processing)"),
             ("map", "profile mapping: personal data dropped, salted HMAC key"),
             ("archive", "archive (gzip JSON lines)"),
             ("read", "read back (archive -> columns, dedupe)"),
             ("validate", "GX dossier_batch suite (frame + verdict)"),
             ("load", "load (warehouse transaction)"), ("indicators", "indicators (SQL model)")]
    for key, label in order:
        log(f"  {label:<58} {stages.get(key, 0.0):8.2f} s")
    log(f"  {'processing (everything after fetch)':<58} {result['processing']:8.2f} s")
    log(f"  {'end to end (wall clock)':<58} {result['end_to_end']:8.2f} s")
    log(f"  {'peak memory, pipeline process (ru_maxrss)':<58} {result['peak_mb']:8.0f} MB")

    expected = pipeline_figures(settings)
    jsonl = work / f"dossiers-{backend}.jsonl"
    lines = write_jsonl(settings, jsonl)
    if backend == "postgresql":
        floor_s, floor_figures = floor_postgres(jsonl, settings.warehouse_url)
        how = "COPY of the JSON lines into a jsonb table + one query"
    else:
        floor_s, floor_figures = floor_sqlite(jsonl, work / "floor.sqlite")
        how = "json.loads -> tuples -> one executemany into a bare table + one query"
    jsonl.unlink()
    same = floor_figures == expected
    log(f"[{backend}] floor: {lines:,} dossiers; {how}: {floor_s:.2f} s; figures "
        f"{'identical to' if same else 'DIFFERENT FROM'} the pipeline's")
    if not same:
        raise SystemExit(f"bench: [{backend}] the floor's figures differ from the pipeline's")
    ratio = result["processing"] / floor_s
    targets = [f"peak_mb {result['peak_mb']:.0f} {'<=' if result['peak_mb'] <= TARGET_PEAK_MB else '>'} "
               f"{TARGET_PEAK_MB:g}"]
    if TARGET_RATIO:
        targets.append(f"ratio {ratio:.2f} {'<=' if ratio <= TARGET_RATIO else '> (MISSED)'} {TARGET_RATIO:g}")
    log(f"[{backend}] targets: " + ", ".join(targets))
    log(f"bench: backend={backend} dossiers={result['loaded']} processing_s={result['processing']:.2f} "
        f"end_to_end_s={result['end_to_end']:.2f} peak_mb={result['peak_mb']:.0f} floor_s={floor_s:.2f} "
        f"ratio={ratio:.2f}")


def profiler(backend: str) -> list[str]:
    """BENCH_CPROFILE=DIR: each backend's run under cProfile, its stats in DIR/<backend>.prof."""
    out = os.environ.get("BENCH_CPROFILE")
    return ["-m", "cProfile", "-o", str(Path(out) / f"{backend}.prof")] if out else []


def fresh_pg_database() -> tuple[str, callable]:
    """A new database on the local PostgreSQL server, and how to drop it."""
    name = f"tthc_bench_{secrets.token_hex(5)}"
    return local_postgres.create_database(PG_ADMIN_URL, name), lambda: local_postgres.drop_database(PG_ADMIN_URL, name)


def main() -> None:
    if os.environ.get("BENCH_CHILD"):
        run_backend(os.environ["BENCH_CHILD"])
        return
    if DOSSIERS % UNITS:
        raise SystemExit(f"bench: BENCH_DOSSIERS={DOSSIERS} is not a multiple of BENCH_UNITS={UNITS}")
    unknown = set(BACKENDS) - {"sqlite", "postgresql"}
    if unknown or not BACKENDS:
        raise SystemExit(f"bench: BENCH_BACKENDS={','.join(BACKENDS)!r}: expected sqlite and/or postgresql")
    per_unit = DOSSIERS // UNITS
    work = Path(tempfile.mkdtemp(prefix="tthc-bench-", dir=os.environ.get("BENCH_TMPDIR")))
    secret = secrets.token_urlsafe(16)
    log(f"bench: {DOSSIERS:,} dossiers = {UNITS} units x {per_unit:,}, period {PERIOD} ({SCHEME}), "
        f"profile {PROFILE.name}" + (f" (tokens of {TOKEN_TTL:g} s)" if PROFILE.auth == "oauth2" else "")
        + f", backends {', '.join(BACKENDS)}, work dir {work}")
    server = None
    try:
        catalogue = write_catalogue(work / "catalogue")
        t = time.perf_counter()
        server, url = start_portal(catalogue, per_unit, secret)
        served = warm_portal(url, secret)
        log(f"fake portal: pid {server.pid} at {url}, {served:,} dossiers generated and cached in "
            f"{time.perf_counter() - t:.1f} s (warm-up, not counted)")
        if served != DOSSIERS:
            raise SystemExit(f"bench: the portal serves {served} dossiers, expected {DOSSIERS}")
        for backend in BACKENDS:
            drop = None
            env = dict(os.environ, BENCH_CHILD=backend, BENCH_WORK=str(work),
                       TTHC_DATA_DIR=str(work / backend), TTHC_CATALOGUE_DIR=str(catalogue), TTHC_PORTAL_URL=url,
                       TTHC_PORTAL_PROFILE=PROFILE.name, **portal_env(url, secret), TTHC_PERIOD_SCHEME=SCHEME,
                       TTHC_PII_SALT=secrets.token_hex(16))
            env.pop("TTHC_WAREHOUSE_URL", None)  # SQLite: the embedded warehouse in the data dir
            if backend == "postgresql":
                env["TTHC_WAREHOUSE_URL"], drop = fresh_pg_database()
            try:
                done = subprocess.run([sys.executable, *profiler(backend), __file__], env=env)
            finally:
                if drop:
                    drop()
            if done.returncode:
                raise SystemExit(f"bench: the {backend} run failed (exit {done.returncode})")
        srv_mb = server_peak_mb(server.pid)
        if srv_mb is not None:
            log(f"peak memory, fake portal process (VmHWM, not counted): {srv_mb:.0f} MB")
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
