"""The warehouse model: every table, column, type, key and relationship, in one place.

The IO manager's DDL, the `dagster/column_schema` metadata, the data-quality checks and the
README's ERD are all generated from these specs, so a column is declared exactly once.

Conventions: schema `qualtrics`; timestamps are `TIMESTAMP` holding UTC; flags are `BOOLEAN`;
texts shown to respondents are stored twice, HTML-stripped (`*_text`) and raw (`*_html`).
Relationships are documented, not enforced (DuckDB foreign keys would block partition rewrites).
"""

from __future__ import annotations

from dataclasses import dataclass, field

SCHEMA = "qualtrics"
PARTITION_COLUMN = "survey_id"
LOADED_AT = "_loaded_at"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    nullable: bool = True


@dataclass(frozen=True)
class Relationship:
    """`columns` of this table reference `ref_columns` of `ref_table` (many-to-one)."""

    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    partition_column: str | None = None
    relationships: tuple[Relationship, ...] = field(default=())
    # A DuckDB PRIMARY KEY builds an ART index: cheap for dimension tables, but it made replacing
    # a 4M-row answers partition 5x slower and doubled peak memory. Long fact tables keep their key
    # in the spec and are held to it by the blocking data-quality check instead.
    enforce_primary_key: bool = True

    @property
    def qualified_name(self) -> str:
        return f"{SCHEMA}.{self.name}"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")


def _c(name: str, type_: str, description: str, nullable: bool = True) -> Column:
    return Column(name, type_, description, nullable)


def _key(name: str, description: str) -> Column:
    return Column(name, "VARCHAR", description, nullable=False)


_SURVEY_ID = _key("survey_id", "Survey id (`SV_…`); the partition key of per-survey tables.")
_LOADED = _c(LOADED_AT, "TIMESTAMP", "When this row was written to the warehouse (UTC).", nullable=False)

USERS = Table(
    name="users",
    description="Qualtrics users of the brand (GET /users; needs read:users and brand-admin rights).",
    columns=(
        _key("user_id", "User id (`UR_…`)."),
        _c("username", "VARCHAR", "Login name."),
        _c("first_name", "VARCHAR", "First name."),
        _c("last_name", "VARCHAR", "Last name."),
        _c("email", "VARCHAR", "Email address."),
        _c("user_type", "VARCHAR", "User type id, e.g. `UT_BRANDADMIN`."),
        _c("division_id", "VARCHAR", "Division id (`DV_…`), if any."),
        _c("account_status", "VARCHAR", "`active`, `disabled` or `notVerified`."),
        _LOADED,
    ),
    primary_key=("user_id",),
)

SURVEYS = Table(
    name="surveys",
    description="One row per survey: list fields (GET /surveys) plus status, dates and response counts (GET /surveys/{id}).",
    columns=(
        _key("survey_id", "Survey id (`SV_…`)."),
        _c("survey_name", "VARCHAR", "Survey name as shown in Qualtrics."),
        _c("owner_id", "VARCHAR", "Owning user (`UR_…`)."),
        _c("organization_id", "VARCHAR", "Organization (brand) id."),
        _c("is_active", "BOOLEAN", "Whether the survey is collecting responses."),
        _c("creation_date", "TIMESTAMP", "When the survey was created (UTC)."),
        _c("last_modified", "TIMESTAMP", "When the survey definition last changed (UTC)."),
        _c("expiration_start", "TIMESTAMP", "Availability window start (UTC), if set."),
        _c("expiration_end", "TIMESTAMP", "Availability window end (UTC), if set."),
        _c("response_count_auditable", "BIGINT", "Recorded responses Qualtrics counts (responseCounts.auditable)."),
        _c("response_count_generated", "BIGINT", "Generated test responses (responseCounts.generated)."),
        _c("response_count_deleted", "BIGINT", "Deleted responses (responseCounts.deleted)."),
        _LOADED,
    ),
    primary_key=("survey_id",),
    relationships=(Relationship(("owner_id",), "users", ("user_id",)),),
)

QUESTIONS = Table(
    name="questions",
    description=(
        "One row per question of a survey definition, trash-block questions included and flagged. "
        "Side-by-side columns appear as their own questions (`QID8#1`) with `parent_question_id`."
    ),
    columns=(
        _SURVEY_ID,
        _key("question_id", "Question id (`QID…`, or `QID…#k` for a side-by-side column)."),
        _c("parent_question_id", "VARCHAR", "For side-by-side columns: the side-by-side question."),
        _c("data_export_tag", "VARCHAR", "Export tag shown in Qualtrics (`Q16`)."),
        _c("question_type", "VARCHAR", "Qualtrics type: MC, Matrix, TE, Slider, RO, SBS, DB, …"),
        _c("selector", "VARCHAR", "Qualtrics selector: SAVR, MAVR, Likert, SL, NPS, …"),
        _c("sub_selector", "VARCHAR", "Qualtrics sub-selector (TX, SingleAnswer, …), if any."),
        _c("question_text", "VARCHAR", "Question text with HTML removed and whitespace collapsed."),
        _c("question_text_html", "VARCHAR", "Question text as authored (HTML)."),
        _c("question_description", "VARCHAR", "Qualtrics' plain-text description of the question."),
        _c("block_id", "VARCHAR", "Block (`BL_…`) holding the question."),
        _c("question_order", "INTEGER", "1-based position in block order; trash questions last."),
        _c("is_in_trash", "BOOLEAN", "True when the question sits in the Trash block (deleted, still defined).", False),
        _c("force_response", "BOOLEAN", "Whether an answer is required."),
        _c("has_display_logic", "BOOLEAN", "Whether display logic decides if the question is shown."),
        _c("loop_block", "BOOLEAN", "Whether the question's block is looped (loop & merge)."),
        _LOADED,
    ),
    primary_key=("survey_id", "question_id"),
    partition_column=PARTITION_COLUMN,
    relationships=(Relationship(("survey_id",), "surveys", ("survey_id",)),),
)

QUESTION_OPTIONS = Table(
    name="question_options",
    description=(
        "Answer options: MC / rank-order / NPS choices, and the scale points (Answers) of matrix "
        "and side-by-side columns, with recode values and display order."
    ),
    columns=(
        _SURVEY_ID,
        _key("question_id", "Question id."),
        _key("option_id", "Choice or scale-point id as in the definition (`1`, `2`, …)."),
        _c("option_text", "VARCHAR", "Option label with HTML removed."),
        _c("option_text_html", "VARCHAR", "Option label as authored."),
        _c("recode_value", "VARCHAR", "Value exported for this option (defaults to the option id)."),
        _c("display_order", "INTEGER", "1-based order in which the option is shown."),
        _c("allows_text_entry", "BOOLEAN", "True for 'other, please specify' options with a text box."),
        _c("is_exclusive", "BOOLEAN", "True for exclusive options ('none of the above')."),
        _LOADED,
    ),
    primary_key=("survey_id", "question_id", "option_id"),
    partition_column=PARTITION_COLUMN,
    relationships=(Relationship(("survey_id", "question_id"), "questions", ("survey_id", "question_id")),),
)

SUB_QUESTIONS = Table(
    name="sub_questions",
    description="Statements of matrix, slider, form and side-by-side questions (the rows a respondent rates).",
    columns=(
        _SURVEY_ID,
        _key("question_id", "Question id."),
        _key("sub_question_id", "Statement id as in the definition (`1`, `2`, …)."),
        _c("sub_question_text", "VARCHAR", "Statement text with HTML removed."),
        _c("sub_question_text_html", "VARCHAR", "Statement text as authored."),
        _c("recode_value", "VARCHAR", "Export suffix of the statement (defaults to its id)."),
        _c("display_order", "INTEGER", "1-based order in which the statement is shown."),
        _c("allows_text_entry", "BOOLEAN", "True when the statement has a text box."),
        _LOADED,
    ),
    primary_key=("survey_id", "question_id", "sub_question_id"),
    partition_column=PARTITION_COLUMN,
    relationships=(Relationship(("survey_id", "question_id"), "questions", ("survey_id", "question_id")),),
)

RESPONSES = Table(
    name="responses",
    description="One row per recorded response (`R_…`), with the export's metadata typed.",
    columns=(
        _key("response_id", "Response id (`R_…`)."),
        _SURVEY_ID,
        _c("start_date", "TIMESTAMP", "When the respondent started (UTC)."),
        _c("end_date", "TIMESTAMP", "When the respondent finished or left (UTC)."),
        _c("recorded_date", "TIMESTAMP", "When Qualtrics recorded the response (UTC)."),
        _c("last_modified_date", "TIMESTAMP", "When the response was last edited (UTC), if exported."),
        _c("status", "INTEGER", "Response type code (0 IP Address, 1 Survey Preview, 4 Imported, 8 Spam, …)."),
        _c("status_label", "VARCHAR", "Response type label."),
        _c("progress", "INTEGER", "Percent of the survey completed (0–100)."),
        _c("duration_seconds", "INTEGER", "Time taken, in seconds."),
        _c("finished", "BOOLEAN", "Whether the respondent reached the end."),
        _c("ip_address", "VARCHAR", "Respondent IP address (absent for anonymized responses)."),
        _c("location_latitude", "DOUBLE", "Approximate latitude (absent for anonymized responses)."),
        _c("location_longitude", "DOUBLE", "Approximate longitude (absent for anonymized responses)."),
        _c("distribution_channel", "VARCHAR", "How the respondent arrived: anonymous, email, preview, …"),
        _c("user_language", "VARCHAR", "Language the survey was taken in."),
        _c("recipient_first_name", "VARCHAR", "Recipient first name (email distributions)."),
        _c("recipient_last_name", "VARCHAR", "Recipient last name (email distributions)."),
        _c("recipient_email", "VARCHAR", "Recipient email (email distributions)."),
        _c("external_reference", "VARCHAR", "External data reference (`externalDataReference`)."),
        _c(
            "deleted_at",
            "TIMESTAMP",
            "When a sync found the response deleted in Qualtrics (only with "
            "QUALTRICS_DELETED_RESPONSES=mark, which keeps its rows; by default they are removed).",
        ),
        _LOADED,
    ),
    primary_key=("response_id",),
    partition_column=PARTITION_COLUMN,
    relationships=(Relationship(("survey_id",), "surveys", ("survey_id",)),),
)

RESPONSES_IN_PROGRESS = Table(
    name="responses_in_progress",
    description=(
        "Unfinished sessions (`FS_…`, exportResponsesInProgress), replaced on every sync. A session "
        "that completes gets a new, unrelated `R_` id in `responses`: the two are never merged."
    ),
    columns=tuple(
        _key("response_id", "Session id (`FS_…`).") if c.name == "response_id" else c
        for c in RESPONSES.columns
        if c.name != "deleted_at"
    ),
    primary_key=("response_id",),
    partition_column=PARTITION_COLUMN,
    relationships=(Relationship(("survey_id",), "surveys", ("survey_id",)),),
)

ANSWERS = Table(
    name="answers",
    description=(
        "Long format: one row per exported answer value of a response. Multi-select arrays give "
        "one row per selected option (`answer_index` 0, 1, …); a new question never changes the table."
    ),
    columns=(
        _SURVEY_ID,
        _key("response_id", "Response id."),
        _key("field", "Export key the value came from: `QID4_3`, `QID1_TEXT`, `2_QID7`, `QID8#1_2`, …"),
        Column("answer_index", "INTEGER", "Position within a multi-select array; 0 for single values.", False),
        _c("question_id", "VARCHAR", "Question answered (`QID…`, `QID…#k` for side-by-side columns)."),
        _c("loop_id", "VARCHAR", "Loop & merge iteration (the `2` of `2_QID7`), else null."),
        _c("sub_question_id", "VARCHAR", "Statement answered (matrix / slider / form / side-by-side row), else null."),
        _c("option_id", "VARCHAR", "Option chosen (resolved from the recode value) or ranked, else null."),
        _c("part", "VARCHAR", "What the value is: null for the answer itself, `TEXT`, `NPS_GROUP`, `RANK`, …"),
        _c("value_code", "VARCHAR", "The exported value as text (recode value, number or text)."),
        _c("value_label", "VARCHAR", "The export's label for the value (choice text), if any."),
        _c("value_number", "DOUBLE", "The value as a number when it is numeric, else null."),
        _c("value_text", "VARCHAR", "Free text typed by the respondent (text entry parts), else null."),
        _LOADED,
    ),
    primary_key=("response_id", "field", "answer_index"),
    partition_column=PARTITION_COLUMN,
    enforce_primary_key=False,
    relationships=(
        Relationship(("response_id",), "responses", ("response_id",)),
        Relationship(("survey_id", "question_id"), "questions", ("survey_id", "question_id")),
        Relationship(("survey_id", "question_id", "option_id"), "question_options", ("survey_id", "question_id", "option_id")),
        Relationship(
            ("survey_id", "question_id", "sub_question_id"),
            "sub_questions",
            ("survey_id", "question_id", "sub_question_id"),
        ),
    ),
)

EMBEDDED_DATA = Table(
    name="embedded_data",
    description="Embedded-data fields of each response, long format (one row per field present).",
    columns=(
        _SURVEY_ID,
        _key("response_id", "Response id."),
        _key("key", "Embedded-data field name."),
        _c("value", "VARCHAR", "Field value as exported."),
        _LOADED,
    ),
    primary_key=("response_id", "key"),
    partition_column=PARTITION_COLUMN,
    enforce_primary_key=False,
    relationships=(Relationship(("response_id",), "responses", ("response_id",)),),
)

SYNC_LOG = Table(
    name="sync_log",
    description=(
        "Bookkeeping: when each table was last written for each survey, in the same transaction "
        "as the data, so freshness checks and incremental syncs never disagree with the rows."
    ),
    columns=(
        _key("table_name", "Table written (`responses`, `questions`, …)."),
        _key("survey_id", "Survey partition written, or `*` for account-level tables."),
        _c("synced_at", "TIMESTAMP", "When the write committed (UTC).", False),
        _c("row_count", "BIGINT", "Rows written for this survey by that write."),
        _c("run_id", "VARCHAR", "Dagster run that wrote them."),
    ),
    primary_key=("table_name", "survey_id"),
)
ALL_SURVEYS = "*"

SYNC_STATE = Table(
    name="sync_state",
    description=(
        "Incremental-sync state per survey, written in the same transaction as the survey's last "
        "response table, so the state never runs ahead of the data."
    ),
    columns=(
        _key("survey_id", "Survey id."),
        _c("continuation_token", "VARCHAR", "Qualtrics continuation token for the next export (expires after a week)."),
        _c("token_issued_at", "TIMESTAMP", "When the token was issued (UTC)."),
        _c("watermark", "TIMESTAMP", "Latest last_modified_date among synced responses (UTC): fallback start."),
        _c("deleted_count_seen", "BIGINT", "responseCounts.deleted at the last sync: a change triggers reconciliation."),
        _c("reconciled_at", "TIMESTAMP", "When deleted responses were last reconciled (UTC)."),
        _c("definition_modified", "VARCHAR", "The definition's LastModified at the last sync: a change forces a full export."),
        _c("last_mode", "VARCHAR", "full, incremental or fallback."),
        _c("synced_at", "TIMESTAMP", "When the state was written (UTC).", False),
        _c("run_id", "VARCHAR", "Dagster run that wrote it."),
    ),
    primary_key=("survey_id",),
)

TABLES: tuple[Table, ...] = (
    USERS,
    SURVEYS,
    QUESTIONS,
    QUESTION_OPTIONS,
    SUB_QUESTIONS,
    RESPONSES,
    ANSWERS,
    EMBEDDED_DATA,
    RESPONSES_IN_PROGRESS,
)
# Bookkeeping tables: written by the IO manager alongside the data, not assets of their own.
BOOKKEEPING: tuple[Table, ...] = (SYNC_LOG, SYNC_STATE)
TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in (*TABLES, *BOOKKEEPING)}


def table(name: str) -> Table:
    """The spec of table `name`; a clear error for a name erd.py does not define."""
    try:
        return TABLES_BY_NAME[name]
    except KeyError:
        raise KeyError(f"erd.py defines no table {name!r}; known: {', '.join(TABLES_BY_NAME)}") from None
