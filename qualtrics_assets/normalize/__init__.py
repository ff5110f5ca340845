r"""Pure functions from Qualtrics payloads to rows of the ERD tables (erd.py). No network here:
response exports are files, normalized by an in-process DuckDB (normalize/responses.py).

How a survey definition (GET /survey-definitions/{id}, JSON) maps to tables
---------------------------------------------------------------------------
- questions: one row per entry of `Questions`; `is_in_trash` when its block has `Type: "Trash"`.
  A side-by-side question (`QuestionType: "SBS"`) also yields one row per entry of its
  `AdditionalQuestions`, with `question_id` = that entry's `QuestionID` (`QID8#1`) and
  `parent_question_id` = the SBS question. `question_order`: blocks in SurveyFlow order, questions
  in BlockElements order, 1-based; questions in no flowed block (trash) follow in `Questions` order;
  SBS columns take their parent's order. `loop_block`: the block has `Options.Looping` set and not "None".
- texts: `*_text` = HTML tags removed, entities unescaped, `<br>` and block tags read as a space,
  whitespace collapsed to single spaces and trimmed; `*_html` = as authored.
- question_options / sub_questions, by question type:
    MC (all selectors, NPS included), RO  -> Choices are options
    Matrix, SBS columns                   -> Choices are sub_questions, Answers are options
    Slider, TE/FORM                       -> Choices are sub_questions
    TE (SL, ML, ESTB), DB, others          -> neither
  `recode_value` = RecodeValues[id] if present else the id; `display_order` = 1-based position
  in ChoiceOrder / AnswerOrder (ids missing from the order follow in map order);
  `allows_text_entry` = the choice has `TextEntry: "true"`; `is_exclusive` = `ExclusiveAnswer: true`.

How an export record (JSON / NDJSON `{"responseId", "values", "labels"}`) maps to tables
---------------------------------------------------------------------------------------
- responses: the metadata keys of `values` (startDate, endDate, status, ipAddress, progress,
  duration, finished, recordedDate, _recordId, locationLatitude, locationLongitude,
  distributionChannel, userLanguage, recipientLastName, recipientFirstName, recipientEmail,
  externalDataReference, _lastModifiedDate), typed; `status_label` = labels["status"].
- answers: every key matching `^(?:(\d+)_)?(QID\d+(?:#\d+)?)(?:_(.+))?$` (loop id, question id, rest).
  The rest decides the row, using the question's type from the definition:
    (none)          the answer itself; MC/NPS values are recodes -> option_id of that recode
    TEXT            part TEXT, value_text (TE single/multi line, or the question's own text box)
    NPS_GROUP       part NPS_GROUP (1 detractor, 2 passive, 3 promoter; label from `labels`)
    <k>             Matrix / SBS column: sub_question_id k, option_id of the recode value
                    Slider: sub_question_id k, numeric value;  TE/FORM: sub_question_id k, value_text
                    RO: option_id k, part RANK, the value is the rank
    <k>_TEXT        MC: option_id k ("other, please specify"); Matrix: sub_question_id k; part TEXT
    anything else   kept: part = the rest as exported (nothing is dropped)
  Arrays (multi-select) give one row per element, `answer_index` 0..n-1, labels aligned by index.
  `value_code` = the value as text (coded values: integral numbers without ".0"); `value_number` =
  the value as a float when it is not free text and parses as a number; `value_text` = the value
  for free-text parts, exactly as exported; `value_label` = labels[key] (element-wise for arrays)
  when present. Only coded (not free-text) keys hold arrays.
- embedded_data: every other key of `values` (declared embedded-data fields and anything unknown),
  value as text.

Clarifications (decided while implementing; the rules above still hold)
----------------------------------------------------------------------
- Matrix / SBS columns: RecodeValues recode the Answers (options); a sub_question's `recode_value`
  is its id. Slider / TE-FORM statements and MC / RO options use RecodeValues[id] as above.
- `display_order` counts only ids that exist in the map (stale ids in ChoiceOrder are skipped).
- SBS column rows take type, selector, texts and export tag from their `AdditionalQuestions`
  entry, and block, order, trash and loop flags from the parent; `force_response` and
  `has_display_logic` from the entry, else the parent. `force_response` is null without a
  ForceResponse setting; `has_display_logic` is false without DisplayLogic.
- `_recordId` is metadata (it repeats responseId) and is not stored. A key declared as an
  embedded-data field in the flow is embedded data even if it looks like a QID key. A null value
  still gives a row (null value_code); nested values are stored as compact JSON text.
- surveys: one row per GET /surveys element; the GET /surveys/{id} result wins where it has a
  value (`lastModifiedDate` over the list's `lastModified`); organization, expiration and
  responseCounts come from it only. users: GET /users element keys, absent keys null.
"""

from qualtrics_assets.normalize.definitions import (
    QuestionIndex,
    QuestionInfo,
    definition_frames,
    question_index,
)
from qualtrics_assets.normalize.responses import ResponseNormalizer
from qualtrics_assets.normalize.surveys import surveys_frame
from qualtrics_assets.normalize.text import html_to_text
from qualtrics_assets.normalize.timestamps import parse_timestamp
from qualtrics_assets.normalize.users import users_frame

__all__ = [
    "QuestionIndex",
    "QuestionInfo",
    "ResponseNormalizer",
    "definition_frames",
    "html_to_text",
    "parse_timestamp",
    "question_index",
    "surveys_frame",
    "users_frame",
]
