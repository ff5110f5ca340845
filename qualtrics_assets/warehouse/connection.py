"""DuckDB connections that always close, and transactions that always end.

`DuckDBResource.get_connection()` retries while another process holds the file lock, but it does
not close its connection when the body raises; a lingering connection then blocks the next one
("different configuration than existing connections"). These wrappers close it on every path.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from dagster_duckdb import DuckDBResource

from qualtrics_assets.settings import SETTINGS


@contextmanager
def connect(resource: DuckDBResource) -> Iterator[duckdb.DuckDBPyConnection]:
    with resource.get_connection() as con:
        try:
            # Row order within a table carries no meaning here; not preserving it lets DuckDB
            # stream big inserts instead of buffering them (peak memory of a 1M-response sync).
            con.execute("SET preserve_insertion_order = false")
            # DuckDB caches up to 80% of RAM by default; a cap keeps big syncs and checks lean
            # (they spill to disk past it) and leaves room for the rest of the run.
            con.execute("SET memory_limit = ?", [SETTINGS.duckdb_memory_limit])
            yield con
        finally:
            con.close()


@contextmanager
def transaction(resource: DuckDBResource) -> Iterator[duckdb.DuckDBPyConnection]:
    """All statements in the body commit together or not at all."""
    with connect(resource) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
