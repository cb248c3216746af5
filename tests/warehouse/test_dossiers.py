"""Portal dossiers in the warehouse: facts, figures and reconciliation, against the fake portal over
real HTTP and a fresh warehouse (SQLite in tmp_path; one test on PostgreSQL). Every test using the
`portal` fixture runs once per shipped profile: the figures must not depend on the vendor."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import logging
import shutil
import sqlite3

import pytest
from sqlalchemy import text

from tthc.catalogue import load_catalogue
from tthc.orchestration import (PortalBatchQuarantined, aggregate_period, compute_portal_indicators,
                                ingest_portal_unit, ingest_portal_units, portal_units, reconcile, run_portal)
from tthc.reports.data import load_report_data
from tthc.settings import DEFAULT_CATALOGUE_DIR, Settings, SettingsError
from tthc.periods import Period
from tthc.sources.portal import PortalDataError, PortalUnavailableError, portal_client
from tthc.sources.portal.profile import RecordMapping
from tthc_testing.fake_portal import PROFILES, FakePortal, make_dossier
from tthc.warehouse import transaction

MARCH, APRIL = Period(2025, 3), Period(2025, 4)  # Decree 09: 15/02–14/03 and 15/03–14/04
JUNE, JULY = Period(2025, 6), Period(2025, 7)  # 15/05–14/06 and 15/06–14/07: the reorganisation of 01/07
HO_XA, BEN_QUAN = "X-19363", "X-19366"
CANARY_NAME, CANARY_ID, CANARY_PHONE = "Canary Trịnh Thị Zê", "099912345678", "0999123456"
SALT = "test-salt-3c1f-0123456789abcdef0123"
# The catalogue row the on-time rate needs (the office adds it to include/catalogue/indicators.csv).
TDGQ_ROW = ("TDGQ-1,15,766,Tỷ lệ hồ sơ giải quyết đúng hoặc trước hạn,Giải quyết đúng hạn,all,"
            "Số hồ sơ đã giải quyết đúng hoặc trước hạn,Số hồ sơ đã giải quyết,,sum,resolved\n")
# The fake portal's procedure catalogues (seed 2025): 6 procedures eligible, offered fully online 5 / 6.
NQ01_1, NQ01_1_BEN_QUAN = (5, 6), (6, 6)


def boundary_dossiers(unit: str) -> list[dict]:
    """Hand-made dossiers at the period edges; served in this order, two per page."""
    d = lambda code, received, **f: make_dossier(unit, f"{unit}-{code}", received, **f)  # noqa: E731
    return [
        # Received in the February period (14/02 23:59:59), resolved at March's first second.
        d("a", "20250214235959", NgayHenTra="20250220170000", NgayKetThucXuLy="20250215000000",
          TrangThaiHoSo=10, DaDongBoDVCQG=1),
        d("b", "20250215000000", KenhThucHien=2, PhaiThanhToan=1, DuocThanhToanTrucTuyen=1, CoTaiSuDungDuLieu=1),
        # Received at March's last second, resolved at April's first: received in March, resolved in April.
        d("c", "20250314235959", NgayHenTra="20250318170000", NgayKetThucXuLy="20250315000000", TrangThaiHoSo=10,
          PhaiThanhToan=1, DanhGia="RAT_HAI_LONG"),
        d("d", "20250301090000", KenhThucHien=2, NgayHenTra="20250306170000", NgayKetThucXuLy="20250305100000",
          TrangThaiHoSo=10, HoSoCoThanhPhanSoHoa=1, KetQuaDuocSoHoa=1, DaDongBoDVCQG=1, CoKetQuaDienTu=1,
          CoTaiSuDungDuLieu=1, DanhGia="HAI_LONG"),
        d("e", "20250302090000", KenhThucHien=3, NgayHenTra="20250309170000", NgayKetThucXuLy="20250310100000",
          TrangThaiHoSo=3, HoSoCoThanhPhanSoHoa=1, DanhGia="KHONG_HAI_LONG"),
        # b again on a later page, corrected: the last occurrence is the one that counts.
        d("b", "20250215000000", KenhThucHien=2, PhaiThanhToan=1, DuocThanhToanTrucTuyen=1, CoTaiSuDungDuLieu=0),
        d("f", "20250315000000", KenhThucHien=2),  # April's first second
    ]


MARCH_FIGURES = {  # (numerator, denominator)
    "NQ01-1": NQ01_1,
    "NQ01-2": (1, 2),   # received with a fee: b (paid online), c
    "NQ01-3": (2, 4),   # received b c d e; online b d
    "NQ02-3": (1, 4),   # reuse: d, and b as corrected on the later page
    "NQ01-4": (1, 3),   # resolved a d e; digitised d
    "NQ01-5": (2, 3),   # synced a d (NQ02-5 is this figure: the core_figure view shows it twice)
    "NQ02-1": (1, 3),   # electronic result d
    "NQ02-7": (1, 2),   # rated d (HAI_LONG), e (KHONG_HAI_LONG)
    "TDGQ-1": (2, 3),   # on time a d; e late
}
APRIL_FIGURES = {"NQ01-1": NQ01_1, "NQ01-2": (0, 0), "NQ01-3": (1, 1), "NQ02-3": (0, 1), "NQ01-4": (0, 1),
                 "NQ01-5": (0, 1), "NQ02-1": (0, 1), "NQ02-7": (1, 1), "TDGQ-1": (1, 1)}


@pytest.fixture
def settings(tthc_env, tmp_path, monkeypatch):
    monkeypatch.setenv("TTHC_PII_SALT", SALT)  # without it nothing is fetched (tests/warehouse/test_portal_salt.py)
    catalogue = tmp_path / "catalogue"
    shutil.copytree(DEFAULT_CATALOGUE_DIR, catalogue)
    with (catalogue / "indicators.csv").open("a", encoding="utf-8") as f:
        f.write(TDGQ_ROW)
    return tthc_env.with_(catalogue_dir=catalogue)


@pytest.fixture(params=PROFILES)
def profile(request):
    return request.param


@pytest.fixture
def portal(profile):
    with FakePortal([HO_XA, BEN_QUAN], dossiers_per_unit_month=(0, 0), profile=profile) as p:
        yield p  # hand-made dossiers only


@pytest.fixture
def client(portal):
    with portal_client(portal.url, **portal.credentials(), page_size=2, max_retries=1, backoff_base=0.01,
                       sleep=lambda _s: None) as c:
        yield c


def rows(settings, sql: str, **params) -> list[tuple]:
    with transaction(settings.warehouse_url) as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def figures(settings, period: Period, unit: str) -> dict:
    return {code: (num, den) for code, num, den in rows(
        settings, "SELECT indicator_code, numerator, denominator FROM core_unit_indicator "
                  "WHERE period = :p AND unit_code = :u AND source = 'portal'", p=period.label, u=unit)}


def snapshot(settings) -> dict:
    """Every table the portal steps write, without the times of the attempts."""
    return {t: rows(settings, f"SELECT {cols} FROM {t} ORDER BY 1, 2, 3") for t, cols in {
        "fact_dossier": "*", "fact_procedure": "*", "core_unit_indicator": "*", "mart_reconciliation": "*",
        "portal_batch": "period, unit_code, outcome, reasons, records_fetched, dossiers, procedures, archive_path",
    }.items()}


def run_boundaries(settings, portal, client) -> None:
    portal.add_dossiers(HO_XA, boundary_dossiers(HO_XA))
    for period in (MARCH, APRIL):
        ingest_portal_unit(settings, period, HO_XA, client)
        compute_portal_indicators(settings, period)


# --- counting ---------------------------------------------------------------------------------
def test_boundaries_duplicates_and_two_periods_count_exactly_once(settings, portal, client):
    portal.add_dossiers(HO_XA, boundary_dossiers(HO_XA))
    summary = ingest_portal_unit(settings, MARCH, HO_XA, client)
    seconds = summary.pop("seconds")  # wall time per stage (bench/)
    assert set(seconds) == {"fetch", "map", "archive", "read", "validate", "load"}
    assert all(s >= 0 for s in seconds.values())
    assert summary == {"period": "2025-03", "unit_code": HO_XA, "outcome": "loaded", "records_fetched": 6,
                       "dossiers": 5, "procedures": 12, "archive_path": "portal/2025-03/X-19363.jsonl.gz"}
    computed = compute_portal_indicators(settings, MARCH)
    assert computed["units"] == 1 and computed["figures"] == 9 and computed["without_formula"] == []
    assert figures(settings, MARCH, HO_XA) == MARCH_FIGURES

    ingest_portal_unit(settings, APRIL, HO_XA, client)
    compute_portal_indicators(settings, APRIL)
    assert figures(settings, APRIL, HO_XA) == APRIL_FIGURES
    assert figures(settings, MARCH, HO_XA) == MARCH_FIGURES  # April's run leaves March alone
    # c is a fact of both fetches, counted as received in March and as resolved in April.
    assert rows(settings, "SELECT period, ngay_tiep_nhan, ngay_ket_thuc_xu_ly FROM fact_dossier "
                          "WHERE ma_ho_so = :m ORDER BY period", m=f"{HO_XA}-c") == [
        ("2025-03", "2025-03-14T23:59:59+07:00", "2025-03-15T00:00:00+07:00"),
        ("2025-04", "2025-03-14T23:59:59+07:00", "2025-03-15T00:00:00+07:00")]


def test_running_a_unit_period_again_gives_identical_tables(settings, portal, client):
    run_boundaries(settings, portal, client)
    first = snapshot(settings)
    for period in (MARCH, APRIL):
        ingest_portal_unit(settings, period, HO_XA, client)
        compute_portal_indicators(settings, period)
    assert snapshot(settings) == first
    assert len(first["fact_dossier"]) == 7 and len(first["core_unit_indicator"]) == 18


def test_the_same_figures_on_postgresql(settings, portal, client, pg_url):
    pg = settings.with_(warehouse_url=pg_url)
    run_boundaries(pg, portal, client)
    assert figures(pg, MARCH, HO_XA) == MARCH_FIGURES
    assert figures(pg, APRIL, HO_XA) == APRIL_FIGURES


def test_facts_load_the_same_through_copy_and_executemany(settings, portal, client, pg_url):
    """PostgreSQL loads by COPY (text format), SQLite by executemany: the same rows, NULL kept apart
    from an empty text, and the characters COPY escapes kept as sent."""
    portal.add_dossiers(HO_XA, [make_dossier(HO_XA, "T-1\\x", "20250303080000", MaTTHC="", MaLinhVuc="a\tb\nc\rd\\N"),
                                make_dossier(HO_XA, "T-2", "20250304080000", DanhGia=None)])
    facts = []
    for target in (settings, settings.with_(warehouse_url=pg_url)):
        ingest_portal_unit(target, MARCH, HO_XA, client)
        facts.append(rows(target, "SELECT * FROM fact_dossier ORDER BY ma_ho_so"))
    assert facts[0] == facts[1]
    assert [(r[2], r[3], r[4]) for r in facts[1][:1]] == [("T-1\\x", "", "a\tb\nc\rd\\N")]
    assert facts[1][1][-2] is None  # DanhGia: NULL, not an empty text


def test_a_unit_without_dossiers_gets_zero_figures_not_none(settings, client):
    ingest_portal_unit(settings, MARCH, BEN_QUAN, client)
    compute_portal_indicators(settings, MARCH)
    got = figures(settings, MARCH, BEN_QUAN)
    assert got.pop("NQ01-1") == NQ01_1_BEN_QUAN
    assert got == {code: (0, 0) for code in MARCH_FIGURES if code != "NQ01-1"}


# --- personal data ---------------------------------------------------------------------------
def test_personal_data_reaches_no_table_archive_or_log(settings, portal, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("TTHC_PII_SALT", SALT)
    planted = [make_dossier(HO_XA, f"P-{i}", "20250303080000", ChuHoSo=CANARY_NAME, SoGiayToChuHoSo=CANARY_ID,
                            SoDienThoai=CANARY_PHONE) for i in range(3)]
    portal.add_dossiers(HO_XA, planted)
    configured = settings.with_(**portal.settings())
    assert ingest_portal_unit(configured, MARCH, HO_XA)["dossiers"] == 3  # the client the settings make
    compute_portal_indicators(configured, MARCH)
    reconcile(configured, MARCH)

    db = sqlite3.connect(configured.warehouse_url.split("///", 1)[1])
    dump = "\n".join(db.iterdump())
    db.close()
    archives = sorted(configured.archive_dir.rglob("*.gz"))
    assert [p.name for p in archives] == [f"{HO_XA}.jsonl.gz"]
    archived = gzip.decompress(archives[0].read_bytes()).decode("utf-8")
    for value in (CANARY_NAME, CANARY_ID, CANARY_PHONE):
        assert value not in dump and value not in archived and value not in caplog.text
    key = hmac.new(SALT.encode(), CANARY_ID.encode(), hashlib.sha256).hexdigest()
    assert rows(settings, "SELECT DISTINCT chu_ho_so_key FROM fact_dossier") == [(key,)]


def test_personal_fields_a_mapping_failed_to_drop_quarantine_the_batch(settings, portal, client, monkeypatch):
    mapped = RecordMapping.columns

    def leaky(self, records, salt=None):  # a profile mapping a phone number: the suite must catch it
        return {**mapped(self, records, salt), "SoDienThoai": [CANARY_PHONE] * len(records)}

    monkeypatch.setattr(RecordMapping, "columns", leaky)
    portal.add_dossiers(HO_XA, [make_dossier(HO_XA, "L-1", "20250303080000", SoDienThoai=CANARY_PHONE)])
    with pytest.raises(PortalBatchQuarantined) as err:
        ingest_portal_unit(settings, MARCH, HO_XA, client)
    assert CANARY_PHONE not in str(err.value)
    assert "dữ liệu cá nhân (số điện thoại, trường SoDienThoai)" in str(err.value)
    assert rows(settings, "SELECT COUNT(*) FROM fact_dossier") == [(0,)]


# --- failures --------------------------------------------------------------------------------
@pytest.mark.parametrize("fault", ["server_error", "total_changes", "short_page"])
def test_a_portal_failure_half_way_loads_nothing_and_archives_nothing(settings, portal, client, fault):
    portal.add_dossiers(HO_XA, boundary_dossiers(HO_XA))
    if fault == "short_page":  # page 2 of 4 empty: 2 of the 7 announced records would load as 'loaded'
        portal.inject("slow", seconds=0)
        portal.inject("short_page")
        expected = PortalDataError
    elif fault == "server_error":
        portal.inject("slow", seconds=0)  # page 1 is served; page 2 fails past the retries
        portal.inject("server_error", count=client.max_retries + 1)
        expected = PortalUnavailableError
    else:
        portal.inject("total_changes", delta=1)  # page 2 disagrees with page 1's total
        expected = PortalDataError
    with pytest.raises(expected):
        ingest_portal_unit(settings, MARCH, HO_XA, client)
    assert rows(settings, "SELECT COUNT(*) FROM fact_dossier") == [(0,)]
    assert rows(settings, "SELECT COUNT(*) FROM portal_batch") == [(0,)]
    assert list(settings.archive_dir.rglob("*")) == [settings.archive_dir / "portal",
                                                     settings.archive_dir / "portal" / "2025-03"]


def test_a_batch_failing_validation_is_quarantined_and_others_go_on(settings, portal, client):
    good = [make_dossier(BEN_QUAN, "BQ-1", "20250303080000")]
    portal.add_dossiers(BEN_QUAN, good)
    ingest_portal_unit(settings, MARCH, BEN_QUAN, client)
    portal.add_dossiers(BEN_QUAN, [
        make_dossier(BEN_QUAN, "BQ-2", "20250304080000", KenhThucHien=9),
        make_dossier(BEN_QUAN, "BQ-3", "20250310080000", NgayKetThucXuLy="20250309080000", TrangThaiHoSo=10),
    ])
    with pytest.raises(PortalBatchQuarantined) as err:
        ingest_portal_unit(settings, MARCH, BEN_QUAN, client)
    reasons = [
        'Hồ sơ BQ-2: kênh thực hiện "9" không hợp lệ (1 trực tiếp, 2 trực tuyến, 3 bưu chính)',
        "Hồ sơ BQ-3: ngày kết thúc xử lý 2025-03-09T08:00:00+07:00 trước ngày tiếp nhận 2025-03-10T08:00:00+07:00",
    ]
    assert err.value.reasons == reasons
    portal.add_dossiers(HO_XA, boundary_dossiers(HO_XA))
    ingest_portal_unit(settings, MARCH, HO_XA, client)  # the next unit is not held back
    compute_portal_indicators(settings, MARCH)

    batches = rows(settings, "SELECT unit_code, outcome, reasons, dossiers, loaded_at IS NOT NULL FROM portal_batch "
                             "ORDER BY unit_code")
    assert [(u, o, d, loaded) for u, o, _, d, loaded in batches] == [(HO_XA, "loaded", 5, True),
                                                                     (BEN_QUAN, "quarantined", 3, True)]
    assert batches[1][2] == '["' + '", "'.join(r.replace('"', '\\"') for r in reasons) + '"]'
    # Nothing of the quarantined batch is loaded: the last loaded batch keeps counting.
    assert rows(settings, "SELECT ma_ho_so FROM fact_dossier WHERE unit_code = :u", u=BEN_QUAN) == [("BQ-1",)]
    assert figures(settings, MARCH, BEN_QUAN)["NQ01-3"] == (0, 1)
    assert figures(settings, MARCH, HO_XA) == MARCH_FIGURES
    portal_dir = settings.archive_dir / "portal" / "2025-03"
    assert sorted(p.name for p in portal_dir.iterdir()) == [
        f"{HO_XA}.jsonl.gz", f"{BEN_QUAN}.jsonl.gz", f"{BEN_QUAN}.quarantined.jsonl.gz"]


def test_units_checked_together_quarantine_only_the_bad_one_with_its_own_reasons(settings, profile):
    """One GX run for the group; the unit rule still holds per unit: a dossier of another unit
    (DonViXuLy) passes in its own unit's batch but not in this one, even though both are checked together."""
    units = [HO_XA, BEN_QUAN, "X-19369"]
    with FakePortal(units, dossiers_per_unit_month=(0, 0), profile=profile) as portal, \
            portal_client(portal.url, **portal.credentials(), page_size=50, max_retries=1, sleep=lambda _s: None) as c:
        portal.add_dossiers(HO_XA, boundary_dossiers(HO_XA))
        portal.add_dossiers(BEN_QUAN, [make_dossier(BEN_QUAN, "BQ-1", "20250303080000"),
                                       make_dossier(HO_XA, "HX-9", "20250303090000")])  # served by the wrong unit
        portal.add_dossiers("X-19369", [make_dossier("X-19369", "Z-1", "20250304080000")])
        outcomes = ingest_portal_units(settings, MARCH, units, c)
    assert outcomes[HO_XA]["outcome"] == "loaded" and outcomes[HO_XA]["dossiers"] == 5
    assert isinstance(outcomes[BEN_QUAN], PortalBatchQuarantined)
    assert [r for r in outcomes[BEN_QUAN].reasons if "HX-9" in r] and not [
        r for r in outcomes[BEN_QUAN].reasons if "BQ-1" in r]
    assert outcomes["X-19369"]["outcome"] == "loaded"
    assert rows(settings, "SELECT unit_code, COUNT(*) FROM fact_dossier GROUP BY unit_code ORDER BY 1") == [
        (HO_XA, 5), ("X-19369", 1)]
    assert rows(settings, "SELECT unit_code, outcome FROM portal_batch ORDER BY unit_code") == [
        (HO_XA, "loaded"), (BEN_QUAN, "quarantined"), ("X-19369", "loaded")]


def test_fetches_only_stage_and_one_load_checks_and_loads_them(settings, portal, client):
    """The DAG's split: each mapped fetch archives its unit without loading; one load_portal checks the
    staged batches together, quarantines the bad unit alone (its dossiers named) and loads the rest.
    A unit whose fetch failed keeps its last loaded batch."""
    from tthc.orchestration import fetch_portal_unit, load_portal

    portal.add_dossiers(HO_XA, boundary_dossiers(HO_XA))
    portal.add_dossiers(BEN_QUAN, [make_dossier(BEN_QUAN, "BQ-1", "20250303080000"),
                                   make_dossier(BEN_QUAN, "BQ-2", "20250304080000", KenhThucHien=9)])
    for unit in (HO_XA, BEN_QUAN):
        fetched = fetch_portal_unit(settings, MARCH, unit, client)
        assert (fetched["outcome"], fetched["records_fetched"]) == ("fetched", 6 if unit == HO_XA else 2)
    portal_dir = settings.archive_dir / "portal" / "2025-03"
    assert not [p for p in portal_dir.iterdir() if not p.name.startswith(".")]  # staged, hidden, not loaded
    summary = load_portal(settings, MARCH, [HO_XA, BEN_QUAN, "X-19369"])
    assert summary["units"] == {HO_XA: "loaded", BEN_QUAN: "quarantined", "X-19369": "not_fetched"}
    assert summary["quarantined"] == {
        BEN_QUAN: ['Hồ sơ BQ-2: kênh thực hiện "9" không hợp lệ (1 trực tiếp, 2 trực tuyến, 3 bưu chính)']}
    assert rows(settings, "SELECT unit_code, COUNT(*) FROM fact_dossier GROUP BY unit_code") == [(HO_XA, 5)]
    assert sorted(p.name for p in portal_dir.iterdir()) == [f"{HO_XA}.jsonl.gz", f"{BEN_QUAN}.quarantined.jsonl.gz"]
    assert load_portal(settings, MARCH, [HO_XA])["units"] == {HO_XA: "not_fetched"}  # loaded once


def test_an_unknown_unit_is_refused_before_fetching(settings, portal, client):
    with pytest.raises(ValueError, match="X-99999"):
        ingest_portal_unit(settings, MARCH, "X-99999", client)
    assert portal.requests == 0


def test_no_portal_configured_skips_the_unit(settings):
    assert ingest_portal_unit(settings, MARCH, HO_XA) == {"period": "2025-03", "unit_code": HO_XA,
                                                         "outcome": "skipped"}


# --- reconciliation --------------------------------------------------------------------------
def test_reconciliation_lists_differences_over_five_points_only(settings, portal, client):
    run_boundaries(settings, portal, client)
    self_reported = {  # vs the portal's MARCH_FIGURES
        "NQ01-3": (54, 100),  # 54 % vs 50 %: 4 points, not listed
        "NQ01-2": (11, 20),   # 55 % vs 50 %: exactly 5 points, not listed
        "NQ01-5": (18, 25),   # 72 % vs 66.67 %: 5.33 points, listed
        "NQ01-4": (9, 10),    # 90 % vs 33.33 %: listed
        "NQ02-7": (0, 0),     # không phát sinh: not compared
    }
    with transaction(settings.warehouse_url) as conn:
        conn.execute(text("INSERT INTO core_unit_indicator (period, unit_code, indicator_code, source, numerator, "
                          "denominator) VALUES ('2025-03', :u, :code, 'shared_drive', :n, :d)"),
                     [{"u": HO_XA, "code": c, "n": n, "d": d} for c, (n, d) in self_reported.items()]
                     + [{"u": BEN_QUAN, "code": "NQ01-3", "n": 1, "d": 10}])  # no portal figure: not compared
    assert reconcile(settings, MARCH) == {"period": "2025-03", "points": 5.0, "discrepancies": 2}
    got = rows(settings, "SELECT * FROM mart_reconciliation ORDER BY indicator_code")
    assert [(r[:6], r[6:8]) for r in got] == [
        (("2025-03", HO_XA, "NQ01-4", 9, 10, 90.0), (1, 3)),
        (("2025-03", HO_XA, "NQ01-5", 18, 25, 72.0), (2, 3)),
    ]
    assert [round(r[8], 4) for r in got] == [33.3333, 66.6667]
    assert [round(r[9], 4) for r in got] == [56.6667, 5.3333]
    assert reconcile(settings, MARCH)["discrepancies"] == 2  # replaces, never appends


def test_generated_dossiers_give_the_same_figures_through_either_profile(settings):
    """The fake portal's generated month (same seed) through each vendor's shape and profile."""
    got = {}
    for profile in PROFILES:
        with FakePortal([HO_XA], dossiers_per_unit_month=(300, 300), profile=profile) as portal:
            with portal_client(portal.url, **portal.credentials(), salt=b"s") as client:
                summary = ingest_portal_unit(settings, MARCH, HO_XA, client)
        compute_portal_indicators(settings, MARCH)
        got[profile] = (figures(settings, MARCH, HO_XA), summary["dossiers"],
                        rows(settings, "SELECT * FROM fact_dossier ORDER BY ma_ho_so"))
    assert got["national-sync"] == got["vnpt-igate"]
    assert got["vnpt-igate"][1] > 300 and got["vnpt-igate"][0]["TDGQ-1"][1] > 250


# --- counting rules vendors differ on (settings) ---------------------------------------------
def rule_dossiers(unit: str) -> list[dict]:
    d = lambda code, received, **f: make_dossier(unit, f"R-{code}", received, **f)  # noqa: E731
    return [
        # Resolved half an hour after the appointment, on its day: late by the timestamp, on time by the day.
        d("1", "20250301090000", NgayHenTra="20250305170000", NgayKetThucXuLy="20250305173000", TrangThaiHoSo=10),
        d("2", "20250302090000", NgayHenTra="20250306170000", NgayKetThucXuLy="20250306100000", TrangThaiHoSo=10,
          KenhThucHien=2),
        d("3", "20250303090000", NgayHenTra="20250310170000", NgayKetThucXuLy="20250304100000", TrangThaiHoSo=3),
        d("4", "20250304090000", NgayHenTra="20250310170000", NgayKetThucXuLy="20250305100000", TrangThaiHoSo=7,
          KenhThucHien=2),
    ]


ALL = [(3, 1, 0), (7, 1, 0), (10, 1, 0)]  # (TrangThaiHoSo, resolved, withdrawn) as recorded


@pytest.mark.parametrize("rule, on_time, online, recorded", [
    ({}, (3, 4), (2, 4), ALL),                               # the spec: full timestamp, every status resolved
    ({"on_time_by": "date"}, (4, 4), (2, 4), ALL),           # hẹn trả by day: R-1 is on time
    ({"resolved_statuses": (10,)}, (1, 2), (2, 4),           # only 'done' is resolved: R-3 (denied), R-4 out
     [(3, 0, 0), (7, 0, 0), (10, 1, 0)]),
    ({"withdrawn_statuses": (7,)}, (2, 3), (1, 3),           # R-4 withdrawn: neither received nor resolved
     [(3, 1, 0), (7, 1, 1), (10, 1, 0)]),
])
def test_a_vendor_rule_setting_changes_the_figures(settings, portal, client, rule, on_time, online, recorded):
    portal.add_dossiers(HO_XA, rule_dossiers(HO_XA))
    ingest_portal_unit(settings, MARCH, HO_XA, client)
    compute_portal_indicators(settings.with_(**rule), MARCH)  # the same facts, counted by the rule
    got = figures(settings, MARCH, HO_XA)
    assert (got["TDGQ-1"], got["NQ01-3"]) == (on_time, online)
    assert rows(settings, "SELECT status, resolved, withdrawn FROM portal_status_rule WHERE period = '2025-03' "
                          "AND status IN (3, 7, 10) ORDER BY status") == recorded


def test_vendor_rule_settings_are_read_and_checked(tmp_path):
    env = {"TTHC_DATA_DIR": str(tmp_path), "TTHC_ON_TIME_BY": "date", "TTHC_RESOLVED_STATUSES": "10, 3",
           "TTHC_WITHDRAWN_STATUSES": "7"}
    s = Settings.from_env(env)
    assert (s.on_time_by, s.resolved_statuses, s.withdrawn_statuses) == ("date", (3, 10), (7,))
    for name, value, message in [("TTHC_ON_TIME_BY", "day", "expected one of timestamp, date"),
                                 ("TTHC_RESOLVED_STATUSES", "10,x", "codes separated by commas"),
                                 ("TTHC_WITHDRAWN_STATUSES", "11", "run from 1 to 10"),
                                 ("TTHC_WITHDRAWN_STATUSES", "3", "cannot be both resolved")]:
        with pytest.raises(SettingsError, match=message):
            Settings.from_env({**env, name: value})


# --- the reorganisation of 01/07/2025 ---------------------------------------------------------
OLD_VINH_LINH = ("X-19363", "X-19375", "X-19387")  # merged into XM-19363 (Xã Vĩnh Linh)
OLD_BEN_QUAN = ("X-19366", "X-19393", "X-19417", "X-19426")  # merged into XM-19366 (Xã Bến Quan)


def reorganisation_dossiers() -> dict[str, list[dict]]:
    """Dossiers on both sides of 01/07/2025, served by the units that held them."""
    d = lambda unit, code, received, **f: make_dossier(unit, f"J-{code}", received, **f)  # noqa: E731
    return {
        "X-19363": [d("X-19363", "1", "20250620090000", NgayHenTra="20250627170000", NgayKetThucXuLy="20250625100000",
                      TrangThaiHoSo=10, KenhThucHien=2),
                    # received in June's period, resolved in July's
                    d("X-19363", "2", "20250610090000", NgayHenTra="20250624170000", NgayKetThucXuLy="20250620100000",
                      TrangThaiHoSo=10)],
        "X-19375": [d("X-19375", "3", "20250630235959", NgayHenTra="20250707170000", NgayKetThucXuLy="20250702100000",
                      TrangThaiHoSo=10)],
        "XM-19363": [d("XM-19363", "4", "20250701000000", NgayHenTra="20250708170000",
                       NgayKetThucXuLy="20250703100000", TrangThaiHoSo=10),
                     d("XM-19363", "5", "20250714235959", NgayHenTra="20250721170000", KenhThucHien=2)],
        "X-19366": [d("X-19366", "6", "20250616090000", KenhThucHien=2)],
        "XM-19366": [d("XM-19366", "7", "20250705090000")],
        "VL-TP": [d("VL-TP", "8", "20250618090000")],  # a department: abolished, no successor
    }


@pytest.fixture
def district_portal(profile):
    """Every catalogue unit, within its validity, with only the dossiers above."""
    with FakePortal(dossiers_per_unit_month=(0, 0), profile=profile) as p:
        for unit, dossiers in reorganisation_dossiers().items():
            p.add_dossiers(unit, dossiers)
        yield p


def test_july_2025_counts_the_old_communes_dossiers_of_15_to_30_june(settings, district_portal):
    configured = settings.with_(**district_portal.settings())
    fetched = portal_units(configured, JULY)
    # Every unit that existed during 15/06–14/07: the 30 old ones (until 30/06) and the 5 new communes.
    assert len(fetched) == 35 and {*OLD_VINH_LINH, *OLD_BEN_QUAN, "VL-TP", "XM-19363"} <= set(fetched)
    summary = run_portal(configured, JULY)
    assert set(summary["units"].values()) == {"loaded"}
    assert figures(settings, JULY, "XM-19363")["NQ01-3"] == (2, 4)  # received: J-1, J-3 (old), J-4, J-5 (new)
    assert figures(settings, JULY, "XM-19363")["TDGQ-1"] == (4, 4)  # resolved: J-1, J-2, J-3 (old), J-4 (new)
    assert figures(settings, JULY, "XM-19366")["NQ01-3"] == (1, 2)  # J-6 (old, online), J-7 (new)
    assert figures(settings, JULY, "X-19363") == {}  # not expected in July: counted under XM-19363 only
    counted = {r["unit_code"]: r for r in summary["indicators"]["counted_elsewhere"]}
    assert {u: counted[u]["counted_under"] for u in ("X-19363", "X-19375", "X-19387", "X-19366")} == {
        "X-19363": "XM-19363", "X-19375": "XM-19363", "X-19387": "XM-19363", "X-19366": "XM-19366"}
    assert counted["VL-TP"] == {"unit_code": "VL-TP", "counted_under": None, "dossiers": 1}
    # The area counts them too, and the report says where they went.
    aggregate_period(configured, JULY)
    area = rows(settings, "SELECT numerator, denominator FROM mart_area_kpi_monthly "
                          "WHERE period = '2025-07' AND indicator_code = 'NQ01-3'")
    assert area == [(3, 6)]
    with transaction(settings.warehouse_url) as conn:
        notes = load_report_data(conn, JULY, configured, load_catalogue(settings)).portal_merged_notes()
    assert notes[0] == ("Số liệu tháng từ Cổng dịch vụ công của Xã Vĩnh Linh (XM-19363) gồm hồ sơ trong kỳ của các "
                        "đơn vị cũ trước 01/07/2025: Thị trấn Hồ Xá (X-19363): 2 hồ sơ, Xã Vĩnh Chấp (X-19375): 1 hồ sơ, "
                        "Xã Vĩnh Long (X-19387): 0 hồ sơ.")
    assert "được lưu nhưng không tính vào số liệu của đơn vị nào: Phòng Tư pháp (VL-TP): 1 hồ sơ." in notes[-1]


def test_june_2025_keeps_the_old_communes_as_they_were(settings, district_portal):
    configured = settings.with_(**district_portal.settings())
    assert len(portal_units(configured, JUNE)) == 30  # the new communes did not exist yet
    for unit in ("X-19363", "X-19375"):
        ingest_portal_unit(configured, JUNE, unit)
    summary = compute_portal_indicators(configured, JUNE)
    assert figures(settings, JUNE, "X-19363")["NQ01-3"] == (0, 1)  # J-2 received 10/06, in person
    assert figures(settings, JUNE, "X-19363")["TDGQ-1"] == (0, 0)  # resolved 20/06: July's
    assert summary["counted_elsewhere"] == []


def test_a_successor_without_all_its_old_units_loaded_gets_no_portal_figure(settings, district_portal):
    """Whole or nothing holds for the unit counted under too: a missing old commune would undercount."""
    configured = settings.with_(**district_portal.settings())
    for unit in (*OLD_VINH_LINH, "XM-19363", *OLD_BEN_QUAN[:-1], "XM-19366"):
        ingest_portal_unit(configured, JULY, unit)
    compute_portal_indicators(configured, JULY)
    assert figures(settings, JULY, "XM-19363")["NQ01-3"] == (2, 4)
    assert figures(settings, JULY, "XM-19366") == {}  # X-19426's fetch is missing
    ingest_portal_unit(configured, JULY, OLD_BEN_QUAN[-1])
    compute_portal_indicators(configured, JULY)
    assert figures(settings, JULY, "XM-19366")["NQ01-3"] == (1, 2)
