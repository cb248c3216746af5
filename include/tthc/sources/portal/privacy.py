"""Personal data is dropped at the edge (spec: Decree 13/2023/NĐ-CP): nothing downstream sees it.

An applicant can still be counted without their ID number: with a salt, the ID becomes an
HMAC key. The salt (TTHC_PII_SALT or an Airflow variable) is never stored in the warehouse,
so the key cannot be reversed by anyone holding only the warehouse.
"""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import Mapping

PERSONAL_FIELDS = ("ChuHoSo", "SoGiayToChuHoSo", "SoDienThoai")
APPLICANT_KEY = "ChuHoSoKey"
SALT_ENV = "TTHC_PII_SALT"

_ID_SEPARATORS = re.compile(r"[\s.\-/]+")


def normalize_id(value: object) -> str:
    """'0450 8500 1234' and '045085001234' are the same person; passport letters ignore case."""
    s = str(value or "")
    if s.isalnum():  # no whitespace, '.', '-' or '/' in it: nothing for the pattern to remove
        return s.upper()
    return _ID_SEPARATORS.sub("", s).upper()


def applicant_key(id_number: object, salt: bytes) -> str | None:
    normalized = normalize_id(id_number)
    if not normalized:
        return None
    # hmac.digest: the same HMAC-SHA256 as hmac.new(...).hexdigest(), in one C call (no HMAC object).
    return hmac.digest(salt, normalized.encode("utf-8"), "sha256").hex()


def strip_personal(record: Mapping, salt: bytes | None) -> dict:
    """A copy of `record` without personal fields; with a salt, plus the applicant's HMAC key."""
    out = dict(record)  # a C-level copy, then the few personal keys dropped: same keys, same order
    for field in PERSONAL_FIELDS:
        if field in out:
            del out[field]
    if salt:
        out[APPLICANT_KEY] = applicant_key(record.get("SoGiayToChuHoSo"), salt)
    return out


def salt_from_env(env: Mapping[str, str] | None = None) -> bytes | None:
    value = (os.environ if env is None else env).get(SALT_ENV)
    return value.encode("utf-8") if value else None
