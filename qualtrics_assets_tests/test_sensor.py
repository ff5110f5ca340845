"""The discovery sensor: pure refresh decisions, and real ticks against the sandbox."""

from datetime import datetime, timedelta

import dagster as dg
import pytest

from qualtrics_assets.refresh_plan import SurveyState, dump_cursor, load_cursor, plan_refreshes, surveys_to_read
from qualtrics_assets.sensors import SENSOR_NAME
from qualtrics_assets_tests.sandbox import Sandbox
from qualtrics_assets_tests.warehouse_helpers import sandbox_definitions

NOW = datetime(2026, 3, 1, 12, 0, 0)
HOUR = timedelta(hours=1)


def listed(**surveys) -> dict[str, dict]:
    return {sid: {"id": sid, "lastModified": lm, "isActive": active} for sid, (lm, active) in surveys.items()}


# ---- pure decisions -------------------------------------------------------------------------


def test_new_surveys_are_registered_and_refreshed():
    states: dict[str, SurveyState] = {}
    plan = plan_refreshes(listed(SV_a=("t1", True), SV_b=("t1", False)), set(), states, {}, NOW, HOUR)
    assert plan.new_survey_ids == ["SV_a", "SV_b"]
    assert [(r.survey_id, r.reason) for r in plan.refreshes] == [("SV_a", "new"), ("SV_b", "new")]
    assert load_cursor(dump_cursor(states)) == states


def test_unchanged_surveys_cost_nothing_until_due():
    surveys = listed(SV_a=("t1", True), SV_b=("t1", False))
    states: dict[str, SurveyState] = {}
    plan_refreshes(surveys, set(), states, {}, NOW, HOUR)
    counts = {"SV_a": [5, 0, 0]}
    plan = plan_refreshes(surveys, {"SV_a", "SV_b"}, states, counts, NOW + HOUR / 2, HOUR)
    assert plan.refreshes == [] and plan.new_survey_ids == []
    later = plan_refreshes(surveys, {"SV_a", "SV_b"}, states, counts, NOW + 2 * HOUR, HOUR)
    assert [(r.survey_id, r.reason) for r in later.refreshes] == [("SV_a", "due")]  # inactive SV_b never


def test_changed_definitions_and_counts_trigger_a_refresh_with_distinct_run_keys():
    states: dict[str, SurveyState] = {}
    plan_refreshes(listed(SV_a=("t1", True), SV_b=("t1", True)), set(), states, {}, NOW, HOUR)
    plan_refreshes(listed(SV_a=("t1", True), SV_b=("t1", True)), {"SV_a", "SV_b"}, states,
                   {"SV_a": [1, 0, 0], "SV_b": [3, 0, 0]}, NOW, HOUR)
    plan = plan_refreshes(listed(SV_a=("t2", True), SV_b=("t1", True)), {"SV_a", "SV_b"}, states,
                          {"SV_a": [1, 0, 0], "SV_b": [3, 0, 1]}, NOW, HOUR)
    assert [(r.survey_id, r.reason) for r in plan.refreshes] == [
        ("SV_a", "definition_changed"), ("SV_b", "responses_changed")]
    assert len({r.run_key for r in plan.refreshes}) == 2


def test_count_reads_are_bounded_and_rotate():
    surveys = listed(**{f"SV_{i}": ("t", True) for i in range(5)})
    states = {sid: SurveyState("t", [0, 0, 0], NOW.isoformat(), f"2026-01-0{i + 1}") for i, sid in enumerate(surveys)}
    assert surveys_to_read(surveys, states, 2) == ["SV_0", "SV_1"]
    states["SV_0"].counts_read_at = states["SV_1"].counts_read_at = "2026-02-01"
    assert surveys_to_read(surveys, states, 2) == ["SV_2", "SV_3"]


# ---- real ticks against the sandbox ---------------------------------------------------------


@pytest.fixture
def sandbox():
    with Sandbox(seed=5, surveys=3, responses=20) as sb:
        yield sb


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None):
    sensor = defs.resolve_sensor_def(SENSOR_NAME)
    with dg.build_sensor_context(
        instance_ref=instance.get_ref(), definitions=defs, cursor=cursor, sensor_name=SENSOR_NAME,
        resources={"qualtrics": defs.resources["qualtrics"]},
    ) as context:
        data = sensor.evaluate_tick(context)
    for request in data.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return data


def test_ticks_register_surveys_then_refresh_only_the_one_with_new_responses(sandbox, tmp_path):
    defs = sandbox_definitions(sandbox, str(tmp_path / "w.duckdb"))
    with dg.instance_for_test() as instance:
        first = tick(defs, instance, None)
        assert sorted(first.dynamic_partitions_requests[0].partition_keys) == sorted(sandbox.survey_ids)
        assert sorted(r.partition_key for r in first.run_requests) == sorted(sandbox.survey_ids)
        assert defs.resolve_sensor_def(SENSOR_NAME).job_name == "qualtrics_survey_job"

        second = tick(defs, instance, first.cursor)  # reads counts, nothing changed
        assert second.run_requests == [] and not second.dynamic_partitions_requests

        exports_before = sum(1 for r in sandbox.requests if r.route == "export_start")
        target = next(s for s in sandbox.survey_ids if sandbox.account.survey(s).is_active)
        sandbox.account.add_responses(target, 3)
        third = tick(defs, instance, second.cursor)
        assert [(r.partition_key, r.tags["qualtrics/refresh_reason"]) for r in third.run_requests] == [
            (target, "responses_changed")
        ]
        assert sum(1 for r in sandbox.requests if r.route == "export_start") == exports_before

        fourth = tick(defs, instance, third.cursor)
        assert fourth.run_requests == []
