"""Survey definition -> questions / question_options / sub_questions, and the QuestionIndex.

Expected rows are written out by hand from the contract in `qualtrics_assets/normalize/__init__.py`.
"""

import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from qualtrics_assets.erd import QUESTION_OPTIONS, QUESTIONS, SUB_QUESTIONS
from qualtrics_assets.normalize.definitions import definition_frames, question_index

RECORDED = Path(__file__).parent / "fixtures" / "recorded"
LOADED = datetime(2025, 1, 2, 3, 4, 5)
SID = "SV_synthetic1"


def _recorded(name):
    return json.loads((RECORDED / name).read_text(encoding="utf-8"))["result"]


def _choices(*texts, start=1):
    return {str(i): {"Display": t} for i, t in enumerate(texts, start=start)}


def _force(setting):
    return {"Settings": {"ForceResponse": setting, "ForceResponseType": "ON", "Type": "None"}}


SYNTHETIC = {
    "SurveyID": SID,
    "Questions": {
        # deliberately not in flow order
        "QID9": {"QuestionText": "Trashed", "QuestionType": "MC", "Selector": "SAVR", "SubSelector": "TX",
                 "DataExportTag": "Q9", "Choices": _choices("x"), "ChoiceOrder": ["1"]},
        "QID1": {
            "QuestionText": "<p>Pick&nbsp;<b>one</b></p>",
            "QuestionDescription": "Pick one",
            "DataExportTag": "Q1",
            "QuestionType": "MC",
            "Selector": "SAVR",
            "SubSelector": "TX",
            "Choices": {
                "1": {"Display": "<em>Yes</em>"},
                "2": {"Display": "No"},
                "3": {"Display": "Other", "TextEntry": "true"},
                "4": {"Display": "None of these", "ExclusiveAnswer": True},
            },
            "ChoiceOrder": [2, 1, 4],  # ints, as some recorded definitions have; "3" is missing
            "RecodeValues": {"1": "10", "2": 20},
            "Validation": _force("ON"),
            "DisplayLogic": {"0": {"0": {"Type": "Expression"}, "Type": "If"}, "Type": "BooleanExpression"},
        },
        "QID2": {"QuestionText": "Pick all", "QuestionType": "MC", "Selector": "MAVR", "SubSelector": "TX",
                 "Choices": _choices("a", "b"), "ChoiceOrder": ["1", "2"], "Validation": _force("OFF")},
        "QID3": {"QuestionText": "Recommend?", "QuestionType": "MC", "Selector": "NPS",
                 "Choices": _choices(*[str(i) for i in range(11)], start=0), "ChoiceOrder": list(range(11))},
        "QID4": {"QuestionText": "Rank", "QuestionType": "RO", "Selector": "DND", "SubSelector": "TX",
                 "Choices": _choices("r1", "r2", "r3"), "ChoiceOrder": ["3", "1", "2"]},
        "QID5": {
            "QuestionText": "Rate",
            "QuestionType": "Matrix",
            "Selector": "Likert",
            "SubSelector": "SingleAnswer",
            "Choices": _choices("Speed", "Price"),
            "ChoiceOrder": ["2", "1"],
            "Answers": {"1": {"Display": "Bad"}, "2": {"Display": "Good"}, "3": {"Display": "N/A", "ExclusiveAnswer": True}},
            "AnswerOrder": ["1", "2", "3"],
            "RecodeValues": {"1": "-1", "2": "1", "3": "99"},
        },
        "QID6": {"QuestionText": "Slide", "QuestionType": "Slider", "Selector": "HSLIDER",
                 "Choices": _choices("Warmth"), "ChoiceOrder": ["1"]},
        "QID7": {"QuestionText": "Form", "QuestionType": "TE", "Selector": "FORM",
                 "Choices": _choices("First name", "Last name"), "ChoiceOrder": [1, 2]},
        "QID8": {
            "QuestionText": "Hours",
            "QuestionType": "SBS",
            "Selector": "SBSMatrix",
            "Choices": _choices("Mon", "Tue"),
            "ChoiceOrder": [1, 2],
            "Validation": _force("ON"),
            "AdditionalQuestions": {
                "1": {"QuestionID": "QID8#1", "DataExportTag": "Q8#1", "QuestionText": "<b>Open</b>",
                      "QuestionType": "Matrix", "Selector": "Likert", "SubSelector": "DL",
                      "Choices": _choices("Mon", "Tue"), "Answers": _choices("8:00", "9:00"),
                      "RecodeValues": [], "AnswerOrder": ["2", "1"]},
                "2": {"QuestionID": "QID8#2", "DataExportTag": "Q8#2", "QuestionText": "Close",
                      "QuestionType": "Matrix", "Selector": "Likert", "SubSelector": "DL",
                      "Choices": _choices("Mon", "Tue"), "Answers": _choices("17:00"),
                      "RecodeValues": {"1": "17"}, "Validation": _force("OFF")},
            },
        },
        "QID10": {"QuestionText": "Name", "QuestionType": "TE", "Selector": "SL", "Validation": _force("OFF")},
        "QID11": {"QuestionText": "Essay", "QuestionType": "TE", "Selector": "ESTB"},
        "QID12": {"QuestionText": "Intro", "QuestionType": "DB", "Selector": "TB", "SubSelector": "TX", "Choices": []},
        "QID13": {"QuestionText": "Timer", "QuestionType": "Timing", "Selector": "PageTimer",
                  "Choices": _choices("First Click")},
        "QID14": {"QuestionText": "Orphan", "QuestionType": "TE", "Selector": "ML"},
    },
    "Blocks": {
        "BL_trash": {"Type": "Trash", "ID": "BL_trash", "BlockElements": [{"Type": "Question", "QuestionID": "QID9"}]},
        "BL_b": {
            "Type": "Standard",
            "ID": "BL_b",
            "Options": {"Looping": "Static"},
            "BlockElements": [
                {"Type": "Question", "QuestionID": "QID5"},
                {"Type": "Page Break"},
                {"Type": "Question", "QuestionID": "QID6"},
                {"Type": "Question", "QuestionID": "QID7"},
                {"Type": "Question", "QuestionID": "QID8"},
            ],
        },
        "BL_a": {
            "Type": "Default",
            "ID": "BL_a",
            "Options": {"Looping": "None"},
            "BlockElements": [
                {"Type": "Question", "QuestionID": "QID1"},
                {"Type": "Question", "QuestionID": "QID2"},
                {"Type": "Question", "QuestionID": "QID3"},
                {"Type": "Question", "QuestionID": "QID4"},
            ],
        },
        "BL_c": {
            "Type": "Standard",
            "ID": "BL_c",
            "BlockElements": [{"Type": "Question", "QuestionID": q} for q in ("QID10", "QID11", "QID12", "QID13")],
        },
        "BL_unflowed": {"Type": "Standard", "ID": "BL_unflowed",
                        "BlockElements": [{"Type": "Question", "QuestionID": "QID14"}]},
    },
    "SurveyFlow": {
        "Type": "Root",
        "Flow": [
            {"Type": "EmbeddedData", "EmbeddedData": [{"Field": "source"}, {"Field": "panel_id"}]},
            {"Type": "Group", "Flow": [{"Type": "Block", "ID": "BL_a"}]},
            {"Type": "BlockRandomizer", "Flow": [{"Type": "Standard", "ID": "BL_b"}]},
            {"Type": "Branch", "Flow": [{"Type": "EmbeddedData", "EmbeddedData": [{"Field": "segment"}]}]},
            {"Type": "Standard", "ID": "BL_c"},
            {"Type": "EndSurvey"},
        ],
    },
}

# question_id, parent, type, selector, block, order, trash, force, display logic, looped
EXPECTED_QUESTIONS = [
    ("QID1", None, "MC", "SAVR", "BL_a", 1, False, True, True, False),
    ("QID2", None, "MC", "MAVR", "BL_a", 2, False, False, False, False),
    ("QID3", None, "MC", "NPS", "BL_a", 3, False, None, False, False),
    ("QID4", None, "RO", "DND", "BL_a", 4, False, None, False, False),
    ("QID5", None, "Matrix", "Likert", "BL_b", 5, False, None, False, True),
    ("QID6", None, "Slider", "HSLIDER", "BL_b", 6, False, None, False, True),
    ("QID7", None, "TE", "FORM", "BL_b", 7, False, None, False, True),
    ("QID8", None, "SBS", "SBSMatrix", "BL_b", 8, False, True, False, True),
    ("QID8#1", "QID8", "Matrix", "Likert", "BL_b", 8, False, True, False, True),
    ("QID8#2", "QID8", "Matrix", "Likert", "BL_b", 8, False, False, False, True),
    ("QID10", None, "TE", "SL", "BL_c", 9, False, False, False, False),
    ("QID11", None, "TE", "ESTB", "BL_c", 10, False, None, False, False),
    ("QID12", None, "DB", "TB", "BL_c", 11, False, None, False, False),
    ("QID13", None, "Timing", "PageTimer", "BL_c", 12, False, None, False, False),
    # not in any flowed block: Questions-map order (QID9 comes first there)
    ("QID9", None, "MC", "SAVR", "BL_trash", 13, True, None, False, False),
    ("QID14", None, "TE", "ML", "BL_unflowed", 14, False, None, False, False),
]

# question_id, option_id, text, html, recode, display order, text entry, exclusive
EXPECTED_OPTIONS = [
    ("QID1", "2", "No", "No", "20", 1, False, False),
    ("QID1", "1", "Yes", "<em>Yes</em>", "10", 2, False, False),
    ("QID1", "4", "None of these", "None of these", "4", 3, False, True),
    ("QID1", "3", "Other", "Other", "3", 4, True, False),
    ("QID2", "1", "a", "a", "1", 1, False, False),
    ("QID2", "2", "b", "b", "2", 2, False, False),
    *[("QID3", str(i), str(i), str(i), str(i), i + 1, False, False) for i in range(11)],
    ("QID4", "3", "r3", "r3", "3", 1, False, False),
    ("QID4", "1", "r1", "r1", "1", 2, False, False),
    ("QID4", "2", "r2", "r2", "2", 3, False, False),
    ("QID5", "1", "Bad", "Bad", "-1", 1, False, False),
    ("QID5", "2", "Good", "Good", "1", 2, False, False),
    ("QID5", "3", "N/A", "N/A", "99", 3, False, True),
    ("QID8#1", "2", "9:00", "9:00", "2", 1, False, False),
    ("QID8#1", "1", "8:00", "8:00", "1", 2, False, False),
    ("QID8#2", "1", "17:00", "17:00", "17", 1, False, False),
    ("QID9", "1", "x", "x", "1", 1, False, False),
]

# question_id, sub_question_id, text, recode, display order, text entry
EXPECTED_SUB_QUESTIONS = [
    ("QID5", "2", "Price", "2", 1, False),
    ("QID5", "1", "Speed", "1", 2, False),
    ("QID6", "1", "Warmth", "1", 1, False),
    ("QID7", "1", "First name", "1", 1, False),
    ("QID7", "2", "Last name", "2", 2, False),
    ("QID8#1", "1", "Mon", "1", 1, False),
    ("QID8#1", "2", "Tue", "2", 2, False),
    ("QID8#2", "1", "Mon", "1", 1, False),
    ("QID8#2", "2", "Tue", "2", 2, False),
]


def _rows(frame, columns):
    return [tuple(None if pd.isna(v) else v for v in row) for row in frame[columns].itertuples(index=False)]


@pytest.fixture(scope="module")
def synthetic():
    return definition_frames(SID, SYNTHETIC, LOADED)


def test_frames_have_erd_columns_in_order(synthetic):
    assert list(synthetic) == ["questions", "question_options", "sub_questions"]
    for name, table in (("questions", QUESTIONS), ("question_options", QUESTION_OPTIONS), ("sub_questions", SUB_QUESTIONS)):
        assert list(synthetic[name].columns) == table.column_names
        assert (synthetic[name]["survey_id"] == SID).all()
        assert (synthetic[name]["_loaded_at"] == pd.Timestamp(LOADED)).all()


def test_synthetic_questions(synthetic):
    columns = ["question_id", "parent_question_id", "question_type", "selector", "block_id", "question_order",
               "is_in_trash", "force_response", "has_display_logic", "loop_block"]
    assert _rows(synthetic["questions"], columns) == EXPECTED_QUESTIONS


def test_synthetic_question_texts_and_tags(synthetic):
    q = synthetic["questions"].set_index("question_id")
    assert q.loc["QID1", "question_text"] == "Pick one"
    assert q.loc["QID1", "question_text_html"] == "<p>Pick&nbsp;<b>one</b></p>"
    assert q.loc["QID1", "question_description"] == "Pick one"
    assert q.loc["QID1", "data_export_tag"] == "Q1"
    assert q.loc["QID8#1", "question_text"] == "Open"
    assert q.loc["QID8#1", "data_export_tag"] == "Q8#1"
    assert q.loc["QID8#1", "sub_selector"] == "DL"
    assert pd.isna(q.loc["QID10", "sub_selector"])  # TE has no SubSelector key


def test_synthetic_options(synthetic):
    columns = ["question_id", "option_id", "option_text", "option_text_html", "recode_value", "display_order",
               "allows_text_entry", "is_exclusive"]
    assert _rows(synthetic["question_options"], columns) == EXPECTED_OPTIONS


def test_synthetic_sub_questions(synthetic):
    columns = ["question_id", "sub_question_id", "sub_question_text", "recode_value", "display_order", "allows_text_entry"]
    assert _rows(synthetic["sub_questions"], columns) == EXPECTED_SUB_QUESTIONS


def test_dtypes(synthetic):
    q, o, s = synthetic["questions"], synthetic["question_options"], synthetic["sub_questions"]
    assert q["question_order"].dtype == "Int64"
    assert q["is_in_trash"].dtype == "bool"
    assert q["force_response"].dtype == "boolean"
    assert o["display_order"].dtype == "Int64"
    assert o["is_exclusive"].dtype == "boolean"
    assert s["allows_text_entry"].dtype == "boolean"


def test_primary_keys_are_unique(synthetic):
    for name, table in (("questions", QUESTIONS), ("question_options", QUESTION_OPTIONS), ("sub_questions", SUB_QUESTIONS)):
        assert not synthetic[name].duplicated(list(table.primary_key)).any()


def test_synthetic_index():
    index = question_index(SYNTHETIC)
    assert index.embedded_data_fields == {"source", "panel_id", "segment"}
    kinds = {qid: info.kind for qid, info in index.questions.items()}
    assert kinds == {
        "QID1": "MC", "QID2": "MC", "QID3": "MC", "QID4": "RO", "QID5": "Matrix", "QID6": "Slider",
        "QID7": "FORM", "QID8": "other", "QID8#1": "Matrix", "QID8#2": "Matrix", "QID10": "TE",
        "QID11": "TE", "QID12": "other", "QID13": "other", "QID9": "MC", "QID14": "TE",
    }
    assert index.questions["QID1"].option_by_recode == {"20": "2", "10": "1", "4": "4", "3": "3"}
    assert index.questions["QID5"].option_by_recode == {"-1": "1", "1": "2", "99": "3"}
    assert index.questions["QID8#2"].option_by_recode == {"17": "1"}
    assert index.questions["QID6"].option_by_recode == {}


def test_invalid_survey_id_is_rejected():
    with pytest.raises(ValueError, match="not a Qualtrics survey id"):
        definition_frames("../etc", SYNTHETIC, LOADED)


def test_empty_definition_gives_empty_frames():
    frames = definition_frames(SID, {}, LOADED)
    assert all(frame.empty for frame in frames.values())
    assert list(frames["questions"].columns) == QUESTIONS.column_names


# --- recorded: ropensci/qualtRics fetch_description (Beskar Armor) ------------------------------


@pytest.fixture(scope="module")
def beskar_definition():
    return _recorded("normalize_rq_survey_definition_SV_3gbwq8aJgqPwQDP.json")


@pytest.fixture(scope="module")
def beskar(beskar_definition):
    return definition_frames("SV_3gbwq8aJgqPwQDP", beskar_definition, LOADED)


def test_recorded_questions_order_trash_and_flags(beskar):
    q = beskar["questions"]
    # flow: BL_9z6… (QID63), BlockRandomizer (empty), BL_bvJ… (16, 17, 18, 19, 22);
    # then the Trash block's questions in `Questions` order
    assert q["question_id"].tolist() == [
        "QID63", "QID16", "QID17", "QID18", "QID19", "QID22", "QID20", "QID21", "QID64", "QID65", "QID66", "QID67"
    ]
    assert q["question_order"].tolist() == list(range(1, 13))
    assert q["is_in_trash"].tolist() == [False] * 6 + [True] * 6
    assert set(q.loc[q["is_in_trash"], "block_id"]) == {"BL_3guR0F0lGVfF5tj"}
    by_id = q.set_index("question_id")
    assert by_id.loc["QID18", "has_display_logic"] and by_id.loc["QID19", "has_display_logic"]
    assert not by_id.loc["QID16", "has_display_logic"]
    assert by_id.loc["QID16", "force_response"] and not by_id.loc["QID18", "force_response"]
    assert by_id.loc["QID19", "question_type"] == "TE" and pd.isna(by_id.loc["QID19", "sub_selector"])
    assert by_id.loc["QID17", "selector"] == "SAHR"
    assert not q["loop_block"].any()
    assert q["parent_question_id"].isna().all()
    assert by_id.loc["QID64", "question_text"] == (
        "Based on your most recent experiences, please rate your satisfaction with Fish Tube for the following: "
        "Overall quality"
    )


def test_recorded_options(beskar, beskar_definition):
    o = beskar["question_options"]
    expected_count = sum(len(q.get("Choices", {})) for q in beskar_definition["Questions"].values())
    assert len(o) == expected_count == 45
    qid16 = o[o["question_id"] == "QID16"]
    assert qid16["option_id"].tolist() == ["5", "4", "3", "2", "1"]  # ChoiceOrder
    assert qid16["display_order"].tolist() == [1, 2, 3, 4, 5]
    assert qid16["option_text"].tolist() == [
        "Extremely satisfied", "Somewhat satisfied", "Neither satisfied nor dissatisfied",
        "Somewhat dissatisfied", "Extremely dissatisfied",
    ]
    assert qid16.iloc[4]["option_text_html"] == "<em>Extremely</em> dissatisfied"
    qid18 = o[o["question_id"] == "QID18"].set_index("option_id")
    assert qid18.loc["1", "option_text"] == "Yes, by the tribe or its representatives"
    assert not o["allows_text_entry"].any() and not o["is_exclusive"].any()
    assert (o["recode_value"] == o["option_id"]).all()
    assert beskar["sub_questions"].empty
    assert set(o["question_id"]) == {"QID16", "QID17", "QID18", "QID20", "QID21", "QID63", "QID64", "QID65", "QID66", "QID67"}


def test_recorded_index(beskar_definition):
    index = question_index(beskar_definition)
    assert index.embedded_data_fields == {"SolutionRevision"}
    assert index.questions["QID19"].kind == "TE"
    assert index.questions["QID63"].option_by_recode == {"1": "1", "2": "2", "3": "3", "4": "4", "5": "5"}


# --- recorded: CambridgeEducation/qualtrics_api question collection (one question per type) --------


@pytest.fixture(scope="module")
def ce_elements():
    return _recorded("normalize_ce_questions_one_per_type.json")["elements"]


@pytest.fixture(scope="module")
def ce(ce_elements):
    definition = {"Questions": {e["QuestionID"]: e for e in ce_elements}}
    return definition_frames("SV_a2AcbPZz1DehlOd", definition, LOADED)


def test_recorded_sbs_columns(ce, ce_elements):
    q = ce["questions"].set_index("question_id")
    sbs = next(e for e in ce_elements if e["QuestionType"] == "SBS")
    columns = [c["QuestionID"] for c in sbs["AdditionalQuestions"].values()]
    assert columns == ["QID25#1", "QID25#2"]
    for column in columns:
        assert q.loc[column, "parent_question_id"] == "QID25"
        assert q.loc[column, "question_order"] == q.loc["QID25", "question_order"]
        assert q.loc[column, "question_type"] == "Matrix"
    assert q.loc["QID25#1", "question_text"] == "Open"
    subs = ce["sub_questions"]
    assert subs[subs["question_id"] == "QID25#1"]["sub_question_text"].tolist() == [
        "Monday-Friday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"
    ]
    opts = ce["question_options"]
    col1 = opts[opts["question_id"] == "QID25#1"]
    assert len(col1) == 24 and col1["display_order"].tolist() == list(range(1, 25))
    assert col1.iloc[12]["option_text"] == "12:00 noon"
    assert (col1["recode_value"] == col1["option_id"]).all()  # RecodeValues is [] there
    assert opts[opts["question_id"] == "QID25"].empty and subs[subs["question_id"] == "QID25"].empty


def test_recorded_types_follow_the_contract_table(ce, ce_elements):
    opts, subs = ce["question_options"], ce["sub_questions"]
    for e in ce_elements:
        qid, qtype, selector = e["QuestionID"], e["QuestionType"], e.get("Selector")
        n_choices, n_answers = len(e.get("Choices") or {}), len(e.get("Answers") or {})
        n_opts = (opts["question_id"] == qid).sum()
        n_subs = (subs["question_id"] == qid).sum()
        if qtype in ("MC", "RO"):
            assert (n_opts, n_subs) == (n_choices, 0), qid
        elif qtype == "Matrix":
            assert (n_opts, n_subs) == (n_answers, n_choices), qid
        elif qtype == "Slider" or (qtype == "TE" and selector == "FORM"):
            assert (n_opts, n_subs) == (0, n_choices), qid
        else:
            assert (n_opts, n_subs) == (0, 0), qid


def test_recorded_matrix_with_integer_answer_order(ce, ce_elements):
    matrix = next(e for e in ce_elements if e["QuestionID"] == "QID647")
    assert matrix["AnswerOrder"] == [1, 2]
    opts = ce["question_options"]
    rows = opts[opts["question_id"] == "QID647"]
    assert rows["option_text"].tolist() == ["Documented", "Investigated"]
    assert rows["display_order"].tolist() == [1, 2]
    html_q = ce["questions"].set_index("question_id").loc["QID647"]
    assert "&nbsp;" in html_q["question_text_html"] and "&nbsp;" not in html_q["question_text"]
    assert "  " not in html_q["question_text"]
