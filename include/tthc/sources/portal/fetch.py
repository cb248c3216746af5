"""The one adapter for the provincial portal's dossier API (spec: "Source 2").

A real endpoint with a different contract needs a new adapter with the same public methods,
not a new pipeline. Guarantees the pipeline relies on:

* records are yielded page by page with personal data already stripped (privacy.py);
* the token never appears in an exception message, a repr or a log line;
* a unit-period either comes out whole or raises: a failure half-way is an exception, never
  a short result. Duplicates (same MaHoSo on two pages) are passed through: deduplication by
  MaHoSo happens in the warehouse, which sees the whole unit-period.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import os
import random
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path

import httpx

from ...calendar import DEFAULT_CALENDAR, ReportingCalendar
from ...periods import LOCAL_TZ, Period
from ...redaction import redact, safe_url, url_secrets
from .privacy import strip_personal

log = logging.getLogger(__name__)

HOSO_PATH = "/api/v1/hoso"
TTHC_PATH = "/api/v1/tthc"
MAX_PAGE_SIZE = 1000  # the contract's ceiling for soBanGhi
# A Retry-After of hours would stall a task silently; past this, failing is more useful.
MAX_RETRY_AFTER = 600.0
MAX_BACKOFF = 60.0

_PORTAL_DATETIME = re.compile(r"^\d{14}$")
# gzip level of the page archives. 1 (fastest), not 6 or gzip's default 9: on the portal's JSON
# it compresses about three times faster than 6 for archives about a third larger (bench/README.md).
ARCHIVE_COMPRESSLEVEL = 1
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class PortalError(Exception):
    """Anything that stops a unit-period from being loaded from the portal."""


class PortalAuthError(PortalError):
    """The portal refused the token (401/403): retrying cannot help."""


class PortalUnavailableError(PortalError):
    """5xx, rate limits, timeouts or connection errors persisted past the retries."""


class PortalDataError(PortalError):
    """The portal answered, but not with a usable, consistent page."""


class _Transient(Exception):
    """One failed attempt worth retrying; `final` is the error to raise if retries run out."""

    def __init__(self, reason: str, final: type[PortalError] = PortalUnavailableError,
                 retry_after: float | None = None):
        super().__init__(reason)
        self.final = final
        self.retry_after = retry_after


def parse_portal_datetime(value: str | None) -> datetime | None:
    """'yyyyMMddHHmmss' in Asia/Ho_Chi_Minh → aware datetime; '' or None → None."""
    if value is None:
        return None
    s = str(value).strip()
    if not s:
        return None
    if not _PORTAL_DATETIME.match(s):
        raise ValueError(f"portal date {value!r} is not yyyyMMddHHmmss")
    try:
        # Slicing is several times faster than strptime, which matters for a million dossiers.
        return datetime(int(s[0:4]), int(s[4:6]), int(s[6:8]), int(s[8:10]), int(s[10:12]),
                        int(s[12:14]), tzinfo=LOCAL_TZ)
    except ValueError:
        raise ValueError(f"portal date {value!r} is not a valid date and time") from None


class PortalClient:
    def __init__(self, base_url: str, token: str, *, timeout: float = 30, max_retries: int = 5,
                 backoff_base: float = 0.5, max_pages: int = 10_000, max_page_bytes: int = 20_000_000,
                 page_size: int = MAX_PAGE_SIZE, salt: bytes | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        # Credentials or keys in the URL stay out of messages, like the token.
        self._shown_base = safe_url(base_url)
        self._secrets = (token, *url_secrets(base_url))
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.max_pages = max_pages
        self.max_page_bytes = max_page_bytes
        self.page_size = page_size
        self._salt = salt
        self._sleep = sleep
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout,
                                  headers={"Authorization": f"Bearer {token}",
                                           "Accept": "application/json"})

    def __repr__(self) -> str:
        return f"PortalClient({self._shown_base!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "PortalClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- public API ----------------------------------------------------------
    def iter_dossier_pages(self, unit_code: str, period: Period, calendar: ReportingCalendar = DEFAULT_CALENDAR
                           ) -> Iterator[list[dict]]:
        """The unit's dossiers received or resolved in the period, one stripped page at a time."""
        start, _ = calendar.bounds(period)
        params = {"maDonVi": unit_code, "tuNgay": f"{start:%Y%m%d}",
                  "denNgay": f"{calendar.last_day(period):%Y%m%d}", "soBanGhi": self.page_size}
        total = pages = None
        page_no = 1
        while pages is None or page_no <= pages:
            where = f"{HOSO_PATH} (maDonVi={unit_code}, trang={page_no})"
            body = self._get_json(HOSO_PATH, {**params, "trang": page_no}, where)
            page_total = self._count(body, "tongSoBanGhi", where)
            records = self._records(body, where)
            if total is None:
                total = page_total
                size = self._count(body, "soBanGhi", where, default=self.page_size) or self.page_size
                pages = math.ceil(total / size)
                if pages > self.max_pages:
                    raise self._error(PortalDataError,
                                      f"{where}: {total} records in {pages} pages exceed the limit "
                                      f"of {self.max_pages} pages")
            elif page_total != total:
                raise self._error(PortalDataError,
                                  f"total changed between pages: {where} reports {page_total}, "
                                  f"page 1 reported {total}; reload the unit-period")
            log.info("portal: unit %s period %s page %d/%d: %d records",
                     unit_code, period, page_no, pages, len(records))
            if not records:
                return
            yield [strip_personal(r, self._salt) for r in records]
            page_no += 1

    def fetch_procedures(self, unit_code: str) -> list[dict]:
        """The unit's procedure catalogue with DuDieuKienToanTrinh / DaCungCapToanTrinh."""
        where = f"{TTHC_PATH} (maDonVi={unit_code})"
        records = self._records(self._get_json(TTHC_PATH, {"maDonVi": unit_code}, where), where)
        log.info("portal: unit %s: %d procedures", unit_code, len(records))
        return records

    # --- transport -----------------------------------------------------------
    def _get_json(self, path: str, params: dict, where: str) -> dict:
        """One JSON object from the portal, retrying what may pass; error_code checked."""
        for attempt in range(self.max_retries + 1):
            try:
                body = self._attempt(path, params, where)
                break
            except _Transient as problem:
                if attempt == self.max_retries:
                    raise self._error(problem.final,
                                      f"{where}: giving up after {attempt + 1} attempts: {problem}") from None
                delay = problem.retry_after if problem.retry_after is not None else self._backoff(attempt)
                log.warning("portal: %s: %s; retry %d/%d in %.1f s",
                            where, self._clean(str(problem)), attempt + 1, self.max_retries, delay)
                self._sleep(delay)
        if not isinstance(body, dict):
            raise self._error(PortalDataError, f"{where}: expected a JSON object, got {type(body).__name__}")
        if str(body.get("error_code")) != "0":
            raise self._error(PortalDataError, f"{where}: portal error_code {body.get('error_code')!r}: "
                                               f"{body.get('message') or '(no message)'}")
        return body

    def _attempt(self, path: str, params: dict, where: str):
        try:
            with self._http.stream("GET", path, params=params) as resp:
                status = resp.status_code
                if status in (401, 403):
                    raise self._error(PortalAuthError,
                                      f"{where}: the portal refused the token (HTTP {status}); check "
                                      f"TTHC_PORTAL_TOKEN or the tthc_portal connection")
                if status == 429:
                    raise _Transient("rate limited (HTTP 429)",
                                     retry_after=_retry_after(resp.headers.get("Retry-After")))
                if status >= 500:
                    raise _Transient(f"HTTP {status}")
                if status != 200:
                    raise self._error(PortalError, f"{where}: unexpected HTTP {status}")
                raw = self._read_limited(resp, where)
        except httpx.TransportError as exc:  # timeouts, refused or dropped connections
            raise _Transient(f"{type(exc).__name__}: {exc}") from None
        try:
            return json.loads(raw)
        except ValueError:
            # A proxy's HTML error page is often transient: retry it like a 5xx.
            raise _Transient(f"the response is not JSON ({raw[:40]!r}…)", final=PortalDataError) from None

    def _read_limited(self, resp: httpx.Response, where: str) -> bytes:
        declared = resp.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_page_bytes:
            raise self._error(PortalDataError, f"{where}: response of {declared} bytes exceeds the "
                                               f"limit of {self.max_page_bytes}")
        chunks, size = [], 0
        for chunk in resp.iter_bytes():
            size += len(chunk)
            if size > self.max_page_bytes:  # chunked or lying responses have no usable length
                raise self._error(PortalDataError, f"{where}: response exceeds the limit of "
                                                   f"{self.max_page_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    # --- helpers -------------------------------------------------------------
    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_base * 2 ** attempt, MAX_BACKOFF)
        return delay + random.uniform(0, self.backoff_base / 2)  # jitter: parallel units desynchronise

    def _clean(self, text: str) -> str:
        return redact(text, self._secrets)

    def _error(self, cls: type[PortalError], message: str) -> PortalError:
        return cls(self._clean(message))

    def _count(self, body: dict, key: str, where: str, default: int | None = None) -> int:
        value = body.get(key, default)
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self._error(PortalDataError, f"{where}: {key} is {value!r}, expected a count")
        return value

    def _records(self, body: dict, where: str) -> list[dict]:
        data = body.get("data")
        if data is None:
            return []
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise self._error(PortalDataError, f"{where}: 'data' is not a list of records")
        return data


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header; None (use backoff) for dates or nonsense."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER) if math.isfinite(seconds) else None


def portal_from_settings(url: str | None, token: str | None, **options) -> PortalClient | None:
    """A client, or None when no portal is configured (the caller then skips the source)."""
    if not url:
        return None
    if not token:
        raise PortalAuthError("a portal URL is configured but no token (TTHC_PORTAL_TOKEN or the "
                              "tthc_portal connection's password)")
    return PortalClient(url, token, **options)


def archive_pages(pages: Iterable[list[dict]], path: str | os.PathLike) -> Iterator[list[dict]]:
    """Pass pages through while writing each as one JSON line to a gzip file.

    Pages must already be stripped of personal data. The file appears only once every page has
    been read: a failure or an abandoned iteration leaves no partial archive behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        # Level ARCHIVE_COMPRESSLEVEL, not gzip's default 9 (see there). Bytes straight to the gzip
        # stream: the same UTF-8 as a text wrapper would write, without its per-write overhead.
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb",
                                                       compresslevel=ARCHIVE_COMPRESSLEVEL) as out:
            for page in pages:
                out.write(_dumps(page).encode("utf-8") + b"\n")
                yield page
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_archive(path: str | os.PathLike) -> Iterator[list[dict]]:
    """The pages of an archive written by archive_pages, to recompute without the portal."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)
