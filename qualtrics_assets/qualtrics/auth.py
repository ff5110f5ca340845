"""Authentication: OAuth 2.0 client credentials (preferred) or a legacy ``X-API-TOKEN``.

OAuth tokens are cached **per process** (keyed by token URL, client id, a hash of the secret and
the scopes), so every client a process builds shares one token; it is renewed
``token_refresh_margin_s`` before expiry (at most 20% of its lifetime early) and once when a call
answers 401. Secret values are registered with :func:`~.errors.register_secret` so they are blanked
from every message, and they never appear in ``repr``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import register_secret

if TYPE_CHECKING:  # pragma: no cover
    from .http import Transport

__all__ = ["Auth", "ApiTokenAuth", "OAuthClientCredentials", "clear_token_cache"]

logger = logging.getLogger("qualtrics_assets.qualtrics")


class Auth:
    """Strategy interface: headers for a request, and what to do after a 401."""

    kind = "none"

    def headers(self, transport: "Transport") -> tuple[dict[str, str], Any]:
        raise NotImplementedError

    def can_renew(self) -> bool:
        return False

    def renew(self, transport: "Transport", used: Any) -> None:  # pragma: no cover - interface
        pass


class ApiTokenAuth(Auth):
    """Legacy per-user API token sent as ``X-API-TOKEN`` (cannot be renewed)."""

    kind = "api_token"

    def __init__(self, token: str) -> None:
        register_secret(token)
        self._token = token

    def headers(self, transport: "Transport") -> tuple[dict[str, str], Any]:
        return {"X-API-TOKEN": self._token}, None

    def __repr__(self) -> str:
        return "ApiTokenAuth(token=***)"


@dataclass
class _TokenState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    value: str | None = None
    expires_at: float = 0.0       # time.monotonic() deadline
    refresh_at: float = 0.0
    granted_scopes: tuple[str, ...] | None = None


_TOKEN_CACHE: dict[tuple[str, str, str, tuple[str, ...]], _TokenState] = {}
_TOKEN_CACHE_LOCK = threading.Lock()


def clear_token_cache() -> None:
    """Forget every cached OAuth token of this process (tests, credential rotation)."""
    with _TOKEN_CACHE_LOCK:
        _TOKEN_CACHE.clear()


class OAuthClientCredentials(Auth):
    """OAuth client-credentials grant against ``{origin}/oauth2/token`` (HTTP Basic, form-encoded)."""

    kind = "oauth"

    def __init__(self, token_url: str, client_id: str, client_secret: str, scopes: tuple[str, ...],
                 refresh_margin_s: float) -> None:
        register_secret(client_secret)
        self.token_url = token_url
        self.client_id = client_id
        self._client_secret = client_secret
        self.scopes = tuple(scopes)
        self.refresh_margin_s = refresh_margin_s
        digest = hashlib.sha256(client_secret.encode()).hexdigest()
        key = (token_url, client_id, digest, self.scopes)
        with _TOKEN_CACHE_LOCK:
            self._state = _TOKEN_CACHE.setdefault(key, _TokenState())

    def __repr__(self) -> str:
        return f"OAuthClientCredentials(token_url={self.token_url!r}, client_id={self.client_id!r}, client_secret=***)"

    @property
    def granted_scopes(self) -> tuple[str, ...] | None:
        return self._state.granted_scopes

    def can_renew(self) -> bool:
        return True

    def headers(self, transport: "Transport") -> tuple[dict[str, str], Any]:
        token = self._current(transport)
        return {"Authorization": f"Bearer {token}"}, token

    def renew(self, transport: "Transport", used: Any) -> None:
        """Drop ``used`` (if still current) and fetch a new token; called after a 401."""
        state = self._state
        with state.lock:
            if state.value is not None and state.value == used:
                state.value = None
        self._current(transport)

    def _current(self, transport: "Transport") -> str:
        state = self._state
        with state.lock:
            now = time.monotonic()
            if state.value is not None and now < state.refresh_at:
                return state.value
            body = transport.fetch_token(self.token_url, self.client_id, self._client_secret, self.scopes)
            token = body["access_token"]
            register_secret(token)
            try:
                lifetime = float(body.get("expires_in") or 3600)
            except (TypeError, ValueError):
                lifetime = 3600.0
            margin = min(self.refresh_margin_s, lifetime * 0.2)
            state.value = token
            state.expires_at = now + lifetime
            state.refresh_at = now + max(0.0, lifetime - margin)
            granted = body.get("scope")
            state.granted_scopes = tuple(str(granted).split()) if granted else None
            if state.granted_scopes is not None:
                missing = [s for s in self.scopes if s not in state.granted_scopes]
                if missing:
                    logger.warning(
                        "Qualtrics OAuth client %s was not granted scope(s) %s; calls needing them will fail "
                        "(add them to the OAuth client in Account Settings > Qualtrics IDs)",
                        self.client_id, " ".join(missing),
                    )
            logger.debug("obtained a Qualtrics OAuth token valid for %.0f s", lifetime)
            return token
