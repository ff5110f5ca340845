"""The documented command-line ways of running, each in a subprocess with a persistent DAGSTER_HOME."""

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from qualtrics_assets_tests.sandbox import Sandbox

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory):
    home = tmp_path_factory.mktemp("dagster_home")
    with Sandbox(seed=3, surveys=3, responses=25, export_polls=1) as sb:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "QUALTRICS_BASE_URL": sb.base_url,
            "QUALTRICS_CLIENT_ID": sb.client_id,
            "QUALTRICS_CLIENT_SECRET": sb.client_secret,
            "QUALTRICS_WAREHOUSE": str(home / "warehouse.duckdb"),
        }
        env.pop("QUALTRICS_API_TOKEN", None)
        yield sb, env


def run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def responses_by_survey(env: dict) -> dict[str, int]:
    with duckdb.connect(env["QUALTRICS_WAREHOUSE"], read_only=True) as con:
        return dict(con.execute("SELECT survey_id, count(*) FROM qualtrics.responses GROUP BY 1").fetchall())


def test_sync_command_lands_every_survey(cli_env):
    sb, env = cli_env
    result = run([sys.executable, "-m", "qualtrics_assets", "sync"], env)
    for survey_id in sb.survey_ids:
        assert f"{survey_id}: ok" in result.stdout
    assert "qualtrics.answers" in result.stdout
    expected = {s: sb.account.response_counts(s)["auditable"] for s in sb.survey_ids}
    assert responses_by_survey(env) == {s: n for s, n in expected.items() if n}


def test_one_survey_by_sync_and_by_dg_launch(cli_env):
    sb, env = cli_env
    survey_id = sb.survey_ids[0]
    sb.account.add_responses(survey_id, 4)
    run([sys.executable, "-m", "qualtrics_assets", "sync", "--survey", survey_id], env)
    assert responses_by_survey(env)[survey_id] == sb.account.response_counts(survey_id)["auditable"]
    sb.account.add_responses(survey_id, 2)
    run([str(BIN / "dg"), "launch", "--job", "qualtrics_survey_job", "--partition", survey_id], env)
    assert responses_by_survey(env)[survey_id] == sb.account.response_counts(survey_id)["auditable"]


def test_dagster_job_execute_runs_the_account_job(cli_env):
    sb, env = cli_env
    run([str(BIN / "dagster"), "job", "execute", "-m", "qualtrics_assets.definitions", "-j", "qualtrics_account_job"], env)
    with duckdb.connect(env["QUALTRICS_WAREHOUSE"], read_only=True) as con:
        assert con.execute("SELECT count(*) FROM qualtrics.surveys").fetchone()[0] == len(sb.survey_ids)


def test_a_bad_survey_id_is_refused_clearly(cli_env):
    _, env = cli_env
    result = subprocess.run(
        [sys.executable, "-m", "qualtrics_assets", "sync", "--survey", "SV_x'; DROP TABLE x"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "is not a Qualtrics survey id" in result.stderr + result.stdout


def test_mark_mode_keeps_deleted_responses_stamped(cli_env, tmp_path):
    sb, env = cli_env
    env = {**env, "QUALTRICS_DELETED_RESPONSES": "mark", "QUALTRICS_WAREHOUSE": str(tmp_path / "marked.duckdb"),
           "DAGSTER_HOME": str(tmp_path)}
    survey_id = sb.survey_ids[0]
    run([sys.executable, "-m", "qualtrics_assets", "sync", "--survey", survey_id], env)
    gone = sb.account.response_ids(survey_id)[:2]
    sb.account.delete_responses(survey_id, gone)
    run([sys.executable, "-m", "qualtrics_assets", "sync", "--survey", survey_id], env)
    with duckdb.connect(env["QUALTRICS_WAREHOUSE"], read_only=True) as con:
        marked = con.execute(
            "SELECT response_id FROM qualtrics.responses WHERE deleted_at IS NOT NULL ORDER BY 1"
        ).fetchall()
        live = con.execute("SELECT count(*) FROM qualtrics.responses WHERE deleted_at IS NULL").fetchone()[0]
        answers_of_gone = con.execute(
            "SELECT count(*) FROM qualtrics.answers WHERE response_id IN (?, ?)", gone
        ).fetchone()[0]
    assert [r[0] for r in marked] == sorted(gone)
    assert live == sb.account.response_counts(survey_id)["auditable"]
    assert answers_of_gone > 0  # mark mode keeps every row; join to responses to filter
