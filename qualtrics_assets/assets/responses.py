"""Per-survey responses: one streamed export yields responses, answers and embedded data.

The export is downloaded and inflated to a temporary file, DuckDB normalizes it into one Parquet
file per table (normalize/responses.py), and the IO manager writes each table in one
transaction. No step holds a whole export or a whole `answers` partition in memory.

Syncs are incremental (see incremental.py): the first is a full export that replaces the
partition; later ones send Qualtrics' continuation token and merge only the changed responses.
The sync state rides on the last table written, so it never runs ahead of the data: a run that
fails anywhere is followed by one that re-exports from the same token and merges idempotently.
"""

import time
from datetime import datetime, timezone

import dagster as dg
from dagster_duckdb import DuckDBResource

from qualtrics_assets import erd
from qualtrics_assets.assets.common import (
    EXPORT_POOL,
    KEY_PREFIX,
    ApiUsage,
    response_normalizer,
    stage_export,
    survey_partition,
    survey_table_outs,
)
from qualtrics_assets.incremental import FULL, ExportPlan, candidate_plans, needs_reconciliation
from qualtrics_assets.normalize.responses import ResponseNormalizer
from qualtrics_assets.partitions import survey_partitions
from qualtrics_assets.qualtrics import ExportTooLargeError, QualtricsClient, RequestError
from qualtrics_assets.resource import QualtricsResource
from qualtrics_assets.settings import SETTINGS
from qualtrics_assets.warehouse.connection import connect
from qualtrics_assets.warehouse.staging import RESPONSE_KEYS, StagedTable, staged_keys
from qualtrics_assets.warehouse.sync_state import read_sync_state

_TABLES = {
    "responses": "One row per recorded response, metadata typed.",
    "answers": "One row per exported answer value (long format).",
    "embedded_data": "Embedded-data fields per response (long format).",
}
COUNT_CHECK = "responses_match_qualtrics_count"
# An ids-only export: enough to tell which responses still exist in Qualtrics.
IDS_ONLY = {"questionIds": [], "embeddedDataIds": [], "surveyMetadataIds": ["recordedDate"]}


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _export(client: QualtricsClient, survey_id: str, plan: ExportPlan, normalizer: ResponseNormalizer):
    """Run one export and stage its tables; returns (staged tables, continuation token, bytes)."""
    with client.export_responses(survey_id, extract=True, **plan.export_kwargs) as export:
        staged = stage_export(normalizer, export, {name: erd.table(name) for name in _TABLES})
        return staged, export.continuation_token, export.file_size


def _first_accepted_export(context, client: QualtricsClient, survey_id: str, normalizer: ResponseNormalizer,
                           plans: list[ExportPlan]):
    """Run the first plan Qualtrics accepts; returns (plan, staged tables, continuation token, bytes)."""
    for plan in plans[:-1]:
        try:
            return (plan, *_export(client, survey_id, plan, normalizer))
        except (RequestError, ExportTooLargeError) as error:
            context.log.warning(f"Qualtrics refused the {plan.mode} export of {survey_id} ({error}); trying the next")
    return (plans[-1], *_export(client, survey_id, plans[-1], normalizer))


def _live_ids(client: QualtricsClient, survey_id: str, normalizer: ResponseNormalizer) -> StagedTable:
    """Ids of every response Qualtrics still has (a cheap export with no answers)."""
    with client.export_responses(survey_id, options=IDS_ONLY, extract=True) as export:
        return stage_export(normalizer, export, {"responses": RESPONSE_KEYS})["responses"]


def _plan_writes(staged: dict[str, StagedTable], mode: str, keys: StagedTable, live: StagedTable | None,
                 mark: bool) -> None:
    """How each table takes the export: replace the partition, or merge by response id.

    Delete mode: a full export replaces the partition; otherwise rows of the exported responses
    are replaced and, after a reconciliation, responses Qualtrics no longer has are removed.
    Mark mode keeps every row: all tables merge, and vanished responses get `deleted_at`.
    """
    vanished_check = live.files if live is not None else (keys.files if mode == FULL else None)
    for name, table in staged.items():
        if mark:
            table.merge_keys = keys.files
            if name == "responses":
                table.live_keys, table.on_vanished = vanished_check, "mark"
        elif mode != FULL:
            table.merge_keys = keys.files
            table.live_keys = live.files if live is not None else None


@dg.multi_asset(
    outs=survey_table_outs(_TABLES),
    partitions_def=survey_partitions,
    deps=[dg.AssetKey([KEY_PREFIX, "questions"])],
    check_specs=[
        dg.AssetCheckSpec(
            COUNT_CHECK,
            asset=dg.AssetKey([KEY_PREFIX, "responses"]),
            description="The survey's responses in the warehouse number what Qualtrics' responseCounts.auditable says.",
        )
    ],
    pool=EXPORT_POOL,
)
def survey_responses(context: dg.AssetExecutionContext, qualtrics: QualtricsResource, warehouse: DuckDBResource):
    """Export the survey's new and changed responses (NDJSON) into three long tables.

    The definition is fetched too: it says which export keys are matrix rows, recodes, loops
    or embedded data, and it is read from the API so this never waits on another table.
    """
    survey_id = survey_partition(context)
    client = qualtrics.get_client()
    usage = ApiUsage(client)
    state = read_sync_state(warehouse, survey_id)
    counts = client.get_survey(survey_id).get("responseCounts") or {}
    definition, normalizer = response_normalizer(client, survey_id)
    started = time.monotonic()
    plan, staged, token, export_bytes = _first_accepted_export(
        context, client, survey_id, normalizer,
        candidate_plans(state, SETTINGS.fallback_overlap, definition.get("LastModified")),
    )
    export_seconds = round(time.monotonic() - started, 3)
    now = _now()
    reconcile = needs_reconciliation(plan.mode, state, counts.get("deleted"), now, SETTINGS.reconcile_every)
    keys = None
    try:
        keys = staged_keys(staged["responses"])
        live = _live_ids(client, survey_id, normalizer) if reconcile else None
    except BaseException:
        for leftover in (keys, *staged.values()):
            if leftover is not None:
                leftover.cleanup()
        raise
    if live is not None and live.row_count < int(counts.get("auditable") or 0):
        # A short list would delete live responses: trust it only when it is complete.
        context.log.warning(
            f"{survey_id}: the ids-only export listed {live.row_count} responses but Qualtrics counts "
            f"{counts.get('auditable')}; skipping deletion reconciliation this run"
        )
        live.cleanup()
        live, reconcile = None, False
    _plan_writes(staged, plan.mode, keys, live, mark=SETTINGS.deleted_responses == "mark")
    staged["embedded_data"].sync_state = {
        "continuation_token": token,
        "token_issued_at": now if token else None,
        "deleted_count_seen": counts.get("deleted"),
        "reconciled_at": now if (reconcile or plan.mode == FULL) else (state.reconciled_at if state else None),
        "definition_modified": definition.get("LastModified"),
        "last_mode": plan.mode,
    }
    exported = staged["responses"].row_count
    metadata = {
        **usage.metadata(),
        "qualtrics/sync_mode": plan.mode,
        "qualtrics/exported_responses": exported,
        "qualtrics/export_bytes": export_bytes,
        "qualtrics/export_seconds": export_seconds,
        "qualtrics/reconciled_deletions": reconcile,
    }
    try:
        for name, table in staged.items():
            yield dg.Output(table, output_name=name, metadata=metadata)
    finally:  # the IO manager removes what it wrote; a failed write leaves the rest to us
        for leftover in (keys, live, *staged.values()):
            if leftover is not None:
                leftover.cleanup()
    yield _count_check(warehouse, survey_id, counts.get("auditable"))


def _count_check(warehouse: DuckDBResource, survey_id: str, expected) -> dg.AssetCheckResult:
    """Compare the partition, as committed, with Qualtrics' count (SQL, not the staged rows)."""
    with connect(warehouse) as con:
        landed = con.execute(
            f"SELECT count(*) FROM {erd.RESPONSES.qualified_name} WHERE survey_id = ? AND deleted_at IS NULL",
            [survey_id],
        ).fetchone()[0]
    return dg.AssetCheckResult(
        check_name=COUNT_CHECK,
        asset_key=dg.AssetKey([KEY_PREFIX, "responses"]),
        passed=expected is None or int(expected) == landed,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{landed} responses in the warehouse; Qualtrics counts {expected} (responseCounts.auditable)",
        metadata={"warehouse": int(landed), "qualtrics_auditable": -1 if expected is None else int(expected)},
    )
