"""One exception family for everything the Qualtrics client can raise.

Every error carries what a person needs to act on it: the HTTP ``status``, the Qualtrics
``error_code`` (``meta.error.errorCode``), the ``request_id`` (quote it to Qualtrics support),
the ``survey_id`` involved and a ``hint`` telling the user what to do next. Messages never
contain secrets: they are built from our own words plus server error text, and every message is
passed through :func:`redact`, which blanks any secret the process has registered (client secret,
API token, access tokens) as a last line of defence.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = [
    "QualtricsError",
    "ConfigError",
    "InsecureURLError",
    "InvalidIdError",
    "AuthError",
    "InvalidClientError",
    "WrongDatacenterError",
    "ScopeError",
    "NotFoundError",
    "RequestError",
    "RetryBudgetExceededError",
    "RateLimitError",
    "ServerError",
    "TransportError",
    "AmbiguousRequestError",
    "ForeignHostError",
    "PaginationLoopError",
    "ResponseFormatError",
    "ExportError",
    "ExportFailedError",
    "ExportTimeoutError",
    "ExportDownloadError",
    "ExportTooLargeError",
    "register_secret",
    "redact",
]

# --------------------------------------------------------------------------------------------
# secret registry
# --------------------------------------------------------------------------------------------

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
_MIN_SECRET_LEN = 6  # never blank short, common strings such as "x" or "id"


def register_secret(value: str | None) -> None:
    """Remember ``value`` so :func:`redact` blanks it wherever it might appear."""
    if value and len(value) >= _MIN_SECRET_LEN:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def redact(text: Any) -> str:
    """Return ``str(text)`` with every registered secret replaced by ``***``."""
    s = str(text)
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if secret in s:
            s = s.replace(secret, "***")
    return s


# --------------------------------------------------------------------------------------------
# the family
# --------------------------------------------------------------------------------------------


class QualtricsError(Exception):
    """Base class of every error raised by :mod:`qualtrics_assets.qualtrics`.

    Attributes:
        status: HTTP status code of the failing response, if there was one.
        error_code: Qualtrics ``meta.error.errorCode`` (e.g. ``"GSI_2"``), or the OAuth ``error``.
        request_id: Qualtrics ``meta.requestId``; quote it when contacting Qualtrics support.
        survey_id: the survey the failing call was about, if any.
        route: the client's name for the endpoint (``"users"``, ``"export_start"``...).
        hint: what the user should do about it.
    """

    default_hint: str = ""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: str | None = None,
        request_id: str | None = None,
        survey_id: str | None = None,
        route: str | None = None,
        hint: str | None = None,
        **extra: Any,
    ) -> None:
        self.status = status
        self.error_code = error_code
        self.request_id = request_id
        self.survey_id = survey_id
        self.route = route
        self.hint = hint if hint is not None else self.default_hint
        for key, value in extra.items():
            setattr(self, key, value)
        self._extra_keys = tuple(extra)
        self.message = redact(message)
        super().__init__(self._render())

    def _render(self) -> str:
        parts = [self.message]
        details = []
        if self.status is not None:
            details.append(f"HTTP {self.status}")
        if self.error_code:
            details.append(f"errorCode={self.error_code}")
        if self.survey_id:
            details.append(f"survey={self.survey_id}")
        if self.request_id:
            details.append(f"requestId={self.request_id}")
        if details:
            parts.append(f"[{', '.join(details)}]")
        if self.hint:
            parts.append(f"-> {self.hint}")
        return redact(" ".join(parts))

    def __str__(self) -> str:  # args may have been altered by callers; always re-redact
        return redact(super().__str__())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def to_metadata(self) -> dict[str, Any]:
        """JSON-safe description (for logs or Dagster metadata); contains no secrets."""
        out: dict[str, Any] = {"error": type(self).__name__, "message": self.message, **self._context()}
        for key in self._extra_keys:
            value = getattr(self, key)
            if isinstance(value, (str, int, float, bool)) or value is None:
                out[key] = redact(value) if isinstance(value, str) else value
        return out

    def _context(self) -> dict[str, Any]:
        """The fields every error carries besides its message."""
        return {
            "status": self.status,
            "error_code": self.error_code,
            "request_id": self.request_id,
            "survey_id": self.survey_id,
            "route": self.route,
            "hint": self.hint,
        }

    def __reduce__(self):  # picklable across Dagster subprocess boundaries
        kwargs = self._context()
        kwargs.update({k: getattr(self, k) for k in self._extra_keys})
        return (_rebuild, (type(self), self.message, kwargs))


def _rebuild(cls: type[QualtricsError], message: str, kwargs: dict[str, Any]) -> QualtricsError:
    return cls(message, **kwargs)


# -- configuration ---------------------------------------------------------------------------


class ConfigError(QualtricsError, ValueError):
    """The client was configured with something unusable (base URL, credentials, settings)."""


class InsecureURLError(ConfigError):
    """A plain ``http://`` URL to a non-loopback host: credentials would travel in clear text."""

    default_hint = "use https:// (plain http is only accepted for loopback test servers)"


class InvalidIdError(QualtricsError, ValueError):
    """An id (survey, user, export) does not have the shape Qualtrics uses; refused before any URL is built."""


# -- authentication / authorization ---------------------------------------------------------


class AuthError(QualtricsError):
    """Credentials were rejected (HTTP 401, or the token endpoint refused them)."""

    default_hint = (
        "check QUALTRICS_CLIENT_ID / QUALTRICS_CLIENT_SECRET (OAuth client with grant type "
        "'Client Credentials' in Account Settings > Qualtrics IDs > OAuth Client Manager) "
        "or QUALTRICS_API_TOKEN"
    )


class InvalidClientError(AuthError):
    """The OAuth token endpoint answered ``invalid_client``: wrong client id or secret."""

    default_hint = (
        "check QUALTRICS_CLIENT_ID and QUALTRICS_CLIENT_SECRET: the OAuth client must exist on this "
        "brand (Account Settings > Qualtrics IDs > OAuth Client Manager) with grant type "
        "'Client Credentials'"
    )


class WrongDatacenterError(AuthError):
    """The account lives on another datacenter than the configured base URL.

    ``right_host`` holds the host Qualtrics named (from a ``Request proxied`` notice), if known.
    """


class ScopeError(QualtricsError):
    """The credentials lack a permission/scope the call needs (HTTP 403 or ``invalid_scope``).

    ``scope`` names the missing OAuth scope when the route makes it unambiguous.
    """


class NotFoundError(QualtricsError):
    """HTTP 404: the survey/user/export does not exist (or is not visible to these credentials)."""


class RequestError(QualtricsError):
    """Any other 4xx answer that retrying cannot fix (bad parameters, 409, 413...)."""


# -- transport and budgets --------------------------------------------------------------------


class RetryBudgetExceededError(QualtricsError):
    """Retries stopped because the attempt or wait budget ran out.

    Attributes ``attempts`` (requests sent for this call) and ``waited_s`` (seconds slept).
    """


class RateLimitError(RetryBudgetExceededError):
    """Qualtrics kept answering 429 Too Many Requests beyond the retry budget."""

    default_hint = (
        "another job may be sharing this brand's API quota (3000 requests/min, 100 export starts/min); "
        "lower requests_per_second, run fewer surveys at once, or raise max_total_wait_s"
    )


class ServerError(RetryBudgetExceededError):
    """Qualtrics kept answering 5xx beyond the retry budget."""

    default_hint = "Qualtrics is having trouble; try again later and quote the requestId if it persists"


class TransportError(RetryBudgetExceededError):
    """Connections kept failing or timing out beyond the retry budget."""

    default_hint = "check network access to the Qualtrics host, or raise read_timeout_s if calls are slow"


class AmbiguousRequestError(QualtricsError):
    """A non-idempotent request (POST) failed after it may have reached Qualtrics; it was not repeated."""

    default_hint = "the request may or may not have been executed; check in Qualtrics before repeating it"


# -- paging -----------------------------------------------------------------------------------


class ForeignHostError(QualtricsError):
    """A ``nextPage`` (or other server-given URL) points outside the hosts credentials may go to.

    Credentials are only sent to the configured host, or over https to another ``*.qualtrics.com``
    datacenter host when Qualtrics proxies. ``url_host`` holds the refused host.
    """

    default_hint = "the URL was not followed and no credentials were sent to it; report this to Qualtrics support"


class PaginationLoopError(QualtricsError):
    """The server handed back a ``nextPage`` that was already fetched (or too many pages)."""


class ResponseFormatError(QualtricsError):
    """Qualtrics answered something that is not the documented envelope / file format."""


# -- exports ----------------------------------------------------------------------------------


class ExportError(QualtricsError):
    """Base of the response-export failures. ``progress_id`` holds the export's id when known."""


class ExportFailedError(ExportError):
    """Qualtrics reported the export as ``failed``."""


class ExportTimeoutError(ExportError):
    """The export stayed ``inProgress`` past ``export_timeout_s``."""


class ExportDownloadError(ExportError):
    """The export file was truncated, corrupt, or not the expected archive."""


class ExportTooLargeError(ExportError):
    """Qualtrics refused the export for its size and it cannot be split further."""
