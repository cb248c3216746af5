"""Personal data is dropped at the edge (spec: Decree 13/2023/NĐ-CP): nothing downstream sees it.

An applicant can still be counted without their ID number: with a salt, the ID becomes an
HMAC key. The salt (TTHC_PII_SALT or an Airflow variable) is never stored in the warehouse,
so the key cannot be reversed by anyone holding only the warehouse.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Mapping

PERSONAL_FIELDS = ("ChuHoSo", "SoGiayToChuHoSo", "SoDienThoai")
APPLICANT_KEY = "ChuHoSoKey"
SALT_ENV = "TTHC_PII_SALT"

_ID_SEPARATORS = re.compile(r"[\s.\-/]+")


def normalize_id(value: object) -> str:
    """'0450 8500 1234' and '045085001234' are the same person; passport letters ignore case."""
    return _ID_SEPARATORS.sub("", str(value or "")).upper()


def applicant_key(id_number: object, salt: bytes) -> str | None:
    normalized = normalize_id(id_number)
    if not normalized:
        return None
    return hmac.new(salt, normalized.encode("utf-8"), hashlib.sha256).hexdigest()


def strip_personal(record: Mapping, salt: bytes | None) -> dict:
    """A copy of `record` without personal fields; with a salt, plus the applicant's HMAC key."""
    out = {k: v for k, v in record.items() if k not in PERSONAL_FIELDS}
    if salt:
        out[APPLICANT_KEY] = applicant_key(record.get("SoGiayToChuHoSo"), salt)
    return out


def salt_from_env(env: Mapping[str, str] | None = None) -> bytes | None:
    value = (os.environ if env is None else env).get(SALT_ENV)
    return value.encode("utf-8") if value else None


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every non-empty secret in `text` with '***' (belt and braces for messages)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
