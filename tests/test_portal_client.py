"""The portal client against the fake portal over real HTTP on loopback (no mocked transport)."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import logging
import traceback
from collections import Counter
from datetime import date, datetime

import pytest

from tthc.calendar import DEFAULT_CALENDAR, ReportingCalendar
from tthc.periods import LOCAL_TZ, Period
from tthc.sources.portal import (
    PERSONAL_FIELDS,
    PortalAuthError,
    PortalClient,
    PortalDataError,
    PortalUnavailableError,
    archive_pages,
    parse_portal_datetime,
    portal_from_settings,
    read_archive,
    strip_personal,
)
from tthc_testing.fake_portal import LOOKBACK_DAYS, FakePortal, make_dossier

MARCH = Period(2025, 3)  # Decree 09: 15/02/2025 00:00 to 14/03/2025 23:59:59
CANARY_TOKEN = "canary-tok-7f3a9c21e5"
CANARY_NAME, CANARY_ID, CANARY_PHONE = "Canary Trịnh Thị Zê", "099912345678", "0999123456"


class SleepRecorder(list):
    """Records the waits the client asks for instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def portal():
    with FakePortal(["U1"], dossiers_per_unit_month=(120, 160)) as p:
        yield p


@pytest.fixture
def sleeps():
    return SleepRecorder()


@pytest.fixture
def make_client(portal, sleeps):
    clients = []

    def make(token=None, **options):
        options = {"page_size": 100, "backoff_base": 0.1, "max_retries": 3, **options}
        c = PortalClient(portal.url, token or portal.token, sleep=sleeps, **options)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


def records(client, unit="U1", period=MARCH, scheme="decree09"):
    return [r for page in client.iter_dossier_pages(unit, period, ReportingCalendar(scheme=scheme)) for r in page]


def hand_made(unit, n, received="20250301090000", **fields):
    return [make_dossier(unit, f"{unit}-{i:03d}", received, **fields) for i in range(n)]


# --- paging and the date range -------------------------------------------------------------
def test_every_dossier_of_the_period_exactly_once_across_pages(portal, make_client):
    client = make_client(page_size=50)
    pages = list(client.iter_dossier_pages("U1", MARCH))
    served = portal.dossiers("U1", date(2025, 2, 15), date(2025, 3, 14))
    got = [r["MaHoSo"] for page in pages for r in page]
    assert len(pages) >= 4 and all(len(p) == 50 for p in pages[:-1])
    assert got == [r["MaHoSo"] for r in served]
    assert len(set(got)) == len(got)
    assert portal.requests == len(pages)
    for r in (r for page in pages for r in page):
        dates = {r["NgayTiepNhan"][:8], r["NgayKetThucXuLy"][:8]}
        assert any("20250215" <= d <= "20250314" for d in dates)


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
    got = {r["MaHoSo"] for r in records(make_client(), "H1", MARCH, scheme)}
    assert got == {f"in-{t}" for t in inside} | {"old-resolved"}


def test_duplicate_across_pages_is_passed_through_for_the_warehouse_to_dedupe(portal, make_client):
    dossiers = hand_made("H1", 3)
    portal.add_dossiers("H1", dossiers + [dossiers[0]])
    pages = list(make_client(page_size=2).iter_dossier_pages("H1", MARCH))
    assert [len(p) for p in pages] == [2, 2]
    assert Counter(r["MaHoSo"] for p in pages for r in p)["H1-000"] == 2


def test_unknown_unit_is_an_empty_result(make_client, portal):
    assert records(make_client(), "NO-SUCH-UNIT") == []
    assert portal.requests == 1


def test_fetch_procedures(make_client):
    procedures = make_client().fetch_procedures("U1")
    assert procedures and all({"MaTTHC", "TenTTHC"} <= p.keys() for p in procedures)
    assert {p["DuDieuKienToanTrinh"] for p in procedures} == {0, 1}
    assert all(p["DaCungCapToanTrinh"] <= p["DuDieuKienToanTrinh"] for p in procedures)


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
    with pytest.raises(PortalUnavailableError, match="/api/v1/hoso") as err:
        records(make_client(max_retries=2))
    assert portal.requests == 3
    assert "HTTP 500" in str(err.value)


def test_slow_response_times_out_and_is_retried(portal, make_client, sleeps):
    portal.inject("slow", seconds=0.6)
    assert records(make_client(timeout=0.15))
    assert len(sleeps) == 1
    portal.inject("slow", count=2, seconds=0.6)
    with pytest.raises(PortalUnavailableError, match="Timeout"):
        records(make_client(timeout=0.15, max_retries=1))


def test_connection_refused_is_unavailable(sleeps):
    with FakePortal([]) as gone:
        url = gone.url
    with PortalClient(url, "some-token", max_retries=1, sleep=sleeps) as client:
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


def test_error_code_is_a_data_error_with_the_portals_message(portal, make_client):
    portal.inject("error_code", message="Hệ thống đang bảo trì")
    with pytest.raises(PortalDataError, match="'99'.*Hệ thống đang bảo trì"):
        records(make_client())
    assert portal.requests == 1


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


# --- secrets and personal data -------------------------------------------------------------
def test_bad_token_fails_at_once_and_never_shows_the_token(portal, make_client, caplog):
    caplog.set_level(logging.DEBUG)
    client = make_client(token=CANARY_TOKEN)
    with pytest.raises(PortalAuthError, match="refused the token") as err:
        records(client)
    assert portal.requests == 1
    shown = [str(err.value), repr(err.value), repr(client), caplog.text,
             "".join(traceback.format_exception(err.value))]
    assert not [s for s in shown if CANARY_TOKEN in s]


def test_token_refused_mid_run_is_not_retried(portal, make_client, sleeps):
    portal.inject("bad_token")
    with pytest.raises(PortalAuthError):
        records(make_client())
    assert portal.requests == 1 and sleeps == []


def test_token_absent_from_retry_logs_and_failures(portal, sleeps, caplog):
    caplog.set_level(logging.DEBUG)
    with FakePortal(["U1"], token=CANARY_TOKEN, dossiers_per_unit_month=(5, 5)) as canary_portal:
        canary_portal.inject("server_error", count=3)
        with PortalClient(canary_portal.url, CANARY_TOKEN, max_retries=2, sleep=sleeps) as client:
            with pytest.raises(PortalUnavailableError) as err:
                records(client)
    assert CANARY_TOKEN not in caplog.text + str(err.value) + repr(client)
    assert "retry 1/2" in caplog.text


def test_personal_data_never_leaves_the_client(portal, make_client, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    planted = hand_made("H1", 3, ChuHoSo=CANARY_NAME, SoGiayToChuHoSo=CANARY_ID,
                        SoDienThoai=CANARY_PHONE)
    planted[1]["SoGiayToChuHoSo"] = "0999 1234 5678"  # same person, typed with spaces
    portal.add_dossiers("H1", planted)
    salt = b"test-salt"
    client = make_client(page_size=2, salt=salt)
    archive = tmp_path / "H1" / "2025-03.jsonl.gz"
    got = [r for page in archive_pages(client.iter_dossier_pages("H1", MARCH), archive) for r in page]

    assert len(got) == 3 and all(not set(PERSONAL_FIELDS) & r.keys() for r in got)
    key = hmac.new(salt, CANARY_ID.encode(), hashlib.sha256).hexdigest()
    assert {r["ChuHoSoKey"] for r in got} == {key}
    stored = gzip.decompress(archive.read_bytes()).decode("utf-8")
    for value in (CANARY_NAME, CANARY_ID, CANARY_PHONE, "0999 1234 5678"):
        assert value not in stored and value not in caplog.text
    assert [r for page in read_archive(archive) for r in page] == got
    assert [p.name for p in archive.parent.iterdir()] == [archive.name]


def test_without_a_salt_there_is_no_applicant_key(portal, make_client):
    portal.add_dossiers("H1", hand_made("H1", 2))
    assert all("ChuHoSoKey" not in r for r in records(make_client(), "H1"))


def test_strip_personal_copies_and_keys_missing_ids_as_none():
    record = make_dossier("U", "A", "20250301090000", SoGiayToChuHoSo="")
    stripped = strip_personal(record, b"salt")
    assert stripped["ChuHoSoKey"] is None and "SoDienThoai" not in stripped
    assert record["SoDienThoai"]  # the input is left as it was


def test_a_failed_run_leaves_no_partial_archive(portal, make_client, tmp_path):
    archive = tmp_path / "U1-2025-03.jsonl.gz"
    pages = archive_pages(make_client(page_size=50, max_retries=0).iter_dossier_pages("U1", MARCH), archive)
    next(pages)
    portal.inject("server_error")
    with pytest.raises(PortalUnavailableError):
        list(pages)
    assert list(tmp_path.iterdir()) == []


# --- configuration and dates ----------------------------------------------------------------
def test_no_portal_url_means_no_client():
    assert portal_from_settings(None, "t") is None
    with pytest.raises(PortalAuthError, match="no token"):
        portal_from_settings("http://portal.example", None)


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
