"""Export records (JSON / NDJSON `{"responseId", "values", "labels"}`) -> responses, answers and
embedded_data rows, in bounded batches.

This is the hot path (surveys with a million responses): each distinct export key is classified
once and cached, values are appended to plain column lists, and frames are built once per batch.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from itertools import islice
from typing import NamedTuple

import numpy as np
import pandas as pd

from qualtrics_assets.erd import ANSWERS, EMBEDDED_DATA, RESPONSES
from qualtrics_assets.normalize.definitions import FORM, MATRIX, MC, RO, SLIDER, QuestionIndex
from qualtrics_assets.normalize.frames import table_frame
from qualtrics_assets.normalize.ids import validate_survey_id

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
_TEXT_METADATA = (
    "ip_address",
    "distribution_channel",
    "user_language",
    "recipient_first_name",
    "recipient_last_name",
    "recipient_email",
    "external_reference",
)
_DATE_METADATA = ("start_date", "end_date", "recorded_date", "last_modified_date")
_METADATA_KEY = {column: key for key, column in _METADATA.items() if column}

_QID_KEY = re.compile(r"(?:(\d+)_)?(QID\d+(?:#\d+)?)(?:_(.+))?")
_ROW_ID = re.compile(r"\d+")
_ROW_TEXT = re.compile(r"(\d+)_TEXT")

_ANSWER_COLUMNS = [c for c in ANSWERS.column_names if c not in ("survey_id", "_loaded_at")]
_RESPONSE_COLUMNS = [c for c in RESPONSES.column_names if c not in ("survey_id", "_loaded_at")]

_META = "meta"  # plan of a metadata key
_EMBEDDED = "embedded"  # plan of an embedded-data key


# Answers columns fixed by the export key: stored once per key, expanded per batch by index.
_PLAN_COLUMNS = ("field", "question_id", "loop_id", "sub_question_id", "part")
# Distinct values remembered per resolving key (recodes are few; this only bounds odd data).
_VALUE_CACHE_LIMIT = 1_000


class _AnswerPlan(NamedTuple):
    """How every value under one export key becomes answers rows (decided once per key)."""

    field: str
    question_id: str
    loop_id: str | None
    sub_question_id: str | None
    part: str | None
    option_id: str | None  # fixed option (rank, "other" text); else resolved per value
    option_by_recode: Mapping[str, str] | None  # resolve the value to an option
    free_text: bool
    ordinal: int  # position in the normalizer's plan list
    value_cache: dict  # value -> (code, number, option) for resolving keys


def _answer_plan(key: str, key_match: re.Match, index: QuestionIndex, ordinal: int) -> _AnswerPlan:
    """The contract's export-key table: the rest after the QID, read by the question's kind."""
    loop_id, question_id, rest = key_match.groups()
    info = index.questions.get(question_id)
    kind = info.kind if info else None
    recodes = info.option_by_recode if info else None

    def plan(sub=None, option=None, part=None, resolve=None, free_text=False) -> _AnswerPlan:
        return _AnswerPlan(key, question_id, loop_id, sub, part, option, resolve, free_text, ordinal, {})

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


def _code(value: object) -> str | None:
    """The value as text; integral numbers without ".0", structures as JSON."""
    kind = type(value)
    if kind is str:
        return value
    if kind is int:
        return str(value)
    if kind is float:
        return str(int(value)) if value.is_integer() else repr(value)
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False)


def _number(value: object) -> float | None:
    """The value as a finite float when it is (or spells) a number, else None."""
    kind = type(value)
    if kind is int or kind is float:
        number = float(value)
    elif kind is str:
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _label(label: object) -> str | None:
    if type(label) is str or label is None:
        return label
    return None if type(label) is list else _code(label)


def _resolved(plan: _AnswerPlan, value: object) -> tuple[str | None, float | None, str | None]:
    """(value_code, value_number, option_id) of a value under a resolving key, cached per key."""
    try:
        return plan.value_cache[value]
    except KeyError:
        code = _code(value)
        result = (code, _number(value), plan.option_by_recode.get(code))
        if len(plan.value_cache) < _VALUE_CACHE_LIMIT:
            plan.value_cache[value] = result
        return result
    except TypeError:  # unhashable (nested) value
        code = _code(value)
        return code, _number(value), plan.option_by_recode.get(code)


def _int(value: object) -> int | None:
    """Metadata integers arrive as ints or numeric strings; anything else is null."""
    if value is None or type(value) is bool:
        return None
    if type(value) is int:
        return value
    number = _number(value)
    return None if number is None else int(number)


def _float(value: object) -> float | None:
    return None if type(value) is bool else _number(value)


def _bool(value: object) -> bool | None:
    """`finished` is 0/1 in JSON exports; tolerate booleans and "True"/"False"/"1"/"0"."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        return None
    return bool(value)


class _Batch:
    """Column lists for one batch of records; answers keep a plan ordinal instead of key columns."""

    def __init__(self) -> None:
        self.responses: dict[str, list] = {c: [] for c in _RESPONSE_COLUMNS}
        self.answers: dict[str, list] = {c: [] for c in _ANSWER_COLUMNS if c not in _PLAN_COLUMNS}
        self.answer_plans: list[int] = []
        self.embedded: dict[str, list] = {"response_id": [], "key": [], "value": []}


class ResponseNormalizer:
    """Turns one survey's export records into rows of responses, answers and embedded_data."""

    def __init__(self, survey_id: str, index: QuestionIndex, loaded_at: datetime) -> None:
        self.survey_id = validate_survey_id(survey_id)
        self.index = index
        self.loaded_at = loaded_at
        self._plans: dict[str, object] = {}
        self._answer_plans: list[_AnswerPlan] = []

    def iter_batches(
        self, records: Iterable[dict], batch_size: int = 50_000
    ) -> Iterator[dict[str, pd.DataFrame]]:
        """Frames per `batch_size` records, so memory stays bounded; no records, no batches."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        records = iter(records)
        while chunk := list(islice(records, batch_size)):
            yield self.frames(chunk)

    def frames(self, records: Iterable[dict]) -> dict[str, pd.DataFrame]:
        """Frames for "responses", "answers" and "embedded_data" (empty frames for no records).

        Empty `{}` lines (seen in NDJSON exports) are skipped.
        """
        batch = _Batch()
        for record in records:
            if record:
                self._add(batch, record)
        constants = {"survey_id": self.survey_id}
        return {
            "responses": table_frame(RESPONSES, batch.responses, constants, self.loaded_at),
            "answers": table_frame(ANSWERS, self._answer_columns(batch), constants, self.loaded_at),
            "embedded_data": table_frame(EMBEDDED_DATA, batch.embedded, constants, self.loaded_at),
        }

    def _plan(self, key: str) -> object:
        """Classify an export key once; keys repeat in every record."""
        plan = self._plans.get(key)
        if plan is None:
            match = None if key in self.index.embedded_data_fields else _QID_KEY.fullmatch(key)
            if key in _METADATA:
                plan = _META
            elif match is None:
                plan = _EMBEDDED
            else:
                plan = _answer_plan(key, match, self.index, len(self._answer_plans))
                self._answer_plans.append(plan)
            self._plans[key] = plan
        return plan

    def _answer_columns(self, batch: _Batch) -> dict[str, object]:
        """Batch answers columns, with the per-key columns expanded from the plans by ordinal."""
        ordinals = np.fromiter(batch.answer_plans, dtype=np.intp, count=len(batch.answer_plans))
        columns: dict[str, object] = dict(batch.answers)
        for name in _PLAN_COLUMNS:
            per_plan = np.empty(len(self._answer_plans), dtype=object)
            per_plan[:] = [getattr(plan, name) for plan in self._answer_plans]
            columns[name] = per_plan[ordinals]
        return columns

    def _add(self, batch: _Batch, record: dict) -> None:
        response_id = record.get("responseId")
        if not response_id:
            raise ValueError(f"export record without responseId: keys {sorted(record)}")
        values = record.get("values") or {}
        labels = record.get("labels") or {}
        self._add_response(batch, response_id, values, labels)
        self._add_values(batch, response_id, values, labels)

    @staticmethod
    def _add_response(batch: _Batch, response_id: str, values: dict, labels: dict) -> None:
        """The metadata keys, typed; absent keys (anonymized, in-progress) become nulls."""
        meta = batch.responses
        meta["response_id"].append(response_id)
        for column in _TEXT_METADATA + _DATE_METADATA:
            meta[column].append(values.get(_METADATA_KEY[column]))
        meta["status"].append(_int(values.get("status")))
        meta["status_label"].append(_label(labels.get("status")))
        meta["progress"].append(_int(values.get("progress")))
        meta["duration_seconds"].append(_int(values.get("duration")))
        meta["finished"].append(_bool(values.get("finished")))
        meta["location_latitude"].append(_float(values.get("locationLatitude")))
        meta["location_longitude"].append(_float(values.get("locationLongitude")))

    def _add_values(self, batch: _Batch, response_id: str, values: dict, labels: dict) -> None:
        """Every non-metadata key: answers rows (one per array element) or embedded data."""
        a = batch.answers
        a_response, a_plan, a_index, a_option = a["response_id"], batch.answer_plans, a["answer_index"], a["option_id"]
        a_code, a_label, a_number, a_text = a["value_code"], a["value_label"], a["value_number"], a["value_text"]
        embedded = batch.embedded
        plan_of = self._plans.get
        for key, value in values.items():
            plan = plan_of(key) or self._plan(key)
            if plan is _META:
                continue
            if plan is _EMBEDDED:
                embedded["response_id"].append(response_id)
                embedded["key"].append(key)
                embedded["value"].append(_code(value))
                continue
            label = labels.get(key)
            if type(value) is list:
                elements = value
                element_labels = label if type(label) is list else ()
            else:
                elements = (value,)
                element_labels = (label,)
            ordinal, resolving, free_text = plan.ordinal, plan.option_by_recode is not None, plan.free_text
            for position, element in enumerate(elements):
                a_response.append(response_id)
                a_plan.append(ordinal)
                a_index.append(position)
                a_label.append(_label(element_labels[position]) if position < len(element_labels) else None)
                if resolving:
                    code, number, option = _resolved(plan, element)
                    a_code.append(code)
                    a_number.append(number)
                    a_option.append(option)
                    a_text.append(None)
                    continue
                code = _code(element)
                a_code.append(code)
                a_option.append(plan.option_id)
                if free_text:
                    a_number.append(None)
                    a_text.append(code)
                else:
                    a_number.append(_number(element))
                    a_text.append(None)
