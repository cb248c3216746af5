"""Source 2: dossier records from the provincial portal (spec "Source 2").

profile (a vendor's API as data: sign-in, paging, field mapping) → fetch (the client: paging,
retries, limits, whole or nothing) with auth (bearer token or OAuth2) → privacy (the allow-list,
the applicant's salted key) → stage (archive, the dossier_batch check, fact_dossier, the portal's
figures). A stand-in portal speaking every shipped profile, for tests and the demo, lives outside
the production package, in tthc_testing.fake_portal.
"""

from .errors import PortalAuthError, PortalDataError, PortalError, PortalUnavailableError
from .fetch import (
    PortalClient,
    archive_pages,
    page_records,
    parse_portal_datetime,
    portal_client,
    portal_from_settings,
    read_archive,
)
from .privacy import KEPT_FIELDS, PERSONAL_FIELDS, salt_from_env
from .profile import ProfileError, load_profile, profile_names

__all__ = [
    "KEPT_FIELDS",
    "PERSONAL_FIELDS",
    "PortalAuthError",
    "PortalClient",
    "PortalDataError",
    "PortalError",
    "PortalUnavailableError",
    "ProfileError",
    "archive_pages",
    "load_profile",
    "page_records",
    "parse_portal_datetime",
    "portal_client",
    "portal_from_settings",
    "profile_names",
    "read_archive",
    "salt_from_env",
]
