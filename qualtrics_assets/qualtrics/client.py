"""``QualtricsClient``: the Dagster-free Qualtrics v3 client (usable from a notebook).

Example::

    from qualtrics_assets.qualtrics import QualtricsClient

    with QualtricsClient("fra1", client_id="...", client_secret="...") as client:
        print(client.whoami()["userName"])
        for survey in client.iter_surveys():
            ...
        with client.export_responses("SV_abc123") as export:
            for record in export.records():
                ...
        print(client.stats.as_dict())
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from .auth import ApiTokenAuth, Auth, OAuthClientCredentials
from .config import ClientSettings, normalize_base_url, validate_id, validate_survey_id
from .errors import ConfigError, PaginationLoopError, ResponseFormatError
from .exports import ResponseExport, date_windows
from .http import Transport
from .stats import ClientStats

__all__ = ["QualtricsClient", "ENV_BASE_URL", "ENV_CLIENT_ID", "ENV_CLIENT_SECRET", "ENV_API_TOKEN"]

logger = logging.getLogger("qualtrics_assets.qualtrics")

ENV_BASE_URL = "QUALTRICS_BASE_URL"
ENV_CLIENT_ID = "QUALTRICS_CLIENT_ID"
ENV_CLIENT_SECRET = "QUALTRICS_CLIENT_SECRET"
ENV_API_TOKEN = "QUALTRICS_API_TOKEN"


class QualtricsClient:
    """Qualtrics REST API v3 client: auth, retries, paging and streamed response exports.

    Args:
        base_url: the Endpoint Base URL: a datacenter id (``"fra1"``), a host
            (``"acme.fra1.qualtrics.com"``) or a full URL (``"https://acme.fra1.qualtrics.com"``;
            ``http://`` only for loopback test servers).
        client_id: OAuth client id (client-credentials grant).
        client_secret: OAuth client secret.
        api_token: legacy per-user API token, used when no OAuth client is given.
        settings: a :class:`ClientSettings`; keyword arguments override single fields of it
            (``max_attempts=3``, ``read_timeout_s=5``...).

    The client is thread-safe for concurrent calls; one per process is the intended use
    (OAuth tokens are shared per process anyway).
    """

    def __init__(self, base_url: str, client_id: str | None = None, client_secret: str | None = None,
                 api_token: str | None = None, *, settings: ClientSettings | None = None,
                 **setting_overrides: Any) -> None:
        self.settings = (settings or ClientSettings()).replace(**setting_overrides) if setting_overrides \
            else (settings or ClientSettings())
        self.base = normalize_base_url(base_url)
        client_id = (client_id or "").strip() or None
        client_secret = client_secret or None
        api_token = (api_token or "").strip() or None
        auth: Auth
        if client_id and client_secret:
            if api_token:
                logger.info("both an OAuth client and an API token are configured; using OAuth")
            auth = OAuthClientCredentials(self.base.token_url, client_id, client_secret, self.settings.scopes,
                                          self.settings.token_refresh_margin_s)
        elif api_token:
            auth = ApiTokenAuth(api_token)
        elif client_id or client_secret:
            missing = ENV_CLIENT_SECRET if client_id else ENV_CLIENT_ID
            raise ConfigError(f"incomplete OAuth client: {missing} is missing",
                              hint=f"set both {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET}, or {ENV_API_TOKEN}")
        else:
            raise ConfigError("no Qualtrics credentials configured",
                              hint=f"set {ENV_CLIENT_ID} and {ENV_CLIENT_SECRET} (OAuth client credentials), "
                                   f"or {ENV_API_TOKEN}")
        self.stats = ClientStats()
        self._transport = Transport(self.base, self.settings, auth, self.stats)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> "QualtricsClient":
        """Build a client from QUALTRICS_BASE_URL, QUALTRICS_CLIENT_ID/SECRET or QUALTRICS_API_TOKEN."""
        env = os.environ if environ is None else environ
        return cls(env.get(ENV_BASE_URL, ""), client_id=env.get(ENV_CLIENT_ID), client_secret=env.get(ENV_CLIENT_SECRET),
                   api_token=env.get(ENV_API_TOKEN), **kwargs)

    # -- basics ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The normalised origin, e.g. ``https://acme.fra1.qualtrics.com``."""
        return self.base.origin

    @property
    def auth_kind(self) -> str:
        """``"oauth"`` or ``"api_token"``."""
        return self._transport.auth.kind

    @property
    def proxied_host(self) -> str | None:
        """The datacenter host Qualtrics named in a "Request proxied" notice, if any was seen."""
        return self._transport.proxied_host

    def close(self) -> None:
        """Close the HTTP session (idempotent)."""
        self._transport.close()

    def __enter__(self) -> "QualtricsClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"QualtricsClient(base_url={self.base_url!r}, auth={self.auth_kind!r})"

    # -- generic access -------------------------------------------------------------------------

    def get(self, path: str, *, route: str = "get", params: Mapping[str, Any] | None = None,
            survey_id: str | None = None) -> dict:
        """GET ``/API/v3/{path}`` and return its ``result`` object."""
        body = self._transport.request_json("GET", self._transport.api_url(path), route=route, params=params,
                                            survey_id=survey_id)
        result = body.get("result")
        if not isinstance(result, Mapping):
            raise ResponseFormatError(f"Qualtrics answered {route} without a result object", route=route,
                                      survey_id=survey_id, request_id=(body.get("meta") or {}).get("requestId"))
        return dict(result)

    def post(self, path: str, json_body: Any = None, *, route: str = "post", survey_id: str | None = None,
             idempotent: bool = False) -> dict:
        """POST ``/API/v3/{path}`` and return the whole envelope.

        A POST is retried only when Qualtrics provably did not execute it (connection refused,
        429, 503). After an ambiguous failure (timeout, dropped connection, 500/502/504) it raises
        :class:`AmbiguousRequestError` / :class:`ServerError` instead of repeating, unless the
        caller declares the call ``idempotent=True``.
        """
        return self._transport.request_json("POST", self._transport.api_url(path), route=route,
                                            survey_id=survey_id, json_body=json_body, retry_ambiguous=idempotent)

    def iter_elements(self, path: str, *, route: str, params: Mapping[str, Any] | None = None,
                      survey_id: str | None = None) -> Iterator[dict]:
        """Yield ``result.elements`` of a list endpoint, following ``nextPage`` exactly as given.

        ``nextPage`` may change host only to another https ``*.qualtrics.com`` host (proxying);
        anything else raises :class:`ForeignHostError` before a request is sent. A ``nextPage``
        seen before raises :class:`PaginationLoopError`.
        """
        t = self._transport
        url = t.api_url(path)
        if params:
            url = f"{url}?{urlencode(params, doseq=True)}"
        seen: set[str] = {url}
        pages = 0
        while True:
            body = t.request_json("GET", url, route=route, survey_id=survey_id)
            pages += 1
            self.stats.add(pages=1)
            result = body.get("result")
            elements = result.get("elements") if isinstance(result, Mapping) else None
            if not isinstance(elements, list):
                raise ResponseFormatError(f"Qualtrics answered {route} without result.elements", route=route,
                                          survey_id=survey_id, request_id=(body.get("meta") or {}).get("requestId"))
            yield from elements
            next_page = result.get("nextPage")
            if not next_page:
                return
            if not isinstance(next_page, str):
                raise ResponseFormatError(f"{route}: nextPage is not a URL string", route=route, survey_id=survey_id)
            if next_page in seen:
                raise PaginationLoopError(
                    f"{route}: Qualtrics returned a nextPage already fetched ({pages} pages in); stopping to avoid a "
                    "loop", route=route, survey_id=survey_id,
                    hint="retry later; if it persists, report it to Qualtrics support")
            if pages >= self.settings.max_pages:
                raise PaginationLoopError(f"{route}: more than max_pages={self.settings.max_pages} pages",
                                          route=route, survey_id=survey_id)
            t.check_url(next_page, route=route, survey_id=survey_id)
            seen.add(next_page)
            url = next_page

    # -- endpoints ------------------------------------------------------------------------------

    def whoami(self) -> dict:
        """``GET /whoami``: the user behind the credentials (a cheap connection test)."""
        return self.get("whoami", route="whoami")

    def iter_users(self) -> Iterator[dict]:
        """Yield every user of the brand (``GET /users``; needs ``read:users`` / Brand Administrator)."""
        return self.iter_elements("users", route="users")

    def get_user(self, user_id: str) -> dict:
        """``GET /users/{userId}``."""
        return self.get(f"users/{validate_id(user_id, 'user id', 'UR_')}", route="user")

    def iter_surveys(self) -> Iterator[dict]:
        """Yield every survey visible to the credentials (``GET /surveys``)."""
        return self.iter_elements("surveys", route="surveys")

    def get_survey(self, survey_id: str) -> dict:
        """Legacy ``GET /surveys/{surveyId}`` (questions, exportColumnMap, responseCounts...)."""
        sid = validate_survey_id(survey_id)
        return self.get(f"surveys/{sid}", route="survey", survey_id=sid)

    def get_survey_definition(self, survey_id: str, *, format: str | None = None) -> dict:
        """``GET /survey-definitions/{surveyId}`` (``format="qsf"`` for the QSF document)."""
        sid = validate_survey_id(survey_id)
        if format not in (None, "qsf"):
            raise ConfigError("survey definition format must be None or 'qsf'")
        return self.get(f"survey-definitions/{sid}", route="definition", survey_id=sid,
                        params={"format": format} if format else None)

    def iter_survey_questions(self, survey_id: str) -> Iterator[dict]:
        """Yield ``GET /survey-definitions/{surveyId}/questions`` elements."""
        sid = validate_survey_id(survey_id)
        return self.iter_elements(f"survey-definitions/{sid}/questions", route="questions", survey_id=sid)

    def get_survey_metadata(self, survey_id: str) -> dict:
        """``GET /survey-definitions/{surveyId}/metadata``."""
        sid = validate_survey_id(survey_id)
        return self.get(f"survey-definitions/{sid}/metadata", route="metadata", survey_id=sid)

    # -- exports --------------------------------------------------------------------------------

    def export_responses(self, survey_id: str, start_date: datetime | str | None = None,
                         end_date: datetime | str | None = None, continuation_token: str | None = None,
                         allow_continuation: bool = False, in_progress: bool = False,
                         sort_by_last_modified: bool = False, *, format: str = "ndjson", compress: bool = True,
                         limit: int | None = None, options: Mapping[str, Any] | None = None,
                         split_on_size: bool = True, extract: bool = False) -> ResponseExport:
        """Prepare a response export; use the result as a context manager.

        ``start_date`` is inclusive and ``end_date`` exclusive (recordedDate, or last-modified date
        with ``sort_by_last_modified``). ``continuation_token`` (from a previous export's
        ``export.continuation_token``) returns only responses since; ``allow_continuation`` asks
        for a token for next time. ``in_progress`` exports unfinished sessions (``FS_`` ids).
        ``options`` adds raw export-body fields (``questionIds``, ``embeddedDataIds``...).
        ``extract`` inflates the archive to plain files (see ``ResponseExport.record_files``).
        """
        return ResponseExport(self, survey_id, start_date=start_date, end_date=end_date,
                              continuation_token=continuation_token, allow_continuation=allow_continuation,
                              in_progress=in_progress, sort_by_last_modified=sort_by_last_modified, format=format,
                              compress=compress, limit=limit, options=options, split_on_size=split_on_size,
                              extract=extract)

    def iter_responses(self, survey_id: str, start_date: datetime | str | None = None,
                       end_date: datetime | str | None = None, *, window: timedelta | None = None,
                       **kwargs: Any) -> Iterator[dict]:
        """Yield every response of a survey; with ``window``, one export per ``[start, end)`` window."""
        if window is None:
            with self.export_responses(survey_id, start_date, end_date, **kwargs) as export:
                yield from export.records()
            return
        if start_date is None or end_date is None:
            raise ConfigError("iter_responses(window=...) needs start_date and end_date")
        for lo, hi in date_windows(start_date, end_date, window):
            with self.export_responses(survey_id, lo, hi, **kwargs) as export:
                yield from export.records()
