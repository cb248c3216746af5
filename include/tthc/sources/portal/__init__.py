"""Source 2: dossier records from the provincial portal (spec "Source 2").

fetch (the client adapter, paging, retries, limits) → privacy (personal data dropped at the edge) →
stage (archive, the dossier_batch check, fact_dossier, the portal's figures). A stand-in portal for
tests and the demo lives outside the production package, in tthc_testing.fake_portal.
"""

from .fetch import (
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
from .privacy import PERSONAL_FIELDS, salt_from_env, strip_personal

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
    "salt_from_env",
    "strip_personal",
]
