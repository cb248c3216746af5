"""The portal source in the warehouse (spec "Source 2"): dossier facts, portal figures, reconciliation.

ingest_portal_unit (one mapped task per unit) → compute_portal_indicators → reconcile, each returning
a small JSON-serialisable summary like every step of the pipeline.

Facts are keyed by the *fetch* period: the portal returns a dossier to every period in which it was
received or resolved, and each period counts only the rows of its own fetch (received ones for the
received-based indicators, resolved ones for the others), so a dossier received in March and
resolved in April counts once in each role. Within a fetch, a MaHoSo seen twice is kept once (its
last occurrence, i.e. the latest page).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from datetime import datetime

from ... import warehouse
from ...catalogue import load_catalogue
from ...checks.dossiers import validate_batch
from ...periods import Period
from ...settings import Settings
from ...warehouse import execute_file, execute_many, now_local, query, transaction
from .fetch import PortalClient, archive_pages, portal_from_settings
from .privacy import APPLICANT_KEY, PERSONAL_FIELDS, salt_from_env

log = logging.getLogger(__name__)

FLAGS = ("PhaiThanhToan", "DuocThanhToanTrucTuyen", "HoSoCoThanhPhanSoHoa", "KetQuaDuocSoHoa",
         "CoKetQuaDienTu", "DaDongBoDVCQG", "CoTaiSuDungDuLieu")
# Portal field → fact_dossier column. TenTTHC is left out: fact_procedure holds the names.
FACT_COLUMNS = {
    "MaHoSo": "ma_ho_so", "MaTTHC": "ma_tthc", "MaLinhVuc": "ma_linh_vuc",
    "KenhThucHien": "kenh_thuc_hien", "TrangThaiHoSo": "trang_thai_ho_so",
    "received_at": "ngay_tiep_nhan", "due_at": "ngay_hen_tra", "resolved_at": "ngay_ket_thuc_xu_ly",
    "PhaiThanhToan": "phai_thanh_toan", "DuocThanhToanTrucTuyen": "duoc_thanh_toan_truc_tuyen",
    "HoSoCoThanhPhanSoHoa": "ho_so_co_thanh_phan_so_hoa", "KetQuaDuocSoHoa": "ket_qua_duoc_so_hoa",
    "CoKetQuaDienTu": "co_ket_qua_dien_tu", "DaDongBoDVCQG": "da_dong_bo_dvcqg",
    "CoTaiSuDungDuLieu": "co_tai_su_dung_du_lieu", "DanhGia": "danh_gia", APPLICANT_KEY: "chu_ho_so_key",
}
# What each page keeps. The personal fields are kept (empty once stripped) so that the suite, not
# trust, shows they are absent; unknown extra fields are dropped.
PAGE_FIELDS = ("MaHoSo", "MaTTHC", "MaLinhVuc", "DonViXuLy", "KenhThucHien", "NgayTiepNhan", "NgayHenTra",
               "NgayKetThucXuLy", "TrangThaiHoSo", *FLAGS, "DanhGia", APPLICANT_KEY, *PERSONAL_FIELDS)
DATE_FIELDS = {"NgayTiepNhan": "received_at", "NgayHenTra": "due_at", "NgayKetThucXuLy": "resolved_at"}
# Asia/Ho_Chi_Minh has kept +07:00 since 1975: the same text ReportingCalendar.bounds(...) gives in isoformat().
LOCAL_OFFSET = "+07:00"
# A field a record lacks is NaN, an explicit null None: as DataFrame.from_records has them.
_ABSENT = float("nan")
INSERT_CHUNK = 5_000  # rows per executemany: bounds the tuples alive at once


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
    PortalBatchQuarantined, so this unit's task fails while the others go on.
    """
    if unit_code not in load_catalogue(settings).units:
        raise ValueError(f"mã đơn vị {unit_code!r} không có trong danh mục đơn vị")
    own_client = client is None
    if own_client:
        client = portal_from_settings(settings.portal_url, settings.portal_token, salt=salt_from_env())
        if client is None:
            log.info("portal: not configured (TTHC_PORTAL_URL); unit %s period %s skipped", unit_code, period)
            return {"period": period.label, "unit_code": unit_code, "outcome": "skipped"}
    final = settings.archive_dir / "portal" / period.label / f"{unit_code}.jsonl.gz"
    pending = final.with_name(f".{unit_code}.pending.jsonl.gz")
    # Wall seconds per stage, in the summary (bench/ reads them): fetch = the procedures and the
    # client's pages (HTTP, JSON, personal data dropped), archive = writing the pages, frame =
    # building the batch frame, validate = the suite, load = the warehouse transaction.
    seconds = dict.fromkeys(("fetch", "archive", "frame", "validate", "load"), 0.0)
    try:
        started = time.perf_counter()
        warehouse.prepare(settings)
        seconds["load"] = time.perf_counter() - started  # the schema check; the transaction adds to it
        started = time.perf_counter()
        procedures = client.fetch_procedures(unit_code)
        seconds["fetch"] = time.perf_counter() - started
        pulled = {"pages": 0.0, "archived": 0.0}
        pages = _timed(client.iter_dossier_pages(unit_code, period, settings.calendar), pulled, "pages")
        started = time.perf_counter()
        frame, fetched = batch_frame(_timed(archive_pages(pages, pending), pulled, "archived"), unit_code)
        seconds["frame"] = time.perf_counter() - started - pulled["archived"]
        seconds["fetch"] += pulled["pages"]
        seconds["archive"] = pulled["archived"] - pulled["pages"]
        return _validate_and_store(settings, period, unit_code, frame, fetched, procedures, pending, final,
                                   seconds)
    finally:
        if own_client:
            client.close()
        if pending.exists():  # the load failed after the fetch: no archive without its facts
            pending.unlink()


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


def batch_frame(pages: Iterable[list[dict]], unit_code: str):
    """The unit-period as one frame, deduplicated by MaHoSo (last occurrence wins, at its place),
    and the number of records fetched. Each page goes at once into one list per field, so no page
    (nor any record dict) outlives its turn, and pandas gets whole columns instead of records."""
    import pandas as pd

    columns = {field: [] for field in PAGE_FIELDS}
    fetched = 0
    for page in pages:
        fetched += len(page)
        for field, values in columns.items():
            values.extend([record.get(field, _ABSENT) for record in page])
    keys = columns["MaHoSo"]
    # Missing keys (None, NaN) are one key, as for pandas' drop_duplicates.
    last = {(None if k is None or k != k else k): i for i, k in enumerate(keys)}
    if len(last) < len(keys):
        keep = sorted(last.values())
        columns = {field: [values[i] for i in keep] for field, values in columns.items()}
    data = {field: pd.Series(values, dtype=object if not values else None) for field, values in columns.items()}
    for raw, iso in DATE_FIELDS.items():
        data[iso] = pd.Series([_iso_value(v) for v in columns[raw]], dtype=object)
    data["row_key"] = range(len(columns["MaHoSo"]))
    frame = pd.DataFrame(data)
    frame["unit_code"] = unit_code
    return frame, fetched


def _iso_value(value):
    """yyyyMMddHHmmss → 'YYYY-MM-DDTHH:MM:SS+07:00'; empty → missing; anything else stays as sent,
    so the suite's format rule names the value. Plain Python per value: several times faster than
    pandas' string methods on a few thousand values."""
    if value is None or value != value:  # None, NaN
        return None
    s = str(value).strip()
    if not s:
        return None
    if len(s) == 14 and s.isascii() and s.isdigit():
        iso = f"{s[0:4]}-{s[4:6]}-{s[6:8]}T{s[8:10]}:{s[10:12]}:{s[12:14]}"
        try:
            datetime.fromisoformat(iso)  # one C call: the same range checks as datetime(y, m, d, ...)
        except ValueError:
            return s
        return iso + LOCAL_OFFSET
    return s


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


def _validate_and_store(settings, period, unit_code, frame, fetched, procedures, pending, final,
                        seconds: dict | None = None) -> dict:
    seconds = {} if seconds is None else seconds
    started = time.perf_counter()
    reasons = validate_batch(frame, unit_code)
    procedure_rows, procedure_reasons = _procedure_rows(procedures)
    reasons += procedure_reasons
    key = {"period": period.label, "unit_code": unit_code}
    batch = dict(key, records_fetched=fetched, dossiers=len(frame), procedures=len(procedure_rows),
                 attempted_at=now_local())
    seconds["validate"] = time.perf_counter() - started
    started = time.perf_counter()
    with transaction(settings.warehouse_url) as conn:
        previous = next(iter(query(conn, "queries/portal_batch_previous", **key)), None)
        execute_file(conn, "loads/portal_batch_clear", **key)
        if reasons:
            batch.update(outcome="quarantined", reasons=json.dumps(reasons, ensure_ascii=False),
                         loaded_at=previous["loaded_at"] if previous else None,
                         archive_path=previous["archive_path"] if previous else None)
        else:
            batch.update(outcome="loaded", reasons=None, loaded_at=batch["attempted_at"],
                         archive_path=str(final.relative_to(settings.archive_dir)))
            _replace_facts(conn, key, frame, procedure_rows)
        execute_file(conn, "loads/portal_batch", **batch)
    if reasons:
        # Kept for whoever checks the quarantine, beside (never over) the last loaded archive.
        os.replace(pending, final.with_name(f"{unit_code}.quarantined.jsonl.gz"))
        log.warning("portal: unit %s period %s quarantined: %s", unit_code, period, "; ".join(reasons))
        raise PortalBatchQuarantined(unit_code, period, reasons)
    os.replace(pending, final)
    seconds["load"] = seconds.get("load", 0.0) + time.perf_counter() - started
    summary = {k: batch[k] for k in ("period", "unit_code", "outcome", "records_fetched", "dossiers",
                                     "procedures", "archive_path")}
    summary["seconds"] = {k: round(v, 4) for k, v in seconds.items()}
    log.info("portal: loaded %s", summary)
    return summary


def _replace_facts(conn, key: dict, frame, procedure_rows: list[dict]) -> None:
    if conn.dialect.name == "sqlite":
        # A page cache big enough for the unit's rows and index pages (default: 2 MB), so the
        # inserts of a large unit do not spill to the file before the commit. Per connection only.
        conn.exec_driver_sql("PRAGMA cache_size = -65536")
    execute_file(conn, "loads/portal_facts_clear", **key)
    # Column by column to plain Python values (NaN/NA → NULL), then positional tuples straight to
    # the driver's executemany: no dict per row, no per-row parameter binding by name.
    columns = [_plain_values(frame[c]) for c in FACT_COLUMNS]
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    insert = (f"INSERT INTO fact_dossier (period, unit_code, {', '.join(FACT_COLUMNS.values())}) "
              f"VALUES ({', '.join([mark] * (len(FACT_COLUMNS) + 2))})")
    head = (key["period"], key["unit_code"])
    for start in range(0, len(frame), INSERT_CHUNK):
        conn.exec_driver_sql(insert, [head + row for row in zip(*(c[start:start + INSERT_CHUNK] for c in columns))])
    if procedure_rows:
        execute_many(conn, "loads/fact_procedure", [dict(r, **key) for r in procedure_rows])


def _plain_values(series) -> list:
    """A column as Python values, missing ones (NaN, NA, None) as None."""
    if series.dtype.kind in "iub":  # numpy integers or booleans: nothing can be missing
        return series.tolist()
    values = series.astype(object)
    return values.where(values.notna(), None).tolist()


# --- figures -----------------------------------------------------------------------------------


def compute_portal_indicators(settings: Settings, period: Period) -> dict:
    """Portal figures of every unit with a loaded batch (models/portal_unit_indicator), one transaction."""
    catalogue = load_catalogue(settings)
    warehouse.prepare(settings)
    start, end = settings.calendar.bounds(period)
    scope = [{"period": period.label, "unit_code": u.code, "indicator_code": i.code}
             for u in catalogue.units_in(period, settings.calendar)
             for i in catalogue.applicable(u) if i.portal_rule and not i.alias_of]
    with transaction(settings.warehouse_url) as conn:
        warehouse.lock_for_writing(conn)
        execute_file(conn, "loads/portal_indicator_scope_clear", period=period.label)
        if scope:
            execute_many(conn, "loads/portal_indicator_scope", scope)
        execute_file(conn, "models/portal_unit_indicator", period=period.label,
                     period_start=start.isoformat(), period_end=end.isoformat())
        figures = {r["indicator_code"]: r["figures"]
                   for r in query(conn, "queries/portal_figure_counts", period=period.label)}
        (units,) = (r["units"] for r in query(conn, "queries/portal_units_loaded", period=period.label))
    unknown = sorted({s["indicator_code"] for s in scope} - set(figures)) if units else []
    if unknown:
        log.warning("portal: no formula in models/portal_unit_indicator.sql for %s", ", ".join(unknown))
    summary = {"period": period.label, "units": units, "figures": sum(figures.values()),
               "indicators": sorted(figures), "without_formula": unknown}
    log.info("portal figures %s", summary)
    return summary
