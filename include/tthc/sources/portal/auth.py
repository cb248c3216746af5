"""Signing in to the portal: a static bearer token, or an OAuth2 grant at a token endpoint (Keycloak).

OAuth2 (RFC 6749 §4.3 password and §4.4 client-credentials grants): the access token is cached
until shortly before it expires, so a long fetch (a million dossiers outlives a 300 s token) signs
in again between pages rather than failing on one; a 401 on a request is answered by exactly one
new sign-in and one resend of that request, never by a loop. Both are httpx.Auth flows, so every
request the client makes (and its retries) goes through them.

Credentials and tokens never appear in an exception, a repr or a log line (`secrets()` lists what
the client redacts). The token endpoint's error text is not shown either: Keycloak's
`error_description` may repeat the user name; only the standard `error` code is.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from functools import lru_cache

import httpx

from ...redaction import safe_url
from .errors import PortalAuthError, PortalDataError, Transient, code, shape


@lru_cache(maxsize=1)
def tls_context():
    """The TLS context of every portal connection (sign-in and API), as httpx would make it for each
    client (its CA bundle, SSL_CERT_FILE/SSL_CERT_DIR honoured), made once per process: reading the CA
    bundle costs ≈ 60 ms, paid by every client, i.e. every fetch task, otherwise. Task processes get it
    made already (tthc_airflow.preload)."""
    return httpx.create_ssl_context()

log = logging.getLogger(__name__)

# A token is renewed when less than this share of its life (at most RENEW_BEFORE seconds) is left.
RENEW_SHARE = 0.1
RENEW_BEFORE = 30.0
MAX_TOKEN_BYTES = 64_000  # a token response is a few kB; more is not a token endpoint


class BearerToken(httpx.Auth):
    """A static token (spec "Source 2"): a 401 means it is wrong, and nothing can fix that mid-run."""

    def __init__(self, token: str):
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def secrets(self) -> tuple[str | None, ...]:
        return (self._token,)

    def describe(self) -> str:
        return "the token (TTHC_PORTAL_TOKEN or the tthc_portal connection's password)"

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return "BearerToken(***)"


class OAuth2SignIn(httpx.Auth):
    """Password grant when a user name is given, else client credentials."""

    def __init__(self, token_url: str, client_id: str, client_secret: str | None = None, *,
                 username: str | None = None, password: str | None = None, timeout: float = 30,
                 clock: Callable[[], float] = time.monotonic):
        if not token_url or not client_id:
            raise PortalAuthError("OAuth2 sign-in needs a token URL and a client id (TTHC_PORTAL_TOKEN_URL, "
                                  "TTHC_PORTAL_CLIENT_ID or the tthc_portal connection's extra)")
        if username and not password:
            raise PortalAuthError("OAuth2 password grant: a user name is set but no password "
                                  "(TTHC_PORTAL_PASSWORD or the tthc_portal connection's password)")
        self._shown = safe_url(token_url)
        self.grant = "password" if username else "client_credentials"
        self._form = {"grant_type": self.grant, "client_id": client_id}
        if client_secret:
            self._form["client_secret"] = client_secret
        if username:
            self._form.update(username=username, password=password)
        self._client_secret, self._password = client_secret, password
        self._token: str | None = None
        self._renew_at = -math.inf
        self._clock = clock
        self._timeout = timeout
        self._http = httpx.Client(timeout=timeout, headers={"Accept": "application/json"}, verify=tls_context())
        self._token_url = token_url
        self.sign_ins = 0

    def __repr__(self) -> str:
        return f"OAuth2SignIn({self._shown!r}, grant={self.grant!r})"

    def secrets(self) -> tuple[str | None, ...]:
        return (self._client_secret, self._password, self._token)

    def describe(self) -> str:
        return f"the access token signed in at {self._shown}"

    def close(self) -> None:
        self._http.close()

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        # The sign-in gets no more time than the request it serves (the client's timeout, capped
        # by what is left of the unit's fetch deadline).
        limit = (request.extensions.get("timeout") or {}).get("read") or self._timeout
        if self._token is None or self._clock() >= self._renew_at:
            self._sign_in(limit)
        request.headers["Authorization"] = f"Bearer {self._token}"
        response = yield request
        if response.status_code == 401:
            # Revoked, or expired early (a clock ahead of ours): one new sign-in, one resend. A second
            # 401 goes back to the client, which fails the unit (a token just issued is refused).
            log.info("portal: HTTP 401 on %s; signing in again once", request.url.path)
            self._token = None  # refused: never sent again, even if the new sign-in fails
            self._sign_in(limit)
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request

    def _sign_in(self, limit: float) -> None:
        self.sign_ins += 1
        started = self._clock()
        try:
            with self._http.stream("POST", self._token_url, data=self._form, timeout=limit) as response:
                status, raw = response.status_code, b""
                for chunk in response.iter_bytes():
                    raw += chunk
                    if len(raw) > MAX_TOKEN_BYTES:
                        break
                    if self._clock() - started > limit:  # a trickle resets the read timeout at every byte
                        raise Transient(f"sign-in at {self._shown}: no answer within {limit:g} s")
        except httpx.TransportError as exc:
            raise Transient(f"sign-in at {self._shown}: {type(exc).__name__}") from None
        if status == 429 or status >= 500:
            raise Transient(f"sign-in at {self._shown}: HTTP {status}")
        body = _json(raw) if len(raw) <= MAX_TOKEN_BYTES else None
        if status != 200:
            error = body.get("error") if isinstance(body, dict) else None
            raise PortalAuthError(f"the sign-in at {self._shown} refused the {self.grant} grant (HTTP {status}"
                                  + (f", error {code(error)}" if error is not None else "")
                                  + "); check TTHC_PORTAL_CLIENT_ID / _CLIENT_SECRET / _USERNAME / _PASSWORD "
                                    "or the tthc_portal connection")
        token = body.get("access_token") if isinstance(body, dict) else None
        lifetime = body.get("expires_in") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise PortalDataError(f"the sign-in at {self._shown} answered without an access token "
                                  f"({shape(body) if body is not None else f'{len(raw)} bytes, not JSON'})")
        if isinstance(lifetime, bool) or not isinstance(lifetime, (int, float)) or not lifetime > 0:
            raise PortalDataError(f"the sign-in at {self._shown} answered without a usable expires_in "
                                  f"({shape(lifetime)})")
        self._token = token
        # Renewed shortly before it expires, counted from when it was asked for (the safe side).
        self._renew_at = started + lifetime - min(RENEW_BEFORE, lifetime * RENEW_SHARE)
        log.info("portal: signed in at %s (%s grant), token valid for %s s", self._shown, self.grant, lifetime)


def _json(raw: bytes):
    try:
        return json.loads(raw)
    except ValueError:
        return None
