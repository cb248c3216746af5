"""What an alert says, in Vietnamese: plain values in, one `Alert` out, for any channel.

Four messages, each naming the period, the unit where there is one, and the reason:

* task failed      — ``[TTHC] Kỳ 2025-03: tác vụ load_warehouse thất bại — <first line of the error>``
* deadline missed  — ``[TTHC] Kỳ 2025-03: hết hạn nộp báo cáo (19/03/2025), còn 2 đơn vị chưa nộp: ...``
* run deadline     — the same event when Airflow's Deadline Alert finds the period's run unfinished;
  the reason names the run and Airflow's alert time
* report ready     — ``[TTHC] Báo cáo kỳ 2025-03 đã sẵn sàng: <docx>, <xlsx>``

The channels (e-mail, webhook) and reading an Airflow context live in `tthc_airflow.notifiers`; this
module never imports Airflow.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from .calendar import ReportingCalendar
from .periods import LOCAL_TZ, Period

EVENTS = ("task_failed", "deadline_missed", "report_ready")
SUBJECT_UNITS = 5  # missing units named in the subject line; the body names them all
MAX_REASON = 300
UNKNOWN = "không rõ nguyên nhân"


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

    def __post_init__(self):
        if self.event not in EVENTS:
            raise ValueError(f"unknown alert event {self.event!r}; expected one of {EVENTS}")
        # The subject is a mail header and a log line: a line break in it would forge more of either.
        object.__setattr__(self, "message_vi", _one_line(self.message_vi))

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


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def first_line(error: BaseException | str | None) -> str:
    """The first line of an error, cut to MAX_REASON characters: further lines (tracebacks, data) stay out."""
    if error is None:
        return UNKNOWN
    text = str(error).strip()
    line = text.splitlines()[0].strip() if text else ""
    if not line:
        line = type(error).__name__ if isinstance(error, BaseException) else UNKNOWN
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 1] + "…"


def period_label(period) -> str | None:
    """'2025-03' from a Period or a label; None for nothing."""
    if period is None or period == "":
        return None
    return getattr(period, "label", None) or str(period)


def _period_text(label: str | None) -> str:
    return f"Kỳ {label}" if label else "Kỳ (không xác định)"


def task_failed_alert(error: BaseException | str | None, *, period=None, unit: str | None = None,
                      dag_id: str | None = None, run_id: str | None = None, task_id: str | None = None,
                      try_number: int | None = None, map_index: int | None = None) -> Alert:
    """A task failed with `error`; the unit is `unit`, else the error's `unit_code` (a parse error's)."""
    label = period_label(period)
    unit = unit or getattr(error, "unit_code", None) or None
    reason = first_line(error)
    where = f" (đơn vị {unit})" if unit else ""
    details = [f"Lỗi: {type(error).__name__}: {reason}" if isinstance(error, BaseException) else f"Lỗi: {reason}"]
    if try_number:
        details.append(f"Lần thử: {try_number}")
    if map_index not in (-1, None):
        details.append(f"Chỉ số ánh xạ (map index): {map_index}")
    return Alert(event="task_failed", period=label, unit=unit, details=tuple(details),
                 dag_id=dag_id, run_id=run_id, task_id=task_id,
                 message_vi=f"[TTHC] {_period_text(label)}: tác vụ {task_id}{where} thất bại — {reason}",
                 fields={"error": reason, "error_type": type(error).__name__ if error is not None else None})


SUMMARY_KEYS = ("indicators", "indicators_met", "indicators_not_met", "units_below_target", "discrepancies",
                "submissions")


def report_ready_alert(result: dict | None, *, period=None, dag_id: str | None = None, run_id: str | None = None,
                       task_id: str | None = None) -> Alert:
    """From the report step's result {"period", "docx", "xlsx", ...summary}; `period` when it names none."""
    result = result if isinstance(result, dict) else {}
    label = period_label(result.get("period")) or period_label(period)
    reports = {k: str(result[k]) for k in ("docx", "xlsx") if result.get(k)}
    paths = ", ".join(reports.values()) or "(không có tệp)"
    details = [f"Tệp {k.upper()}: {v}" for k, v in reports.items()]
    summary = {k: result[k] for k in SUMMARY_KEYS if k in result}
    if summary:
        details.append("Tóm tắt: " + json.dumps(summary, ensure_ascii=False, default=str))
    return Alert(event="report_ready", period=label, reports=reports, details=tuple(details),
                 dag_id=dag_id, run_id=run_id, task_id=task_id,
                 message_vi=f"[TTHC] Báo cáo kỳ {label or '(không xác định)'} đã sẵn sàng: {paths}",
                 fields={"summary": summary})


def as_datetime(value) -> datetime:
    """A datetime from a datetime or an ISO string (a trailing 'Z' as Airflow's JSON writes it)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _deadline_day(deadline) -> date | None:
    """The last day to submit: a tthc.calendar.Deadline, a date or an ISO date."""
    if deadline is None or deadline == "":
        return None
    if isinstance(deadline, str):
        return date.fromisoformat(deadline)
    return getattr(deadline, "last_day", deadline)


def deadline_missed_alert(period, missing_units: Iterable[Sequence[str]], deadline=None, *,
                          dag_id: str | None = None, run_id: str | None = None,
                          reason: str | None = None, calendar: ReportingCalendar | None = None) -> Alert:
    """`missing_units`: (code, name) pairs. `deadline`: the last day to submit (a Deadline, a date or
    an ISO date); None = the month's own, from `calendar` (default: the deployment's)."""
    label = period_label(period)
    units = [(str(u[0]), str(u[1]) if len(u) > 1 and u[1] else str(u[0])) for u in missing_units or ()]
    if deadline is None and label:
        from .settings import Settings

        deadline = (calendar or Settings.from_env().calendar).deadline(Period.parse(label))
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


def run_deadline_alert(period, *, run_id: str | None = None, alert_time=None, deadline=None,
                       missing_units: Iterable[Sequence[str]] = (), dag_id: str | None = None,
                       reason: str | None = None, calendar: ReportingCalendar | None = None) -> Alert:
    """The period's run had not finished by Airflow's deadline (`alert_time`). `deadline` is the
    submission deadline shown (None: the period's own); the reason names the run and the alert time."""
    if not reason:
        reason = f"lượt chạy {run_id} chưa hoàn tất" if run_id else "lượt chạy chưa hoàn tất"
        if alert_time:
            reason += f" (mốc cảnh báo {as_datetime(alert_time).astimezone(LOCAL_TZ):%H:%M %d/%m/%Y})"
    return deadline_missed_alert(period, missing_units, deadline, dag_id=dag_id, run_id=run_id, reason=reason,
                                 calendar=calendar)
