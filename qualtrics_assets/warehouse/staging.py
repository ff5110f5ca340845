"""Rows of one table waiting on disk as Parquet files, for the IO manager to insert in bulk.

A response export can hold millions of answer rows: the normalizer writes them to Parquet and
the asset hands the files over as a `StagedTable`, so no step ever holds a whole partition in
memory, and the IO manager inserts all files in one transaction (DuckDB reads them itself).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from qualtrics_assets import erd
from qualtrics_assets.sql import literal, read_parquet


# The ids of responses a staged export touches (merge keys, or ids Qualtrics still has).
RESPONSE_KEYS = erd.Table(
    name="response_keys",
    description="Response ids staged for a merge or a reconciliation.",
    columns=(erd.Column("response_id", "VARCHAR", "Response id.", nullable=False),),
    primary_key=("response_id",),
)


@dataclass
class StagedTable:
    """Normalized rows of `table` waiting on disk in Parquet `files` (in a private `directory`),
    or computed from them by `query` (after `setup`, in the writing connection; `row_count` is
    then None until the write counts them).

    By default the rows replace the survey's whole partition. Incremental syncs set
    `merge_keys` (Parquet files of `response_id`): only those responses' rows are replaced.
    `live_keys` lists every response Qualtrics still has: rows of other responses are deleted
    (`on_vanished="delete"`) or stamped `deleted_at` (`"mark"`). `sync_state` is upserted into
    `sync_state` in the same transaction.
    """

    table: erd.Table
    directory: Path
    files: list[Path] = field(default_factory=list)
    row_count: int | None = 0
    query: str | None = None
    setup: str = ""
    merge_keys: list[Path] | None = None
    live_keys: list[Path] | None = None
    on_vanished: str = "delete"
    sync_state: dict | None = None

    @classmethod
    def create(cls, table: erd.Table) -> StagedTable:
        return cls(table=table, directory=Path(tempfile.mkdtemp(prefix=f"qa_{table.name}_")))

    def next_path(self) -> Path:
        return self.directory / f"part-{len(self.files):05d}.parquet"

    def add(self, path: Path, row_count: int) -> None:
        self.files.append(path)
        self.row_count += row_count

    def select(self) -> str:
        """The rows, as SQL (run `setup` first)."""
        return self.query or f"SELECT * FROM {read_parquet(self.files)}"

    def cleanup(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


@contextmanager
def staging(table: erd.Table) -> Iterator[StagedTable]:
    """A new, empty staged table whose files are removed if the body fails."""
    staged = StagedTable.create(table)
    try:
        yield staged
    except BaseException:
        staged.cleanup()
        raise


def staged_keys(source: StagedTable) -> StagedTable:
    """The response ids of `source`, in their own files: merge keys that outlive its write."""
    with staging(RESPONSE_KEYS) as keys:
        path = keys.next_path()
        with duckdb.connect() as con:
            select = (f"SELECT DISTINCT response_id FROM {read_parquet(source.files)}" if source.files
                      else "SELECT NULL::VARCHAR AS response_id WHERE false")
            written = con.execute(f"COPY ({select}) TO {literal(path)} (FORMAT parquet)").fetchone()[0]
        keys.add(path, int(written))
    return keys
