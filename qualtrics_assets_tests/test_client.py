"""QualtricsClient against the sandbox over real HTTP: base URLs, auth, paging, error mapping.

Nothing of our own code is mocked: every test talks HTTP to `qualtrics_assets_tests.sandbox`
on loopback (the pagination-loop case, which the sandbox cannot produce, uses a ten-line
loopback server of its own). Backoff values are tiny so budgets are asserted by counts.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from qualtrics_assets.qualtrics import (
    AuthError,
    ConfigError,
    ForeignHostError,
    InsecureURLError,
    InvalidClientError,
    InvalidIdError,
    NotFoundError,
    PaginationLoopError,
    QualtricsClient,
    QualtricsError,
    ScopeError,
    WrongDatacenterError,
    clear_token_cache,
    normalize_base_url,
)
from qualtrics_assets_tests.sandbox import Sandbox

# ############################################################################################
# helpers shared by the test_client*.py modules
# ############################################################################################

#: Settings that keep tests fast: budgets are asserted by counts, never by wall time.
FAST = dict(
    backoff_initial_s=0.002, backoff_max_s=0.01, max_total_wait_s=5.0, max_attempts=6,
    poll_initial_s=0.005, poll_max_s=0.02, connect_timeout_s=2.0, read_timeout_s=5.0,
    requests_per_second=5000.0, burst=1000, export_requests_per_minute=600_000.0,
)


def make_client(sb: Sandbox, *, token: bool = False, **overrides) -> QualtricsClient:
    settings = {**FAST, **overrides}
    if token:
        return QualtricsClient(sb.base_url, api_token=sb.api_token, **settings)
    return QualtricsClient(sb.base_url, client_id=sb.client_id, client_secret=sb.client_secret, **settings)


def route_log(sb: Sandbox, route: str | None = None, since: int = 0) -> list:
    return [r for r in list(sb.requests)[since:] if route is None or r.route == route]


def statuses(sb: Sandbox, route: str, since: int = 0) -> Counter:
    return Counter(r.status for r in route_log(sb, route, since))


@pytest.fixture(autouse=True)
def _fresh_tokens():
    clear_token_cache()
    yield
    clear_token_cache()


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=7, surveys=5, responses=40, page_size=2, users=7) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def _no_faults(request):
    yield
    if "sb" in request.fixturenames:
        request.getfixturevalue("sb").faults.clear()


# ############################################################################################
# base URL and ids
# ############################################################################################


@pytest.mark.parametrize(
    ("given", "origin"),
    [
        ("fra1", "https://fra1.qualtrics.com"),
        ("acme.fra1", "https://acme.fra1.qualtrics.com"),
        ("acme.fra1.qualtrics.com", "https://acme.fra1.qualtrics.com"),
        ("  https://acme.fra1.qualtrics.com/ ", "https://acme.fra1.qualtrics.com"),
        ("https://acme.fra1.qualtrics.com/API/v3", "https://acme.fra1.qualtrics.com"),
        ("https://ACME.FRA1.qualtrics.com:443", "https://acme.fra1.qualtrics.com"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("http://localhost:9000/", "http://localhost:9000"),
        ("https://qualtrics-proxy.corp.example", "https://qualtrics-proxy.corp.example"),
    ],
)
def test_base_url_forms(given, origin):
    base = normalize_base_url(given)
    assert base.origin == origin
    assert base.token_url == origin + "/oauth2/token"
    assert base.api_root == origin + "/API/v3"


@pytest.mark.parametrize("given", ["http://fra1.qualtrics.com", "http://10.0.0.5:8080", "http://acme.example.com"])
def test_plain_http_refused_unless_loopback(given):
    with pytest.raises(InsecureURLError, match="http"):
        normalize_base_url(given)


@pytest.mark.parametrize("given", ["", "ftp://fra1.qualtrics.com", "https://fra1.qualtrics.com/other",
                                   "https://u:p@fra1.qualtrics.com", "evil.example.com", "fra1/../x"])
def test_bad_base_urls(given):
    with pytest.raises(ConfigError):
        normalize_base_url(given)


def test_datacenter_of_base():
    assert normalize_base_url("acme.fra1.qualtrics.com").datacenter == "fra1"
    assert normalize_base_url("fra1").datacenter == "fra1"
    assert normalize_base_url("http://127.0.0.1:1").datacenter is None


@pytest.mark.parametrize("bad", ["", "sv_abc", "SV_", "SV_a/b", "SV_../../users", "SV_abc?x=1", "SV_ab c", None, 42])
def test_survey_ids_validated_before_any_request(sb, bad):
    client = make_client(sb)
    before = len(sb.requests)
    with pytest.raises(InvalidIdError):
        client.get_survey(bad)
    with pytest.raises(InvalidIdError):
        client.export_responses(bad)
    with pytest.raises(InvalidIdError):
        client.get_survey_definition(bad)
    assert len(sb.requests) == before


def test_credentials_required():
    with pytest.raises(ConfigError, match="QUALTRICS_CLIENT_ID"):
        QualtricsClient("fra1")
    with pytest.raises(ConfigError, match="QUALTRICS_CLIENT_SECRET"):
        QualtricsClient("fra1", client_id="abc")


# ############################################################################################
# auth
# ############################################################################################


def test_oauth_client_credentials(sb):
    start = len(sb.requests)
    client = make_client(sb)
    me = client.whoami()
    assert me["userId"].startswith("UR_")
    assert client.auth_kind == "oauth"
    token_calls = route_log(sb, "token", start)
    assert [(r.status, r.auth) for r in token_calls] == [(200, "basic")]
    assert route_log(sb, "whoami", start)[0].auth == "bearer"
    client.close()


def test_api_token_auth(sb):
    start = len(sb.requests)
    client = make_client(sb, token=True)
    assert client.auth_kind == "api_token"
    users = list(client.iter_users())
    assert len(users) == 7
    assert not route_log(sb, "token", start)
    assert {r.auth for r in route_log(sb, None, start)} == {"api_token"}


def test_one_token_per_process(sb):
    start = len(sb.requests)
    a, b = make_client(sb), make_client(sb)
    a.whoami()
    b.whoami()
    list(a.iter_surveys())
    assert len(route_log(sb, "token", start)) == 1


def test_token_renewed_before_expiry():
    with Sandbox(seed=3, surveys=1, responses=1, token_lifetime=1.0) as sb:
        client = make_client(sb)
        client.whoami()
        import time

        time.sleep(0.9)  # refresh margin is min(60 s, 20% of 1 s) = 0.2 s
        client.whoami()
        assert statuses(sb, "token") == Counter({200: 2})
        assert 401 not in statuses(sb, "whoami")
        assert client.stats.auth_renewals == 0


def test_token_expiring_mid_run_is_renewed_without_the_run_noticing(sb):
    start = len(sb.requests)
    client = make_client(sb)
    client.whoami()
    sb.faults.add("users", "expire_token", times=1)
    users = list(client.iter_users())
    assert [u["id"] for u in users] == [row["user_id"] for row in sb.account.ground_truth_users()]
    assert statuses(sb, "users", start)[401] == 1
    assert statuses(sb, "token", start) == Counter({200: 2})
    assert client.stats.auth_renewals == 1


def test_invalid_client_says_check_id_and_secret(sb):
    client = QualtricsClient(sb.base_url, client_id=sb.client_id, client_secret="not-the-secret-123", **FAST)
    with pytest.raises(InvalidClientError) as info:
        client.whoami()
    err = info.value
    assert err.status == 401 and err.error_code == "invalid_client"
    assert "QUALTRICS_CLIENT_ID" in str(err) and "QUALTRICS_CLIENT_SECRET" in str(err)
    assert "not-the-secret-123" not in str(err) and "not-the-secret-123" not in repr(err)


def test_bad_api_token(sb):
    client = QualtricsClient(sb.base_url, api_token="0" * 40, **FAST)
    with pytest.raises(AuthError) as info:
        client.whoami()
    assert info.value.status == 401 and info.value.error_code == "DCD_7"
    assert "0" * 40 not in str(info.value)


def test_missing_scope_names_the_scope(caplog):
    with Sandbox(seed=4, surveys=1, responses=1, client_scopes=("read:surveys", "read:survey_responses")) as sb:
        client = make_client(sb)
        with caplog.at_level(logging.WARNING, logger="qualtrics_assets.qualtrics"):
            list(client.iter_surveys())  # allowed
        assert "read:users" in caplog.text  # warned when the token came back without it
        with pytest.raises(ScopeError) as info:
            list(client.iter_users())
        err = info.value
        assert err.status == 403 and err.scope == "read:users"
        assert "read:users" in str(err) and "OAuth Client Manager" in str(err)


def test_wrong_datacenter_oauth_names_the_right_host():
    with Sandbox(seed=5, surveys=1, responses=1) as sb:
        sb.set_wrong_datacenter("fra1.qualtrics.com")
        client = make_client(sb)
        with pytest.raises(WrongDatacenterError) as info:
            client.whoami()
        err = info.value
        assert err.right_host == "fra1.qualtrics.com"
        assert "QUALTRICS_BASE_URL=https://fra1.qualtrics.com" in str(err)
        assert err.status == 401 and err.error_code == "DCD_7" and err.request_id
        # renewing the token cannot help when Qualtrics names another host: exactly one token, one call
        assert len(route_log(sb, "token")) == 1 and len(route_log(sb, "whoami")) == 1


def test_wrong_datacenter_api_token_is_proxied_warns_and_never_leaves(caplog):
    with Sandbox(seed=5, surveys=1, responses=1, page_size=2, users=5) as sb:
        sb.set_wrong_datacenter("fra1.qualtrics.com")
        client = make_client(sb, token=True)
        with caplog.at_level(logging.WARNING, logger="qualtrics_assets.qualtrics"):
            assert client.whoami()["userId"]
        assert client.proxied_host == "fra1.qualtrics.com"
        assert "QUALTRICS_BASE_URL=https://fra1.qualtrics.com" in caplog.text
        # nextPage is rewritten to the real datacenter: a loopback base URL never sends credentials there
        with pytest.raises(WrongDatacenterError, match="fra1.qualtrics.com") as info:
            list(client.iter_users())
        assert info.value.right_host == "fra1.qualtrics.com"
        assert len(route_log(sb, "users")) == 1
        strict = make_client(sb, token=True, strict_datacenter=True)
        with pytest.raises(WrongDatacenterError, match="fra1.qualtrics.com"):
            strict.whoami()


# ############################################################################################
# paging
# ############################################################################################


def test_users_and_surveys_follow_next_page_completely(sb):
    start = len(sb.requests)
    client = make_client(sb)
    users = list(client.iter_users())
    assert [u["id"] for u in users] == [row["user_id"] for row in sb.account.ground_truth_users()]
    surveys = list(client.iter_surveys())
    assert [s["id"] for s in surveys] == sb.survey_ids
    assert len(route_log(sb, "users", start)) == 4  # 7 users, pages of 2
    assert len(route_log(sb, "surveys", start)) == 3  # 5 surveys, pages of 2, last one short


def test_foreign_next_page_is_refused_without_sending_anything():
    with Sandbox(seed=8, surveys=3, responses=1, page_size=2) as sb, Sandbox(seed=9, surveys=1, responses=1) as other:
        sb.faults.add("users", "foreign_next_page", times=1, base_url=other.base_url)
        client = make_client(sb)
        got = []
        with pytest.raises(ForeignHostError) as info:
            for user in client.iter_users():
                got.append(user)
        assert len(got) == 2  # the first page was fine
        assert info.value.url_host == "127.0.0.1" and "refusing" in str(info.value)
        assert len(other.requests) == 0  # no credentials (nor anything else) went to the other host
        sb.faults.clear()
        sb.faults.add("surveys", "foreign_next_page", times=1)  # https://foreign.example.com
        with pytest.raises(ForeignHostError, match="foreign.example.com"):
            list(client.iter_surveys())


class _LoopHandler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        port = self.server.server_address[1]
        body = json.dumps({"result": {"elements": [{"id": "UR_1"}],
                                      "nextPage": f"http://127.0.0.1:{port}/API/v3/users?offset=1"},
                           "meta": {"httpStatus": "200 - OK", "requestId": "r"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_pagination_loop_detected():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LoopHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = QualtricsClient(f"http://127.0.0.1:{server.server_address[1]}", api_token="t" * 40, **FAST)
        with pytest.raises(PaginationLoopError):
            list(client.iter_users())
        assert client.stats.pages == 2
    finally:
        server.shutdown()
        server.server_close()


# ############################################################################################
# endpoints and errors
# ############################################################################################


def test_survey_endpoints(sb):
    client = make_client(sb)
    sid = sb.survey_ids[0]
    legacy = client.get_survey(sid)
    assert legacy["id"] == sid and set(legacy["responseCounts"]) == {"auditable", "generated", "deleted"}
    definition = client.get_survey_definition(sid)
    assert definition["SurveyID"] == sid and isinstance(definition["Questions"], dict)
    qsf = client.get_survey_definition(sid, format="qsf")
    assert "SurveyEntry" in qsf
    questions = list(client.iter_survey_questions(sid))
    assert questions and all("QuestionID" in q for q in questions)
    assert client.get_survey_metadata(sid)
    user_id = next(client.iter_users())["id"]
    assert client.get_user(user_id)["id"] == user_id


def test_not_found_carries_status_code_request_and_survey(sb):
    client = make_client(sb)
    with pytest.raises(NotFoundError) as info:
        client.get_survey("SV_doesNotExist1")
    err = info.value
    assert (err.status, err.error_code, err.survey_id) == (404, "GSI_2", "SV_doesNotExist1")
    assert err.request_id and err.request_id in str(err)
    assert isinstance(err, QualtricsError)
    meta = err.to_metadata()
    assert meta["survey_id"] == "SV_doesNotExist1" and meta["status"] == 404


def test_error_is_picklable(sb):
    import pickle

    client = make_client(sb)
    with pytest.raises(NotFoundError) as info:
        client.get_survey("SV_doesNotExist2")
    clone = pickle.loads(pickle.dumps(info.value))
    assert type(clone) is NotFoundError and str(clone) == str(info.value) and clone.request_id == info.value.request_id


def test_secrets_absent_from_repr_and_stats(sb):
    client = make_client(sb)
    client.whoami()
    text = repr(client) + repr(client._transport.auth) + json.dumps(client.stats.as_dict())
    assert sb.client_secret not in text
    token = make_client(sb, token=True)
    assert sb.api_token not in repr(token) + repr(token._transport.auth)
