"""Which response exports a survey sync should try, from its stored sync state (pure).

- full: no state yet, or the survey definition changed since (a changed recode or a new loop
  changes how every old response exports, and Qualtrics does not mark them modified). It asks
  for a continuation token for next time.
- incremental: send the stored continuation token; Qualtrics returns only responses recorded or
  modified since, merged into the partition by response id.
- fallback: the token was rejected or expired (tokens live a week), or there is none: export by
  last-modified date from the stored watermark minus an overlap, merged and so de-duplicated on
  response id. It first asks for a new token alongside the date window, and if Qualtrics refuses
  that combination, exports the window alone (the next sync then tries again).
The caller tries the candidates in order and moves on when Qualtrics refuses the request (400)
or the export is too large for one file.
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


# A full export asks for a continuation token; if Qualtrics refuses (a survey too large for one
# file can only be split by date, which continuation exports do not allow), a plain full export.
FULL_PLANS = [
    ExportPlan(FULL, {"allow_continuation": True, "sort_by_last_modified": True}),
    ExportPlan(FULL, {"sort_by_last_modified": True}),
]


def candidate_plans(state: SyncState | None, overlap: timedelta, definition_modified: str | None) -> list[ExportPlan]:
    """Exports to try in order. Every plan sorts by last-modified date, which also exports
    `_lastModifiedDate`. Without a watermark (nothing synced yet) the fallback is a full export."""
    if state is None or state.definition_modified != definition_modified:
        return list(FULL_PLANS)
    if state.watermark is None:
        fallbacks = list(FULL_PLANS)
    else:
        window = {"start_date": state.watermark - overlap, "sort_by_last_modified": True}
        fallbacks = [ExportPlan(FALLBACK, {**window, "allow_continuation": True}), ExportPlan(FALLBACK, window)]
    if state.continuation_token:
        incremental = {"continuation_token": state.continuation_token, "sort_by_last_modified": True}
        return [ExportPlan(INCREMENTAL, incremental), *fallbacks]
    return fallbacks


def needs_reconciliation(
    mode: str, state: SyncState | None, deleted_now: int | None, now: datetime, every: timedelta
) -> bool:
    """Whether to list surviving response ids: a full export already drops deleted responses."""
    if mode == FULL or state is None:
        return False
    if deleted_now is not None and deleted_now != state.deleted_count_seen:
        return True
    return state.reconciled_at is None or now - state.reconciled_at >= every
