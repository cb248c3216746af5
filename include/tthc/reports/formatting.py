"""Vietnamese number and text style for the report, and neutralising text copied from submissions."""

from __future__ import annotations

import json
import math
from datetime import datetime

from ..periods import LOCAL_TZ
from ..textsafety import safe_text  # noqa: F401  (re-exported: the report modules import it from here)

NOT_APPLICABLE = "không phát sinh"
NO_DATA = "chưa có số liệu"  # no unit reported the indicator: its 0/0 is not "nothing happened"
STATUS_VI = {"on_time": "đúng hạn", "late": "muộn", "missing": "chưa gửi", "rejected": "bị từ chối"}
VERDICT = {True: "✓", False: "✗", None: "—"}


def _grouped(value: float, decimals: int) -> str:
    """'1.234,5': '.' groups thousands and ',' marks decimals (Vietnamese style)."""
    return f"{value:,.{decimals}f}".replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def vn_int(value: int | None) -> str:
    return "" if value is None else _grouped(int(value), 0)


def floor1(value: float) -> float:
    """Round down to 0.1 so a rate just below a target (79,96) never shows as meeting it (80,0)."""
    return math.floor(round(value * 10, 6)) / 10


def vn_number(value: float) -> str:
    """A target or difference: '80', '95,5' (no ',0' on whole numbers)."""
    value = floor1(value)
    return _grouped(value, 0 if value.is_integer() else 1)


def vn_pct(value: float | None, reported: bool = True) -> str:
    """'62,4%'; None is 0/0, which is 'không phát sinh', never 0 % or 100 % ('chưa có số liệu'
    where no unit reported at all)."""
    if value is None:
        return NOT_APPLICABLE if reported else NO_DATA
    return f"{_grouped(floor1(value), 1)}%"


def target_text(comparator: str | None, target: float | None) -> str:
    if target is None:
        return ""
    return f"≥ {vn_number(target)}" if comparator == ">=" else vn_number(target)


def verdict(meets: object) -> str:
    return VERDICT[as_bool(meets)]


def as_bool(value: object) -> bool | None:
    """Booleans arrive as 0/1 from SQLite and True/False from PostgreSQL."""
    return None if value is None else bool(value)


def local_datetime(value: str | None) -> datetime | None:
    """A warehouse timestamp ('2025-03-18T09:30:00+07:00') as naive local time, for display."""
    if not value:
        return None
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is not None:
        moment = moment.astimezone(LOCAL_TZ).replace(tzinfo=None)
    return moment


def vn_datetime(value: str | None) -> str:
    moment = local_datetime(value)
    return "" if moment is None else f"{moment:%H:%M %d/%m/%Y}"


def reason_list(value: str | None) -> list[str]:
    """Reasons as stored: a JSON list of strings, plain text, or a plain prefix before a JSON
    list ('Tệp mới hơn … bị từ chối: [...]', as the status mart builds it). Each made safe."""
    if value is None or not str(value).strip():
        return []
    text = str(value).strip()
    prefix, bracket, tail = text.partition("[")
    items = None
    if bracket and (not prefix.strip() or prefix.rstrip().endswith(":")):
        try:
            parsed = json.loads(bracket + tail)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            items = ([prefix.strip()] if prefix.strip() else []) + [str(x) for x in parsed]
    return [s for s in (safe_text(x) for x in (items if items is not None else [text])) if s]
