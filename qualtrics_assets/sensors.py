"""The discovery sensor: registers new surveys as partitions and requests refresh runs.

API calls per tick: ceil(surveys / 100) list pages + at most `max_count_reads` GET /surveys/{id}
(response counts of active surveys). No tick ever starts an export: exports run in the
requested runs, under the export concurrency pool.
"""

from datetime import datetime, timedelta, timezone

import dagster as dg

from qualtrics_assets.qualtrics import QualtricsError, validate_survey_id
from qualtrics_assets.partitions import survey_partitions
from qualtrics_assets.refresh_plan import dump_cursor, load_cursor, plan_refreshes, surveys_to_read
from qualtrics_assets.resource import QualtricsResource

SENSOR_NAME = "qualtrics_survey_sensor"


def _response_counts(detail: dict) -> list[int]:
    counts = detail.get("responseCounts") or {}
    return [int(counts.get(k) or 0) for k in ("auditable", "generated", "deleted")]


def build_survey_sensor(
    survey_job,
    interval_seconds: int,
    refresh_every: timedelta,
    max_count_reads: int,
) -> dg.SensorDefinition:
    @dg.sensor(
        name=SENSOR_NAME,
        job=survey_job,
        minimum_interval_seconds=interval_seconds,
        description=(
            "Lists Qualtrics surveys; adds new ones as partitions and refreshes surveys that are "
            "new, changed, received or lost responses, or (if active) were last synced more than "
            f"{refresh_every} ago."
        ),
    )
    def qualtrics_survey_sensor(context: dg.SensorEvaluationContext, qualtrics: QualtricsResource):
        client = qualtrics.get_client()
        listed = {}
        for survey in client.iter_surveys():
            try:
                listed[validate_survey_id(survey.get("id"))] = survey
            except ValueError as error:
                context.log.warning(f"Skipping a survey Qualtrics listed with a malformed id: {error}")
        states = load_cursor(context.cursor)
        to_read = surveys_to_read(listed, states, max_count_reads)
        counts = {}
        for sid in to_read:
            try:
                counts[sid] = _response_counts(client.get_survey(sid))
            except QualtricsError as error:  # deleted or restricted since it was listed
                context.log.warning(f"Could not read the response counts of {sid}: {error}")
        plan = plan_refreshes(
            listed,
            set(context.instance.get_dynamic_partitions(survey_partitions.name)),
            states,
            counts,
            datetime.now(timezone.utc).replace(tzinfo=None),
            refresh_every,
        )
        run_requests = [
            dg.RunRequest(run_key=r.run_key, partition_key=r.survey_id, tags={"qualtrics/refresh_reason": r.reason})
            for r in plan.refreshes
        ]
        return dg.SensorResult(
            run_requests=run_requests,
            dynamic_partitions_requests=(
                [survey_partitions.build_add_request(plan.new_survey_ids)] if plan.new_survey_ids else []
            ),
            cursor=dump_cursor(states),
            skip_reason=None if run_requests else f"{len(listed)} surveys, none changed ({len(to_read)} counts read)",
        )

    return qualtrics_survey_sensor
