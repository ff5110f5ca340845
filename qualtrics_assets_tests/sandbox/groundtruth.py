"""Expected warehouse rows, computed from the generator's model (never from its own payloads).

Follows the mapping contract in qualtrics_assets/normalize/__init__.py. Timestamps are naive UTC
datetimes (the warehouse convention); texts are the plain texts the HTML was derived from.
Ambiguities settled here (and documented for the connector): matrix `RecodeValues` belong to the
Answers (scale points), so matrix statements' `recode_value` is their id; side-by-side columns take
block, order, trash and loop flags from their parent.
"""

from __future__ import annotations

from datetime import datetime

from .generator import Choice, Question, Survey, User
from .payloads import ORG_ID


def user_row(u: User) -> dict:
    return {
        "user_id": u.id, "username": u.username, "first_name": u.first_name, "last_name": u.last_name,
        "email": u.email, "user_type": u.user_type, "division_id": u.division_id, "account_status": u.account_status,
    }


def survey_row(s: Survey, counts: dict[str, int]) -> dict:
    return {
        "survey_id": s.id, "survey_name": s.name, "owner_id": s.owner_id, "organization_id": ORG_ID,
        "is_active": s.is_active, "creation_date": s.creation, "last_modified": s.last_modified,
        "expiration_start": s.expiration[0], "expiration_end": s.expiration[1],
        "response_count_auditable": counts["auditable"], "response_count_generated": counts["generated"],
        "response_count_deleted": counts["deleted"],
    }


def _question_row(s: Survey, q: Question, order: int, parent: Question | None) -> dict:
    block = s.block_of((parent or q).qid)
    return {
        "survey_id": s.id, "question_id": q.qid, "parent_question_id": parent.qid if parent else None,
        "data_export_tag": q.tag, "question_type": q.qtype, "selector": q.selector, "sub_selector": q.sub_selector,
        "question_text": q.text.plain, "question_text_html": q.text.html, "question_description": q.description,
        "block_id": block.id, "question_order": order, "is_in_trash": block.type == "Trash",
        "force_response": q.force, "has_display_logic": q.shown_if is not None, "loop_block": bool(block.loops),
    }


def _option_rows(s: Survey, q: Question, items: list[Choice], order: list[str]) -> list[dict]:
    return [
        {"survey_id": s.id, "question_id": q.qid, "option_id": c.id, "option_text": c.text.plain,
         "option_text_html": c.text.html, "recode_value": c.export_value, "display_order": k,
         "allows_text_entry": c.text_entry, "is_exclusive": c.exclusive}
        for k, c in enumerate(q.ordered(items, order), start=1)
    ]


def _sub_rows(s: Survey, q: Question) -> list[dict]:
    return [
        {"survey_id": s.id, "question_id": q.qid, "sub_question_id": c.id, "sub_question_text": c.text.plain,
         "sub_question_text_html": c.text.html, "recode_value": c.id, "display_order": k,
         "allows_text_entry": c.text_entry}
        for k, c in enumerate(q.ordered(q.choices, q.choice_order), start=1)
    ]


def structure_tables(s: Survey) -> dict[str, list[dict]]:
    """questions, question_options, sub_questions of one survey definition."""
    questions, options, subs = [], [], []
    flowed = [q.qid for q in s.flowed_questions]
    ordered = flowed + [qid for qid in s.questions if qid not in flowed]
    for order, qid in enumerate(ordered, start=1):
        q = s.questions[qid]
        questions.append(_question_row(s, q, order, None))
        for col in q.columns:
            questions.append(_question_row(s, col, order, q))
            options += _option_rows(s, col, col.answers, col.answer_order)
            subs += _sub_rows(s, col)
        if q.kind in ("mc_single", "mc_multi", "nps", "rank"):
            options += _option_rows(s, q, q.choices, q.choice_order)
        elif q.kind == "matrix":
            options += _option_rows(s, q, q.answers, q.answer_order)
            subs += _sub_rows(s, q)
        elif q.kind in ("slider", "form"):
            subs += _sub_rows(s, q)
    return {"questions": questions, "question_options": options, "sub_questions": subs}


def response_rows(survey_id: str, r, last_modified: datetime) -> tuple[dict, list[dict], list[dict]]:
    """(responses row, answers rows, embedded_data rows) of one exported response."""
    m = r.meta
    lat, lon = m.get("locationLatitude"), m.get("locationLongitude")
    response = {
        "response_id": r.response_id, "survey_id": survey_id, "start_date": r.start,
        "end_date": r.end, "recorded_date": r.recorded, "last_modified_date": last_modified,
        "status": m["status"], "status_label": r.labels["status"], "progress": m["progress"],
        "duration_seconds": m["duration"], "finished": bool(m["finished"]), "ip_address": m.get("ipAddress"),
        "location_latitude": float(lat) if lat is not None else None,
        "location_longitude": float(lon) if lon is not None else None,
        "distribution_channel": m["distributionChannel"], "user_language": m["userLanguage"],
        "recipient_first_name": m.get("recipientFirstName"), "recipient_last_name": m.get("recipientLastName"),
        "recipient_email": m.get("recipientEmail"), "external_reference": m.get("externalDataReference"),
    }
    answers = []
    for e in r.entries:
        for idx, it in enumerate(e.items):
            answers.append({
                "survey_id": survey_id, "response_id": r.response_id, "field": e.key, "answer_index": idx,
                "question_id": e.question_id, "loop_id": e.loop_id, "sub_question_id": e.sub_question_id,
                "option_id": it.option_id, "part": e.part, "value_code": str(it.value), "value_label": it.label,
                "value_number": None if e.free_text else float(it.value), "value_text": it.value if e.free_text else None,
            })
    embedded = [{"survey_id": survey_id, "response_id": r.response_id, "key": k, "value": v} for k, v in r.embedded.items()]
    return response, answers, embedded


def survey_tables(snap) -> dict[str, list[dict]]:
    """All per-survey tables for the snapshot's live responses (recordedDate order)."""
    tables = structure_tables(snap.survey)
    tables.update(responses=[], answers=[], embedded_data=[])
    for i in snap.indices():
        resp, ans, emb = response_rows(snap.survey.id, snap.response(i), snap.last_modified(i))
        tables["responses"].append(resp)
        tables["answers"] += ans
        tables["embedded_data"] += emb
    return tables
