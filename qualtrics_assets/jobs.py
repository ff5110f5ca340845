"""Jobs: the account tables, and the per-survey tables (run once per survey partition); and the
schedule that keeps the account tables fresh (the sensor keeps the survey tables fresh)."""

import dagster as dg

from qualtrics_assets.settings import SETTINGS

from qualtrics_assets.assets.account import surveys, users
from qualtrics_assets.assets.in_progress import responses_in_progress
from qualtrics_assets.assets.responses import survey_responses
from qualtrics_assets.assets.survey_contents import survey_contents

account_job = dg.define_asset_job(
    "qualtrics_account_job",
    selection=dg.AssetSelection.assets(users, surveys),
    description="Users and surveys of the Qualtrics account.",
)

survey_job = dg.define_asset_job(
    "qualtrics_survey_job",
    selection=dg.AssetSelection.assets(survey_contents, survey_responses, responses_in_progress),
    description="Questions, options, sub-questions, responses (new and changed since the last sync), "
    "answers, embedded data and in-progress sessions of one survey.",
)

account_schedule = dg.ScheduleDefinition(
    name="qualtrics_account_schedule",
    job=account_job,
    cron_schedule=SETTINGS.account_cron,
    execution_timezone="UTC",
    description="Refreshes users and surveys (with Qualtrics' response counts); QUALTRICS_ACCOUNT_CRON.",
)
