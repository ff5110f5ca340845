"""GET /survey-definitions/{id} `result` -> questions, question_options, sub_questions.

Also builds the `QuestionIndex` the response normalizer needs to read export keys: what kind of
question a QID is, which option each exported recode value means, which keys are embedded data.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from qualtrics_assets.erd import QUESTION_OPTIONS, QUESTIONS, SUB_QUESTIONS
from qualtrics_assets.normalize.frames import table_frame
from qualtrics_assets.qualtrics import validate_survey_id
from qualtrics_assets.normalize.text import html_to_text

# Question kinds: what Choices / Answers hold and how a question's export keys read.
MC = "MC"  # Choices are options (every MC selector, NPS included)
RO = "RO"  # Choices are options; `<k>` keys carry ranks
MATRIX = "Matrix"  # Choices are statements, Answers are options (SBS columns too)
SLIDER = "Slider"  # Choices are statements with numeric values
FORM = "FORM"  # TE/FORM: Choices are statements with typed text
TEXT = "TE"  # TE single/multi line, essay: no options, text under `_TEXT`
OTHER = "other"  # DB, Timing, Meta, FileUpload, the SBS container, …: neither


def question_kind(question_type: str | None, selector: str | None, is_sbs_column: bool = False) -> str:
    """The contract's type table as one function, so definitions and responses agree."""
    if is_sbs_column or question_type == "Matrix":
        return MATRIX
    if question_type == "TE":
        return FORM if selector == "FORM" else TEXT
    return {"MC": MC, "RO": RO, "Slider": SLIDER}.get(question_type or "", OTHER)


@dataclass(frozen=True)
class QuestionInfo:
    """What the response normalizer needs about one question (or SBS column)."""

    kind: str
    option_by_recode: Mapping[str, str]


@dataclass(frozen=True)
class QuestionIndex:
    """Question id (`QID8`, `QID8#1`) -> QuestionInfo, plus the declared embedded-data fields."""

    questions: Mapping[str, QuestionInfo]
    embedded_data_fields: frozenset[str]


@dataclass(frozen=True)
class _Placed:
    """A question (or SBS column) with where it sits in the survey."""

    question_id: str
    question: dict
    parent_id: str | None
    parent: dict | None
    block_id: str | None
    order: int
    in_trash: bool
    looped: bool


def _as_map(value: object) -> dict:
    """Qualtrics (PHP) serialises empty or 0-keyed maps as JSON lists; read both as dicts."""
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(i): v for i, v in enumerate(value)}
    return {}


def _is_true(value: object) -> bool:
    """Flags arrive as JSON booleans or as the strings "true"/"false"."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _blocks(definition: dict) -> dict[str, dict]:
    blocks = definition.get("Blocks")
    if isinstance(blocks, list):
        return {b["ID"]: b for b in blocks if isinstance(b, dict) and b.get("ID")}
    return {k: v for k, v in _as_map(blocks).items() if isinstance(v, dict)}


def _walk_flow(elements: object) -> Iterator[dict]:
    """Every SurveyFlow element, depth first (groups, randomizers and branches nest `Flow`)."""
    for element in elements if isinstance(elements, list) else []:
        if isinstance(element, dict):
            yield element
            yield from _walk_flow(element.get("Flow"))


def _flow_elements(definition: dict) -> Iterator[dict]:
    return _walk_flow((definition.get("SurveyFlow") or {}).get("Flow"))


def _question_ids(block: dict) -> list[str]:
    return [
        e["QuestionID"]
        for e in block.get("BlockElements") or []
        if isinstance(e, dict) and e.get("Type") == "Question" and e.get("QuestionID")
    ]


def _placed_questions(definition: dict) -> Iterator[_Placed]:
    """Questions in contract order: flowed blocks, then the rest in `Questions` order.

    Each SBS question is followed by its columns, which share its block and order.
    """
    questions = {k: v for k, v in _as_map(definition.get("Questions")).items() if isinstance(v, dict)}
    blocks = _blocks(definition)
    flowed = list(dict.fromkeys(e["ID"] for e in _flow_elements(definition) if e.get("ID") in blocks))
    block_of: dict[str, str] = {}
    for block_id in flowed + [b for b in blocks if b not in flowed]:
        for qid in _question_ids(blocks[block_id]):
            block_of.setdefault(qid, block_id)
    in_flow = dict.fromkeys(qid for b in flowed for qid in _question_ids(blocks[b]) if qid in questions)
    ordered = list(in_flow) + [q for q in questions if q not in in_flow]
    for order, qid in enumerate(ordered, start=1):
        block_id = block_of.get(qid)
        block = blocks.get(block_id, {})
        looping = (block.get("Options") or {}).get("Looping")
        placed = _Placed(
            question_id=qid,
            question=questions[qid],
            parent_id=None,
            parent=None,
            block_id=block_id,
            order=order,
            in_trash=block.get("Type") == "Trash",
            looped=bool(looping) and looping != "None",
        )
        yield placed
        if questions[qid].get("QuestionType") == "SBS":
            for k, column in _as_map(questions[qid].get("AdditionalQuestions")).items():
                if isinstance(column, dict):
                    column_id = column.get("QuestionID") or f"{qid}#{k}"
                    yield _Placed(
                        column_id, column, qid, questions[qid], block_id, order, placed.in_trash, placed.looped
                    )


def _kind(placed: _Placed) -> str:
    q = placed.question
    return question_kind(q.get("QuestionType"), q.get("Selector"), placed.parent is not None)


def _force_response(question: dict) -> bool | None:
    """Validation.Settings.ForceResponse "ON"/"OFF"; null when the question has no such setting."""
    setting = ((question.get("Validation") or {}).get("Settings") or {}).get("ForceResponse")
    return {"ON": True, "OFF": False}.get(setting)


def _question_row(placed: _Placed) -> dict:
    """One `questions` row; an SBS column inherits logic and validation it does not define."""
    q, parent = placed.question, placed.parent or {}
    force = _force_response(q)
    html = q.get("QuestionText")
    return {
        "question_id": placed.question_id,
        "parent_question_id": placed.parent_id,
        "data_export_tag": q.get("DataExportTag"),
        "question_type": q.get("QuestionType"),
        "selector": q.get("Selector"),
        "sub_selector": q.get("SubSelector"),
        "question_text": html_to_text(html),
        "question_text_html": html,
        "question_description": q.get("QuestionDescription"),
        "block_id": placed.block_id,
        "question_order": placed.order,
        "is_in_trash": placed.in_trash,
        "force_response": _force_response(parent) if force is None else force,
        "has_display_logic": bool(q.get("DisplayLogic") or parent.get("DisplayLogic")),
        "loop_block": placed.looped,
    }


def _ordered(items: dict, order: object) -> list[str]:
    """Ids in display order: those listed in the order first, then the rest in map order."""
    listed = dict.fromkeys(str(i) for i in order if str(i) in items) if isinstance(order, list) else {}
    return list(listed) + [i for i in items if i not in listed]


def _items(question: dict, items_key: str, order_key: str, recodes: dict | None) -> list[dict]:
    """Choices or Answers as rows; `recodes` (RecodeValues) only where they belong to these items."""
    items = _as_map(question.get(items_key))
    rows = []
    for position, item_id in enumerate(_ordered(items, question.get(order_key)), start=1):
        item = items[item_id] if isinstance(items[item_id], dict) else {}
        html = item.get("Display")
        html = None if html is None else str(html)
        recode = (recodes or {}).get(item_id)
        rows.append(
            {
                "id": item_id,
                "text": html_to_text(html),
                "html": html,
                "recode_value": item_id if recode is None else str(recode),
                "display_order": position,
                "allows_text_entry": _is_true(item.get("TextEntry")),
                "is_exclusive": _is_true(item.get("ExclusiveAnswer")),
            }
        )
    return rows


def _options_and_statements(placed: _Placed) -> tuple[list[dict], list[dict]]:
    """(options, sub-questions) of one question, per the contract's type table."""
    q = placed.question
    kind = _kind(placed)
    recodes = _as_map(q.get("RecodeValues"))
    if kind in (MC, RO):
        return _items(q, "Choices", "ChoiceOrder", recodes), []
    if kind == MATRIX:  # RecodeValues recode the scale points; statements export under their id
        return _items(q, "Answers", "AnswerOrder", recodes), _items(q, "Choices", "ChoiceOrder", None)
    if kind in (SLIDER, FORM):
        return [], _items(q, "Choices", "ChoiceOrder", recodes)
    return [], []


def definition_frames(survey_id: str, definition: dict, loaded_at: datetime) -> dict[str, pd.DataFrame]:
    """Frames for "questions", "question_options" and "sub_questions" of one survey definition."""
    survey_id = validate_survey_id(survey_id)
    questions: list[dict] = []
    options: list[dict] = []
    statements: list[dict] = []
    for placed in _placed_questions(definition):
        questions.append(_question_row(placed))
        opts, subs = _options_and_statements(placed)
        options += [{"question_id": placed.question_id, **o} for o in opts]
        statements += [{"question_id": placed.question_id, **s} for s in subs]
    constants = {"survey_id": survey_id}

    def columns(rows: list[dict], names: dict[str, str]) -> dict[str, list]:
        return {col: [r[key] for r in rows] for col, key in names.items()}

    question_names = {name: name for name in QUESTIONS.column_names if name not in ("survey_id", "_loaded_at")}
    option_names = {
        "question_id": "question_id",
        "option_id": "id",
        "option_text": "text",
        "option_text_html": "html",
        "recode_value": "recode_value",
        "display_order": "display_order",
        "allows_text_entry": "allows_text_entry",
        "is_exclusive": "is_exclusive",
    }
    statement_names = {
        "question_id": "question_id",
        "sub_question_id": "id",
        "sub_question_text": "text",
        "sub_question_text_html": "html",
        "recode_value": "recode_value",
        "display_order": "display_order",
        "allows_text_entry": "allows_text_entry",
    }
    return {
        "questions": table_frame(QUESTIONS, columns(questions, question_names), constants, loaded_at),
        "question_options": table_frame(QUESTION_OPTIONS, columns(options, option_names), constants, loaded_at),
        "sub_questions": table_frame(SUB_QUESTIONS, columns(statements, statement_names), constants, loaded_at),
    }


def embedded_data_fields(definition: dict) -> frozenset[str]:
    """Field names declared by the flow's EmbeddedData elements."""
    return frozenset(
        field["Field"]
        for element in _flow_elements(definition)
        if element.get("Type") == "EmbeddedData"
        for field in element.get("EmbeddedData") or []
        if isinstance(field, dict) and field.get("Field")
    )


def question_index(definition: dict) -> QuestionIndex:
    """The definition, reduced to what reading export keys needs."""
    questions = {}
    for placed in _placed_questions(definition):
        options, _ = _options_and_statements(placed)
        by_recode: dict[str, str] = {}
        for option in options:
            by_recode.setdefault(option["recode_value"], option["id"])
        questions[placed.question_id] = QuestionInfo(_kind(placed), by_recode)
    return QuestionIndex(questions, embedded_data_fields(definition))
