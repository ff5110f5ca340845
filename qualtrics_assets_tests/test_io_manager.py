"""The ERD IO manager against a real DuckDB file, driven through real Dagster materializations.

Assets here are tiny stand-ins with the real table keys (`qualtrics/questions`, …): they produce
rows directly so each test can target one IO-manager promise (DDL, by-name inserts, atomic
partition replace, migrations, partition-filtered loads, metadata).
"""


import os
import signal
import subprocess
import sys
import textwrap
import time

import dagster as dg
import duckdb
import pandas as pd
import pytest
from dagster_duckdb import DuckDBResource

from qualtrics_assets import erd
from qualtrics_assets.partitions import survey_partitions
from qualtrics_assets.warehouse.io_manager import QualtricsWarehouseIOManager
from qualtrics_assets.warehouse.staging import StagedTable, staging

LOADED = pd.Timestamp("2026-01-01 00:00:00")


def question_rows(survey_id: str, n: int, text: str = "t") -> pd.DataFrame:
    frame = pd.DataFrame({c: [None] * n for c in erd.QUESTIONS.column_names})
    frame["survey_id"] = survey_id
    frame["question_id"] = [f"QID{i}" for i in range(1, n + 1)]
    frame["question_text"] = text
    frame["is_in_trash"] = False
    frame["_loaded_at"] = LOADED
    return frame


@pytest.fixture
def warehouse(tmp_path) -> str:
    return str(tmp_path / "warehouse.duckdb")


def io_manager(path: str) -> QualtricsWarehouseIOManager:
    return QualtricsWarehouseIOManager(duckdb=DuckDBResource(database=path))


def materialize(assets, path: str, partition: str | None = None, raise_on_error: bool = True):
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(survey_partitions.name, ["SV_one", "SV_two"])
    return dg.materialize(
        assets,
        resources={"io_manager": io_manager(path)},
        instance=instance,
        partition_key=partition,
        raise_on_error=raise_on_error,
    )


def questions_asset(make_frame):
    @dg.asset(key_prefix="qualtrics", name="questions", partitions_def=survey_partitions)
    def questions(context: dg.AssetExecutionContext):
        return make_frame(context.partition_key)

    return questions


def query(path: str, sql: str):
    with duckdb.connect(path, read_only=True) as con:
        return con.execute(sql).fetchall()


def test_tables_are_created_from_erd_with_types_keys_and_not_null(warehouse):
    materialize([questions_asset(lambda key: question_rows(key, 0))], warehouse, "SV_one")
    columns = query(
        warehouse,
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
        " WHERE table_schema='qualtrics' AND table_name='questions' ORDER BY ordinal_position",
    )
    assert [(c, t) for c, t, _ in columns] == [(c.name, c.type) for c in erd.QUESTIONS.columns]
    assert {c for c, _, nullable in columns if nullable == "NO"} == {
        c.name for c in erd.QUESTIONS.columns if not c.nullable
    }
    keys = query(
        warehouse,
        "SELECT constraint_column_names FROM duckdb_constraints()"
        " WHERE table_name='questions' AND constraint_type='PRIMARY KEY'",
    )
    assert keys == [(list(erd.QUESTIONS.primary_key),)]


def test_inserts_by_column_name_not_position(warehouse):
    def shuffled(key):
        frame = question_rows(key, 2, text="by name")
        return frame[list(reversed(frame.columns))]

    materialize([questions_asset(shuffled)], warehouse, "SV_one")
    assert query(warehouse, "SELECT DISTINCT survey_id, question_text FROM qualtrics.questions") == [
        ("SV_one", "by name")
    ]


def test_rewriting_a_partition_replaces_only_that_survey(warehouse):
    asset = questions_asset(lambda key: question_rows(key, 3 if key == "SV_one" else 2))
    materialize([asset], warehouse, "SV_one")
    materialize([asset], warehouse, "SV_two")
    materialize([asset], warehouse, "SV_one")
    counts = query(warehouse, "SELECT survey_id, count(*) FROM qualtrics.questions GROUP BY 1 ORDER BY 1")
    assert counts == [("SV_one", 3), ("SV_two", 2)]


def test_failed_write_leaves_previous_rows(warehouse):
    materialize([questions_asset(lambda key: question_rows(key, 3, text="before"))], warehouse, "SV_one")

    def broken(key):
        frame = question_rows(key, 4, text="after")
        frame.loc[2, "question_id"] = None  # violates NOT NULL mid-insert
        return frame

    result = materialize([questions_asset(broken)], warehouse, "SV_one", raise_on_error=False)
    assert not result.success
    assert query(warehouse, "SELECT count(*), min(question_text) FROM qualtrics.questions") == [(3, "before")]


def test_columns_unknown_to_erd_are_refused(warehouse):
    def extra(key):
        return question_rows(key, 1).assign(surprise=1)

    result = materialize([questions_asset(extra)], warehouse, "SV_one", raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error.message
    assert "surprise" in failure and "erd.py" in failure


def test_columns_added_to_erd_are_added_to_existing_tables(warehouse):
    with duckdb.connect(warehouse) as con:
        con.execute("CREATE SCHEMA qualtrics")
        con.execute("CREATE TABLE qualtrics.questions (survey_id VARCHAR NOT NULL, question_id VARCHAR NOT NULL)")
        con.execute("INSERT INTO qualtrics.questions VALUES ('SV_two', 'QID9')")
    result = materialize([questions_asset(lambda key: question_rows(key, 2))], warehouse, "SV_one")
    metadata = result.asset_materializations_for_node("qualtrics__questions")[0].metadata
    assert "question_text" in metadata["columns_added"].value
    assert query(warehouse, "SELECT survey_id, count(*) FROM qualtrics.questions GROUP BY 1 ORDER BY 1") == [
        ("SV_one", 2),
        ("SV_two", 1),
    ]


def test_empty_output_creates_an_empty_table_and_metadata(warehouse):
    result = materialize([questions_asset(lambda key: question_rows(key, 0))], warehouse, "SV_one")
    metadata = result.asset_materializations_for_node("qualtrics__questions")[0].metadata
    assert metadata["dagster/row_count"].value == 0
    assert metadata["dagster/table_name"].value == "qualtrics.questions"
    schema = metadata["dagster/column_schema"].schema
    assert [c.name for c in schema.columns] == erd.QUESTIONS.column_names
    assert query(warehouse, "SELECT count(*) FROM qualtrics.questions") == [(0,)]


def test_inputs_load_only_the_partitions_asked_for(warehouse):
    asset = questions_asset(lambda key: question_rows(key, 2 if key == "SV_one" else 5))
    materialize([asset], warehouse, "SV_one")
    materialize([asset], warehouse, "SV_two")

    @dg.asset(
        partitions_def=survey_partitions,
        ins={"questions": dg.AssetIn(key=["qualtrics", "questions"])},
        io_manager_key="memory",
    )
    def question_count(questions: pd.DataFrame) -> int:
        return len(questions)

    result = dg.materialize(
        [asset, question_count],
        selection=[question_count],
        resources={"io_manager": io_manager(warehouse), "memory": dg.InMemoryIOManager()},
        instance=_instance_with_partitions(),
        partition_key="SV_two",
    )
    assert result.output_for_node("question_count") == 5


def _instance_with_partitions() -> dg.DagsterInstance:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(survey_partitions.name, ["SV_one", "SV_two"])
    return instance


def stage_frame(staged: StagedTable, frame: pd.DataFrame) -> None:
    """Write one more Parquet file of `frame` into `staged` (what the normalizer does at scale)."""
    path = staged.next_path()
    with duckdb.connect() as con:
        con.register("frame", frame)
        con.execute(f"COPY frame TO '{path}' (FORMAT parquet)")
    staged.add(path, len(frame))


def test_staged_files_are_inserted_in_one_write(warehouse):
    @dg.asset(key_prefix="qualtrics", name="embedded_data", partitions_def=survey_partitions)
    def embedded_data(context: dg.AssetExecutionContext):
        with staging(erd.EMBEDDED_DATA) as staged:
            for batch in range(3):
                stage_frame(staged, pd.DataFrame({
                    "survey_id": context.partition_key,
                    "response_id": [f"R_{batch}{i}" for i in range(4)],
                    "key": "team",
                    "value": str(batch),
                    "_loaded_at": LOADED,
                }))
        assert len(staged.files) == 3
        return staged

    result = materialize([embedded_data], warehouse, "SV_one")
    assert result.asset_materializations_for_node("qualtrics__embedded_data")[0].metadata[
        "dagster/row_count"
    ].value == 12
    assert query(warehouse, "SELECT count(*), count(DISTINCT value) FROM qualtrics.embedded_data") == [(12, 3)]


KILLED_WRITER = textwrap.dedent(
    """
    import sys
    import dagster as dg, pandas as pd
    from dagster_duckdb import DuckDBResource
    from qualtrics_assets import erd
    from qualtrics_assets.partitions import survey_partitions
    from qualtrics_assets.warehouse.io_manager import QualtricsWarehouseIOManager
    from qualtrics_assets.warehouse.staging import staging
    from qualtrics_assets_tests.test_io_manager import stage_frame

    @dg.asset(key_prefix="qualtrics", name="embedded_data", partitions_def=survey_partitions)
    def embedded_data():
        n = 1_000_000
        with staging(erd.EMBEDDED_DATA) as staged:
            for batch in range(6):
                stage_frame(staged, pd.DataFrame({
                    "survey_id": "SV_one", "response_id": [f"R_{batch}_{i}" for i in range(n)],
                    "key": "team", "value": "new", "_loaded_at": pd.Timestamp("2026-01-02")}))
        print("writing", flush=True)
        return staged

    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("survey", ["SV_one"])
    dg.materialize([embedded_data], instance=instance, partition_key="SV_one",
                   resources={"io_manager": QualtricsWarehouseIOManager(duckdb=DuckDBResource(database=sys.argv[1]))})
    print("committed", flush=True)
    """
)


def test_a_write_killed_midway_leaves_the_warehouse_as_it_was(warehouse, tmp_path):
    old = pd.DataFrame(
        {"survey_id": "SV_one", "response_id": [f"R_old{i}" for i in range(1000)], "key": "team",
         "value": "old", "_loaded_at": LOADED}
    )

    @dg.asset(key_prefix="qualtrics", name="embedded_data", partitions_def=survey_partitions)
    def embedded_data():
        return old

    materialize([embedded_data], warehouse, "SV_one")
    script = tmp_path / "writer.py"
    script.write_text(KILLED_WRITER)
    writer = subprocess.Popen(
        [sys.executable, str(script), warehouse], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    assert writer.stdout.readline().strip() == "writing"
    time.sleep(0.5)  # inside the IO manager's transaction: the 6M-row insert takes seconds
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert query(warehouse, "SELECT count(*), min(value), max(value) FROM qualtrics.embedded_data") == [
        (1000, "old", "old")
    ]
    rerun = subprocess.run([sys.executable, str(script), warehouse], capture_output=True, text=True, check=True)
    assert rerun.stdout.split() == ["writing", "committed"]
    assert query(warehouse, "SELECT count(*), min(value) FROM qualtrics.embedded_data") == [(6_000_000, "new")]


def test_staging_left_by_an_error_removes_its_files():
    with pytest.raises(RuntimeError, match="export failed"):
        with staging(erd.EMBEDDED_DATA) as staged:
            stage_frame(staged, pd.DataFrame({"survey_id": "SV_one", "response_id": ["R_1"], "key": "k", "value": "v",
                                              "_loaded_at": LOADED}))
            assert staged.directory.exists() and staged.files
            raise RuntimeError("export failed")
    assert not staged.directory.exists()
