"""The real Dagster daemon runs the discovery sensor against the sandbox and materializes surveys.

Slowest test of the suite (a daemon, a code server and one run process per survey), so it uses
the smallest account that still has a survey with responses and one without.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb

from qualtrics_assets.sensors import SENSOR_NAME
from qualtrics_assets.sync import ensure_dagster_home
from qualtrics_assets_tests.sandbox import Sandbox

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEADLINE_S = 240


def _successful_partitions(instance: dg.DagsterInstance) -> set[str]:
    runs = instance.get_runs(filters=dg.RunsFilter(job_name="qualtrics_survey_job", statuses=[dg.DagsterRunStatus.SUCCESS]))
    return {r.tags.get("dagster/partition") for r in runs}


def _failed_runs(instance: dg.DagsterInstance) -> list[str]:
    """Each failed run's id and the errors its event log holds, to say why."""
    failed = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
    return [
        f"{run.run_id}: " + " | ".join(
            str(e.dagster_event.event_specific_data)[:800] for e in instance.all_logs(run.run_id)
            if e.dagster_event and e.dagster_event.is_failure
        )
        for run in failed
    ]


def _run_report(instance: dg.DagsterInstance) -> str:
    """Every run's status and last events: what a stuck sensor run was doing."""
    lines = []
    for run in instance.get_runs():
        lines.append(f"{run.run_id} {run.tags.get('dagster/partition')} {run.status}")
        lines += [f"    {e.dagster_event.event_type_value if e.dagster_event else ''} {e.user_message[:300]}"
                  for e in instance.all_logs(run.run_id)[-6:]]
    return "\n".join(lines)


def test_daemon_sensor_runs_materialize_the_survey_tables(tmp_path):
    home = ensure_dagster_home(tmp_path / "home")  # the instance config users get: pools, one run per survey
    warehouse = tmp_path / "warehouse.duckdb"
    with Sandbox(seed=9, survey_sizes=[12, 0], export_polls=1) as sb:
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "QUALTRICS_BASE_URL": sb.base_url,
            "QUALTRICS_CLIENT_ID": sb.client_id,
            "QUALTRICS_CLIENT_SECRET": sb.client_secret,
            "QUALTRICS_WAREHOUSE": str(warehouse),
            "QUALTRICS_SENSOR_INTERVAL_SECONDS": "5",
        }
        env.pop("QUALTRICS_API_TOKEN", None)
        pointer = ["-m", "qualtrics_assets.definitions"]
        subprocess.run([str(BIN / "dagster"), "sensor", "start", *pointer, SENSOR_NAME],
                       cwd=REPO, env=env, check=True, capture_output=True, timeout=120)
        # Logs go to a file: an undrained pipe fills up and blocks every process writing to it.
        log = (tmp_path / "daemon.log").open("w")
        daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", *pointer], cwd=REPO, env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            instance = dg.DagsterInstance.from_config(str(home))
            deadline = time.monotonic() + DEADLINE_S
            while _successful_partitions(instance) != set(sb.survey_ids) and time.monotonic() < deadline:
                assert not _failed_runs(instance), f"a sensor run failed: {_failed_runs(instance)}"
                assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
                time.sleep(3)
            assert _successful_partitions(instance) == set(sb.survey_ids), _run_report(instance)
            assert set(instance.get_dynamic_partitions("survey")) == set(sb.survey_ids)
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(timeout=60)
            log.close()
        with duckdb.connect(str(warehouse), read_only=True) as con:
            landed = dict(con.execute("SELECT survey_id, count(*) FROM qualtrics.questions GROUP BY 1").fetchall())
            responses = con.execute("SELECT count(*) FROM qualtrics.responses").fetchone()[0]
        assert set(landed) == set(sb.survey_ids)
        assert responses == 12
