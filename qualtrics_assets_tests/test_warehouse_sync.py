"""A full sync against the sandbox lands exactly the sandbox's ground truth, over real HTTP.

The sandbox computes what every table must hold from its own generator model (it never parses
its payloads back), so equality here checks the client, the normalizers, the assets and the IO
manager together.
"""

from pathlib import Path

import dagster as dg
import pytest

from qualtrics_assets import erd
from qualtrics_assets_tests.sandbox import Sandbox
from qualtrics_assets_tests.warehouse_helpers import rows, sandbox_definitions, sync_all

SURVEY_TABLES = ["questions", "question_options", "sub_questions", "responses", "answers", "embedded_data"]


def _sorted(table_rows: list[dict], table: str) -> list[dict]:
    key = erd.table(table).primary_key
    return sorted(table_rows, key=lambda r: tuple(str(r[k]) for k in key))


def assert_matches_ground_truth(sb: Sandbox, warehouse_file: str, survey_ids: list[str]) -> None:
    for survey_id in survey_ids:
        truth = sb.account.ground_truth(survey_id)
        for table in SURVEY_TABLES:
            landed = rows(warehouse_file, table, "survey_id = ?", [survey_id])
            if table == "responses":  # the sandbox knows nothing of our deletion bookkeeping
                assert {r.pop("deleted_at") for r in landed} <= {None}
            assert len(landed) == len(truth[table]), f"{table} row count for {survey_id}"
            assert _sorted(landed, table) == _sorted(truth[table], table), f"{table} rows for {survey_id}"


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    warehouse_file = str(tmp_path_factory.mktemp("wh") / "warehouse.duckdb")
    with Sandbox(seed=11, surveys=5, responses=60) as sb:
        defs = sandbox_definitions(sb, warehouse_file)
        with dg.instance_for_test() as instance:
            sync_all(defs, instance, sb.survey_ids)
            yield sb, defs, instance, warehouse_file


def test_full_sync_equals_ground_truth(synced):
    sb, _, _, warehouse_file = synced
    assert any(sb.account.response_counts(s)["auditable"] == 0 for s in sb.survey_ids)
    assert_matches_ground_truth(sb, warehouse_file, sb.survey_ids)
    assert _sorted(rows(warehouse_file, "surveys"), "surveys") == _sorted(sb.account.ground_truth_surveys(), "surveys")
    assert _sorted(rows(warehouse_file, "users"), "users") == _sorted(sb.account.ground_truth_users(), "users")


def test_rerunning_a_partition_changes_nothing(synced):
    sb, defs, instance, warehouse_file = synced
    survey_id = sb.survey_ids[0]
    before = {t: _sorted(rows(warehouse_file, t, "survey_id = ?", [survey_id]), t) for t in SURVEY_TABLES}
    assert defs.resolve_job_def("qualtrics_survey_job").execute_in_process(
        instance=instance, partition_key=survey_id
    ).success
    after = {t: _sorted(rows(warehouse_file, t, "survey_id = ?", [survey_id]), t) for t in SURVEY_TABLES}
    assert after == before


def test_edited_survey_is_reflected_after_resync(synced):
    sb, defs, instance, warehouse_file = synced
    survey_id = sb.survey_ids[3]
    new_question = sb.account.add_question(survey_id)
    mc = next(
        r for r in sb.account.ground_truth(survey_id)["question_options"] if r["question_id"] != new_question
    )
    sb.account.set_recode(survey_id, mc["question_id"], mc["option_id"], "777")
    sb.account.add_responses(survey_id, 5)
    assert defs.resolve_job_def("qualtrics_survey_job").execute_in_process(
        instance=instance, partition_key=survey_id
    ).success
    assert_matches_ground_truth(sb, warehouse_file, [survey_id])
    questions = {r["question_id"] for r in rows(warehouse_file, "questions", "survey_id = ?", [survey_id])}
    assert new_question in questions


def test_checks_pass_on_a_clean_sync(synced):
    sb, defs, instance, _ = synced
    result = defs.resolve_job_def("qualtrics_survey_job").execute_in_process(
        instance=instance, partition_key=sb.survey_ids[0]
    )
    evaluations = result.get_asset_check_evaluations()
    assert evaluations, "the survey job runs its data-quality checks"
    failed = [(e.check_name, e.description) for e in evaluations if not e.passed]
    stale = [name for name, _ in failed if name.endswith("_fresh_per_survey")]
    assert [f for f in failed if f[0] not in stale] == []


def test_no_secret_or_token_in_event_log_warehouse_or_instance_files(synced):
    sb, _, instance, warehouse_file = synced
    secrets = [sb.client_secret, *sb.server.tokens]
    assert len(secrets) > 1, "the runs fetched access tokens"
    events = "\n".join(
        str(record.dagster_event or record.user_message)
        for run in instance.get_runs()
        for record in instance.all_logs(run.run_id)
    )
    files = [Path(warehouse_file), *Path(instance.root_directory).rglob("*")]
    blobs = [p.read_bytes() for p in files if p.is_file()]
    for secret in secrets:
        assert secret not in events
        assert not any(secret.encode() in blob for blob in blobs)
