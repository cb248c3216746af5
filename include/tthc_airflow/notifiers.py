"""Alert channels on the providers' hooks: e-mail (SMTP provider) and a JSON webhook (HTTP provider).

What an alert says is `tthc.alerts` (plain code); this module reads it out of an Airflow callback's
context and delivers it. Each channel has one delivery path (the hooks' synchronous API); the
Deadline Alert callback, which runs in the triggerer's event loop, calls it in a worker thread
(`deadline_callbacks.py`).

Channels are configured by Airflow connections; a channel whose connection is not defined is skipped
with one log line:

* ``tthc_smtp`` (conn type smtp, read by the SMTP provider's ``SmtpHook``): host, port, login,
  password; extra ``{"from_email": ..., "to": [...], "disable_ssl": true, "disable_tls": true,
  "timeout": 30, "retry_limit": 5}``. The hook defaults to SSL *and* STARTTLS: a plain relay on port
  25 needs ``disable_ssl``/``disable_tls``. Recipients: extra ``to`` (list or "a@x, b@y"), else the
  Airflow variable ``tthc_alert_recipients`` (JSON list or comma-separated).
* ``tthc_webhook`` (conn type http, sent by the HTTP provider's ``HttpHook``): extra
  ``{"url": "https://host/path"}``, or host (``host`` may be a full URL) + port + scheme (``schema``
  "http"/"https", or extra ``scheme``; http by default, as in the HTTP provider) + extra ``path``. In
  URI form (``http://:TOKEN@host:8080/hooks/tthc``) Airflow stores the path in ``schema``: it is used
  as the path. The password, if any, is sent as ``Authorization: Bearer <password>``; extra
  ``headers``, ``timeout`` (seconds, default 10), and the provider's ``verify``/``proxies``/``cert``. JSON body: ``{"event", "period", "dag_id",
  "run_id", "task_id", "unit", "message_vi", "reports", ...event fields}``. Only a 2xx answer counts
  as delivered; a redirect is not followed (it is a failure naming where it pointed): configure the
  final URL.

A notifier never raises into the task (delivery errors are logged and swallowed) and never writes a
secret into a message or a log line: the connection's password, secret-named extra headers, and the
secret parts of the webhook URL (`tthc.redaction`: Slack/Teams path keys, ``sig=``, ...) are redacted
and registered with Airflow's secrets masker.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from typing import Any

from airflow.sdk import BaseNotifier

from tthc.alerts import (EVENTS, Alert, deadline_missed_alert, first_line, period_label, report_ready_alert,
                         task_failed_alert)
from tthc.redaction import is_secret_name, redact, safe_url, url_secrets

log = logging.getLogger(__name__)

SMTP_CONN_ID = "tthc_smtp"
WEBHOOK_CONN_ID = "tthc_webhook"
RECIPIENTS_VARIABLE = "tthc_alert_recipients"


# ---------------------------------------------------------------------------------------------------
# From an Airflow callback's context to an Alert


def _context_period(context) -> str | None:
    """The period a task's context is about: the mapped `period` argument (the report task), else the
    run's period (tthc_airflow.period_of_run: a month, or a roll-up's quarter, half-year or year),
    else None."""
    op_kwargs = getattr(context.get("task"), "op_kwargs", None)
    if isinstance(op_kwargs, dict) and isinstance(op_kwargs.get("period"), str) and op_kwargs["period"]:
        return op_kwargs["period"]
    try:
        from tthc_airflow import period_of_run

        return period_of_run(context).label
    except Exception:  # an asset-triggered run names no period, a bad conf label, ...
        params = context.get("params") or {}
        return period_label(params.get("period"))


def _ids(context) -> dict:
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    return {"dag_id": getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", None),
            "run_id": getattr(ti, "run_id", None) or context.get("run_id") or getattr(dag_run, "run_id", None),
            "task_id": getattr(ti, "task_id", None) or getattr(context.get("task"), "task_id", None)}


def _own_return_value(context) -> Any:
    ti = context.get("ti")
    if ti is None:
        return None
    try:
        return ti.xcom_pull(task_ids=ti.task_id, map_indexes=getattr(ti, "map_index", -1), key="return_value")
    except Exception as exc:
        log.warning("report_ready: could not read the task's return value: %s", type(exc).__name__)
        return None


def alert_from_context(event: str, context, *, unit: str | None = None) -> Alert:
    """The alert of `event` for a task callback's context."""
    ids = _ids(context)
    if event == "task_failed":
        ti = context.get("ti")
        return task_failed_alert(context.get("exception"), period=_context_period(context), unit=unit,
                                 try_number=getattr(ti, "try_number", None),
                                 map_index=getattr(ti, "map_index", None), **ids)
    if event == "report_ready":
        return report_ready_alert(_own_return_value(context), period=_context_period(context), **ids)
    if event == "deadline_missed":  # from a task context: the period of the run, no unit list
        return deadline_missed_alert(_context_period(context), [], dag_id=ids["dag_id"], run_id=ids["run_id"],
                                     reason="lượt chạy chưa hoàn tất")
    raise ValueError(f"unknown alert event {event!r}; expected one of {EVENTS}")


# ---------------------------------------------------------------------------------------------------
# Channels


def _extra(conn) -> dict:
    try:
        return conn.extra_dejson or {}
    except Exception:
        return {}


def _as_list(value) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = value.strip()
        if value.startswith("["):
            try:
                return _as_list(json.loads(value))
            except ValueError:
                pass
        return [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]
    return [str(v).strip() for v in value if str(v).strip()]


class _TthcChannel(BaseNotifier):
    """Common part: which event, the connection, one delivery path, never raising."""

    channel = "?"
    default_conn_id = "?"

    def __init__(self, event: str = "task_failed", *, conn_id: str | None = None, unit: str | None = None,
                 context=None):
        if event not in EVENTS:
            raise ValueError(f"unknown alert event {event!r}; expected one of {EVENTS}")
        super().__init__(context=context)
        self.event = event
        self.conn_id = conn_id or self.default_conn_id
        self.unit = unit
        self.last_result: bool | None = None  # True sent, False failed, None skipped

    def __repr__(self) -> str:
        return f"{type(self).__name__}(event={self.event!r}, conn_id={self.conn_id!r})"

    def notify(self, context) -> None:
        """BaseNotifier's callback entry point (task success/failure callbacks)."""
        self.last_result = self.send(self._alert_for(context or {}))

    def _alert_for(self, context) -> Alert:
        try:
            return alert_from_context(self.event, context, unit=self.unit)
        except Exception as exc:  # a broken context still gets an alert out
            self.log.warning("TTHC alert: could not build the %s message (%s)", self.event, type(exc).__name__)
            return Alert(event=self.event, message_vi=f"[TTHC] Cảnh báo {self.event} (không đọc được chi tiết)",
                         **_ids(context))

    def _connection(self):
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            return BaseHook.get_connection(self.conn_id)
        except AirflowNotFoundException:
            self.log.info("TTHC alert: %s channel skipped: connection %r is not defined", self.channel,
                          self.conn_id)
            return None

    def send(self, alert: Alert) -> bool | None:
        """Deliver `alert`: True sent, None skipped (logged), False failed (logged, never raised)."""
        conn, secrets = None, []
        try:
            conn = self._connection()
            if conn is None:
                return None
            secrets = self._secrets(conn)
            if self._deliver(conn, alert) is None:
                return None
            self.log.info("TTHC alert %s sent by %s (%s)", alert.event, self.channel, self.conn_id)
            return True
        except Exception as exc:
            self.log.warning("TTHC alert: %s delivery through %r failed: %s: %s", self.channel, self.conn_id,
                             type(exc).__name__, redact(first_line(exc), secrets))
            return False

    def _secrets(self, conn) -> list[str]:
        """What of the connection must never reach a log line; also handed to Airflow's secrets masker,
        so the providers' own log lines are masked too."""
        from airflow.sdk.log import mask_secret

        extra = _extra(conn)
        headers = extra.get("headers") if isinstance(extra.get("headers"), dict) else {}
        secrets = [conn.password, *(str(v) for k, v in headers.items() if is_secret_name(k)),
                   *(str(extra[k]) for k in ("access_token", "client_secret", "token") if extra.get(k))]
        secrets = [s for s in secrets if s]
        for secret in secrets:
            mask_secret(secret)
        return secrets

    def _deliver(self, conn, alert: Alert) -> bool | None:
        """Send; True when sent, None when skipped (logged). Raises on a delivery error."""
        raise NotImplementedError


class TthcEmailNotifier(_TthcChannel):
    """E-mail through the SMTP provider's SmtpHook and the `tthc_smtp` connection."""

    channel = "email"
    default_conn_id = SMTP_CONN_ID

    def recipients(self, conn) -> list[str]:
        to = _as_list(_extra(conn).get("to"))
        if to:
            return to
        try:
            from airflow.sdk import Variable

            return _as_list(Variable.get(RECIPIENTS_VARIABLE, default=None))
        except Exception:
            return []

    def _deliver(self, conn, alert: Alert) -> bool | None:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        to = self.recipients(conn)
        if not to:
            self.log.warning("TTHC alert: email channel skipped: no recipients (extra 'to' of %r or variable %r)",
                             self.conn_id, RECIPIENTS_VARIABLE)
            return None
        from_email = _extra(conn).get("from_email") or (conn.login if conn.login and "@" in conn.login else None) \
            or "tthc-alerts@localhost"
        with SmtpHook(smtp_conn_id=self.conn_id) as hook:
            hook.send_email_smtp(to=to, from_email=from_email, subject=alert.message_vi, html_content=alert.html(),
                                 custom_headers={"X-TTHC-Event": alert.event, "X-TTHC-Period": alert.period or ""})
        return True


def webhook_url(conn) -> str:
    """The webhook's URL from an http connection (see the module docstring)."""
    extra = _extra(conn)
    if extra.get("url"):
        return str(extra["url"])
    host = (conn.host or "").strip()
    schema = (conn.schema or "").strip()
    path = str(extra.get("path") or extra.get("endpoint") or "")
    if "://" in host:
        base = host.rstrip("/")
    else:
        if not host:
            raise ValueError(f"the webhook connection {conn.conn_id!r} has no host (or extra 'url')")
        scheme = extra.get("scheme") or (schema if schema in ("http", "https") else None) or (
            "https" if conn.conn_type == "https" else "http")
        base = f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
    if not path and schema and schema not in ("http", "https"):
        path = schema  # URI form: Airflow stores the URI's path in `schema`
    return base + ("/" + path.lstrip("/") if path else "")


class WebhookDeliveryError(RuntimeError):
    """The webhook did not answer 2xx."""


# Extras the HTTP provider reads as session options (the others it would send as headers).
_PROVIDER_OPTIONS = ("proxies", "proxy", "verify", "verify_ssl", "cert", "trust_env")


def _webhook_session(conn, url: str, headers: dict):
    """A requests session from the HTTP provider's HttpHook (proxies, TLS verification, keep-alive, as
    its connection extras say), shown `conn` in the provider's own shape: the whole URL as host (the
    provider reads `schema` as the scheme, where the URI form keeps the path) and the extra `headers`
    as header extras (the provider sends every other extra key as a header).

    The request itself is sent here, not by HttpHook.run: that one follows redirects, accepts 3xx and
    logs the URL (a Slack/Teams key) and the answer's body."""
    from airflow.providers.http.hooks.http import HttpHook
    from airflow.sdk import Connection

    extra = _extra(conn)
    headers_extra = extra.get("headers") if isinstance(extra.get("headers"), dict) else {}
    shaped_extra = {**{str(k): str(v) for k, v in headers_extra.items()},
                    **{k: extra[k] for k in _PROVIDER_OPTIONS if k in extra}}
    shaped = Connection(conn_id=conn.conn_id, conn_type="http", host=url, extra=json.dumps(shaped_extra))

    class _Hook(HttpHook):
        def get_connection(self, conn_id):  # noqa: ARG002 - always the shaped connection
            return shaped

    return _Hook(method="POST", http_conn_id=conn.conn_id).get_conn(headers=headers)


class TthcWebhookNotifier(_TthcChannel):
    """A JSON POST to the `tthc_webhook` connection (Bearer token = the connection's password)."""

    channel = "webhook"
    default_conn_id = WEBHOOK_CONN_ID

    def _secrets(self, conn) -> list[str]:
        from airflow.sdk.log import mask_secret

        parts = url_secrets(webhook_url(conn))
        for secret in parts:
            mask_secret(secret)
        return [*super()._secrets(conn), *parts]

    def _deliver(self, conn, alert: Alert) -> bool:
        url = webhook_url(conn)
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "tthc-alerts/1"}
        if conn.password:
            headers["Authorization"] = f"Bearer {conn.password}"
        body = json.dumps(alert.payload(), ensure_ascii=False, default=str).encode("utf-8")
        timeout = float(_extra(conn).get("timeout", 10))
        with _webhook_session(conn, url, headers) as session, \
                session.post(url, data=body, timeout=timeout, allow_redirects=False) as response:
            if 200 <= response.status_code < 300:
                return True
            where = safe_url(url)
            if 300 <= response.status_code < 400:
                target = safe_url(response.headers.get("Location") or "?")
                raise WebhookDeliveryError(f"HTTP {response.status_code} from {where}: redirect to {target} "
                                           "not followed")
            raise WebhookDeliveryError(f"HTTP {response.status_code} from {where}")


CHANNELS = (TthcEmailNotifier, TthcWebhookNotifier)


def tthc_alerts(event: str, *, unit: str | None = None) -> list[BaseNotifier]:
    """The notifiers to put in a callback, e.g. ``on_failure_callback=tthc_alerts("task_failed")``."""
    return [cls(event, unit=unit) for cls in CHANNELS]


def send_alert(alert: Alert) -> dict[str, bool | None]:
    """Send an alert through every channel without a task context: {channel: True/False/None(skipped)}."""
    return {cls.channel: cls(alert.event).send(alert) for cls in CHANNELS}


def notify_deadline_missed(period, missing_units: Iterable[Sequence[str]], deadline=None, *,
                           dag_id: str | None = None, run_id: str | None = None,
                           reason: str | None = None) -> dict[str, bool | None]:
    """A missed submission deadline, from anywhere (no task context needed).

    ``notify_deadline_missed("2025-03", [("VL-YT", "Phòng Y tế")], date(2025, 3, 19))``"""
    try:
        alert = deadline_missed_alert(period, missing_units, deadline, dag_id=dag_id, run_id=run_id, reason=reason)
    except Exception as exc:
        log.warning("TTHC alert: could not build the deadline_missed message: %s: %s", type(exc).__name__,
                    first_line(exc))
        return {cls.channel: False for cls in CHANNELS}
    return send_alert(alert)
