"""OAuth2 tokens and the per-token rate limit of the ServiceFusion sandbox.

Both run on *real* time (`time.monotonic`), not the sandbox clock: the sandbox clock is frozen
between mutations, so a token TTL or a rate window measured on it would never pass. A short
TTL (``token_ttl_seconds``) or window (``rate_window_seconds``) lets tests exercise refresh
and 429 handling in a second instead of an hour or a minute.
"""

from __future__ import annotations

import hmac
import math
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from greenlight_dagster.sandbox.sf_errors import OAuthError

#: Prune expired tokens / rate windows once a table grows past this many entries.
_PRUNE_AT = 256


class TokenStore:
    """Issues and checks bearer tokens for one OAuth consumer (client id + secret).

    Refresh tokens rotate: each one is single-use and exchanging it invalidates it, as the
    third-party integrations observe (docs/apis/servicefusion.md §2), so a client that keeps using an
    old refresh token fails here as it would in production.
    """

    def __init__(self, client_id: str, client_secret: str, ttl_seconds: float, *, error_status: int = 401,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self.ttl_seconds = ttl_seconds
        self.error_status = error_status
        self._clock = clock
        self._access: dict[str, float] = {}  # token -> monotonic expiry
        self._refresh: set[str] = set()
        self._lock = threading.Lock()

    def grant(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """Answer a token request body (JSON or form fields) or raise `OAuthError`."""
        grant_type = str(body.get("grant_type") or "")
        if grant_type == "client_credentials":
            if not (self._same(body.get("client_id"), self._client_id)
                    and self._same(body.get("client_secret"), self._client_secret)):
                raise OAuthError(self.error_status, "invalid_client", "Client authentication failed.")
            return self._issue()
        if grant_type == "refresh_token":
            with self._lock:
                token = str(body.get("refresh_token") or "")
                if token not in self._refresh:
                    raise OAuthError(400, "invalid_grant", "The refresh token is invalid, expired or already used.")
                self._refresh.discard(token)
            return self._issue()
        if not grant_type:
            raise OAuthError(400, "invalid_request", "The request is missing the grant_type parameter.")
        raise OAuthError(400, "unsupported_grant_type", f"The grant type {grant_type!r} is not supported.")

    def is_valid(self, token: str) -> bool:
        with self._lock:
            expiry = self._access.get(token)
            return expiry is not None and self._clock() < expiry

    def revoke_all(self) -> None:
        """Invalidate every access token (as a consumer secret reset would); refresh tokens survive."""
        with self._lock:
            self._access.clear()

    def _issue(self) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        with self._lock:
            now = self._clock()
            if len(self._access) > _PRUNE_AT:
                self._access = {t: exp for t, exp in self._access.items() if exp > now}
            self._access[access] = now + self.ttl_seconds
            self._refresh.add(refresh)
        return {"access_token": access, "token_type": "Bearer", "expires_in": int(self.ttl_seconds),
                "refresh_token": refresh}

    @staticmethod
    def _same(given: object, expected: str) -> bool:
        return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


@dataclass(frozen=True)
class RateDecision:
    """Whether a request may proceed and the ``X-Rate-Limit-*`` headers to send either way."""

    allowed: bool
    headers: dict[str, str]
    retry_after: int


class RateLimiter:
    """A fixed window of ``limit`` requests per ``window_seconds`` per key (the access token).

    ``scope="account"`` puts every token in one window: docs/apis/servicefusion.md §3 notes the real
    limit might be per account, in which case fetching a new token does not buy more calls.
    """

    def __init__(self, limit: int, window_seconds: float = 60.0, *, scope: str = "token",
                 clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time) -> None:
        if scope not in ("token", "account"):
            raise ValueError(f"rate limit scope must be 'token' or 'account', got {scope!r}")
        self.limit = limit
        self.window_seconds = window_seconds
        self.scope = scope
        self._clock = clock
        self._wall = wall_clock
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window start, requests in it)
        self._lock = threading.Lock()

    def hit(self, token: str) -> RateDecision:
        """Count one request against the token's window."""
        key = token if self.scope == "token" else "account"
        with self._lock:
            now = self._clock()
            if len(self._windows) > _PRUNE_AT:
                self._windows = {k: w for k, w in self._windows.items() if now < w[0] + self.window_seconds}
            start, count = self._windows.get(key, (now, 0))
            if now >= start + self.window_seconds:
                start, count = now, 0
            count += 1
            self._windows[key] = (start, count)
        return self._decision(count, start + self.window_seconds - now)

    def untouched(self) -> RateDecision:
        """Headers for a request that carries no valid token (nothing is counted)."""
        return self._decision(0, self.window_seconds)

    def _decision(self, count: int, seconds_left: float) -> RateDecision:
        headers = {
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(max(0, self.limit - count)),
            "X-Rate-Limit-Reset": str(math.ceil(self._wall() + seconds_left)),
        }
        return RateDecision(count <= self.limit, headers, max(1, math.ceil(seconds_left)))
