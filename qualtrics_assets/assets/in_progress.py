"""Unfinished sessions of a survey (`FS_…`), replaced whole on every sync.

They come from their own export (exportResponsesInProgress) and land in their own table: when a
session completes, Qualtrics records it under a new `R_` id, so merging the two would double count.
"""

import dagster as dg

from qualtrics_assets import erd
from qualtrics_assets.assets.common import (
    BATCH_SIZE,
    EXPORT_POOL,
    GROUP,
    KEY_PREFIX,
    KINDS,
    SURVEY_FRESHNESS,
    ApiUsage,
    response_normalizer,
    survey_partition,
)
from qualtrics_assets.partitions import survey_partitions
from qualtrics_assets.resource import QualtricsResource
from qualtrics_assets.warehouse.staging import StagedTable, TableStager



@dg.asset(
    key=[KEY_PREFIX, "responses_in_progress"],
    group_name=GROUP,
    kinds=KINDS,
    partitions_def=survey_partitions,
    freshness_policy=SURVEY_FRESHNESS,
    deps=[dg.AssetKey([KEY_PREFIX, "questions"])],
    pool=EXPORT_POOL,
)
def responses_in_progress(context: dg.AssetExecutionContext, qualtrics: QualtricsResource) -> StagedTable:
    """Sessions started but not yet recorded: who is mid-survey right now, and how far they got."""
    survey_id = survey_partition(context)
    client = qualtrics.get_client()
    usage = ApiUsage(client)
    _, normalizer = response_normalizer(client, survey_id)
    columns = erd.RESPONSES_IN_PROGRESS.column_names
    with TableStager(erd.RESPONSES_IN_PROGRESS) as stager, client.export_responses(survey_id, in_progress=True) as export:
        for frames in normalizer.iter_batches(export.records(), batch_size=BATCH_SIZE):
            stager.write(frames["responses"][columns])
    context.add_output_metadata(usage.metadata())
    return stager.finish()
