"""Incremental response sync against the sandbox: a script of events, each ending equal to the
sandbox's ground truth, with incremental exports carrying only the changed responses."""

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from qualtrics_assets_tests.sandbox import Sandbox
from qualtrics_assets_tests.test_warehouse_sync import assert_matches_ground_truth
from qualtrics_assets_tests.warehouse_helpers import rows, sandbox_definitions, sync_all

REPO = Path(__file__).resolve().parents[1]


class Syncer:
    def __init__(self, sb: Sandbox, defs: dg.Definitions, instance: dg.DagsterInstance, warehouse: str):
        self.sb, self.defs, self.instance, self.warehouse = sb, defs, instance, warehouse

    def sync(self, survey_id: str) -> dict:
        """Run the survey job; return the responses asset's metadata as plain values."""
        result = self.defs.resolve_job_def("qualtrics_survey_job").execute_in_process(
            instance=self.instance, partition_key=survey_id
        )
        assert result.success
        materialization = next(
            m for m in result.asset_materializations_for_node("survey_responses") if m.asset_key.path[-1] == "responses"
        )
        return {k: v.value for k, v in materialization.metadata.items()}

    def exports(self) -> int:
        return sum(1 for r in self.sb.requests if r.route == "export_start")


@pytest.fixture(scope="module")
def syncer(tmp_path_factory):
    warehouse = str(tmp_path_factory.mktemp("wh") / "warehouse.duckdb")
    with Sandbox(seed=21, survey_sizes=[3000, 40], export_polls=1) as sb:
        defs = sandbox_definitions(sb, warehouse)
        with dg.instance_for_test() as instance:
            sync_all(defs, instance, sb.survey_ids)
            yield Syncer(sb, defs, instance, warehouse)


def test_first_sync_is_full(syncer):
    state = rows(syncer.warehouse, "sync_state")
    assert {r["last_mode"] for r in state} == {"full"}
    assert all(r["continuation_token"] for r in state)
    assert_matches_ground_truth(syncer.sb, syncer.warehouse, syncer.sb.survey_ids)


def test_only_three_changed_responses_are_exported(syncer):
    big = syncer.sb.survey_ids[0]
    changed = syncer.sb.account.response_ids(big)[100:103]
    syncer.sb.account.edit_responses(big, changed)
    meta = syncer.sync(big)
    assert (meta["qualtrics/sync_mode"], meta["qualtrics/exported_responses"]) == ("incremental", 3)
    assert (meta["qualtrics/responses_added"], meta["qualtrics/responses_updated"]) == (0, 3)
    assert_matches_ground_truth(syncer.sb, syncer.warehouse, [big])


def test_new_responses_are_added(syncer):
    small = syncer.sb.survey_ids[1]
    syncer.sb.account.add_responses(small, 5)
    meta = syncer.sync(small)
    assert (meta["qualtrics/sync_mode"], meta["qualtrics/exported_responses"]) == ("incremental", 5)
    assert meta["qualtrics/responses_added"] == 5
    assert_matches_ground_truth(syncer.sb, syncer.warehouse, [small])


def test_no_change_exports_nothing_new(syncer):
    small = syncer.sb.survey_ids[1]
    meta = syncer.sync(small)
    assert (meta["qualtrics/exported_responses"], meta["qualtrics/responses_added"]) == (0, 0)
    assert_matches_ground_truth(syncer.sb, syncer.warehouse, [small])


def test_deleted_responses_are_reconciled(syncer):
    small = syncer.sb.survey_ids[1]
    gone = syncer.sb.account.response_ids(small)[:2]
    syncer.sb.account.delete_responses(small, gone)
    meta = syncer.sync(small)
    assert meta["qualtrics/reconciled_deletions"] is True
    assert meta["qualtrics/responses_deleted"] == 2
    assert not rows(syncer.warehouse, "answers", "response_id IN (?, ?)", gone)
    assert_matches_ground_truth(syncer.sb, syncer.warehouse, [small])


def test_expired_token_falls_back_to_a_date_window(syncer):
    small = syncer.sb.survey_ids[1]
    syncer.sb.server.continuation_ttl = 0  # every stored token is now expired
    try:
        edited = syncer.sb.account.response_ids(small)[5:7]
        time.sleep(0.01)
        syncer.sb.account.edit_responses(small, edited)
        syncer.sb.account.add_responses(small, 1)
        meta = syncer.sync(small)
    finally:
        syncer.sb.server.continuation_ttl = 7 * 86400
    assert meta["qualtrics/sync_mode"] == "fallback"
    assert meta["qualtrics/responses_added"] == 1 and meta["qualtrics/responses_updated"] >= 2
    assert_matches_ground_truth(syncer.sb, syncer.warehouse, [small])
    syncer.sb.account.add_responses(small, 2)  # the fallback regained a token: back to incremental
    again = syncer.sync(small)
    assert (again["qualtrics/sync_mode"], again["qualtrics/exported_responses"]) == ("incremental", 2)
    assert_matches_ground_truth(syncer.sb, syncer.warehouse, [small])


def test_a_run_killed_after_its_export_loses_nothing(syncer):
    big = syncer.sb.survey_ids[0]
    syncer.sb.account.add_responses(big, 400)
    syncer.sb.account.edit_responses(big, syncer.sb.account.response_ids(big)[:200])
    env = {
        **os.environ,
        "DAGSTER_HOME": syncer.instance.root_directory,
        "QUALTRICS_BASE_URL": syncer.sb.base_url,
        "QUALTRICS_CLIENT_ID": syncer.sb.client_id,
        "QUALTRICS_CLIENT_SECRET": syncer.sb.client_secret,
        "QUALTRICS_WAREHOUSE": syncer.warehouse,
    }
    files_before = sum(1 for r in syncer.sb.requests if r.route == "export_file")
    run = subprocess.Popen([sys.executable, "-m", "qualtrics_assets", "sync", "--survey", big], cwd=REPO, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while sum(1 for r in syncer.sb.requests if r.route == "export_file") == files_before:
        assert run.poll() is None and time.monotonic() < deadline, "the run ended before downloading its export"
        time.sleep(0.01)
    run.kill()
    run.wait()
    meta = syncer.sync(big)  # the next run re-exports from the same token and lands it all once
    assert meta["qualtrics/sync_mode"] == "incremental"
    assert meta["qualtrics/exported_responses"] == 600  # 400 new + 200 edited, each once
    assert_matches_ground_truth(syncer.sb, syncer.warehouse, [big])


def test_in_progress_sessions_land_in_their_own_table(syncer):
    for survey_id in syncer.sb.survey_ids:
        sessions = rows(syncer.warehouse, "responses_in_progress", "survey_id = ?", [survey_id])
        assert len(sessions) == syncer.sb.account.survey(survey_id).in_progress
        assert all(s["response_id"].startswith("FS_") for s in sessions)
    assert not rows(syncer.warehouse, "responses", "response_id LIKE 'FS_%'")
