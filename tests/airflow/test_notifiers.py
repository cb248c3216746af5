"""Alerts against real local sinks: an aiosmtpd SMTP server and an http.server webhook receiver.

Connections come from AIRFLOW_CONN_* environment variables, as a deployment would define them. The
end-to-end test runs a throwaway DAG through dag.test(): a task really fails, the on_failure_callback
really fires inside the task run, and the messages arrive at the sinks.
"""

from __future__ import annotations

import asyncio
import os
import email
import json
import logging
import socket
import threading
from datetime import date, datetime, timezone
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tthc.calendar import DEFAULT_CALENDAR
from tthc.periods import Period

SMTP_PASSWORD = "smtp-canary-Pw-7f3a9c"  # canaries: must reach the servers, never a message or a log
WEBHOOK_TOKEN = "webhook-canary-Tk-51d2e8"
SLACK_KEY = "sLaCkCanary24CharKey7f3a"  # the secret part of a Slack-style webhook path
TEAMS_SIG = "TeamsSigCanary-9c2e"  # a Power Automate / Teams `sig=` query value
API_KEY = "api-key-canary-4b7e"  # an extra header named like a secret
RECIPIENTS = ["vanphong@ubnd.example.vn", "ctth@ubnd.example.vn"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _subject(msg) -> str:
    return str(make_header(decode_header(msg["Subject"])))


def _body(msg) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/html":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no html part")


class _SmtpSink:
    """aiosmtpd on 127.0.0.1 requiring AUTH with the canary password."""

    def __init__(self):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        self.messages: list = []
        self.envelopes: list = []
        self.logins: list[tuple[str, str]] = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                sink.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
                sink.messages.append(email.message_from_bytes(envelope.original_content or envelope.content))
                return "250 OK"

        def authenticator(server, session, envelope, mechanism, auth_data):
            login, password = auth_data.login.decode(), auth_data.password.decode()
            sink.logins.append((login, password))
            return AuthResult(success=password == SMTP_PASSWORD)

        self.port = _free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     authenticator=authenticator, auth_require_tls=False)

    def conn_json(self, **extra) -> str:
        return json.dumps({"conn_type": "smtp", "host": "127.0.0.1", "port": self.port, "login": "tthc-bot",
                           "password": SMTP_PASSWORD,
                           "extra": {"from_email": "tthc-bot@ubnd.example.vn", "disable_ssl": True,
                                     "disable_tls": True, "timeout": 5, "retry_limit": 0, **extra}})


class _WebhookSink:
    """http.server in a thread capturing JSON posts; answers `status`."""

    def __init__(self):
        self.posts: list[dict] = []
        self.status = 200
        self.location: str | None = None  # sent with a 3xx status
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sink.posts.append({"path": self.path, "headers": dict(self.headers),
                                   "raw": body, "json": json.loads(body.decode("utf-8"))})
                self.send_response(sink.status)
                if sink.location:
                    self.send_header("Location", sink.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def conn_uri(self) -> str:
        # URI form: Airflow keeps the path in `schema`; the password is the Bearer token.
        return f"http://:{WEBHOOK_TOKEN}@127.0.0.1:{self.port}/hooks/tthc"


@pytest.fixture
def smtp_sink():
    quiet = logging.getLogger("mail.log")  # aiosmtpd's per-session chatter
    level, quiet.level = quiet.level, logging.WARNING
    sink = _SmtpSink()
    sink.controller.start()
    yield sink
    sink.controller.stop()
    quiet.setLevel(level)


@pytest.fixture
def webhook_sink():
    sink = _WebhookSink()
    sink.thread.start()
    yield sink
    sink.server.shutdown()
    sink.server.server_close()


@pytest.fixture
def channels(smtp_sink, webhook_sink, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_SMTP", smtp_sink.conn_json(to=RECIPIENTS))
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_WEBHOOK", webhook_sink.conn_uri())
    return smtp_sink, webhook_sink


@pytest.fixture
def no_channels(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_TTHC_SMTP", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_TTHC_WEBHOOK", raising=False)


def _log_text(caplog, capfd) -> str:
    """Log output wherever it went: once Airflow has configured structlog (any dag.test() earlier in
    the session), stdlib records are rendered to stdout instead of reaching caplog."""
    out, err = capfd.readouterr()
    return "\n".join([caplog.text, out, err])


def _assert_no_canary(*texts):
    for text in texts:
        text = text if isinstance(text, str) else text.decode("utf-8", "replace")
        for canary in (SMTP_PASSWORD, WEBHOOK_TOKEN, SLACK_KEY, TEAMS_SIG, API_KEY):
            assert canary not in text


# ---------------------------------------------------------------------------------------------------
# A real task failure through dag.test()

PROBE_DAG = '''
import pendulum
from airflow.sdk import Param, dag, task

from tthc_airflow.notifiers import tthc_alerts


@dag(dag_id="tthc_alerts_probe", schedule=None, start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
     catchup=False, default_args={"retries": 0, "on_failure_callback": tthc_alerts("task_failed")},
     params={"period": Param(None, type=["null", "string"])})
def probe():
    @task
    def load_warehouse():
        raise RuntimeError("không kết nối được kho dữ liệu: máy chủ 10.0.0.5 từ chối\\nchi tiết dòng thứ hai")

    @task(on_success_callback=tthc_alerts("report_ready"))
    def write_monthly_report(period: str) -> dict:
        return {"period": period, "docx": f"/srv/tthc/reports/{period}/BaoCao_TTHC_{period}.docx",
                "xlsx": f"/srv/tthc/reports/{period}/BaoCao_TTHC_{period}.xlsx", "indicators": 12}

    load_warehouse()
    write_monthly_report.expand(period=["2025-02"])


probe()
'''


@pytest.mark.airflow
def test_failing_task_and_ready_report_reach_both_sinks_through_dag_test(airflow_db, channels, tmp_path, capfd,
                                                                         caplog, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    smtp, hook = channels
    folder = tmp_path / "dags"
    folder.mkdir()
    (folder / "alerts_probe.py").write_text(PROBE_DAG, encoding="utf-8")
    # dag.test() runs only DAGs of a configured bundle: add one for the probe, beside the project's.
    local = "airflow.dag_processing.bundles.local.LocalDagBundle"
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([
        {"name": "dags-folder", "classpath": local, "kwargs": {}},
        {"name": "tthc-alerts-probe", "classpath": local, "kwargs": {"path": str(folder)}}]))
    bag = DagBag(dag_folder=str(folder))
    assert bag.import_errors == {}
    with caplog.at_level(logging.INFO):
        run = bag.get_dag("tthc_alerts_probe").test(run_conf={"period": "2025-03"})
    assert str(run.state) == "failed"

    by_subject = {_subject(m): m for m in smtp.messages}
    failed = ("[TTHC] Kỳ 2025-03: tác vụ load_warehouse thất bại — "
              "không kết nối được kho dữ liệu: máy chủ 10.0.0.5 từ chối")
    ready = ("[TTHC] Báo cáo kỳ 2025-02 đã sẵn sàng: /srv/tthc/reports/2025-02/BaoCao_TTHC_2025-02.docx, "
             "/srv/tthc/reports/2025-02/BaoCao_TTHC_2025-02.xlsx")
    assert sorted(by_subject) == sorted([failed, ready])
    assert smtp.envelopes == [("tthc-bot@ubnd.example.vn", RECIPIENTS)] * 2
    assert smtp.logins == [("tthc-bot", SMTP_PASSWORD)] * 2  # the hook did log in with the password
    assert by_subject[failed]["X-TTHC-Event"] == "task_failed"
    body = _body(by_subject[failed])
    assert "Lỗi: RuntimeError: không kết nối được kho dữ liệu" in body and "dòng thứ hai" not in body
    assert "Lượt chạy: " + run.run_id in body

    posts = {p["json"]["event"]: p for p in hook.posts}
    assert sorted(posts) == ["report_ready", "task_failed"]
    for post in posts.values():
        assert post["path"] == "/hooks/tthc"
        assert post["headers"]["Authorization"] == f"Bearer {WEBHOOK_TOKEN}"
    assert posts["task_failed"]["json"] == {
        "event": "task_failed", "period": "2025-03", "dag_id": "tthc_alerts_probe", "run_id": run.run_id,
        "task_id": "load_warehouse", "unit": None, "message_vi": failed, "reports": {},
        "error": "không kết nối được kho dữ liệu: máy chủ 10.0.0.5 từ chối", "error_type": "RuntimeError"}
    got = posts["report_ready"]["json"]
    assert (got["period"], got["task_id"], got["message_vi"], got["summary"]) == (
        "2025-02", "write_monthly_report", ready, {"indicators": 12})
    assert got["reports"] == {"docx": "/srv/tthc/reports/2025-02/BaoCao_TTHC_2025-02.docx",
                              "xlsx": "/srv/tthc/reports/2025-02/BaoCao_TTHC_2025-02.xlsx"}

    text = _log_text(caplog, capfd)
    assert text.count("TTHC alert task_failed sent by email (tthc_smtp)") == 1
    assert text.count("TTHC alert report_ready sent by webhook (tthc_webhook)") == 1
    logs = [p.read_bytes() for p in Path(airflow_db / "logs").rglob("*") if p.is_file()]
    _assert_no_canary(text, *logs, *(m.as_string() for m in smtp.messages),
                      *(p["raw"] for p in hook.posts))


# ---------------------------------------------------------------------------------------------------
# Without a task: missed deadline, skipped channels, delivery errors


def test_deadline_missed_without_task_context_names_period_deadline_and_units(channels, monkeypatch):
    from tthc_airflow.notifiers import notify_deadline_missed

    smtp, hook = channels
    # Recipients from the Airflow variable when the connection has none.
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_SMTP", smtp.conn_json())
    monkeypatch.setenv("AIRFLOW_VAR_TTHC_ALERT_RECIPIENTS", "vanphong@ubnd.example.vn; ctth@ubnd.example.vn")
    missing = [("VL-YT", "Phòng Y tế"), ("VL-TP", "Phòng Tư pháp")]
    # The calendar's Deadline: on time until the end of 19/03 (its exclusive end, 20/03 00:00, is not shown).
    result = notify_deadline_missed(Period(2025, 3), missing, DEFAULT_CALENDAR.deadline(Period(2025, 3)),
                                    dag_id="tthc_monthly_shared_drive")
    assert result == {"email": True, "webhook": True}
    expected = ("[TTHC] Kỳ 2025-03: hết hạn nộp báo cáo (19/03/2025), còn 2 đơn vị chưa nộp: "
                "Phòng Y tế (VL-YT), Phòng Tư pháp (VL-TP)")
    assert [_subject(m) for m in smtp.messages] == [expected]
    assert smtp.envelopes[0][1] == RECIPIENTS
    assert "- Phòng Tư pháp (VL-TP)" in _body(smtp.messages[0])
    assert hook.posts[0]["json"] == {
        "event": "deadline_missed", "period": "2025-03", "dag_id": "tthc_monthly_shared_drive", "run_id": None,
        "task_id": None, "unit": None, "message_vi": expected, "reports": {}, "deadline": "2025-03-19",
        "reason": None, "missing_units": [{"code": "VL-YT", "name": "Phòng Y tế"},
                                          {"code": "VL-TP", "name": "Phòng Tư pháp"}]}


def test_one_missing_unit_is_the_alerts_unit_and_long_lists_are_cut_in_the_subject():
    from tthc.alerts import deadline_missed_alert

    one = deadline_missed_alert("2025-03", [("VL-YT", "Phòng Y tế")], date(2025, 3, 19))
    assert (one.unit, one.message_vi) == (
        "VL-YT", "[TTHC] Kỳ 2025-03: hết hạn nộp báo cáo (19/03/2025), còn 1 đơn vị chưa nộp: Phòng Y tế (VL-YT)")
    many = deadline_missed_alert("2025-04", [(f"X-{i}", f"Xã {i}") for i in range(7)], None)
    # No deadline given: the period's own (Decree 09, 3 workdays after 14/04/2025 → 17/04/2025).
    assert many.message_vi == ("[TTHC] Kỳ 2025-04: hết hạn nộp báo cáo (17/04/2025), còn 7 đơn vị chưa nộp: "
                               "Xã 0 (X-0), Xã 1 (X-1), Xã 2 (X-2), Xã 3 (X-3), Xã 4 (X-4), … và 2 đơn vị khác")
    assert many.unit is None and len(many.payload()["missing_units"]) == 7
    # 2026-02 closes on Saturday 14/02/2026, right before Tết: its deadline skips the days off 16–20/02.
    tet = deadline_missed_alert("2026-02", [("VL-YT", "Phòng Y tế")], None)
    assert tet.message_vi.startswith("[TTHC] Kỳ 2026-02: hết hạn nộp báo cáo (25/02/2026)")


def test_failure_message_names_the_unit_of_a_parse_error():
    from tthc.alerts import task_failed_alert
    from tthc.sources.shared_drive.parse import SubmissionParseError

    error = SubmissionParseError(["ô B4: mã đơn vị không khớp"], unit_code="VL-YT")
    alert = task_failed_alert(error, period="2025-03", dag_id="d", run_id="r", task_id="validate_submissions",
                              try_number=3, map_index=-1)
    assert alert.message_vi == ("[TTHC] Kỳ 2025-03: tác vụ validate_submissions (đơn vị VL-YT) thất bại — "
                                "ô B4: mã đơn vị không khớp")
    assert (alert.unit, alert.period, alert.details[-1]) == ("VL-YT", "2025-03", "Lần thử: 3")


def test_missing_connections_skip_each_channel_with_one_log_line(no_channels, caplog, capfd):
    from tthc_airflow.notifiers import TthcEmailNotifier, notify_deadline_missed, tthc_alerts

    with caplog.at_level(logging.INFO):
        assert notify_deadline_missed("2025-03", [("VL-YT", "Phòng Y tế")], date(2025, 3, 19)) == {
            "email": None, "webhook": None}
    text = _log_text(caplog, capfd)
    assert text.count("TTHC alert: email channel skipped: connection 'tthc_smtp' is not defined") == 1
    assert text.count("TTHC alert: webhook channel skipped: connection 'tthc_webhook' is not defined") == 1
    assert text.count("skipped") == 2
    # As a callback too: the notifier returns normally.
    for notifier in tthc_alerts("task_failed"):
        notifier({"exception": ValueError("x"), "params": {"period": "2025-03"}})
        assert notifier.last_result is None
    with pytest.raises(ValueError, match="unknown alert event"):
        TthcEmailNotifier("task_exploded")


def test_delivery_errors_are_logged_never_raised_and_never_leak_secrets(no_channels, webhook_sink, monkeypatch,
                                                                         caplog, capfd):
    from tthc_airflow.notifiers import tthc_alerts

    down = _free_port()  # nothing listens there
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_SMTP", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": down, "login": "tthc-bot", "password": SMTP_PASSWORD,
        "extra": {"to": RECIPIENTS, "from_email": "a@b.vn", "disable_ssl": True, "disable_tls": True,
                  "timeout": 2, "retry_limit": 0}}))
    webhook_sink.status = 500  # the receiver is up but refuses
    monkeypatch.setenv("AIRFLOW_CONN_TTHC_WEBHOOK", webhook_sink.conn_uri())
    context = {"exception": RuntimeError("hỏng"), "params": {"period": "2025-03"}}
    with caplog.at_level(logging.INFO):
        notifiers = tthc_alerts("task_failed")
        for notifier in notifiers:
            notifier(context)  # BaseNotifier.__call__ re-raises whatever notify() raises: nothing here
    assert [n.last_result for n in notifiers] == [False, False]
    text = _log_text(caplog, capfd)
    assert text.count("TTHC alert: email delivery through 'tthc_smtp' failed: ConnectionRefusedError") == 1
    assert text.count(f"TTHC alert: webhook delivery through 'tthc_webhook' failed: WebhookDeliveryError: "
                      f"HTTP 500 from http://127.0.0.1:{webhook_sink.port}/hooks/tthc") == 1
    assert webhook_sink.posts[0]["headers"]["Authorization"] == f"Bearer {WEBHOOK_TOKEN}"
    _assert_no_canary(text, webhook_sink.posts[0]["raw"])

    # Receiver gone entirely.
    webhook_sink.server.shutdown()
    webhook_sink.server.server_close()
    notifiers[1](context)
    assert notifiers[1].last_result is False


def _alert():
    from tthc.alerts import deadline_missed_alert

    return deadline_missed_alert("2025-03", [("VL-YT", "Phòng Y tế")], date(2025, 3, 19))


def test_only_a_2xx_answer_counts_as_delivered_and_a_redirect_is_not_followed(no_channels, webhook_sink,
                                                                              monkeypatch, caplog, capfd):
    from tthc_airflow.notifiers import TthcWebhookNotifier

    monkeypatch.setenv("AIRFLOW_CONN_TTHC_WEBHOOK", webhook_sink.conn_uri())
    notifier = TthcWebhookNotifier("deadline_missed")
    for status in (200, 201, 202, 204):
        webhook_sink.status = status
        assert notifier.send(_alert()) is True, status
    for status in (400, 404, 500, 503):
        webhook_sink.status = status
        assert notifier.send(_alert()) is False, status

    # A redirect, elsewhere: the alert (and its token) must not follow it, and it is no delivery.
    elsewhere = _WebhookSink()
    elsewhere.thread.start()
    try:
        caplog.clear()
        capfd.readouterr()
        for status in (301, 302, 303, 307, 308):
            webhook_sink.status = status
            webhook_sink.location = f"http://127.0.0.1:{elsewhere.port}/services/T0ABCDEFG/B0ABCDEFG/{SLACK_KEY}"
            with caplog.at_level(logging.INFO):
                assert notifier.send(_alert()) is False, status
        assert elsewhere.posts == []
    finally:
        elsewhere.server.shutdown()
        elsewhere.server.server_close()
    text = _log_text(caplog, capfd)
    assert "sent by webhook" not in text
    assert text.count(f"failed: WebhookDeliveryError: HTTP 302 from http://127.0.0.1:{webhook_sink.port}/hooks/tthc: "
                      f"redirect to http://127.0.0.1:{elsewhere.port}/services/*** not followed") == 1
    _assert_no_canary(text)


def test_secrets_in_the_webhook_url_path_or_query_never_reach_a_log(no_channels, webhook_sink, monkeypatch,
                                                                    caplog, capfd):
    """Slack-style (the key is the path) and Teams/Power Automate-style (`sig=`) webhooks: the real URL is
    called, the logs show it redacted, also when the HTTP library's own error quotes the path."""
    from tthc_airflow.notifiers import TthcWebhookNotifier

    port = webhook_sink.port
    slack = f"http://127.0.0.1:{port}/services/T0ABCDEFG/B0ABCDEFG/{SLACK_KEY}"
    teams = f"http://127.0.0.1:{port}/workflows/7d1c/triggers/manual/paths/invoke?api-version=2016-06-01&sig={TEAMS_SIG}"
    notifier = TthcWebhookNotifier("deadline_missed")
    webhook_sink.status = 500
    headers = {"X-Api-Key": API_KEY, "X-Source": "tthc"}  # extra headers: sent, the secret-named one never logged
    with caplog.at_level(logging.INFO):
        for url in (slack, teams):
            monkeypatch.setenv("AIRFLOW_CONN_TTHC_WEBHOOK", json.dumps(
                {"conn_type": "http", "extra": {"url": url, "headers": headers, "timeout": 5}}))
            assert notifier.send(_alert()) is False
        assert [p["path"] for p in webhook_sink.posts] == [slack.split(str(port), 1)[1], teams.split(str(port), 1)[1]]
        sent = webhook_sink.posts[0]["headers"]
        assert (sent["X-Api-Key"], sent["X-Source"]) == (API_KEY, "tthc")
        assert not {"url", "headers", "timeout"} & {h.lower() for h in sent}  # connection extras are not headers
        webhook_sink.server.shutdown()  # the receiver is gone: a connection error naming the path
        webhook_sink.server.server_close()
        monkeypatch.setenv("AIRFLOW_CONN_TTHC_WEBHOOK", json.dumps({"conn_type": "http", "extra": {"url": slack}}))
        assert notifier.send(_alert()) is False
    text = _log_text(caplog, capfd)
    assert f"HTTP 500 from http://127.0.0.1:{port}/services/***" in text
    assert (f"HTTP 500 from http://127.0.0.1:{port}/workflows/7d1c/triggers/manual/paths/invoke"
            f"?api-version=2016-06-01&sig=***") in text
    assert "webhook delivery through 'tthc_webhook' failed: ConnectionError" in text
    _assert_no_canary(text)


def test_webhook_url_from_json_connection_fields():
    from airflow.sdk import Connection

    from tthc_airflow.notifiers import webhook_url

    def conn(**kw):
        return Connection(conn_id="tthc_webhook", conn_type="http", **kw)

    assert webhook_url(conn(host="hooks.ubnd.vn", schema="https", port=8443,
                            extra=json.dumps({"path": "/tthc"}))) == "https://hooks.ubnd.vn:8443/tthc"
    assert webhook_url(conn(host="https://hooks.ubnd.vn/base/", extra=json.dumps({"path": "x"}))) == \
        "https://hooks.ubnd.vn/base/x"
    assert webhook_url(conn(host="h", extra=json.dumps({"url": "http://u/v"}))) == "http://u/v"
    assert webhook_url(conn(host="h", port=80, schema="hooks/tthc")) == "http://h:80/hooks/tthc"


# ---------------------------------------------------------------------------------------------------
# Deadline Alerts: the callback as the triggerer calls it


def test_deadline_alert_callback_runs_as_the_triggerer_runs_it(channels):
    from airflow.models.callback import CallbackState
    from airflow.sdk import DAG, AsyncCallback, DeadlineAlert, DeadlineReference
    from airflow.triggers.callback import CallbackTrigger

    from tthc_airflow.deadline_callbacks import deadline_alert_callback

    smtp, hook = channels
    callback = AsyncCallback(deadline_alert_callback, kwargs={"missing_units": [["VL-YT", "Phòng Y tế"]]})
    assert callback.path == "tthc_airflow.deadline_callbacks.deadline_alert_callback"
    dag = DAG("deadline_probe", schedule=None, deadline=DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT, interval=DEFAULT_CALENDAR.deadline(Period(2025, 3)).end - datetime(
            2025, 3, 15, tzinfo=DEFAULT_CALENDAR.zone), callback=callback))
    assert dag.deadline[0].callback == callback

    # What Deadline.handle_miss puts in the callback's kwargs (airflow/models/deadline.py, 3.3.2).
    context = {"dag_run": {"dag_run_id": "scheduled__2025-02-14T17:00:00+00:00",
                           "dag_id": "tthc_monthly_shared_drive", "conf": {}, "logical_date": "2025-02-14T17:00:00Z",
                           "data_interval_start": "2025-02-14T17:00:00Z", "data_interval_end": "2025-03-14T17:00:00Z"},
               "deadline": {"id": "0195", "deadline_time": datetime(2025, 3, 19, 17, 0, tzinfo=timezone.utc)}}
    assert "TTHC_PERIOD_SCHEME" not in os.environ
    trigger = CallbackTrigger(callback.path, {**callback.kwargs, "context": context})

    async def events():
        return [e.payload async for e in trigger.run()]

    payloads = asyncio.run(events())
    assert [p["state"] for p in payloads] == [CallbackState.RUNNING, CallbackState.SUCCESS]
    expected = "[TTHC] Kỳ 2025-03: hết hạn nộp báo cáo (19/03/2025), còn 1 đơn vị chưa nộp: Phòng Y tế (VL-YT)"
    assert payloads[1]["body"] == {"sent": {"email": True, "webhook": True}, "message_vi": expected}
    assert [_subject(m) for m in smtp.messages] == [expected]
    assert smtp.logins == [("tthc-bot", SMTP_PASSWORD)]  # from the triggerer's loop, through the one SMTP path
    got = hook.posts[0]["json"]
    # The submission deadline is the period's (19/03); Airflow's alert time (20/03 00:00 local) is the reason.
    assert (got["run_id"], got["unit"], got["reason"], got["deadline"]) == (
        "scheduled__2025-02-14T17:00:00+00:00", "VL-YT",
        "lượt chạy scheduled__2025-02-14T17:00:00+00:00 chưa hoàn tất (mốc cảnh báo 00:00 20/03/2025)",
        "2025-03-19")


def test_alerts_of_a_rollup_run_name_the_rollup_period():
    """A failure alert of the quarterly DAG names '2025-Q1', not the quarter's last month."""
    from types import SimpleNamespace

    import airflow  # noqa: F401  - puts the plugins folder on sys.path
    from tthc_airflow.notifiers import _context_period
    from tthc_timetables import ReportingPeriodTimetable

    timetable = ReportingPeriodTimetable("quarter")
    start, end = timetable.interval_for_label("2025-Q1")
    context = {"dag": SimpleNamespace(timetable=timetable), "data_interval_start": start, "data_interval_end": end,
               "logical_date": start, "dag_run": SimpleNamespace(conf={}), "params": {}}
    assert _context_period(context) == "2025-Q1"
    context["dag_run"] = SimpleNamespace(conf={"period": "2025-Q2"})
    assert _context_period(context) == "2025-Q2"
