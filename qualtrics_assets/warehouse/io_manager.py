"""The ERD-aware DuckDB IO manager: typed tables from erd.py, atomic partition replaces.

Why not the stock `DuckDBPandasIOManager`: it inserts by position, skips empty frames (so a survey
with no responses never gets a table), freezes the schema at the first write and knows no keys.
This one creates every table from erd.py, inserts by column name, replaces a survey's partition in
one transaction (a failed or killed write leaves the previous rows intact), adds columns erd.py
gained, and emits the table metadata the Dagster UI shows. Connections come from dagster-duckdb's
`DuckDBResource`, which retries while another process holds the file lock.
"""


import os
from datetime import datetime, timezone
from collections.abc import Sequence

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from qualtrics_assets import erd
from qualtrics_assets.qualtrics import validate_survey_id
from qualtrics_assets.warehouse.connection import connect, transaction
from qualtrics_assets.sql import quote, read_parquet
from qualtrics_assets.warehouse.ddl import ensure_table
from qualtrics_assets.warehouse.metadata import column_schema
from qualtrics_assets.warehouse.staging import StagedTable
from qualtrics_assets.warehouse.sync_state import write_sync_state

DEFAULT_WAREHOUSE = "qualtrics_warehouse.duckdb"


def warehouse_path() -> str:
    """`QUALTRICS_WAREHOUSE`, else a file whose stem differs from the `qualtrics` schema."""
    return os.environ.get("QUALTRICS_WAREHOUSE") or DEFAULT_WAREHOUSE


def _erd_table(asset_key: dg.AssetKey) -> erd.Table:
    return erd.table(asset_key.path[-1])


class QualtricsWarehouseIOManager(dg.ConfigurableIOManager):
    """Persists each Qualtrics asset as its erd.py table in DuckDB, partitioned by survey."""

    duckdb: dg.ResourceDependency[DuckDBResource]

    # ---- output ------------------------------------------------------------------------------
    def handle_output(self, context: dg.OutputContext, obj: pd.DataFrame | StagedTable) -> None:
        table = _erd_table(context.asset_key)
        partitions = self._partition_keys(context, table)
        try:
            with transaction(self.duckdb) as con:
                added = ensure_table(con, table)
                changes = self._write(con, table, obj, partitions)
                total = con.execute(f"SELECT count(*) FROM {_qualified(table)}").fetchone()[0]
                self._log_sync(con, context, table, partitions)
                if isinstance(obj, StagedTable) and obj.sync_state is not None:
                    write_sync_state(con, partitions, obj.sync_state, context.run_id)
        finally:
            if isinstance(obj, StagedTable):
                obj.cleanup()
        metadata: dict[str, object] = {
            "dagster/row_count": changes.pop("written"),
            "dagster/table_name": table.qualified_name,
            "dagster/column_schema": column_schema(table),
            "table_row_count": int(total),
            **{f"qualtrics/responses_{k}": v for k, v in changes.items()},
        }
        if added:
            metadata["columns_added"] = ", ".join(added)
        context.add_output_metadata(metadata)

    def _write(self, con, table: erd.Table, obj: pd.DataFrame | StagedTable, partitions: Sequence[str]) -> dict:
        """Replace or merge the rows, drop or mark vanished responses; count what changed."""
        merging = isinstance(obj, StagedTable) and obj.merge_keys is not None
        if merging and len(partitions) != 1:
            raise dg.DagsterInvariantViolationError(f"{table.qualified_name}: merges are per survey partition")
        counts_responses = table.primary_key == ("response_id",) and isinstance(obj, StagedTable)
        before = self._existing_ids(con, table, partitions, obj) if counts_responses else None
        if merging:
            con.execute(
                f"DELETE FROM {_qualified(table)} WHERE survey_id = ? AND response_id IN ({_keys(obj.merge_keys)})",
                [partitions[0]],
            )
        else:
            self._delete_slice(con, table, partitions)
        vanished = self._apply_vanished(con, table, obj, partitions)
        written = self._insert(con, table, obj)
        if before is None:
            return {"written": written}
        updated, previously = before
        deleted = vanished if merging else previously - updated
        return {"written": written, "added": written - updated, "updated": updated, "deleted": deleted}

    def _existing_ids(self, con, table: erd.Table, partitions: Sequence[str], obj: StagedTable) -> tuple[int, int]:
        """(staged responses already in the warehouse, responses of the partition before the write)."""
        updated, previously = con.execute(
            f"SELECT count(*) FILTER (WHERE response_id IN ({_keys(obj.files)})), count(*)"
            f" FROM {_qualified(table)} WHERE {quote(table.partition_column)} IN (SELECT unnest(?))",
            [list(partitions)],
        ).fetchone()
        return int(updated), int(previously)

    def _apply_vanished(self, con, table: erd.Table, obj, partitions: Sequence[str]) -> int:
        """Responses missing from `live_keys` were deleted in Qualtrics: remove or mark them."""
        if not isinstance(obj, StagedTable) or obj.live_keys is None:
            return 0
        gone = f"survey_id = ? AND response_id NOT IN ({_keys(obj.live_keys)})"
        if obj.on_vanished == "mark":
            return con.execute(
                f"UPDATE {_qualified(table)} SET deleted_at = ? WHERE {gone} AND deleted_at IS NULL",
                [datetime.now(timezone.utc).replace(tzinfo=None), partitions[0]],
            ).fetchone()[0]
        return con.execute(f"DELETE FROM {_qualified(table)} WHERE {gone}", [partitions[0]]).fetchone()[0]

    def _partition_keys(self, context: dg.OutputContext | dg.InputContext, table: erd.Table) -> list[str]:
        if table.partition_column is None or not context.has_asset_partitions:
            return []
        return [validate_survey_id(k) for k in context.asset_partition_keys]

    def _delete_slice(self, con, table: erd.Table, partitions: Sequence[str]) -> None:
        if table.partition_column is None:
            con.execute(f"DELETE FROM {_qualified(table)}")
            return
        if not partitions:
            raise dg.DagsterInvariantViolationError(
                f"{table.qualified_name} is partitioned by survey: materialize it for a survey partition"
            )
        con.execute(
            f"DELETE FROM {_qualified(table)} WHERE {quote(table.partition_column)} IN (SELECT unnest(?))",
            [list(partitions)],
        )

    def _insert(self, con, table: erd.Table, obj: pd.DataFrame | StagedTable) -> int:
        if isinstance(obj, StagedTable):
            if not obj.files:
                return 0
            if obj.setup:
                con.execute(obj.setup)
            columns = ", ".join(quote(c) for c in table.column_names)  # of this table, by name
            return con.execute(
                f"INSERT INTO {_qualified(table)} BY NAME SELECT {columns} FROM ({obj.select()})"
            ).fetchone()[0]
        if not isinstance(obj, pd.DataFrame):
            raise dg.DagsterInvariantViolationError(
                f"{table.qualified_name}: expected a pandas DataFrame or StagedTable, got {type(obj).__name__}"
            )
        unknown = sorted(set(obj.columns) - set(table.column_names))
        if unknown:
            raise dg.DagsterInvariantViolationError(
                f"{table.qualified_name}: columns {unknown} are not in erd.py; add them there first"
            )
        if obj.empty:
            return 0
        con.register("qa_output", obj)  # dropped with the connection
        con.execute(f"INSERT INTO {_qualified(table)} BY NAME SELECT * FROM qa_output")
        return len(obj)

    def _log_sync(self, con, context: dg.OutputContext, table: erd.Table, partitions: Sequence[str]) -> None:
        """Record the write in `sync_log`, inside the data's own transaction."""
        ensure_table(con, erd.SYNC_LOG)
        for survey_id in partitions or [erd.ALL_SURVEYS]:
            rows = con.execute(
                f"SELECT count(*) FROM {_qualified(table)}"
                + (f" WHERE {quote(table.partition_column)} = ?" if partitions else ""),
                [survey_id] if partitions else [],
            ).fetchone()[0]
            con.execute(
                f"INSERT OR REPLACE INTO {_qualified(erd.SYNC_LOG)} (table_name, survey_id, synced_at, row_count, run_id)"
                " VALUES (?, ?, ?, ?, ?)",
                [table.name, survey_id, datetime.now(timezone.utc).replace(tzinfo=None), rows, context.run_id],
            )

    # ---- input -------------------------------------------------------------------------------
    def load_input(self, context: dg.InputContext) -> pd.DataFrame:
        table = _erd_table(context.asset_key)
        partitions = self._partition_keys(context, table)
        columns = ", ".join(quote(c) for c in table.column_names)
        with connect(self.duckdb) as con:
            ensure_table(con, table)
            if partitions:
                return con.execute(
                    f"SELECT {columns} FROM {_qualified(table)}"
                    f" WHERE {quote(table.partition_column)} IN (SELECT unnest(?))",
                    [partitions],
                ).fetchdf()
            return con.execute(f"SELECT {columns} FROM {_qualified(table)}").fetchdf()


def _qualified(table: erd.Table) -> str:
    return f"{erd.SCHEMA}.{quote(table.name)}"


def _keys(paths: list) -> str:
    """A subquery of staged response ids (file paths are ours, never user input)."""
    if not paths:
        return "SELECT NULL::VARCHAR AS response_id WHERE false"
    return f"SELECT response_id FROM {read_parquet(paths)}"
