"""What every Qualtrics asset shares: key prefix, group, kinds, run timestamp, API-call metadata."""

import dagster as dg
import pandas as pd

from qualtrics_assets.normalize.definitions import question_index
from qualtrics_assets.qualtrics import validate_survey_id
from qualtrics_assets.normalize.responses import ResponseNormalizer
from qualtrics_assets.settings import SETTINGS

KEY_PREFIX = "qualtrics"
GROUP = "qualtrics"
KINDS = {"qualtrics", "duckdb", "pandas"}
# Runs that export responses share this Dagster concurrency pool: Qualtrics allows few exports
# per minute per brand, so parallel survey runs queue here instead of failing with 429s.
EXPORT_POOL = "qualtrics_exports"
# Export records normalized per batch: 5,000 kept a 100k-response sync near 0.5 GB peak RSS
# at the speed of 20,000 (benchmarks/run.py).
BATCH_SIZE = 5_000
# Shown as asset health in the UI and evaluated by the freshness daemon, no sensor needed.
ACCOUNT_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=SETTINGS.account_freshness)
SURVEY_FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=SETTINGS.survey_freshness)


def survey_table_outs(tables: dict[str, str]) -> dict[str, dg.AssetOut]:
    """Outputs of a per-survey multi-asset: one `qualtrics/<table>` asset per entry."""
    return {
        name: dg.AssetOut(
            key=[KEY_PREFIX, name],
            description=description,
            group_name=GROUP,
            kinds=KINDS,
            freshness_policy=SURVEY_FRESHNESS,
        )
        for name, description in tables.items()
    }


def response_normalizer(client, survey_id: str) -> tuple[dict, ResponseNormalizer]:
    """The survey definition and a normalizer that reads export keys through it."""
    definition = client.get_survey_definition(survey_id)
    return definition, ResponseNormalizer(survey_id, question_index(definition), loaded_at())


def loaded_at() -> pd.Timestamp:
    """One naive-UTC timestamp per materialization, written to every row's `_loaded_at`."""
    return pd.Timestamp.now(tz="UTC").tz_localize(None)


def survey_partition(context: dg.AssetExecutionContext) -> str:
    """The run's survey id, validated before it reaches a URL or SQL."""
    return validate_survey_id(context.partition_key)


class ApiUsage:
    """API calls, retries and waits made since creation: what users look at when a sync is slow.

    The client is shared by every asset of a process, so each asset reports the difference.
    """

    def __init__(self, client) -> None:
        self._client = client
        self._start = self._scalars()

    def _scalars(self) -> dict[str, int | float]:
        return {k: v for k, v in self._client.stats.as_dict().items() if isinstance(v, (int, float))}

    def metadata(self) -> dict[str, int | float]:
        now = self._scalars()
        return {f"qualtrics/{k}": round(v - self._start.get(k, 0), 3) for k, v in now.items()}
