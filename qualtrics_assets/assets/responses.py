"""Per-survey responses: one streamed export yields responses, answers and embedded data.

The export is downloaded to a temporary file, read record by record, normalized in bounded
batches and spooled to Parquet per table; the IO manager then swaps each table's partition in
one transaction. No step holds a whole export or a whole `answers` partition in memory.
"""

import time

import dagster as dg

from qualtrics_assets import erd
from qualtrics_assets.assets.common import (
    EXPORT_POOL,
    GROUP,
    KEY_PREFIX,
    KINDS,
    SURVEY_FRESHNESS,
    ApiUsage,
    loaded_at,
    survey_partition,
)
from qualtrics_assets.normalize.definitions import question_index
from qualtrics_assets.normalize.responses import ResponseNormalizer
from qualtrics_assets.partitions import survey_partitions
from qualtrics_assets.resource import QualtricsResource
from qualtrics_assets.warehouse.staging import TableStager

_TABLES = {
    "responses": "One row per recorded response, metadata typed.",
    "answers": "One row per exported answer value (long format).",
    "embedded_data": "Embedded-data fields per response (long format).",
}
BATCH_SIZE = 20_000
COUNT_CHECK = "responses_match_qualtrics_count"


@dg.multi_asset(
    outs={
        name: dg.AssetOut(
            key=[KEY_PREFIX, name],
            description=description,
            group_name=GROUP,
            kinds=KINDS,
            freshness_policy=SURVEY_FRESHNESS,
        )
        for name, description in _TABLES.items()
    },
    partitions_def=survey_partitions,
    deps=[dg.AssetKey([KEY_PREFIX, "questions"])],
    check_specs=[
        dg.AssetCheckSpec(
            COUNT_CHECK,
            asset=dg.AssetKey([KEY_PREFIX, "responses"]),
            description="The survey's exported responses number what Qualtrics' responseCounts.auditable says.",
        )
    ],
    pool=EXPORT_POOL,
)
def survey_responses(context: dg.AssetExecutionContext, qualtrics: QualtricsResource):
    """Export the survey's responses (NDJSON) and normalize them into three long tables.

    The definition is fetched too: it says which export keys are matrix rows, recodes, loops
    or embedded data, and it is read from the API so this never waits on another table.
    """
    survey_id = survey_partition(context)
    client = qualtrics.get_client()
    usage = ApiUsage(client)
    normalizer = ResponseNormalizer(survey_id, question_index(client.get_survey_definition(survey_id)), loaded_at())
    expected = (client.get_survey(survey_id).get("responseCounts") or {}).get("auditable")
    stagers = {name: TableStager(erd.table(name)) for name in _TABLES}
    started = time.monotonic()
    try:
        # sortByLastModifiedDate makes Qualtrics export each response's _lastModifiedDate.
        with client.export_responses(survey_id, sort_by_last_modified=True) as export:
            for frames in normalizer.iter_batches(export.records(), batch_size=BATCH_SIZE):
                for name, frame in frames.items():
                    stagers[name].write(frame)
            export_bytes = export.file_size
    except BaseException:
        for stager in stagers.values():
            stager.finish().cleanup()
        raise
    staged = {name: stager.finish() for name, stager in stagers.items()}
    metadata = {
        **usage.metadata(),
        "qualtrics/export_bytes": export_bytes,
        "qualtrics/export_seconds": round(time.monotonic() - started, 3),
    }
    exported = staged["responses"].row_count
    for name, table in staged.items():
        yield dg.Output(table, output_name=name, metadata=metadata)
    yield dg.AssetCheckResult(
        check_name=COUNT_CHECK,
        asset_key=dg.AssetKey([KEY_PREFIX, "responses"]),
        passed=expected is None or int(expected) == exported,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"exported {exported} responses; Qualtrics counts {expected} (responseCounts.auditable)",
        metadata={"exported": exported, "qualtrics_auditable": -1 if expected is None else int(expected)},
    )
