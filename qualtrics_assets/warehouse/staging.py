"""Rows of one table spooled to Parquet files in bounded batches, for the IO manager to insert.

A response export can hold millions of answer rows: the asset normalizes it batch by batch and
writes each batch here, so no step ever holds a whole partition in memory, and the IO manager
inserts all files in one transaction (DuckDB reads the Parquet files itself, in bulk).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from qualtrics_assets import erd
from qualtrics_assets.warehouse.ddl import literal


# The ids of responses a staged batch touches (merge keys, or ids Qualtrics still has).
RESPONSE_KEYS = erd.Table(
    name="response_keys",
    description="Response ids staged for a merge or a reconciliation.",
    columns=(erd.Column("response_id", "VARCHAR", "Response id.", nullable=False),),
    primary_key=("response_id",),
)


@dataclass
class StagedTable:
    """Normalized rows of `table` waiting on disk, written by a `TableStager`.

    By default the rows replace the survey's whole partition. Incremental syncs set
    `merge_keys` (Parquet files of `response_id`): only those responses' rows are replaced.
    `live_keys` lists every response Qualtrics still has: rows of other responses are deleted
    (`on_vanished="delete"`) or stamped `deleted_at` (`"mark"`). `sync_state` is upserted into
    `sync_state` in the same transaction.
    """

    table: erd.Table
    directory: Path
    files: list[Path] = field(default_factory=list)
    row_count: int = 0
    merge_keys: list[Path] | None = None
    live_keys: list[Path] | None = None
    on_vanished: str = "delete"
    sync_state: dict | None = None

    def paths(self) -> list[str]:
        return [str(f) for f in self.files]

    def cleanup(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class TableStager:
    """Writes DataFrame batches of one erd table as numbered Parquet files in a temp directory."""

    def __init__(self, table: erd.Table, root: Path | None = None):
        self.staged = StagedTable(
            table=table, directory=Path(tempfile.mkdtemp(prefix=f"qa_{table.name}_", dir=root))
        )
        # One thread: scanning a pandas frame of Python objects holds the GIL anyway, and a second
        # thread only adds buffers (measured: -25% peak RSS and faster, benchmarks/README.md).
        self._con = duckdb.connect(":memory:", config={"threads": 1})

    def write(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        if list(frame.columns) != self.staged.table.column_names:
            raise ValueError(
                f"batch for {self.staged.table.name} has columns {list(frame.columns)}, "
                f"expected {self.staged.table.column_names}"
            )
        path = self.staged.directory / f"part-{len(self.staged.files):05d}.parquet"
        self._con.register("batch", frame)
        try:
            self._con.execute(f"COPY (SELECT * FROM batch) TO {literal(path)} (FORMAT parquet)")
        finally:
            self._con.unregister("batch")
        self.staged.files.append(path)
        self.staged.row_count += len(frame)

    def finish(self) -> StagedTable:
        self._con.close()
        return self.staged

    def discard(self) -> None:
        self.finish().cleanup()

    def __enter__(self) -> "TableStager":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """A failed export or normalization leaves no spooled files behind."""
        if exc_type is not None:
            self.discard()
