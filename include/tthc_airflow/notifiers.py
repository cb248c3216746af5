"""Alerts: e-mail and webhook notifiers with Vietnamese messages (issue point "Alerts").

Three events, each naming the period, the unit where there is one, and the reason:

* ``task_failed``     — ``[TTHC] Kỳ 2025-03: tác vụ load_warehouse thất bại — <first line of the error>``
* ``deadline_missed`` — ``[TTHC] Kỳ 2025-03: hết hạn nộp báo cáo (19/03/2025), còn 2 đơn vị chưa nộp: ...``
* ``report_ready``    — ``[TTHC] Báo cáo kỳ 2025-03 đã sẵn sàng: <docx>, <xlsx>``

Channels are configured by Airflow connections; a channel whose connection is not defined is skipped
with one log line:

* ``tthc_smtp`` (conn type smtp, read by the SMTP provider's ``SmtpHook``): host, port, login,
  password; extra ``{"from_email": ..., "to": [...], "disable_ssl": true, "disable_tls": true,
  "timeout": 30, "retry_limit": 5}``. The hook defaults to SSL *and* STARTTLS: a plain relay on port
  25 needs ``disable_ssl``/``disable_tls``. Recipients: extra ``to`` (list or "a@x, b@y"), else the
  Airflow variable ``tthc_alert_recipients`` (JSON list or comma-separated).
* ``tthc_webhook`` (conn type http): extra ``{"url": "https://host/path"}``, or host (``host`` may be a
  full URL) + port + scheme (``schema`` "http"/"https", or extra ``scheme``; http by default, as in
  the HTTP provider) + extra ``path``. In URI form (``http://:TOKEN@host:8080/hooks/tthc``) Airflow
  stores the path in ``schema``: it is used as the path. The password, if any, is sent as
  ``Authorization: Bearer <password>``; extra ``headers`` and ``timeout`` (seconds, default 10).
  JSON body: ``{"event", "period", "dag_id", "run_id", "task_id", "unit", "message_vi", "reports",
  ...event fields}``.

A notifier never raises into the task (delivery errors are logged and swallowed) and never writes a
connection's password/token or extra headers into a message or a log line.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)

SMTP_CONN_ID = "tthc_smtp"
WEBHOOK_CONN_ID = "tthc_webhook"
RECIPIENTS_VARIABLE = "tthc_alert_recipients"
EVENTS = ("task_failed", "deadline_missed", "report_ready")
SUBJECT_UNITS = 5  # missing units named in the subject line; the body names them all
MAX_REASON = 300


# ---------------------------------------------------------------------------------------------------
# Messages


@dataclass(frozen=True)
class Alert:
    """One alert, ready for any channel: `message_vi` is the one-line subject."""

    event: str
    message_vi: str
    period: str | None = None
    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    unit: str | None = None
    reports: dict = field(default_factory=dict)
    details: tuple[str, ...] = ()  # further lines for the e-mail body
    fields: dict = field(default_factory=dict)  # event-specific JSON fields

    def payload(self) -> dict:
        return {"event": self.event, "period": self.period, "dag_id": self.dag_id, "run_id": self.run_id,
                "task_id": self.task_id, "unit": self.unit, "message_vi": self.message_vi,
                "reports": dict(self.reports), **self.fields}

    def text(self) -> str:
        lines = [self.message_vi, "", *self.details]
        where = [f"{k}: {v}" for k, v in (("DAG", self.dag_id), ("Lượt chạy", self.run_id),
                                           ("Tác vụ", self.task_id)) if v]
        return "\n".join([*lines, *([""] + where if where else [])]).strip()

    def html(self) -> str:
        return "<html><body>" + "".join(
            f"<p>{html.escape(line)}</p>" if line else "" for line in self.text().splitlines()) + "</body></html>"


def _first_line(error: BaseException | str | None) -> str:
    if error is None:
        return "không rõ nguyên nhân"
    text = str(error).strip()
    line = text.splitlines()[0].strip() if text else ""
    if not line:
        line = type(error).__name__ if isinstance(error, BaseException) else "không rõ nguyên nhân"
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 1] + "…"


def _period_label(period) -> str | None:
    if period is None or period == "":
        return None
    return getattr(period, "label", None) or str(period)


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
        return _period_label(params.get("period"))


def _ids(context) -> dict:
    ti = context.get("ti") or context.get("task_instance")
    dag_run = context.get("dag_run")
    return {"dag_id": getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", None),
            "run_id": getattr(ti, "run_id", None) or context.get("run_id") or getattr(dag_run, "run_id", None),
            "task_id": getattr(ti, "task_id", None) or getattr(context.get("task"), "task_id", None)}


def _period_text(label: str | None) -> str:
    return f"Kỳ {label}" if label else "Kỳ (không xác định)"


def task_failed_alert(context, *, unit: str | None = None) -> Alert:
    """From a failure callback's context; the unit is `unit`, else the error's `unit_code`."""
    error = context.get("exception")
    ids = _ids(context)
    label = _context_period(context)
    unit = unit or getattr(error, "unit_code", None) or None
    reason = _first_line(error)
    where = f" (đơn vị {unit})" if unit else ""
    ti = context.get("ti")
    details = [f"Lỗi: {type(error).__name__}: {reason}" if isinstance(error, BaseException) else f"Lỗi: {reason}"]
    if getattr(ti, "try_number", None):
        details.append(f"Lần thử: {ti.try_number}")
    if getattr(ti, "map_index", -1) not in (-1, None):
        details.append(f"Chỉ số ánh xạ (map index): {ti.map_index}")
    return Alert(event="task_failed", period=label, unit=unit, details=tuple(details),
                 message_vi=f"[TTHC] {_period_text(label)}: tác vụ {ids['task_id']}{where} thất bại — {reason}",
                 fields={"error": reason, "error_type": type(error).__name__ if error is not None else None},
                 **ids)


def report_ready_alert(context=None, *, result: dict | None = None) -> Alert:
    """From the report task's return value (`result`, else its XCom) — {"period", "docx", "xlsx", ...}."""
    context = context or {}
    if result is None:
        result = _own_return_value(context)
    result = result if isinstance(result, dict) else {}
    label = _period_label(result.get("period")) or _context_period(context)
    reports = {k: str(result[k]) for k in ("docx", "xlsx") if result.get(k)}
    paths = ", ".join(reports.values()) or "(không có tệp)"
    details = [f"Tệp {k.upper()}: {v}" for k, v in reports.items()]
    summary = {k: result[k] for k in ("indicators", "indicators_met", "indicators_not_met",
                                      "units_below_target", "discrepancies", "submissions") if k in result}
    if summary:
        details.append("Tóm tắt: " + json.dumps(summary, ensure_ascii=False, default=str))
    return Alert(event="report_ready", period=label, reports=reports, details=tuple(details),
                 message_vi=f"[TTHC] Báo cáo kỳ {label or '(không xác định)'} đã sẵn sàng: {paths}",
                 fields={"summary": summary}, **_ids(context))


def _own_return_value(context) -> Any:
    ti = context.get("ti")
    if ti is None:
        return None
    try:
        return ti.xcom_pull(task_ids=ti.task_id, map_indexes=getattr(ti, "map_index", -1), key="return_value")
    except Exception as exc:
        log.warning("report_ready: could not read the task's return value: %s", type(exc).__name__)
        return None


def _deadline_day(deadline) -> date | None:
    """The last day to submit: a tthc.calendar.Deadline, a date or an ISO date."""
    if deadline is None or deadline == "":
        return None
    if isinstance(deadline, str):
        return date.fromisoformat(deadline)
    return getattr(deadline, "last_day", deadline)


def deadline_missed_alert(period, missing_units: Iterable[Sequence[str]], deadline=None, *,
                          dag_id: str | None = None, run_id: str | None = None,
                          reason: str | None = None) -> Alert:
    """`missing_units`: (code, name) pairs. `deadline`: the last day to submit (a Deadline, a date or
    an ISO date); None = the month's own, from the deployment's reporting calendar."""
    label = _period_label(period)
    units = [(str(u[0]), str(u[1]) if len(u) > 1 and u[1] else str(u[0])) for u in missing_units or ()]
    if deadline is None and label:
        from tthc.periods import Period

        from tthc_airflow import reporting_calendar

        deadline = reporting_calendar().deadline(Period.parse(label))
    day = _deadline_day(deadline)
    when = f" ({day:%d/%m/%Y})" if day else ""
    named = [f"{name} ({code})" for code, name in units]
    if named:
        shown = ", ".join(named[:SUBJECT_UNITS]) + (f", … và {len(named) - SUBJECT_UNITS} đơn vị khác"
                                                   if len(named) > SUBJECT_UNITS else "")
        what = f"còn {len(named)} đơn vị chưa nộp: {shown}"
    else:
        what = reason or "không có danh sách đơn vị chưa nộp"
    details = [f"Đơn vị chưa nộp ({len(named)}):", *[f"- {n}" for n in named]] if named else []
    if reason and named:
        details.append(f"Lý do: {reason}")
    return Alert(event="deadline_missed", period=label, dag_id=dag_id, run_id=run_id,
                 unit=units[0][0] if len(units) == 1 else None, details=tuple(details),
                 message_vi=f"[TTHC] {_period_text(label)}: hết hạn nộp báo cáo{when}, {what}",
                 fields={"deadline": day.isoformat() if day else None, "reason": reason,
                         "missing_units": [{"code": c, "name": n} for c, n in units]})


def build_alert(event: str, context, *, unit: str | None = None, result: dict | None = None) -> Alert:
    if event == "task_failed":
        return task_failed_alert(context, unit=unit)
    if event == "report_ready":
        return report_ready_alert(context, result=result)
    if event == "deadline_missed":  # from a task context: the period of the run, no unit list
        ids = _ids(context)
        return deadline_missed_alert(_context_period(context), [], dag_id=ids["dag_id"], run_id=ids["run_id"],
                                     reason="lượt chạy chưa hoàn tất")
    raise ValueError(f"unknown alert event {event!r}; expected one of {EVENTS}")


# ---------------------------------------------------------------------------------------------------
# Channels


def _redact(text: str, secrets: Iterable[str | None]) -> str:
    for s in secrets:
        if s and len(str(s)) >= 3:
            text = text.replace(str(s), "***")
    return text


def _conn_secrets(conn) -> list[str]:
    extra = _extra(conn)
    headers = extra.get("headers") if isinstance(extra.get("headers"), dict) else {}
    return [conn.password, *(str(v) for v in headers.values()),
            *(str(extra[k]) for k in ("access_token", "client_secret", "token") if extra.get(k))]


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
    """Common part: which event, the connection, never raising."""

    channel = "?"
    default_conn_id = "?"

    def __init__(self, event: str = "task_failed", *, conn_id: str | None = None, unit: str | None = None,
                 alert: Alert | None = None, context=None):
        if event not in EVENTS:
            raise ValueError(f"unknown alert event {event!r}; expected one of {EVENTS}")
        super().__init__(context=context)
        self.event = event
        self.conn_id = conn_id or self.default_conn_id
        self.unit = unit
        self.alert = alert
        self.last_result: bool | None = None  # True sent, False failed, None skipped

    def __repr__(self) -> str:
        return f"{type(self).__name__}(event={self.event!r}, conn_id={self.conn_id!r})"

    # BaseNotifier API -----------------------------------------------------------------------------
    def notify(self, context) -> None:
        self.last_result = self.send(self._alert_for(context))

    async def async_notify(self, context) -> None:
        self.last_result = await self.asend(self._alert_for(context))

    # -----------------------------------------------------------------------------------------------
    def _alert_for(self, context) -> Alert:
        if self.alert is not None:
            return self.alert
        try:
            return build_alert(self.event, context or {}, unit=self.unit)
        except Exception as exc:  # a broken context still gets an alert out
            self.log.warning("TTHC alert: could not build the %s message (%s)", self.event, type(exc).__name__)
            ids = _ids(context or {})
            return Alert(event=self.event, message_vi=f"[TTHC] Cảnh báo {self.event} (không đọc được chi tiết)",
                         **ids)

    def _connection(self):
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            return BaseHook.get_connection(self.conn_id)
        except AirflowNotFoundException:
            self.log.info("TTHC alert: %s channel skipped: connection %r is not defined", self.channel,
                          self.conn_id)
            return None

    async def _aconnection(self):
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            return await BaseHook.aget_connection(self.conn_id)
        except AirflowNotFoundException:
            self.log.info("TTHC alert: %s channel skipped: connection %r is not defined", self.channel,
                          self.conn_id)
            return None

    def send(self, alert: Alert) -> bool | None:
        conn = None
        try:
            conn = self._connection()
            if conn is None or self._deliver(conn, alert) is None:
                return None
            self.log.info("TTHC alert %s sent by %s (%s)", alert.event, self.channel, self.conn_id)
            return True
        except Exception as exc:
            self._log_failure(exc, conn)
            return False

    async def asend(self, alert: Alert) -> bool | None:
        conn = None
        try:
            conn = await self._aconnection()
            if conn is None or await self._adeliver(conn, alert) is None:
                return None
            self.log.info("TTHC alert %s sent by %s (%s)", alert.event, self.channel, self.conn_id)
            return True
        except Exception as exc:
            self._log_failure(exc, conn)
            return False

    def _log_failure(self, exc: BaseException, conn) -> None:
        secrets = _conn_secrets(conn) if conn is not None else []
        self.log.warning("TTHC alert: %s delivery through %r failed: %s: %s", self.channel, self.conn_id,
                         type(exc).__name__, _redact(_first_line(exc), secrets))

    def _deliver(self, conn, alert: Alert) -> bool | None:
        """Send; True when sent, None when skipped (logged). Raises on a delivery error."""
        raise NotImplementedError

    async def _adeliver(self, conn, alert: Alert) -> bool | None:
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

    def _message(self, conn, alert: Alert) -> dict:
        extra = _extra(conn)
        from_email = extra.get("from_email") or (conn.login if conn.login and "@" in conn.login else None) \
            or "tthc-alerts@localhost"
        return {"from_email": from_email, "subject": alert.message_vi, "html_content": alert.html(),
                "custom_headers": {"X-TTHC-Event": alert.event, "X-TTHC-Period": alert.period or ""}}

    def _no_recipients(self) -> None:
        self.log.warning("TTHC alert: email channel skipped: no recipients (extra 'to' of %r or variable %r)",
                         self.conn_id, RECIPIENTS_VARIABLE)

    def _deliver(self, conn, alert: Alert) -> bool | None:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        to = self.recipients(conn)
        if not to:
            return self._no_recipients()
        with SmtpHook(smtp_conn_id=self.conn_id) as hook:
            hook.send_email_smtp(to=to, **self._message(conn, alert))
        return True

    async def _adeliver(self, conn, alert: Alert) -> bool | None:
        from airflow.providers.smtp.hooks.smtp import SmtpHook

        to = self.recipients(conn)
        if not to:
            return self._no_recipients()
        async with SmtpHook(smtp_conn_id=self.conn_id) as hook:
            await hook.asend_email_smtp(to=to, **self._message(conn, alert))
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
            raise ValueError("the webhook connection has no host (or extra 'url')")
        scheme = extra.get("scheme") or (schema if schema in ("http", "https") else None) or (
            "https" if conn.conn_type == "https" else "http")
        base = f"{scheme}://{host}" + (f":{conn.port}" if conn.port else "")
    if not path and schema and schema not in ("http", "https"):
        path = schema  # URI form: Airflow stores the URI's path in `schema`
    return base + ("/" + path.lstrip("/") if path else "")


def _safe_url(url: str) -> str:
    """For logs: no user info, no query string."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class TthcWebhookNotifier(_TthcChannel):
    """A JSON POST to the `tthc_webhook` connection (Bearer token = the connection's password)."""

    channel = "webhook"
    default_conn_id = WEBHOOK_CONN_ID

    def request(self, conn, alert: Alert) -> dict:
        extra = _extra(conn)
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "tthc-alerts/1"}
        if isinstance(extra.get("headers"), dict):
            headers.update({str(k): str(v) for k, v in extra["headers"].items()})
        if conn.password:
            headers["Authorization"] = f"Bearer {conn.password}"
        body = json.dumps(alert.payload(), ensure_ascii=False, default=str).encode("utf-8")
        return {"url": webhook_url(conn), "headers": headers, "content": body,
                "timeout": float(extra.get("timeout", 10))}

    def _check(self, response, url: str) -> None:
        if response.status_code >= 400:
            raise RuntimeError(f"HTTP {response.status_code} from {_safe_url(url)}")

    def _deliver(self, conn, alert: Alert) -> bool:
        import httpx

        req = self.request(conn, alert)
        with httpx.Client(timeout=req["timeout"]) as client:
            response = client.post(req["url"], headers=req["headers"], content=req["content"])
        self._check(response, req["url"])
        return True

    async def _adeliver(self, conn, alert: Alert) -> bool:
        import httpx

        req = self.request(conn, alert)
        async with httpx.AsyncClient(timeout=req["timeout"]) as client:
            response = await client.post(req["url"], headers=req["headers"], content=req["content"])
        self._check(response, req["url"])
        return True


CHANNELS = (TthcEmailNotifier, TthcWebhookNotifier)


def tthc_alerts(event: str, *, unit: str | None = None) -> list[BaseNotifier]:
    """The notifiers to put in a callback, e.g. ``on_failure_callback=tthc_alerts("task_failed")``."""
    if event not in EVENTS:
        raise ValueError(f"unknown alert event {event!r}; expected one of {EVENTS}")
    return [cls(event, unit=unit) for cls in CHANNELS]


def send_alert(alert: Alert) -> dict[str, bool | None]:
    """Send an alert through every channel without a task context: {channel: True/False/None(skipped)}."""
    return {cls.channel: cls(alert.event, alert=alert).send(alert) for cls in CHANNELS}


async def asend_alert(alert: Alert) -> dict[str, bool | None]:
    notifiers = [cls(alert.event, alert=alert) for cls in CHANNELS]
    results = await asyncio.gather(*(n.asend(alert) for n in notifiers))
    return {n.channel: r for n, r in zip(notifiers, results)}


def notify_deadline_missed(period, missing_units: Iterable[Sequence[str]], deadline=None, *,
                           dag_id: str | None = None, run_id: str | None = None,
                           reason: str | None = None) -> dict[str, bool | None]:
    """A missed submission deadline, from anywhere (no task context needed).

    ``notify_deadline_missed("2025-03", [("VL-YT", "Phòng Y tế")], date(2025, 3, 19))``"""
    try:
        alert = deadline_missed_alert(period, missing_units, deadline, dag_id=dag_id, run_id=run_id, reason=reason)
    except Exception as exc:
        log.warning("TTHC alert: could not build the deadline_missed message: %s: %s", type(exc).__name__, exc)
        return {cls.channel: False for cls in CHANNELS}
    return send_alert(alert)


# ---------------------------------------------------------------------------------------------------
# Deadline Alerts (Airflow 3.1+): DeadlineAlert(callback=AsyncCallback(deadline_alert_callback, ...))


def _deadline_alert(context: dict | None, kwargs: dict) -> Alert:
    """What Airflow 3.3 passes (airflow.models.deadline.Deadline.handle_miss): context = {"dag_run":
    DAGRunResponse as JSON (dag_run_id, dag_id, logical_date, data_interval_start/end, conf, ...),
    "deadline": {"id", "deadline_time"}} — no task instance, no full template context."""
    from tthc.periods import Period

    from tthc_airflow import reporting_calendar

    context = context or {}
    dag_run = context.get("dag_run") or {}
    calendar = reporting_calendar()
    label = _period_label(kwargs.get("period")) or _period_label((dag_run.get("conf") or {}).get("period"))
    if not label and (dag_run.get("logical_date") or dag_run.get("data_interval_end")):
        start, end, logical = (_instant(dag_run.get(k))
                               for k in ("data_interval_start", "data_interval_end", "logical_date"))
        label = calendar.period_of_run(logical_date=logical,
                                       data_interval=(start, end) if start and end else None).label
    run_id = dag_run.get("dag_run_id") or dag_run.get("run_id")
    alert_time = (context.get("deadline") or {}).get("deadline_time")
    deadline = kwargs.get("deadline")
    if not deadline and label:  # the submission deadline of the period, not Airflow's alert time
        deadline = calendar.deadline(Period.parse(label))
    reason = kwargs.get("reason")
    if not reason:
        reason = f"lượt chạy {run_id} chưa hoàn tất" if run_id else "lượt chạy chưa hoàn tất"
        if alert_time:
            reason += f" (mốc cảnh báo {_instant(alert_time).astimezone(calendar.zone):%H:%M %d/%m/%Y})"
    return deadline_missed_alert(label, kwargs.get("missing_units") or [], deadline,
                                 dag_id=dag_run.get("dag_id"), run_id=run_id, reason=reason)


def _instant(value) -> datetime | None:
    """A datetime from the JSON Airflow hands a deadline callback (ISO text, 'Z' for UTC)."""
    if value is None or value == "" or isinstance(value, datetime):
        return value or None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


async def deadline_alert_callback(context: dict | None = None, **kwargs) -> dict:
    """AsyncCallback for DeadlineAlert (runs in the triggerer): the period's run had not succeeded by
    Airflow's deadline. kwargs (all optional, JSON-serialisable): period; deadline (ISO date shown as
    the submission deadline; default: the period's own, from the deployment's reporting calendar);
    missing_units [[code, name], ...]; reason. Never raises."""
    try:
        alert = _deadline_alert(context, kwargs)
    except Exception as exc:
        log.warning("TTHC deadline alert: could not build the message: %s: %s", type(exc).__name__, exc)
        return {"sent": {}}
    return {"sent": await asend_alert(alert), "message_vi": alert.message_vi}


def deadline_alert_callback_sync(context: dict | None = None, **kwargs) -> dict:
    """SyncCallback variant (runs on an executor that supports callbacks, e.g. LocalExecutor)."""
    try:
        alert = _deadline_alert(context, kwargs)
    except Exception as exc:
        log.warning("TTHC deadline alert: could not build the message: %s: %s", type(exc).__name__, exc)
        return {"sent": {}}
    return {"sent": send_alert(alert), "message_vi": alert.message_vi}
