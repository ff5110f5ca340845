"""Sandbox HTTP behaviour: auth, scopes, paging, routes, faults and the wrong-datacenter mode."""

import time
import urllib.parse

import pytest
import requests

from qualtrics_assets_tests.sandbox import Sandbox
from qualtrics_assets_tests.sandbox.testkit import run_export


@pytest.fixture
def sb():
    with Sandbox(seed=5, surveys=7, responses=4, users=5, page_size=3, export_polls=1) as sandbox:
        yield sandbox


def token(sb, scope=None, auth=None):
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    return requests.post(f"{sb.base_url}/oauth2/token", auth=auth or (sb.client_id, sb.client_secret), data=data,
                         timeout=10)


def bearer(t):
    return {"Authorization": f"Bearer {t}"}


def test_oauth_token_and_use(sb):
    r = token(sb, "read:surveys read:survey_responses")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"} and "meta" not in body
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == "read:surveys read:survey_responses"
    assert requests.get(f"{sb.base_url}/API/v3/surveys", headers=bearer(body["access_token"]), timeout=10).status_code == 200
    assert sb.requests[-1].auth == "bearer" and sb.requests[-1].route == "surveys"


def test_oauth_errors(sb):
    r = token(sb, auth=(sb.client_id, "wrong"))
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    r = requests.post(f"{sb.base_url}/oauth2/token", auth=(sb.client_id, sb.client_secret),
                      data={"grant_type": "password"}, timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    assert token(sb, "read:everything").json()["error"] == "invalid_scope"


def test_no_scope_grants_client_scopes_and_scopes_are_enforced(sb):
    granted = token(sb).json()["scope"].split()
    assert sorted(granted) == ["read:survey_responses", "read:surveys", "read:users"]
    t = token(sb, "read:users").json()["access_token"]
    sid = sb.survey_ids[0]
    assert requests.get(f"{sb.base_url}/API/v3/users", headers=bearer(t), timeout=10).status_code == 200
    for path in ("/API/v3/surveys", f"/API/v3/surveys/{sid}", f"/API/v3/survey-definitions/{sid}"):
        r = requests.get(sb.base_url + path, headers=bearer(t), timeout=10)
        assert r.status_code == 403 and r.json()["meta"]["httpStatus"] == "403 - Forbidden"
    r = requests.post(f"{sb.base_url}/API/v3/surveys/{sid}/export-responses", json={"format": "json"},
                      headers=bearer(token(sb, "read:surveys").json()["access_token"]), timeout=10)
    assert r.status_code == 403
    assert requests.get(f"{sb.base_url}/API/v3/whoami", headers=bearer(t), timeout=10).status_code == 200


def test_api_token_errors(sb):
    r = requests.get(f"{sb.base_url}/API/v3/surveys", timeout=10)
    assert r.status_code == 400 and r.json()["meta"]["error"]["errorCode"] == "ATP_2"
    r = requests.get(f"{sb.base_url}/API/v3/surveys", headers={"x-api-token": "nope"}, timeout=10)
    assert r.status_code == 401 and r.json()["meta"]["error"]["errorCode"] == "DCD_7"
    assert r.json()["meta"]["httpStatus"] == "401 - Unauthorized" and "result" not in r.json()


def test_token_lifetime_expires():
    with Sandbox(seed=1, surveys=1, responses=1, token_lifetime=0.3) as sb:
        t = token(sb).json()
        assert t["expires_in"] == 0
        h = bearer(t["access_token"])
        assert requests.get(f"{sb.base_url}/API/v3/surveys", headers=h, timeout=10).status_code == 200
        time.sleep(0.4)
        assert requests.get(f"{sb.base_url}/API/v3/surveys", headers=h, timeout=10).status_code == 401


def follow(url, headers):
    elements, pages = [], 0
    while url:
        body = requests.get(url, headers=headers, timeout=10).json()
        elements += body["result"]["elements"]
        url = body["result"]["nextPage"]
        pages += 1
    return elements, pages


def test_paging_follows_next_page_to_the_end(sb):
    h = {"X-API-TOKEN": sb.api_token}
    surveys, pages = follow(f"{sb.base_url}/API/v3/surveys", h)
    assert [s["id"] for s in surveys] == sb.survey_ids and pages == 3  # 3 + 3 + 1
    users, pages = follow(f"{sb.base_url}/API/v3/users/", h)
    assert [u["id"] for u in users] == [u["user_id"] for u in sb.account.ground_truth_users()]
    assert pages == 2
    first = requests.get(f"{sb.base_url}/API/v3/surveys", headers=h, timeout=10).json()["result"]["nextPage"]
    assert first.startswith(sb.base_url + "/API/v3/surveys?") and "offset=3" in first


def test_exact_multiple_gives_trailing_empty_page():
    with Sandbox(seed=2, surveys=4, responses=1, page_size=2) as sb:
        h = {"X-API-TOKEN": sb.api_token}
        surveys, pages = follow(f"{sb.base_url}/API/v3/surveys", h)
        assert len(surveys) == 4 and pages == 3
        last = requests.get(f"{sb.base_url}/API/v3/surveys?offset=4", headers=h, timeout=10).json()
        assert last["result"] == {"elements": [], "nextPage": None}


def test_routes_and_404s(sb):
    h = {"X-API-TOKEN": sb.api_token}
    sid = sb.survey_ids[0]
    user = sb.account.users[1].id
    assert requests.get(f"{sb.base_url}/API/v3/users/{user}", headers=h, timeout=10).json()["result"]["id"] == user
    meta = requests.get(f"{sb.base_url}/API/v3/survey-definitions/{sid}/metadata", headers=h, timeout=10).json()
    assert meta["result"]["SurveyMetadata"]["SurveyID"] == sid
    qsf = requests.get(f"{sb.base_url}/API/v3/survey-definitions/{sid}/?format=qsf", headers=h, timeout=10).json()
    assert qsf["result"]["SurveyEntry"]["SurveyID"] == sid
    assert {e["Element"] for e in qsf["result"]["SurveyElements"]} >= {"BL", "FL", "SO", "SQ"}
    q = requests.get(f"{sb.base_url}/API/v3/survey-definitions/{sid}/questions/QID2", headers=h, timeout=10).json()
    assert q["result"]["QuestionID"] == "QID2"
    who = requests.get(f"{sb.base_url}/API/v3/whoami", headers=h, timeout=10).json()["result"]
    assert who["userId"] == sb.account.users[0].id
    for path in ("/API/v3/surveys/SV_nope", "/API/v3/survey-definitions/SV_nope", "/API/v3/users/UR_nope",
                 f"/API/v3/surveys/{sid}/export-responses/ES_nope", "/API/v3/nothing-here"):
        r = requests.get(sb.base_url + path, headers=h, timeout=10)
        assert r.status_code == 404 and r.json()["meta"]["httpStatus"] == "404 - Not Found", path
    assert sb.requests[-1].route == "unknown"


@pytest.mark.parametrize("kind,status", [("429", 429), ("500", 500), ("503", 503)])
def test_status_faults_hit_times_then_recover(sb, kind, status):
    h = {"X-API-TOKEN": sb.api_token}
    fault = sb.faults.add("surveys", kind, times=2, retry_after=3)
    codes = [requests.get(f"{sb.base_url}/API/v3/surveys", headers=h, timeout=10) for _ in range(3)]
    assert [c.status_code for c in codes] == [status, status, 200] and fault.hits == 2
    body = codes[0].json()
    assert body["meta"]["httpStatus"].startswith(str(status)) and "errorCode" in body["meta"]["error"]
    if kind == "429":
        assert codes[0].headers["Retry-After"] == "3"
    else:
        assert "instanceId" in body["meta"]["error"]
    assert [r.status for r in sb.requests if r.route == "surveys"] == [status, status, 200]


def test_429_without_retry_after_and_star_route(sb):
    sb.faults.add("*", "429", times=1, retry_after=None)
    r = requests.get(f"{sb.base_url}/API/v3/users", headers={"X-API-TOKEN": sb.api_token}, timeout=10)
    assert r.status_code == 429 and "Retry-After" not in r.headers
    sb.faults.clear()
    assert requests.get(f"{sb.base_url}/API/v3/users", headers={"X-API-TOKEN": sb.api_token}, timeout=10).ok


def test_slow_and_drop(sb):
    h = {"X-API-TOKEN": sb.api_token}
    sb.faults.add("whoami", "slow", times=1, delay=0.3)
    t0 = time.monotonic()
    assert requests.get(f"{sb.base_url}/API/v3/whoami", headers=h, timeout=10).ok
    assert time.monotonic() - t0 >= 0.3
    sb.faults.add("whoami", "drop", times=1)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{sb.base_url}/API/v3/whoami", headers=h, timeout=10)
    assert sb.requests[-1].status is None
    assert requests.get(f"{sb.base_url}/API/v3/whoami", headers=h, timeout=10).ok
    with pytest.raises(requests.ReadTimeout):
        sb.faults.add("whoami", "slow", times=1, delay=1.0)
        requests.get(f"{sb.base_url}/API/v3/whoami", headers=h, timeout=0.2)


def test_expire_token_fault(sb):
    t = token(sb).json()["access_token"]
    sb.faults.add("surveys", "expire_token", times=1)
    r = requests.get(f"{sb.base_url}/API/v3/surveys", headers=bearer(t), timeout=10)
    assert r.status_code == 401 and r.json()["meta"]["httpStatus"] == "401 - Unauthorized"
    assert requests.get(f"{sb.base_url}/API/v3/surveys", headers=bearer(t), timeout=10).status_code == 401
    fresh = token(sb).json()["access_token"]
    assert requests.get(f"{sb.base_url}/API/v3/surveys", headers=bearer(fresh), timeout=10).ok


def test_export_faults(sb):
    h = {"X-API-TOKEN": sb.api_token}
    sid = sb.survey_ids[0]
    sb.faults.add("export_progress", "failed_export", times=1)
    data, result = run_export(sb.base_url, sid, {"format": "json"}, h)
    assert result == {"fileId": None, "percentComplete": 100, "status": "failed"} and data == b""
    sb.faults.add("export_start", "stuck_export", times=1)
    data, result = run_export(sb.base_url, sid, {"format": "json"}, h, max_polls=8)
    assert result["status"] == "inProgress" and "fileId" not in result
    sb.faults.add("export_file", "truncate", times=1)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        run_export(sb.base_url, sid, {"format": "ndjson", "compress": False}, h)
    data, result = run_export(sb.base_url, sid, {"format": "ndjson", "compress": False}, h)
    assert result["status"] == "complete" and len(data.splitlines()) == 4


def test_wrong_datacenter(sb):
    sb.set_wrong_datacenter("fra1.qualtrics.com")
    r = requests.get(f"{sb.base_url}/API/v3/surveys?pageSize=3", headers={"X-API-TOKEN": sb.api_token}, timeout=10)
    body = r.json()
    assert r.status_code == 200
    assert body["meta"]["notice"] == "Request proxied. For faster response times, use this host instead: fra1.qualtrics.com"
    nxt = urllib.parse.urlsplit(body["result"]["nextPage"])
    assert nxt.netloc == "fra1.qualtrics.com"
    assert urllib.parse.parse_qs(nxt.query) == {"pageSize": ["3"], "proxyDepth": ["1"],
                                                "proxyInfo": ['{"proxyDepth":1}'], "offset": ["3"]}
    t = token(sb).json()["access_token"]
    r = requests.get(f"{sb.base_url}/API/v3/surveys", headers=bearer(t), timeout=10)
    assert r.status_code == 401 and "fra1.qualtrics.com" in r.json()["meta"]["error"]["errorMessage"]
    assert r.json()["meta"]["error"]["errorCode"] == "DCD_7"


def test_foreign_next_page_fault(sb):
    sb.faults.add("surveys", "foreign_next_page", times=1, base_url="https://evil.example.net")
    body = requests.get(f"{sb.base_url}/API/v3/surveys", headers={"X-API-TOKEN": sb.api_token}, timeout=10).json()
    assert body["result"]["nextPage"].startswith("https://evil.example.net/API/v3/surveys?")


def test_probabilistic_faults_are_deterministic_per_seed():
    def pattern():
        with Sandbox(seed=9, surveys=1, responses=1) as sb:
            sb.faults.add("whoami", "500", probability=0.5)
            return [requests.get(f"{sb.base_url}/API/v3/whoami", headers={"X-API-TOKEN": sb.api_token},
                                 timeout=10).status_code for _ in range(12)]
    first = pattern()
    assert first == pattern() and {500, 200} == set(first)


def test_http_control_api(sb):
    sid = sb.survey_ids[0]
    ctl = f"{sb.base_url}/_sandbox"
    state = requests.get(f"{ctl}/state", timeout=10).json()["result"]
    assert state["surveys"] == sb.survey_ids
    new = requests.post(f"{ctl}/surveys/{sid}/responses", json={"count": 2}, timeout=10).json()["result"]["responseIds"]
    assert len(new) == 2
    requests.post(f"{ctl}/surveys/{sid}/responses/delete", json={"responseIds": new[:1]}, timeout=10).raise_for_status()
    counts = requests.get(f"{sb.base_url}/API/v3/surveys/{sid}", headers={"X-API-TOKEN": sb.api_token},
                          timeout=10).json()["result"]["responseCounts"]
    assert counts == {"auditable": 5, "generated": 0, "deleted": 1}
    gt = requests.get(f"{ctl}/surveys/{sid}/ground-truth", timeout=10).json()["result"]
    assert len(gt["responses"]) == 5 and new[1] in {r["response_id"] for r in gt["responses"]}
    requests.post(f"{ctl}/faults", json={"route": "whoami", "kind": "503", "times": 1}, timeout=10).raise_for_status()
    assert requests.get(f"{sb.base_url}/API/v3/whoami", headers={"X-API-TOKEN": sb.api_token}, timeout=10).status_code == 503
    qid = requests.post(f"{ctl}/surveys/{sid}/questions", json={}, timeout=10).json()["result"]["questionId"]
    assert qid in sb.account.survey(sid).questions
    assert requests.post(f"{ctl}/nope", json={}, timeout=10).status_code == 400
    log = requests.get(f"{ctl}/requests", timeout=10).json()["result"]
    assert any(e["route"] == "whoami" and e["status"] == 503 for e in log)
