"""Data-quality checks fail on deliberately broken tables and name the offending rows."""

import dagster as dg
import duckdb
import pytest

from qualtrics_assets_tests.sandbox import Sandbox
from qualtrics_assets_tests.warehouse_helpers import sandbox_definitions, sync_all


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    warehouse_file = str(tmp_path_factory.mktemp("wh") / "warehouse.duckdb")
    with Sandbox(seed=4, survey_sizes=[15, 10], export_polls=1) as sb:
        defs = sandbox_definitions(sb, warehouse_file)
        with dg.instance_for_test() as instance:
            sync_all(defs, instance, sb.survey_ids)
            survey_id = sb.survey_ids[0]
            with duckdb.connect(warehouse_file) as con:
                # a duplicated answer key and an answer whose response does not exist
                con.execute(
                    "INSERT INTO qualtrics.answers SELECT * FROM qualtrics.answers WHERE survey_id = ? LIMIT 1",
                    [survey_id],
                )
                con.execute(
                    "INSERT INTO qualtrics.answers SELECT * REPLACE ('R_orphan000000001' AS response_id)"
                    " FROM qualtrics.answers WHERE survey_id = ? LIMIT 1",
                    [survey_id],
                )
                duplicate = con.execute(
                    "SELECT response_id, field FROM qualtrics.answers GROUP BY response_id, field, answer_index HAVING count(*) > 1"
                ).fetchone()
            yield defs, instance, survey_id, duplicate


def evaluate(defs: dg.Definitions, instance: dg.DagsterInstance, survey_id: str, check_names: list[str]):
    job = defs.resolve_job_def("qualtrics_survey_job")
    selection = [key for key in job.asset_layer.asset_graph.asset_check_keys if key.name in check_names]
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks], selection=dg.AssetSelection.checks(*selection),
        resources=defs.resources, instance=instance, tags={"dagster/partition": survey_id}, raise_on_error=False,
    )
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_duplicate_answer_key_fails_the_blocking_primary_key_check(broken):
    defs, instance, survey_id, (response_id, field) = broken
    evaluation = evaluate(defs, instance, survey_id, ["answers_primary_key"])["answers_primary_key"]
    assert not evaluation.passed
    assert response_id in evaluation.description and field in evaluation.description
    assert evaluation.metadata["failing_rows"].value == 1


def test_orphan_answer_fails_the_relationship_check(broken):
    defs, instance, survey_id, _ = broken
    name = "answers_response_id_references_responses"
    evaluation = evaluate(defs, instance, survey_id, [name])[name]
    assert not evaluation.passed
    assert "R_orphan000000001" in evaluation.description


def test_checks_of_another_survey_are_not_affected(broken):
    defs, instance, survey_id, _ = broken
    other = next(s for s in instance.get_dynamic_partitions("survey") if s != survey_id)
    names = ["answers_primary_key", "answers_response_id_references_responses"]
    evaluations = evaluate(defs, instance, other, names)
    assert {n: e.passed for n, e in evaluations.items()} == {n: True for n in names}


def test_primary_key_check_is_blocking(broken):
    defs, *_ = broken
    specs = {spec.name: spec for checks in defs.asset_checks for spec in checks.check_specs}
    assert specs["answers_primary_key"].blocking
    assert not specs["answers_response_id_references_responses"].blocking
