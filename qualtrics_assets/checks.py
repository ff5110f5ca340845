"""Data-quality asset checks generated from erd.py, run as SQL inside DuckDB.

Every table gets a blocking primary-key check (unique, not null): duplicate keys must not flow
into the tables built after it in the same run. Every documented relationship gets an orphan
check; `questions` and `responses` get a per-survey freshness check naming stale surveys (the
response count against Qualtrics' `responseCounts` is checked by the responses asset itself, which
fetches the count in the same run). Checks of
per-survey tables look only at the run's survey when the run has one, so one broken survey never
fails another survey's run. Failures name the offending rows (up to `SAMPLE_ROWS`).
"""

import dagster as dg

from qualtrics_assets import erd
from qualtrics_assets.qualtrics import validate_survey_id
from qualtrics_assets.partitions import survey_partitions
from qualtrics_assets.warehouse.connection import connect
from qualtrics_assets.sql import quote
from qualtrics_assets.warehouse.ddl import ensure_table

SAMPLE_ROWS = 10
PARTITION_TAG = "dagster/partition"


def _scope(table: erd.Table, survey_id: str | None, alias: str = "t") -> str:
    if survey_id is None or table.partition_column is None:
        return "TRUE"
    return f"{alias}.{quote(table.partition_column)} = '{validate_survey_id(survey_id)}'"


def duplicate_keys_sql(table: erd.Table, survey_id: str | None) -> str:
    keys = ", ".join(f"t.{quote(c)}" for c in table.primary_key)
    return (
        f"SELECT {keys}, count(*) AS copies FROM {table.qualified_name} t WHERE {_scope(table, survey_id)}"
        f" GROUP BY {keys} HAVING count(*) > 1 ORDER BY copies DESC"
    )


def null_keys_sql(table: erd.Table, survey_id: str | None) -> str:
    any_null = " OR ".join(f"t.{quote(c)} IS NULL" for c in table.primary_key)
    keys = ", ".join(f"t.{quote(c)}" for c in table.primary_key)
    return f"SELECT {keys} FROM {table.qualified_name} t WHERE ({any_null}) AND {_scope(table, survey_id)}"


def orphans_sql(table: erd.Table, rel: erd.Relationship, survey_id: str | None) -> str:
    """Rows whose (non-null) reference finds no row in the referenced table."""
    ref = erd.table(rel.ref_table)
    join = " AND ".join(f"t.{quote(c)} = r.{quote(rc)}" for c, rc in zip(rel.columns, rel.ref_columns))
    present = " AND ".join(f"t.{quote(c)} IS NOT NULL" for c in rel.columns)
    cols = ", ".join(f"t.{quote(c)}" for c in dict.fromkeys((*table.primary_key, *rel.columns)))
    return (
        f"SELECT DISTINCT {cols} FROM {table.qualified_name} t"
        f" LEFT JOIN {ref.qualified_name} r ON {join}"
        f" WHERE {present} AND r.{quote(rel.ref_columns[0])} IS NULL AND {_scope(table, survey_id)}"
    )


def _result(con, sql: str, what: str) -> dg.AssetCheckResult:
    total = con.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0]
    cursor = con.execute(f"{sql} LIMIT {SAMPLE_ROWS}")
    names = [d[0] for d in cursor.description]
    sample = [dict(zip(names, row)) for row in cursor.fetchall()]
    description = f"{total} {what}" + (f"; first {len(sample)}: {sample}" if total else "")
    return dg.AssetCheckResult(
        passed=bool(total == 0),
        description=description,
        metadata={"failing_rows": int(total), "sample": dg.MetadataValue.json([_jsonable(r) for r in sample])},
    )


def _jsonable(row: dict) -> dict:
    return {k: (v if isinstance(v, (int, float, str, bool)) or v is None else str(v)) for k, v in row.items()}


def _survey(context: dg.AssetCheckExecutionContext) -> str | None:
    return context.run.tags.get(PARTITION_TAG)


def _asset_key(table: erd.Table) -> dg.AssetKey:
    return dg.AssetKey([erd.SCHEMA, table.name])


def _primary_key_check(table: erd.Table) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=_asset_key(table),
        name=f"{table.name}_primary_key",
        description=f"({', '.join(table.primary_key)}) is unique and never null.",
        blocking=True,
        required_resource_keys={"warehouse"},
    )
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        with connect(context.resources.warehouse) as con:
            ensure_table(con, table)
            survey = _survey(context)
            nulls = _result(con, null_keys_sql(table, survey), f"rows with a null key in {table.name}")
            if not nulls.passed:
                return nulls
            return _result(con, duplicate_keys_sql(table, survey), f"duplicated keys in {table.name}")

    return _check


def _relationship_check(table: erd.Table, rel: erd.Relationship) -> dg.AssetChecksDefinition:
    ref = erd.table(rel.ref_table)
    # References to the account tables only warn: those refresh on their own schedule (a survey
    # found by the sensor may be synced before `surveys` lists it), and owners can be deleted.
    severity = dg.AssetCheckSeverity.WARN if ref.partition_column is None else dg.AssetCheckSeverity.ERROR

    @dg.asset_check(
        asset=_asset_key(table),
        name=f"{table.name}_{'_'.join(rel.columns)}_references_{rel.ref_table}",
        description=f"Every {table.name}.({', '.join(rel.columns)}) exists in {rel.ref_table}.",
        additional_deps=[_asset_key(ref)],
        required_resource_keys={"warehouse"},
    )
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        with connect(context.resources.warehouse) as con:
            ensure_table(con, table)
            ensure_table(con, ref)
            result = _result(
                con, orphans_sql(table, rel, _survey(context)), f"orphan {table.name} rows (no {rel.ref_table} match)"
            )
        return dg.AssetCheckResult(
            passed=result.passed, description=result.description, metadata=result.metadata, severity=severity
        )

    return _check


def stale_surveys_sql(table: erd.Table, survey_ids: list[str], max_age_hours: float) -> str:
    """Registered surveys whose `table` was never written, or not within `max_age_hours`."""
    ids = ", ".join(f"('{validate_survey_id(s)}')" for s in survey_ids) or "(NULL)"
    return (
        f"SELECT k.survey_id, l.synced_at FROM (VALUES {ids}) k(survey_id)"
        f" LEFT JOIN {erd.SYNC_LOG.qualified_name} l ON l.survey_id = k.survey_id AND l.table_name = '{table.name}'"
        f" WHERE k.survey_id IS NOT NULL AND (l.synced_at IS NULL"
        f" OR l.synced_at < (now() AT TIME ZONE 'UTC') - INTERVAL '{float(max_age_hours) * 3600} seconds')"
        " ORDER BY l.synced_at NULLS FIRST, k.survey_id"
    )


def _stale_surveys_check(table: erd.Table, max_age_hours: float) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=_asset_key(table),
        name=f"{table.name}_fresh_per_survey",
        description=f"Every registered survey's {table.name} were synced within {max_age_hours:g} h.",
        required_resource_keys={"warehouse"},
    )
    def _check(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        surveys = sorted(context.instance.get_dynamic_partitions(survey_partitions.name))
        with connect(context.resources.warehouse) as con:
            ensure_table(con, erd.SYNC_LOG)
            result = _result(con, stale_surveys_sql(table, surveys, max_age_hours), "stale or never-synced surveys")
        return dg.AssetCheckResult(
            passed=result.passed,
            description=result.description,
            metadata=result.metadata,
            severity=dg.AssetCheckSeverity.WARN,
        )

    return _check


def build_checks(survey_max_age_hours: float) -> list[dg.AssetChecksDefinition]:
    """All generated checks; per-survey freshness is watched on the first table of each sync."""
    checks = [_primary_key_check(t) for t in erd.TABLES]
    checks += [_relationship_check(t, rel) for t in erd.TABLES for rel in t.relationships]
    checks += [_stale_surveys_check(t, survey_max_age_hours) for t in (erd.QUESTIONS, erd.RESPONSES)]
    return checks
