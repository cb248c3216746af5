"""Without a proper TTHC_PII_SALT the portal is not fetched at all (issue 8, point 6).

Before, a missing salt meant dossiers stored with a NULL applicant key. Now the salt is checked
(present, at least MIN_SALT_LENGTH characters) before the first request, once per run in
`portal_units` and again in each unit's fetch; without a portal configured no salt is needed.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tthc import cli, orchestration
from tthc.periods import Period
from tthc.settings import SettingsError
from tthc.sources.portal.privacy import MIN_SALT_LENGTH, SALT_ENV, salt_from_env
from tthc.sources.portal.stage import ingest_portal_unit
from tthc.warehouse import transaction
from tthc_testing.fake_portal import FakePortal

MARCH = Period(2025, 3)
UNIT = "X-19363"
GOOD_SALT = "a" * MIN_SALT_LENGTH


@pytest.mark.parametrize("value, state", [(None, "is not set"), ("", "is not set"),
                                          ("short-salt", "has 10 characters"),
                                          ("b" * (MIN_SALT_LENGTH - 1), f"has {MIN_SALT_LENGTH - 1} characters")])
def test_a_missing_or_short_salt_is_refused_naming_the_variable_and_the_minimum(value, state):
    env = {} if value is None else {SALT_ENV: value}
    with pytest.raises(SettingsError) as err:
        salt_from_env(env)
    assert str(err.value).startswith(f"{SALT_ENV} {state}")
    assert f"at least {MIN_SALT_LENGTH} characters" in str(err.value)
    assert value is None or not value or value not in str(err.value)  # the (weak) secret is not echoed


def test_a_long_enough_salt_is_the_hmac_key():
    assert salt_from_env({SALT_ENV: GOOD_SALT}) == GOOD_SALT.encode()


@pytest.fixture
def portal():
    with FakePortal([UNIT], dossiers_per_unit_month=(5, 5)) as p:
        yield p


def test_no_salt_no_request_and_nothing_stored(tthc_env, portal, monkeypatch):
    monkeypatch.delenv(SALT_ENV, raising=False)
    settings = tthc_env.with_(portal_url=portal.url, portal_token=portal.token)
    with pytest.raises(SettingsError, match=SALT_ENV):
        orchestration.portal_units(settings, MARCH)
    with pytest.raises(SettingsError, match=SALT_ENV):
        ingest_portal_unit(settings, MARCH, UNIT)
    assert portal.requests == 0
    assert not (settings.archive_dir / "portal").exists()


def test_with_the_salt_every_dossier_gets_an_applicant_key(tthc_env, portal, monkeypatch):
    monkeypatch.setenv(SALT_ENV, GOOD_SALT)
    settings = tthc_env.with_(portal_url=portal.url, portal_token=portal.token)
    assert UNIT in orchestration.portal_units(settings, MARCH)
    assert ingest_portal_unit(settings, MARCH, UNIT)["outcome"] == "loaded"
    with transaction(settings.warehouse_url) as conn:
        keys = conn.execute(text("SELECT COUNT(*), COUNT(chu_ho_so_key) FROM fact_dossier")).one()
    assert keys[0] > 0 and keys[0] == keys[1]


def test_without_a_portal_no_salt_is_needed(tthc_env, monkeypatch):
    monkeypatch.delenv(SALT_ENV, raising=False)
    assert orchestration.portal_units(tthc_env, MARCH) == []
    assert ingest_portal_unit(tthc_env, MARCH, UNIT)["outcome"] == "skipped"


def test_tthc_run_without_a_salt_exits_2_with_one_line(tthc_env, portal, monkeypatch, capsys):
    monkeypatch.delenv(SALT_ENV, raising=False)
    monkeypatch.setenv("TTHC_PORTAL_URL", portal.url)
    monkeypatch.setenv("TTHC_PORTAL_TOKEN", portal.token)
    assert cli.main(["run", "--period", MARCH.label]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tthc: {SALT_ENV} is not set") and err.count("\n") == 1
    assert portal.requests == 0
