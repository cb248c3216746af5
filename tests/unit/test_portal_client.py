"""The portal client against the fake portal over real HTTP on loopback (no mocked transport).

Every test using the `portal` fixture runs once per shipped profile (national-sync, vnpt-igate):
the same dossiers, faults and expectations, served in each vendor's shape.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import logging
import math
import re
import time
import traceback
from collections import Counter
from datetime import date, datetime

import hypothesis
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tthc.calendar import DEFAULT_CALENDAR, ReportingCalendar
from tthc.periods import LOCAL_TZ, Period
from tthc.sources.portal import (
    KEPT_FIELDS,
    PERSONAL_FIELDS,
    PortalAuthError,
    PortalDataError,
    PortalError,
    PortalUnavailableError,
    ProfileError,
    archive_pages,
    load_profile,
    page_records,
    parse_portal_datetime,
    portal_client,
    portal_from_settings,
    read_archive,
)
from tthc.settings import Settings
from tthc.sources.portal import profile as profile_module
from tthc_testing.fake_portal import LOOKBACK_DAYS, PROFILES, FakePortal, make_dossier, vnpt_record

MARCH = Period(2025, 3)  # Decree 09: 15/02/2025 00:00 to 14/03/2025 23:59:59
CANARY_SECRET = "canary-tok-7f3a9c21e5"
CANARY_NAME, CANARY_ID, CANARY_PHONE = "Canary Trịnh Thị Zê", "099912345678", "0999123456"
CANARY_EMAIL, CANARY_ADDRESS = "canary.ze@example.vn", "Thôn Canary, xã Vĩnh Zê"


class SleepRecorder(list):
    """Records the waits the client asks for instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Clock:
    """A clock the test moves, shared by the fake portal (token expiry) and the client."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=PROFILES)
def profile(request):
    return request.param


@pytest.fixture
def portal(profile):
    with FakePortal(["U1"], dossiers_per_unit_month=(120, 160), profile=profile) as p:
        yield p


@pytest.fixture
def sleeps():
    return SleepRecorder()


@pytest.fixture
def make_client(portal, sleeps):
    clients = []

    def make(**options):
        """A client of `portal`; credentials given here (token=, client_secret=, ...) replace its own."""
        credentials = portal.credentials()
        credentials.update({k: options.pop(k) for k in list(options) if k in credentials})
        options = {"page_size": 100, "backoff_base": 0.1, "max_retries": 3, "sleep": sleeps, **options}
        c = portal_client(portal.url, **credentials, **options)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


def records(client, unit="U1", period=MARCH, scheme="decree09"):
    return [r for page in client.iter_dossier_pages(unit, period, ReportingCalendar(scheme=scheme))
            for r in page_records(page)]


def hand_made(unit, n, received="20250301090000", **fields):
    return [make_dossier(unit, f"{unit}-{i:03d}", received, **fields) for i in range(n)]


def requests_per_fetch(portal) -> int:
    """How many dossier requests a fetch makes (vnpt-igate: received, then resolved; see its profile)."""
    return len(load_profile(portal.profile).dossiers.requests)


def wrong_secret(portal) -> dict:
    """The profile's credential, wrong: the bearer token, or the OAuth2 client secret."""
    return {"token": CANARY_SECRET} if portal.profile == "national-sync" else {"client_secret": CANARY_SECRET}


# --- paging and the date range -------------------------------------------------------------
def test_every_dossier_of_the_period_exactly_once_across_pages(portal, make_client):
    client = make_client(page_size=50)
    pages = list(client.iter_dossier_pages("U1", MARCH))
    served = portal.dossiers("U1", date(2025, 2, 15), date(2025, 3, 14))
    got = [r for page in pages for r in page_records(page)]
    assert sorted(r["MaHoSo"] for r in got) == sorted(r["MaHoSo"] for r in served)
    assert len({r["MaHoSo"] for r in got}) == len(got) > 100
    assert all(len(p["MaHoSo"]) <= 50 for p in pages) and len(pages) >= math.ceil(len(got) / 50)
    assert portal.requests == len(pages)
    for r in got:
        dates = {r["received_at"][:10], (r["resolved_at"] or "")[:10]}
        assert any("2025-02-15" <= d <= "2025-03-14" for d in dates)


@pytest.mark.parametrize("scheme, inside, outside", [
    ("decree09", ["20250215000000", "20250314235959"], ["20250214235959", "20250315000000"]),
    ("calendar", ["20250301000000", "20250331235959"], ["20250228235959", "20250401000000"]),
])
def test_period_bounds_decide_the_date_range(portal, make_client, scheme, inside, outside):
    portal.add_dossiers("H1", [make_dossier("H1", f"in-{t}", t) for t in inside]
                        + [make_dossier("H1", f"out-{t}", t) for t in outside]
                        # received long before, resolved in the period: counted as resolved
                        + [make_dossier("H1", "old-resolved", "20241210080000",
                                        NgayKetThucXuLy=inside[1], TrangThaiHoSo=10)])
    got = {r["MaHoSo"]: r for r in records(make_client(), "H1", MARCH, scheme)}
    assert set(got) == {f"in-{t}" for t in inside} | {"old-resolved"}
    # Local time whatever the vendor sends (vnpt-igate: UTC): the period's last second stays in it.
    assert got[f"in-{inside[1]}"]["received_at"] == (f"{inside[1][:4]}-{inside[1][4:6]}-{inside[1][6:8]}"
                                                     f"T23:59:59+07:00")


def test_duplicate_across_pages_is_passed_through_for_the_warehouse_to_dedupe(portal, make_client):
    dossiers = hand_made("H1", 3)
    portal.add_dossiers("H1", dossiers + [dossiers[0]])
    pages = list(make_client(page_size=2).iter_dossier_pages("H1", MARCH))
    assert [len(p["MaHoSo"]) for p in pages] == [2, 2]
    assert Counter(r["MaHoSo"] for p in pages for r in page_records(p))["H1-000"] == 2


def test_unknown_unit_is_an_empty_result(make_client, portal):
    assert records(make_client(), "NO-SUCH-UNIT") == []
    assert portal.requests == requests_per_fetch(portal)


def test_fetch_procedures(make_client, portal):
    procedures = make_client().fetch_procedures("U1")
    assert procedures == [{k: p[k] for k in ("MaTTHC", "TenTTHC", "DuDieuKienToanTrinh", "DaCungCapToanTrinh")}
                          for p in portal.procedures("U1")]
    assert {p["DuDieuKienToanTrinh"] for p in procedures} == {0, 1}
    assert all(p["DaCungCapToanTrinh"] <= p["DuDieuKienToanTrinh"] for p in procedures)


def test_both_profiles_give_the_same_records():
    """The same dossiers through each vendor's shape and its profile's mapping: identical fields."""
    got = {}
    for profile in PROFILES:
        with FakePortal(["U1"], dossiers_per_unit_month=(150, 150), profile=profile) as portal:
            portal.add_dossiers("U1", hand_made("U1", 5, DanhGia="HAI_LONG", NgayKetThucXuLy="20250305103000",
                                                TrangThaiHoSo=10, KenhThucHien=3))
            with portal_client(portal.url, **portal.credentials(), salt=b"s") as client:
                got[profile] = sorted(records(client), key=lambda r: r["MaHoSo"])
                got[profile, "procedures"] = client.fetch_procedures("U1")
    assert got["national-sync"] == got["vnpt-igate"] and len(got["vnpt-igate"]) > 150
    assert got["national-sync", "procedures"] == got["vnpt-igate", "procedures"]
    assert {r["TrangThaiHoSo"] for r in got["vnpt-igate"]} >= {2, 3, 7, 10}


# --- retries -------------------------------------------------------------------------------
def test_rate_limit_waits_the_retry_after_seconds(portal, make_client, sleeps):
    portal.inject("rate_limit", seconds=7)
    got = records(make_client())
    assert len(got) == len(portal.dossiers("U1", date(2025, 2, 15), date(2025, 3, 14)))
    assert sleeps == [7]


def test_server_errors_are_retried_with_growing_backoff(portal, make_client, sleeps):
    client = make_client()
    expected = records(client)
    requests_clean = portal.requests
    portal.inject("server_error", count=3)
    assert records(client) == expected
    assert portal.requests - requests_clean == requests_clean + 3
    assert len(sleeps) == 3 and sleeps[0] < sleeps[1] < sleeps[2]


def test_retries_exhausted_is_unavailable_naming_the_path(portal, make_client):
    portal.inject("server_error", count=10)
    with pytest.raises(PortalUnavailableError, match=portal.dossier_path) as err:
        records(make_client(max_retries=2))
    assert portal.requests == 3
    assert "HTTP 500" in str(err.value)


def test_slow_response_times_out_and_is_retried(portal, make_client, sleeps):
    records(make_client())  # the fake portal generates its data once, outside the timeouts below
    portal.inject("slow", seconds=0.6)
    assert records(make_client(timeout=0.15))
    assert len(sleeps) == 1
    portal.inject("slow", count=2, seconds=0.6)
    with pytest.raises(PortalUnavailableError, match="Timeout"):
        records(make_client(timeout=0.15, max_retries=1))


def test_connection_refused_is_unavailable(profile, sleeps):
    with FakePortal([], profile=profile) as gone:
        url, credentials = gone.url, gone.credentials()
    with portal_client(url, **credentials, max_retries=1, sleep=sleeps) as client:
        with pytest.raises(PortalUnavailableError, match="ConnectError"):
            records(client)
    assert len(sleeps) == 1


def test_a_not_json_page_is_retried_then_a_data_error(portal, make_client):
    portal.inject("not_json")
    assert records(make_client())
    portal.inject("not_json", count=5)
    with pytest.raises(PortalDataError, match="not JSON"):
        records(make_client(max_retries=2))


# --- inconsistent or oversized answers -------------------------------------------------------
def test_total_changing_between_pages_is_a_data_error(portal, make_client):
    client = make_client(page_size=50)
    pages = client.iter_dossier_pages("U1", MARCH)
    next(pages)
    portal.inject("total_changes", delta=3)
    with pytest.raises(PortalDataError, match="total changed between pages"):
        next(pages)


def test_a_portal_error_is_refused_without_the_portals_message(portal, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    portal.inject("error_code", message=f"Không xử lý được hồ sơ của {CANARY_NAME}, CCCD {CANARY_ID}")
    if portal.profile == "national-sync":  # HTTP 200 with error_code "99"
        expected = (PortalDataError, r"error_code '99' \(a JSON object with keys error_code, message; "
                                     r"the message is not shown\)")
    else:  # a Spring error: HTTP 400 with the exception's message
        expected = (PortalError, r"unexpected HTTP 400 \(the body is not shown\)")
    with pytest.raises(expected[0], match=expected[1]) as err:
        records(make_client())
    assert portal.requests == 1
    assert_nothing_quoted(err.value, caplog)


def test_a_not_json_body_is_described_by_its_shape_only(portal, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    body = f"<html>Lỗi: hồ sơ của {CANARY_NAME} ({CANARY_ID}) không hợp lệ</html>".encode()
    portal.inject("not_json", count=3, body=body)
    with pytest.raises(PortalDataError, match=f"not JSON \\(text/html, {len(body)} bytes\\)") as err:
        records(make_client(max_retries=2))
    assert "retry 1/2" in caplog.text
    assert_nothing_quoted(err.value, caplog)


def assert_nothing_quoted(error: Exception, caplog) -> None:
    shown = [str(error), repr(error), caplog.text, "".join(traceback.format_exception(error))]
    for value in (CANARY_NAME, CANARY_ID, "Không xử lý", "Lỗi: hồ sơ"):
        assert not [s for s in shown if value in s], value


def test_too_many_pages_fails_before_fetching_them(portal, make_client):
    with pytest.raises(PortalDataError, match="exceed the limit of 2 pages"):
        records(make_client(page_size=10, max_pages=2))
    assert portal.requests == 1


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "streamed"])
def test_oversized_page_is_a_data_error(portal, make_client, chunked):
    if chunked:
        portal.inject("chunked")
    with pytest.raises(PortalDataError, match="exceeds the limit of 20000"):
        records(make_client(page_size=100, max_page_bytes=20_000))


# --- whole or nothing: the announced total -------------------------------------------------
def test_an_empty_page_before_the_announced_total_is_a_data_error(portal, make_client):
    portal.add_dossiers("H1", hand_made("H1", 2500))
    pages = make_client(page_size=1000).iter_dossier_pages("H1", MARCH)
    assert len(next(pages)["MaHoSo"]) == 1000
    portal.inject("short_page")  # page 2 of 3: the total still says 2,500, but no records
    total = load_profile(portal.profile).paging.total
    with pytest.raises(PortalDataError, match=f"page 2 of 3 has no records after 1000 of the 2500 announced "
                                              f"\\({total}\\); the unit-period is not loaded"):
        next(pages)


def test_pages_adding_up_to_less_than_the_total_are_a_data_error(portal, make_client):
    portal.add_dossiers("H1", hand_made("H1", 25))
    portal.inject("slow", seconds=0)
    portal.inject("short_page", keep=4)  # page 2 of 3 serves 4 of its 10 records
    total = load_profile(portal.profile).paging.total
    with pytest.raises(PortalDataError, match=f"19 records in 3 pages, but the portal announced 25 "
                                              f"\\({total}\\); the unit-period is not loaded"):
        records(make_client(page_size=10), "H1")


# --- one deadline per unit -----------------------------------------------------------------
def test_a_portal_dripping_bytes_is_abandoned_at_the_fetch_deadline(portal, make_client):
    portal.inject("drip", seconds=0.05)  # each read gets a byte well within the read timeout
    client = make_client(timeout=0.5, fetch_deadline=1.0, max_retries=0)
    started = time.monotonic()
    with pytest.raises(PortalUnavailableError, match=r"ran out of its 1 s \(TTHC_PORTAL_FETCH_DEADLINE\) "
                                                     r"while reading a response"):
        records(client)
    assert time.monotonic() - started < 2.5


def test_a_retry_that_would_end_after_the_deadline_is_not_waited_for(portal, make_client, sleeps):
    portal.inject("rate_limit", seconds=60)
    with pytest.raises(PortalUnavailableError, match="ran out of its 30 s .* a retry in 60 s"):
        records(make_client(fetch_deadline=30))
    assert sleeps == [] and portal.requests == 1


def test_procedures_and_pages_share_the_units_deadline(portal, make_client):
    clock = Clock()
    client = make_client(fetch_deadline=10, clock=clock)
    deadline = client.deadline()
    assert client.fetch_procedures("U1", deadline)
    clock.now += 10  # the procedures took the whole budget
    with pytest.raises(PortalUnavailableError, match="ran out of its 10 s .* before the request"):
        list(client.iter_dossier_pages("U1", MARCH, deadline=deadline))
    assert portal.requests == 1


# --- secrets and personal data -------------------------------------------------------------
def test_bad_credentials_fail_at_once_and_are_never_shown(portal, make_client, caplog, sleeps):
    caplog.set_level(logging.DEBUG)
    client = make_client(**wrong_secret(portal))
    with pytest.raises(PortalAuthError, match="refused") as err:
        records(client)
    assert portal.requests == (1 if portal.profile == "national-sync" else 0)  # OAuth2: the sign-in refused
    assert sleeps == [] and portal.refused_sign_ins == (0 if portal.profile == "national-sync" else 1)
    shown = [str(err.value), repr(err.value), repr(client), caplog.text,
             "".join(traceback.format_exception(err.value))]
    assert not [s for s in shown if CANARY_SECRET in s]


def test_a_refused_token_mid_run(portal, make_client, sleeps):
    """A static token refused once is refused for good; an OAuth2 client signs in again, once."""
    portal.inject("bad_token")
    client = make_client()
    if portal.profile == "national-sync":
        with pytest.raises(PortalAuthError):
            records(client)
        assert portal.requests == 1 and sleeps == []
    else:
        assert records(client)
        assert portal.sign_ins == 2 and sleeps == []


def test_credentials_absent_from_retry_logs_and_failures(profile, sleeps, caplog):
    caplog.set_level(logging.DEBUG)
    with FakePortal(["U1"], token=CANARY_SECRET, client_secret=CANARY_SECRET, password=CANARY_SECRET,
                    username="canary-user", profile=profile, dossiers_per_unit_month=(5, 5)) as canary_portal:
        canary_portal.inject("server_error", count=3)
        with portal_client(canary_portal.url, **canary_portal.credentials(), max_retries=2,
                           sleep=sleeps) as client:
            with pytest.raises(PortalUnavailableError) as err:
                records(client)
    assert CANARY_SECRET not in caplog.text + str(err.value) + repr(client) + repr(client.auth)
    assert "retry 1/2" in caplog.text


def test_personal_data_never_leaves_the_client(portal, make_client, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    # The spec's three personal fields, and what real portals add beside them: only an allow-list
    # keeps fields nobody named out of the archive.
    planted = hand_made("H1", 3, ChuHoSo=CANARY_NAME, SoGiayToChuHoSo=CANARY_ID, SoDienThoai=CANARY_PHONE,
                        chuHoSo=CANARY_NAME, soDienThoai=CANARY_PHONE, EmailChuHoSo=CANARY_EMAIL,
                        DiaChiChuHoSo=CANARY_ADDRESS, NguoiNopHoSo={"HoTen": CANARY_NAME, "CCCD": CANARY_ID})
    planted[1]["SoGiayToChuHoSo"] = "0999 1234 5678"  # same person, typed with spaces
    portal.add_dossiers("H1", planted)
    salt = b"test-salt"
    client = make_client(page_size=2, salt=salt)
    archive = tmp_path / "H1" / "2025-03.jsonl.gz"
    pages = list(archive_pages(client.iter_dossier_pages("H1", MARCH), archive))
    got = [r for page in pages for r in page_records(page)]

    assert len(got) == 3 and all(r.keys() == {*KEPT_FIELDS, "ChuHoSoKey"} for r in got)
    assert all(not set(PERSONAL_FIELDS) & r.keys() for r in got)
    key = hmac.new(salt, CANARY_ID.encode(), hashlib.sha256).hexdigest()
    assert {r["ChuHoSoKey"] for r in got} == {key}
    stored = gzip.decompress(archive.read_bytes()).decode("utf-8")
    for value in (CANARY_NAME, CANARY_ID, CANARY_PHONE, CANARY_EMAIL, CANARY_ADDRESS, "0999 1234 5678"):
        assert value not in stored and value not in caplog.text
    assert list(read_archive(archive)) == pages
    assert [p.name for p in archive.parent.iterdir()] == [archive.name]


def test_without_a_salt_there_is_no_applicant_key(portal, make_client):
    portal.add_dossiers("H1", hand_made("H1", 2))
    assert all("ChuHoSoKey" not in r for r in records(make_client(), "H1"))


def test_a_failed_run_leaves_no_partial_archive(portal, make_client, tmp_path):
    archive = tmp_path / "U1-2025-03.jsonl.gz"
    pages = archive_pages(make_client(page_size=50, max_retries=0).iter_dossier_pages("U1", MARCH), archive)
    next(pages)
    portal.inject("server_error")
    with pytest.raises(PortalUnavailableError):
        list(pages)
    assert list(tmp_path.iterdir()) == []


# --- OAuth2 sign-in (vnpt-igate) -------------------------------------------------------------
@pytest.fixture
def oauth(sleeps):
    """A vnpt-igate portal with a 300 s token, on a clock the test moves."""
    clock = Clock()
    with FakePortal(["U1"], dossiers_per_unit_month=(120, 160), profile="vnpt-igate", token_ttl=300,
                    clock=clock) as portal:
        portal.clock = clock
        yield portal


def oauth_client(portal, **options):
    return portal_client(portal.url, **{**portal.credentials(), **options}, page_size=20, sleep=SleepRecorder(),
                         clock=portal.clock, backoff_base=0.01)


def test_the_token_is_signed_in_once_and_cached_across_pages_and_calls(oauth):
    with oauth_client(oauth) as client:
        assert len(records(client)) > 100 and client.fetch_procedures("U1")
    assert oauth.sign_ins == 1 and oauth.requests > 8


def test_the_token_is_renewed_mid_fetch_shortly_before_it_expires(oauth):
    with oauth_client(oauth) as client:
        pages = client.iter_dossier_pages("U1", MARCH)
        next(pages)
        oauth.clock.now += 269  # 31 s of the 300 left: still good
        next(pages)
        assert oauth.sign_ins == 1
        oauth.clock.now += 2  # 29 s left: renewed before the next request, not after a 401
        next(pages)
        assert oauth.sign_ins == 2
        oauth.clock.now += 600  # long after both tokens expired (a slow portal, a long fetch)
        assert len([r for page in pages for r in page_records(page)]) > 40
    assert oauth.sign_ins == 3


def test_a_401_is_answered_by_one_sign_in_not_a_storm(oauth):
    oauth.inject("bad_token", count=2)  # the token refused, and the fresh one too
    with oauth_client(oauth) as client:
        with pytest.raises(PortalAuthError, match=r"refused the access token signed in at .*/token \(HTTP 401\)"):
            records(client)
    assert oauth.sign_ins == 2 and oauth.requests == 2


@pytest.mark.parametrize("user", [None, "can-bo-mot-cua"], ids=["client-credentials", "password"])
def test_both_grants(user, sleeps):
    with FakePortal(["U1"], profile="vnpt-igate", username=user, password=user and "mat-khau",
                    dossiers_per_unit_month=(10, 10)) as portal:
        with portal_client(portal.url, **portal.credentials(), sleep=sleeps) as client:
            assert client.auth.grant == ("password" if user else "client_credentials")
            assert records(client)
        with portal_client(portal.url, **{**portal.credentials(), "password": "sai"} if user
                           else {**portal.credentials(), "client_secret": "sai"}) as client:
            with pytest.raises(PortalAuthError, match=r"refused the .* grant \(HTTP 40[01], error "
                                                      r"'invalid_(client|grant)'\)") as err:
                records(client)
            # Keycloak's error_description repeats the user: never shown.
            assert "Invalid credentials" not in str(err.value) and (user or "tthc-pipeline") not in str(err.value)
        assert portal.refused_sign_ins == 1


def test_a_sign_in_endpoint_down_is_retried_like_the_portal(oauth):
    oauth.inject("sign_in_unavailable", count=2)
    with oauth_client(oauth) as client:
        assert records(client)
    assert oauth.sign_ins == 1


# --- profiles ------------------------------------------------------------------------------
def test_a_vendor_record_is_mapped_by_the_profile_alone():
    """A literal vnpt-igate record (no fake portal): nested paths, codes, UTC dates, nothing personal."""
    record = {"code": "HS-1", "procedure": {"code": "1.001193", "name": "Đăng ký khai sinh", "sector": {"code": "HT"}},
              "agency": {"code": "X-19363"}, "applyMethod": {"id": 1}, "dossierStatus": {"id": 9},
              "acceptedDate": "2025-03-14T17:30:00.000+0000", "appointmentDate": "2025-03-20T10:00:00Z",
              "completedDate": "2025-03-19T16:00:00+07:00",
              "payment": {"required": True, "paidOnline": False}, "digitization": {"dossier": True, "result": None},
              "electronicResult": True, "nationalSync": {"synced": "yes"}, "reusedData": False, "rating": None,
              "applicant": {"data": {"fullname": CANARY_NAME, "identityNumber": CANARY_ID, "email": CANARY_EMAIL}}}
    (got,) = page_records(load_profile("vnpt-igate").dossiers.mapping.columns([record], b"salt"))
    assert got == {
        "MaHoSo": "HS-1", "MaTTHC": "1.001193", "MaLinhVuc": "HT", "DonViXuLy": "X-19363", "KenhThucHien": 2,
        "TrangThaiHoSo": 10, "received_at": "2025-03-15T00:30:00+07:00",  # 17:30 UTC is the next day here
        "due_at": "2025-03-20T17:00:00+07:00", "resolved_at": "2025-03-19T16:00:00+07:00",
        "PhaiThanhToan": 1, "DuocThanhToanTrucTuyen": 0, "HoSoCoThanhPhanSoHoa": 1,
        "KetQuaDuocSoHoa": None, "CoKetQuaDienTu": 1, "DaDongBoDVCQG": "yes",  # kept as sent: the suite names it
        "CoTaiSuDungDuLieu": 0, "DanhGia": None,
        "ChuHoSoKey": hmac.new(b"salt", CANARY_ID.encode(), hashlib.sha256).hexdigest()}
    assert record["applicant"]["data"]["fullname"] == CANARY_NAME  # the input is left as it was


@pytest.mark.parametrize("column, expected", [
    (["2025-03-14T17:30:00.000+0000", None, ""], ["2025-03-15T00:30:00+07:00", None, None]),  # UTC, one offset
    (["2025-03-14T17:30:00Z", "2025-03-14T17:30:00+07:00"], ["2025-03-15T00:30:00+07:00", "2025-03-14T17:30:00+07:00"]),
    (["2025-03-14T09:00+07:00"], ["2025-03-14T09:00:00+07:00"]),  # no seconds: read value by value
    (["2025-03-14T09:00:00", "2025-03-14"], ["2025-03-14T09:00:00+07:00", "2025-03-14T00:00:00+07:00"]),  # local
    (["2025-02-30T00:00:00Z", "14/03/2025", 7], ["2025-02-30T00:00:00Z", "14/03/2025", "7"]),  # kept as sent
])
def test_iso8601_dates_become_local_time_or_stay_as_sent(column, expected):
    field = load_profile("vnpt-igate").dossiers.mapping.fields["received_at"]
    assert field.convert(column) == expected



@pytest.mark.parametrize("column, expected", [
    (["20250314235959", None, "20240229000000", ""],
     ["2025-03-14T23:59:59+07:00", None, "2024-02-29T00:00:00+07:00", None]),
    ([None, None], [None, None]),
    ([], []),
    # One value the column path cannot take sends the whole column value by value, each kept as sent.
    (["20250314235959", "20250229000000"], ["2025-03-14T23:59:59+07:00", "20250229000000"]),  # not a leap year
    (["20251301000000", "20250314240000", "20250314235960", "00000101000000"],
     ["20251301000000", "20250314240000", "20250314235960", "00000101000000"]),
    (["20250314235959", " 20250314235959 ", "", 20250314235959],
     ["2025-03-14T23:59:59+07:00", "2025-03-14T23:59:59+07:00", None, "2025-03-14T23:59:59+07:00"]),
    (["２０２５０３１４２３５９５９", "2025031423595x", "202503142359"],  # full-width digits are not ASCII
     ["２０２５０３１４２３５９５９", "2025031423595x", "202503142359"]),
])
def test_compact_dates_become_local_time_or_stay_as_sent(column, expected):
    field = load_profile("national-sync").dossiers.mapping.fields["received_at"]
    assert field.convert(column) == expected


@hypothesis.settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.just(""), st.from_regex(r"\A[0-9]{14}\Z"), st.datetimes().map(
    lambda moment: moment.strftime("%Y%m%d%H%M%S")).filter(lambda text: len(text) == 14), st.text(max_size=16))))
def test_the_compact_date_column_path_equals_the_value_by_value_one(column):
    assert profile_module._compact_column(column) == [profile_module._compact_local(v) for v in column]

def test_the_fake_vendor_shape_hides_the_national_names():
    shaped = vnpt_record(make_dossier("U", "A", "20250301090000", ChuHoSo=CANARY_NAME))
    assert "MaHoSo" not in shaped and shaped["acceptedDate"] == "2025-03-01T02:00:00.000+0000"
    assert shaped["applicant"]["data"]["fullname"] == CANARY_NAME


@pytest.mark.parametrize("change, message", [
    (("fields", "DaDongBoDVCQG"), "dossiers.fields: missing key(s) DaDongBoDVCQG"),
    (("fields", "ChuHoSo", "ChuHoSo"), "dossiers.fields: unknown key(s) ChuHoSo"),
    (("fields", "received_at", "NgayTiepNhan"), "dossiers.fields.received_at: a date field needs a date format"),
    (("requests", "{unit}", "{unit}-{month}"), "dossiers.requests[0].maDonVi: unknown placeholder(s) month;"),
])
def test_a_broken_profile_is_refused_naming_the_key(tmp_path, change, message):
    import yaml

    doc = yaml.safe_load(load_profile("national-sync").source.read_text(encoding="utf-8"))
    if change[0] == "fields" and len(change) == 2:
        del doc["dossiers"]["fields"][change[1]]
    elif change[0] == "fields":
        doc["dossiers"]["fields"][change[1]] = change[2]
    else:
        doc["dossiers"]["requests"][0]["maDonVi"] = change[2]
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ProfileError, match=re.escape(f"portal profile broken.yaml: {message}")):
        load_profile(str(path))


def test_an_unknown_profile_names_the_shipped_ones():
    with pytest.raises(ProfileError, match="'vnpt' not found .* national-sync, vnpt-igate"):
        load_profile("vnpt")


# --- configuration and dates ----------------------------------------------------------------
def test_configuration_from_settings(tmp_path):
    settings = Settings.from_env({"TTHC_DATA_DIR": str(tmp_path)})
    assert portal_from_settings(settings) is None  # no portal: the source is skipped
    with pytest.raises(PortalAuthError, match="signs in with a token, and none is configured"):
        portal_from_settings(settings.with_(portal_url="http://portal.example"))
    with pytest.raises(PortalAuthError, match="needs a token URL and a client id"):
        portal_from_settings(settings.with_(portal_url="http://portal.example", portal_profile="vnpt-igate"))
    configured = Settings.from_env({"TTHC_DATA_DIR": str(tmp_path), "TTHC_PORTAL_URL": "http://portal.example",
                                    "TTHC_PORTAL_PROFILE": "vnpt-igate", "TTHC_PORTAL_CLIENT_ID": "c",
                                    "TTHC_PORTAL_CLIENT_SECRET": CANARY_SECRET,
                                    "TTHC_PORTAL_TOKEN_URL": "http://sso.example/auth/realms/r/protocol/"
                                                             "openid-connect/token"})
    with portal_from_settings(configured) as client:
        assert client.profile.name == "vnpt-igate" and client.auth.grant == "client_credentials"
    assert CANARY_SECRET not in repr(configured)


def test_configuration_from_the_tthc_portal_connection(tmp_path):
    from types import SimpleNamespace

    from tthc_airflow import portal_settings

    conn = SimpleNamespace(host="https://dichvucong.quangtri.gov.vn", schema=None, port=None, login="can-bo",
                           password=CANARY_SECRET, extra_dejson={
                               "profile": "vnpt-igate", "client_id": "tthc", "client_secret": "s3cr3t",
                               "token_url": "https://sso.quangtri.gov.vn/auth/realms/igate/protocol/openid-connect/token"})
    settings = Settings.from_env({"TTHC_DATA_DIR": str(tmp_path)}, **portal_settings(conn))
    assert (settings.portal_url, settings.portal_profile, settings.portal_username) == (
        "https://dichvucong.quangtri.gov.vn", "vnpt-igate", "can-bo")
    with portal_from_settings(settings) as client:
        assert client.auth.grant == "password" and client.profile.name == "vnpt-igate"
    assert CANARY_SECRET not in repr(settings) and "s3cr3t" not in repr(settings)


def test_parse_portal_datetime_is_local_time():
    assert parse_portal_datetime("20250314235959") == datetime(2025, 3, 14, 23, 59, 59, tzinfo=LOCAL_TZ)
    assert parse_portal_datetime("20250314235959").isoformat() == "2025-03-14T23:59:59+07:00"
    assert parse_portal_datetime("20250315000000") == DEFAULT_CALENDAR.bounds(MARCH)[1]
    assert parse_portal_datetime("") is None and parse_portal_datetime(None) is None


@pytest.mark.parametrize("bad", ["20250230120000", "2025-03-14 23:59", "202503142359", "2025031423595x"])
def test_parse_portal_datetime_rejects_malformed_values_by_name(bad):
    with pytest.raises(ValueError, match=repr(bad).replace("(", r"\(")):
        parse_portal_datetime(bad)


# --- the fake portal itself -----------------------------------------------------------------
def test_fake_dossiers_are_deterministic_and_plausible():
    with FakePortal(["U1"], seed=7, dossiers_per_unit_month=(400, 400)) as a, \
            FakePortal(["U1"], seed=7, dossiers_per_unit_month=(400, 400)) as b:
        year = a.dossiers("U1", date(2025, 1, 1), date(2025, 12, 31))
        assert year == b.dossiers("U1", date(2025, 1, 1), date(2025, 12, 31))
    assert len({r["MaHoSo"] for r in year}) == len(year)
    statuses = Counter(r["TrangThaiHoSo"] for r in year)
    assert statuses[10] > statuses[3] > 0 and statuses[7] > 0
    channels = Counter(r["KenhThucHien"] for r in year)
    assert channels[2] > channels[3] > 0 and channels[1] > channels[3]
    resolved = [r for r in year if r["NgayKetThucXuLy"]]
    assert 0 < len(resolved) < len(year)
    assert any(r["NgayKetThucXuLy"] > r["NgayHenTra"] for r in resolved)  # some late
    spans = [parse_portal_datetime(r["NgayKetThucXuLy"]) - parse_portal_datetime(r["NgayTiepNhan"])
             for r in resolved]
    # the server looks back LOOKBACK_DAYS for dossiers resolved in a range: none may be older
    assert min(spans).total_seconds() > 0 and max(spans).days < LOOKBACK_DAYS
    assert {r["DanhGia"] for r in year} == {None, "RAT_HAI_LONG", "HAI_LONG", "KHONG_HAI_LONG"}
    assert all(len(r["SoGiayToChuHoSo"]) == 12 and r["SoGiayToChuHoSo"].isdigit()
               and len(r["SoDienThoai"]) == 10 for r in year)


@pytest.mark.parametrize("column, text", [
    (["G-1", "a\tb\nc\rd\\N", ""], ["G-1", "a\\tb\\nc\\rd\\\\N", ""]),  # text: escaped, empty kept
    ([0, 1, None, 999, -1], ["0", "1", "\\N", "999", "-1"]),  # flags and NULL through the table
    ([1, None, 5000], ["1", "\\N", "5000"]),  # an integer beyond the table
    (["x\\y", None, 3], ["x\\\\y", "\\N", "3"]),  # mixed: text escaped, NULL and numbers written
    ([None, None], ["\\N", "\\N"]),
    ([], []),
])
def test_copy_text_escapes_text_and_writes_null_apart_from_empty(column, text):
    from tthc.sources.portal.stage import _copy_text

    assert _copy_text(column) == text


def test_the_bulk_steps_leave_the_cyclic_collector_as_they_found_it():
    import gc

    from tthc.sources.portal import stage

    assert gc.isenabled()
    with pytest.raises(PortalError):
        with stage._without_cyclic_gc():
            assert not gc.isenabled()
            raise PortalError("the portal failed half-way")
    assert gc.isenabled()
    gc.disable()
    try:
        with stage._without_cyclic_gc():
            pass
        assert not gc.isenabled()  # not switched on by a step that found it off
    finally:
        gc.enable()
