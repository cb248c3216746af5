"""Personal data is dropped at the edge (spec: Decree 13/2023/NĐ-CP): nothing downstream sees it.

Allow-list, never block-list: a record goes on with only the fields the warehouse keeps
(KEPT_FIELDS, the targets of a portal profile's mapping: profile.py), so a field the portal adds
tomorrow (an e-mail, an address, a nested applicant) is dropped without anyone having to name it.

An applicant can still be counted without their ID number: with a salt, the ID becomes an
HMAC key. The salt (the environment variable TTHC_PII_SALT of the workers) is never stored in the
warehouse, so the key cannot be reversed by anyone holding only the warehouse. Without it (or with
one too short to resist guessing) nothing is fetched, rather than dossiers stored without a key.
"""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import Iterable, Mapping

from ...settings import SettingsError

# The spec's personal fields: never kept; the dossier_batch suite checks a batch holds none of them.
PERSONAL_FIELDS = ("ChuHoSo", "SoGiayToChuHoSo", "SoDienThoai")
APPLICANT_KEY = "ChuHoSoKey"
FLAGS = ("PhaiThanhToan", "DuocThanhToanTrucTuyen", "HoSoCoThanhPhanSoHoa", "KetQuaDuocSoHoa",
         "CoKetQuaDienTu", "DaDongBoDVCQG", "CoTaiSuDungDuLieu")
# The dossier fields the warehouse keeps (fact_dossier), and nothing else: the spec's names, the
# three dates as ISO local time. TenTTHC is left out: fact_procedure holds the procedures' names.
KEPT_FIELDS = ("MaHoSo", "MaTTHC", "MaLinhVuc", "DonViXuLy", "KenhThucHien", "TrangThaiHoSo",
               "received_at", "due_at", "resolved_at", *FLAGS, "DanhGia")
SALT_ENV = "TTHC_PII_SALT"
# 32 characters: `openssl rand -hex 16` (128 bits); ID numbers are 12 digits, easy to enumerate
# under a short or guessable salt.
MIN_SALT_LENGTH = 32

_ID_SEPARATORS = re.compile(r"[\s.\-/]+")


def normalize_id(value: object) -> str:
    """'0450 8500 1234' and '045085001234' are the same person; passport letters ignore case."""
    s = str(value or "")
    if s.isalnum():  # no whitespace, '.', '-' or '/' in it: nothing for the pattern to remove
        return s.upper()
    return _ID_SEPARATORS.sub("", s).upper()


def applicant_keys(id_numbers: Iterable, salt: bytes) -> list[str | None]:
    """The HMAC-SHA256 key (hex) of each ID number; None where there is none. The HMAC is keyed with
    the salt once and copied per value: a third faster than keying it again for each (hmac.digest)."""
    keyed = hmac.new(salt, digestmod="sha256")
    keys = []
    for id_number in id_numbers:
        normalized = normalize_id(id_number)
        if normalized:
            h = keyed.copy()
            h.update(normalized.encode("utf-8"))
            keys.append(h.hexdigest())
        else:
            keys.append(None)
    return keys


def salt_from_env(env: Mapping[str, str] | None = None) -> bytes:
    """The salt of the applicant keys; SettingsError when it is missing or too short."""
    value = (os.environ if env is None else env).get(SALT_ENV) or ""
    if len(value) < MIN_SALT_LENGTH:
        state = "is not set" if not value else f"has {len(value)} characters"
        raise SettingsError(f"{SALT_ENV} {state}: the portal needs a secret salt of at least {MIN_SALT_LENGTH} "
                            f"characters (e.g. `openssl rand -hex 32`) to key applicants without storing their ID")
    return value.encode("utf-8")

