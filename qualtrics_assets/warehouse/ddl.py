"""DDL and migrations generated from erd.py, so the warehouse never drifts from the spec."""

from __future__ import annotations

import duckdb

from qualtrics_assets import erd
from qualtrics_assets.sql import quote


def create_table_sql(table: erd.Table) -> str:
    columns = [
        f"{quote(c.name)} {c.type}{'' if c.nullable else ' NOT NULL'}" for c in table.columns
    ]
    if table.enforce_primary_key:
        columns.append(f"PRIMARY KEY ({', '.join(quote(c) for c in table.primary_key)})")
    return f"CREATE TABLE IF NOT EXISTS {erd.SCHEMA}.{quote(table.name)} (\n  " + ",\n  ".join(columns) + "\n)"


def existing_columns(con: duckdb.DuckDBPyConnection, table: erd.Table) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [erd.SCHEMA, table.name],
    ).fetchall()
    return [r[0] for r in rows]


def ensure_table(con: duckdb.DuckDBPyConnection, table: erd.Table) -> list[str]:
    """Create the table if missing and add columns erd.py gained since; returns the added columns.

    New columns are added nullable: existing rows cannot have a value for them yet.
    """
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {erd.SCHEMA}")
    con.execute(create_table_sql(table))
    present = set(existing_columns(con, table))
    added = [c for c in table.columns if c.name not in present]
    for c in added:
        con.execute(f"ALTER TABLE {erd.SCHEMA}.{quote(table.name)} ADD COLUMN {quote(c.name)} {c.type}")
    return [c.name for c in added]
