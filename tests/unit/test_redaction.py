"""tthc.redaction: one helper hides secrets in URLs and texts, wherever the pipeline shows a URL."""

from __future__ import annotations

import pytest

from tthc.redaction import redact, safe_url, url_secrets

PASSWORD = "p@ss:w@rd"  # '@' and ':' inside, as typed (unencoded): the host follows the last '@'


@pytest.mark.parametrize("url, shown", [
    (f"postgresql+psycopg2://tthc:{PASSWORD}@db.ubnd.vn:5432/tthc", "postgresql+psycopg2://tthc:***@db.ubnd.vn:5432/tthc"),
    ("postgresql://tthc:p%40ss@db/tthc?sslmode=require", "postgresql://tthc:***@db/tthc?sslmode=require"),
    ("postgresql://postgres@127.0.0.1/tthc?host=/run/pg&password=x1", "postgresql://postgres@127.0.0.1/tthc?host=/run/pg&password=***"),
    ("sqlite:////srv/tthc/data1234567890abcdef/warehouse.sqlite", "sqlite:////srv/tthc/data1234567890abcdef/warehouse.sqlite"),
    ("https://hooks.slack.com/services/T0AB12CD3/B0EF45GH6/abcdEFGH1234ijklMNOP5678", "https://hooks.slack.com/services/***"),
    ("https://ubnd.webhook.office.com/webhookb2/3f2504e0-4f89-11d3-9a0c-0305e82c3301@72f988bf-86f1-41af-91ab-2d7cd011db47"
     "/IncomingWebhook/0123456789abcdef0123456789abcdef/3f2504e0-4f89-11d3-9a0c-0305e82c3301",
     "https://ubnd.webhook.office.com/webhookb2/***"),
    ("https://prod-01.southeastasia.logic.azure.com:443/workflows/ab12/triggers/manual/paths/invoke"
     "?api-version=2016-06-01&sv=1.0&sig=Zx9Y8w7V6u5",
     "https://prod-01.southeastasia.logic.azure.com:443/workflows/ab12/triggers/manual/paths/invoke"
     "?api-version=2016-06-01&sv=1.0&sig=***"),
    ("https://chat.googleapis.com/v1/spaces/AAAA/messages?key=AIzaSyDdI0&token=tok-1", "https://chat.googleapis.com/v1/spaces/AAAA/messages?key=***&token=***"),
    ("https://discord.com/api/webhooks/1234567890/tokenTOKENtoken", "https://discord.com/api/webhooks/***"),
    ("https://hooks.ubnd.vn/a1b2c3d4e5f6a7b8c9d0/tthc#k=1", "https://hooks.ubnd.vn/***/tthc#***"),
    ("http://127.0.0.1:8080/hooks/tthc", "http://127.0.0.1:8080/hooks/tthc"),
    ("/srv/tthc/warehouse.sqlite", "/srv/tthc/warehouse.sqlite"),
])
def test_safe_url(url, shown):
    assert safe_url(url) == shown
    for secret in url_secrets(url):
        assert secret not in shown


def test_redact_replaces_known_secrets_in_any_form_and_makes_urls_in_text_safe():
    text = (f"could not connect to postgresql://tthc:{PASSWORD}@db/tthc (password {PASSWORD}, "
            f"quoted p%40ss%3Aw%40rd); url: /services/T0AB12CD3/B0EF45GH6/abcdEFGH1234ijklMNOP5678")
    slack = "https://hooks.slack.com/services/T0AB12CD3/B0EF45GH6/abcdEFGH1234ijklMNOP5678"
    shown = redact(text, [PASSWORD, None, "", *url_secrets(slack)])
    assert shown == ("could not connect to postgresql://tthc:***@db/tthc (password ***, quoted ***); "
                     "url: /services/***/***/***")
    assert redact("no secret here") == "no secret here"


def test_settings_repr_never_shows_the_warehouse_password_or_the_portal_token():
    from tthc.settings import Settings

    settings = Settings.from_env({"TTHC_DATA_DIR": "/srv/tthc", "TTHC_WAREHOUSE_URL": f"postgresql://tthc:{PASSWORD}@db/tthc",
                                  "TTHC_PORTAL_URL": "https://api:k3y-secret@portal.ubnd.vn", "TTHC_PORTAL_TOKEN": "tok-canary"})
    for shown in (repr(settings), str(settings), f"{settings}"):
        assert "postgresql://tthc:***@db/tthc" in shown and "https://api:***@portal.ubnd.vn" in shown
        assert "p@ss" not in shown and "w@rd" not in shown and "k3y" not in shown and "tok-canary" not in shown
    assert settings.warehouse_url == f"postgresql://tthc:{PASSWORD}@db/tthc"  # the value itself is intact


def test_a_warehouse_error_names_the_url_without_its_password():
    from sqlalchemy.engine import URL

    from tthc.warehouse import WarehouseError, transaction

    # As tthc_airflow.warehouse_url() renders a connection: the password percent-encoded.
    encoded = URL.create("postgresql+psycopg2", username="tthc", password=PASSWORD, host="127.0.0.1", port=1,
                         database="tthc").render_as_string(hide_password=False)
    assert "p%40ss" in encoded
    raw = f"postgresql+psycopg2://tthc:{PASSWORD}@127.0.0.1:1/tthc"  # as typed in TTHC_WAREHOUSE_URL
    for url, what in ((encoded, "OperationalError"), (raw, "not a valid SQLAlchemy URL")):
        with pytest.raises(WarehouseError) as err:
            with transaction(url):  # nothing listens on port 1
                pass
        message = str(err.value)
        assert message.startswith(f"warehouse postgresql+psycopg2://tthc:***@127.0.0.1:1/tthc: {what}"), message
        for fragment in ("p@ss", "w@rd", "p%40ss", "w%40rd", "w@rd@127"):
            assert fragment not in message, (fragment, message)
        assert err.value.__cause__ is None or "w@rd" not in str(err.value.__cause__)


def test_the_portal_client_shows_its_url_without_credentials():
    from tthc.sources.portal import PortalClient

    with PortalClient("https://api:k3y-secret@portal.ubnd.vn/tthc", "tok-canary") as client:
        assert repr(client) == "PortalClient('https://api:***@portal.ubnd.vn/tthc', profile='national-sync')"
