"""What can stop a unit-period from being fetched, and how an answer is described without quoting it.

Nothing the portal sends (a body, its `message`, a value) is ever quoted in an exception: exceptions
reach the task log, the failure e-mail and the webhook, and a portal's error text can carry an
applicant's name or ID number. Only its shape is described (type, length, JSON keys).
"""

from __future__ import annotations

import re

SHOWN_KEYS = 12  # JSON keys named when describing an unexpected answer


class PortalError(Exception):
    """Anything that stops a unit-period from being loaded from the portal."""


class PortalAuthError(PortalError):
    """The portal or its sign-in refused the credentials (401/403): retrying cannot help."""


class PortalUnavailableError(PortalError):
    """5xx, rate limits, timeouts or connection errors persisted past the retries or the deadline."""


class PortalDataError(PortalError):
    """The portal answered, but not with a usable, consistent page."""


class Transient(Exception):
    """One failed attempt worth retrying; `final` is the error to raise if retries run out."""

    def __init__(self, reason: str, final: type[PortalError] = PortalUnavailableError,
                 retry_after: float | None = None):
        super().__init__(reason)
        self.final = final
        self.retry_after = retry_after


def shape(value) -> str:
    """What a value sent by the portal looks like, without any of its text."""
    if isinstance(value, dict):
        keys = sorted(str(k)[:40] for k in value)
        shown = ", ".join(keys[:SHOWN_KEYS]) + (f", … ({len(keys)} keys)" if len(keys) > SHOWN_KEYS else "")
        return f"a JSON object with keys {shown}" if keys else "an empty JSON object"
    if isinstance(value, list):
        return f"a JSON array of {len(value)} items"
    if isinstance(value, str):
        return f"a text of {len(value)} characters"
    if value is None:
        return "missing or null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a negative number" if value < 0 else "a number"
    return f"a {type(value).__name__}"


# What an error code looks like ('99', 'invalid_grant'): too short for an ID number, no spaces for a name.
_CODE = re.compile(r"[0-9]{1,6}|[A-Za-z_][A-Za-z0-9_.-]{0,39}")


def code(value) -> str:
    """An error code is shown when it looks like one, else only its shape."""
    text = str(value)
    return repr(text) if _CODE.fullmatch(text) else f"({shape(value)})"
