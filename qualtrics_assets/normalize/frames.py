"""Column lists -> a DataFrame with exactly an erd table's columns, in order, with its types.

Every normalizer ends here, so column order and dtypes are decided once, from erd.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import numpy as np
import pandas as pd

from qualtrics_assets.erd import LOADED_AT, Column, Table
from qualtrics_assets.normalize.timestamps import parse_timestamp, to_utc_series


def _typed(column: Column, values: list) -> pd.Series | pd.api.extensions.ExtensionArray:
    """`values` as the pandas dtype that round-trips to the column's DuckDB type."""
    kind = column.type
    if kind == "VARCHAR":
        return pd.Series(values, dtype=object)
    if kind == "BOOLEAN":
        return pd.array(values, dtype="boolean" if column.nullable else "bool")
    if kind in ("INTEGER", "BIGINT"):
        return pd.array(values, dtype="Int64" if column.nullable else "int64")
    if kind == "DOUBLE":
        return pd.Series(values, dtype="float64")
    if kind == "TIMESTAMP":
        return to_utc_series(values)
    raise ValueError(f"no pandas dtype for erd type {kind!r} (column {column.name})")


def table_frame(
    table: Table,
    columns: Mapping[str, list],
    constants: Mapping[str, object],
    loaded_at: datetime,
) -> pd.DataFrame:
    """Build `table`'s frame from per-column lists plus constant columns (survey_id, loaded_at).

    Columns absent from both mappings are all-null; a name the table lacks is a bug and raises.
    """
    unknown = (set(columns) | set(constants)) - set(table.column_names)
    if unknown:
        raise KeyError(f"{table.name} has no column(s) {sorted(unknown)}")
    n_rows = len(next(iter(columns.values()))) if columns else 0
    constants = {**constants, LOADED_AT: parse_timestamp(loaded_at)}
    index = pd.RangeIndex(n_rows)
    data = []
    for column in table.columns:
        if column.name in columns:
            series = pd.Series(_typed(column, columns[column.name]))
        else:
            # Type one value and repeat it: cheap even for millions of rows.
            one = pd.Series(_typed(column, [constants.get(column.name)]))
            series = one.iloc[np.zeros(n_rows, dtype=np.intp)]
        if len(series) == n_rows:
            series.index = index
        else:  # what DataFrame(dict) did: align on the index (a short column is padded with nulls)
            series = series.reindex(index)
        series.name = column.name
        data.append(series)
    # concat keeps one block per column: DataFrame(dict) would copy every object column into
    # one consolidated block, the costliest step of a million-row batch.
    return pd.concat(data, axis=1, copy=False)
