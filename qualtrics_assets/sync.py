"""Sync every survey (or the ones named) from the command line: no UI, no daemon.

Runs the account job, registers every listed survey as a partition, then runs the survey job
once per survey, all in this process against the Dagster instance in `DAGSTER_HOME` (so the runs
and partitions show up in `dagster dev` afterwards). One failing survey does not stop the others.
"""

import os
import sys
from pathlib import Path

import dagster as dg

from qualtrics_assets import erd
from qualtrics_assets.qualtrics import validate_survey_id
from qualtrics_assets.partitions import survey_partitions
from qualtrics_assets.warehouse.connection import connect
from qualtrics_assets.warehouse.ddl import ensure_table

DEFAULT_DAGSTER_HOME = ".dagster_home"


QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
# A new Dagster home caps concurrent response exports (Qualtrics allows few per brand), and runs
# one sync per survey at a time (two would race on the survey's sync state).
DEFAULT_INSTANCE_YAML = """\
concurrency:
  pools:
    default_limit: 3
  runs:
    tag_concurrency_limits:
      - key: dagster/partition
        value:
          applyLimitPerUniqueValue: true
        limit: 1
"""


def ensure_dagster_home(home: str | Path) -> Path:
    """Create `home` with a dagster.yaml capping export concurrency, unless one exists."""
    home = Path(home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DEFAULT_INSTANCE_YAML)
    return home


def _instance() -> dg.DagsterInstance:
    """The instance in DAGSTER_HOME; defaults to ./.dagster_home so partitions persist."""
    os.environ["DAGSTER_HOME"] = str(ensure_dagster_home(os.environ.get("DAGSTER_HOME") or DEFAULT_DAGSTER_HOME))
    return dg.DagsterInstance.get()


def _listed_survey_ids(defs: dg.Definitions) -> list[str]:
    with dg.build_resources({"qualtrics": defs.resources["qualtrics"]}) as resources:
        return sorted(validate_survey_id(s["id"]) for s in resources.qualtrics.get_client().iter_surveys())


def _failure(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error:
            return event.step_failure_data.error.message.strip().splitlines()[-1]
    return "run failed"


def landed_summary(defs: dg.Definitions) -> list[tuple[str, int, int | None]]:
    """(table, rows, surveys) for every ERD table: what a sync left behind."""
    summary = []
    with connect(defs.resources["warehouse"]) as con:
        for table in erd.TABLES:
            ensure_table(con, table)
            surveys = "count(DISTINCT survey_id)" if "survey_id" in table.column_names else "NULL"
            rows, count = con.execute(f"SELECT count(*), {surveys} FROM {table.qualified_name}").fetchone()
            summary.append((table.name, rows, count))
    return summary


def run_sync(defs: dg.Definitions, survey_ids: list[str] | None = None, out=sys.stdout) -> int:
    """Sync and print what happened; returns a process exit code (0 only if everything synced)."""
    instance = _instance()
    failures: list[str] = []
    if not survey_ids:
        account = defs.resolve_job_def("qualtrics_account_job").execute_in_process(
            instance=instance, raise_on_error=False, run_config=QUIET
        )
        print(f"account tables: {'ok' if account.success else 'FAILED: ' + _failure(account)}", file=out)
        if not account.success:
            failures.append("account")
        survey_ids = _listed_survey_ids(defs)
    survey_ids = [validate_survey_id(s) for s in survey_ids]
    new = [s for s in survey_ids if not instance.has_dynamic_partition(survey_partitions.name, s)]
    if new:
        instance.add_dynamic_partitions(survey_partitions.name, new)
    job = defs.resolve_job_def("qualtrics_survey_job")
    for survey_id in survey_ids:
        result = job.execute_in_process(
            instance=instance, partition_key=survey_id, raise_on_error=False, run_config=QUIET
        )
        print(f"{survey_id}: {'ok' if result.success else 'FAILED: ' + _failure(result)}", file=out)
        if not result.success:
            failures.append(survey_id)
    database = defs.resources["warehouse"].database
    print(f"\nwarehouse {database}:", file=out)
    for name, rows, surveys in landed_summary(defs):
        print(f"  qualtrics.{name:<22} {rows:>10} rows" + ("" if surveys is None else f" from {surveys} surveys"), file=out)
    print(
        f"\nExplore it: .venv/bin/python -c \"import duckdb; "
        f"duckdb.connect('{database}', read_only=True).sql('FROM qualtrics.answers LIMIT 10').show()\"",
        file=out,
    )
    if failures:
        print(f"\n{len(failures)} failed: {', '.join(failures)}", file=out)
        return 1
    return 0
