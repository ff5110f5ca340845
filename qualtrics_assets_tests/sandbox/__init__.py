"""A local Qualtrics API v3 sandbox for tests: a seeded account served over real HTTP on loopback.

    with Sandbox(seed=7) as sb:
        requests.get(f"{sb.base_url}/API/v3/surveys", headers={"X-API-TOKEN": sb.api_token})
        sb.account.ground_truth(survey_id)   # what the warehouse must contain
        sb.faults.add("export_file", "truncate", times=1)

The default account has 5 surveys (every question type in each; sizes 100, 0, 37, 100, 5 for
responses=100), so at least one survey has zero responses. See README.md for the full API.
"""

from __future__ import annotations

from .account import Account
from .faults import Faults
from .server import ALL_SCOPES, RequestRecord, SandboxServer


def default_sizes(surveys: int, responses: int) -> list[int]:
    """Sizes for `surveys` surveys of about `responses` each; the second one is always empty."""
    pattern = [responses, 0, max(1, responses * 3 // 8), responses, max(1, responses // 20)]
    return [pattern[k % len(pattern)] for k in range(surveys)]


class Sandbox:
    """An account plus a running server. Use as a context manager (or call `close()`)."""

    def __init__(self, seed: int = 7, surveys: int = 5, responses: int = 100, *, survey_sizes: list[int] | None = None,
                 users: int = 6, page_size: int = 100, token_lifetime: float = 3600, export_polls: int = 3,
                 continuation_ttl: float = 7 * 86400, port: int = 0, client_scopes: tuple[str, ...] = ALL_SCOPES,
                 client_id: str | None = None, client_secret: str | None = None, api_token: str | None = None):
        sizes = list(survey_sizes) if survey_sizes is not None else default_sizes(surveys, responses)
        self.account = Account(seed, sizes, users)
        self.server = SandboxServer(
            self.account, seed=seed, port=port, page_size=page_size, token_lifetime=token_lifetime,
            export_polls=export_polls, continuation_ttl=continuation_ttl, client_scopes=client_scopes,
            client_id=client_id, client_secret=client_secret, api_token=api_token).start()

    base_url = property(lambda self: self.server.base_url)
    client_id = property(lambda self: self.server.client_id)
    client_secret = property(lambda self: self.server.client_secret)
    api_token = property(lambda self: self.server.api_token)
    faults = property(lambda self: self.server.faults)
    requests = property(lambda self: self.server.requests)

    @property
    def survey_ids(self) -> list[str]:
        return list(self.account.surveys)

    def set_wrong_datacenter(self, host: str | None) -> None:
        self.server.set_wrong_datacenter(host)

    def close(self) -> None:
        self.server.stop()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["Sandbox", "SandboxServer", "Account", "Faults", "RequestRecord", "ALL_SCOPES", "default_sizes"]
