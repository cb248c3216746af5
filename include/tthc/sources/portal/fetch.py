"""The client for the provincial portal's dossier API (spec: "Source 2"), driven by a portal profile.

What differs between vendors (sign-in, paging, query parameters, record fields) is data in a
profile (profile.py, include/portal_profiles/); this module is what they share. Guarantees the
pipeline relies on, whatever the profile:

* pages come out as columns of the pipeline's fields only (the profile's mapping is the
  allow-list): personal data is gone before anything is logged, archived or stored;
* credentials and tokens never appear in an exception message, a repr or a log line;
* a unit-period either comes out whole or raises: a failure half-way is an exception, never
  a short result. The records fetched by each request must add up to the total the portal
  announced (tongSoBanGhi, totalElements): an empty page before it ends the fetch at once, a
  shortfall at the end with a PortalDataError. The total counts the records served, a repeat
  included: duplicates (same MaHoSo on two pages) are passed through and deduplicated afterwards,
  in the warehouse, which sees the whole unit-period;
* nothing the portal sends (a body, its `message`, a value) is ever quoted in an exception or a log
  line: those reach the task-failure e-mail and the webhook, and a portal's error text can carry a
  name or an ID number. Only its shape is described (content type, length, JSON keys);
* each unit's fetch has an overall deadline (TTHC_PORTAL_FETCH_DEADLINE): a portal that drips
  a byte at a time cannot hold a worker (and a slot of the tthc_portal pool) for ever.
"""

from __future__ import annotations

import gzip
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
import orjson

from ...calendar import DEFAULT_CALENDAR, ReportingCalendar
from ...periods import LOCAL_TZ, Period
from ...redaction import redact, safe_url, url_secrets
from .auth import BearerToken, OAuth2SignIn, tls_context
from .errors import (PortalAuthError, PortalDataError, PortalError, PortalUnavailableError, Transient, code,
                     shape)
from .profile import Endpoint, Profile, dig, load_profile

log = logging.getLogger(__name__)

# A Retry-After of hours would stall a task silently; past this, failing is more useful.
MAX_RETRY_AFTER = 600.0
MAX_BACKOFF = 60.0
# A unit's whole fetch (procedures and every page, retries included) ends by then: the pool's slots
# are few, and a 10,000-dossier unit takes seconds on a healthy portal.
DEFAULT_FETCH_DEADLINE = 900.0

_PORTAL_DATETIME = re.compile(r"^\d{14}$")
# gzip level of the page archives. 1 (fastest), not 6 or gzip's default 9: on the portal's JSON
# it compresses about three times faster than 6 for archives about a third larger (bench/README.md).
ARCHIVE_COMPRESSLEVEL = 1

Page = dict[str, list]  # the pipeline's fields as columns: {"MaHoSo": [...], "received_at": [...], ...}


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
        return datetime(int(s[0:4]), int(s[4:6]), int(s[6:8]), int(s[8:10]), int(s[10:12]),
                        int(s[12:14]), tzinfo=LOCAL_TZ)
    except ValueError:
        raise ValueError(f"portal date {value!r} is not a valid date and time") from None


class PortalClient:
    def __init__(self, base_url: str, auth: str | BearerToken | OAuth2SignIn, *,
                 profile: str | Profile | None = None, timeout: float = 30, max_retries: int = 5,
                 backoff_base: float = 0.5, max_pages: int = 10_000, max_page_bytes: int = 20_000_000,
                 page_size: int | None = None, salt: bytes | None = None,
                 fetch_deadline: float = DEFAULT_FETCH_DEADLINE,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        self.profile = profile if isinstance(profile, Profile) else load_profile(profile)
        limit = self.profile.paging.max_size
        page_size = limit if page_size is None else page_size
        if not 1 <= page_size <= limit:
            raise ValueError(f"page_size must be between 1 and {limit} (profile {self.profile.name})")
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        if not fetch_deadline > 0:
            raise ValueError("fetch_deadline must be a positive number of seconds")
        # Credentials or keys in the URL stay out of messages, like the token.
        self._shown_base = safe_url(base_url)
        self._url_secrets = url_secrets(base_url)
        self.auth = BearerToken(auth) if isinstance(auth, str) else auth
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.max_pages = max_pages
        self.max_page_bytes = max_page_bytes
        self.page_size = page_size
        self.fetch_deadline = fetch_deadline
        self.mapping_seconds = 0.0  # time spent mapping pages (bench/ reads it)
        self._salt = salt
        self._sleep = sleep
        self._clock = clock
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, auth=self.auth,
                                  headers={"Accept": "application/json"}, verify=tls_context())

    def __repr__(self) -> str:
        return f"PortalClient({self._shown_base!r}, profile={self.profile.name!r})"

    def close(self) -> None:
        self._http.close()
        self.auth.close()

    def __enter__(self) -> "PortalClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- public API ----------------------------------------------------------
    def deadline(self) -> float:
        """The clock reading by which a unit's fetch starting now must be over: pass it to both
        fetch_procedures and iter_dossier_pages so that they share one budget."""
        return self._clock() + self.fetch_deadline

    def iter_dossier_pages(self, unit_code: str, period: Period, calendar: ReportingCalendar = DEFAULT_CALENDAR,
                           deadline: float | None = None) -> Iterator[Page]:
        """The unit's dossiers received or resolved in the period, one mapped page at a time
        (every request of the profile's in turn). Never a short result: see the module's doc."""
        deadline = self.deadline() if deadline is None else deadline
        endpoint = self.profile.dossiers
        for params in endpoint.params(unit_code, period, calendar):
            for records, where in self._pages(endpoint, params, deadline):
                started = time.perf_counter()
                page = endpoint.mapping.columns(records, self._salt)
                self.mapping_seconds += time.perf_counter() - started
                log.info("portal: unit %s period %s %s: %d records", unit_code, period, where, len(records))
                yield page

    def fetch_procedures(self, unit_code: str, deadline: float | None = None) -> list[dict]:
        """The unit's procedure catalogue: MaTTHC, TenTTHC, DuDieuKienToanTrinh, DaCungCapToanTrinh."""
        deadline = self.deadline() if deadline is None else deadline
        endpoint = self.profile.procedures
        procedures = []
        for params in endpoint.params(unit_code):
            if endpoint.paged:
                pages = (records for records, _ in self._pages(endpoint, params, deadline))
            else:
                where = _where(endpoint, params)
                pages = [self._records(self._get_json(endpoint.path, params, where, deadline),
                                       endpoint.records, where)]
            for records in pages:
                procedures.extend(endpoint.mapping.records(records))
        log.info("portal: unit %s: %d procedures", unit_code, len(procedures))
        return procedures

    # --- paging --------------------------------------------------------------
    def _pages(self, endpoint: Endpoint, params: dict, deadline: float) -> Iterator[tuple[list[dict], str]]:
        """One request's pages of raw records, checked to add up to the announced total."""
        paging = self.profile.paging
        label = _where(endpoint, params)
        total = pages = None
        fetched = index = 0
        while True:
            where = f"{label[:-1]}, {paging.page_param}={paging.first_page + index})"
            body = self._get_json(endpoint.path, {**params, paging.page_param: paging.first_page + index,
                                                  paging.size_param: self.page_size}, where, deadline)
            page_total = self._count(body, paging.total, where)
            records = self._records(body, paging.records, where)
            if total is None:
                total = page_total
                size = self.page_size
                if paging.size_applied and dig(body, paging.size_applied) is not None:
                    size = self._count(body, paging.size_applied, where) or self.page_size
                pages = math.ceil(total / size)
                if pages > self.max_pages:
                    raise self._error(PortalDataError, f"{where}: {total} records in {pages} pages exceed the "
                                                       f"limit of {self.max_pages} pages")
            elif page_total != total:
                raise self._error(PortalDataError,
                                  f"total changed between pages: {where} reports {page_total} ({paging.total}), "
                                  f"the first page reported {total}; reload the unit-period")
            index += 1
            if not records:
                if fetched < total:
                    raise self._error(PortalDataError, f"{where}: page {index} of {pages} has no records after "
                                                       f"{fetched} of the {total} announced ({paging.total}); "
                                                       f"the unit-period is not loaded")
                break
            fetched += len(records)
            yield records, f"page {index}/{pages}"
            if paging.end == "total" and index >= pages:
                break
            if paging.end == "last_flag" and self._flag(body, paging.last, where):
                break
            if index >= self.max_pages:
                raise self._error(PortalDataError, f"{where}: more than {self.max_pages} pages")
        if fetched != total:
            raise self._error(PortalDataError, f"{label}: {fetched} records in {index} pages, but the portal "
                                               f"announced {total} ({paging.total}); the unit-period is not loaded")

    # --- transport -----------------------------------------------------------
    def _get_json(self, path: str, params: dict, where: str, deadline: float) -> dict:
        """One JSON object from the portal, retrying what may pass; the profile's success check."""
        for attempt in range(self.max_retries + 1):
            try:
                body = self._attempt(path, params, where, deadline)
                break
            except Transient as problem:
                if attempt == self.max_retries:
                    raise self._error(problem.final,
                                      f"{where}: giving up after {attempt + 1} attempts: {problem}") from None
                delay = problem.retry_after if problem.retry_after is not None else self._backoff(attempt)
                if self._clock() + delay >= deadline:
                    raise self._overdue(where, f"a retry in {delay:.0f} s after: {problem}")
                log.warning("portal: %s: %s; retry %d/%d in %.1f s",
                            where, self._clean(str(problem)), attempt + 1, self.max_retries, delay)
                self._sleep(delay)
        if not isinstance(body, dict):
            raise self._error(PortalDataError, f"{where}: expected a JSON object, got {shape(body)}")
        success = self.profile.success
        if success is not None and str(dig(body, success.path)) != success.equals:
            # The portal's `message` is never quoted: it may name the applicant it choked on.
            raise self._error(PortalDataError, f"{where}: portal {success.path} {code(dig(body, success.path))} "
                                               f"({shape(body)}; the message is not shown)")
        return body

    def _attempt(self, path: str, params: dict, where: str, deadline: float):
        remaining = deadline - self._clock()
        if remaining <= 0:
            raise self._overdue(where, "before the request")
        try:
            # No single read may outlast the unit's deadline either.
            with self._http.stream("GET", path, params=params,
                                   timeout=httpx.Timeout(min(self.timeout, remaining))) as resp:
                status = resp.status_code
                if status in (401, 403):
                    raise self._error(PortalAuthError,
                                      f"{where}: the portal refused {self.auth.describe()} (HTTP {status})")
                if status == 429:
                    raise Transient("rate limited (HTTP 429)",
                                    retry_after=_retry_after(resp.headers.get("Retry-After")))
                if status >= 500:
                    raise Transient(f"HTTP {status}")
                if status != 200:
                    raise self._error(PortalError, f"{where}: unexpected HTTP {status} (the body is not shown)")
                raw = self._read_limited(resp, where, deadline)
                content_type = resp.headers.get("Content-Type", "no content type")[:60]
        except httpx.TransportError as exc:  # timeouts, refused or dropped connections
            raise Transient(f"{type(exc).__name__}: {exc}") from None
        try:
            return orjson.loads(raw)  # several times faster than json on the pages; strict JSON (no NaN)
        except orjson.JSONDecodeError:
            # A proxy's HTML error page is often transient: retry it like a 5xx. Its text is not shown.
            raise Transient(f"the response is not JSON ({content_type}, {len(raw)} bytes)",
                            final=PortalDataError) from None

    def _read_limited(self, resp: httpx.Response, where: str, deadline: float) -> bytes:
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
            if self._clock() >= deadline:  # a trickle resets the read timeout at every byte
                raise self._overdue(where, f"while reading a response ({size} bytes so far)")
            chunks.append(chunk)
        return b"".join(chunks)

    # --- helpers -------------------------------------------------------------
    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_base * 2 ** attempt, MAX_BACKOFF)
        return delay + random.uniform(0, self.backoff_base / 2)  # jitter: parallel units desynchronise

    def _clean(self, text: str) -> str:
        return redact(text, (*self.auth.secrets(), *self._url_secrets))

    def _error(self, cls: type[PortalError], message: str) -> PortalError:
        return cls(self._clean(message))

    def _overdue(self, where: str, when: str) -> PortalError:
        return self._error(PortalUnavailableError,
                           f"{where}: the unit's fetch ran out of its {self.fetch_deadline:g} s "
                           f"(TTHC_PORTAL_FETCH_DEADLINE) {when}")

    def _count(self, body: dict, path: str, where: str) -> int:
        value = dig(body, path)
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self._error(PortalDataError, f"{where}: {path} is {shape(value)}, expected a count")
        return value

    def _flag(self, body: dict, path: str, where: str) -> bool:
        value = dig(body, path)
        if not isinstance(value, bool):
            raise self._error(PortalDataError, f"{where}: {path} is {shape(value)}, expected true or false")
        return value

    def _records(self, body: dict, path: str, where: str) -> list[dict]:
        data = dig(body, path)
        if data is None:
            return []
        if not isinstance(data, list) or not all(r.__class__ is dict for r in data):
            raise self._error(PortalDataError, f"{where}: {path!r} is {shape(data)}, not a list of records")
        return data


def _where(endpoint: Endpoint, params: dict) -> str:
    """'/api/v1/hoso (maDonVi=X-19363, tuNgay=20250215, denNgay=20250314)': our own request, no portal text."""
    return f"{endpoint.path} ({', '.join(f'{k}={v}' for k, v in params.items())})"


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header; None (use backoff) for dates or nonsense."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER) if math.isfinite(seconds) else None


def portal_client(url: str, profile: str | Profile | None = None, *, token: str | None = None,
                  token_url: str | None = None, client_id: str | None = None, client_secret: str | None = None,
                  username: str | None = None, password: str | None = None, **options) -> PortalClient:
    """A client signing in as the profile says, with these credentials (the others are ignored)."""
    profile = profile if isinstance(profile, Profile) else load_profile(profile)
    if profile.auth == "bearer":
        if not token:
            raise PortalAuthError(f"portal profile {profile.name} signs in with a token, and none is configured "
                                  f"(TTHC_PORTAL_TOKEN or the tthc_portal connection's password)")
        auth = BearerToken(token)
    else:
        auth = OAuth2SignIn(token_url, client_id, client_secret, username=username, password=password,
                            timeout=options.get("timeout", 30), clock=options.get("clock", time.monotonic))
    return PortalClient(url, auth, profile=profile, **options)


def portal_from_settings(settings, **options) -> PortalClient | None:
    """The settings' client, or None when no portal is configured (the caller then skips the source)."""
    if not settings.portal_url:
        return None
    return portal_client(settings.portal_url, settings.portal_profile, token=settings.portal_token,
                         token_url=settings.portal_token_url, client_id=settings.portal_client_id,
                         client_secret=settings.portal_client_secret, username=settings.portal_username,
                         password=settings.portal_password, fetch_deadline=settings.portal_fetch_deadline,
                         **options)


def archive_pages(pages: Iterable[Page], path: str | os.PathLike) -> Iterator[Page]:
    """Pass pages through while writing each as one JSON line to a gzip file.

    Pages are the client's: the mapped fields only, no personal data. The file appears only once
    every page has been read: a failure or an abandoned iteration leaves no partial archive behind.
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
                # orjson: compact UTF-8 JSON with the text as sent (as json.dumps with ensure_ascii=False
                # and no spaces), several times faster.
                out.write(orjson.dumps(page) + b"\n")
                yield page
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def read_archive(path: str | os.PathLike) -> Iterator[Page]:
    """The pages of an archive written by archive_pages, to recompute without the portal."""
    with gzip.open(path, "rb") as f:
        for line in f:
            yield orjson.loads(line)


def page_records(page: Page) -> list[dict]:
    """A page's columns as one dict per record (for tests and tools; the pipeline keeps columns)."""
    return [dict(zip(page, row)) for row in zip(*page.values())]
