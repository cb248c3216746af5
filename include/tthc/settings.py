"""Settings from environment variables (spec: "Command line"); Airflow tasks pass overrides."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path

from .calendar import ReportingCalendar
from .redaction import safe_url

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INCLUDE_DIR = PROJECT_ROOT / "include"
SQL_DIR = INCLUDE_DIR / "sql"
EXPECTATIONS_DIR = INCLUDE_DIR / "expectations"
DEFAULT_CATALOGUE_DIR = INCLUDE_DIR / "catalogue"


class SettingsError(ValueError):
    """A setting has a value the pipeline cannot use."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    warehouse_url: str
    shared_drive: Path
    archive_dir: Path
    reports_dir: Path
    catalogue_dir: Path = DEFAULT_CATALOGUE_DIR
    portal_url: str | None = None
    portal_token: str | None = field(default=None, repr=False)
    # The reporting calendar's settings: deployment-wide (environment and catalogue files, never an
    # Airflow variable), so the timetable, the tasks, the callbacks and the CLI all read the same.
    period_scheme: str = "decree09"
    # Working days after the period's last day on which submissions are still on time.
    deadline_workdays: int = 3
    timezone: str = "Asia/Ho_Chi_Minh"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> "Settings":
        """Read TTHC_* variables; every default path lives under TTHC_DATA_DIR."""
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name)
            return value if value not in (None, "") else None

        data_dir = Path(get("TTHC_DATA_DIR") or PROJECT_ROOT / "data").expanduser().resolve()
        values = dict(
            data_dir=data_dir,
            warehouse_url=get("TTHC_WAREHOUSE_URL") or f"sqlite:///{data_dir / 'warehouse.sqlite'}",
            shared_drive=Path(get("TTHC_SHARED_DRIVE") or data_dir / "shared_drive").expanduser(),
            archive_dir=Path(get("TTHC_ARCHIVE_DIR") or data_dir / "archive").expanduser(),
            reports_dir=Path(get("TTHC_REPORTS_DIR") or data_dir / "reports").expanduser(),
            catalogue_dir=Path(get("TTHC_CATALOGUE_DIR") or DEFAULT_CATALOGUE_DIR).expanduser(),
            portal_url=get("TTHC_PORTAL_URL"),
            portal_token=get("TTHC_PORTAL_TOKEN"),
            period_scheme=get("TTHC_PERIOD_SCHEME") or "decree09",
            deadline_workdays=_whole_number("TTHC_DEADLINE_WORKDAYS", get("TTHC_DEADLINE_WORKDAYS") or "3"),
        )
        known = {f.name for f in fields(cls)}
        values.update({k: v for k, v in overrides.items() if k in known and v not in (None, "")})
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Fail now, naming the setting, rather than at the first period (CalendarError): the scheme,
        the working days, the zone and the office's day-off files."""
        _ = self.calendar  # building it is the check

    def __repr__(self) -> str:
        """Every field but secrets: URLs through safe_url (the warehouse password), no token."""
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.repr}
        shown.update({k: safe_url(shown[k]) for k in ("warehouse_url", "portal_url") if shown.get(k)})
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    @cached_property
    def calendar(self) -> ReportingCalendar:
        """Periods, words and deadlines for this deployment (scheme, working days, days off)."""
        return ReportingCalendar.from_settings(self)


def _whole_number(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise SettingsError(f"{name}={value!r}: expected a whole number") from None
