"""The provincial portal source: the client adapter, privacy at the edge, and a fake server.

Import the fake server from tthc.portal.fake_server; it is for tests, the demo and benchmarks.
"""

from .client import (
    PortalAuthError,
    PortalClient,
    PortalDataError,
    PortalError,
    PortalUnavailableError,
    archive_pages,
    parse_portal_datetime,
    portal_from_settings,
    read_archive,
)
from .privacy import PERSONAL_FIELDS, redact, salt_from_env, strip_personal

__all__ = [
    "PERSONAL_FIELDS",
    "PortalAuthError",
    "PortalClient",
    "PortalDataError",
    "PortalError",
    "PortalUnavailableError",
    "archive_pages",
    "parse_portal_datetime",
    "portal_from_settings",
    "read_archive",
    "redact",
    "salt_from_env",
    "strip_personal",
]
