"""Client settings, Endpoint Base URL normalisation and the host rules for credentials."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigError, InsecureURLError, InvalidIdError

__all__ = [
    "DEFAULT_SCOPES",
    "ClientSettings",
    "BaseURL",
    "normalize_base_url",
    "is_loopback_host",
    "validate_survey_id",
    "validate_id",
]

#: The OAuth scopes this project needs: surveys + definitions, response exports, users.
DEFAULT_SCOPES: tuple[str, ...] = ("read:surveys", "read:survey_responses", "read:users")

QUALTRICS_DOMAIN = "qualtrics.com"


@dataclass(frozen=True)
class ClientSettings:
    """Tunables of :class:`~qualtrics_assets.qualtrics.QualtricsClient` (all times in seconds).

    Defaults suit production against Qualtrics; tests shrink the backoff values so budgets are
    asserted by counts, not by wall time.
    """

    #: TCP connect timeout of every request.
    connect_timeout_s: float = 10.0
    #: Read timeout of every request (max silence between bytes, also while streaming files).
    read_timeout_s: float = 60.0
    #: Maximum number of requests sent for one logical call (first try + retries).
    max_attempts: int = 8
    #: Maximum total seconds slept in backoff for one logical call; a Retry-After beyond it fails fast.
    max_total_wait_s: float = 300.0
    #: First backoff delay; doubles per retry (equal jitter: a random value in [d/2, d]).
    backoff_initial_s: float = 1.0
    #: Cap of a single backoff delay (Retry-After is honoured even above it, within max_total_wait_s).
    backoff_max_s: float = 60.0
    #: Per-process request rate to one host (Qualtrics allows ~3000/min per brand, shared with others).
    requests_per_second: float = 20.0
    #: Burst size of the per-process token bucket.
    burst: int = 10
    #: Per-process rate of export starts and file downloads (Qualtrics: 100/min each).
    export_requests_per_minute: float = 90.0
    #: Renew the OAuth token this many seconds before it expires (capped at 20% of its lifetime).
    token_refresh_margin_s: float = 60.0
    #: OAuth scopes requested from /oauth2/token.
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    #: First delay between export progress polls; grows by ``poll_multiplier`` up to ``poll_max_s``.
    poll_initial_s: float = 1.0
    poll_max_s: float = 15.0
    poll_multiplier: float = 1.5
    #: Give up on an export that is not ``complete`` after this long (ExportTimeoutError).
    export_timeout_s: float = 3600.0
    #: A ``failed`` export is started afresh this many times before ExportFailedError.
    export_restarts: int = 1
    #: Times a truncated/corrupt export download is fetched again before ExportDownloadError.
    download_attempts: int = 3
    #: Bytes per chunk written to the temporary export file.
    download_chunk_bytes: int = 1 << 20
    #: Read every archive member once (CRC check) before handing out records, so a corrupt file
    #: fails before any record is yielded (exactly-once); costs one extra decompression pass.
    verify_archive: bool = True
    #: Smallest date window an export is split into when Qualtrics refuses it for size.
    min_export_window_s: float = 3600.0
    #: Directory for temporary export files (None: the system temp dir).
    temp_dir: str | None = None
    #: Safety cap on pages followed by one listing.
    max_pages: int = 100_000
    #: Raise WrongDatacenterError on a "Request proxied" notice instead of logging a warning.
    strict_datacenter: bool = False
    #: User-Agent header.
    user_agent: str = "qualtrics_assets (+https://github.com/; python-requests)"

    def __post_init__(self) -> None:
        positive = (
            "connect_timeout_s", "read_timeout_s", "requests_per_second", "export_requests_per_minute",
            "poll_initial_s", "poll_max_s", "export_timeout_s", "min_export_window_s",
        )
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"setting {name} must be > 0, got {getattr(self, name)!r}")
        non_negative = ("max_total_wait_s", "backoff_initial_s", "backoff_max_s", "token_refresh_margin_s",
                        "export_restarts")
        for name in non_negative:
            if getattr(self, name) < 0:
                raise ConfigError(f"setting {name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("max_attempts", "burst", "download_attempts", "download_chunk_bytes", "max_pages"):
            if getattr(self, name) < 1:
                raise ConfigError(f"setting {name} must be >= 1, got {getattr(self, name)!r}")
        if self.poll_multiplier < 1:
            raise ConfigError("setting poll_multiplier must be >= 1")
        if isinstance(self.scopes, str):
            object.__setattr__(self, "scopes", tuple(self.scopes.split()))

    def replace(self, **changes: Any) -> "ClientSettings":
        """Copy with some fields changed (unknown names raise ConfigError)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"unknown client setting(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)


# --------------------------------------------------------------------------------------------
# base URL
# --------------------------------------------------------------------------------------------

_DC_RE = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
_HOST_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class BaseURL:
    """A normalised Endpoint Base URL: scheme, host and optional port; no path."""

    scheme: str
    host: str
    port: int | None = None

    @property
    def origin(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        port = f":{self.port}" if self.port and self.port != default else ""
        return f"{self.scheme}://{host}{port}"

    @property
    def api_root(self) -> str:
        return f"{self.origin}/API/v3"

    @property
    def token_url(self) -> str:
        return f"{self.origin}/oauth2/token"

    @property
    def is_loopback(self) -> bool:
        return is_loopback_host(self.host)

    @property
    def datacenter(self) -> str | None:
        """``fra1`` for ``acme.fra1.qualtrics.com`` or ``fra1.qualtrics.com``; None for other hosts."""
        if self.host.endswith("." + QUALTRICS_DOMAIN):
            labels = self.host[: -len(QUALTRICS_DOMAIN) - 1].split(".")
            return labels[-1] if labels else None
        return None

    def same_origin(self, scheme: str, host: str, port: int | None) -> bool:
        default = 443 if scheme == "https" else 80
        mine = self.port or (443 if self.scheme == "https" else 80)
        return scheme == self.scheme and host == self.host and (port or default) == mine

    def __str__(self) -> str:
        return self.origin


def is_loopback_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_base_url(value: str) -> BaseURL:
    """Turn what a user types as "Endpoint Base URL" into a :class:`BaseURL`.

    Accepted: a datacenter id (``fra1``), an org + datacenter pair (``acme.fra1``), a Qualtrics
    host (``acme.fra1.qualtrics.com``) or a full URL (``https://acme.fra1.qualtrics.com``, with or
    without a trailing ``/`` or ``/API/v3``). Plain ``http://`` is refused unless the host is
    loopback (test servers).
    """
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            "no Qualtrics base URL configured",
            hint="set QUALTRICS_BASE_URL to your Endpoint Base URL, e.g. 'fra1' or 'https://acme.fra1.qualtrics.com'",
        )
    raw = value.strip()
    if "://" not in raw:
        lowered = raw.lower().rstrip("/")
        if "/" in lowered or ":" in lowered:
            raise ConfigError(
                f"cannot read Qualtrics base URL {raw!r}",
                hint="give a datacenter id ('fra1'), a host ('acme.fra1.qualtrics.com') or a full URL with scheme",
            )
        labels = lowered.split(".")
        if not all(_HOST_LABEL_RE.match(label) for label in labels):
            raise ConfigError(f"cannot read Qualtrics base URL {raw!r}: not a host name")
        if lowered.endswith("." + QUALTRICS_DOMAIN) or lowered == QUALTRICS_DOMAIN:
            host = lowered
        elif len(labels) <= 2:  # "fra1" or "acme.fra1"
            if not _DC_RE.match(labels[-1]):
                raise ConfigError(f"cannot read Qualtrics datacenter id in {raw!r}")
            host = f"{lowered}.{QUALTRICS_DOMAIN}"
        else:
            raise ConfigError(
                f"host {raw!r} is not a qualtrics.com host",
                hint="give a full URL (https://...) for a non-Qualtrics host such as a proxy",
            )
        return BaseURL("https", host, None)

    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ConfigError(f"unsupported scheme in Qualtrics base URL {raw!r}")
    if parts.username or parts.password:
        raise ConfigError("the Qualtrics base URL must not contain user:password@")
    if parts.query or parts.fragment:
        raise ConfigError(f"the Qualtrics base URL must not contain a query or fragment: {raw!r}")
    host = (parts.hostname or "").lower()
    if not host:
        raise ConfigError(f"no host in Qualtrics base URL {raw!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"bad port in Qualtrics base URL {raw!r}") from exc
    path = parts.path.rstrip("/")
    if path.lower() not in ("", "/api/v3"):
        raise ConfigError(
            f"unexpected path {parts.path!r} in Qualtrics base URL",
            hint="give only the host part, e.g. https://acme.fra1.qualtrics.com",
        )
    if scheme == "http" and not is_loopback_host(host):
        raise InsecureURLError(f"refusing plain http:// to non-loopback host {host!r}")
    return BaseURL(scheme, host, port)


# --------------------------------------------------------------------------------------------
# ids that go into URL paths
# --------------------------------------------------------------------------------------------

_SURVEY_ID_RE = re.compile(r"^SV_[A-Za-z0-9]{1,64}$")
_SAFE_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,127}$")


def validate_survey_id(survey_id: Any) -> str:
    """Return ``survey_id`` if it is ``SV_`` + alphanumerics, else raise :class:`InvalidIdError`.

    The one check for every survey id: it becomes a URL path segment, a partition key and a
    SQL literal, so a bad one must fail here, loudly, before any of those.
    """
    if not isinstance(survey_id, str) or not _SURVEY_ID_RE.fullmatch(survey_id):
        raise InvalidIdError(
            f"{survey_id!r} is not a Qualtrics survey id (expected SV_ followed by letters and digits)",
            hint="copy it from the survey's URL or Account Settings > Qualtrics IDs, e.g. SV_3gbwq8aJgqPwQDP",
        )
    return survey_id


def validate_id(value: Any, kind: str, prefix: str | None = None) -> str:
    """Validate an id from a user or a server payload before it is put in a URL path."""
    if not isinstance(value, str) or not _SAFE_ID_RE.fullmatch(value) or (prefix and not value.startswith(prefix)):
        raise InvalidIdError(f"invalid {kind} {value!r}")
    return value
