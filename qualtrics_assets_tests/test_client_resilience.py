"""Retries, budgets and rate limiting under injected faults (real HTTP to the sandbox).

Every test asserts completeness (exact ground truth, no duplicates) *and* the number of requests
the sandbox saw, so the retry budget is checked by counts rather than by wall time.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from qualtrics_assets.qualtrics import (
    AmbiguousRequestError,
    RateLimitError,
    ServerError,
    TransportError,
)
from qualtrics_assets.qualtrics.ratelimit import TokenBucket
from qualtrics_assets_tests.sandbox import Sandbox
from qualtrics_assets_tests.test_client import FAST, _fresh_tokens, make_client, route_log, statuses  # noqa: F401

SURVEYS = 5


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=11, surveys=SURVEYS, responses=30, page_size=2, users=5) as sandbox:
        yield sandbox


@pytest.fixture(autouse=True)
def _clear(sb):
    sb.faults.clear()
    yield
    sb.faults.clear()


def expected_users(sb):
    return [row["user_id"] for row in sb.account.ground_truth_users()]


def list_all(client):
    return [u["id"] for u in client.iter_users()], [s["id"] for s in client.iter_surveys()]


# ############################################################################################
# 429
# ############################################################################################


@pytest.mark.parametrize("retry_after", [0, None], ids=["with-retry-after", "without-retry-after"])
def test_429_storm_lists_complete_exactly_once(sb, retry_after):
    client = make_client(sb)
    client.whoami()  # token first, so the storm hits only list calls
    start = len(sb.requests)
    sb.faults.add("users", "429", times=4, retry_after=retry_after)
    sb.faults.add("surveys", "429", times=3, retry_after=retry_after)
    before = client.stats.as_dict()
    users, surveys = list_all(client)
    assert users == expected_users(sb) and surveys == sb.survey_ids
    assert statuses(sb, "users", start) == Counter({200: 3, 429: 4})
    assert statuses(sb, "surveys", start) == Counter({200: 3, 429: 3})
    after = client.stats.as_dict()
    assert after["retries"] - before["retries"] == 7
    assert after["attempts"] - before["attempts"] == 13
    assert after["total_wait_s"] <= client.settings.max_total_wait_s * 7


def test_retry_after_is_honoured(sb):
    client = make_client(sb)
    client.whoami()
    sb.faults.add("surveys", "429", times=1, retry_after=1)
    t0 = time.monotonic()
    assert [s["id"] for s in client.iter_surveys()] == sb.survey_ids
    assert time.monotonic() - t0 >= 1.0
    assert 1.0 <= client.stats.total_wait_s <= 1.0 + client.settings.backoff_initial_s + 0.01


def test_retry_after_beyond_the_wait_budget_fails_fast(sb):
    client = make_client(sb, max_total_wait_s=0.5)
    client.whoami()
    start = len(sb.requests)
    sb.faults.add("users", "429", retry_after=30)
    t0 = time.monotonic()
    with pytest.raises(RateLimitError) as info:
        list(client.iter_users())
    assert time.monotonic() - t0 < 5
    err = info.value
    assert err.attempts == 1 and err.waited_s == 0 and err.retry_after == 30
    assert "30 s" in str(err) and err.status == 429 and err.error_code == "TMR_1"
    assert len(route_log(sb, "users", start)) == 1


def test_endless_429_stops_at_the_attempt_budget(sb):
    client = make_client(sb, max_attempts=4)
    client.whoami()
    start = len(sb.requests)
    sb.faults.add("users", "429", retry_after=None)
    with pytest.raises(RateLimitError) as info:
        list(client.iter_users())
    assert info.value.attempts == 4
    assert info.value.waited_s <= client.settings.max_total_wait_s
    assert statuses(sb, "users", start) == Counter({429: 4})
    assert info.value.request_id  # the last 429's requestId is kept


def test_endless_429_stops_at_the_wait_budget(sb):
    client = make_client(sb, max_attempts=1000, backoff_initial_s=0.02, backoff_max_s=0.02, max_total_wait_s=0.1)
    client.whoami()
    start = len(sb.requests)
    sb.faults.add("surveys", "429", retry_after=None)
    with pytest.raises(RateLimitError) as info:
        list(client.iter_surveys())
    n = len(route_log(sb, "surveys", start))
    assert info.value.waited_s <= 0.1 + 1e-6
    assert 5 <= n <= 12  # each wait is 10-20 ms, the budget 100 ms
    assert info.value.attempts == n


# ############################################################################################
# 5xx, dropped connections, slow calls
# ############################################################################################


def test_5xx_are_retried(sb):
    client = make_client(sb)
    client.whoami()
    start = len(sb.requests)
    sb.faults.add("users", "500", times=2)
    sb.faults.add("surveys", "503", times=2)
    users, surveys = list_all(client)
    assert users == expected_users(sb) and surveys == sb.survey_ids
    assert statuses(sb, "users", start) == Counter({200: 3, 500: 2})
    assert statuses(sb, "surveys", start) == Counter({200: 3, 503: 2})


def test_endless_500_gives_server_error_within_budget(sb):
    client = make_client(sb, max_attempts=3)
    client.whoami()
    start = len(sb.requests)
    sb.faults.add("whoami", "500")
    with pytest.raises(ServerError) as info:
        client.whoami()
    assert info.value.attempts == 3 and info.value.status == 500 and info.value.error_code == "MSTC_1"
    assert statuses(sb, "whoami", start) == Counter({500: 3})


def test_dropped_connections_are_retried(sb):
    client = make_client(sb)
    client.whoami()
    start = len(sb.requests)
    sb.faults.add("users", "drop", times=3)
    assert [u["id"] for u in client.iter_users()] == expected_users(sb)
    assert statuses(sb, "users", start) == Counter({200: 3, None: 3})
    assert client.stats.retries_by_reason["connection_dropped"] == 3


def test_slow_calls_time_out_and_are_retried(sb):
    client = make_client(sb, read_timeout_s=0.15)
    client.whoami()
    start = len(sb.requests)
    sb.faults.add("surveys", "slow", times=2, delay=0.4)
    assert [s["id"] for s in client.iter_surveys()] == sb.survey_ids
    time.sleep(0.4)  # the sandbox logs a slow request when its handler finishes
    assert len(route_log(sb, "surveys", start)) == 5  # 3 pages + 2 timed-out attempts
    assert client.stats.retries_by_reason["read_timeout"] == 2


def test_endless_drops_give_transport_error(sb):
    client = make_client(sb, max_attempts=3)
    client.whoami()
    sb.faults.add("whoami", "drop")
    with pytest.raises(TransportError) as info:
        client.whoami()
    assert info.value.attempts == 3 and "connection dropped" in str(info.value)


def test_token_endpoint_faults_are_retried(sb):
    client = make_client(sb)
    start = len(sb.requests)
    sb.faults.add("token", "503", times=1)
    sb.faults.add("token", "drop", times=1)
    sb.faults.add("token", "429", times=1, retry_after=0)
    assert client.whoami()["userId"]
    assert statuses(sb, "token", start) == Counter({503: 1, None: 1, 429: 1, 200: 1})


def test_connection_refused_is_retried_then_transport_error():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    from qualtrics_assets.qualtrics import QualtricsClient

    client = QualtricsClient(f"http://127.0.0.1:{port}", api_token="t" * 40, **{**FAST, "max_attempts": 3})
    with pytest.raises(TransportError) as info:
        client.whoami()
    assert info.value.attempts == 3 and client.stats.retries_by_reason["connect_error"] == 2


# ############################################################################################
# POSTs that may have been executed are not repeated blindly
# ############################################################################################


def test_ambiguous_post_is_not_repeated(sb):
    client = make_client(sb)
    client.whoami()
    sid = sb.survey_ids[0]
    path = f"surveys/{sid}/export-responses"

    start = len(sb.requests)
    sb.faults.add("export_start", "drop", times=1)
    with pytest.raises(AmbiguousRequestError):
        client.post(path, {"format": "ndjson"}, route="export_start", survey_id=sid)
    assert len(route_log(sb, "export_start", start)) == 1

    start = len(sb.requests)
    sb.faults.add("export_start", "500", times=1)
    with pytest.raises(ServerError):
        client.post(path, {"format": "ndjson"}, route="export_start", survey_id=sid)
    assert statuses(sb, "export_start", start) == Counter({500: 1})

    start = len(sb.requests)  # 429 and 503 say "not executed": safe to repeat
    sb.faults.add("export_start", "429", times=1, retry_after=0)
    sb.faults.add("export_start", "503", times=1)
    body = client.post(path, {"format": "ndjson"}, route="export_start", survey_id=sid)
    assert body["result"]["progressId"].startswith("ES_")
    assert statuses(sb, "export_start", start) == Counter({429: 1, 503: 1, 200: 1})


# ############################################################################################
# everything at once: a full export under a storm
# ############################################################################################


def test_full_export_under_a_storm_is_complete_and_within_budget(sb):
    sid = sb.survey_ids[0]
    expected = sb.account.response_ids(sid)
    client = make_client(sb, max_attempts=6)
    start = len(sb.requests)
    sb.faults.add("token", "500", times=1)
    sb.faults.add("export_start", "429", times=2, retry_after=None)
    sb.faults.add("export_start", "drop", times=1)  # declared safe to repeat (read-only job)
    sb.faults.add("export_progress", "503", times=2)
    sb.faults.add("export_progress", "slow", times=1, delay=0.5)
    sb.faults.add("export_file", "429", times=1, retry_after=0)
    sb.faults.add("export_file", "drop", times=1)
    sb.faults.add("export_file", "truncate", times=1)
    with client.export_responses(sid) as export:
        ids = [r["responseId"] for r in export.records()]
    assert ids == expected and len(set(ids)) == len(ids) == 30
    log = route_log(sb, None, start)
    attempts = Counter(r.route for r in log)
    assert attempts["token"] == 2
    assert statuses(sb, "export_start", start) == Counter({429: 2, None: 1, 200: 1})
    assert statuses(sb, "export_file", start) == Counter({429: 1, None: 1, 200: 2})  # one truncated 200
    assert client.stats.attempts == len(log)
    assert client.stats.total_wait_s <= client.settings.max_total_wait_s * client.stats.retries
    assert client.stats.exports == 1


def test_random_storm_everything_completes_exactly_once():
    with Sandbox(seed=21, surveys=3, responses=40, page_size=3, users=10) as sb:
        sb.faults.add("*", "429", probability=0.25, retry_after=0)
        sb.faults.add("*", "503", probability=0.1)
        sb.faults.add("*", "drop", probability=0.05)
        client = make_client(sb, max_attempts=12)
        users, surveys = list_all(client)
        assert users == expected_users(sb) and surveys == sb.survey_ids
        for sid in sb.survey_ids:
            with client.export_responses(sid) as export:
                ids = [r["responseId"] for r in export.records()]
            assert ids == sb.account.response_ids(sid)
        faulted = sum(1 for r in sb.requests if r.status in (429, 503, None))
        assert faulted > 10  # the storm really happened
        assert client.stats.retries == faulted
        assert client.stats.attempts == len(sb.requests)


# ############################################################################################
# the per-process rate limit
# ############################################################################################


def test_request_rate_is_limited(sb):
    client = make_client(sb, requests_per_second=40.0, burst=1)
    client.whoami()
    t0 = time.monotonic()
    for _ in range(10):
        client.whoami()
    elapsed = time.monotonic() - t0
    assert elapsed >= 9 / 40.0 * 0.9
    assert client.stats.rate_limit_wait_s > 0


def test_token_bucket_math():
    now = [0.0]
    slept = []

    def sleep(d):
        slept.append(d)
        now[0] += d

    bucket = TokenBucket(10.0, 2, clock=lambda: now[0], sleep=sleep)
    assert bucket.acquire() == 0 and bucket.acquire() == 0  # burst of 2
    assert bucket.acquire() == pytest.approx(0.1)
    now[0] += 1.0  # refills to capacity, not beyond
    assert [bucket.acquire() for _ in range(3)] == [0, 0, pytest.approx(0.1)]
