"""Export records -> responses / answers / embedded_data, following the contract's export-key table.

Expected rows are written out by hand from the contract in `qualtrics_assets/normalize/__init__.py`.
"""

import dataclasses
import json
from datetime import datetime

import duckdb
import pandas as pd
import pytest

from qualtrics_assets.erd import ANSWERS, EMBEDDED_DATA, RESPONSES
from qualtrics_assets.normalize.definitions import question_index
from qualtrics_assets.normalize.responses import ResponseNormalizer
from qualtrics_assets_tests.test_normalize_definitions import SYNTHETIC

LOADED = datetime(2025, 1, 2, 3, 4, 5)
SID = "SV_synthetic1"
ANSWER_COLUMNS = ["response_id", "field", "answer_index", "question_id", "loop_id", "sub_question_id", "option_id",
                  "part", "value_code", "value_label", "value_number", "value_text"]

# The one real JSON export record quoted in /work/shared/qualtrics-api.md §8d (DARPA ASIST testbed doc).
RECORDED_8D = {
    "responseId": "R_2Y62vxvBCVIJxEG",
    "values": {
        "startDate": "2021-03-25T17:16:56Z", "endDate": "2021-03-25T17:21:25Z", "status": 0,
        "ipAddress": "165.225.48.92", "progress": 100, "duration": 269, "finished": 1,
        "recordedDate": "2021-03-25T17:21:25.942Z", "_recordId": "R_2Y62vxvBCVIJxEG",
        "locationLatitude": "38.8990020751953125", "locationLongitude": "-77.19190216064453125",
        "distributionChannel": "anonymous", "userLanguage": "EN", "QID1_TEXT": "wedw", "QID3": 5, "QID2": ["2"],
    },
    "labels": {"status": "IP Address", "finished": "True", "QID3": "Slightly uncomfortable", "QID2": ["Tuesday"]},
    "displayedFields": ["QID4_3", "QID4_4", "QID3", "QID4_5", "QID1_TEXT", "QID2", "QID4_1", "QID4_2"],
    "displayedValues": {"QID4_3": [1, 2, 3, 4, 5], "QID3": [1, 2, 3, 4, 5, 6, 7], "QID2": ["1", "2", "3", "4", "5", "6", "7"]},
}
# A definition shaped like the one behind that record (QID1 text, QID3 7-point MC, QID2 weekdays MAVR).
DEFINITION_8D = {
    "Questions": {
        "QID1": {"QuestionType": "TE", "Selector": "SL"},
        "QID3": {"QuestionType": "MC", "Selector": "SAVR", "Choices": {str(i): {"Display": f"c{i}"} for i in range(1, 8)}},
        "QID2": {"QuestionType": "MC", "Selector": "MAVR", "Choices": {str(i): {"Display": f"d{i}"} for i in range(1, 8)}},
        "QID4": {"QuestionType": "Matrix", "Selector": "Likert", "Choices": {"1": {"Display": "s"}},
                 "Answers": {str(i): {"Display": str(i)} for i in range(1, 6)}},
    }
}


def _rows(frame, columns=ANSWER_COLUMNS):
    """Rows as tuples in key order (the first three columns), nulls as None."""
    return _in_key_order([tuple(None if pd.isna(v) else v for v in row) for row in frame[columns].itertuples(index=False)])


def _in_key_order(rows):
    return sorted(rows, key=lambda row: tuple(str(v) for v in row[:3]))


def _normalize(records, definition=SYNTHETIC, survey_id=SID):
    return ResponseNormalizer(survey_id, question_index(definition), LOADED).frames(records)


def test_recorded_8d_record():
    frames = _normalize([RECORDED_8D], DEFINITION_8D, "SV_asist")
    assert list(frames) == ["responses", "answers", "embedded_data"]
    responses = frames["responses"]
    assert list(responses.columns) == RESPONSES.column_names
    row = responses.iloc[0]
    assert row["response_id"] == "R_2Y62vxvBCVIJxEG" and row["survey_id"] == "SV_asist"
    assert row["start_date"] == pd.Timestamp("2021-03-25 17:16:56")
    assert row["end_date"] == pd.Timestamp("2021-03-25 17:21:25")
    assert row["recorded_date"] == pd.Timestamp("2021-03-25 17:21:25.942")
    assert pd.isna(row["last_modified_date"])
    assert (row["status"], row["status_label"], row["progress"], row["duration_seconds"]) == (0, "IP Address", 100, 269)
    assert row["finished"] == True  # noqa: E712 (pandas boolean scalar)
    assert row["ip_address"] == "165.225.48.92"
    assert row["location_latitude"] == pytest.approx(38.8990020751953125)
    assert row["location_longitude"] == pytest.approx(-77.19190216064453125)
    assert (row["distribution_channel"], row["user_language"]) == ("anonymous", "EN")
    assert pd.isna(row["recipient_email"]) and pd.isna(row["external_reference"])

    assert _rows(frames["answers"]) == _in_key_order([
        ("R_2Y62vxvBCVIJxEG", "QID1_TEXT", 0, "QID1", None, None, None, "TEXT", "wedw", None, None, "wedw"),
        ("R_2Y62vxvBCVIJxEG", "QID3", 0, "QID3", None, None, "5", None, "5", "Slightly uncomfortable", 5.0, None),
        ("R_2Y62vxvBCVIJxEG", "QID2", 0, "QID2", None, None, "2", None, "2", "Tuesday", 2.0, None),
    ])
    assert frames["embedded_data"].empty  # _recordId is metadata, displayed* are not values


SYNTHETIC_RECORD = {
    "responseId": "R_all",
    "values": {
        "startDate": "2024-05-01T10:00:00Z",
        "recordedDate": "2024-05-01T10:05:00.5Z",
        "_lastModifiedDate": "2024-05-02T00:00:00Z",
        "status": "4", "progress": "100", "duration": "300", "finished": "1",
        "recipientEmail": "zoë@example.org", "recipientFirstName": "Zoë", "recipientLastName": "Ødegaard",
        "externalDataReference": "ext-1",
        "QID1": 20,
        "QID1_3_TEXT": "something else",
        "QID2": ["1", "2"],
        "QID3": 9,
        "QID3_NPS_GROUP": 3,
        "QID4_3": 1,
        "QID4_1": "2",
        "QID5_2": -1,
        "QID5_1": 99.0,
        "QID5_1_TEXT": "why",
        "QID6_1": 37.5,
        "QID7_1": "Zoë",
        "QID8#1_2": 2,
        "QID8#2_1": "17",
        "2_QID10_TEXT": "  loop two  ",
        "QID10_TEXT": "42",
        "QID13_FIRST_CLICK": 1.25,
        "QID4_G0_1_RANK": 2,
        "QID99_5": "x",
        "QID99": 3,
        "source": "email",
        "panel_id": 12345,
        "unknown_field": "日本語",
    },
    "labels": {
        "status": "Imported", "QID1": "No", "QID2": ["a", "b"], "QID3": "9", "QID3_NPS_GROUP": "Promoter",
        "QID5_2": "Bad", "QID8#1_2": "9:00",
    },
}


def test_every_export_key_form():
    frames = _normalize([SYNTHETIC_RECORD])
    r = "R_all"
    assert _rows(frames["answers"]) == _in_key_order([
        (r, "QID1", 0, "QID1", None, None, "2", None, "20", "No", 20.0, None),
        (r, "QID1_3_TEXT", 0, "QID1", None, None, "3", "TEXT", "something else", None, None, "something else"),
        (r, "QID2", 0, "QID2", None, None, "1", None, "1", "a", 1.0, None),
        (r, "QID2", 1, "QID2", None, None, "2", None, "2", "b", 2.0, None),
        (r, "QID3", 0, "QID3", None, None, "9", None, "9", "9", 9.0, None),
        (r, "QID3_NPS_GROUP", 0, "QID3", None, None, None, "NPS_GROUP", "3", "Promoter", 3.0, None),
        (r, "QID4_3", 0, "QID4", None, None, "3", "RANK", "1", None, 1.0, None),
        (r, "QID4_1", 0, "QID4", None, None, "1", "RANK", "2", None, 2.0, None),
        (r, "QID5_2", 0, "QID5", None, "2", "1", None, "-1", "Bad", -1.0, None),
        (r, "QID5_1", 0, "QID5", None, "1", "3", None, "99", None, 99.0, None),
        (r, "QID5_1_TEXT", 0, "QID5", None, "1", None, "TEXT", "why", None, None, "why"),
        (r, "QID6_1", 0, "QID6", None, "1", None, None, "37.5", None, 37.5, None),
        (r, "QID7_1", 0, "QID7", None, "1", None, None, "Zoë", None, None, "Zoë"),
        (r, "QID8#1_2", 0, "QID8#1", None, "2", "2", None, "2", "9:00", 2.0, None),
        (r, "QID8#2_1", 0, "QID8#2", None, "1", "1", None, "17", None, 17.0, None),
        (r, "2_QID10_TEXT", 0, "QID10", "2", None, None, "TEXT", "  loop two  ", None, None, "  loop two  "),
        (r, "QID10_TEXT", 0, "QID10", None, None, None, "TEXT", "42", None, None, "42"),
        (r, "QID13_FIRST_CLICK", 0, "QID13", None, None, None, "FIRST_CLICK", "1.25", None, 1.25, None),
        (r, "QID4_G0_1_RANK", 0, "QID4", None, None, None, "G0_1_RANK", "2", None, 2.0, None),
        (r, "QID99_5", 0, "QID99", None, None, None, "5", "x", None, None, None),
        (r, "QID99", 0, "QID99", None, None, None, None, "3", None, 3.0, None),
    ])
    assert _rows(frames["embedded_data"], ["response_id", "key", "value"]) == _in_key_order([
        (r, "source", "email"),
        (r, "panel_id", "12345"),
        (r, "unknown_field", "日本語"),
    ])
    row = frames["responses"].iloc[0]
    assert (row["status"], row["status_label"], row["progress"], row["duration_seconds"]) == (4, "Imported", 100, 300)
    assert row["finished"] == True  # noqa: E712
    assert row["recorded_date"] == pd.Timestamp("2024-05-01 10:05:00.5")
    assert row["last_modified_date"] == pd.Timestamp("2024-05-02")
    assert pd.isna(row["end_date"]) and pd.isna(row["ip_address"]) and pd.isna(row["location_latitude"])
    assert (row["recipient_first_name"], row["recipient_last_name"], row["recipient_email"]) == (
        "Zoë", "Ødegaard", "zoë@example.org"
    )
    assert row["external_reference"] == "ext-1"


def _directories(tmp_path, names=("responses", "answers", "embedded_data")):
    directories = {name: tmp_path / name for name in names}
    for directory in directories.values():
        directory.mkdir()
    return directories


def _select(con, normalized):
    con.execute(normalized.setup)
    return normalized.select()


def _types_and_count(normalized):
    """Column (name, type) pairs and the row count of a staged table, as the warehouse reads it."""
    with duckdb.connect() as con:
        select = _select(con, normalized)
        types = [(name, kind) for name, kind, *_ in con.execute(f"DESCRIBE {select}").fetchall()]
        return types, con.execute(f"SELECT count(*) FROM ({select})").fetchone()[0]


def test_staged_files_have_erd_columns_and_types(tmp_path):
    source = tmp_path / "export.ndjson"
    source.write_text("".join(json.dumps(r) + "\n" for r in (SYNTHETIC_RECORD, RECORDED_8D)))
    normalizer = ResponseNormalizer(SID, question_index(SYNTHETIC), LOADED)
    staged = normalizer.stage([str(source)], _directories(tmp_path))
    frames = _normalize([SYNTHETIC_RECORD, RECORDED_8D])
    for name, table in (("responses", RESPONSES), ("answers", ANSWERS), ("embedded_data", EMBEDDED_DATA)):
        types, count = _types_and_count(staged[name])
        assert types == [(c.name, c.type) for c in table.columns]
        assert count == len(frames[name]) > 0
        assert staged[name].row_count in (count, None)  # None: counted when the query runs
        assert (frames[name]["survey_id"] == SID).all()
        assert (frames[name]["_loaded_at"] == pd.Timestamp(LOADED)).all()
        assert not frames[name].duplicated(list(table.primary_key)).any()


def test_records_split_over_files_give_the_same_rows(tmp_path):
    """A split export (several date windows) is several files; they read as one."""
    records = [{**SYNTHETIC_RECORD, "responseId": f"R_{i}"} for i in range(5)]
    files = []
    for n, chunk in enumerate((records[:2], records[2:])):
        path = tmp_path / f"part{n}.ndjson"
        path.write_text("".join(json.dumps(r) + "\n" for r in chunk) + "{}\n\n")
        files.append(str(path))
    normalizer = ResponseNormalizer(SID, question_index(SYNTHETIC), LOADED)
    staged = normalizer.stage(files, _directories(tmp_path, ["answers"]))
    whole = _normalize(records)["answers"]
    with duckdb.connect() as con:
        split = con.execute(f"SELECT * FROM ({_select(con, staged['answers'])}) "
                            "ORDER BY response_id, field, answer_index").fetchdf()
    pd.testing.assert_frame_equal(split, whole)
    assert set(split["response_id"]) == {f"R_{i}" for i in range(5)}


def test_in_progress_anonymized_and_stringly_typed_records():
    in_progress = {
        "responseId": "FS_22mEa4YjrI2K1tw",
        "values": {"startDate": "2022-06-02T18:00:00Z", "endDate": "2022-06-02T18:10:00Z", "status": 0,
                   "progress": 40, "duration": 600, "finished": 0},
        "labels": {"status": "IP Address", "finished": "False"},
    }
    anonymized = {
        "responseId": "R_anon",
        "values": {"status": "8", "progress": "100", "duration": "12", "finished": "True",
                   "locationLatitude": "", "QID2": [], "QID1": "20"},
    }
    frames = _normalize([in_progress, {}, anonymized])
    responses = frames["responses"].set_index("response_id")
    assert responses.index.tolist() == ["FS_22mEa4YjrI2K1tw", "R_anon"]
    fs = responses.loc["FS_22mEa4YjrI2K1tw"]
    assert pd.isna(fs["recorded_date"]) and fs["finished"] == False  # noqa: E712
    assert (fs["progress"], fs["duration_seconds"]) == (40, 600)
    anon = responses.loc["R_anon"]
    assert (anon["status"], anon["progress"], anon["duration_seconds"]) == (8, 100, 12)
    assert anon["finished"] == True  # noqa: E712
    assert pd.isna(anon["status_label"]) and pd.isna(anon["ip_address"]) and pd.isna(anon["location_latitude"])
    assert pd.isna(anon["start_date"])
    # the empty multi-select gives no row; "20" as a string still resolves its recode
    assert _rows(frames["answers"]) == _in_key_order([
        ("R_anon", "QID1", 0, "QID1", None, None, "2", None, "20", None, 20.0, None),
    ])


def test_value_code_spelling():
    record = {"responseId": "R_n", "values": {"QID99": 5.0, "QID98": 37.5, "QID97": -0.25, "QID96": 12,
                                               "QID95": "1e3", "QID94": "nan", "QID93": None}}
    answers = _normalize([record])["answers"].set_index("field")
    assert answers.loc["QID99", "value_code"] == "5" and answers.loc["QID99", "value_number"] == 5.0
    assert answers.loc["QID98", "value_code"] == "37.5"
    assert answers.loc["QID97", "value_code"] == "-0.25"
    assert answers.loc["QID96", "value_code"] == "12"
    assert answers.loc["QID95", "value_code"] == "1e3" and answers.loc["QID95", "value_number"] == 1000.0
    assert answers.loc["QID94", "value_code"] == "nan" and pd.isna(answers.loc["QID94", "value_number"])
    assert pd.isna(answers.loc["QID93", "value_code"])


def test_labels_align_by_index_and_tolerate_short_lists():
    record = {"responseId": "R_l", "values": {"QID2": ["2", "1", "9"]}, "labels": {"QID2": ["b", "a"]}}
    answers = _normalize([record])["answers"]
    assert answers["answer_index"].tolist() == [0, 1, 2]
    assert answers["option_id"].tolist() == ["2", "1", None]  # recode 9 is not an option of QID2
    assert answers["value_label"].tolist() == ["b", "a", None]


def test_declared_embedded_field_wins_over_the_qid_grammar():
    index = question_index(SYNTHETIC)
    index = dataclasses.replace(index, embedded_data_fields=index.embedded_data_fields | {"QID1_note"})
    record = {"responseId": "R_e", "values": {"QID1_note": "hi", "QID1_other": "x"}}
    frames = ResponseNormalizer(SID, index, LOADED).frames([record])
    assert frames["embedded_data"]["key"].tolist() == ["QID1_note"]
    assert frames["answers"]["field"].tolist() == ["QID1_other"]
    assert frames["answers"]["part"].tolist() == ["other"]


def test_no_records_give_typed_empty_tables(tmp_path):
    normalizer = ResponseNormalizer(SID, question_index(SYNTHETIC), LOADED)
    frames = normalizer.frames([])
    assert all(frame.empty for frame in frames.values())
    assert list(frames["answers"].columns) == ANSWERS.column_names
    staged = normalizer.stage([], _directories(tmp_path, ["responses"]))
    assert staged["responses"].row_count == 0
    assert _types_and_count(staged["responses"]) == ([(c.name, c.type) for c in RESPONSES.columns], 0)


def test_bad_input_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="not a Qualtrics survey id"):
        ResponseNormalizer("SV_bad id", question_index(SYNTHETIC), LOADED)
    normalizer = ResponseNormalizer(SID, question_index(SYNTHETIC), LOADED)
    with pytest.raises(ValueError, match="SV_synthetic1 has 1 value.* without responseId"):
        normalizer.frames([{"values": {"QID1": 1}}])
    with pytest.raises(ValueError, match="recorded_date.*SV_synthetic1|SV_synthetic1.*not-a-date"):
        normalizer.frames([{"responseId": "R_1", "values": {"recordedDate": "not-a-date"}}])
    with pytest.raises(ValueError, match="export of SV_synthetic1 is not valid NDJSON"):
        normalizer.stage([str(tmp_path / "missing.ndjson")], _directories(tmp_path, ["answers"]))
    with pytest.raises(ValueError, match="no normalized table"):
        normalizer.stage([], {"answer": tmp_path})


def test_wide_records_get_more_memory_than_the_limit_when_they_need_it(tmp_path):
    """DuckDB reads 2,048 records at a time: a limit too small for very wide records is raised."""
    values = {f"QID{k}_{j}": j for k in range(1, 200) for j in range(1, 6)}
    source = tmp_path / "wide.ndjson"
    with open(source, "w") as out:
        for i in range(3000):
            out.write(json.dumps({"responseId": f"R_{i}", "values": values, "labels": {"QID1_1": "one"}}) + "\n")
    normalizer = ResponseNormalizer(SID, question_index(SYNTHETIC), LOADED, memory_limit="64MB")
    staged = normalizer.stage([str(source)], _directories(tmp_path, ["responses", "answers"]))
    assert staged["responses"].row_count == 3000
    assert _types_and_count(staged["answers"])[1] == 3000 * len(values)
