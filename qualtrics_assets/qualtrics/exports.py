"""Response exports: start, poll, stream to a temporary file, check the archive, iterate records.

Nothing here holds a whole export in memory: the file is written to disk in
``download_chunk_bytes`` chunks, the archive is checked (central directory, member CRCs), the
member is picked by extension from the archive's listing (never extracted by member path; with
``extract=True`` members are inflated to numbered plain files for bulk readers such as DuckDB), and
records are decoded one line at a time with :func:`json.loads` (NDJSON, the default) or with an
incremental ``raw_decode`` scanner (JSON). Temporary files live in a private directory removed on
``__exit__`` (also after errors) and, as a safety net, when the object is garbage collected.

An export that Qualtrics refuses or fails *for size* is split into two date windows
(``startDate`` inclusive, ``endDate`` exclusive, on recordedDate — or last-modified date with
``sort_by_last_modified``) recursively down to ``min_export_window_s``; records of the windows
are iterated in date order. Any other ``failed`` export is started afresh ``export_restarts``
times, then raises :class:`ExportFailedError` naming the survey and requestId.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import tempfile
import time
import weakref
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import requests
import urllib3.exceptions

from .config import validate_id, validate_survey_id
from .errors import (
    ConfigError,
    ExportDownloadError,
    ExportError,
    ExportFailedError,
    ExportTimeoutError,
    ExportTooLargeError,
    QualtricsError,
    ResponseFormatError,
)
from .http import parse_envelope_error

if TYPE_CHECKING:  # pragma: no cover
    from .client import QualtricsClient

__all__ = ["ResponseExport", "ExportPart", "format_export_date", "date_windows", "JSON_ONLY_FORBIDDEN_OPTIONS"]

logger = logging.getLogger("qualtrics_assets.qualtrics")

#: CSV-only export options that JSON/NDJSON exports reject with 400.
JSON_ONLY_FORBIDDEN_OPTIONS = frozenset({
    "includeDisplayOrder", "useLabels", "formatDecimalAsComma", "seenUnansweredRecode",
    "multiselectSeenUnansweredRecode", "timeZone", "newlineReplacement", "breakoutSets",
})
_RECORD_FORMATS = ("ndjson", "json")
_SIZE_RE = re.compile(r"too (large|big)|file size|size limit|exceed|1\.8 ?gb|maximum size", re.I)
_EARLIEST = datetime(2000, 1, 1, tzinfo=timezone.utc)


def format_export_date(value: datetime | str) -> str:
    """ISO-8601 UTC (``2024-01-31T00:00:00Z``, milliseconds kept when present) for export bodies."""
    if isinstance(value, str):
        parse_export_date(value)  # validate
        return value
    if not isinstance(value, datetime):
        raise ConfigError(f"export dates must be datetime or ISO-8601 strings, got {type(value).__name__}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_export_date(value: datetime | str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError) as exc:
        raise ConfigError(f"cannot read export date {value!r} (expected ISO-8601)") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def date_windows(start: datetime | str, end: datetime | str, step: timedelta) -> list[tuple[datetime, datetime]]:
    """Consecutive ``[start, end)`` windows of at most ``step`` covering ``[start, end)`` exactly."""
    lo, hi = parse_export_date(start), parse_export_date(end)
    if step <= timedelta(0):
        raise ConfigError("window step must be positive")
    out = []
    while lo < hi:
        nxt = min(hi, lo + step)
        out.append((lo, nxt))
        lo = nxt
    return out


@dataclass
class ExportPart:
    """One completed export file (one date window, or the whole export)."""

    progress_id: str
    file_id: str
    path: str
    file_size: int
    members: list[str]
    is_zip: bool
    continuation_token: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    request_id: str | None = None
    #: The members inflated to plain files (``extract=True``), in member order.
    extracted: list[str] = field(default_factory=list)


class _SizeRefused(Exception):
    def __init__(self, message: str, request_id: str | None) -> None:
        super().__init__(message)
        self.request_id = request_id


@dataclass
class _Window:
    start: datetime | None
    end: datetime | None


class ResponseExport:
    """A response export for one survey; use as a context manager (``client.export_responses(...)``).

    On ``__enter__`` the export is started, polled until complete and downloaded to a temporary
    file; :meth:`records` then streams the responses. ``__exit__`` removes the temporary files.

    Attributes (after ``__enter__``):
        survey_id, progress_id (of the last part), file_id, continuation_token (of a completed
        continuation-enabled export; pass it to the next export), file_size (bytes downloaded),
        parts (one :class:`ExportPart` per date window), split (True if it was split for size).
    """

    def __init__(self, client: "QualtricsClient", survey_id: str, *, start_date: datetime | str | None = None,
                 end_date: datetime | str | None = None, continuation_token: str | None = None,
                 allow_continuation: bool = False, in_progress: bool = False, sort_by_last_modified: bool = False,
                 format: str = "ndjson", compress: bool = True, limit: int | None = None,
                 options: Mapping[str, Any] | None = None, split_on_size: bool = True,
                 extract: bool = False) -> None:
        self.survey_id = validate_survey_id(survey_id)
        fmt = format.lower()
        if fmt not in ("ndjson", "json", "csv", "tsv", "spss", "xml"):
            raise ConfigError(f"unknown export format {format!r}")
        options = dict(options or {})
        if fmt in _RECORD_FORMATS:
            bad = sorted(JSON_ONLY_FORBIDDEN_OPTIONS & set(options))
            if bad:
                raise ConfigError(f"{fmt} exports reject CSV-only option(s) {', '.join(bad)}")
        if continuation_token is not None and not isinstance(continuation_token, str):
            raise ConfigError("continuation_token must be a string")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise ConfigError("limit must be a positive integer")
        self._client = client
        self.format = fmt
        self.compress = compress
        self.start_date = parse_export_date(start_date) if start_date is not None else None
        self.end_date = parse_export_date(end_date) if end_date is not None else None
        if self.start_date and self.end_date and self.start_date >= self.end_date:
            raise ConfigError("export start_date must be before end_date (end is exclusive)")
        self.continuation_token_in = continuation_token
        self.allow_continuation = allow_continuation
        self.in_progress = in_progress
        self.sort_by_last_modified = sort_by_last_modified
        self.limit = limit
        self.options = options
        self.extract = extract
        self.split_on_size = split_on_size and continuation_token is None and not allow_continuation and limit is None
        self.parts: list[ExportPart] = []
        self.split = False
        self._tmpdir: str | None = None
        self._finalizer: weakref.finalize | None = None
        self._closed = False

    # -- public attributes --------------------------------------------------------------------

    @property
    def progress_id(self) -> str | None:
        return self.parts[-1].progress_id if self.parts else None

    @property
    def file_id(self) -> str | None:
        return self.parts[-1].file_id if self.parts else None

    @property
    def continuation_token(self) -> str | None:
        return self.parts[-1].continuation_token if len(self.parts) == 1 else None

    @property
    def file_size(self) -> int:
        return sum(p.file_size for p in self.parts)

    @property
    def tmpdir(self) -> str | None:
        return self._tmpdir

    def __repr__(self) -> str:
        return (f"ResponseExport(survey_id={self.survey_id!r}, format={self.format!r}, parts={len(self.parts)}, "
                f"file_size={self.file_size})")

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> "ResponseExport":
        try:
            self.run()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        """Remove the temporary files (idempotent)."""
        self._closed = True
        if self._finalizer is not None:
            self._finalizer()  # runs shutil.rmtree once
            self._finalizer = None

    def run(self) -> "ResponseExport":
        """Start, poll and download (what ``__enter__`` does)."""
        if self.parts:
            return self
        settings = self._client.settings
        self._tmpdir = tempfile.mkdtemp(prefix="qualtrics-export-", dir=settings.temp_dir)
        self._finalizer = weakref.finalize(self, shutil.rmtree, self._tmpdir, True)
        self._export_window(_Window(self.start_date, self.end_date), depth=0)
        return self

    # -- records ------------------------------------------------------------------------------

    def records(self) -> Iterator[dict]:
        """Yield each response (``{"responseId", "values", "labels", ...}``) streamed from the temp file(s)."""
        if self._closed or self._tmpdir is None:
            raise ExportError("the export is not open (use it inside its `with` block)", survey_id=self.survey_id)
        if self.format not in _RECORD_FORMATS:
            raise ConfigError(f"records() reads ndjson/json exports; this one is {self.format} (use open_files())")
        for name, fh in self.open_files():
            if self.format == "ndjson":
                yield from _iter_ndjson(fh, self.survey_id, name)
            else:
                yield from _iter_json_responses(fh, self.survey_id, name)

    def record_files(self) -> list[str]:
        """Paths of the plain (uncompressed) export files, in record order, for bulk readers such
        as DuckDB's ``read_json``; needs ``extract=True`` or ``compress=False``."""
        if self._closed or self._tmpdir is None:
            raise ExportError("the export is not open (use it inside its `with` block)", survey_id=self.survey_id)
        files: list[str] = []
        for part in self.parts:
            if part.is_zip and not part.extracted:
                raise ConfigError("record_files() needs an export made with extract=True (or compress=False)")
            files.extend(part.extracted or [part.path])
        return files

    def open_files(self) -> Iterator[tuple[str, io.BufferedIOBase]]:
        """Yield ``(member_name, binary stream)`` for every export file (for CSV and other formats)."""
        if self._closed or self._tmpdir is None:
            raise ExportError("the export is not open (use it inside its `with` block)", survey_id=self.survey_id)
        for part in self.parts:
            if part.extracted:
                for member, path in zip(part.members, part.extracted):
                    with open(path, "rb", buffering=1 << 20) as fh:
                        yield member, fh
                continue
            for member in (part.members or [None]):
                with _MemberReader(part, member, self.survey_id) as fh:
                    yield (member or os.path.basename(part.path)), fh

    # -- the export flow ----------------------------------------------------------------------

    def _export_window(self, window: _Window, depth: int) -> None:
        restarts = self._client.settings.export_restarts
        for n in range(restarts + 1):
            try:
                self.parts.append(self._export_once(window))
                return
            except _SizeRefused as refused:
                self._split(window, depth, str(refused), refused.request_id)
                return
            except ExportFailedError as failed:
                if n >= restarts:
                    raise
                logger.warning("Qualtrics export %s of %s failed (requestId %s); starting a new export (%d/%d)",
                               getattr(failed, "progress_id", None), self.survey_id, failed.request_id, n + 1,
                               restarts)

    def _split(self, window: _Window, depth: int, reason: str, request_id: str | None) -> None:
        settings = self._client.settings
        if not self.split_on_size:
            raise ExportTooLargeError(
                f"Qualtrics refused the export of {self.survey_id} for size ({reason})", survey_id=self.survey_id,
                request_id=request_id, route="export_start",
                hint="export in date windows (start_date/end_date); continuation/limit exports cannot be split")
        start = window.start or self._survey_start()
        end = window.end or _now_ceil()
        if (end - start).total_seconds() <= settings.min_export_window_s:
            raise ExportTooLargeError(
                f"Qualtrics refused the export of {self.survey_id} for size even for the window "
                f"{format_export_date(start)} .. {format_export_date(end)} ({reason})", survey_id=self.survey_id,
                request_id=request_id, route="export_start",
                hint="lower min_export_window_s or export fewer questions (options questionIds)")
        mid = start + (end - start) / 2
        mid = mid.replace(microsecond=0) if mid.replace(microsecond=0) > start else mid
        self.split = True
        logger.warning("Qualtrics export of %s is too large (%s); splitting into %s .. %s .. %s", self.survey_id,
                       reason, format_export_date(start), format_export_date(mid), format_export_date(end))
        self._export_window(_Window(start, mid), depth + 1)
        self._export_window(_Window(mid, end), depth + 1)

    def _survey_start(self) -> datetime:
        try:
            survey = self._client.get_survey(self.survey_id)
            created = survey.get("creationDate")
            if created:
                return min(parse_export_date(created), datetime.now(timezone.utc)).replace(microsecond=0)
        except (QualtricsError, ConfigError):
            pass
        return _EARLIEST

    def _body(self, window: _Window) -> dict[str, Any]:
        body: dict[str, Any] = {"format": self.format}
        if not self.compress:
            body["compress"] = False
        if window.start is not None:
            body["startDate"] = format_export_date(window.start)
        if window.end is not None:
            body["endDate"] = format_export_date(window.end)
        if self.continuation_token_in:
            body["continuationToken"] = self.continuation_token_in  # implies allowContinuation
        elif self.allow_continuation:
            body["allowContinuation"] = True
        if self.in_progress:
            body["exportResponsesInProgress"] = True
        if self.sort_by_last_modified:
            body["sortByLastModifiedDate"] = True
        if self.limit is not None:
            body["limit"] = self.limit
        body.update(self.options)
        return body

    def _export_once(self, window: _Window) -> ExportPart:
        client = self._client
        t = client._transport
        sid = self.survey_id
        body = self._body(window)
        url = t.api_url(f"surveys/{sid}/export-responses")
        # Export start is a POST: it is repeated after an ambiguous failure only because it merely
        # creates a read-only export job (an orphan expires unused); see http.py.
        resp = t.request("POST", url, route="export_start", survey_id=sid, json_body=body, retry_ambiguous=True)
        client.stats.add(exports=1)
        payload = t._json(resp, route="export_start", survey_id=sid)
        if resp.status_code != 200:
            message, code, request_id, _ = parse_envelope_error(payload)
            if resp.status_code in (400, 413) and _SIZE_RE.search(f"{message or ''}"):
                raise _SizeRefused(message or code or "too large", request_id)
            raise t.error_for(resp, payload, route="export_start", survey_id=sid)
        result = _result(payload, "export_start", sid)
        try:
            progress_id = validate_id(result.get("progressId"), "export progress id")
        except QualtricsError as exc:
            raise ResponseFormatError(f"export start for {sid} returned no usable progressId",
                                      route="export_start", survey_id=sid, status=resp.status_code) from exc
        logger.info("started Qualtrics export %s of %s (%s)", progress_id, sid, _describe(body))
        done, request_id = self._poll(progress_id)
        file_id = validate_id(done.get("fileId"), "export file id")
        token = done.get("continuationToken")
        part = self._download(progress_id, file_id, request_id)
        part.continuation_token = str(token) if token else None
        part.start_date = body.get("startDate")
        part.end_date = body.get("endDate")
        return part

    def _poll(self, progress_id: str) -> tuple[dict, str | None]:
        client = self._client
        t = client._transport
        s = client.settings
        sid = self.survey_id
        url = t.api_url(f"surveys/{sid}/export-responses/{progress_id}")
        started = time.monotonic()
        delay = s.poll_initial_s
        polls = 0
        last_pct: Any = None
        while True:
            payload = t.request_json("GET", url, route="export_progress", survey_id=sid)
            polls += 1
            client.stats.add(export_polls=1)
            result = _result(payload, "export_progress", sid)
            request_id = _request_id(payload)
            status = result.get("status")
            last_pct = result.get("percentComplete", last_pct)
            if status == "complete":
                if not result.get("fileId"):
                    raise ResponseFormatError(f"export {progress_id} of {sid} is complete but has no fileId",
                                              route="export_progress", survey_id=sid, request_id=request_id)
                logger.info("Qualtrics export %s of %s complete after %d poll(s)", progress_id, sid, polls)
                return result, request_id
            if status == "failed":
                reason = " ".join(str(result.get(k)) for k in ("error", "errorMessage", "message", "reason")
                                  if result.get(k))
                if reason and _SIZE_RE.search(reason):
                    raise _SizeRefused(reason, request_id)
                raise ExportFailedError(
                    f"Qualtrics export {progress_id} of survey {sid} failed" + (f": {reason}" if reason else ""),
                    route="export_progress", survey_id=sid, request_id=request_id, progress_id=progress_id,
                    hint=f"start the export again later; if it keeps failing, contact Qualtrics support quoting "
                         f"requestId {request_id} and survey {sid}")
            if status != "inProgress":
                raise ResponseFormatError(f"export {progress_id} of {sid} has unknown status {status!r}",
                                          route="export_progress", survey_id=sid, request_id=request_id)
            elapsed = time.monotonic() - started
            if elapsed + delay > s.export_timeout_s:
                raise ExportTimeoutError(
                    f"Qualtrics export {progress_id} of survey {sid} still inProgress ({last_pct}% complete) after "
                    f"{elapsed:.1f} s and {polls} polls (export_timeout_s={s.export_timeout_s:g})",
                    route="export_progress", survey_id=sid, request_id=request_id, progress_id=progress_id,
                    polls=polls, hint="Qualtrics may be busy: raise export_timeout_s, or export smaller date windows")
            t._sleep(delay)
            delay = min(s.poll_max_s, delay * s.poll_multiplier)

    def _download(self, progress_id: str, file_id: str, request_id: str | None) -> ExportPart:
        client = self._client
        t = client._transport
        s = client.settings
        sid = self.survey_id
        url = t.api_url(f"surveys/{sid}/export-responses/{file_id}/file")
        assert self._tmpdir is not None
        problems: list[str] = []
        for n in range(1, s.download_attempts + 1):
            path = os.path.join(self._tmpdir, f"{progress_id}.{n}.part")
            try:
                size = self._fetch_file(url, path, sid)
                members, is_zip = _check_archive(path, self.format, self.compress, sid,
                                                 verify=s.verify_archive and not self.extract)
                extracted = _extract(path, members, sid) if is_zip and self.extract else []
            except _Truncated as exc:
                problems.append(str(exc))
                _unlink(path)
                logger.warning("Qualtrics export file of %s (%s): %s; downloading again (%d/%d)", sid, progress_id,
                               exc, n, s.download_attempts)
                if n < s.download_attempts:
                    t._sleep(min(s.backoff_max_s, s.backoff_initial_s * 2 ** (n - 1)))
                continue
            final = os.path.join(self._tmpdir, f"{progress_id}.{'zip' if is_zip else self.format}")
            os.replace(path, final)
            if extracted:
                _unlink(final)  # the plain files hold everything now; free the disk early
            return ExportPart(progress_id=progress_id, file_id=file_id, path=final, file_size=size, members=members,
                              is_zip=is_zip, request_id=request_id, extracted=extracted)
        raise ExportDownloadError(
            f"the export file of survey {sid} (export {progress_id}) was incomplete or corrupt in all "
            f"{s.download_attempts} download attempts: {'; '.join(problems)}",
            route="export_file", survey_id=sid, request_id=request_id, progress_id=progress_id,
            hint="the connection to Qualtrics is cutting downloads short; retry later or check proxies/firewalls")

    def _fetch_file(self, url: str, path: str, sid: str) -> int:
        client = self._client
        t = client._transport
        s = client.settings
        resp = t.request("GET", url, route="export_file", survey_id=sid, stream=True)
        hops = 0
        while resp.status_code in (301, 302, 303, 307, 308) and hops < 3:
            # Legacy downloads redirected to a CDN. Follow with credentials only to allowed hosts.
            location = resp.headers.get("Location")
            resp.close()
            if not location:
                break
            hops += 1
            location = requests.compat.urljoin(url, location)
            try:
                t.check_url(location, route="export_file", survey_id=sid)
                resp = t.request("GET", location, route="export_file", survey_id=sid, stream=True)
            except QualtricsError:
                resp = t.session.get(location, stream=True, timeout=t._timeout(), allow_redirects=False,
                                     headers={"Authorization": None, "X-API-TOKEN": None})
        with resp:
            if resp.status_code != 200:
                payload = t._safe_body(resp)
                raise t.error_for(resp, payload, route="export_file", survey_id=sid)
            expected = resp.headers.get("Content-Length")
            encoded = resp.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
            written = 0
            try:
                with open(path, "wb") as out:
                    for chunk in resp.raw.stream(s.download_chunk_bytes, decode_content=True):
                        out.write(chunk)
                        written += len(chunk)
            except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, ConnectionError,
                    TimeoutError) as exc:
                client.stats.add(bytes_downloaded=written)
                raise _Truncated(f"download interrupted after {written} bytes ({type(exc).__name__})") from exc
            except OSError as exc:
                raise ExportDownloadError(f"cannot write the export file to {self._tmpdir}: {exc}", survey_id=sid,
                                          route="export_file", hint="free disk space or set temp_dir") from exc
            client.stats.add(bytes_downloaded=written)
            if expected is not None and not encoded:
                try:
                    expected_n = int(expected)
                except ValueError:
                    expected_n = None
                if expected_n is not None and written != expected_n:
                    raise _Truncated(f"got {written} of {expected_n} bytes")
            if written == 0:
                raise _Truncated("empty body")
            return written


class _Truncated(Exception):
    pass


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _now_ceil() -> datetime:
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=0) + timedelta(seconds=1)


def _result(payload: Any, route: str, sid: str) -> dict:
    result = payload.get("result") if isinstance(payload, Mapping) else None
    if not isinstance(result, Mapping):
        raise ResponseFormatError(f"Qualtrics answered {route} without a result object", route=route, survey_id=sid,
                                  request_id=_request_id(payload))
    return dict(result)


def _request_id(payload: Any) -> str | None:
    if isinstance(payload, Mapping) and isinstance(payload.get("meta"), Mapping):
        rid = payload["meta"].get("requestId")
        return None if rid is None else str(rid)
    return None


def _describe(body: Mapping[str, Any]) -> str:
    shown = {k: v for k, v in body.items() if k != "continuationToken"}
    if "continuationToken" in body:
        shown["continuationToken"] = "<given>"
    return json.dumps(shown, sort_keys=True)


_EXTENSIONS = {"ndjson": (".ndjson", ".json", ".jsonl"), "json": (".json",), "csv": (".csv",), "tsv": (".tsv",),
               "spss": (".sav",), "xml": (".xml",)}


def _natural_key(name: str) -> list[Any]:
    return [int(tok) if tok.isdigit() else tok for tok in re.split(r"(\d+)", name)]


def _check_archive(path: str, fmt: str, compress: bool, sid: str, *, verify: bool) -> tuple[list[str], bool]:
    """Validate the downloaded file; return (member names to read, is_zip). Raises _Truncated if damaged."""
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic[:2] != b"PK":
        if compress:
            raise _Truncated("the file is not a zip archive")
        return [], False
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            wanted = _EXTENSIONS.get(fmt, ())
            members = []
            for info in infos:
                name = info.filename
                if info.is_dir():
                    continue
                if info.flag_bits & 0x1:
                    raise ExportDownloadError(f"export archive member {name!r} is encrypted", survey_id=sid,
                                              route="export_file")
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2,
                                              zipfile.ZIP_LZMA):
                    raise ExportDownloadError(f"export archive member {name!r} uses unsupported compression",
                                              survey_id=sid, route="export_file")
                if name.lower().endswith(wanted):
                    members.append(name)
            if not members:
                listing = ", ".join(repr(i.filename) for i in infos[:10]) or "nothing"
                raise ExportDownloadError(
                    f"the export archive of {sid} holds no {'/'.join(wanted)} member (it holds {listing})",
                    survey_id=sid, route="export_file")
            members.sort(key=_natural_key)
            if verify:
                for name in members:  # full CRC check before any record is handed out (exactly-once)
                    with zf.open(name) as member:
                        while member.read(1 << 20):
                            pass
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, OSError) as exc:
        raise _Truncated(f"damaged zip archive ({type(exc).__name__}: {exc})") from exc
    return members, True


def _extract(path: str, members: list[str], sid: str) -> list[str]:
    """Inflate each member next to the archive under a numbered name (never the member's own
    path); reading it to the end checks its CRC, so this doubles as the archive check."""
    extracted = []
    try:
        with zipfile.ZipFile(path) as zf:
            for n, name in enumerate(members):
                target = f"{path}.member{n}"
                with zf.open(name) as member, open(target, "wb") as out:
                    shutil.copyfileobj(member, out, 1 << 20)
                extracted.append(target)
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        for target in extracted:
            _unlink(target)
        raise _Truncated(f"damaged zip archive ({type(exc).__name__}: {exc})") from exc
    except OSError as exc:
        raise ExportDownloadError(f"cannot write the export of {sid} to {os.path.dirname(path)}: {exc}",
                                  survey_id=sid, route="export_file", hint="free disk space or set temp_dir") from exc
    return extracted


class _MemberReader:
    """Context manager opening one export member (or the raw file) as a buffered binary stream."""

    def __init__(self, part: ExportPart, member: str | None, sid: str) -> None:
        self.part = part
        self.member = member
        self.sid = sid
        self._zf: zipfile.ZipFile | None = None
        self._fh: Any = None

    def __enter__(self) -> io.BufferedReader:
        if self.part.is_zip:
            self._zf = zipfile.ZipFile(self.part.path)
            self._fh = io.BufferedReader(self._zf.open(self.member), buffer_size=1 << 20)  # type: ignore[arg-type]
        else:
            self._fh = open(self.part.path, "rb", buffering=1 << 20)
        return self._fh

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._fh is not None:
                self._fh.close()
        finally:
            if self._zf is not None:
                self._zf.close()


def _iter_ndjson(fh: io.BufferedReader, sid: str, name: str) -> Iterator[dict]:
    loads = json.loads
    lineno = 0
    try:
        for lineno, line in enumerate(fh, 1):
            if len(line) <= 3 and not line.strip(b" \t\r\n{}"):
                continue  # blank line or "{}"
            record = loads(line)
            if not isinstance(record, dict):
                raise ResponseFormatError(f"line {lineno} of {name!r} is not a JSON object", survey_id=sid,
                                          route="export_file")
            yield record
    except json.JSONDecodeError as exc:
        raise ExportDownloadError(f"line {lineno} of the export file {name!r} of {sid} is not valid JSON ({exc.msg})",
                                  survey_id=sid, route="export_file") from None
    except zipfile.BadZipFile as exc:
        raise ExportDownloadError(f"the export archive of {sid} is corrupt ({exc})", survey_id=sid,
                                  route="export_file") from None


def _iter_json_responses(fh: io.BufferedReader, sid: str, name: str, chunk_chars: int = 1 << 20) -> Iterator[dict]:
    """Stream the objects of ``{"responses": [ ... ]}`` without loading the document."""
    text = io.TextIOWrapper(fh, encoding="utf-8")
    decoder = json.JSONDecoder()
    buf = ""
    pos = 0
    eof = False

    def more() -> bool:
        nonlocal buf, pos, eof
        data = text.read(chunk_chars)
        if not data:
            eof = True
            return False
        buf = buf[pos:] + data
        pos = 0
        return True

    # find the array after "responses"
    while True:
        idx = buf.find('"responses"', pos)
        if idx >= 0:
            colon = buf.find("[", idx)
            if colon >= 0:
                pos = colon + 1
                break
        if not more():
            raise ExportDownloadError(f"the export file {name!r} of {sid} has no 'responses' array", survey_id=sid,
                                      route="export_file")
    ws = " \t\r\n,"
    while True:
        while True:
            while pos < len(buf) and buf[pos] in ws:
                pos += 1
            if pos < len(buf) or not more():
                break
        if pos >= len(buf):
            raise ExportDownloadError(f"the export file {name!r} of {sid} ends inside the responses array",
                                      survey_id=sid, route="export_file")
        if buf[pos] == "]":
            return
        while True:
            try:
                obj, end = decoder.raw_decode(buf, pos)
                break
            except json.JSONDecodeError as exc:
                if eof or not more():
                    raise ExportDownloadError(f"the export file {name!r} of {sid} is not valid JSON ({exc.msg})",
                                              survey_id=sid, route="export_file") from None
        pos = end
        if isinstance(obj, dict) and obj:
            yield obj
