"""A fake provincial portal: a real HTTP server speaking every shipped portal profile.

Used by tests, the demo and the benchmark in place of the province's API, which is not public.
Dossiers are generated deterministically per (unit, month) from the seed, lazily and cached, so
the same seed always serves the same data and a million dossiers cost only what is fetched.
Faults can be injected on demand to exercise the client's error handling.

The same dossiers are served in the shape of either profile (include/portal_profiles/):

* `national-sync` (spec "Source 2"): a static bearer token, GET /api/v1/hoso and /api/v1/tthc,
  pages from 1 under `data` with `tongSoBanGhi`, flat fields, yyyyMMddHHmmss local dates;
* `vnpt-igate`: OAuth2 at a Keycloak-style token endpoint (password or client-credentials
  grant, tokens that expire), GET /pa/dossier/search and /pa/procedure/search filtered by
  accepted-/completed- dates, Spring pages from 0 (`content`, `totalElements`, `last`), nested
  camelCase records, UTC ISO-8601 dates, status, channel and rating as the vendor's codes.

The vendor shape is written here by hand, not derived from the profile file, so that a test
comparing the figures of both profiles checks the profile's mapping against an independent reading.

    with FakePortal(["X-19363"], dossiers_per_unit_month=(100, 200), profile="vnpt-igate") as portal:
        client = portal_client(portal.url, **portal.credentials())

Standalone: python -m tthc_testing.fake_portal --port 8765 --token demo-token [--profile vnpt-igate]
"""

from __future__ import annotations

import argparse
import calendar
import hmac
import json
import math
import random
import secrets
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tthc.calendar import DEFAULT_CALENDAR
from tthc.catalogue import Catalogue
from tthc.settings import DEFAULT_CATALOGUE_DIR

PROFILES = ("national-sync", "vnpt-igate")
HOSO_PATH, TTHC_PATH = "/api/v1/hoso", "/api/v1/tthc"  # national-sync
VNPT_DOSSIER_PATH, VNPT_PROCEDURE_PATH = "/pa/dossier/search", "/pa/procedure/search"
REALM = "tthc"
TOKEN_PATH = f"/auth/realms/{REALM}/protocol/openid-connect/token"
MAX_PAGE_SIZE = 1000
# The vendor's codes for the national ones (the profile maps them back).
VNPT_CHANNEL = {1: 0, 2: 1, 3: 2}
VNPT_STATUS = {1: 0, 2: 1, 4: 2, 5: 3, 6: 4, 8: 5, 9: 6, 3: 7, 7: 8, 10: 9}
VNPT_RATING = {"RAT_HAI_LONG": 3, "HAI_LONG": 2, "KHONG_HAI_LONG": 1}
_UTC_SHIFT = timedelta(hours=7)  # Asia/Ho_Chi_Minh is UTC+07:00

# (MaTTHC, TenTTHC, MaLinhVuc, working days allowed, fee-bearing, eligible for full online, weight).
# Codes are illustrative, shaped like the national catalogue's; weights mimic a commune's mix.
PROCEDURES = (
    ("2.000815", "Chứng thực bản sao từ bản chính giấy tờ, văn bản", "CT", 1, 1, 1, 30),
    ("2.000884", "Chứng thực chữ ký trong các giấy tờ, văn bản", "CT", 1, 1, 0, 6),
    ("1.001193", "Đăng ký khai sinh", "HT", 1, 0, 1, 14),
    ("1.000656", "Đăng ký khai tử", "HT", 1, 0, 1, 4),
    ("1.000894", "Đăng ký kết hôn", "HT", 3, 0, 0, 4),
    ("1.004873", "Cấp bản sao trích lục hộ tịch", "HT", 1, 1, 1, 8),
    ("1.004227", "Xác nhận tình trạng hôn nhân", "HT", 3, 1, 1, 8),
    ("2.000575", "Đăng ký thành lập hộ kinh doanh", "HKD", 3, 1, 1, 5),
    ("1.009994", "Cấp giấy phép xây dựng nhà ở riêng lẻ", "XD", 15, 1, 0, 3),
    ("1.004203", "Đăng ký biến động quyền sử dụng đất, tài sản gắn liền với đất", "DD", 10, 1, 0, 6),
    ("1.001776", "Trợ cấp xã hội hàng tháng đối với đối tượng bảo trợ xã hội", "BTXH", 12, 0, 0, 3),
    ("1.001731", "Hỗ trợ chi phí mai táng cho đối tượng bảo trợ xã hội", "BTXH", 5, 0, 0, 2),
)
_PROC_WEIGHTS = [p[6] for p in PROCEDURES]

_SURNAMES = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Võ", "Phan", "Hồ", "Đặng", "Bùi", "Ngô",
             "Đỗ", "Dương", "Trương", "Lý")
_SURNAME_WEIGHTS = (38, 11, 10, 7, 5, 6, 5, 4, 2, 2, 2, 2, 1, 1, 1)
_MIDDLE = {0: ("Văn", "Đức", "Hữu", "Minh", "Quang", "Công", "Xuân", "Thanh"),
           1: ("Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Minh", "Kim")}
_GIVEN = {0: ("Hùng", "Dũng", "Nam", "Long", "Tuấn", "Hải", "Sơn", "Bình", "Phong", "Quân", "Thắng",
              "Cường", "Toàn", "Hiếu", "Vinh", "Khánh", "Lộc", "Phúc"),
          1: ("Lan", "Hương", "Hoa", "Mai", "Hằng", "Thảo", "Nga", "Linh", "Trang", "Phương", "Hà",
              "Yến", "Nhung", "Hạnh", "Huyền", "Loan")}

# Received-to-resolved never exceeds this (≤ 15 working days allowed + ≤ 8 late ≈ 35 days), so
# a query only needs the months from LOOKBACK_DAYS before its start.
LOOKBACK_DAYS = 40
FAULT_KINDS = ("rate_limit", "server_error", "slow", "not_json", "total_changes", "bad_token",
               "error_code", "chunked", "short_page", "drip", "sign_in_unavailable")
_PORTAL_FMT = "%Y%m%d%H%M%S"


@dataclass
class _Fault:
    kind: str
    remaining: int
    opts: dict = field(default_factory=dict)


# (yyyyMMdd received, yyyyMMdd resolved or '', JSON). A plain tuple of atoms, not a class: the
# garbage collector stops tracking those, which keeps a million cached rows from slowing it down.
_Row = tuple[str, str, bytes]


def make_dossier(unit: str, ma_ho_so: str, received: str, **fields) -> dict:
    """A complete dossier with neutral defaults (received in person, in process, flags 0)."""
    proc = PROCEDURES[0]
    record = {
        "MaHoSo": ma_ho_so, "MaTTHC": proc[0], "TenTTHC": proc[1], "MaLinhVuc": proc[2],
        "DonViXuLy": unit, "KenhThucHien": 1, "NgayTiepNhan": received, "NgayHenTra": received,
        "NgayKetThucXuLy": "", "TrangThaiHoSo": 2, "PhaiThanhToan": 0, "DuocThanhToanTrucTuyen": 0,
        "HoSoCoThanhPhanSoHoa": 0, "KetQuaDuocSoHoa": 0, "CoKetQuaDienTu": 0, "DaDongBoDVCQG": 0,
        "CoTaiSuDungDuLieu": 0, "DanhGia": None,
        "ChuHoSo": "Nguyễn Văn A", "SoGiayToChuHoSo": "045090000001", "SoDienThoai": "0912000001",
    }
    record.update(fields)
    return record


def _row(record: dict, profile: str) -> _Row:
    shaped = vnpt_record(record) if profile == "vnpt-igate" else record
    return (str(record.get("NgayTiepNhan") or "")[:8], str(record.get("NgayKetThucXuLy") or "")[:8],
            json.dumps(shaped, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _in_range(rows: list[_Row], tu: str, den: str) -> list[_Row]:
    """Received or resolved within [tu, den], inclusive (yyyyMMdd text compares as dates)."""
    return [row for row in rows if tu <= row[0] <= den or (row[1] and tu <= row[1] <= den)]


# The national record's own fields; anything else a (hand-made) record carries is served as it is.
_NATIONAL_FIELDS = frozenset((
    "MaHoSo", "MaTTHC", "TenTTHC", "MaLinhVuc", "DonViXuLy", "KenhThucHien", "NgayTiepNhan", "NgayHenTra",
    "NgayKetThucXuLy", "TrangThaiHoSo", "PhaiThanhToan", "DuocThanhToanTrucTuyen", "HoSoCoThanhPhanSoHoa",
    "KetQuaDuocSoHoa", "CoKetQuaDienTu", "DaDongBoDVCQG", "CoTaiSuDungDuLieu", "DanhGia", "ChuHoSo",
    "SoGiayToChuHoSo", "SoDienThoai"))


def _utc(value):
    """yyyyMMddHHmmss local → '2025-03-01T02:00:00.000+0000' (Jackson's default); a value that is
    not such a date is served as it is, as a broken vendor would."""
    if not value:
        return None
    s = str(value)
    if len(s) != 14 or not s.isdigit():
        return value
    try:
        moment = datetime(int(s[0:4]), int(s[4:6]), int(s[6:8]), int(s[8:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return value
    return (moment - _UTC_SHIFT).isoformat() + ".000+0000"


def _flag(value):
    return {1: True, 0: False}.get(value, value) if not isinstance(value, bool) else value


def vnpt_record(r: dict) -> dict:
    """A national-sync record in the vnpt-igate shape (codes the vendor lacks are served as they are)."""
    rating = r.get("DanhGia")
    record = {
        "code": r.get("MaHoSo"),
        "nationCode": f"G22.99-{r.get('MaHoSo')}",
        "procedure": {"code": r.get("MaTTHC"), "name": r.get("TenTTHC"), "sector": {"code": r.get("MaLinhVuc")}},
        "agency": {"code": r.get("DonViXuLy")},
        "applyMethod": {"id": VNPT_CHANNEL.get(r.get("KenhThucHien"), r.get("KenhThucHien"))},
        "dossierStatus": {"id": VNPT_STATUS.get(r.get("TrangThaiHoSo"), r.get("TrangThaiHoSo"))},
        "appliedDate": _utc(r.get("NgayTiepNhan")),
        "acceptedDate": _utc(r.get("NgayTiepNhan")),
        "appointmentDate": _utc(r.get("NgayHenTra")),
        "completedDate": _utc(r.get("NgayKetThucXuLy")),
        "payment": {"required": _flag(r.get("PhaiThanhToan")), "paidOnline": _flag(r.get("DuocThanhToanTrucTuyen"))},
        "digitization": {"dossier": _flag(r.get("HoSoCoThanhPhanSoHoa")), "result": _flag(r.get("KetQuaDuocSoHoa"))},
        "electronicResult": _flag(r.get("CoKetQuaDienTu")),
        "nationalSync": {"synced": _flag(r.get("DaDongBoDVCQG"))},
        "reusedData": _flag(r.get("CoTaiSuDungDuLieu")),
        "rating": {"level": VNPT_RATING.get(rating, rating)} if rating is not None else None,
        "applicant": {"data": {"fullname": r.get("ChuHoSo"), "identityNumber": r.get("SoGiayToChuHoSo"),
                               "phoneNumber": r.get("SoDienThoai"), "email": r.get("EmailChuHoSo"),
                               "address": r.get("DiaChiChuHoSo")}},
    }
    record.update((k, v) for k, v in r.items() if k not in _NATIONAL_FIELDS)
    return record


def _add_workdays(moment: datetime, n: int) -> datetime:
    """`n` working days later, at the same time: Vietnam's days off are skipped, as in the province's
    due dates (NgayHenTra)."""
    return datetime.combine(_working_day_after(moment.date(), n), moment.time())


@lru_cache(maxsize=8192)  # a few hundred distinct (day, n) pairs a year; a million dossiers ask them
def _working_day_after(day: date, n: int) -> date:
    return DEFAULT_CALENDAR.working_day_after(day, n)


def _uniform_int(rng: random.Random, lo: int, hi: int) -> int:
    """rng.randint without its overhead: generation speed bounds the benchmark's warm-up."""
    return lo + int(rng.random() * (hi - lo + 1))


def _office_time(rng: random.Random) -> timedelta:
    return timedelta(seconds=7 * 3600 + int(rng.random() * 10 * 3600))  # 07:00–16:59:59


def _month_of(d: date) -> tuple[int, int]:
    return d.year, d.month


def _parse_day(value: str) -> str:
    """yyyyMMdd, validated (ValueError otherwise), kept as text for fast comparisons."""
    if len(value) != 8 or not value.isdigit():
        raise ValueError(value)
    datetime.strptime(value, "%Y%m%d")
    return value


class FakePortal:
    def __init__(self, catalogue_units: list[str] | None = None, *, seed: int = 2025,
                 dossiers_per_unit_month: tuple[int, int] = (80, 400), profile: str = "national-sync",
                 token: str = "demo-token", client_id: str = "tthc-pipeline",
                 client_secret: str = "demo-client-secret", username: str | None = None,
                 password: str | None = None, token_ttl: float = 300, page_size_max: int = MAX_PAGE_SIZE,
                 host: str = "127.0.0.1", port: int = 0, cache_rows: int = 2_000_000, catalogue_dir=None,
                 page_delay: float = 0.0, clock: Callable[[], float] = time.monotonic):
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(PROFILES)}")
        if catalogue_units is None:
            # Every catalogue unit, generating only while it exists (old communes until 06/2025).
            # catalogue_dir: another catalogue (the benchmark's, with synthetic units).
            units = Catalogue.load(catalogue_dir or DEFAULT_CATALOGUE_DIR).units.values()
            self._validity = {u.code: (u.valid_from, u.valid_to) for u in units}
        else:
            self._validity = {code: (None, None) for code in catalogue_units}
        self.profile = profile
        self.seed = seed
        self.per_month = dossiers_per_unit_month
        # national-sync: a static token. vnpt-igate: OAuth2 clients (a user: the password grant).
        self.token = token
        self.client_id, self.client_secret = client_id, client_secret
        self.username, self.password = username, password
        self.token_ttl = token_ttl
        self.page_size_max = page_size_max
        self.page_delay = page_delay  # seconds before each dossier page, as a distant or busy portal answers
        self.requests = 0  # API requests (dossiers and procedures), sign-ins not counted
        self.sign_ins = 0  # tokens issued
        self.refused_sign_ins = 0
        self._issued: dict[str, float] = {}  # access token → when it expires (clock)
        self._clock = clock
        self._address = (host, port)
        self._cache_rows = cache_rows
        self._added: dict[str, list[dict]] = {}
        self._faults: deque[_Fault] = deque()
        self._months: OrderedDict[tuple[str, int, int], list[_Row]] = OrderedDict()
        self._cached_rows = 0
        self._queries: OrderedDict[tuple, list[bytes]] = OrderedDict()
        self._lock = threading.Lock()  # counters, faults and tokens
        self._data_lock = threading.Lock()  # generation and caches
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------
    def start(self) -> "FakePortal":
        self._server = _Server(self._address, _Handler)
        self._server.portal = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-portal", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    def __enter__(self) -> "FakePortal":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def token_url(self) -> str:
        return self.url + TOKEN_PATH

    @property
    def dossier_path(self) -> str:
        return VNPT_DOSSIER_PATH if self.profile == "vnpt-igate" else HOSO_PATH

    def credentials(self) -> dict:
        """The profile and credentials a client needs here (tthc.sources.portal.portal_client's keywords)."""
        if self.profile == "national-sync":
            return {"profile": self.profile, "token": self.token}
        return {"profile": self.profile, "token_url": self.token_url, "client_id": self.client_id,
                "client_secret": self.client_secret, "username": self.username, "password": self.password}

    def settings(self) -> dict:
        """The same as Settings fields (TTHC_PORTAL_URL, TTHC_PORTAL_PROFILE, ...)."""
        return {"portal_url": self.url, **{f"portal_{k}": v for k, v in self.credentials().items()}}

    # --- test controls -------------------------------------------------------
    def add_dossiers(self, unit: str, records: list[dict]) -> None:
        """Serve these records too (after the generated ones, in this order), exactly as given
        (national-sync fields, reshaped for the vnpt-igate profile)."""
        with self._data_lock:
            self._added.setdefault(unit, []).extend(records)
            self._queries.clear()

    def inject(self, kind: str, count: int = 1, **opts) -> None:
        """The next `count` dossier requests (sign-ins for sign_in_*) fail this way, in order.

        Options: rate_limit(seconds=1), slow(seconds=2), total_changes(delta=1),
        error_code(message=...), not_json(body=b"..."), drip(seconds=1.5): the page one byte at a
        time, `seconds` apart; short_page(keep=0): the page with its total but only its first `keep`
        records. bad_token: HTTP 401 (an OAuth2 client signs in again once). sign_in_unavailable:
        the token endpoint answers 503.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._faults.append(_Fault(kind, count, opts))

    def dossiers(self, unit: str, tu_ngay: date, den_ngay: date) -> list[dict]:
        """The dossiers received or resolved in this range, in national-sync fields, personal data
        included, whichever profile serves them (vnpt-igate serves them over two requests)."""
        with self._data_lock:
            rows = self._candidates(unit, f"{tu_ngay:%Y%m%d}", f"{den_ngay:%Y%m%d}", shape="national-sync")
        return [json.loads(body) for _, _, body in rows]

    def procedures(self, unit: str) -> list[dict]:
        rng = random.Random(f"{self.seed}:{unit}:tthc")
        return [{"MaTTHC": code, "TenTTHC": name, "MaLinhVuc": field_code,
                 "DuDieuKienToanTrinh": eligible,
                 "DaCungCapToanTrinh": int(eligible and rng.random() < 0.85)}
                for code, name, field_code, _, _, eligible, _ in PROCEDURES]

    # --- data ----------------------------------------------------------------
    def _selected(self, unit: str, lo: str, hi: str, received: tuple = (None, None),
                  resolved: tuple = (None, None)) -> list[bytes]:
        """The served bodies received or resolved within [lo, hi] and, where given, received and
        resolved within those bounds (yyyyMMdd, inclusive). Cached per query."""
        key = (unit, lo, hi, received, resolved)
        with self._data_lock:
            hit = self._queries.get(key)
            if hit is not None:
                self._queries.move_to_end(key)
                return hit
            rows = self._candidates(unit, lo, hi, shape=self.profile)
            (r_from, r_to), (c_from, c_to) = received, resolved
            if r_from or r_to or c_from or c_to:
                rows = [row for row in rows
                        if (not r_from or r_from <= row[0]) and (not r_to or row[0] <= r_to)
                        and (not (c_from or c_to) or row[1] and (not c_from or c_from <= row[1])
                             and (not c_to or row[1] <= c_to))]
            bodies = [body for _, _, body in rows]
            self._queries[key] = bodies
            if len(self._queries) > 64:
                self._queries.popitem(last=False)
            return bodies

    def _candidates(self, unit: str, tu: str, den: str, shape: str) -> list[_Row]:
        """Rows received or resolved within [tu, den], generated months first, then those added."""
        first = datetime.strptime(tu, "%Y%m%d").date() - timedelta(days=LOOKBACK_DAYS)
        last = datetime.strptime(den, "%Y%m%d").date()
        rows: list[_Row] = []
        if unit in self._validity:
            y, m = _month_of(first)
            while (y, m) <= _month_of(last):
                month = self._month(unit, y, m) if shape == self.profile else self._generate(unit, y, m, shape)
                rows.extend(_in_range(month, tu, den))
                y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        rows.extend(_in_range([_row(r, shape) for r in self._added.get(unit, [])], tu, den))
        return rows

    def _month(self, unit: str, year: int, month: int) -> list[_Row]:
        key = (unit, year, month)
        rows = self._months.get(key)
        if rows is None:
            rows = self._generate(unit, year, month, self.profile)
            self._months[key] = rows
            self._cached_rows += len(rows)
            while self._cached_rows > self._cache_rows and len(self._months) > 1:
                self._cached_rows -= len(self._months.popitem(last=False)[1])
        else:
            self._months.move_to_end(key)
        return rows

    def _generate(self, unit: str, year: int, month: int, shape: str) -> list[_Row]:
        rng = random.Random(f"{self.seed}:{unit}:{year:04d}{month:02d}")
        valid_from, valid_to = self._validity[unit]
        days = [date(year, month, d) for d in range(1, calendar.monthrange(year, month)[1] + 1)]
        days = [d for d in days
                if (valid_from is None or d >= valid_from) and (valid_to is None or d <= valid_to)]
        if not days:
            return []
        # One-stop shops open on weekdays; a few Saturday sessions and online submissions.
        day_weights = [1.0 if d.weekday() < 5 else 0.08 for d in days]
        n = rng.randint(*self.per_month)
        received = sorted(
            datetime(d.year, d.month, d.day) + _office_time(rng)
            for d in rng.choices(days, day_weights, k=n))
        procs = rng.choices(PROCEDURES, _PROC_WEIGHTS, k=n)
        channels = rng.choices((1, 2, 3), (45, 50, 5), k=n)
        yyyymm = f"{year:04d}{month:02d}"
        return [_row(self._dossier(rng, unit, f"{unit}-{yyyymm}-{i:06d}", recv, proc, channel), shape)
                for i, (recv, proc, channel) in enumerate(zip(received, procs, channels), start=1)]

    @staticmethod
    def _dossier(rng: random.Random, unit: str, ma_ho_so: str, recv: datetime, proc: tuple,
                 channel: int) -> dict:
        code, name, field_code, allowed, fee, _, _ = proc
        due = _add_workdays(recv, allowed).replace(hour=17, minute=0, second=0)
        r = rng.random()
        if r < 0.06:
            end, status = None, rng.choice((2, 4, 5, 6))
        else:
            status = 7 if r < 0.08 else 3 if r < 0.11 else 10
            late = rng.random() < 0.07
            end = _add_workdays(due if late else recv, _uniform_int(rng, 1, 8) if late
                                else _uniform_int(rng, 0, allowed))
            end = end.replace(hour=0, minute=0, second=0) + _office_time(rng)
            if end < recv:  # resolved the same day, after it was received
                end = recv + timedelta(minutes=_uniform_int(rng, 5, 90))
        resolved = end is not None
        paid_online = fee and rng.random() < (0.75 if channel == 2 else 0.2)
        rating = None
        if resolved and rng.random() < 0.3:
            rating = rng.choices(("RAT_HAI_LONG", "HAI_LONG", "KHONG_HAI_LONG"), (55, 38, 7))[0]
        gender = rng.getrandbits(1)
        birth_year = _uniform_int(rng, 1950, 2006)
        return {
            "MaHoSo": ma_ho_so, "MaTTHC": code, "TenTTHC": name, "MaLinhVuc": field_code,
            "DonViXuLy": unit, "KenhThucHien": channel,
            "NgayTiepNhan": recv.strftime(_PORTAL_FMT), "NgayHenTra": due.strftime(_PORTAL_FMT),
            "NgayKetThucXuLy": end.strftime(_PORTAL_FMT) if resolved else "",
            "TrangThaiHoSo": status,
            "PhaiThanhToan": fee, "DuocThanhToanTrucTuyen": int(paid_online),
            "HoSoCoThanhPhanSoHoa": int(rng.random() < 0.85),
            "KetQuaDuocSoHoa": int(resolved and rng.random() < 0.8),
            "CoKetQuaDienTu": int(resolved and rng.random() < 0.9),
            "DaDongBoDVCQG": int(rng.random() < 0.96),
            "CoTaiSuDungDuLieu": int(rng.random() < 0.45),
            "DanhGia": rating,
            "ChuHoSo": " ".join((rng.choices(_SURNAMES, _SURNAME_WEIGHTS)[0], rng.choice(_MIDDLE[gender]),
                                 rng.choice(_GIVEN[gender]))),
            # CCCD: province (045 = Quảng Trị), gender+century digit, birth year, 6 digits.
            "SoGiayToChuHoSo": f"{'045' if rng.random() < 0.9 else f'{_uniform_int(rng, 1, 96):03d}'}"
                               f"{gender + (2 if birth_year >= 2000 else 0)}{birth_year % 100:02d}"
                               f"{_uniform_int(rng, 0, 999_999):06d}",
            "SoDienThoai": f"{rng.choice(('09', '03', '07', '08'))}{_uniform_int(rng, 0, 99_999_999):08d}",
        }

    # --- HTTP ----------------------------------------------------------------
    def _take_fault(self, sign_in: bool = False) -> _Fault | None:
        """The next fault, if it is one for this kind of request (sign-in or API)."""
        with self._lock:
            if not self._faults or self._faults[0].kind.startswith("sign_in_") != sign_in:
                return None
            fault = self._faults[0]
            fault.remaining -= 1
            if fault.remaining == 0:
                self._faults.popleft()
            return fault

    def _handle_post(self, h: "_Handler") -> None:
        if urlsplit(h.path).path != TOKEN_PATH or self.profile != "vnpt-igate":
            return h.send_json(404, {"error": "not_found"})
        length = int(h.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(h.rfile.read(length).decode("utf-8")).items()}
        if self._take_fault(sign_in=True):
            return h.send_json(503, {"error": "temporarily_unavailable"})
        grant = form.get("grant_type")
        client_ok = (hmac.compare_digest(form.get("client_id", ""), self.client_id)
                     and hmac.compare_digest(form.get("client_secret", ""), self.client_secret))
        if grant not in ("password", "client_credentials") or (grant == "password") != bool(self.username):
            with self._lock:
                self.refused_sign_ins += 1
            return h.send_json(400, {"error": "unauthorized_client",
                                     "error_description": f"Grant {grant} not allowed for {form.get('client_id')}"})
        user_ok = grant != "password" or (hmac.compare_digest(form.get("username", ""), self.username)
                                          and hmac.compare_digest(form.get("password", ""), self.password or ""))
        if not (client_ok and user_ok):
            with self._lock:
                self.refused_sign_ins += 1
            # As Keycloak does, the description repeats what was sent: the client must not show it.
            return h.send_json(401 if not client_ok else 400, {
                "error": "invalid_client" if not client_ok else "invalid_grant",
                "error_description": f"Invalid credentials for {form.get('username') or form.get('client_id')}"})
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.sign_ins += 1
            self._issued[token] = self._clock() + self.token_ttl
        h.send_json(200, {"access_token": token, "expires_in": self.token_ttl, "token_type": "Bearer",
                          "scope": "profile"})

    def _authorized(self, header: str) -> bool:
        if self.profile == "national-sync":
            return hmac.compare_digest(header.encode(), f"Bearer {self.token}".encode())
        token = header.removeprefix("Bearer ")
        with self._lock:
            expires = self._issued.get(token)
        return expires is not None and self._clock() < expires

    def _handle(self, h: "_Handler") -> None:
        with self._lock:
            self.requests += 1
        url = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        vnpt = self.profile == "vnpt-igate"
        refused = ({"error": "invalid_token", "error_description": "Token is not active"} if vnpt
                   else {"error_code": "401", "message": "Unauthorized"})
        if not self._authorized(h.headers.get("Authorization", "")):
            return h.send_json(401, refused)
        procedures_path, dossiers_path = (VNPT_PROCEDURE_PATH, VNPT_DOSSIER_PATH) if vnpt else (TTHC_PATH, HOSO_PATH)
        if url.path not in (procedures_path, dossiers_path):
            return h.send_json(404, {"status": 404, "error": "Not Found"} if vnpt
                               else {"error_code": "404", "message": "Not found"})
        try:
            if vnpt:
                unit, page, size = query["agency-id"], int(query.get("page", 0)), int(query.get("size", 20))
                received = tuple(_parse_iso_day(query.get(k)) for k in ("accepted-from", "accepted-to"))
                resolved = tuple(_parse_iso_day(query.get(k)) for k in ("completed-from", "completed-to"))
                bounds = [d for d in (*received, *resolved) if d]
                if url.path == dossiers_path and not bounds:
                    raise ValueError
                page_index = page
            else:
                unit = query["maDonVi"]
                page, size = int(query.get("trang", 1)), int(query.get("soBanGhi", self.page_size_max))
                page_index = page - 1
                if url.path == dossiers_path:
                    tu, den = _parse_day(query["tuNgay"]), _parse_day(query["denNgay"])
            if page_index < 0 or size < 1:
                raise ValueError
        except (KeyError, ValueError):
            return h.send_json(400, {"status": 400, "error": "Bad Request",
                                     "message": "agency-id, accepted-/completed-from/to (yyyy-MM-dd), page, size"}
                               if vnpt else {"error_code": "400",
                                             "message": "maDonVi, tuNgay, denNgay (yyyyMMdd), trang, soBanGhi"})
        size = min(size, self.page_size_max)
        if url.path == procedures_path:
            if not vnpt:
                return h.send_json(200, {"error_code": "0", "message": "Thành công", "data": self.procedures(unit)})
            items = [json.dumps(vnpt_procedure(p), ensure_ascii=False).encode("utf-8") for p in self.procedures(unit)]
            return h.send(200, _spring_page(items, page, size, len(items)), "application/json")
        fault = self._take_fault()
        kind = fault.kind if fault else None
        if kind == "bad_token":
            return h.send_json(401, refused)
        if kind == "rate_limit":
            return h.send_json(429, {"error_code": "429", "message": "Too many requests"},
                               headers={"Retry-After": str(fault.opts.get("seconds", 1))})
        if kind == "server_error":
            return h.send_json(500, {"error_code": "500", "message": "Internal server error"})
        if kind == "not_json":
            return h.send(200, fault.opts.get("body", b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
                          "text/html")
        if kind == "error_code":
            message = fault.opts.get("message", "Lỗi hệ thống: không truy vấn được dữ liệu hồ sơ")
            if vnpt:  # a Spring error: a 4xx with the exception's message
                return h.send_json(400, {"timestamp": "2025-03-15T01:00:00.000+0000", "status": 400,
                                         "error": "Bad Request", "message": message, "path": url.path})
            return h.send_json(200, {"error_code": "99", "message": message})
        if kind == "slow":
            time.sleep(fault.opts.get("seconds", 2))
        if self.page_delay:
            time.sleep(self.page_delay)
        if vnpt:
            rows = self._selected(unit, min(bounds), max(bounds), received, resolved)
        else:
            rows = self._selected(unit, tu, den)
        total = len(rows) + (fault.opts.get("delta", 1) if kind == "total_changes" else 0)
        served = rows[page_index * size:(page_index + 1) * size]
        if kind == "short_page":
            served = served[:fault.opts.get("keep", 0)]
        if vnpt:
            body = _spring_page(served, page, size, total, real_total=len(rows))
        else:
            head = json.dumps({"error_code": "0", "message": "Thành công", "tongSoBanGhi": total,
                               "trang": page, "soBanGhi": size}, ensure_ascii=False)
            body = b"".join((head[:-1].encode("utf-8"), b',"data":[', b",".join(served), b"]}"))
        h.send(200, body, "application/json; charset=utf-8", chunked=kind == "chunked",
               drip=fault.opts.get("seconds", 1.5) if kind == "drip" else None)


def _spring_page(items: list[bytes], page: int, size: int, total: int, real_total: int | None = None) -> bytes:
    """A Spring Data page: `content` and its counts (`last` from the records really there)."""
    pages = math.ceil((total if real_total is None else real_total) / size)
    head = json.dumps({"totalElements": total, "totalPages": math.ceil(total / size), "size": size,
                       "number": page, "numberOfElements": len(items), "first": page == 0,
                       "last": page >= pages - 1})
    if real_total is None:
        items = items[page * size:(page + 1) * size]
    return b"".join((b'{"content":[', b",".join(items), b"],", head[1:].encode("utf-8")))


def vnpt_procedure(p: dict) -> dict:
    return {"code": p["MaTTHC"], "name": p["TenTTHC"], "sector": {"code": p["MaLinhVuc"]},
            "fullyOnline": {"eligible": bool(p["DuDieuKienToanTrinh"]), "provided": bool(p["DaCungCapToanTrinh"])}}


def _parse_iso_day(value: str | None) -> str | None:
    """yyyy-MM-dd → yyyyMMdd (None stays None); ValueError for anything else."""
    if value is None:
        return None
    return _parse_day(datetime.strptime(value, "%Y-%m-%d").strftime("%Y%m%d"))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection serves every page
    timeout = 60  # idle keep-alive connections are closed eventually
    # Headers and body leave in two writes: with Nagle's algorithm the body waited for the client's
    # delayed ACK of the headers, 40 ms per response on Linux (1.3 s of a demo month's 30 procedure lists).
    disable_nagle_algorithm = True
    server: "_Server"

    def do_GET(self) -> None:
        self.server.portal._handle(self)

    def do_POST(self) -> None:
        self.server.portal._handle_post(self)

    def send_json(self, status: int, payload: dict, headers: dict | None = None) -> None:
        self.send(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                  "application/json; charset=utf-8", headers=headers)

    def send(self, status: int, body: bytes, content_type: str, *, headers: dict | None = None,
             chunked: bool = False, drip: float | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if not chunked:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if drip is None:
                self.wfile.write(body)
                return
            for i in range(len(body)):  # as a stalled proxy does: every read gets a byte in time
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
                time.sleep(drip)
            return
        # As proxies often stream: no Content-Length, so only the body's real size tells.
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(0, len(body), 65536):
            part = body[i:i + 65536]
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, format, *args) -> None:
        pass  # one line per request would drown test and benchmark output


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    portal: FakePortal

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that timed out and left
            super().handle_error(request, client_address)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a fake provincial TTHC portal.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--profile", choices=PROFILES, default="national-sync")
    parser.add_argument("--token", default="demo-token", help="national-sync: the bearer token")
    parser.add_argument("--client-id", default="tthc-pipeline", help="vnpt-igate: the OAuth2 client")
    parser.add_argument("--client-secret", default="demo-client-secret")
    parser.add_argument("--username", help="vnpt-igate: a user for the password grant (default: client credentials)")
    parser.add_argument("--password")
    parser.add_argument("--token-ttl", type=float, default=300, help="vnpt-igate: access token lifetime, seconds")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--per-month", type=int, nargs=2, metavar=("LO", "HI"), default=(80, 400),
                        help="dossiers per unit and month")
    parser.add_argument("--units", nargs="*", help="unit codes (default: every catalogue unit)")
    parser.add_argument("--catalogue", metavar="DIR",
                        help="serve the units of this catalogue directory, within their validity "
                             "(default: include/catalogue)")
    parser.add_argument("--cache-rows", type=int, default=2_000_000,
                        help="generated dossiers kept in memory (the benchmark needs all of a period's)")
    parser.add_argument("--page-delay", type=float, default=0.0, metavar="SECONDS",
                        help="wait before answering each dossier page, as a distant or busy portal does")
    args = parser.parse_args(argv)
    portal = FakePortal(args.units, seed=args.seed, dossiers_per_unit_month=tuple(args.per_month),
                        profile=args.profile, token=args.token, client_id=args.client_id,
                        client_secret=args.client_secret, username=args.username, password=args.password,
                        token_ttl=args.token_ttl, host=args.host, port=args.port, cache_rows=args.cache_rows,
                        catalogue_dir=args.catalogue, page_delay=args.page_delay)
    with portal:
        where = f" (sign-in: {portal.token_url})" if args.profile == "vnpt-igate" else ""
        print(f"fake portal at {portal.url} {args.profile}{where} (Ctrl-C to stop)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
