"""Unfinished sessions of a survey (`FS_…`), replaced whole on every sync.

They come from their own export (exportResponsesInProgress) and land in their own table: when a
session completes, Qualtrics records it under a new `R_` id, so merging the two would double count.
"""

import dagster as dg

from qualtrics_assets import erd
from qualtrics_assets.assets.common import (
    EXPORT_POOL,
    GROUP,
    KEY_PREFIX,
    KINDS,
    SURVEY_FRESHNESS,
    ApiUsage,
    response_normalizer,
    stage_export,
    survey_partition,
)
from qualtrics_assets.partitions import survey_partitions
from qualtrics_assets.resource import QualtricsResource
from qualtrics_assets.warehouse.staging import StagedTable


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
    with client.export_responses(survey_id, in_progress=True, extract=True) as export:
        staged = stage_export(normalizer, export, {"responses": erd.RESPONSES_IN_PROGRESS})
    context.add_output_metadata(usage.metadata())
    return staged["responses"]
