"""Export NDJSON files -> responses, answers and embedded_data as Parquet files, built by DuckDB.

This is the hot path (surveys with a million responses), so no value passes through Python:
DuckDB parses the NDJSON on every core and does the per-value work in SQL. Python only decides,
once per distinct export key, what the key means (`_answer_plan`, the contract's key table).

1. flatten: every record's `values` entries with their labels, read as text (the cheapest parse),
   plus one row per record carrying its metadata -> one Parquet file of entries;
2. classify: its distinct keys -> a small `plans` file (metadata, embedded data or an answer
   plan) plus a `recodes` file for the keys whose values are recodes;
3. build: responses (each record's metadata, typed) and embedded_data are written to Parquet;
   answers, by far the biggest table, stay a query over the entries (plans joined, arrays
   unnested, recodes resolved) that the IO manager runs straight into the warehouse: one
   pass over millions of rows fewer than writing and reading them back.

DuckDB works under a memory limit and spills to a scratch directory past it, so memory stays flat
whatever the export's size.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import duckdb
import pandas as pd

from qualtrics_assets.erd import ANSWERS, EMBEDDED_DATA, LOADED_AT, RESPONSES, Table
from qualtrics_assets.normalize.definitions import FORM, MATRIX, MC, RO, SLIDER, QuestionIndex
from qualtrics_assets.qualtrics import validate_survey_id
from qualtrics_assets.sql import literal, quote, read_parquet

TABLES: dict[str, Table] = {"responses": RESPONSES, "answers": ANSWERS, "embedded_data": EMBEDDED_DATA}

# `values` key -> responses column (None: exported but not stored; `_recordId` repeats responseId).
_METADATA: dict[str, str | None] = {
    "startDate": "start_date",
    "endDate": "end_date",
    "recordedDate": "recorded_date",
    "_lastModifiedDate": "last_modified_date",
    "status": "status",
    "progress": "progress",
    "duration": "duration_seconds",
    "finished": "finished",
    "ipAddress": "ip_address",
    "locationLatitude": "location_latitude",
    "locationLongitude": "location_longitude",
    "distributionChannel": "distribution_channel",
    "userLanguage": "user_language",
    "recipientFirstName": "recipient_first_name",
    "recipientLastName": "recipient_last_name",
    "recipientEmail": "recipient_email",
    "externalDataReference": "external_reference",
    "_recordId": None,
}
_METADATA_KEY = {column: key for key, column in _METADATA.items() if column}

_QID_KEY = re.compile(r"(?:(\d+)_)?(QID\d+(?:#\d+)?)(?:_(.+))?")
_ROW_ID = re.compile(r"\d+")
_ROW_TEXT = re.compile(r"(\d+)_TEXT")

_META, _EMBEDDED, _ANSWER = "meta", "embedded", "answer"  # roles of an export key

# A record's metadata, read once per record in the flatten pass (18 lookups, not an aggregation
# over every entry), carried as JSON text and unpacked for `responses`.
_RECORD_JSON = "CAST(to_json(struct_pack({})) AS VARCHAR)".format(
    ", ".join([f"\"{key}\" := \"values\"['{key}']" for key in _METADATA_KEY.values()]
              + ["status_label := labels['status']"])
)
_RECORD_STRUCTURE = "{{{}}}".format(", ".join(f'"{key}": "VARCHAR"' for key in [*_METADATA_KEY.values(), "status_label"]))


class _AnswerPlan(NamedTuple):
    """How every value under one export key becomes answers rows (decided once per key)."""

    question_id: str
    loop_id: str | None
    sub_question_id: str | None
    part: str | None
    option_id: str | None  # fixed option (rank, "other" text); else resolved from the value
    option_by_recode: Mapping[str, str] | None  # resolve the value to an option
    free_text: bool


def _answer_plan(key_match: re.Match, index: QuestionIndex) -> _AnswerPlan:
    """The contract's export-key table: the rest after the QID, read by the question's kind."""
    loop_id, question_id, rest = key_match.groups()
    info = index.questions.get(question_id)
    kind = info.kind if info else None
    recodes = info.option_by_recode if info else None

    def plan(sub=None, option=None, part=None, resolve=None, free_text=False) -> _AnswerPlan:
        return _AnswerPlan(question_id, loop_id, sub, part, option, resolve, free_text)

    if rest is None:
        return plan(resolve=recodes if kind == MC else None)
    if rest == "TEXT":
        return plan(part="TEXT", free_text=True)
    if rest == "NPS_GROUP":
        return plan(part="NPS_GROUP")
    if _ROW_ID.fullmatch(rest):
        if kind == MATRIX:
            return plan(sub=rest, resolve=recodes)
        if kind == SLIDER:
            return plan(sub=rest)
        if kind == FORM:
            return plan(sub=rest, free_text=True)
        if kind == RO:
            return plan(option=rest, part="RANK")
    row_text = _ROW_TEXT.fullmatch(rest)
    if row_text and kind == MC:
        return plan(option=row_text.group(1), part="TEXT", free_text=True)
    if row_text and kind == MATRIX:
        return plan(sub=row_text.group(1), part="TEXT", free_text=True)
    return plan(part=rest)


# ---- SQL ----------------------------------------------------------------------------------------
# DuckDB reads every value as text (MAP(VARCHAR, VARCHAR)): strings unescaped, numbers and
# booleans as written, arrays and objects as compact JSON. That is the cheapest parse there is;
# what the JSON type told apart is decided from the key's plan instead (free text is never an
# array, and never rewritten). These macros read such a text `s`.
_MACROS = """
CREATE OR REPLACE TEMP MACRO qa_finite(d) AS CASE WHEN isfinite(d) THEN d END;
-- The value as a finite number when it is (or spells) one; booleans and text are null.
CREATE OR REPLACE TEMP MACRO qa_number(s) AS qa_finite(TRY_CAST(s AS DOUBLE));
-- A coded value as text: integral numbers without ".0", anything else as it is.
CREATE OR REPLACE TEMP MACRO qa_code(s) AS CASE
    WHEN suffix(s, '.0') AND qa_number(s) = trunc(qa_number(s)) AND abs(qa_number(s)) < 1e15
    THEN CAST(CAST(qa_number(s) AS BIGINT) AS VARCHAR) ELSE s END;
-- The elements of a multi-select value (a JSON array), else null.
CREATE OR REPLACE TEMP MACRO qa_elements(s) AS
    CASE WHEN starts_with(s, '[') THEN TRY_CAST(TRY_CAST(s AS JSON) AS VARCHAR[]) END;
-- Metadata integers arrive as ints or numeric strings; anything else is null.
CREATE OR REPLACE TEMP MACRO qa_int(s) AS TRY_CAST(trunc(qa_number(s)) AS INTEGER);
-- `finished` is 0/1 in JSON exports; tolerate booleans and "True"/"False".
CREATE OR REPLACE TEMP MACRO qa_bool(s) AS CASE lower(trim(s))
    WHEN 'true' THEN true WHEN '1' THEN true WHEN 'false' THEN false WHEN '0' THEN false
    ELSE qa_number(s) <> 0 END;
-- Dates: ISO-8601 with `Z` or an offset, or "YYYY-MM-DD HH:MM:SS" taken as UTC; "" and MySQL's
-- zero date are no date. Anything else fails the cast, naming the value.
CREATE OR REPLACE TEMP MACRO qa_timestamp(s) AS CASE
    WHEN nullif(trim(s), '') IS NULL OR starts_with(trim(s), '0000-00-00') THEN NULL
    ELSE CAST(CAST(trim(s) AS TIMESTAMPTZ) AS TIMESTAMP) END;
"""

_RESPONSE_EXPRESSIONS = {
    "start_date": "qa_timestamp(start_date)",
    "end_date": "qa_timestamp(end_date)",
    "recorded_date": "qa_timestamp(recorded_date)",
    "last_modified_date": "qa_timestamp(last_modified_date)",
    "status": "qa_int(status)",
    "progress": "qa_int(progress)",
    "duration_seconds": "qa_int(duration_seconds)",
    "finished": "qa_bool(finished)",
    "location_latitude": "qa_number(location_latitude)",
    "location_longitude": "qa_number(location_longitude)",
}

_ANSWER_EXPRESSIONS = {
    "response_id": "a.response_id",
    "field": "a.key",
    "answer_index": "a.answer_index",
    "question_id": "p.question_id",
    "loop_id": "p.loop_id",
    "sub_question_id": "p.sub_question_id",
    "option_id": "coalesce(p.option_id, r.option_id)",
    "part": "p.part",
    "value_code": "a.code",
    "value_label": "a.label",
    "value_number": "CASE WHEN NOT p.free_text THEN qa_number(a.value) END",
    "value_text": "CASE WHEN p.free_text THEN a.value END",
}


def _select_list(table: Table, expressions: Mapping[str, str], constants: Mapping[str, str]) -> str:
    """Exactly the table's columns, in order, each cast to its erd type."""
    items = []
    for column in table.columns:
        expression = constants.get(column.name) or expressions.get(column.name, "NULL")
        items.append(f"CAST({expression} AS {column.type}) AS {quote(column.name)}")
    return ", ".join(items)


# DuckDB reads NDJSON 2,048 records at a time, so the memory a pass needs grows with the width of
# a record: a statement that runs out is retried with the limit doubled, up to this many times.
_MEMORY_DOUBLINGS = 3
_SIZE = re.compile(r"([0-9.]+)\s*([KMGT]?i?B)")
_UNITS = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def _execute(con: duckdb.DuckDBPyConnection, sql: str, params=None, *, survey_id: str) -> duckdb.DuckDBPyConnection:
    """Run a statement; past DuckDB's memory limit, raise the limit and run it again (wide surveys)."""
    doublings = 0
    while True:
        try:
            return con.execute(sql, params)
        except duckdb.OutOfMemoryException:
            (setting,) = con.execute("SELECT current_setting('memory_limit')").fetchone()
            if doublings == _MEMORY_DOUBLINGS:
                raise MemoryError(
                    f"normalizing the export of {survey_id} needed more than {setting} of memory (very wide "
                    "records?); raise QUALTRICS_DUCKDB_MEMORY_LIMIT"
                ) from None
            number, unit = _SIZE.fullmatch(setting.strip()).groups()
            con.execute(f"SET memory_limit = '{int(float(number) * _UNITS[unit] * 2 / 2**20)}MiB'")
            doublings += 1


class NormalizedTable(NamedTuple):
    """Where a table's rows are: Parquet `files` holding them, or a `query` over the files (run
    `setup` first in the same connection); `row_count` is None until the query runs."""

    files: list[Path]
    row_count: int | None
    query: str | None = None
    setup: str = ""

    def select(self) -> str:
        return self.query or f"SELECT * FROM {read_parquet(self.files)}"


class ResponseNormalizer:
    """Turns one survey's export files into Parquet files of responses, answers and embedded_data."""

    def __init__(self, survey_id: str, index: QuestionIndex, loaded_at: datetime, *,
                 memory_limit: str = "256MB") -> None:
        self.survey_id = validate_survey_id(survey_id)
        self.index = index
        self.loaded_at = loaded_at  # naive UTC, like every warehouse timestamp
        self.memory_limit = memory_limit

    def stage(self, files: Sequence[str], directories: Mapping[str, Path]) -> dict[str, NormalizedTable]:
        """Normalize the NDJSON `files` into each table named in `directories` ("responses",
        "answers", "embedded_data"), its files written in that table's directory."""
        unknown = set(directories) - set(TABLES)
        if unknown:
            raise ValueError(f"no normalized table(s) {sorted(unknown)}; choose from {sorted(TABLES)}")
        scratch = Path(tempfile.mkdtemp(prefix="qa_normalize_"))
        # The answers query reads the entries, plans and recodes when it runs: they live with it.
        sources = Path(directories.get("answers") or scratch)
        try:
            with self._connect(scratch) as con:
                entries = self._flatten(con, files, sources / "entries.parquet")
                self._classify(con, entries, sources)
                return {name: self._build(con, name, sources, Path(directory))
                        for name, directory in directories.items()}
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def frames(self, records: Iterable[dict]) -> dict[str, pd.DataFrame]:
        """The three tables as DataFrames, rows in key order: for small inputs and tests."""
        with tempfile.TemporaryDirectory(prefix="qa_frames_") as directory:
            source = Path(directory) / "records.ndjson"
            with open(source, "w", encoding="utf-8") as out:
                for record in records:
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
            directories = {name: Path(directory) / name for name in TABLES}
            for path in directories.values():
                path.mkdir()
            staged = self.stage([str(source)], directories)
            frames = {}
            with duckdb.connect() as con:
                for name, table in TABLES.items():
                    if staged[name].setup:
                        con.execute(staged[name].setup)
                    order = ", ".join(quote(c) for c in table.primary_key)
                    frames[name] = con.execute(f"SELECT * FROM ({staged[name].select()}) ORDER BY {order}").fetchdf()
            return frames

    # ---- the three steps ---------------------------------------------------------------------
    def _connect(self, scratch: Path) -> duckdb.DuckDBPyConnection:
        config = {"memory_limit": self.memory_limit, "preserve_insertion_order": False,
                  "temp_directory": str(scratch / "spill")}
        con = duckdb.connect(":memory:", config=config)
        con.execute("SET TimeZone = 'UTC'")
        con.execute(_MACROS)
        return con

    def _flatten(self, con, files: Sequence[str], target: Path) -> str:
        """One row per `values` entry (key, value, label), plus one keyless row per record whose
        value is the record's metadata as JSON: responses then need no aggregation."""
        if not files:
            con.execute(f"COPY (SELECT NULL::VARCHAR AS response_id, NULL::VARCHAR AS key, NULL::VARCHAR AS value,"
                        f" NULL::VARCHAR AS label WHERE false) TO {literal(target)} (FORMAT parquet)")
            return read_parquet([target])
        sources = "[" + ", ".join(literal(f) for f in files) + "]"
        try:
            _execute(con, survey_id=self.survey_id, sql=f"""
                COPY (
                    SELECT responseId AS response_id, e.key AS key, e.value AS value,
                           CASE WHEN e.key IS NOT NULL THEN labels[e.key] END AS label
                    FROM (
                        SELECT responseId, labels,
                               unnest(list_prepend({{'key': NULL::VARCHAR, 'value': {_RECORD_JSON}}},
                                                   coalesce(map_entries("values"), []))) AS e
                        FROM read_json({sources}, format = 'newline_delimited',
                                       columns = {{responseId: 'VARCHAR', "values": 'MAP(VARCHAR, VARCHAR)',
                                                   labels: 'MAP(VARCHAR, VARCHAR)'}})
                    )
                ) TO {literal(target)} (FORMAT parquet)""")
        except duckdb.Error as error:
            raise ValueError(f"the response export of {self.survey_id} is not valid NDJSON: {error}") from None
        entries = read_parquet([target])
        orphans = con.execute(f"SELECT count(*) FROM {entries} WHERE response_id IS NULL AND key IS NOT NULL"
                              ).fetchone()[0]
        if orphans:
            raise ValueError(f"the response export of {self.survey_id} has {orphans} value(s) in records without "
                             "responseId; export again, and report it to Qualtrics support if it persists")
        return entries

    def _classify(self, con, entries: str, directory: Path) -> None:
        """Write `plans.parquet` (one row per distinct key) and `recodes.parquet` (key, recode ->
        option) next to the entries."""
        keys = [k for (k,) in con.execute(f"SELECT DISTINCT key FROM {entries} WHERE key IS NOT NULL").fetchall()]
        plans, recodes = [], []
        for key in keys:
            match = None if key in self.index.embedded_data_fields else _QID_KEY.fullmatch(key)
            if key in _METADATA:
                plans.append((key, _META, None, None, None, None, None, False))
            elif match is None:
                plans.append((key, _EMBEDDED, None, None, None, None, None, False))
            else:
                plan = _answer_plan(match, self.index)
                plans.append((key, _ANSWER, plan.question_id, plan.loop_id, plan.sub_question_id, plan.part,
                              plan.option_id, plan.free_text))
                recodes.extend((key, recode, option) for recode, option in (plan.option_by_recode or {}).items())
        con.execute("CREATE TEMP TABLE plans (key VARCHAR PRIMARY KEY, role VARCHAR, question_id VARCHAR,"
                    " loop_id VARCHAR, sub_question_id VARCHAR, part VARCHAR, option_id VARCHAR, free_text BOOLEAN)")
        con.execute("CREATE TEMP TABLE recodes (key VARCHAR, recode VARCHAR, option_id VARCHAR,"
                    " PRIMARY KEY (key, recode))")
        for table, rows in (("plans", plans), ("recodes", recodes)):
            if rows:  # one statement: executemany would run one per row
                values = ", ".join(["(" + ", ".join("?" * len(rows[0])) + ")"] * len(rows))
                con.execute(f"INSERT INTO {table} VALUES {values}", [value for row in rows for value in row])
        for table in ("plans", "recodes"):
            con.execute(f"COPY {table} TO {literal(directory / (table + '.parquet'))} (FORMAT parquet)")

    def _build(self, con, name: str, sources: Path, directory: Path) -> NormalizedTable:
        paths = [sources / f"{source}.parquet" for source in ("entries", "plans", "recodes")]
        query = getattr(self, f"_{name}_query")(*(read_parquet([path]) for path in paths))
        if name == "answers":
            return NormalizedTable(paths, None, query, _MACROS)
        target = directory / "rows.parquet"
        try:
            written = _execute(con, f"COPY ({query}) TO {literal(target)} (FORMAT parquet)",
                               survey_id=self.survey_id).fetchone()[0]
        except duckdb.ConversionException as error:
            raise ValueError(f"a {name} value of survey {self.survey_id} has an unexpected format: {error}") from None
        return NormalizedTable([target], int(written))

    def _constants(self) -> dict[str, str]:
        return {"survey_id": f"'{self.survey_id}'", LOADED_AT: f"TIMESTAMP '{self.loaded_at.isoformat(sep=' ')}'"}

    def _responses_query(self, entries: str, plans: str, recodes: str) -> str:
        fields = ", ".join(f'm."{key}" AS {column}' for column, key in _METADATA_KEY.items())
        expressions = {column: column for column in _METADATA_KEY} | _RESPONSE_EXPRESSIONS
        expressions |= {"response_id": "response_id", "status_label": "status_label"}
        return f"""
            SELECT {_select_list(RESPONSES, expressions, self._constants())}
            FROM (
                SELECT response_id, {fields}, m.status_label AS status_label
                FROM (SELECT response_id, json_transform(value, '{_RECORD_STRUCTURE}') AS m
                      FROM {entries} WHERE key IS NULL AND response_id IS NOT NULL)
            )"""

    def _answers_query(self, entries: str, plans: str, recodes: str) -> str:
        # Multi-select arrays give one row per element (labels aligned by index), other values one
        # row; only coded (not free-text) keys can hold arrays.
        return f"""
            WITH v AS NOT MATERIALIZED (
                SELECT e.response_id, e.key, e.value, e.label, p.free_text,
                       CASE WHEN NOT p.free_text THEN qa_elements(e.value) END AS elements
                FROM {entries} e JOIN {plans} p USING (key)
                WHERE p.role = '{_ANSWER}' AND e.response_id IS NOT NULL
            ),
            a AS NOT MATERIALIZED (
                SELECT response_id, key, free_text, 0 AS answer_index, value, label FROM v WHERE elements IS NULL
                UNION ALL
                SELECT response_id, key, free_text, answer_index, elements[answer_index + 1],
                       qa_elements(label)[answer_index + 1]
                FROM (SELECT *, unnest(range(len(elements))) AS answer_index FROM v WHERE elements IS NOT NULL)
            )
            SELECT {_select_list(ANSWERS, _ANSWER_EXPRESSIONS, self._constants())}
            FROM (SELECT *, CASE WHEN free_text THEN value ELSE qa_code(value) END AS code FROM a) a
            JOIN {plans} p USING (key)
            LEFT JOIN {recodes} r ON r.key = a.key AND r.recode = a.code"""

    def _embedded_data_query(self, entries: str, plans: str, recodes: str) -> str:
        expressions = {"response_id": "e.response_id", "key": "e.key", "value": "e.value"}
        return f"""
            SELECT {_select_list(EMBEDDED_DATA, expressions, self._constants())}
            FROM {entries} e JOIN {plans} p USING (key)
            WHERE p.role = '{_EMBEDDED}' AND e.response_id IS NOT NULL"""
