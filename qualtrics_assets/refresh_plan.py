"""Which surveys need a refresh run: the discovery sensor's decisions, as pure functions.

A survey is refreshed when it is new, when its definition changed (`lastModified`), when its
response counts moved (new or deleted responses), or, if it is active, when its last refresh is
older than the refresh interval (to catch edited responses, which move no count). Reading counts
costs one cheap GET per survey, so only active surveys are read, at most `max_count_reads` per
tick, least recently read first; inactive unchanged surveys cost nothing, and no tick exports.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta


@dataclass
class SurveyState:
    last_modified: str | None = None
    counts: list[int] | None = None
    refreshed_at: str | None = None
    counts_read_at: str | None = None


@dataclass
class Refresh:
    survey_id: str
    reason: str  # new | definition_changed | responses_changed | due
    run_key: str


@dataclass
class Plan:
    refreshes: list[Refresh] = field(default_factory=list)
    new_survey_ids: list[str] = field(default_factory=list)
    count_reads: list[str] = field(default_factory=list)


def load_cursor(cursor: str | None) -> dict[str, SurveyState]:
    if not cursor:
        return {}
    return {sid: SurveyState(**state) for sid, state in json.loads(cursor).items()}


def dump_cursor(states: dict[str, SurveyState]) -> str:
    return json.dumps({sid: asdict(s) for sid, s in sorted(states.items())}, separators=(",", ":"))


def surveys_to_read(
    listed: dict[str, dict], states: dict[str, SurveyState], max_count_reads: int
) -> list[str]:
    """Active, already-known surveys whose response counts should be read this tick."""
    active = [sid for sid, s in listed.items() if s.get("isActive") and sid in states]
    active.sort(key=lambda sid: (states[sid].counts_read_at or "", sid))
    return active[:max_count_reads]


def plan_refreshes(
    listed: dict[str, dict],
    known_partitions: set[str],
    states: dict[str, SurveyState],
    counts: dict[str, list[int]],
    now: datetime,
    refresh_every: timedelta,
) -> Plan:
    """Decide this tick's runs and update `states` in place (the caller saves them as the cursor).

    `listed`: GET /surveys elements by id; `counts`: responseCounts read this tick
    [auditable, generated, deleted] by id.
    """
    plan = Plan(new_survey_ids=sorted(set(listed) - known_partitions))
    stamp = now.isoformat(timespec="seconds")
    for sid in sorted(listed):
        survey = listed[sid]
        state = states.setdefault(sid, SurveyState())
        reason = _reason(sid, survey, state, counts.get(sid), plan.new_survey_ids, now, refresh_every)
        state.last_modified = survey.get("lastModified")
        if sid in counts:
            state.counts, state.counts_read_at = counts[sid], stamp
        if reason:
            state.refreshed_at = stamp
            marker = {
                "new": survey.get("lastModified"),
                "definition_changed": survey.get("lastModified"),
                "responses_changed": "-".join(map(str, counts.get(sid) or [])),
                "due": stamp,
            }[reason]
            plan.refreshes.append(Refresh(sid, reason, f"{sid}:{reason}:{marker}"))
    for gone in set(states) - set(listed):
        del states[gone]
    return plan


def _reason(sid, survey, state, counts, new_ids, now, refresh_every) -> str | None:
    if sid in new_ids or state.refreshed_at is None:
        return "new"
    if survey.get("lastModified") != state.last_modified:
        return "definition_changed"
    if counts is not None and state.counts is not None and counts != state.counts:
        return "responses_changed"
    if survey.get("isActive") and now - datetime.fromisoformat(state.refreshed_at) >= refresh_every:
        return "due"
    return None
