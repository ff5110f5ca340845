"""Response exports: request validation, the progress state machine and streaming file writers.

A file is written by a background thread, one response at a time, to a temporary file (zipped
through `ZipFile.open(..., "w")`), so an export of any size needs constant memory. Progress is
reported `inProgress` until both the configured number of polls has happened and the file is
ready, like the 6-10 polls of the recorded exports.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
import threading
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .account import Snapshot
from .generator import Question, Survey, iso_ms, make_id, make_response, rng_for

FORMATS = {"json", "ndjson", "csv", "tsv"}
UNSUPPORTED_FORMATS = {"spss", "xml"}
CSV_ONLY = {"useLabels", "includeDisplayOrder", "formatDecimalAsComma", "seenUnansweredRecode",
            "multiselectSeenUnansweredRecode", "timeZone", "newlineReplacement", "breakoutSets", "includeLabelColumns"}
OTHER_OPTIONS = {"format", "compress", "startDate", "endDate", "limit", "questionIds", "embeddedDataIds",
                 "surveyMetadataIds", "filterId", "exportResponsesInProgress", "allowContinuation",
                 "continuationToken", "sortByLastModifiedDate", "includeWaveWeights"}
METADATA = ["startDate", "endDate", "status", "ipAddress", "progress", "duration", "finished", "recordedDate",
            "_recordId", "recipientLastName", "recipientFirstName", "recipientEmail", "externalDataReference",
            "locationLatitude", "locationLongitude", "distributionChannel", "userLanguage"]
# CSV header rows 1 and 2 for each metadata import id (recorded fetch_survey: tag, label).
CSV_META = {
    "startDate": ("StartDate", "Start Date"), "endDate": ("EndDate", "End Date"), "status": ("Status", "Response Type"),
    "ipAddress": ("IPAddress", "IP Address"), "progress": ("Progress", "Progress"),
    "duration": ("Duration (in seconds)", "Duration (in seconds)"), "finished": ("Finished", "Finished"),
    "recordedDate": ("RecordedDate", "Recorded Date"), "_recordId": ("ResponseId", "Response ID"),
    "recipientLastName": ("RecipientLastName", "Recipient Last Name"),
    "recipientFirstName": ("RecipientFirstName", "Recipient First Name"),
    "recipientEmail": ("RecipientEmail", "Recipient Email"),
    "externalDataReference": ("ExternalReference", "External Data Reference"),
    "locationLatitude": ("LocationLatitude", "Location Latitude"),
    "locationLongitude": ("LocationLongitude", "Location Longitude"),
    "distributionChannel": ("DistributionChannel", "Distribution Channel"),
    "userLanguage": ("UserLanguage", "User Language"),
}
IN_PROGRESS_META = ["startDate", "endDate", "status", "progress", "duration", "finished", "recordedDate", "_recordId",
                    "distributionChannel", "userLanguage"]
DATE_KEYS = {"startDate", "endDate", "recordedDate"}


class ExportError(ValueError):
    """A request body Qualtrics would answer with 400."""


def parse_date(value: object, name: str) -> datetime:
    if not isinstance(value, str):
        raise ExportError(f"{name} must be an ISO-8601 date string")
    try:
        dt = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        raise ExportError(f"Invalid {name}: {value!r} is not an ISO-8601 date") from None
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt


@dataclass
class ExportRequest:
    format: str
    compress: bool = True
    start: datetime | None = None
    end: datetime | None = None
    limit: int | None = None
    question_ids: list[str] | None = None
    embedded_ids: list[str] | None = None
    metadata_ids: list[str] | None = None
    in_progress: bool = False
    allow_continuation: bool = False
    continuation_token: str | None = None
    by_last_modified: bool = False
    use_labels: bool = False
    time_zone: str | None = None


def parse_request(body: object, survey: Survey) -> ExportRequest:
    """Validate a POST export-responses body the way the API does (400 on anything wrong)."""
    if not isinstance(body, dict):
        raise ExportError("Request body must be a JSON object")
    unknown = set(body) - CSV_ONLY - OTHER_OPTIONS
    if unknown:
        raise ExportError(f"Unrecognized field(s): {', '.join(sorted(unknown))}")
    fmt = body.get("format")
    if fmt in UNSUPPORTED_FORMATS:
        raise ExportError(f"format {fmt!r} is not supported by the sandbox")
    if fmt not in FORMATS:
        raise ExportError("format is required and must be one of csv, tsv, json, ndjson, spss, xml")
    if fmt in ("json", "ndjson"):
        bad = sorted(set(body) & CSV_ONLY)
        if bad:
            raise ExportError(f"{', '.join(bad)} cannot be used with format {fmt}")
    for flag in ("compress", "exportResponsesInProgress", "allowContinuation", "sortByLastModifiedDate", "useLabels"):
        if flag in body and not isinstance(body[flag], bool):
            raise ExportError(f"{flag} must be a boolean")
    req = ExportRequest(format=fmt, compress=body.get("compress", True),
                        in_progress=body.get("exportResponsesInProgress", False),
                        allow_continuation=body.get("allowContinuation", False),
                        by_last_modified=body.get("sortByLastModifiedDate", False),
                        use_labels=body.get("useLabels", False))
    if "startDate" in body:
        req.start = parse_date(body["startDate"], "startDate")
    if "endDate" in body:
        req.end = parse_date(body["endDate"], "endDate")
    if req.start and req.end and req.start > req.end:
        raise ExportError("startDate must be before endDate")
    if "limit" in body:
        if not isinstance(body["limit"], int) or isinstance(body["limit"], bool) or body["limit"] < 1:
            raise ExportError("limit must be a positive integer")
        req.limit = body["limit"]
    for key, attr in (("questionIds", "question_ids"), ("embeddedDataIds", "embedded_ids"),
                      ("surveyMetadataIds", "metadata_ids")):
        if key in body:
            value = body[key]
            if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
                raise ExportError(f"{key} must be an array of strings")
            setattr(req, attr, value)
    if req.question_ids:
        missing = [q for q in req.question_ids if q not in survey.questions]
        if missing:
            raise ExportError(f"Invalid questionIds: {', '.join(missing)}")
    if req.metadata_ids:
        bad = [m for m in req.metadata_ids if m not in METADATA]
        if bad:
            raise ExportError(f"Invalid surveyMetadataIds: {', '.join(bad)}")
    if "continuationToken" in body:
        if not isinstance(body["continuationToken"], str) or not body["continuationToken"]:
            raise ExportError("continuationToken must be a non-empty string")
        if req.allow_continuation:
            raise ExportError("Use either continuationToken or allowContinuation, not both")
        if req.start or req.end or "filterId" in body:
            raise ExportError("continuationToken cannot be combined with startDate, endDate or filterId")
        req.continuation_token = body["continuationToken"]
    if req.by_last_modified and "filterId" in body:
        raise ExportError("sortByLastModifiedDate cannot be combined with filterId")
    if "filterId" in body:
        raise ExportError(f"Filter {body['filterId']!r} not found")
    if "timeZone" in body:
        try:
            ZoneInfo(body["timeZone"])
        except (ZoneInfoNotFoundError, TypeError, ValueError):
            raise ExportError(f"Invalid timeZone {body['timeZone']!r}") from None
        req.time_zone = body["timeZone"]
    return req


@dataclass
class ExportJob:
    progress_id: str
    survey_id: str
    survey_name: str
    request: ExportRequest
    since: datetime | None  # continuation: only responses modified at/after this instant
    issue_token: bool
    polls_needed: int
    polls: int = 0
    fail: bool = False
    stuck: bool = False
    file_id: str | None = None
    path: str | None = None
    size: int = 0
    rows: int = 0
    continuation_token: str | None = None
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def member_name(self) -> str:
        ext = "json" if self.request.format == "json" else self.request.format
        return f"{self.survey_name}.{ext}"

    def progress(self) -> dict:
        """One poll: inProgress until polls and file are both done; failed/stuck if faulted."""
        self.polls += 1
        if self.fail:
            return {"fileId": None, "percentComplete": 100, "status": "failed"}
        if self.stuck or not (self.done.is_set() and self.polls >= self.polls_needed):
            pct = 0.0 if self.stuck else min(99.0, 100.0 * (self.polls - 1) / max(self.polls_needed, 1))
            return {"percentComplete": pct, "status": "inProgress"}
        if self.error:
            return {"fileId": None, "percentComplete": 100, "status": "failed"}
        result = {"fileId": self.file_id, "percentComplete": 100.0, "status": "complete"}
        if self.continuation_token:
            result["continuationToken"] = self.continuation_token
        return result


def new_job(survey_id: str, survey_name: str, req: ExportRequest, since, issue_token: bool, polls: int) -> ExportJob:
    rng = rng_for(uuid.uuid4().hex)
    return ExportJob(make_id(rng, "ES_"), survey_id, survey_name, req, since, issue_token, polls)


def _question_keys(q: Question, survey: Survey) -> list[tuple[str, str, str]]:
    """(export key, CSV tag, CSV label) of every field a question can export, in column order."""
    loops = survey.block_of(q.qid).loops or [None]
    out = []
    for loop in loops:
        pre, tpre = (f"{loop}_", f"{loop}_") if loop else ("", "")
        label = q.text.plain
        if q.kind in ("mc_single", "mc_multi", "nps"):
            out.append((f"{pre}{q.qid}", f"{tpre}{q.tag}", label))
            out += [(f"{pre}{q.qid}_{c.id}_TEXT", f"{tpre}{q.tag}_{c.id}_TEXT", f"{label} - {c.text.plain} - Text")
                    for c in q.choices if c.text_entry]
            if q.kind == "nps":
                out.append((f"{pre}{q.qid}_NPS_GROUP", f"{tpre}{q.tag}_NPS_GROUP", f"{label} - Group"))
        elif q.kind == "text":
            out.append((f"{pre}{q.qid}_TEXT", f"{tpre}{q.tag}", label))
        elif q.kind in ("matrix", "form", "slider", "rank"):
            for c in q.choices:
                out.append((f"{pre}{q.qid}_{c.id}", f"{tpre}{q.tag}_{c.id}", f"{label} - {c.text.plain}"))
                if c.text_entry:
                    out.append((f"{pre}{q.qid}_{c.id}_TEXT", f"{tpre}{q.tag}_{c.id}_TEXT", f"{label} - {c.text.plain} - Text"))
        elif q.kind == "sbs":
            for col in q.columns:
                out += [(f"{pre}{col.qid}_{c.id}", f"{tpre}{col.tag}_{c.id}", f"{label} - {col.text.plain} - {c.text.plain}")
                        for c in col.choices]
    return out


class Writer:
    """Turns generated responses into export records, applying the field filters of a request."""

    def __init__(self, snap: Snapshot, req: ExportRequest):
        self.snap, self.req = snap, req
        survey = snap.survey
        qids = [q.qid for q in survey.flowed_questions]
        self.qids = set(qids if req.question_ids is None else req.question_ids)
        names = [n for n, _ in survey.embedded]
        self.embedded = set(names if req.embedded_ids is None else req.embedded_ids)
        default_meta = IN_PROGRESS_META if req.in_progress else METADATA
        self.meta = [m for m in default_meta if req.metadata_ids is None or m in req.metadata_ids]
        self.columns = [(m, *CSV_META[m]) for m in self.meta]
        for q in survey.flowed_questions:
            if q.qid in self.qids:
                self.columns += _question_keys(q, survey)
        self.columns += [(n, n, n) for n in names if n in self.embedded]

    def record(self, r, last_modified: datetime | None) -> dict:
        values = {k: v for k, v in r.meta.items() if k in self.meta}
        labels = {k: v for k, v in r.labels.items() if k in ("status", "finished") and k in values}
        displayed: list[str] = []
        for e in r.entries:
            if e.question_id.split("#")[0] not in self.qids:
                continue
            values[e.key] = [it.value for it in e.items] if e.is_array else e.items[0].value
            displayed.append(e.key)
            if e.key in r.labels:
                labels[e.key] = r.labels[e.key]
        for k, v in r.embedded.items():
            if k in self.embedded:
                values[k] = v
        if self.req.by_last_modified and last_modified is not None:
            values["_lastModifiedDate"] = iso_ms(last_modified)
        displayed_values = {}
        for q in self.snap.survey.flowed_questions:
            if q.qid in self.qids and q.kind in ("mc_single", "mc_multi", "nps"):
                codes = [int(c.export_value) if q.kind != "mc_multi" else c.export_value for c in q.choices]
                displayed_values[q.qid] = codes
        return {"responseId": r.response_id, "values": values, "labels": labels, "displayedFields": displayed,
                "displayedValues": displayed_values}

    def csv_row(self, rec: dict) -> list[str]:
        values, labels = rec["values"], rec["labels"]
        tz = ZoneInfo(self.req.time_zone) if self.req.time_zone else None
        row = []
        for key, _, _ in self.columns:
            v = labels.get(key) if self.req.use_labels and key in labels else values.get(key)
            if v is None:
                row.append("")
            elif key in DATE_KEYS:
                dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
                row.append((dt.astimezone(tz) if tz else dt).strftime("%Y-%m-%d %H:%M:%S"))
            elif isinstance(v, list):
                row.append(",".join(str(x) for x in v))
            else:
                row.append(str(v))
        return row

    def header_rows(self) -> list[list[str]]:
        tz = self.req.time_zone or "Z"
        ids = []
        for key, _, _ in self.columns:
            spec = {"ImportId": key, "timeZone": tz} if key in DATE_KEYS else {"ImportId": key}
            ids.append(json.dumps(spec, separators=(",", ":")))
        return [[c[1] for c in self.columns], [c[2] for c in self.columns], ids]


def _in_window(dt: datetime | None, req: ExportRequest) -> bool:
    if dt is None:
        return True
    return (req.start is None or dt >= req.start) and (req.end is None or dt < req.end)


def iter_records(snap: Snapshot, req: ExportRequest, since: datetime | None, writer: Writer):
    """Export records in order, after date window, continuation and limit."""
    count = 0
    if req.in_progress:
        survey = snap.survey
        for j in range(survey.in_progress):
            r = make_response(survey, j, in_progress=True)
            if not _in_window(r.start, req):
                continue
            yield writer.record(r, None)
            count += 1
            if req.limit and count >= req.limit:
                return
        return
    for i in snap.indices(req.by_last_modified, since):
        modified = snap.last_modified(i)
        if since is not None and modified < since:
            continue
        key = modified if req.by_last_modified else snap.recorded(i)
        if not _in_window(key, req):
            continue
        yield writer.record(snap.response(i), modified)
        count += 1
        if req.limit and count >= req.limit:
            return


def write_file(job: ExportJob, snap: Snapshot, directory: str) -> None:
    """Write the export file for `job` (runs in a background thread); sets job.done."""
    req = job.request
    fd, path = tempfile.mkstemp(prefix="export-", suffix=".zip" if req.compress else "." + req.format, dir=directory)
    os.close(fd)
    try:
        writer = Writer(snap, req)
        records = iter_records(snap, req, job.since, writer)
        if req.compress:
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, \
                    zf.open(job.member_name, "w", force_zip64=True) as raw:
                job.rows = _write_body(raw, req, writer, records)
        else:
            with open(path, "wb") as raw:
                job.rows = _write_body(raw, req, writer, records)
        job.path, job.size = path, os.path.getsize(path)
        job.file_id = f"{uuid.uuid4()}-def"
    except Exception as exc:  # noqa: BLE001 - a broken export is reported as status "failed"
        job.error = repr(exc)
        os.unlink(path)
    finally:
        job.done.set()


def _write_body(raw, req: ExportRequest, writer: Writer, records) -> int:
    out = io.TextIOWrapper(raw, encoding="utf-8", newline="", write_through=False)
    n = 0
    if req.format == "json":
        out.write('{"responses":[')
        for rec in records:
            out.write(("," if n else "") + json.dumps(rec, ensure_ascii=False))
            n += 1
        out.write("]}")
    elif req.format == "ndjson":
        for rec in records:
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
    else:
        w = csv.writer(out, delimiter="," if req.format == "csv" else "\t", lineterminator="\r\n")
        w.writerows(writer.header_rows())
        for rec in records:
            w.writerow(writer.csv_row(rec))
            n += 1
    out.flush()
    out.detach()
    return n
