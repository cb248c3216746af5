"""The portal source in the warehouse (spec "Source 2"): dossier facts, portal figures, reconciliation.

fetch_portal_unit (one mapped task per unit: fetch, archive, stage) → load_portal_units (one task: the
period's staged batches through the suite together, each unit loaded or quarantined alone) →
compute_portal_indicators → reconcile, each returning a small JSON-serialisable summary like every
step of the pipeline; ingest_portal_units is the first two in one process (`tthc run`).

Facts are keyed by the *fetch* period: the portal returns a dossier to every period in which it was
received or resolved, and each period counts only the rows of its own fetch (received ones for the
received-based indicators, resolved ones for the others), so a dossier received in March and
resolved in April counts once in each role. Within a fetch, a MaHoSo seen twice is kept once (its
last occurrence, i.e. the latest page).
"""

from __future__ import annotations

import gc
import io
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import NoneType

import orjson

from ... import warehouse
from ...catalogue import load_catalogue
from ...checks.dossiers import validate_batches
from ...periods import Period
from ...settings import STATUS_CODES, Settings
from ...storage import write_atomic
from ...warehouse import connection, execute_file, execute_many, now_local, query, transaction
from ...warehouse.load import refresh_reference
from .fetch import PortalClient, archive_pages, portal_from_settings, read_archive
from .privacy import APPLICANT_KEY, KEPT_FIELDS, PERSONAL_FIELDS, salt_from_env

log = logging.getLogger(__name__)

# The pipeline's dossier field (a profile's mapping target) → fact_dossier column.
FACT_COLUMNS = {
    "MaHoSo": "ma_ho_so", "MaTTHC": "ma_tthc", "MaLinhVuc": "ma_linh_vuc",
    "KenhThucHien": "kenh_thuc_hien", "TrangThaiHoSo": "trang_thai_ho_so",
    "received_at": "ngay_tiep_nhan", "due_at": "ngay_hen_tra", "resolved_at": "ngay_ket_thuc_xu_ly",
    "PhaiThanhToan": "phai_thanh_toan", "DuocThanhToanTrucTuyen": "duoc_thanh_toan_truc_tuyen",
    "HoSoCoThanhPhanSoHoa": "ho_so_co_thanh_phan_so_hoa", "KetQuaDuocSoHoa": "ket_qua_duoc_so_hoa",
    "CoKetQuaDienTu": "co_ket_qua_dien_tu", "DaDongBoDVCQG": "da_dong_bo_dvcqg",
    "CoTaiSuDungDuLieu": "co_tai_su_dung_du_lieu", "DanhGia": "danh_gia", APPLICANT_KEY: "chu_ho_so_key",
}
# A batch's columns (the suite's frame). The personal fields are there too (empty, as the client keeps only
# KEPT_FIELDS) so that the suite, not trust, shows they are absent.
PAGE_FIELDS = (*KEPT_FIELDS, APPLICANT_KEY, *PERSONAL_FIELDS)
# Dossiers checked by one run of the suite. GX costs about the same per run whatever the rows, but the
# group's columns and the suite's frame of them are alive together: the bench's pipeline peaks at
# ≈ 400 MB with 100,000 (bench/README.md).
GROUP_ROWS = 100_000


class PortalBatchQuarantined(Exception):
    """A unit-period's dossiers failed the dossier_batch suite: recorded, nothing loaded."""

    def __init__(self, unit_code: str, period: Period, reasons: list[str]):
        self.reasons = reasons
        super().__init__(f"hồ sơ của đơn vị {unit_code} kỳ {period} bị cách ly (không nạp): " + "; ".join(reasons))


# --- ingest ------------------------------------------------------------------------------------


def ingest_portal_unit(settings: Settings, period: Period, unit_code: str,
                       client: PortalClient | None = None) -> dict:
    """Fetch, archive, validate and load one unit-period from the portal, whole or not at all.

    A PortalError half-way leaves neither dossiers nor an archive. A batch failing the suite is
    recorded in portal_batch as quarantined (the facts of the last loaded batch stay) and raises
    PortalBatchQuarantined.
    """
    outcome = ingest_portal_units(settings, period, [unit_code], client)[unit_code]
    if isinstance(outcome, PortalBatchQuarantined):
        raise outcome
    return outcome


def ingest_portal_units(settings: Settings, period: Period, unit_codes: Iterable[str],
                        client: PortalClient | None = None) -> dict[str, dict | PortalBatchQuarantined]:
    """fetch_portal_unit for each unit, then load_portal_units: what the DAG's mapped fetches and its
    one load task do, in one process (`tthc run`). A quarantined unit (its PortalBatchQuarantined in
    the result) does not stop the others. A PortalError raises at once and the units fetched so far
    are not loaded: no archive is left without its facts."""
    unit_codes = list(unit_codes)
    _check_units(settings, unit_codes)
    own_client = client is None
    if own_client:
        if not settings.portal_url:  # no portal: skipped without asking for the applicants' salt
            log.info("portal: not configured (TTHC_PORTAL_URL); period %s skipped", period)
            return {u: _skipped(period, u) for u in unit_codes}
        client = portal_from_settings(settings, salt=salt_from_env())
    try:
        warehouse.prepare(settings)  # the schema, before the portal is asked anything
        for unit_code in unit_codes:
            fetch_portal_unit(settings, period, unit_code, client)
        return load_portal_units(settings, period, unit_codes)
    finally:
        if own_client:
            client.close()
        for unit_code in unit_codes:  # fetched but not loaded (an error): no archive without its facts
            _StagedFiles.of(settings, period, unit_code).discard()


def fetch_portal_unit(settings: Settings, period: Period, unit_code: str, client: PortalClient | None = None) -> dict:
    """Fetch one unit-period (procedures, every page) and archive it, staged for load_portal_units:
    the pages as the pending archive, the procedures beside it. A PortalError half-way stages nothing
    (and discards what an earlier attempt staged)."""
    _check_units(settings, [unit_code])
    if client is None:
        if not settings.portal_url:
            log.info("portal: not configured (TTHC_PORTAL_URL); unit %s period %s skipped", unit_code, period)
            return _skipped(period, unit_code)
        with portal_from_settings(settings, salt=salt_from_env()) as own:
            return fetch_portal_unit(settings, period, unit_code, own)
    files = _StagedFiles.of(settings, period, unit_code)
    files.discard()
    seconds = dict.fromkeys(("fetch", "map", "archive"), 0.0)
    try:
        with _without_cyclic_gc():
            started = time.perf_counter()
            mapped = client.mapping_seconds
            deadline = client.deadline()  # one budget for the unit's whole fetch
            procedures = client.fetch_procedures(unit_code, deadline)
            seconds["fetch"] = time.perf_counter() - started
            pulled = {"pages": 0.0, "archived": 0.0}
            pages = _timed(client.iter_dossier_pages(unit_code, period, settings.calendar, deadline),
                           pulled, "pages")
            fetched = sum(len(page["MaHoSo"])
                          for page in _timed(archive_pages(pages, files.pending), pulled, "archived"))
            seconds["map"] = client.mapping_seconds - mapped
            seconds["fetch"] += pulled["pages"] - seconds["map"]
            seconds["archive"] = pulled["archived"] - pulled["pages"]
            # Written last: a unit is staged once both are there.
            write_atomic(files.procedures, orjson.dumps({"procedures": procedures, "records_fetched": fetched,
                                                         "seconds": seconds}))
    except BaseException:
        files.discard()  # a PortalError half-way: no archive
        raise
    log.info("portal: fetched unit %s period %s: %d records", unit_code, period, fetched)
    return {"period": period.label, "unit_code": unit_code, "outcome": "fetched", "records_fetched": fetched,
            "seconds": {k: round(v, 4) for k, v in seconds.items()}}


def load_portal_units(settings: Settings, period: Period, unit_codes: Iterable[str]
                      ) -> dict[str, dict | PortalBatchQuarantined]:
    """The units' staged batches (fetch_portal_unit) through the dossier_batch suite together (one GX
    run per GROUP_ROWS dossiers instead of one per unit: GX's cost per run is fixed), then each unit
    loaded whole or not at all in its own transaction; a quarantined unit (its PortalBatchQuarantined
    in the result) does not stop the others. A unit with nothing staged (its fetch failed or was
    skipped) keeps its last loaded batch: 'not_fetched'. A load that fails leaves the units not yet
    loaded staged, for a retry."""
    warehouse.prepare(settings)
    outcomes, group = {}, []
    with connection(settings.warehouse_url) as held:
        for unit_code in unit_codes:
            staged = _read_staged(settings, period, unit_code)
            if staged is None:
                outcomes[unit_code] = {"period": period.label, "unit_code": unit_code, "outcome": "not_fetched"}
                continue
            group.append(staged)
            if sum(len(s.columns["MaHoSo"]) for s in group) >= GROUP_ROWS:
                outcomes.update(_validate_and_store(settings, period, group, held))
                group = []
        outcomes.update(_validate_and_store(settings, period, group, held))
    return outcomes


def _check_units(settings: Settings, unit_codes: list[str]) -> None:
    catalogue = load_catalogue(settings)
    for unit_code in unit_codes:
        if unit_code not in catalogue.units:
            raise ValueError(f"mã đơn vị {unit_code!r} không có trong danh mục đơn vị")


def _skipped(period: Period, unit_code: str) -> dict:
    return {"period": period.label, "unit_code": unit_code, "outcome": "skipped"}


@dataclass(frozen=True)
class _StagedFiles:
    """Where a fetched unit-period waits for its load: the pending archive and its procedures (hidden
    names), and the archive it becomes once loaded."""

    pending: Path
    procedures: Path
    final: Path

    @classmethod
    def of(cls, settings: Settings, period: Period, unit_code: str) -> "_StagedFiles":
        final = settings.archive_dir / "portal" / period.label / f"{unit_code}.jsonl.gz"
        return cls(final.with_name(f".{unit_code}.pending.jsonl.gz"), final.with_name(f".{unit_code}.pending.json"),
                   final)

    def discard(self) -> None:
        self.procedures.unlink(missing_ok=True)
        self.pending.unlink(missing_ok=True)


@dataclass
class _Staged:
    """One unit-period staged and read back, waiting for the suite and its transaction."""

    unit_code: str
    # The batch as plain lists (MaHoSo deduplicated): the suite's frame is made from them for the
    # group, and the load writes them as they are.
    columns: dict[str, list]
    fetched: int
    procedures: list[dict]
    files: _StagedFiles
    # Wall seconds per stage, in the summary (bench/ reads them): fetch = the procedures and the
    # client's pages (HTTP, JSON, sign-in), map = the profile's mapping (personal data dropped),
    # archive = writing the pages, read = reading them back into columns (deduplicated),
    # validate = the unit's share of the suite (its frame made and checked), load = its transaction.
    seconds: dict


def _read_staged(settings: Settings, period: Period, unit_code: str) -> _Staged | None:
    files = _StagedFiles.of(settings, period, unit_code)
    try:
        staged = orjson.loads(files.procedures.read_bytes())
    except FileNotFoundError:
        return None
    started = time.perf_counter()
    with _without_cyclic_gc():
        columns, fetched = batch_columns(read_archive(files.pending))
    seconds = dict(staged["seconds"], read=time.perf_counter() - started, validate=0.0, load=0.0)
    return _Staged(unit_code, columns, fetched, staged["procedures"], files, seconds)


@contextmanager
def _without_cyclic_gc():
    """For the bulk steps (pages decoded and mapped, columns read back, rows inserted), which make
    millions of containers that hold no cycles: Python's cyclic collector would run thousands of
    times over them for nothing (≈ 2.6 s of a 1M-dossier period), while reference counting frees
    them as before. Not around the suite: GX and pandas do make cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _timed(items: Iterable, seconds: dict, key: str) -> Iterator:
    """Pass items through, adding the time spent producing them to seconds[key]."""
    it = iter(items)
    while True:
        started = time.perf_counter()
        try:
            item = next(it)
        except StopIteration:
            seconds[key] += time.perf_counter() - started
            return
        seconds[key] += time.perf_counter() - started
        yield item


def batch_columns(pages: Iterable[dict[str, list]]) -> tuple[dict[str, list], int]:
    """The unit-period as one list per field, deduplicated by MaHoSo (last occurrence wins, at its
    place), and the number of records fetched. Pages are the client's columns: each is appended to
    the lists at once (a field a page lacks is missing there)."""
    columns = {field: [] for field in PAGE_FIELDS}
    fetched = 0
    for page in pages:
        n = len(page["MaHoSo"])
        fetched += n
        for field, values in columns.items():
            values.extend(page.get(field) or [None] * n)
    keys = columns["MaHoSo"]
    # Missing keys (None) are one key, as for pandas' drop_duplicates.
    try:
        last = {k: i for i, k in enumerate(keys)}
    except TypeError:  # an object or a list where a code belongs: told apart by its text
        last = {repr(k): i for i, k in enumerate(keys)}
    if len(last) < len(keys):
        keep = sorted(last.values())
        columns = {field: [values[i] for i in keep] for field, values in columns.items()}
    return columns, fetched


def _procedure_rows(procedures: list[dict]) -> tuple[list[dict], list[str]]:
    """The catalogue's rows keyed by MaTTHC (last occurrence wins), and the reasons it is unusable."""
    rows, reasons = {}, []
    for p in procedures:
        code = str(p.get("MaTTHC") or "").strip()
        flags = (p.get("DuDieuKienToanTrinh"), p.get("DaCungCapToanTrinh"))
        if not code:
            reasons.append("Danh mục TTHC có thủ tục không có mã (MaTTHC)")
        elif any(f not in (0, 1) or isinstance(f, bool) for f in flags):
            reasons.append(f"TTHC {code}: DuDieuKienToanTrinh/DaCungCapToanTrinh phải là 0 hoặc 1, nhận được {flags}")
        else:
            rows[code] = {"ma_tthc": code, "ten_tthc": p.get("TenTTHC"),
                          "du_dieu_kien_toan_trinh": flags[0], "da_cung_cap_toan_trinh": flags[1]}
    return list(rows.values()), reasons


def _validate_and_store(settings: Settings, period: Period, group: list[_Staged], held
                        ) -> dict[str, dict | PortalBatchQuarantined]:
    """The group's batches through the suite at once, then each unit in its own transaction."""
    if not group:
        return {}
    started = time.perf_counter()
    verdicts = validate_batches({s.unit_code: s.columns for s in group})
    share = (time.perf_counter() - started) / len(group)
    outcomes = {}
    for staged in group:
        staged.seconds["validate"] += share
        try:
            outcomes[staged.unit_code] = _store(settings, period, staged, verdicts[staged.unit_code], held)
        except PortalBatchQuarantined as exc:
            outcomes[staged.unit_code] = exc
        staged.columns = None  # loaded: its rows need not outlive the group
    return outcomes


def _store(settings: Settings, period: Period, staged: _Staged, reasons: list[str], held) -> dict:
    unit_code, final, seconds = staged.unit_code, staged.files.final, staged.seconds
    dossiers = len(staged.columns["MaHoSo"])
    started = time.perf_counter()
    procedure_rows, procedure_reasons = _procedure_rows(staged.procedures)
    reasons = reasons + procedure_reasons
    key = {"period": period.label, "unit_code": unit_code}
    batch = dict(key, records_fetched=staged.fetched, dossiers=dossiers, procedures=len(procedure_rows),
                 attempted_at=now_local())
    seconds["validate"] += time.perf_counter() - started
    started = time.perf_counter()
    with _without_cyclic_gc(), transaction(settings.warehouse_url, held) as conn:
        previous = next(iter(query(conn, "queries/portal_batch_previous", **key)), None)
        execute_file(conn, "loads/portal_batch_clear", **key)
        if reasons:
            batch.update(outcome="quarantined", reasons=json.dumps(reasons, ensure_ascii=False),
                         loaded_at=previous["loaded_at"] if previous else None,
                         archive_path=previous["archive_path"] if previous else None)
        else:
            batch.update(outcome="loaded", reasons=None, loaded_at=batch["attempted_at"],
                         archive_path=str(final.relative_to(settings.archive_dir)))
            _replace_facts(conn, key, staged.columns, procedure_rows)
        execute_file(conn, "loads/portal_batch", **batch)
    if reasons:
        # Kept for whoever checks the quarantine, beside (never over) the last loaded archive.
        os.replace(staged.files.pending, final.with_name(f"{unit_code}.quarantined.jsonl.gz"))
        staged.files.procedures.unlink()
        log.warning("portal: unit %s period %s quarantined: %s", unit_code, period, "; ".join(reasons))
        raise PortalBatchQuarantined(unit_code, period, reasons)
    os.replace(staged.files.pending, final)
    staged.files.procedures.unlink()
    seconds["load"] += time.perf_counter() - started
    summary = {k: batch[k] for k in ("period", "unit_code", "outcome", "records_fetched", "dossiers",
                                     "procedures", "archive_path")}
    summary["seconds"] = {k: round(v, 4) for k, v in seconds.items()}
    log.info("portal: loaded %s", summary)
    return summary


def _replace_facts(conn, key: dict, batch: dict[str, list], procedure_rows: list[dict]) -> None:
    if conn.dialect.name == "sqlite":
        # A page cache big enough for the unit's rows and index pages (default: 2 MB), so the
        # inserts of a large unit do not spill to the file before the commit. Per connection only.
        conn.exec_driver_sql("PRAGMA cache_size = -65536")
    execute_file(conn, "loads/portal_facts_clear", **key)
    # The batch's own lists (None → NULL) as positional rows in one bulk statement of the engine's
    # own: no pass out of pandas, no dict per row, no per-row parameter binding by name.
    n = len(batch["MaHoSo"])
    columns = [[value] * n for value in (key["period"], key["unit_code"])] + [batch[c] for c in FACT_COLUMNS]
    names = ("period", "unit_code", *FACT_COLUMNS.values())
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        if conn.dialect.name == "postgresql":
            lines = map("\t".join, zip(*map(_copy_text, columns)))
            cursor.copy_expert(f"COPY fact_dossier ({', '.join(names)}) FROM STDIN",
                               io.StringIO("\n".join(lines) + "\n"))
        else:  # one executemany over the rows as they are made: sqlite3 takes any iterator
            cursor.executemany(f"INSERT INTO fact_dossier ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                               zip(*columns))
    finally:
        cursor.close()
    if procedure_rows:
        execute_many(conn, "loads/fact_procedure", [dict(r, **key) for r in procedure_rows])


def _copy_text(column: list) -> list[str]:
    """A column in COPY's text format: NULL as \\N, backslash, tab and line breaks in text escaped
    (csv cannot tell NULL from an empty text). Escapes are looked for once per column, in C. A column
    of text only (most of them) is told by joining it, and one of small integers and NULLs (the
    flags) is written through a table: neither makes a pass per value in Python."""
    try:
        texts = "".join(column)
    except TypeError:  # numbers or NULLs among the values
        pass
    else:
        return [v.translate(_COPY_ESCAPES) for v in column] if _needs_escapes(texts) else column
    kinds = set(map(type, column))
    if kinds <= {int, NoneType}:
        text = list(map(_SMALL_INT_TEXT.get, column))
        if None not in text:  # else an integer beyond the table
            return text
    if str in kinds and _needs_escapes("".join([v for v in column if type(v) is str])):
        column = [v.translate(_COPY_ESCAPES) if type(v) is str else v for v in column]
    return ["\\N" if v is None else v if type(v) is str else str(v) for v in column]


def _needs_escapes(texts: str) -> bool:
    return any(c in texts for c in "\\\t\n\r")


# The COPY text of small integers and of NULL, for columns of int and None only: a bool (True == 1)
# would come out "1" where str() gives "True".
_SMALL_INT_TEXT = {**{i: str(i) for i in range(-1, 1000)}, None: "\\N"}
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


# --- figures -----------------------------------------------------------------------------------


def compute_portal_indicators(settings: Settings, period: Period) -> dict:
    """Portal figures of every unit with a loaded batch (models/portal_unit_indicator), one transaction.

    The catalogue's reference tables and the period's unit keys are refreshed first, so an old unit
    fetched for a period after the reorganisation counts under its successor whatever ran before;
    the counting rules of the settings (on time by date or timestamp, resolved and withdrawn
    statuses) are recorded for the period (portal_status_rule) and applied."""
    catalogue = load_catalogue(settings)
    warehouse.prepare(settings)
    start, end = settings.calendar.bounds(period)
    scope = [{"period": period.label, "unit_code": u.code, "indicator_code": i.code}
             for u in catalogue.units_in(period, settings.calendar)
             for i in catalogue.applicable(u) if i.portal_rule and not i.alias_of]
    rules = [{"period": period.label, "status": status,
              "resolved": int(not settings.resolved_statuses or status in settings.resolved_statuses),
              "withdrawn": int(status in settings.withdrawn_statuses)} for status in STATUS_CODES]
    with transaction(settings.warehouse_url) as conn:
        warehouse.lock_for_writing(conn)
        refresh_reference(conn, catalogue, period, settings)
        execute_file(conn, "models/ref_period_unit_key", period=period.label)
        execute_file(conn, "loads/portal_indicator_scope_clear", period=period.label)
        if scope:
            execute_many(conn, "loads/portal_indicator_scope", scope)
        execute_file(conn, "loads/portal_status_rule_clear", period=period.label)
        execute_many(conn, "loads/portal_status_rule", rules)
        if conn.dialect.name == "postgresql":
            execute_file(conn, "loads/portal_statistics")
        execute_file(conn, "models/portal_unit_indicator", period=period.label,
                     period_start=start.isoformat(), period_end=end.isoformat(),
                     first_day=start.date().isoformat(), last_day=settings.calendar.last_day(period).isoformat(),
                     on_time_by_date=int(settings.on_time_by == "date"))
        figures = {r["indicator_code"]: r["figures"]
                   for r in query(conn, "queries/portal_figure_counts", period=period.label)}
        (units,) = (r["units"] for r in query(conn, "queries/portal_units_loaded", period=period.label))
        merged = [dict(r) for r in query(conn, "queries/portal_merged_units", period=period.label)]
    unknown = sorted({s["indicator_code"] for s in scope} - set(figures)) if units else []
    if unknown:
        log.warning("portal: no formula in models/portal_unit_indicator.sql for %s", ", ".join(unknown))
    summary = {"period": period.label, "units": units, "figures": sum(figures.values()),
               "indicators": sorted(figures), "without_formula": unknown, "counted_elsewhere": merged}
    log.info("portal figures %s", summary)
    return summary
