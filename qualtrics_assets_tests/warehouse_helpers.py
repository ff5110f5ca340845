"""Shared test plumbing: definitions bound to a running sandbox and a temporary warehouse."""

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from qualtrics_assets.definitions import build_definitions
from qualtrics_assets.resource import QualtricsResource
from qualtrics_assets.warehouse.io_manager import QualtricsWarehouseIOManager

# Fast polling and backoff: tests assert behaviour by counts, never by wall time.
FAST_CLIENT = dict(poll_initial_s=0.01, poll_max_s=0.05, backoff_initial_s=0.01, backoff_max_s=0.05)


def sandbox_resource(sb, **overrides) -> QualtricsResource:
    return QualtricsResource(
        base_url=sb.base_url, client_id=sb.client_id, client_secret=sb.client_secret, **{**FAST_CLIENT, **overrides}
    )


def sandbox_definitions(sb, warehouse_file: str, **client_overrides) -> dg.Definitions:
    warehouse = DuckDBResource(database=warehouse_file)
    return build_definitions(
        {
            "qualtrics": sandbox_resource(sb, **client_overrides),
            "warehouse": warehouse,
            "io_manager": QualtricsWarehouseIOManager(duckdb=warehouse),
        }
    )


def sync_all(defs: dg.Definitions, instance: dg.DagsterInstance, survey_ids: list[str]) -> None:
    """Account job, then every survey partition; fails the test on the first failed run."""
    assert defs.resolve_job_def("qualtrics_account_job").execute_in_process(instance=instance).success
    instance.add_dynamic_partitions("survey", [s for s in survey_ids if not instance.has_dynamic_partition("survey", s)])
    job = defs.resolve_job_def("qualtrics_survey_job")
    for survey_id in survey_ids:
        assert job.execute_in_process(instance=instance, partition_key=survey_id).success, survey_id


def rows(warehouse_file: str, table: str, where: str = "TRUE", params: list | None = None) -> list[dict]:
    """Rows of `qualtrics.<table>` as dicts, without `_loaded_at` (ground truth has none)."""
    with duckdb.connect(warehouse_file, read_only=True) as con:
        cursor = con.execute(f"SELECT * FROM qualtrics.{table} WHERE {where}", params or [])
        names = [d[0] for d in cursor.description]
        return [{k: v for k, v in zip(names, r) if k != "_loaded_at"} for r in cursor.fetchall()]
