"""Dagster-free Qualtrics API v3 client used by every ``qualtrics_assets`` asset.

Public API::

    from qualtrics_assets.qualtrics import QualtricsClient, ClientSettings, QualtricsError

See :class:`QualtricsClient` for the calls and :mod:`.errors` for the exception family.
"""

from .auth import clear_token_cache
from .client import ENV_API_TOKEN, ENV_BASE_URL, ENV_CLIENT_ID, ENV_CLIENT_SECRET, QualtricsClient
from .config import DEFAULT_SCOPES, BaseURL, ClientSettings, normalize_base_url, validate_survey_id
from .errors import (
    AmbiguousRequestError,
    AuthError,
    ConfigError,
    ExportDownloadError,
    ExportError,
    ExportFailedError,
    ExportTimeoutError,
    ExportTooLargeError,
    ForeignHostError,
    InsecureURLError,
    InvalidClientError,
    InvalidIdError,
    NotFoundError,
    PaginationLoopError,
    QualtricsError,
    RateLimitError,
    RequestError,
    ResponseFormatError,
    RetryBudgetExceededError,
    ScopeError,
    ServerError,
    TransportError,
    WrongDatacenterError,
    redact,
)
from .exports import ExportPart, ResponseExport, date_windows, format_export_date
from .stats import ClientStats

__all__ = [
    "QualtricsClient", "ClientSettings", "ClientStats", "ResponseExport", "ExportPart", "BaseURL",
    "DEFAULT_SCOPES", "ENV_BASE_URL", "ENV_CLIENT_ID", "ENV_CLIENT_SECRET", "ENV_API_TOKEN",
    "normalize_base_url", "validate_survey_id", "date_windows", "format_export_date", "clear_token_cache", "redact",
    "QualtricsError", "ConfigError", "InsecureURLError", "InvalidIdError", "AuthError", "InvalidClientError",
    "WrongDatacenterError", "ScopeError", "NotFoundError", "RequestError", "RetryBudgetExceededError",
    "RateLimitError", "ServerError", "TransportError", "AmbiguousRequestError", "ForeignHostError",
    "PaginationLoopError", "ResponseFormatError", "ExportError", "ExportFailedError", "ExportTimeoutError",
    "ExportDownloadError", "ExportTooLargeError",
]
