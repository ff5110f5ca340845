"""Which kind of response export a survey sync needs, from its stored sync state (pure).

- full: no state yet, or the survey definition changed since (a changed recode or a new loop
  changes how every old response exports, and Qualtrics does not mark them modified). Asks Qualtrics for a continuation token for next time; the export replaces
  the survey's partition, so deletions are implied.
- incremental: send the stored continuation token; Qualtrics returns only responses recorded or
  modified since, merged into the partition by response id.
- fallback: the token was rejected or expired (tokens live a week): export by last-modified date
  from the stored watermark minus an overlap, merged and so de-duplicated on response id.
Deleted responses never appear in exports; when Qualtrics' `responseCounts.deleted` moves (or on
a schedule) a cheap ids-only export lists the responses that still exist, and the rest go.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

FULL, INCREMENTAL, FALLBACK = "full", "incremental", "fallback"


@dataclass(frozen=True)
class SyncState:
    continuation_token: str | None = None
    token_issued_at: datetime | None = None
    watermark: datetime | None = None
    deleted_count_seen: int | None = None
    reconciled_at: datetime | None = None
    definition_modified: str | None = None
    last_mode: str | None = None


@dataclass(frozen=True)
class ExportPlan:
    mode: str
    export_kwargs: dict


FULL_PLAN = ExportPlan(FULL, {"allow_continuation": True, "sort_by_last_modified": True})


def plan_export(state: SyncState | None, overlap: timedelta, definition_modified: str | None) -> ExportPlan:
    """Every plan sorts by last-modified date, which also exports `_lastModifiedDate`."""
    if state is None or state.definition_modified != definition_modified:
        return FULL_PLAN
    if state.continuation_token:
        return ExportPlan(INCREMENTAL, {"continuation_token": state.continuation_token, "sort_by_last_modified": True})
    return fallback_plan(state, overlap)


def fallback_plan(state: SyncState, overlap: timedelta) -> ExportPlan:
    """Date-window export from the watermark; a full export if there is none to start from."""
    if state.watermark is None:
        return FULL_PLAN
    return ExportPlan(FALLBACK, {"start_date": state.watermark - overlap, "sort_by_last_modified": True})


def needs_reconciliation(
    mode: str, state: SyncState | None, deleted_now: int | None, now: datetime, every: timedelta
) -> bool:
    """Whether to list surviving response ids: a full export already drops deleted responses."""
    if mode == FULL or state is None:
        return False
    if deleted_now is not None and deleted_now != state.deleted_count_seen:
        return True
    return state.reconciled_at is None or now - state.reconciled_at >= every
