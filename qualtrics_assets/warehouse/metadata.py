"""Dagster table metadata generated from erd.py (shown in the asset's Columns tab)."""

from __future__ import annotations

import dagster as dg

from qualtrics_assets import erd


def column_schema(table: erd.Table) -> dg.TableSchema:
    references: dict[str, list[str]] = {}
    for rel in table.relationships:
        for col, ref_col in zip(rel.columns, rel.ref_columns):
            references.setdefault(col, []).append(f"references {erd.SCHEMA}.{rel.ref_table}.{ref_col}")
    single_key = table.primary_key[0] if len(table.primary_key) == 1 else None
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=c.name,
                type=c.type,
                description=c.description,
                constraints=dg.TableColumnConstraints(
                    nullable=c.nullable,
                    unique=c.name == single_key,
                    other=references.get(c.name, []),
                ),
            )
            for c in table.columns
        ],
        constraints=dg.TableConstraints(other=[f"primary key ({', '.join(table.primary_key)})"]),
    )
