"""QualtricsResource: config fields, EnvVar wiring, per-process client, and no secret anywhere.

Runs real Dagster materializations (in process) against the sandbox over HTTP.
"""


import logging

import dagster as dg
import pytest

from qualtrics_assets import QualtricsResource
from qualtrics_assets.qualtrics import ExportFailedError, InvalidClientError, QualtricsClient
from qualtrics_assets_tests.sandbox import Sandbox
from qualtrics_assets_tests.test_client import FAST, _fresh_tokens  # noqa: F401

ENV = ("QUALTRICS_BASE_URL", "QUALTRICS_CLIENT_ID", "QUALTRICS_CLIENT_SECRET", "QUALTRICS_API_TOKEN")


@pytest.fixture
def sb():
    with Sandbox(seed=19, surveys=2, responses=20, page_size=2, users=5) as sandbox:
        yield sandbox


@pytest.fixture
def env(monkeypatch, sb):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QUALTRICS_BASE_URL", sb.base_url)
    monkeypatch.setenv("QUALTRICS_CLIENT_ID", sb.client_id)
    monkeypatch.setenv("QUALTRICS_CLIENT_SECRET", sb.client_secret)
    return monkeypatch


FAST_FIELDS = {k: v for k, v in FAST.items() if k in QualtricsResource.model_fields}


def test_every_config_field_is_described():
    fields = QualtricsResource.model_fields
    assert {"base_url", "client_id", "client_secret", "api_token", "connect_timeout_s", "read_timeout_s",
            "max_attempts", "max_total_wait_s", "requests_per_second", "poll_initial_s", "poll_max_s",
            "export_timeout_s"} <= set(fields)
    for name, field in fields.items():
        assert field.description and len(field.description) > 15, name


def test_from_env_wires_env_vars(env, sb):
    resource = QualtricsResource.from_env()
    assert isinstance(resource.client_secret, dg.EnvVar) and isinstance(resource.base_url, dg.EnvVar)
    assert resource.api_token is None  # not set: not wired, so an unset token cannot fail the run
    client = resource.get_client()
    assert client.auth_kind == "oauth" and client.base_url == sb.base_url
    assert client.whoami()["userId"]


def test_from_env_token_only(monkeypatch, sb):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QUALTRICS_BASE_URL", sb.base_url)
    monkeypatch.setenv("QUALTRICS_API_TOKEN", sb.api_token)
    resource = QualtricsResource.from_env()
    assert resource.client_id is None and isinstance(resource.api_token, dg.EnvVar)
    assert resource.get_client().auth_kind == "api_token"


def test_repr_hides_secrets(sb):
    resource = QualtricsResource(base_url=sb.base_url, client_id=sb.client_id, client_secret=sb.client_secret,
                                 api_token=sb.api_token)
    text = repr(resource) + str(resource)
    assert sb.client_secret not in text and sb.api_token not in text
    assert sb.base_url in text


def test_client_is_cached_per_process_and_closed_at_teardown(sb):
    resource = QualtricsResource(base_url=sb.base_url, client_id=sb.client_id, client_secret=sb.client_secret,
                                 **FAST_FIELDS)
    assert resource.get_client() is resource.get_client()
    assert isinstance(resource.get_client(), QualtricsClient)
    assert resource.client_settings().max_attempts == FAST["max_attempts"]

    seen = []

    @dg.asset
    def a(qualtrics: QualtricsResource):
        seen.append(qualtrics.get_client())
        qualtrics.get_client().whoami()

    @dg.asset(deps=[a])
    def b(qualtrics: QualtricsResource):
        seen.append(qualtrics.get_client())
        list(qualtrics.get_client().iter_users())

    result = dg.materialize([a, b], resources={"qualtrics": resource})
    assert result.success
    assert seen[0] is seen[1]  # one client (session + token) for the whole in-process run
    assert len([r for r in sb.requests if r.route == "token"]) == 1




def test_no_secret_in_logs_exceptions_or_event_log(sb, env, caplog):
    """Scan everything a run leaves behind for the client secret and every access token issued."""
    caplog.set_level(logging.DEBUG)  # our logger, urllib3's connection logs, Dagster's
    sid = sb.survey_ids[0]
    sb.faults.add("users", "expire_token", times=1)  # a second token gets issued mid-run
    sb.faults.add("surveys", "429", times=1, retry_after=0)
    issued: set[str] = set()

    @dg.asset
    def listing(context: dg.AssetExecutionContext, qualtrics: QualtricsResource):
        client = qualtrics.get_client()
        client.whoami()
        issued.update(sb.server.tokens)  # the sandbox forgets a token once it expired it
        users = list(client.iter_users())
        issued.update(sb.server.tokens)
        surveys = list(client.iter_surveys())
        with client.export_responses(sid) as export:
            n = sum(1 for _ in export.records())
        context.log.info(f"client {client!r} via {qualtrics!r}: {len(users)} users, {len(surveys)} surveys, {n}")
        return dg.MaterializeResult(metadata={"qualtrics_calls": client.stats.as_dict(), "responses": n})

    @dg.asset(deps=[listing])
    def failing(qualtrics: QualtricsResource):
        sb.faults.add("export_start", "failed_export")
        with qualtrics.get_client().export_responses(sid):
            pass

    instance = dg.DagsterInstance.ephemeral()
    resources = {"qualtrics": QualtricsResource.from_env(**FAST_FIELDS)}
    result = dg.materialize([listing, failing], resources=resources, instance=instance, raise_on_error=False)
    assert not result.success
    [materialization] = result.asset_materializations_for_node("listing")
    assert materialization.metadata["responses"].value == 20
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "ExportFailedError" in dg.serialize_value(failure)

    errors = []
    bad_client = QualtricsClient(sb.base_url, client_id=sb.client_id, client_secret=sb.client_secret + "x", **FAST)
    with pytest.raises(InvalidClientError) as info:
        bad_client.whoami()
    errors.append(info.value)
    with pytest.raises(ExportFailedError) as info:
        with QualtricsResource.from_env(**FAST_FIELDS).get_client().export_responses(sid):
            pass
    errors.append(info.value)

    tokens = issued | set(sb.server.tokens)
    assert len(tokens) == 2  # the one expired mid-run and its renewal (shared by every client of the process)
    event_text = "\n".join(dg.serialize_value(r) for r in instance.all_logs(result.run_id))
    haystacks = {
        "python logs": caplog.text + "\n".join(str(r.args) + r.getMessage() for r in caplog.records),
        "exceptions": "\n".join(f"{e!s}\n{e!r}\n{e.to_metadata()}" for e in errors),
        "dagster event log": event_text,
        "materialize events": "\n".join(dg.serialize_value(e) for e in result.all_events),
    }
    assert "MaterializeResult" not in haystacks["python logs"]  # sanity: we scanned real content
    assert "qualtrics_calls" in event_text
    for where, text in haystacks.items():
        assert len(text) > 100, where
        assert sb.client_secret not in text, f"client secret leaked into {where}"
        assert sb.client_secret + "x" not in text, f"bad secret leaked into {where}"
        for token in tokens:
            assert token not in text, f"access token leaked into {where}"
