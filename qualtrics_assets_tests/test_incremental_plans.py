"""Which exports a sync tries, from its stored state (pure decisions)."""

from datetime import datetime, timedelta

from qualtrics_assets.incremental import FALLBACK, FULL, INCREMENTAL, SyncState, candidate_plans, needs_reconciliation

HOUR = timedelta(hours=1)
MARK = datetime(2026, 5, 1, 12, 0)


def modes(plans):
    return [(p.mode, "allow_continuation" in p.export_kwargs) for p in plans]


def test_first_sync_and_changed_definitions_are_full():
    assert modes(candidate_plans(None, HOUR, "t1")) == [(FULL, True), (FULL, False)]
    state = SyncState(continuation_token="tok", watermark=MARK, definition_modified="t1")
    assert modes(candidate_plans(state, HOUR, "t2")) == [(FULL, True), (FULL, False)]


def test_a_token_is_tried_first_then_windows_that_ask_for_a_new_token():
    state = SyncState(continuation_token="tok", watermark=MARK, definition_modified="t1")
    plans = candidate_plans(state, HOUR, "t1")
    assert modes(plans) == [(INCREMENTAL, False), (FALLBACK, True), (FALLBACK, False)]
    assert plans[1].export_kwargs["start_date"] == MARK - HOUR


def test_after_a_fallback_without_token_the_next_sync_tries_to_regain_one():
    state = SyncState(continuation_token=None, watermark=MARK, definition_modified="t1")
    assert modes(candidate_plans(state, HOUR, "t1")) == [(FALLBACK, True), (FALLBACK, False)]


def test_a_survey_with_nothing_synced_yet_falls_back_to_full():
    state = SyncState(continuation_token="tok", watermark=None, definition_modified="t1")
    assert modes(candidate_plans(state, HOUR, "t1")) == [(INCREMENTAL, False), (FULL, True), (FULL, False)]


def test_reconciliation_when_deletions_move_or_on_schedule_never_after_full():
    state = SyncState(deleted_count_seen=1, reconciled_at=MARK)
    assert needs_reconciliation(INCREMENTAL, state, 2, MARK, 7 * 24 * HOUR)
    assert not needs_reconciliation(INCREMENTAL, state, 1, MARK + HOUR, 7 * 24 * HOUR)
    assert needs_reconciliation(INCREMENTAL, state, 1, MARK + 8 * 24 * HOUR, 7 * 24 * HOUR)
    assert not needs_reconciliation(FULL, state, 5, MARK, 7 * 24 * HOUR)
