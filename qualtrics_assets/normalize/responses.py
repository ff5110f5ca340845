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
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import pandas as pd

from qualtrics_assets.erd import ANSWERS, EMBEDDED_DATA, RESPONSES
from qualtrics_assets.normalize.definitions import FORM, MATRIX, MC, RO, SLIDER, QuestionIndex
from qualtrics_assets.normalize.frames import table_frame
from qualtrics_assets.qualtrics import validate_survey_id

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


def _answer_plan(key: str, key_match: re.Match, index: QuestionIndex, ordinal: int) -> _AnswerPlan:
    """The contract's export-key table: the rest after the QID, read by the question's kind."""
    loop_id, question_id, rest = key_match.groups()
    info = index.questions.get(question_id)
    kind = info.kind if info else None
    recodes = info.option_by_recode if info else None

    def plan(sub=None, option=None, part=None, resolve=None, free_text=False) -> _AnswerPlan:
        return _AnswerPlan(key, question_id, loop_id, sub, part, option, resolve, free_text, ordinal)

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
    """One batch of records, columnar: metadata columns, plus every `values` entry flattened.

    Per record only C-level bulk operations run (`extend` of the keys, values and labels); the
    per-value work (classification, expansion of arrays, codes, numbers, options) runs once per
    batch on whole columns in `ResponseNormalizer._value_columns`.
    """

    def __init__(self) -> None:
        self.responses: dict[str, list] = {c: [] for c in _RESPONSE_COLUMNS}
        self.counts: list[int] = []  # number of `values` entries per record
        self.codes: list[int] = []  # plan code of each entry's key (see _PlanCodes)
        self.values: list[object] = []
        self.labels: list[object] = []
        self.skipped = 0  # empty records, counted towards the batch size


_META_CODE = -1  # plan code of a metadata key; embedded-data key k has code -2 - k


class _PlanCodes(dict):
    """Export key -> plan code (answer plan ordinal >= 0, metadata -1, embedded-data key k -2-k).

    A key seen for the first time is classified by `__missing__`, so records are mapped with the
    C-level `map(codes.__getitem__, values)` and no key string is kept per entry.
    """

    def __init__(self, normalizer: "ResponseNormalizer") -> None:
        super().__init__()
        self._normalizer = normalizer

    def __missing__(self, key: str) -> int:
        self._normalizer._plan(key)
        return self[key]


def _objects(items, count: int | None = None) -> np.ndarray:
    """A 1-d object array of `items` (never a 2-d array of equal-length lists)."""
    if count is None:
        items = list(items)
        count = len(items)
    return np.fromiter(items, dtype=object, count=count)


def _types(values: np.ndarray) -> np.ndarray:
    return _objects(map(type, values), len(values))


class _IntCodes(dict):
    """int -> str(int), shared: recodes, scale points and ranks repeat in every record."""

    def __missing__(self, value: int) -> str:
        code = str(value)
        if len(self) < 1 << 16:
            self[value] = code
        return code


_INT_CODES = _IntCodes()


def _codes(values: np.ndarray, types: np.ndarray) -> np.ndarray:
    """`_code` of every value: strings as they are, ints via str(), the rest one by one."""
    out = np.empty(len(values), dtype=object)
    is_str = types == str
    is_int = types == int
    out[is_str] = values[is_str]
    ints = values[is_int]
    out[is_int] = _objects(map(_INT_CODES.__getitem__, ints), len(ints))
    rest = np.flatnonzero(~(is_str | is_int))
    if len(rest):
        out[rest] = _objects((_code(v) for v in values[rest]), len(rest))
    return out


@lru_cache(maxsize=1 << 16)
def _number_of_text(value: str) -> float | None:
    return _number(value)


def _numbers(values: np.ndarray, types: np.ndarray) -> np.ndarray:
    """`_number` of every value as float64, NaN where it is None."""
    out = np.full(len(values), np.nan)
    is_int = types == int
    is_str = types == str
    ints = values[is_int]
    out[is_int] = np.fromiter(map(float, ints), dtype=np.float64, count=len(ints))
    texts = values[is_str]
    if len(texts):
        numbers = [_number_of_text(v) for v in texts]
        out[is_str] = np.array([np.nan if x is None else x for x in numbers], dtype=np.float64)
    rest = np.flatnonzero(~(is_str | is_int))
    for position in rest:
        number = _number(values[position])
        if number is not None:
            out[position] = number
    return out


def _labels(labels: np.ndarray) -> np.ndarray:
    """`_label` of every raw label (strings and None as they are)."""
    present = np.flatnonzero(np.not_equal(labels, None))
    types = _types(labels[present])
    odd = present[types != str]
    if len(odd):
        labels = labels.copy()
        labels[odd] = _objects((_label(v) for v in labels[odd]), len(odd))
    return labels


class ResponseNormalizer:
    """Turns one survey's export records into rows of responses, answers and embedded_data."""

    def __init__(self, survey_id: str, index: QuestionIndex, loaded_at: datetime) -> None:
        self.survey_id = validate_survey_id(survey_id)
        self.index = index
        self.loaded_at = loaded_at
        self._plans: dict[str, object] = {}
        self._answer_plans: list[_AnswerPlan] = []
        self._plan_codes = _PlanCodes(self)
        self._embedded_keys: list[str] = []  # embedded-data key of code -2-k at position k

    def iter_batches(
        self, records: Iterable[dict], batch_size: int = 50_000
    ) -> Iterator[dict[str, pd.DataFrame]]:
        """Frames per `batch_size` records, so memory stays bounded; no records, no batches.

        Records are folded into the batch's columns as they arrive and dropped, so a batch never
        holds parsed records (which would also make the garbage collector walk them again and again).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        batch = _Batch()
        for record in records:
            if not record:
                batch.skipped += 1
            else:
                self._add(batch, record)
            if len(batch.counts) + batch.skipped >= batch_size:
                yield self._frames(batch)
                batch = _Batch()
        if batch.counts or batch.skipped:
            yield self._frames(batch)

    def frames(self, records: Iterable[dict]) -> dict[str, pd.DataFrame]:
        """Frames for "responses", "answers" and "embedded_data" (empty frames for no records).

        Empty `{}` lines (seen in NDJSON exports) are skipped.
        """
        batch = _Batch()
        for record in records:
            if record:
                self._add(batch, record)
        return self._frames(batch)

    def _add(self, batch: _Batch, record: dict) -> None:
        response_id = record.get("responseId")
        if not response_id:
            raise ValueError(f"export record without responseId: keys {sorted(record)}")
        values = record.get("values") or {}
        labels = record.get("labels") or {}
        self._add_response(batch, response_id, values, labels)
        batch.counts.append(len(values))
        batch.codes.extend(map(self._plan_codes.__getitem__, values))
        batch.values.extend(values.values())
        batch.labels.extend(map(labels.get, values))

    def _frames(self, batch: _Batch) -> dict[str, pd.DataFrame]:
        answers, embedded = self._value_columns(batch)
        constants = {"survey_id": self.survey_id}
        return {
            "responses": table_frame(RESPONSES, batch.responses, constants, self.loaded_at),
            "answers": table_frame(ANSWERS, answers, constants, self.loaded_at),
            "embedded_data": table_frame(EMBEDDED_DATA, embedded, constants, self.loaded_at),
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
            if plan is _META:
                code = _META_CODE
            elif plan is _EMBEDDED:
                code = -2 - len(self._embedded_keys)
                self._embedded_keys.append(key)
            else:
                code = plan.ordinal
            self._plan_codes[key] = code
        return plan

    def _per_plan(self, name: str) -> np.ndarray:
        column = np.empty(len(self._answer_plans), dtype=object)
        column[:] = [getattr(plan, name) for plan in self._answer_plans]
        return column

    def _value_columns(self, batch: _Batch) -> tuple[dict[str, object], dict[str, object]]:
        """Answers and embedded_data columns of the batch's flattened `values` entries."""
        n = len(batch.codes)
        plan_codes = np.fromiter(batch.codes, dtype=np.intp, count=n)
        response_ids = _objects(batch.responses["response_id"])
        record_of = np.repeat(np.arange(len(batch.counts), dtype=np.intp), np.asarray(batch.counts, dtype=np.intp))
        values = _objects(batch.values, n)
        all_labels = _objects(batch.labels, n)
        batch.values = batch.labels = batch.codes = []  # the arrays hold the entries from here on

        where = np.flatnonzero(plan_codes < _META_CODE)
        embedded_values = values[where]
        embedded_keys = np.empty(len(self._embedded_keys), dtype=object)
        embedded_keys[:] = self._embedded_keys
        embedded = {
            "response_id": response_ids[record_of[where]],
            "key": embedded_keys[-2 - plan_codes[where]],
            "value": _codes(embedded_values, _types(embedded_values)),
        }

        where = np.flatnonzero(plan_codes >= 0)
        ordinals = plan_codes[where]
        records = record_of[where]
        elements = values[where]
        raw_labels = all_labels[where]
        del values, all_labels
        types = _types(elements)
        answer_index = np.zeros(len(elements), dtype=np.int64)
        arrays = np.flatnonzero(types == list)
        if len(arrays):
            # One row per array element (none for an empty array), labels taken element-wise.
            lengths = np.ones(len(elements), dtype=np.intp)
            lengths[arrays] = [len(v) for v in elements[arrays]]
            source = np.repeat(np.arange(len(elements), dtype=np.intp), lengths)
            starts = np.cumsum(lengths) - lengths
            answer_index = np.arange(len(source), dtype=np.int64) - np.repeat(starts, lengths)
            expanded = np.flatnonzero(types[source] == list)
            flat_values: list = []
            flat_labels: list = []
            for value, label in zip(elements[arrays], raw_labels[arrays]):
                flat_values.extend(value)
                if type(label) is list:
                    flat_labels.extend(label[: len(value)])
                    flat_labels.extend([None] * (len(value) - len(label)))
                else:
                    flat_labels.extend([None] * len(value))
            ordinals, records = ordinals[source], records[source]
            elements, raw_labels = elements[source], raw_labels[source]
            elements[expanded] = _objects(flat_values, len(expanded))
            raw_labels[expanded] = _objects(flat_labels, len(expanded))
            types = types[source]
            types[expanded] = _types(elements[expanded])

        value_code = _codes(elements, types)
        free_text = self._per_plan("free_text").astype(bool)[ordinals] if len(ordinals) else np.zeros(0, dtype=bool)
        value_number = np.full(len(elements), np.nan)
        numeric = np.flatnonzero(~free_text)
        value_number[numeric] = _numbers(elements[numeric], types[numeric])
        value_text = np.where(free_text, value_code, None)
        option_id = self._per_plan("option_id")[ordinals] if len(ordinals) else np.empty(0, dtype=object)
        resolving = np.flatnonzero(self._per_plan("option_by_recode") != None)  # noqa: E711 (elementwise)
        for ordinal in resolving:
            rows = np.flatnonzero(ordinals == ordinal)
            if len(rows):
                recodes = self._answer_plans[ordinal].option_by_recode
                option_id[rows] = _objects(map(recodes.get, value_code[rows]), len(rows))
        answers: dict[str, object] = {
            "response_id": response_ids[records],
            "answer_index": answer_index,
            "option_id": option_id,
            "value_code": value_code,
            "value_label": _labels(raw_labels),
            "value_number": value_number,
            "value_text": value_text,
        }
        for name in _PLAN_COLUMNS:
            answers[name] = self._per_plan(name)[ordinals] if len(ordinals) else np.empty(0, dtype=object)
        return answers, embedded

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
