"""Vietnamese number and text style for the report, and neutralising text copied from submissions."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

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


def half_up(value: float, decimals: int = 1) -> Decimal:
    """Rounded as people round, half up (90,95 → 91,0), on the decimal the float stands for: float
    noise (62,449999… for 62,45) is cut at 9 decimals first."""
    return Decimal(f"{value:.9f}").quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def vn_number(value: float) -> str:
    """A target or a gap in points: '80' (whole), '95,5', '4,0' (4,009, half up). A gap that one
    decimal would round to nothing keeps the decimals that show it ('0,04'), so a miss never reads as 0."""
    if float(value).is_integer():
        return _grouped(value, 0)
    decimals = next((d for d in (1, 2, 3) if half_up(value, d) != 0), 3)
    return _grouped(half_up(value, decimals), decimals)


def vn_pct(value: float | None, reported: bool = True) -> str:
    """'62,4%' (one decimal, half up: 90,99 → '91,0%'); None is 0/0, which is 'không phát sinh',
    never 0 % or 100 % ('chưa có số liệu' where no unit reported at all). Whether a rate meets its
    target is decided on the exact value (the marts' meets_target), never on this text."""
    if value is None:
        return NOT_APPLICABLE if reported else NO_DATA
    return f"{_grouped(half_up(value, 1), 1)}%"


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
    """A warehouse timestamp ('2025-03-18T09:30:12.345678+07:00') as naive local time to the minute
    (09:30), for display: seconds are noise to a reader, and cut (never rounded up) they never move a
    time across the deadline."""
    if not value:
        return None
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is not None:
        moment = moment.astimezone(LOCAL_TZ).replace(tzinfo=None)
    return moment.replace(second=0, microsecond=0)


def iso_minute(value: str | None) -> str | None:
    """A warehouse timestamp in ISO 8601, local time to the minute ('2025-03-18T09:30+07:00'), for exports."""
    if not value:
        return value
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is not None:
        moment = moment.astimezone(LOCAL_TZ)
    return moment.replace(second=0, microsecond=0).isoformat(timespec="minutes")


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
