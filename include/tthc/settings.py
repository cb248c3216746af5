"""Settings from environment variables (spec: "Command line"); Airflow tasks pass overrides."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path

from .calendar import ReportingCalendar
from .periods import Period, PeriodError
from .redaction import safe_url

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INCLUDE_DIR = PROJECT_ROOT / "include"
SQL_DIR = INCLUDE_DIR / "sql"
EXPECTATIONS_DIR = INCLUDE_DIR / "expectations"
DEFAULT_CATALOGUE_DIR = INCLUDE_DIR / "catalogue"


# How a resolved dossier is judged on time against NgayHenTra: the full timestamp (the spec) or the
# day only (hẹn trả by day, as some provincial systems count).
ON_TIME_RULES = ("timestamp", "date")
STATUS_CODES = range(1, 11)  # TrangThaiHoSo 1..10, as a portal profile maps its statuses


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
    # A shipped profile's name (include/portal_profiles/) or a profile file's path.
    portal_profile: str = "national-sync"
    portal_token: str | None = field(default=None, repr=False)  # bearer profiles
    # OAuth2 profiles: the token endpoint and the client; with a user name, the password grant.
    portal_token_url: str | None = None
    portal_client_id: str | None = None
    portal_client_secret: str | None = field(default=None, repr=False)
    portal_username: str | None = None
    portal_password: str | None = field(default=None, repr=False)
    # Seconds a unit's whole portal fetch may take (procedures, every page, retries).
    portal_fetch_deadline: float = 900.0
    # Counting rules vendors differ on (spec defaults: full timestamp; any status with an end date
    # is resolved; none withdrawn). A withdrawn dossier counts as neither received nor resolved.
    on_time_by: str = "timestamp"
    resolved_statuses: tuple[int, ...] = ()  # empty: every status
    withdrawn_statuses: tuple[int, ...] = ()
    # The reporting calendar's settings: deployment-wide (environment and catalogue files, never an
    # Airflow variable), so the timetable, the tasks, the callbacks and the CLI all read the same.
    period_scheme: str = "decree09"
    # Working days after the period's last day on which submissions are still on time.
    deadline_workdays: int = 3
    # The first period the scheduler runs by itself: unpausing a DAG catches up from here (or from
    # after its last run); earlier periods are run by backfill. The plan's first month by default.
    schedule_from: str = "2025-01"
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
            portal_profile=get("TTHC_PORTAL_PROFILE") or "national-sync",
            portal_token=get("TTHC_PORTAL_TOKEN"),
            portal_token_url=get("TTHC_PORTAL_TOKEN_URL"),
            portal_client_id=get("TTHC_PORTAL_CLIENT_ID"),
            portal_client_secret=get("TTHC_PORTAL_CLIENT_SECRET"),
            portal_username=get("TTHC_PORTAL_USERNAME"),
            portal_password=get("TTHC_PORTAL_PASSWORD"),
            portal_fetch_deadline=_number("TTHC_PORTAL_FETCH_DEADLINE", get("TTHC_PORTAL_FETCH_DEADLINE") or "900"),
            on_time_by=get("TTHC_ON_TIME_BY") or "timestamp",
            resolved_statuses=_statuses("TTHC_RESOLVED_STATUSES", get("TTHC_RESOLVED_STATUSES")),
            withdrawn_statuses=_statuses("TTHC_WITHDRAWN_STATUSES", get("TTHC_WITHDRAWN_STATUSES")),
            period_scheme=get("TTHC_PERIOD_SCHEME") or "decree09",
            deadline_workdays=_whole_number("TTHC_DEADLINE_WORKDAYS", get("TTHC_DEADLINE_WORKDAYS") or "3"),
            schedule_from=get("TTHC_SCHEDULE_FROM") or "2025-01",
        )
        known = {f.name for f in fields(cls)}
        values.update({k: v for k, v in overrides.items() if k in known and v not in (None, "")})
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Fail now, naming the setting, rather than at the first period (CalendarError): the scheme,
        the working days, the zone and the office's day-off files; the portal's deadline and rules."""
        _ = self.calendar  # building it is the check
        _ = self.first_scheduled_period
        if not 0 < self.portal_fetch_deadline < float("inf"):
            raise SettingsError(f"TTHC_PORTAL_FETCH_DEADLINE={self.portal_fetch_deadline!r}: expected a positive "
                                f"number of seconds")
        if self.on_time_by not in ON_TIME_RULES:
            raise SettingsError(f"TTHC_ON_TIME_BY={self.on_time_by!r}: expected one of {', '.join(ON_TIME_RULES)}")
        both = set(self.resolved_statuses) & set(self.withdrawn_statuses)
        if both:
            raise SettingsError(f"TrangThaiHoSo {', '.join(map(str, sorted(both)))} cannot be both resolved "
                                f"(TTHC_RESOLVED_STATUSES) and withdrawn (TTHC_WITHDRAWN_STATUSES)")

    def __repr__(self) -> str:
        """Every field but secrets: URLs through safe_url (the warehouse password), no token."""
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.repr}
        shown.update({k: safe_url(shown[k]) for k in ("warehouse_url", "portal_url", "portal_token_url")
                      if shown.get(k)})
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in shown.items())})"

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    @property
    def first_scheduled_period(self) -> Period:
        try:
            return Period.parse(self.schedule_from)
        except PeriodError:
            raise SettingsError(f"TTHC_SCHEDULE_FROM={self.schedule_from!r}: expected a month, YYYY-MM") from None

    @cached_property
    def calendar(self) -> ReportingCalendar:
        """Periods, words and deadlines for this deployment (scheme, working days, days off)."""
        return ReportingCalendar.from_settings(self)


def _whole_number(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise SettingsError(f"{name}={value!r}: expected a whole number") from None


def _number(name: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise SettingsError(f"{name}={value!r}: expected a number of seconds") from None


def _statuses(name: str, value) -> tuple[int, ...]:
    """'3, 10' (or a sequence of codes) → (3, 10): TrangThaiHoSo codes."""
    items = value.split(",") if isinstance(value, str) else list(value or ())
    try:
        codes = tuple(sorted({int(str(v).strip()) for v in items if str(v).strip()}))
    except ValueError:
        raise SettingsError(f"{name}={value!r}: expected TrangThaiHoSo codes separated by commas, e.g. 3,10") from None
    if any(c not in STATUS_CODES for c in codes):
        raise SettingsError(f"{name}={value!r}: TrangThaiHoSo codes run from 1 to 10")
    return codes
