"""SQL text the normalizer and the warehouse both write: quoted names, literals, Parquet scans."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def quote(identifier: str) -> str:
    """Quote an identifier for DuckDB (erd names are trusted, but `key` and friends are keywords)."""
    return '"' + identifier.replace('"', '""') + '"'


def literal(value: str | Path) -> str:
    """A SQL string literal, for the few places DuckDB takes no parameter (file paths)."""
    return "'" + str(value).replace("'", "''") + "'"


def read_parquet(paths: Iterable[str | Path]) -> str:
    """A scan of these Parquet files (our own temp paths, never user input)."""
    return f"read_parquet([{', '.join(literal(p) for p in paths)}])"
