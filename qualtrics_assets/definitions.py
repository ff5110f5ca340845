"""The Definitions object Dagster loads: assets, checks, jobs, sensor and resources, from env.

Environment (all read at launch, see .env.example): QUALTRICS_BASE_URL, QUALTRICS_CLIENT_ID,
QUALTRICS_CLIENT_SECRET or QUALTRICS_API_TOKEN for Qualtrics; QUALTRICS_WAREHOUSE for the DuckDB
file; the freshness and sensor cadence knobs in settings.py.
"""

import dagster as dg
from dagster_duckdb import DuckDBResource

from qualtrics_assets.assets.account import surveys, users
from qualtrics_assets.assets.in_progress import responses_in_progress
from qualtrics_assets.assets.responses import survey_responses
from qualtrics_assets.assets.survey_contents import survey_contents
from qualtrics_assets.checks import build_checks
from qualtrics_assets.jobs import account_job, account_schedule, survey_job
from qualtrics_assets.resource import QualtricsResource
from qualtrics_assets.sensors import build_survey_sensor
from qualtrics_assets.settings import SETTINGS
from qualtrics_assets.warehouse.io_manager import QualtricsWarehouseIOManager, warehouse_path


def default_resources() -> dict[str, object]:
    """Qualtrics from QUALTRICS_* env vars, the warehouse at QUALTRICS_WAREHOUSE."""
    warehouse = DuckDBResource(database=warehouse_path())
    return {
        "qualtrics": QualtricsResource.from_env(),
        "warehouse": warehouse,
        "io_manager": QualtricsWarehouseIOManager(duckdb=warehouse),
    }


def build_definitions(resources: dict[str, object]) -> dg.Definitions:
    """Everything this project defines, bound to `resources` (tests bind the sandbox)."""
    return dg.Definitions(
        assets=[users, surveys, survey_contents, survey_responses, responses_in_progress],
        asset_checks=build_checks(SETTINGS.survey_freshness.total_seconds() / 3600),
        jobs=[account_job, survey_job],
        schedules=[account_schedule],
        sensors=[
            build_survey_sensor(
                survey_job,
                interval_seconds=SETTINGS.sensor_interval_seconds,
                refresh_every=SETTINGS.survey_refresh_every,
                max_count_reads=SETTINGS.sensor_max_count_reads,
            )
        ],
        resources=resources,
        # A run is one survey (or the account): its steps are API-bound and share one client and
        # OAuth token in-process; parallelism comes from concurrent runs, one per partition.
        executor=dg.in_process_executor,
    )


defs = build_definitions(default_resources())
