"""Secrets out of messages and logs: the one place that redacts URLs and known secret values.

Used for the warehouse URL (errors, `Settings`' repr), the portal client's messages and the alert
channels' logs. What counts as secret in a URL:

* the password of its user info, whatever it contains (``user:p@ss:w@rd@host`` hides all of ``p@ss:w@rd``);
* query values whose name says secret (``password``, ``token``, ``sig``, ``key``, ...: Teams/Power
  Automate ``sig=``, Google Chat ``key=``/``token=``);
* in a web URL's path, everything after a webhook marker (Slack ``/services/T../B../XXXX``, Teams
  ``/webhookb2/...``, Discord ``/webhooks/<id>/<token>``) and any segment that looks like a token
  (16+ characters mixing letters and digits: keys, GUIDs, signatures);
* the fragment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

REDACTED = "***"

# Names (query keys, header names) whose values are secrets.
_SECRET_NAME = re.compile(r"pass|pwd|secret|token|sig|key|auth|credential|session|cookie|^code$", re.I)
# Path segments after which a web URL's path is the secret itself (Slack, Teams, Discord incoming webhooks).
_WEBHOOK_MARKERS = frozenset({"services", "webhookb2", "webhooks"})
_WEB_SCHEMES = frozenset({"http", "https", "ws", "wss"})
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")


def is_secret_name(name: str) -> bool:
    """True for a query key or header name whose value is a secret (``Authorization``, ``sig``, ...)."""
    return bool(_SECRET_NAME.search(str(name)))


def _looks_like_token(segment: str) -> bool:
    return len(segment) >= 16 and any(c.isdigit() for c in segment) and any(c.isalpha() for c in segment)


def _after_marker(segments: list[str], i: int) -> bool:
    return any(s.lower() in _WEBHOOK_MARKERS for s in segments[:i])


def _safe_path(path: str) -> str:
    segments = path.split("/")
    kept = []
    for i, segment in enumerate(segments):
        if _after_marker(segments, i) and any(segments[i:]):
            return "/".join([*kept, REDACTED])  # the rest of a webhook path is its secret, whole
        kept.append(REDACTED if _looks_like_token(segment) else segment)
    return "/".join(kept)


def _safe_query(query: str) -> str:
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    return "&".join(f"{k}={REDACTED if is_secret_name(k) and v else v}" for k, v in pairs)


def safe_url(url: str) -> str:
    """`url` fit for a log, a message or a repr: its secrets (see the module doc) replaced by ``***``.

    >>> safe_url("postgresql+psycopg2://tthc:p@ss:w@rd@db:5432/tthc")
    'postgresql+psycopg2://tthc:***@db:5432/tthc'
    >>> safe_url("https://hooks.slack.com/services/T0AB/B0CD/abcdEFGH1234ijklMNOP5678")
    'https://hooks.slack.com/services/***'
    """
    url = str(url)
    if "://" not in url:
        return url  # a path or a name, nothing structured to hide
    try:
        parts = urlsplit(url)
    except ValueError:  # unparseable (e.g. a broken IPv6 host): show nothing of it
        return REDACTED
    userinfo, at, hostport = parts.netloc.rpartition("@")  # the host follows the *last* '@'
    if at:
        user, colon, _password = userinfo.partition(":")
        user = REDACTED if _looks_like_token(user) else user
        netloc = f"{user}:{REDACTED}@{hostport}" if colon else f"{user}@{hostport}"
    else:
        netloc = hostport
    path = _safe_path(parts.path) if parts.scheme.lower() in _WEB_SCHEMES else parts.path
    query = _safe_query(parts.query)
    return (f"{parts.scheme}://{netloc}{path}" + (f"?{query}" if query else "")
            + (f"#{REDACTED}" if parts.fragment else ""))


def url_secrets(url: str | None) -> list[str]:
    """The secret parts of `url` as they appear in it (for `redact` of texts that quote it, e.g. an
    HTTP library's error naming the path)."""
    if not url or "://" not in str(url):
        return []
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return [str(url)]
    secrets = []
    userinfo, at, _host = parts.netloc.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        secrets += [password] if colon else []
        secrets += [user] if _looks_like_token(user) else []
    if parts.scheme.lower() in _WEB_SCHEMES:
        segments = parts.path.split("/")
        # Short segments after a marker (ids, not keys) would garble unrelated text if replaced.
        secrets += [s for i, s in enumerate(segments)
                    if _looks_like_token(s) or (_after_marker(segments, i) and len(s) >= 4)]
    secrets += [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if is_secret_name(k)]
    secrets += [parts.fragment]
    return [s for s in secrets if s]


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with every known secret (as written, or URL-encoded) replaced by ``***``, and every URL in
    it made safe (`safe_url`)."""
    text = str(text)
    # Longest first: a secret that contains another is replaced whole.
    for secret in sorted({str(s) for s in secrets if s}, key=len, reverse=True):
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            text = text.replace(form, REDACTED)
    return _URL_IN_TEXT.sub(lambda m: safe_url(m.group()), text)
