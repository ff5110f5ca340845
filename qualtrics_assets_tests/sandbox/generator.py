"""Seeded model of a Qualtrics account: users, survey structures and responses.

Everything is a pure function of the seed, so two sandboxes with the same seed serve the same
account. Texts are generated as plain text first and the HTML is derived from it, so the
ground truth's `*_text` values are known exactly instead of re-derived from HTML. Response i of
a survey is computed on demand from (seed, survey id, i): a million-response survey costs no
memory until it is exported, and then only one response at a time.
"""

from __future__ import annotations

import html
import random
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta

ALNUM = string.ascii_letters + string.digits
EPOCH = datetime(2023, 1, 9, 8, 0, 0)  # naive UTC, like the warehouse
RESPONSE_SPAN = timedelta(days=300)  # base responses of a survey are spread over this window

STATUS_LABELS = {0: "IP Address", 1: "Survey Preview", 4: "Imported", 8: "Spam"}
NPS_GROUPS = {1: "Detractor", 2: "Passive", 3: "Promoter"}

# First names of the pool cover spaces, punctuation, `/`, `:`, digits only and non-ASCII.
SURVEY_NAMES = [
    "Customer Satisfaction: Q3/Q4 Follow-up",
    "2206062",
    "Café Zufriedenheit – Öffentlicher Dienst",
    'Employee Pulse (Wave #2) & "Engagement"!',
    "日本語 アンケート 2024",
    "NPS, Product / Support",
    "Onboarding Survey",
    "Event feedback: day 1",
]
FIRST_NAMES = ["Ana", "Björn", "Chloé", "Dmitri", "Eun-ji", "Fatima", "Günther", "Hiro", "Ines", "José"]
LAST_NAMES = ["García", "Müller", "O'Brien", "Nakamura", "Smith", "Łukasz", "Dubois", "Rossi"]
FREE_TEXTS = [
    "Great service, thanks!",
    'He said "fine", I disagree',
    "Zu teuer — aber gut",
    "Prix élevé; qualité correcte",
    "ok",
    "Too slow & too loud <really>",
    "素晴らしい",
    "Love it 😀",
    "Can't complain, 10/10",
]
ML_TEXTS = ["first line\nsecond line", "Needs work:\n- speed\n- price", "Single line only"]
STATEMENTS = ["Ease of use", "Price & value", "Speed of delivery", "Support <staff>", "Documentation"]
LIKERT = ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"]
SATISFACTION = ["Very dissatisfied", "Dissatisfied", "Neither", "Satisfied", "Very satisfied"]
FRUITS = ["Apples", "Bananas", "Cherries", "Dates", "Elderberries", "Figs"]
CHANNELS = ["Web", "Phone", "Email", "In store", "Chat"]
LOOP_ITEMS = ["Red", "Green", "Blue"]


def rng_for(*parts: object) -> random.Random:
    """A Random seeded from a stable string (str seeds hash with SHA-512, same in every process)."""
    return random.Random("|".join(str(p) for p in parts))


def make_id(rng: random.Random, prefix: str, n: int = 15) -> str:
    return prefix + "".join(rng.choice(ALNUM) for _ in range(n))


def iso(dt: datetime) -> str:
    """Second precision, `Z` — lists, definitions, start/end dates."""
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(dt: datetime) -> str:
    """Millisecond precision, `Z` — recordedDate and _lastModifiedDate."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def htmlize(plain: str, rng: random.Random) -> str:
    """Authored HTML whose tag-stripped, unescaped, whitespace-collapsed form is exactly `plain`.

    `plain` must already be normalised (single spaces, trimmed). Styles mirror recorded texts:
    inline tags, `<br>`, the `<div><br></div><div><b>…</b><br></div>` idiom, newlines, entities.
    """
    words = [html.escape(w) for w in plain.split(" ")]
    style = rng.randrange(5)
    if style == 1:
        k = rng.randrange(len(words))
        tag = rng.choice(["em", "strong", "b", 'span style="color:#8e44ad;"'])
        words[k] = f"<{tag}>{words[k]}</{tag.split()[0]}>"
    if style in (2, 3) and len(words) > 1:
        k = rng.randrange(1, len(words))
        head, tail = " ".join(words[:k]), " ".join(words[k:])
        if style == 2:
            return f"{head}<br>{tail}"
        return f"{head}<div><br></div><div><b>{tail}</b><br></div>"
    if style == 4 and len(words) > 1:
        k = rng.randrange(1, len(words))
        return " ".join(words[:k]) + " \n " + " ".join(words[k:])
    return " ".join(words)


@dataclass
class Text:
    plain: str
    html: str


def text(plain: str, rng: random.Random) -> Text:
    return Text(plain, htmlize(plain, rng))


@dataclass
class Choice:
    """A choice, matrix statement, matrix scale point, slider or form field."""

    id: str
    text: Text
    recode: str | None = None  # None: no RecodeValues entry, the id is exported
    text_entry: bool = False
    exclusive: bool = False

    @property
    def export_value(self) -> str:
        return self.id if self.recode is None else self.recode


@dataclass
class Question:
    qid: str
    tag: str
    qtype: str
    selector: str
    sub_selector: str | None
    text: Text
    block_id: str
    kind: str  # what the respondent does; decides answers and table mapping
    choices: list[Choice] = field(default_factory=list)
    choice_order: list[str] = field(default_factory=list)
    answers: list[Choice] = field(default_factory=list)
    answer_order: list[str] = field(default_factory=list)
    columns: list["Question"] = field(default_factory=list)  # SBS AdditionalQuestions
    force: bool = False
    shown_if: tuple[str, str] | None = None  # (question id, choice id) display logic
    since_index: int = 0  # responses with a lower index were recorded before it existed

    @property
    def description(self) -> str:
        plain = self.text.plain
        return plain if len(plain) <= 90 else plain[:90] + "..."

    def choice(self, cid: str) -> Choice:
        return next(c for c in self.choices if c.id == cid)

    def ordered(self, items: list[Choice], order: list[str]) -> list[Choice]:
        by_id = {c.id: c for c in items}
        return [by_id[i] for i in order if i in by_id] + [c for c in items if c.id not in order]


@dataclass
class Block:
    id: str
    type: str  # Default | Standard | Trash
    description: str
    qids: list[str]
    loops: list[str] | None = None  # loop & merge iteration ids ("1", "2", …)


@dataclass
class User:
    id: str
    username: str
    first_name: str
    last_name: str
    email: str
    user_type: str
    division_id: str | None
    account_status: str
    created: datetime
    language: str
    time_zone: str


@dataclass
class Survey:
    id: str
    name: str
    owner_id: str
    creation: datetime
    last_modified: datetime
    last_activated: datetime
    is_active: bool
    expiration: tuple[datetime | None, datetime | None]
    questions: dict[str, Question]
    blocks: list[Block]  # flow order; the Trash block is last
    embedded: list[tuple[str, str | None]]  # (field, default value)
    n_base: int  # generated responses; index n_base+k is the k-th added one
    in_progress: int  # FS_ sessions available to exportResponsesInProgress
    next_qid: int
    seed: int

    @property
    def flowed_questions(self) -> list[Question]:
        return [self.questions[q] for b in self.blocks if b.type != "Trash" for q in b.qids]

    def block_of(self, qid: str) -> Block:
        return next(b for b in self.blocks if qid in b.qids)

    def base_recorded(self, i: int) -> datetime:
        """Base responses are recorded in index order across RESPONSE_SPAN after creation."""
        start = self.creation + timedelta(days=1)
        step_ms = int(RESPONSE_SPAN.total_seconds() * 1000) // max(self.n_base, 1)
        jitter = rng_for(self.seed, self.id, i, "t").randrange(max(1, min(step_ms, 1000)))
        return start + timedelta(milliseconds=i * step_ms + jitter)


def make_users(seed: int, n: int) -> list[User]:
    rng = rng_for(seed, "users")
    users = []
    for k in range(n):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        local = f"{first}.{last}".lower().replace("'", "")
        users.append(
            User(
                id=make_id(rng, "UR_"),
                username=f"{local}{k}#brand",
                first_name=first,
                last_name=last,
                email=f"{local}{k}@example.com",
                user_type="UT_BRANDADMIN" if k == 0 else rng.choice(["UT_BRANDADMIN", make_id(rng, "UT_", 10)]),
                division_id=None if k % 3 == 0 else make_id(rng, "DV_"),
                account_status=["active", "active", "disabled", "notVerified"][k % 4],
                created=EPOCH - timedelta(days=400 - 3 * k),
                language=rng.choice(["EN", "DE", "FR"]),
                time_zone=rng.choice(["UTC", "Europe/Berlin", "America/Denver"]),
            )
        )
    return users


def _choices(rng: random.Random, labels: list[str], recode_base: int | None = None) -> list[Choice]:
    out = []
    for k, label in enumerate(labels, start=1):
        recode = None if recode_base is None else str(recode_base * k)
        out.append(Choice(str(k), text(label, rng), recode))
    return out


def make_questions(rng: random.Random, start: int = 1) -> tuple[list[Question], list[Block]]:
    """One question of every common type, in blocks: intro, main, a looped block and the trash."""
    bl = {name: make_id(rng, "BL_") for name in ("intro", "main", "loop", "trash")}
    qs: list[Question] = []

    def q(n, qtype, selector, sub, plain, block, kind, **kw) -> Question:
        question = Question(f"QID{n}", f"Q{n}", qtype, selector, sub, text(plain, rng), bl[block], kind, **kw)
        qs.append(question)
        return question

    n = start
    q(n, "DB", "TB", None, "Welcome! This survey takes about 5 minutes & helps us improve.", "intro", "none")
    sat = _choices(rng, rng.sample(SATISFACTION, 4), recode_base=10)  # recodes 10,20,… ≠ ids
    sat.append(Choice(str(len(sat) + 1), text("Other, please specify", rng), "99", text_entry=True))
    mc = q(n + 1, "MC", "SAVR", "TX", "Overall, how satisfied are you with our service?", "intro", "mc_single",
           choices=sat, choice_order=[c.id for c in reversed(sat[:-1])] + [sat[-1].id], force=True)
    q(n + 2, "TE", "SL", None, "Why did you choose that answer?", "intro", "text",
      shown_if=(mc.qid, sat[0].id))
    multi = _choices(rng, rng.sample(FRUITS, 4))
    multi.append(Choice(str(len(multi) + 1), text("None of the above", rng), exclusive=True))
    q(n + 3, "MC", "MAVR", "TX", "Which fruits did you buy? (select all that apply)", "intro", "mc_multi",
      choices=multi, choice_order=[c.id for c in multi])
    stm = _choices(rng, rng.sample(STATEMENTS, 3))
    stm.append(Choice(str(len(stm) + 1), text("Other aspect", rng), text_entry=True))
    scale = _choices(rng, LIKERT)
    for k, a in enumerate(scale):
        a.recode = str(len(scale) - k)  # reversed scale: recodes differ from answer ids
    q(n + 4, "Matrix", "Likert", "SingleAnswer", "How much do you agree with the following statements?", "main",
      "matrix", choices=stm, choice_order=[c.id for c in stm], answers=scale,
      answer_order=[a.id for a in scale], force=True)
    q(n + 5, "TE", "ML", None, "Anything else you would like to tell us?", "main", "text")
    form = _choices(rng, ["First name", "City", "Favourite colour"])
    q(n + 6, "TE", "FORM", None, "Please tell us about yourself", "main", "form", choices=form,
      choice_order=[c.id for c in form])
    sliders = _choices(rng, ["Quality", "Value for money"])
    q(n + 7, "Slider", "HSLIDER", None, "Rate each aspect from 0 to 100", "main", "slider", choices=sliders,
      choice_order=[c.id for c in sliders])
    nps = [Choice(str(k), Text(str(k), str(k)), str(k)) for k in range(11)]
    q(n + 8, "MC", "NPS", None, "How likely are you to recommend us to a friend or colleague?", "main", "nps",
      choices=nps, choice_order=[c.id for c in nps], force=True)
    ro = _choices(rng, rng.sample(CHANNELS, 4))
    q(n + 9, "RO", "DND", "TX", "Rank these contact channels by preference", "main", "rank", choices=ro,
      choice_order=[c.id for c in ro])
    sbs_rows = _choices(rng, rng.sample(STATEMENTS, 2))
    sbs = q(n + 10, "SBS", "SBSMatrix", None, "Importance and satisfaction, side by side", "main", "sbs",
            choices=sbs_rows, choice_order=[c.id for c in sbs_rows], force=True)
    for k, (title, labels) in enumerate([("Importance", ["Low", "Medium", "High"]), ("Satisfaction", SATISFACTION[:3])], 1):
        cols = _choices(rng, labels, recode_base=k)
        sbs.columns.append(Question(
            f"{sbs.qid}#{k}", f"{sbs.tag}#{k}", "Matrix", "Likert", "SingleAnswer", text(title, rng), sbs.block_id,
            "matrix", choices=[Choice(c.id, c.text) for c in sbs_rows], choice_order=[c.id for c in sbs_rows],
            answers=cols, answer_order=[a.id for a in cols], force=True))
    qs.remove(sbs)
    qs.append(sbs)
    loop_mc = _choices(rng, ["Love it", "It's fine", "Dislike"])
    q(n + 11, "MC", "SAVR", "TX", "How do you feel about this colour?", "loop", "mc_single",
      choices=loop_mc, choice_order=[c.id for c in loop_mc], force=True)
    q(n + 12, "TE", "SL", None, "Where have you seen this colour recently?", "loop", "text")
    trash_choices = _choices(rng, ["Yes", "No"])
    q(n + 13, "MC", "SAVR", "TX", "Deleted question: did you read the newsletter?", "trash", "mc_single",
      choices=trash_choices, choice_order=[c.id for c in trash_choices])

    blocks = [
        Block(bl["intro"], "Default", "Introduction", [x.qid for x in qs if x.block_id == bl["intro"]]),
        Block(bl["main"], "Standard", "Main questions", [x.qid for x in qs if x.block_id == bl["main"]]),
        Block(bl["loop"], "Standard", "Colours (loop & merge)", [x.qid for x in qs if x.block_id == bl["loop"]],
              loops=[str(k) for k in range(1, 2 + rng.randrange(2) + 1)]),
        Block(bl["trash"], "Trash", "Trash / Unused Questions", [x.qid for x in qs if x.block_id == bl["trash"]]),
    ]
    return qs, blocks


def make_survey(seed: int, k: int, owner_id: str, n_responses: int, name: str | None = None) -> Survey:
    rng = rng_for(seed, "survey", k)
    sid = make_id(rng, "SV_")
    if name is None:
        base = SURVEY_NAMES[k % len(SURVEY_NAMES)]
        name = base if k < len(SURVEY_NAMES) else f"{base} ({k // len(SURVEY_NAMES) + 1})"
    creation = EPOCH + timedelta(days=11 * k, seconds=rng.randrange(86400))
    qs, blocks = make_questions(rng)
    expires = k % 3 == 2
    return Survey(
        id=sid,
        name=name,
        owner_id=owner_id,
        creation=creation,
        last_modified=creation + timedelta(hours=2 + rng.randrange(48), seconds=rng.randrange(3600)),
        last_activated=creation + timedelta(hours=1),
        is_active=k % 4 != 3,
        expiration=(creation, creation + timedelta(days=720)) if expires else (None, None),
        questions={x.qid: x for x in qs},
        blocks=blocks,
        embedded=[("panel", "A"), ("wave", "1"), ("Customer ID", None)],
        n_base=n_responses,
        in_progress=2 + k % 3,
        next_qid=len(qs) + 1,
        seed=seed,
    )


@dataclass
class Item:
    value: object  # int, float or str as exported
    label: str | None
    option_id: str | None


@dataclass
class Entry:
    """One key of an export record's `values`, with what it means in the warehouse."""

    key: str
    question_id: str
    loop_id: str | None
    sub_question_id: str | None
    part: str | None
    items: list[Item]
    is_array: bool = False
    free_text: bool = False


@dataclass
class Response:
    response_id: str
    index: int
    meta: dict  # export metadata keys in export order (values of `values`)
    labels: dict
    entries: list[Entry]
    embedded: dict[str, str]
    recorded: datetime | None
    start: datetime
    end: datetime


def _answer(q: Question, rng: random.Random, prefix: str, loop_id: str | None, picked: dict) -> list[Entry]:
    key = f"{prefix}{q.qid}"
    out: list[Entry] = []
    if q.kind == "mc_single" or q.kind == "nps":
        c = rng.choice(q.choices)
        picked[q.qid] = c.id
        out.append(Entry(key, q.qid, loop_id, None, None, [Item(int(c.export_value), c.text.plain, c.id)]))
        if c.text_entry:
            out.append(Entry(f"{key}_{c.id}_TEXT", q.qid, loop_id, None, "TEXT",
                             [Item(rng.choice(FREE_TEXTS), None, c.id)], free_text=True))
        if q.kind == "nps":
            score = int(c.export_value)
            group = 1 if score <= 6 else 2 if score <= 8 else 3
            out.append(Entry(f"{key}_NPS_GROUP", q.qid, loop_id, None, "NPS_GROUP", [Item(group, NPS_GROUPS[group], None)]))
    elif q.kind == "mc_multi":
        exclusive = [c for c in q.choices if c.exclusive]
        normal = [c for c in q.choices if not c.exclusive]
        chosen = exclusive[:1] if exclusive and rng.random() < 0.15 else sorted(
            rng.sample(normal, rng.randint(1, min(3, len(normal)))), key=lambda c: int(c.id))
        out.append(Entry(key, q.qid, loop_id, None, None,
                         [Item(c.export_value, c.text.plain, c.id) for c in chosen], is_array=True))
    elif q.kind == "matrix":
        for s in q.choices:
            if rng.random() < 0.9:
                a = rng.choice(q.answers)
                out.append(Entry(f"{key}_{s.id}", q.qid, loop_id, s.id, None, [Item(int(a.export_value), a.text.plain, a.id)]))
                if s.text_entry and rng.random() < 0.5:
                    out.append(Entry(f"{key}_{s.id}_TEXT", q.qid, loop_id, s.id, "TEXT",
                                     [Item(rng.choice(FREE_TEXTS), None, None)], free_text=True))
    elif q.kind == "text":
        pool = ML_TEXTS + FREE_TEXTS if q.selector == "ML" else FREE_TEXTS
        out.append(Entry(f"{key}_TEXT", q.qid, loop_id, None, "TEXT", [Item(rng.choice(pool), None, None)], free_text=True))
    elif q.kind == "form":
        for f in q.choices:
            if rng.random() < 0.85:
                out.append(Entry(f"{key}_{f.id}", q.qid, loop_id, f.id, None,
                                 [Item(rng.choice(FREE_TEXTS), None, None)], free_text=True))
    elif q.kind == "slider":
        for s in q.choices:
            out.append(Entry(f"{key}_{s.id}", q.qid, loop_id, s.id, None, [Item(rng.randint(0, 100), None, None)]))
    elif q.kind == "rank":
        ranks = list(range(1, len(q.choices) + 1))
        rng.shuffle(ranks)
        for c, r in zip(q.choices, ranks):
            out.append(Entry(f"{key}_{c.id}", q.qid, loop_id, None, "RANK", [Item(r, None, c.id)]))
    elif q.kind == "sbs":
        for col in q.columns:
            for s in col.choices:
                a = rng.choice(col.answers)
                out.append(Entry(f"{prefix}{col.qid}_{s.id}", col.qid, loop_id, s.id, None,
                                 [Item(int(a.export_value), a.text.plain, a.id)]))
    return out


def make_response(survey: Survey, i: int, variant: int = 0, recorded: datetime | None = None,
                  in_progress: bool = False) -> Response:
    """Response i of `survey`; `variant` > 0 is the i-th response after `variant` edits.

    Metadata comes from one stream (stable across edits), answers from another (per variant).
    `recorded` overrides the base timeline (added responses are recorded "now").
    """
    kind = "fs" if in_progress else "r"
    mrng = rng_for(survey.seed, survey.id, kind, i)
    arng = rng_for(survey.seed, survey.id, kind, i, "v", variant)
    rid = make_id(mrng, "FS_" if in_progress else "R_")
    if in_progress:
        end = EPOCH + RESPONSE_SPAN + timedelta(days=400, seconds=mrng.randrange(86400 * 30))
        recorded_at = None
    else:
        recorded_at = recorded if recorded is not None else survey.base_recorded(i)
        end = recorded_at.replace(microsecond=0)
    duration = mrng.randint(20, 1800)
    start = end - timedelta(seconds=duration)
    status = 0 if in_progress else mrng.choices([0, 1, 4, 8], weights=[85, 6, 4, 5])[0]
    anonymized = status == 1 or mrng.random() < 0.15
    finished = 0 if in_progress else (0 if mrng.random() < 0.06 else 1)
    progress = 100 if finished else mrng.randint(10, 90)
    channel = "preview" if status == 1 else mrng.choice(["anonymous", "anonymous", "email"])
    meta: dict = {"startDate": iso(start), "endDate": iso(end), "status": status}
    if not anonymized and not in_progress:
        meta["ipAddress"] = f"{mrng.randint(1, 223)}.{mrng.randint(0, 255)}.{mrng.randint(0, 255)}.{mrng.randint(1, 254)}"
    meta.update(progress=progress, duration=duration, finished=finished)
    if recorded_at is not None:
        meta["recordedDate"] = iso_ms(recorded_at)
    meta["_recordId"] = rid
    if not anonymized and not in_progress:
        meta["locationLatitude"] = f"{mrng.uniform(-60, 70):.16f}"
        meta["locationLongitude"] = f"{mrng.uniform(-170, 170):.16f}"
    meta["distributionChannel"] = channel
    meta["userLanguage"] = mrng.choice(["EN", "EN", "DE", "FR", "JA"])
    if channel == "email":
        first, last = mrng.choice(FIRST_NAMES), mrng.choice(LAST_NAMES)
        meta.update(recipientLastName=last, recipientFirstName=first,
                    recipientEmail=f"{first}.{last}@example.org".lower().replace("'", ""),
                    externalDataReference=str(mrng.randint(1000, 99999)))
    labels = {"status": STATUS_LABELS[status], "finished": "True" if finished else "False"}

    entries: list[Entry] = []
    picked: dict[str, str] = {}
    flowed = [q for q in survey.flowed_questions if q.since_index <= i]
    budget = len(flowed) if progress == 100 else max(1, len(flowed) * progress // 100)
    for q in flowed[:budget]:
        if q.shown_if and picked.get(q.shown_if[0]) != q.shown_if[1]:
            continue
        if not q.force and arng.random() < 0.2:
            continue
        block = survey.block_of(q.qid)
        for loop_id in block.loops or [None]:
            prefix = f"{loop_id}_" if loop_id else ""
            entries.extend(_answer(q, arng, prefix, loop_id, picked))
    for e in entries:
        if any(it.label is not None for it in e.items):
            labels[e.key] = [it.label for it in e.items] if e.is_array else e.items[0].label
    embedded: dict[str, str] = {}
    for name, default in survey.embedded:
        if default is not None and name == "panel":
            embedded[name] = mrng.choice(["A", "B", "C"])
        elif mrng.random() < 0.6:
            embedded[name] = default if default is not None else str(mrng.randint(100000, 999999))
    return Response(rid, i, meta, labels, entries, embedded, recorded_at, start, end)


EXTRA_EMBEDDED = [("department", None), ("location", "HQ"), ("tenure_band", None)]


def widen_survey(survey: Survey, copies: int, extra_embedded: bool = True) -> Survey:
    """Append `copies` more sets of the standard question blocks (13 flowed questions each) to `survey`.

    For benchmarks that want long surveys (`widen_survey(s, 2)` gives 40 questions). Each copy draws
    from its own seeded stream, so the survey's original questions, the default account and its
    ground truth are unchanged; the copy's intro block becomes a Standard block and its trash
    question is dropped. `extra_embedded` adds three embedded-data fields. Mutates and returns `survey`.
    """
    if copies < 0:
        raise ValueError("copies must be >= 0")
    trash = [b for b in survey.blocks if b.type == "Trash"]
    kept = [b for b in survey.blocks if b.type != "Trash"]
    for c in range(1, copies + 1):
        rng = rng_for(survey.seed, survey.id, "copy", c)
        qs, blocks = make_questions(rng, start=survey.next_qid)
        for b in blocks:
            if b.type == "Trash":
                continue
            b.type = "Standard"
            b.description = f"{b.description} ({c + 1})"
            kept.append(b)
        for q in qs:
            if any(q.qid in b.qids for b in blocks if b.type != "Trash"):
                survey.questions[q.qid] = q
        survey.next_qid += len(qs)
    survey.blocks = kept + trash
    if extra_embedded:
        survey.embedded = list(survey.embedded) + [e for e in EXTRA_EMBEDDED if e not in survey.embedded]
    return survey
