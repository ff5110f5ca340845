"""Account-level tables: the brand's users and its surveys (unpartitioned, refreshed whole)."""

import dagster as dg
import pandas as pd

from qualtrics_assets.assets.common import ACCOUNT_FRESHNESS, GROUP, KEY_PREFIX, KINDS, ApiUsage, loaded_at
from qualtrics_assets.normalize.surveys import surveys_frame
from qualtrics_assets.normalize.users import users_frame
from qualtrics_assets.resource import QualtricsResource


@dg.asset(key_prefix=KEY_PREFIX, group_name=GROUP, kinds=KINDS, freshness_policy=ACCOUNT_FRESHNESS)
def users(context: dg.AssetExecutionContext, qualtrics: QualtricsResource) -> pd.DataFrame:
    """Every user of the Qualtrics brand (GET /users). Needs the read:users scope."""
    client = qualtrics.get_client()
    usage = ApiUsage(client)
    frame = users_frame(client.iter_users(), loaded_at())
    context.add_output_metadata(usage.metadata())
    return frame


@dg.asset(key_prefix=KEY_PREFIX, group_name=GROUP, kinds=KINDS, freshness_policy=ACCOUNT_FRESHNESS)
def surveys(context: dg.AssetExecutionContext, qualtrics: QualtricsResource) -> pd.DataFrame:
    """Every survey the credentials can see, with status, dates and Qualtrics' response counts."""
    client = qualtrics.get_client()
    usage = ApiUsage(client)
    listed = list(client.iter_surveys())
    details = {s["id"]: client.get_survey(s["id"]) for s in listed}
    frame = surveys_frame(listed, details, loaded_at())
    context.add_output_metadata(usage.metadata())
    return frame
