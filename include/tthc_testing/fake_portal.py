"""A fake provincial portal: a real HTTP server speaking the spec's contract (spec: "Source 2").

Used by tests, the demo and the benchmark in place of the province's API, which is not public.
Dossiers are generated deterministically per (unit, month) from the seed, lazily and cached, so
the same seed always serves the same data and a million dossiers cost only what is fetched.
Faults can be injected on demand to exercise the client's error handling.

    with FakePortal(["X-19363"], dossiers_per_unit_month=(100, 200)) as portal:
        client = PortalClient(portal.url, portal.token)

Standalone: python -m tthc_testing.fake_portal --port 8765 --token demo-token
"""

from __future__ import annotations

import argparse
import calendar
import hmac
import json
import random
import sys
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tthc.calendar import DEFAULT_CALENDAR
from tthc.catalogue import Catalogue
from tthc.settings import DEFAULT_CATALOGUE_DIR
from tthc.sources.portal.fetch import HOSO_PATH, MAX_PAGE_SIZE, TTHC_PATH

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
               "error_code", "chunked")
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


def _row(record: dict) -> _Row:
    return (str(record.get("NgayTiepNhan") or "")[:8], str(record.get("NgayKetThucXuLy") or "")[:8],
            json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def _in_range(rows: list[_Row], tu: str, den: str) -> list[bytes]:
    """Received or resolved within [tu, den], inclusive (yyyyMMdd text compares as dates)."""
    return [body for received, resolved, body in rows
            if tu <= received <= den or (resolved and tu <= resolved <= den)]


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
                 dossiers_per_unit_month: tuple[int, int] = (80, 400), token: str = "demo-token",
                 page_size_max: int = MAX_PAGE_SIZE, host: str = "127.0.0.1", port: int = 0,
                 cache_rows: int = 2_000_000, catalogue_dir=None):
        if catalogue_units is None:
            # Every catalogue unit, generating only while it exists (old communes until 06/2025).
            # catalogue_dir: another catalogue (the benchmark's, with synthetic units).
            units = Catalogue.load(catalogue_dir or DEFAULT_CATALOGUE_DIR).units.values()
            self._validity = {u.code: (u.valid_from, u.valid_to) for u in units}
        else:
            self._validity = {code: (None, None) for code in catalogue_units}
        self.seed = seed
        self.per_month = dossiers_per_unit_month
        self.token = token
        self.page_size_max = page_size_max
        self.requests = 0
        self._address = (host, port)
        self._cache_rows = cache_rows
        self._added: dict[str, list[_Row]] = {}
        self._faults: deque[_Fault] = deque()
        self._months: OrderedDict[tuple[str, int, int], list[_Row]] = OrderedDict()
        self._cached_rows = 0
        self._queries: OrderedDict[tuple[str, str, str], list[bytes]] = OrderedDict()
        self._lock = threading.Lock()  # counters and faults
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

    # --- test controls -------------------------------------------------------
    def add_dossiers(self, unit: str, records: list[dict]) -> None:
        """Serve these records too (after the generated ones, in this order), exactly as given."""
        with self._data_lock:
            self._added.setdefault(unit, []).extend(_row(r) for r in records)
            self._queries.clear()

    def inject(self, kind: str, count: int = 1, **opts) -> None:
        """The next `count` dossier requests fail this way; faults queue up in order.

        Options: rate_limit(seconds=1), slow(seconds=2), total_changes(delta=1),
        error_code(message=...).
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._faults.append(_Fault(kind, count, opts))

    def dossiers(self, unit: str, tu_ngay: date, den_ngay: date) -> list[dict]:
        """What the hoso endpoint serves for this range, in order, personal data included."""
        return [json.loads(b) for b in self._matching(unit, f"{tu_ngay:%Y%m%d}", f"{den_ngay:%Y%m%d}")]

    def procedures(self, unit: str) -> list[dict]:
        rng = random.Random(f"{self.seed}:{unit}:tthc")
        return [{"MaTTHC": code, "TenTTHC": name, "MaLinhVuc": field_code,
                 "DuDieuKienToanTrinh": eligible,
                 "DaCungCapToanTrinh": int(eligible and rng.random() < 0.85)}
                for code, name, field_code, _, _, eligible, _ in PROCEDURES]

    # --- data ----------------------------------------------------------------
    def _matching(self, unit: str, tu: str, den: str) -> list[bytes]:
        key = (unit, tu, den)
        with self._data_lock:
            hit = self._queries.get(key)
            if hit is not None:
                self._queries.move_to_end(key)
                return hit
            first = datetime.strptime(tu, "%Y%m%d").date() - timedelta(days=LOOKBACK_DAYS)
            last = datetime.strptime(den, "%Y%m%d").date()
            rows: list[bytes] = []
            if unit in self._validity:
                y, m = _month_of(first)
                while (y, m) <= _month_of(last):
                    rows.extend(_in_range(self._month(unit, y, m), tu, den))
                    y, m = (y + 1, 1) if m == 12 else (y, m + 1)
            rows.extend(_in_range(self._added.get(unit, []), tu, den))
            self._queries[key] = rows
            if len(self._queries) > 64:
                self._queries.popitem(last=False)
            return rows

    def _month(self, unit: str, year: int, month: int) -> list[_Row]:
        key = (unit, year, month)
        rows = self._months.get(key)
        if rows is None:
            rows = self._generate(unit, year, month)
            self._months[key] = rows
            self._cached_rows += len(rows)
            while self._cached_rows > self._cache_rows and len(self._months) > 1:
                self._cached_rows -= len(self._months.popitem(last=False)[1])
        else:
            self._months.move_to_end(key)
        return rows

    def _generate(self, unit: str, year: int, month: int) -> list[_Row]:
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
        return [_row(self._dossier(rng, unit, f"{unit}-{yyyymm}-{i:06d}", recv, proc, channel))
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
    def _take_fault(self) -> _Fault | None:
        with self._lock:
            if not self._faults:
                return None
            fault = self._faults[0]
            fault.remaining -= 1
            if fault.remaining == 0:
                self._faults.popleft()
            return fault

    def _handle(self, h: "_Handler") -> None:
        with self._lock:
            self.requests += 1
        url = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        expected = f"Bearer {self.token}".encode()
        if not hmac.compare_digest(h.headers.get("Authorization", "").encode(), expected):
            return h.send_json(401, {"error_code": "401", "message": "Unauthorized"})
        if url.path == TTHC_PATH:
            return h.send_json(200, {"error_code": "0", "message": "Thành công",
                                     "data": self.procedures(query.get("maDonVi", ""))})
        if url.path != HOSO_PATH:
            return h.send_json(404, {"error_code": "404", "message": "Not found"})
        try:
            unit = query["maDonVi"]
            tu, den = _parse_day(query["tuNgay"]), _parse_day(query["denNgay"])
            page, size = int(query.get("trang", 1)), int(query.get("soBanGhi", self.page_size_max))
            if page < 1 or size < 1:
                raise ValueError
        except (KeyError, ValueError):
            return h.send_json(400, {"error_code": "400",
                                     "message": "maDonVi, tuNgay, denNgay (yyyyMMdd), trang, soBanGhi"})
        fault = self._take_fault()
        kind = fault.kind if fault else None
        if kind == "bad_token":
            return h.send_json(401, {"error_code": "401", "message": "Unauthorized"})
        if kind == "rate_limit":
            return h.send_json(429, {"error_code": "429", "message": "Too many requests"},
                               headers={"Retry-After": str(fault.opts.get("seconds", 1))})
        if kind == "server_error":
            return h.send_json(500, {"error_code": "500", "message": "Internal server error"})
        if kind == "not_json":
            return h.send(200, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
        if kind == "error_code":
            return h.send_json(200, {"error_code": "99", "message": fault.opts.get(
                "message", "Lỗi hệ thống: không truy vấn được dữ liệu hồ sơ")})
        if kind == "slow":
            time.sleep(fault.opts.get("seconds", 2))
        rows = self._matching(unit, tu, den)
        size = min(size, self.page_size_max)
        total = len(rows) + (fault.opts.get("delta", 1) if kind == "total_changes" else 0)
        head = json.dumps({"error_code": "0", "message": "Thành công", "tongSoBanGhi": total,
                           "trang": page, "soBanGhi": size}, ensure_ascii=False)
        body = b"".join((head[:-1].encode("utf-8"), b',"data":[',
                         b",".join(rows[(page - 1) * size:page * size]), b"]}"))
        h.send(200, body, "application/json; charset=utf-8", chunked=kind == "chunked")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection serves every page
    timeout = 60  # idle keep-alive connections are closed eventually
    server: "_Server"

    def do_GET(self) -> None:
        self.server.portal._handle(self)

    def send_json(self, status: int, payload: dict, headers: dict | None = None) -> None:
        self.send(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"),
                  "application/json; charset=utf-8", headers=headers)

    def send(self, status: int, body: bytes, content_type: str, *, headers: dict | None = None,
             chunked: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if not chunked:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
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
    parser.add_argument("--token", default="demo-token")
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument("--per-month", type=int, nargs=2, metavar=("LO", "HI"), default=(80, 400),
                        help="dossiers per unit and month")
    parser.add_argument("--units", nargs="*", help="unit codes (default: every catalogue unit)")
    parser.add_argument("--catalogue", metavar="DIR",
                        help="serve the units of this catalogue directory, within their validity "
                             "(default: include/catalogue)")
    parser.add_argument("--cache-rows", type=int, default=2_000_000,
                        help="generated dossiers kept in memory (the benchmark needs all of a period's)")
    args = parser.parse_args(argv)
    portal = FakePortal(args.units, seed=args.seed, dossiers_per_unit_month=tuple(args.per_month),
                        token=args.token, host=args.host, port=args.port, cache_rows=args.cache_rows,
                        catalogue_dir=args.catalogue)
    with portal:
        print(f"fake portal at {portal.url} (Ctrl-C to stop)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
