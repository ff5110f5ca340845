"""``QualtricsResource``: Dagster configuration and lifecycle around :class:`QualtricsClient`.

All Qualtrics logic lives in the Dagster-free :mod:`qualtrics_assets.qualtrics`; this module
only declares the config fields (shown in the launchpad), resolves them from environment
variables with ``dg.EnvVar`` and keeps one client per process (Dagster initialises resources in
every step process; the client and its OAuth token are reused within the process and the HTTP
session is closed at teardown).

Secret fields (``client_secret``, ``api_token``) are excluded from ``repr``; wire them with
``dg.EnvVar`` (as :meth:`QualtricsResource.from_env` does) so run configs store only the variable
names, never the values.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Optional

import dagster as dg
from pydantic import Field, PrivateAttr

from .qualtrics import (
    ENV_API_TOKEN,
    ENV_BASE_URL,
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ClientSettings,
    QualtricsClient,
)

__all__ = ["QualtricsResource"]

_D = ClientSettings()

#: Resource fields copied one-to-one into :class:`ClientSettings`.
_SETTING_FIELDS = (
    "connect_timeout_s", "read_timeout_s", "max_attempts", "max_total_wait_s", "backoff_initial_s",
    "backoff_max_s", "requests_per_second", "burst", "export_requests_per_minute", "poll_initial_s",
    "poll_max_s", "export_timeout_s", "export_restarts", "download_attempts", "strict_datacenter",
)


class QualtricsResource(dg.ConfigurableResource):
    """Qualtrics API v3 access for assets and sensors (OAuth client credentials or API token).

    Use ``qualtrics.get_client()`` inside an asset to get the process-wide
    :class:`~qualtrics_assets.qualtrics.QualtricsClient`.

    Examples:
        .. code-block:: python

            defs = dg.Definitions(assets=[...], resources={"qualtrics": QualtricsResource.from_env()})

            @dg.asset
            def surveys(qualtrics: QualtricsResource):
                return list(qualtrics.get_client().iter_surveys())
    """

    base_url: str = Field(
        description=(
            "Qualtrics Endpoint Base URL: a datacenter id ('fra1'), your organization host "
            "('acme.fra1.qualtrics.com') or a full URL ('https://acme.fra1.qualtrics.com'). "
            "Shown in Qualtrics under Account Settings > Qualtrics IDs. Env: QUALTRICS_BASE_URL."
        )
    )
    client_id: Optional[str] = Field(
        default=None,
        description="OAuth client id (grant type Client Credentials, scopes read:surveys read:survey_responses "
                    "read:users). Env: QUALTRICS_CLIENT_ID.",
    )
    client_secret: Optional[str] = Field(
        default=None, repr=False,
        description="OAuth client secret; never logged. Env: QUALTRICS_CLIENT_SECRET.",
    )
    api_token: Optional[str] = Field(
        default=None, repr=False,
        description="Legacy per-user API token (X-API-TOKEN), used only when no OAuth client is configured; "
                    "never logged. Env: QUALTRICS_API_TOKEN.",
    )
    connect_timeout_s: float = Field(default=_D.connect_timeout_s, description="TCP connect timeout per request (s).")
    read_timeout_s: float = Field(
        default=_D.read_timeout_s, description="Read timeout per request, also between chunks of a download (s).")
    max_attempts: int = Field(
        default=_D.max_attempts,
        description="Retry budget: most requests sent for one call (first try included) on 429/5xx/connection errors.")
    max_total_wait_s: float = Field(
        default=_D.max_total_wait_s,
        description="Retry budget: most seconds slept in backoff/Retry-After for one call; a longer Retry-After fails fast.")
    backoff_initial_s: float = Field(
        default=_D.backoff_initial_s, description="First retry delay (s); doubles per retry, with jitter.")
    backoff_max_s: float = Field(default=_D.backoff_max_s, description="Cap of one exponential backoff delay (s).")
    requests_per_second: float = Field(
        default=_D.requests_per_second,
        description="Request-rate budget of this process towards Qualtrics (the brand allows ~50/s in total).")
    burst: int = Field(default=_D.burst, description="Requests allowed back-to-back before the rate limit applies.")
    export_requests_per_minute: float = Field(
        default=_D.export_requests_per_minute,
        description="Rate budget for export starts and file downloads (Qualtrics allows 100/min each).")
    poll_initial_s: float = Field(
        default=_D.poll_initial_s, description="First delay between export progress polls (s); grows x1.5.")
    poll_max_s: float = Field(default=_D.poll_max_s, description="Longest delay between export progress polls (s).")
    export_timeout_s: float = Field(
        default=_D.export_timeout_s, description="Give up on an export not complete after this many seconds.")
    export_restarts: int = Field(
        default=_D.export_restarts, description="Times a failed export is started afresh before the run fails.")
    download_attempts: int = Field(
        default=_D.download_attempts, description="Times a truncated or corrupt export file is downloaded again.")
    strict_datacenter: bool = Field(
        default=_D.strict_datacenter,
        description="Fail (instead of warning) when Qualtrics proxies calls to another datacenter.")

    _client: Optional[QualtricsClient] = PrivateAttr(default=None)
    _client_pid: Optional[int] = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def from_env(cls, **overrides: Any) -> "QualtricsResource":
        """A resource reading QUALTRICS_BASE_URL, QUALTRICS_CLIENT_ID/SECRET and QUALTRICS_API_TOKEN.

        Values are wired as ``dg.EnvVar`` (resolved at launch, never stored in run config). The
        token variable is wired only if it is set when definitions load, and the OAuth pair
        unless only a token is set — so a missing variable fails the run with its name.
        """
        kwargs: dict[str, Any] = {"base_url": dg.EnvVar(ENV_BASE_URL)}
        has_token = bool(os.environ.get(ENV_API_TOKEN))
        has_oauth = bool(os.environ.get(ENV_CLIENT_ID) or os.environ.get(ENV_CLIENT_SECRET))
        if has_oauth or not has_token:
            kwargs["client_id"] = dg.EnvVar(ENV_CLIENT_ID)
            kwargs["client_secret"] = dg.EnvVar(ENV_CLIENT_SECRET)
        if has_token:
            kwargs["api_token"] = dg.EnvVar(ENV_API_TOKEN)
        kwargs.update(overrides)
        return cls(**kwargs)

    def client_settings(self) -> ClientSettings:
        """The :class:`ClientSettings` these config values describe."""
        return ClientSettings().replace(**{name: getattr(self, name) for name in _SETTING_FIELDS})

    def _value(self, name: str) -> Any:
        value = getattr(self, name)
        if isinstance(value, dg.EnvVar):  # used outside a run (notebook, tests): resolve now
            value = value.get_value()
        return value

    # -- the client -----------------------------------------------------------------------------

    def get_client(self) -> QualtricsClient:
        """The process-wide client (created on first use; recreated in a forked child process)."""
        with self._lock:
            pid = os.getpid()
            if self._client is None or self._client_pid != pid:
                self._client = QualtricsClient(
                    self._value("base_url"), client_id=self._value("client_id"),
                    client_secret=self._value("client_secret"), api_token=self._value("api_token"),
                    settings=self.client_settings(),
                )
                self._client_pid = pid
            return self._client

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        client = self.get_client()  # validates the configuration early; no network call yet
        if context.log is not None:
            context.log.debug(f"Qualtrics client ready for {client.base_url} (auth: {client.auth_kind})")

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None and self._client_pid == os.getpid():
            client.close()
