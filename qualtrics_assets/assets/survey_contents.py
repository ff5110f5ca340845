"""Per-survey structure: one survey definition yields questions, options and sub-questions."""

import dagster as dg

from qualtrics_assets.assets.account import surveys
from qualtrics_assets.assets.common import ApiUsage, loaded_at, survey_partition, survey_table_outs
from qualtrics_assets.normalize.definitions import definition_frames
from qualtrics_assets.partitions import survey_partitions
from qualtrics_assets.resource import QualtricsResource

_TABLES = {
    "questions": "Every question of the survey, trash-block questions flagged.",
    "question_options": "Answer options and scale points with recode values.",
    "sub_questions": "Matrix, slider, form and side-by-side statements.",
}


@dg.multi_asset(
    outs=survey_table_outs(_TABLES),
    partitions_def=survey_partitions,
    deps=[surveys],
)
def survey_contents(context: dg.AssetExecutionContext, qualtrics: QualtricsResource):
    """Fetch the survey definition once and normalize it into the three structure tables.

    It reads the definition from the API rather than from the `surveys` table, so a survey
    partition never fails because the account tables were not built yet.
    """
    survey_id = survey_partition(context)
    client = qualtrics.get_client()
    usage = ApiUsage(client)
    frames = definition_frames(survey_id, client.get_survey_definition(survey_id), loaded_at())
    metadata = usage.metadata()
    for name in _TABLES:
        yield dg.Output(frames[name], output_name=name, metadata=metadata)
