"""Reading and writing `sync_state`: the incremental-sync bookkeeping kept beside the data."""

from datetime import datetime, timezone

from dagster_duckdb import DuckDBResource

from qualtrics_assets import erd
from qualtrics_assets.incremental import SyncState
from qualtrics_assets.warehouse.connection import connect
from qualtrics_assets.warehouse.ddl import ensure_table

_STATE_FIELDS = (
    "continuation_token",
    "token_issued_at",
    "watermark",
    "deleted_count_seen",
    "reconciled_at",
    "definition_modified",
    "last_mode",
)


def read_sync_state(resource: DuckDBResource, survey_id: str) -> SyncState | None:
    with connect(resource) as con:
        ensure_table(con, erd.SYNC_STATE)
        row = con.execute(
            f"SELECT {', '.join(_STATE_FIELDS)} FROM {erd.SYNC_STATE.qualified_name} WHERE survey_id = ?", [survey_id]
        ).fetchone()
    return None if row is None else SyncState(**dict(zip(_STATE_FIELDS, row)))


def write_sync_state(con, partitions: list[str], state: dict, run_id: str) -> None:
    """Upsert the state inside the caller's transaction; the watermark comes from the data itself."""
    (survey_id,) = partitions
    ensure_table(con, erd.SYNC_STATE)
    ensure_table(con, erd.RESPONSES)
    watermark = con.execute(
        f"SELECT max(coalesce(last_modified_date, recorded_date)) FROM {erd.RESPONSES.qualified_name}"
        " WHERE survey_id = ?",
        [survey_id],
    ).fetchone()[0]
    values = {**state, "watermark": watermark}
    con.execute(
        f"INSERT OR REPLACE INTO {erd.SYNC_STATE.qualified_name}"
        f" (survey_id, {', '.join(_STATE_FIELDS)}, synced_at, run_id) VALUES ({', '.join('?' * (len(_STATE_FIELDS) + 3))})",
        [survey_id, *(values.get(f) for f in _STATE_FIELDS), datetime.now(timezone.utc).replace(tzinfo=None), run_id],
    )
