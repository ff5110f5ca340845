"""HTTP transport: one pooled session, timeouts, retries, rate limit, auth renewal, error mapping.

Retry policy (driven by `tenacity <https://tenacity.readthedocs.io>`_, a widely used, maintained
retry library; its ``Retrying`` object is the loop, our code only says *what* is retryable and
*how long* to wait):

* retried: 429 and 503 (the server says it did not process the request), connection failures
  before the request was sent (refused, connect timeout) — for every method;
* retried for idempotent calls only (GET, and POSTs explicitly declared safe to repeat: the OAuth
  token request, which has no side effect, and the export start, which only creates a
  throw-away read-only job): 500/502/504, read timeouts and connections dropped after sending.
  Any other POST that may have been executed raises :class:`AmbiguousRequestError` instead of
  being repeated blindly;
* wait: ``Retry-After`` (seconds or HTTP date) when given, else exponential backoff with equal
  jitter (``backoff_initial_s * 2**n``, capped at ``backoff_max_s``, random in [d/2, d]);
* budget per call: at most ``max_attempts`` requests and ``max_total_wait_s`` seconds of sleep.
  A ``Retry-After`` that does not fit in what is left fails at once with :class:`RateLimitError`.

Why not urllib3's ``Retry`` mounted on the adapter: its retries happen inside urllib3, invisible to
the per-process rate limiter, the 401 token renewal and the statistics, it does not bound the
*total* wait, and it never retries a POST on 429. tenacity drives the same loop at the call level.

A 401 on an OAuth call renews the token once and repeats the request immediately (outside the
retry budget). Every request first passes the per-process token bucket of its host.
"""

from __future__ import annotations

import email.utils
import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
import tenacity
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from .auth import Auth
from .config import QUALTRICS_DOMAIN, BaseURL, ClientSettings
from .errors import (
    AmbiguousRequestError,
    AuthError,
    ForeignHostError,
    InvalidClientError,
    NotFoundError,
    QualtricsError,
    RateLimitError,
    RequestError,
    ResponseFormatError,
    ScopeError,
    ServerError,
    TransportError,
    WrongDatacenterError,
)
from .ratelimit import TokenBucket, shared_bucket
from .stats import ClientStats

__all__ = ["Transport", "ROUTE_SCOPES", "parse_retry_after", "parse_envelope_error"]

logger = logging.getLogger("qualtrics_assets.qualtrics")

#: OAuth scope each route needs (used to name the missing scope on a 403).
ROUTE_SCOPES: dict[str, str] = {
    "users": "read:users",
    "user": "read:users",
    "surveys": "read:surveys",
    "survey": "read:surveys",
    "definition": "read:surveys",
    "questions": "read:surveys",
    "metadata": "read:surveys",
    "export_start": "read:survey_responses",
    "export_progress": "read:survey_responses",
    "export_file": "read:survey_responses",
}

_EXPORT_RATE_ROUTES = frozenset({"export_start", "export_file"})
_PROXIED_RE = re.compile(r"use this host instead:\s*(?:https?://)?([A-Za-z0-9.-]+\.[A-Za-z]{2,})", re.I)
_HOST_IN_TEXT_RE = re.compile(r"\b((?:[a-z0-9-]+\.)*[a-z0-9-]+\.qualtrics\.com)\b", re.I)
_NOT_SENT_ERRORS = (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError,
                    urllib3.exceptions.NameResolutionError)


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/bad."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def parse_envelope_error(body: Any) -> tuple[str | None, str | None, str | None, str | None]:
    """(errorMessage, errorCode, requestId, notice) from a v3 envelope or an OAuth error body."""
    if not isinstance(body, Mapping):
        return None, None, None, None
    meta = body.get("meta")
    if isinstance(meta, Mapping):
        err = meta.get("error") if isinstance(meta.get("error"), Mapping) else {}
        message = err.get("errorMessage") or meta.get("errorMessage")
        code = err.get("errorCode") or meta.get("internalErrorCode")
        return (_s(message), _s(code), _s(meta.get("requestId")), _s(meta.get("notice")))
    if "error" in body:  # OAuth style {"error": "invalid_client", "error_description": "..."}
        err = body.get("error")
        if isinstance(err, Mapping):
            return _s(err.get("errorMessage") or err.get("message")), _s(err.get("errorCode")), None, None
        return _s(body.get("error_description") or err), _s(err), None, None
    return None, None, None, None


def _s(v: Any) -> str | None:
    return None if v is None else str(v)


def proxied_host_from(text: str | None) -> str | None:
    """The datacenter host named by a "Request proxied ... use this host instead: X" notice."""
    if not text:
        return None
    m = _PROXIED_RE.search(text)
    if m:
        return m.group(1).lower().rstrip(".")
    return None


def _path_only(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class _Retryable(Exception):
    """Internal: one attempt failed in a retryable way."""

    def __init__(self, reason: str, *, status: int | None = None, retry_after: float | None = None,
                 body: Any = None, cause: BaseException | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after
        self.body = body
        self.cause = cause


# --------------------------------------------------------------------------------------------
# transport
# --------------------------------------------------------------------------------------------


class Transport:
    """Sends requests for one client: session, auth, rate limit, retries, error mapping."""

    def __init__(self, base: BaseURL, settings: ClientSettings, auth: Auth, stats: ClientStats,
                 *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.base = base
        self.settings = settings
        self.auth = auth
        self.stats = stats
        self._sleep = sleep
        self.proxied_host: str | None = None  # right datacenter host named by Qualtrics, if seen
        self._warned_proxied = False
        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers.update({"User-Agent": settings.user_agent, "Accept": "application/json"})
        self.session = session
        self.bucket: TokenBucket = shared_bucket(base.origin, settings.requests_per_second, settings.burst)
        self.export_bucket: TokenBucket = shared_bucket(
            base.origin + "#exports", settings.export_requests_per_minute / 60.0, max(1, min(settings.burst, 10))
        )

    def close(self) -> None:
        self.session.close()

    # -- URLs ---------------------------------------------------------------------------------

    def check_url(self, url: str, *, route: str, survey_id: str | None = None) -> str:
        """Return ``url`` if credentials may be sent to it, else raise :class:`ForeignHostError`."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise ForeignHostError(f"malformed URL from Qualtrics: {url!r}", route=route, survey_id=survey_id,
                                   url_host=None) from exc
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        if parts.username or parts.password:
            raise ForeignHostError(f"refusing URL with embedded credentials (host {host!r})", route=route,
                                   survey_id=survey_id, url_host=host)
        if self.base.same_origin(scheme, host, port):
            return url
        qualtrics_host = host == QUALTRICS_DOMAIN or host.endswith("." + QUALTRICS_DOMAIN)
        if scheme == "https" and qualtrics_host and port in (None, 443) and self.base.datacenter is not None:
            return url  # Qualtrics proxying between its datacenters (base URL is a Qualtrics host too)
        if qualtrics_host and self.proxied_host == host:
            raise WrongDatacenterError(
                f"Qualtrics proxied the request and sent {route} on to {host}, which is not the configured "
                f"host {self.base.origin}; not following it", route=route, survey_id=survey_id, right_host=host,
                url_host=host, hint=f"set QUALTRICS_BASE_URL=https://{host}")
        raise ForeignHostError(
            f"refusing to follow a URL to {scheme}://{host}{':' + str(port) if port else ''} "
            f"(configured host {self.base.origin}; credentials only go to it or to https://*.qualtrics.com)",
            route=route, survey_id=survey_id, url_host=host,
        )

    def api_url(self, path: str) -> str:
        return f"{self.base.api_root}/{path.lstrip('/')}"

    # -- token endpoint -----------------------------------------------------------------------

    def fetch_token(self, token_url: str, client_id: str, client_secret: str, scopes: tuple[str, ...]) -> dict:
        """POST the client-credentials grant; map OAuth errors to InvalidClientError/ScopeError."""
        data = {"grant_type": "client_credentials"}
        if scopes:
            data["scope"] = " ".join(scopes)

        def send(headers: dict[str, str]) -> requests.Response:
            return self.session.post(token_url, data=data, auth=(client_id, client_secret),
                                     headers={"Accept": "application/json"}, timeout=self._timeout(),
                                     allow_redirects=False)

        resp = self._call(send, method="POST", url=token_url, route="token", authenticated=False,
                          retry_ambiguous=True)
        body = self._json(resp, route="token")
        if resp.status_code == 200 and isinstance(body, Mapping) and body.get("access_token"):
            self.stats.add(token_fetches=1)
            return dict(body)
        message, code, request_id, _ = parse_envelope_error(body)
        lowered = f"{message or ''} {code or ''}".lower()
        if "invalid_scope" in lowered or "scope" in lowered and resp.status_code in (400, 403):
            raise ScopeError(
                f"Qualtrics refused the OAuth scopes {' '.join(scopes)!r}: {message or code}",
                status=resp.status_code, error_code=code, request_id=request_id, route="token",
                hint=f"grant the OAuth client the scopes {' '.join(scopes)} in Account Settings > Qualtrics IDs "
                     "> OAuth Client Manager (or change the client's scopes setting)",
                scope=" ".join(scopes),
            )
        if resp.status_code in (400, 401, 403):
            if "unauthorized_client" in lowered or "grant" in lowered:
                hint = "the OAuth client must allow the 'Client Credentials' grant type (OAuth Client Manager)"
            else:
                hint = None
            raise InvalidClientError(
                f"Qualtrics rejected the OAuth client {client_id!r} at {token_url}: {message or code or 'no detail'}",
                status=resp.status_code, error_code=code, request_id=request_id, route="token", hint=hint,
            )
        raise ResponseFormatError(
            f"unexpected answer from the OAuth token endpoint {token_url} (no access_token)",
            status=resp.status_code, error_code=code, request_id=request_id, route="token",
        )

    # -- JSON API calls -----------------------------------------------------------------------

    def request_json(self, method: str, url: str, *, route: str, survey_id: str | None = None,
                     params: Mapping[str, Any] | None = None, json_body: Any = None,
                     retry_ambiguous: bool | None = None) -> dict:
        """Send an authenticated request, return the parsed envelope; raise the mapped error on failure."""
        resp = self.request(method, url, route=route, survey_id=survey_id, params=params, json_body=json_body,
                            retry_ambiguous=retry_ambiguous)
        body = self._json(resp, route=route, survey_id=survey_id)
        if 200 <= resp.status_code < 300:
            if not isinstance(body, Mapping):
                raise ResponseFormatError(f"Qualtrics answered {route} with a non-object JSON body",
                                          status=resp.status_code, route=route, survey_id=survey_id)
            meta = body.get("meta") if isinstance(body.get("meta"), Mapping) else {}
            self._note_notice(_s(meta.get("notice")), route=route, survey_id=survey_id,
                              request_id=_s(meta.get("requestId")))
            return dict(body)
        raise self.error_for(resp, body, route=route, survey_id=survey_id)

    def request(self, method: str, url: str, *, route: str, survey_id: str | None = None,
                params: Mapping[str, Any] | None = None, json_body: Any = None, stream: bool = False,
                retry_ambiguous: bool | None = None, allow_redirects: bool = False) -> requests.Response:
        """Authenticated request with retries; returns the final response whatever its status."""
        self.check_url(url, route=route, survey_id=survey_id)

        def send(headers: dict[str, str]) -> requests.Response:
            return self.session.request(method, url, params=params, json=json_body, headers=headers,
                                        timeout=self._timeout(), stream=stream, allow_redirects=allow_redirects)

        return self._call(send, method=method, url=url, route=route, survey_id=survey_id, authenticated=True,
                          retry_ambiguous=retry_ambiguous)

    # -- the retry loop -----------------------------------------------------------------------

    def _timeout(self) -> tuple[float, float]:
        return (self.settings.connect_timeout_s, self.settings.read_timeout_s)

    def _call(self, send: Callable[[dict[str, str]], requests.Response], *, method: str, url: str, route: str,
              survey_id: str | None = None, authenticated: bool, retry_ambiguous: bool | None) -> requests.Response:
        s = self.settings
        idempotent = method.upper() in ("GET", "HEAD", "OPTIONS") if retry_ambiguous is None else retry_ambiguous
        path = _path_only(url)

        def wait(rs: tenacity.RetryCallState) -> float:
            exc = rs.outcome.exception() if rs.outcome else None
            remaining = max(0.0, s.max_total_wait_s - rs.idle_for)
            if isinstance(exc, _Retryable) and exc.retry_after is not None:
                jitter = random.uniform(0.0, min(1.0, s.backoff_initial_s))
                return min(exc.retry_after + jitter, remaining) if exc.retry_after <= remaining else exc.retry_after
            base = min(s.backoff_max_s, s.backoff_initial_s * (2 ** (rs.attempt_number - 1)))
            return min(random.uniform(base / 2.0, base), remaining)

        def stop(rs: tenacity.RetryCallState) -> bool:
            if rs.attempt_number >= s.max_attempts:
                return True
            if s.max_total_wait_s > 0 and rs.idle_for >= s.max_total_wait_s - 1e-9:
                return True  # the wait budget is spent (the last wait was clamped to what was left)
            return rs.idle_for + rs.upcoming_sleep > s.max_total_wait_s + 1e-9

        def before_sleep(rs: tenacity.RetryCallState) -> None:
            exc = rs.outcome.exception() if rs.outcome else None
            reason = exc.reason if isinstance(exc, _Retryable) else "error"
            self.stats.record_retry(reason, rs.upcoming_sleep)
            logger.warning("Qualtrics %s %s: %s; retry %d/%d in %.2f s", method, path, reason,
                           rs.attempt_number, s.max_attempts - 1, rs.upcoming_sleep)

        retrying = tenacity.Retrying(
            stop=stop, wait=wait, retry=tenacity.retry_if_exception_type(_Retryable), before_sleep=before_sleep,
            sleep=self._sleep, reraise=True,
        )
        attempts = 0
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    return self._attempt(send, method=method, route=route, survey_id=survey_id,
                                         authenticated=authenticated, idempotent=idempotent)
        except _Retryable as last:
            waited = retrying.statistics.get("idle_for", 0.0)
            raise self._budget_error(last, method=method, path=path, route=route, survey_id=survey_id,
                                     attempts=attempts, waited=waited) from last.cause
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(self, send, *, method: str, route: str, survey_id: str | None, authenticated: bool,
                 idempotent: bool) -> requests.Response:
        renewed = False
        while True:
            self._throttle(route)
            headers, used = self.auth.headers(self) if authenticated else ({}, None)
            self.stats.record_attempt(route)
            try:
                resp = send(headers)
            except requests.exceptions.RequestException as exc:
                self._classify_exception(exc, method=method, route=route, survey_id=survey_id, idempotent=idempotent)
                raise  # pragma: no cover - _classify_exception always raises
            self.stats.record_status(resp.status_code)
            status = resp.status_code
            if status == 401 and authenticated and self.auth.can_renew() and not renewed \
                    and not self._names_other_datacenter(resp):
                renewed = True
                resp.close()
                self.stats.add(auth_renewals=1)
                logger.info("Qualtrics answered 401 on %s; renewing the OAuth token once", route)
                self.auth.renew(self, used)
                continue
            if status == 429 or status == 503 or (status in (500, 502, 504) and idempotent):
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                body = self._safe_body(resp)
                raise _Retryable(str(status), status=status, retry_after=retry_after, body=body)
            return resp

    @staticmethod
    def _names_other_datacenter(resp: requests.Response) -> bool:
        """True if a 401 says "use this host instead" (renewing the token would not help)."""
        try:
            message, _, _, notice = parse_envelope_error(resp.json())
        except ValueError:
            return False
        return bool(proxied_host_from(message) or proxied_host_from(notice))

    def _throttle(self, route: str) -> None:
        waited = self.bucket.acquire()
        if route in _EXPORT_RATE_ROUTES:
            waited += self.export_bucket.acquire()
        if waited:
            self.stats.add(rate_limit_wait_s=waited)

    def _classify_exception(self, exc: requests.exceptions.RequestException, *, method: str, route: str,
                            survey_id: str | None, idempotent: bool) -> None:
        if isinstance(exc, requests.exceptions.ConnectTimeout) or _caused_by(exc, _NOT_SENT_ERRORS):
            raise _Retryable("connect_error", cause=exc) from exc
        if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                            requests.exceptions.InvalidSchema, requests.exceptions.TooManyRedirects)):
            raise TransportError(f"cannot send {method} {route}: {type(exc).__name__}", route=route,
                                 survey_id=survey_id, attempts=1, waited_s=0.0) from exc
        reason = "read_timeout" if isinstance(exc, requests.exceptions.Timeout) else "connection_dropped"
        if idempotent:
            raise _Retryable(reason, cause=exc) from exc
        raise AmbiguousRequestError(
            f"{method} {route} failed after it may have reached Qualtrics ({reason}); not repeated",
            route=route, survey_id=survey_id,
        ) from exc

    def _budget_error(self, last: _Retryable, *, method: str, path: str, route: str, survey_id: str | None,
                      attempts: int, waited: float) -> QualtricsError:
        message, code, request_id, _ = parse_envelope_error(last.body)
        budget = (f"after {attempts} attempt(s) and {waited:.1f} s of waiting "
                  f"(budget: {self.settings.max_attempts} attempts, {self.settings.max_total_wait_s:g} s)")
        common = dict(status=last.status, error_code=code, request_id=request_id, route=route, survey_id=survey_id,
                      attempts=attempts, waited_s=round(waited, 3), retry_after=last.retry_after)
        if last.reason == "429":
            extra = ""
            if last.retry_after is not None and waited + last.retry_after > self.settings.max_total_wait_s:
                extra = f"; Qualtrics asked to wait {last.retry_after:g} s more, beyond the wait budget"
            return RateLimitError(f"Qualtrics rate limit (429) on {method} {path} {budget}{extra}", **common)
        if last.status is not None:
            detail = f": {message}" if message else ""
            return ServerError(f"Qualtrics server error {last.status} on {method} {path} {budget}{detail}", **common)
        return TransportError(f"{last.reason.replace('_', ' ')} on {method} {path} {budget}", **common)

    # -- responses ----------------------------------------------------------------------------

    @staticmethod
    def _safe_body(resp: requests.Response) -> Any:
        try:
            if resp.raw is not None and not resp._content_consumed and resp.headers.get("Content-Length") is None:
                # streamed responses: don't read an unbounded body just to build an error
                resp.close()
                return None
            return resp.json()
        except ValueError:
            return None
        finally:
            resp.close()

    @staticmethod
    def _json(resp: requests.Response, *, route: str, survey_id: str | None = None) -> Any:
        try:
            return resp.json()
        except ValueError:
            if 200 <= resp.status_code < 300:
                raise ResponseFormatError(f"Qualtrics answered {route} with a body that is not JSON",
                                          status=resp.status_code, route=route, survey_id=survey_id) from None
            return None

    def _note_notice(self, notice: str | None, *, route: str, survey_id: str | None, request_id: str | None) -> None:
        host = proxied_host_from(notice)
        if not host:
            return
        self.proxied_host = host
        if self.settings.strict_datacenter:
            raise WrongDatacenterError(
                f"Qualtrics proxied this request: the account lives on {host}, not {self.base.host}",
                route=route, survey_id=survey_id, request_id=request_id, right_host=host,
                hint=f"set QUALTRICS_BASE_URL=https://{host}",
            )
        if not self._warned_proxied:
            self._warned_proxied = True
            logger.warning("Qualtrics proxied a request from %s to %s; set QUALTRICS_BASE_URL=https://%s for "
                           "faster and more reliable calls", self.base.host, host, host)

    def error_for(self, resp: requests.Response, body: Any, *, route: str, survey_id: str | None) -> QualtricsError:
        """Map a non-2xx response to the most specific error with an actionable hint."""
        status = resp.status_code
        message, code, request_id, notice = parse_envelope_error(body)
        detail = f": {message}" if message else ""
        common = dict(status=status, error_code=code, request_id=request_id, route=route, survey_id=survey_id)
        right_host = proxied_host_from(notice) or proxied_host_from(message)
        if status == 401:
            right_host = right_host or self.proxied_host
            if right_host and right_host != self.base.host:
                return WrongDatacenterError(
                    f"{self.base.host} rejected the credentials{detail}; this account lives on datacenter host "
                    f"{right_host}", hint=f"set QUALTRICS_BASE_URL=https://{right_host}", right_host=right_host,
                    **common)
            if code == "DCD_7" or "datacenter" in (message or "").lower():
                return AuthError(
                    f"{self.base.host} rejected the credentials{detail}",
                    hint="either the credentials are wrong (check QUALTRICS_API_TOKEN / QUALTRICS_CLIENT_ID / "
                         "QUALTRICS_CLIENT_SECRET) or the account lives on another datacenter: set QUALTRICS_BASE_URL "
                         "to the Endpoint Base URL shown in Account Settings > Qualtrics IDs (e.g. acme.fra1.qualtrics.com)",
                    **common)
            if self.auth.kind == "oauth":
                return AuthError(f"Qualtrics rejected the OAuth access token on {route} even after renewing it{detail}",
                                 **common)
            return AuthError(f"Qualtrics rejected the credentials on {route}{detail}", **common)
        if status == 403:
            scope = ROUTE_SCOPES.get(route)
            granted = getattr(self.auth, "granted_scopes", None)
            if scope and self.auth.kind == "oauth":
                have = f" (token scopes: {' '.join(granted)})" if granted else ""
                return ScopeError(f"Qualtrics denied {route}: the OAuth client lacks scope {scope}{have}{detail}",
                                  hint=f"add scope {scope} to the OAuth client in Account Settings > Qualtrics IDs "
                                       "> OAuth Client Manager", scope=scope, **common)
            what = f" (needs {scope})" if scope else ""
            return ScopeError(f"Qualtrics denied {route}{what}{detail}",
                              hint="the user behind the API token lacks the permission for this call "
                                   "(users need Brand Administrator; tokens need 'Access API')", scope=scope, **common)
        if status == 404:
            what = f"survey {survey_id}" if survey_id else route
            return NotFoundError(f"Qualtrics has no {what}{detail}",
                                 hint="check the id and that these credentials can see it", **common)
        if 500 <= status < 600:
            return ServerError(f"Qualtrics server error on {route}{detail}", attempts=1, waited_s=0.0, **common)
        return RequestError(f"Qualtrics refused {route}{detail}", **common)


def _caused_by(exc: BaseException, types: tuple[type[BaseException], ...]) -> bool:
    seen = set()
    stack: list[Any] = [exc]
    while stack:
        cur = stack.pop()
        if cur is None or id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, types):
            return True
        if isinstance(cur, BaseException):
            stack.extend([cur.__cause__, cur.__context__, *[a for a in cur.args if isinstance(a, BaseException)]])
            reason = getattr(cur, "reason", None)
            if isinstance(reason, BaseException):
                stack.append(reason)
    return False
