"""What every Qualtrics asset shares: key prefix, group, kinds, run timestamp, API-call metadata."""

from collections.abc import Mapping

import dagster as dg
import pandas as pd

from qualtrics_assets import erd
from qualtrics_assets.normalize.definitions import question_index
from qualtrics_assets.qualtrics import ResponseExport, validate_survey_id
from qualtrics_assets.normalize.responses import ResponseNormalizer
from qualtrics_assets.settings import SETTINGS
from qualtrics_assets.warehouse.staging import StagedTable

KEY_PREFIX = "qualtrics"
GROUP = "qualtrics"
KINDS = {"qualtrics", "duckdb", "pandas"}
# Runs that export responses share this Dagster concurrency pool: Qualtrics allows few exports
# per minute per brand, so parallel survey runs queue here instead of failing with 429s.
EXPORT_POOL = "qualtrics_exports"
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
    normalizer = ResponseNormalizer(survey_id, question_index(definition), loaded_at(),
                                    memory_limit=SETTINGS.duckdb_memory_limit)
    return definition, normalizer


def stage_export(normalizer: ResponseNormalizer, export: ResponseExport,
                 tables: Mapping[str, erd.Table]) -> dict[str, StagedTable]:
    """Normalize an open export (made with `extract=True`) into one staged table per entry of
    `tables` (normalized table name -> the erd table it lands in); nothing is left on failure."""
    staged = {name: StagedTable.create(table) for name, table in tables.items()}
    try:
        normalized = normalizer.stage(export.record_files(), {name: t.directory for name, t in staged.items()})
    except BaseException:
        for table in staged.values():
            table.cleanup()
        raise
    for name, table in staged.items():
        table.files, table.row_count, table.query, table.setup = normalized[name]
    return staged


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
