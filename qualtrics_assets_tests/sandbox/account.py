"""The live account: generated surveys plus small overlays for what tests change.

Base responses are never stored. Additions, edits and deletions are kept as overlays (indices,
edit counters, timestamps), so a million-response survey stays a few hundred bytes until a test
touches it. Exports read a frozen `Snapshot`, so a test mutating the account while an export is
being written does not tear the file.
"""

from __future__ import annotations

import bisect
import copy
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

from . import groundtruth
from .generator import Choice, Question, Survey, User, make_response, make_survey, make_users, rng_for, text


def utcnow_ms() -> datetime:
    """Now as naive UTC, truncated to milliseconds (the precision exports show)."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@dataclass
class Overlay:
    added: list[datetime] = field(default_factory=list)  # recorded date of added response n_base+k
    edits: dict[int, tuple[int, datetime]] = field(default_factory=dict)  # index -> (variant, modified)
    deleted: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class Snapshot:
    """What an export sees: a copy of the survey model and its overlays at one instant."""

    survey: Survey
    overlay: Overlay
    taken_at: datetime

    def last_modified(self, i: int) -> datetime:
        edit = self.overlay.edits.get(i)
        if edit:
            return edit[1]
        return self.recorded(i)

    def recorded(self, i: int) -> datetime:
        n = self.survey.n_base
        return self.survey.base_recorded(i) if i < n else self.overlay.added[i - n]

    def response(self, i: int):
        n = self.survey.n_base
        variant = self.overlay.edits.get(i, (0, None))[0]
        return make_response(self.survey, i, variant, None if i < n else self.overlay.added[i - n])

    def live_count(self) -> int:
        return self.survey.n_base + len(self.overlay.added) - len(self.overlay.deleted)

    def indices(self, by_last_modified: bool = False, since: datetime | None = None) -> Iterator[int]:
        """Live response indices in export order (recordedDate, or last modification); by last
        modification, base responses modified before `since` are skipped by bisection (they
        are recorded in index order), so a continuation export costs what it returns."""
        total = self.survey.n_base + len(self.overlay.added)
        deleted, edits = self.overlay.deleted, self.overlay.edits
        if not by_last_modified:
            yield from (i for i in range(total) if i not in deleted)
            return
        first = 0 if since is None else bisect.bisect_left(range(self.survey.n_base), since,
                                                           key=self.survey.base_recorded)
        yield from (i for i in range(first, self.survey.n_base) if i not in deleted and i not in edits)
        late = [i for i in range(self.survey.n_base, total) if i not in deleted and i not in edits]
        late += [i for i in edits if i not in deleted]
        yield from sorted(late, key=lambda i: (self.last_modified(i), i))


class Account:
    """Users and surveys of one brand, with the control operations tests use."""

    def __init__(self, seed: int = 7, survey_sizes: list[int] | None = None, users: int = 6):
        self.seed = seed
        self.lock = threading.RLock()
        self.users: list[User] = make_users(seed, users)
        self.surveys: dict[str, Survey] = {}
        self.overlays: dict[str, Overlay] = {}
        for size in survey_sizes or []:
            self._create(size)

    def _create(self, n: int, name: str | None = None) -> Survey:
        k = len(self.surveys)
        owner = self.users[k % len(self.users)].id
        survey = make_survey(self.seed, k, owner, n, name)
        self.surveys[survey.id] = survey
        self.overlays[survey.id] = Overlay()
        return survey

    # --- reads -------------------------------------------------------------------------------

    def survey(self, survey_id: str) -> Survey:
        return self.surveys[survey_id]

    def user(self, user_id: str) -> User:
        return next(u for u in self.users if u.id == user_id)

    def snapshot(self, survey_id: str) -> Snapshot:
        with self.lock:
            return Snapshot(copy.deepcopy(self.surveys[survey_id]), copy.deepcopy(self.overlays[survey_id]), utcnow_ms())

    def response_counts(self, survey_id: str) -> dict[str, int]:
        with self.lock:
            overlay = self.overlays[survey_id]
            live = self.surveys[survey_id].n_base + len(overlay.added) - len(overlay.deleted)
            return {"auditable": live, "generated": 0, "deleted": len(overlay.deleted)}

    def response_ids(self, survey_id: str) -> list[str]:
        """Ids of live responses in recordedDate order (generates each one: keep surveys small)."""
        snap = self.snapshot(survey_id)
        return [snap.response(i).response_id for i in snap.indices()]

    def _index_of(self, survey_id: str, response_id: str) -> int:
        snap = Snapshot(self.surveys[survey_id], self.overlays[survey_id], utcnow_ms())
        for i in range(snap.survey.n_base + len(snap.overlay.added)):
            if snap.response(i).response_id == response_id:
                return i
        raise KeyError(f"{survey_id} has no response {response_id}")

    # --- control operations (tests call these directly or via /_sandbox/...) -----------------

    def add_responses(self, survey_id: str, n: int) -> list[str]:
        """Record n new responses now; returns their ids."""
        with self.lock:
            survey, overlay = self.surveys[survey_id], self.overlays[survey_id]
            start = survey.n_base + len(overlay.added)
            overlay.added.extend(utcnow_ms() for _ in range(n))
            snap = Snapshot(survey, overlay, utcnow_ms())
            return [snap.response(i).response_id for i in range(start, start + n)]

    def edit_responses(self, survey_id: str, response_ids: list[str]) -> None:
        """Change the answers of these responses and bump their last-modified date."""
        with self.lock:
            overlay = self.overlays[survey_id]
            for rid in response_ids:
                i = self._index_of(survey_id, rid)
                if i in overlay.deleted:
                    raise KeyError(f"{rid} is deleted")
                variant = overlay.edits.get(i, (0, None))[0] + 1
                overlay.edits[i] = (variant, utcnow_ms())

    def delete_responses(self, survey_id: str, response_ids: list[str]) -> None:
        """Remove responses from exports and count them in responseCounts.deleted."""
        with self.lock:
            overlay = self.overlays[survey_id]
            for rid in response_ids:
                overlay.deleted.add(self._index_of(survey_id, rid))

    def add_survey(self, responses: int = 0, name: str | None = None) -> str:
        with self.lock:
            return self._create(responses, name).id

    def add_question(self, survey_id: str) -> str:
        """Append an MC question to the main block; only responses recorded later answer it."""
        with self.lock:
            survey, overlay = self.surveys[survey_id], self.overlays[survey_id]
            n = survey.next_qid
            rng = rng_for(self.seed, survey_id, "added-question", n)
            main = next(b for b in survey.blocks if b.type == "Standard")
            choices = [Choice(str(k), text(label, rng)) for k, label in enumerate(["Yes", "No", "Not sure"], 1)]
            q = Question(f"QID{n}", f"Q{n}", "MC", "SAVR", "TX", text(f"New question number {n}?", rng), main.id,
                         "mc_single", choices=choices, choice_order=[c.id for c in choices], force=True,
                         since_index=survey.n_base + len(overlay.added))
            survey.questions[q.qid] = q
            main.qids.append(q.qid)
            survey.next_qid += 1
            survey.last_modified = utcnow_ms().replace(microsecond=0)
            return q.qid

    def set_recode(self, survey_id: str, question_id: str, option_id: str, recode: str) -> None:
        """Change one option's recode value (exports of old responses change with it, as in Qualtrics)."""
        with self.lock:
            survey = self.surveys[survey_id]
            q = survey.questions[question_id.split("#")[0]]
            if "#" in question_id:
                q = next(c for c in q.columns if c.qid == question_id)
            pool = q.answers if q.kind == "matrix" else q.choices
            next(c for c in pool if c.id == option_id).recode = str(recode)
            survey.last_modified = utcnow_ms().replace(microsecond=0)

    # --- ground truth -------------------------------------------------------------------------

    def ground_truth(self, survey_id: str) -> dict[str, list[dict]]:
        """Rows the warehouse must hold for this survey, from the generator's own model."""
        return groundtruth.survey_tables(self.snapshot(survey_id))

    def ground_truth_users(self) -> list[dict]:
        return [groundtruth.user_row(u) for u in self.users]

    def ground_truth_surveys(self) -> list[dict]:
        with self.lock:
            return [groundtruth.survey_row(s, self.response_counts(s.id)) for s in self.surveys.values()]
