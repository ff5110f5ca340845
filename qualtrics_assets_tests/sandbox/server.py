"""The HTTP side: a loopback ThreadingHTTPServer speaking the Qualtrics v3 API.

Envelope, string `httpStatus`, error shapes and codes follow the recordings (see
/work/shared/qualtrics-api.md §3, §13). Every request is logged in `server.requests` (method,
path, route name, status, auth kind) so tests can count attempts and retries.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import shutil
import socket
import tempfile
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import exports, payloads
from .account import Account
from .faults import Faults

ALL_SCOPES = ("read:surveys", "read:survey_responses", "read:users")
KNOWN_SCOPES = set(ALL_SCOPES) | {"manage:all", "write:surveys", "write:survey_responses", "read:directories",
                                  "read:distributions", "read:mailing_lists", "read:groups"}
PROXY_PARAMS = {"proxyDepth": "1", "proxyInfo": '{"proxyDepth":1}'}

# (method, path pattern, route name, required scope)
ROUTES = [
    ("POST", r"/oauth2/token", "token", None),
    ("GET", r"/API/v3/whoami", "whoami", None),
    ("GET", r"/API/v3/users", "users", "read:users"),
    ("GET", r"/API/v3/users/(?P<user_id>[^/]+)", "user", "read:users"),
    ("GET", r"/API/v3/surveys", "surveys", "read:surveys"),
    ("GET", r"/API/v3/surveys/(?P<survey_id>[^/]+)", "survey", "read:surveys"),
    ("GET", r"/API/v3/survey-definitions/(?P<survey_id>[^/]+)", "definition", "read:surveys"),
    ("GET", r"/API/v3/survey-definitions/(?P<survey_id>[^/]+)/questions", "questions", "read:surveys"),
    ("GET", r"/API/v3/survey-definitions/(?P<survey_id>[^/]+)/questions/(?P<qid>[^/]+)", "question", "read:surveys"),
    ("GET", r"/API/v3/survey-definitions/(?P<survey_id>[^/]+)/metadata", "metadata", "read:surveys"),
    ("POST", r"/API/v3/surveys/(?P<survey_id>[^/]+)/export-responses", "export_start", "read:survey_responses"),
    ("GET", r"/API/v3/surveys/(?P<survey_id>[^/]+)/export-responses/(?P<progress_id>[^/]+)", "export_progress",
     "read:survey_responses"),
    ("GET", r"/API/v3/surveys/(?P<survey_id>[^/]+)/export-responses/(?P<file_id>[^/]+)/file", "export_file",
     "read:survey_responses"),
]
COMPILED = [(m, re.compile(p + "$"), name, scope) for m, p, name, scope in ROUTES]


@dataclass
class RequestRecord:
    method: str
    path: str
    route: str
    status: int | None  # None: the connection was dropped without a response
    auth: str  # "bearer", "api_token", "basic", "none"


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}


class Dropped(Exception):
    """Close the connection without answering."""


def _jsonable(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value)} is not JSON serializable")


def status_line(code: int) -> str:
    return f"{code} - {HTTPStatus(code).phrase}"


class SandboxServer:
    """A Qualtrics API emulator over an `Account`. Start with `start()`, stop with `stop()`."""

    def __init__(self, account: Account, *, seed: int = 7, port: int = 0, page_size: int = 100,
                 token_lifetime: float = 3600, export_polls: int = 3, continuation_ttl: float = 7 * 86400,
                 client_id: str | None = None, client_secret: str | None = None, api_token: str | None = None,
                 client_scopes: tuple[str, ...] = ALL_SCOPES):
        self.account = account
        self.page_size, self.token_lifetime, self.export_polls = page_size, token_lifetime, export_polls
        self.continuation_ttl = continuation_ttl
        self.client_id = client_id or f"sandbox-client-{seed}"
        self.client_secret = client_secret or secrets.token_hex(16)
        self.api_token = api_token or secrets.token_hex(20)
        self.client_scopes = client_scopes
        self.faults = Faults(seed)
        self.requests: list[RequestRecord] = []
        self.tokens: dict[str, tuple[float, tuple[str, ...]]] = {}  # bearer -> (expiry, scopes)
        self.jobs: dict[str, exports.ExportJob] = {}  # progressId -> job
        self.continuations: dict[str, tuple[str, datetime, float]] = {}  # token -> (survey, since, created)
        self.wrong_datacenter: str | None = None
        self.lock = threading.Lock()
        self.tmpdir = tempfile.mkdtemp(prefix="qualtrics-sandbox-")
        handler = type("Handler", (_Handler,), {"sandbox": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> "SandboxServer":
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), name="qualtrics-sandbox", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        for job in list(self.jobs.values()):
            job.done.wait(timeout=30)
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    # --- test hooks ------------------------------------------------------------------------

    def set_wrong_datacenter(self, host: str | None) -> None:
        """Act as the wrong datacenter: API tokens get proxied (notice), OAuth tokens get 401."""
        self.wrong_datacenter = host

    def issue_token(self, scopes: tuple[str, ...] | None = None, lifetime: float | None = None) -> str:
        """A bearer token without the OAuth round trip (for tests of scopes and expiry)."""
        token = secrets.token_urlsafe(32)
        life = self.token_lifetime if lifetime is None else lifetime
        self.tokens[token] = (time.monotonic() + life, tuple(scopes or self.client_scopes))
        return token

    # --- request handling ------------------------------------------------------------------

    def handle(self, h: "_Handler", method: str) -> None:
        h.body = None
        h.read_body()
        url = urllib.parse.urlsplit(h.path)
        path = url.path.rstrip("/") or "/"
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if path.startswith("/_sandbox"):
            return self._control(h, method, path, query)
        route, params, scope = "unknown", {}, None
        for m, pattern, name, sc in COMPILED:
            match = pattern.match(path)
            if match and m == method:
                route, params, scope = name, match.groupdict(), sc
                break
        auth = self._auth_kind(h, route)
        h.record = RequestRecord(method, url.path, route, None, auth)
        try:
            slow = self.faults.take(route, {"slow"})
            if slow:
                time.sleep(float(slow.params.get("delay", 1.0)))
            self._inject(route)
            if route == "unknown":
                raise ApiError(404, "The requested resource does not exist.", None)
            if route == "token":
                self._token(h)
                return
            scopes = self._authenticate(h, auth, route)
            if scope and scope not in scopes and "manage:all" not in scopes:
                raise ApiError(403, "The operation is forbidden.", "QMST_2.1")
            result = getattr(self, "_r_" + route)(h, query, **params)
            if result is not None:  # None: the route wrote its own response (file download)
                self._send_envelope(h, 200, {"result": result}, auth)
        except ApiError as err:
            meta_error = {"errorMessage": err.message}
            if err.code:
                meta_error["errorCode"] = err.code
            if err.status >= 500:
                meta_error["instanceId"] = str(uuid.uuid4())
            self._send_envelope(h, err.status, {"meta_error": meta_error}, auth, err.headers)
        except Dropped:
            self._log(h, None)
            h.close_connection = True

    def _log(self, h, status: int | None) -> None:
        """Log the request before answering it, so a client that got an answer finds it logged."""
        h.record.status = status
        with self.lock:
            self.requests.append(h.record)

    def _auth_kind(self, h, route) -> str:
        if route == "token":
            return "basic" if h.headers.get("Authorization", "").startswith("Basic ") else "none"
        if h.headers.get("X-API-TOKEN") is not None:
            return "api_token"
        if h.headers.get("Authorization", "").startswith("Bearer "):
            return "bearer"
        return "none"

    def _inject(self, route: str) -> None:
        fault = self.faults.take(route, {"drop", "429", "500", "503"})
        if fault is None:
            return
        if fault.kind == "drop":
            raise Dropped()
        if fault.kind == "429":
            retry = fault.params.get("retry_after", 1)
            headers = {} if retry is None else {"Retry-After": str(retry)}
            raise ApiError(429, "Too many requests. Please try again later.", "TMR_1", headers)
        code = int(fault.kind)
        raise ApiError(code, "Internal server error" if code == 500 else "Service temporarily unavailable",
                       "MSTC_1" if code == 500 else "SRV_1")

    def _authenticate(self, h, auth: str, route: str) -> tuple[str, ...]:
        if auth == "api_token":
            if h.headers.get("X-API-TOKEN") != self.api_token:
                raise ApiError(401, "Unrecognized X-API-TOKEN.", "DCD_7")
            return ("manage:all",)
        if auth == "bearer":
            token = h.headers["Authorization"][len("Bearer "):].strip()
            if self.wrong_datacenter:
                raise ApiError(401, "Invalid datacenter for this token. Use this host instead: "
                               f"{self.wrong_datacenter}", "DCD_7")
            entry = self.tokens.get(token)
            if entry is None:
                raise ApiError(401, "Invalid or expired access token.", "AUTH_6.0")
            if entry[0] <= time.monotonic() or self.faults.take(route, {"expire_token"}):
                self.tokens.pop(token, None)
                raise ApiError(401, "Invalid or expired access token.", "AUTH_6.0")
            return entry[1]
        raise ApiError(400, "Expected authorization in headers, but none provided.", "ATP_2")

    def _token(self, h) -> int:
        body = h.read_body().decode("utf-8", "replace")
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        header = h.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                client_id = None
        if client_id != self.client_id or secret != self.client_secret:
            return self._send_json(h, 401, {"error": "invalid_client", "error_description": "Invalid client credentials"})
        if form.get("grant_type") != "client_credentials":
            return self._send_json(h, 400, {"error": "unsupported_grant_type",
                                            "error_description": "grant_type must be client_credentials"})
        requested = tuple(form.get("scope", "").split()) or self.client_scopes
        if any(s not in KNOWN_SCOPES for s in requested):
            return self._send_json(h, 400, {"error": "invalid_scope", "error_description": "Unknown scope requested"})
        granted = tuple(s for s in requested if s in self.client_scopes or "manage:all" in self.client_scopes)
        token = self.issue_token(granted)
        return self._send_json(h, 200, {"access_token": token, "token_type": "Bearer",
                                        "expires_in": int(self.token_lifetime), "scope": " ".join(granted)})

    # --- responses -------------------------------------------------------------------------

    def _send_json(self, h, status: int, body: dict, headers: dict | None = None) -> int:
        data = json.dumps(body, ensure_ascii=False, default=_jsonable).encode("utf-8")
        self._log(h, status)
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)
        return status

    def _send_envelope(self, h, status: int, body: dict, auth: str, headers: dict | None = None) -> None:
        meta: dict = {"httpStatus": status_line(status)}
        if "meta_error" in body:
            meta["error"] = body.pop("meta_error")
        meta["requestId"] = str(uuid.uuid4())
        if self.wrong_datacenter and auth == "api_token":
            meta["notice"] = f"Request proxied. For faster response times, use this host instead: {self.wrong_datacenter}"
        body["meta"] = meta
        self._send_json(h, status, body, headers)

    def _page(self, h, query: dict, route: str, elements: list) -> dict:
        try:
            offset = int(query.get("offset", ["0"])[0])
            size = min(self.page_size, int(query.get("pageSize", [str(self.page_size)])[0]))
        except ValueError:
            raise ApiError(400, "offset and pageSize must be integers", "MSTC_1") from None
        if offset < 0 or size < 1:
            raise ApiError(400, "offset and pageSize must be positive", "MSTC_1")
        page = elements[offset:offset + size]
        next_page = None
        if len(page) == size:
            params = [(k, v) for k, vs in query.items() for v in vs if k not in ("offset", *PROXY_PARAMS)]
            base = self.base_url
            api_token = h.headers.get("X-API-TOKEN") is not None
            if self.wrong_datacenter and api_token:
                base = f"https://{self.wrong_datacenter}"
                params += list(PROXY_PARAMS.items())
            foreign = self.faults.take(route, {"foreign_next_page"})
            if foreign:
                base = foreign.params.get("base_url", "https://foreign.example.com")
            params.append(("offset", str(offset + size)))
            next_page = f"{base}{urllib.parse.urlsplit(h.path).path}?{urllib.parse.urlencode(params)}"
        return {"elements": page, "nextPage": next_page}

    def _survey(self, survey_id: str):
        try:
            return self.account.survey(survey_id)
        except KeyError:
            raise ApiError(404, "Survey not found.", "GSI_2") from None

    # --- API routes (return `result`, or None after writing the response themselves) ------

    def _r_whoami(self, h, query):
        return payloads.whoami(self.account.users[0])

    def _r_users(self, h, query):
        return self._page(h, query, "users", [payloads.user_list_element(u) for u in self.account.users])

    def _r_user(self, h, query, user_id):
        try:
            return payloads.user_detail(self.account.user(user_id))
        except StopIteration:
            raise ApiError(404, "User not found.", "GSI_2") from None

    def _r_surveys(self, h, query):
        with self.account.lock:
            elements = [payloads.survey_list_element(s) for s in self.account.surveys.values()]
        return self._page(h, query, "surveys", elements)

    def _r_survey(self, h, query, survey_id):
        with self.account.lock:
            return payloads.legacy_survey(self._survey(survey_id), self.account.response_counts(survey_id))

    def _r_definition(self, h, query, survey_id):
        fmt = query.get("format", ["json"])[0]
        with self.account.lock:
            survey = self._survey(survey_id)
            if fmt == "qsf":
                return payloads.qsf(survey)
            if fmt != "json":
                raise ApiError(400, f"Invalid format {fmt!r}", "MSTC_1")
            return payloads.definition(survey)

    def _r_questions(self, h, query, survey_id):
        with self.account.lock:
            survey = self._survey(survey_id)
            return {"elements": [payloads.question_definition(q, survey) for q in survey.questions.values()]}

    def _r_question(self, h, query, survey_id, qid):
        with self.account.lock:
            survey = self._survey(survey_id)
            if qid not in survey.questions:
                raise ApiError(404, "Question not found.", "QMST_2.2")
            return payloads.question_definition(survey.questions[qid], survey)

    def _r_metadata(self, h, query, survey_id):
        with self.account.lock:
            return payloads.metadata(self._survey(survey_id))

    def _r_export_start(self, h, query, survey_id):
        survey = self._survey(survey_id)
        raw = h.read_body()
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            raise ApiError(400, "Request body is not valid JSON.", "ESSG_1") from None
        try:
            req = exports.parse_request(body, survey)
        except exports.ExportError as err:
            raise ApiError(400, str(err), "ESSG_1") from None
        since = None
        if req.continuation_token:
            entry = self.continuations.get(req.continuation_token)
            if entry is None or entry[0] != survey_id:
                raise ApiError(400, "Invalid continuationToken: not issued for this survey.", "ESSG_1")
            if time.monotonic() - entry[2] > self.continuation_ttl:
                raise ApiError(400, "continuationToken has expired; run a full export.", "ESSG_1")
            since = entry[1]
        snap = self.account.snapshot(survey_id)
        job = exports.new_job(survey_id, survey.name, req, since,
                              req.allow_continuation or bool(req.continuation_token), self.export_polls)
        if job.issue_token:
            job.continuation_token = secrets.token_urlsafe(24)
            self.continuations[job.continuation_token] = (survey_id, snap.taken_at, time.monotonic())
        fault = self.faults.take("export_start", {"failed_export", "stuck_export"})
        job.fail = bool(fault and fault.kind == "failed_export")
        job.stuck = bool(fault and fault.kind == "stuck_export")
        self.jobs[job.progress_id] = job
        threading.Thread(target=exports.write_file, args=(job, snap, self.tmpdir), daemon=True).start()
        return {"progressId": job.progress_id, "percentComplete": 0.0, "status": "inProgress"}

    def _job(self, survey_id: str, progress_id: str) -> exports.ExportJob:
        job = self.jobs.get(progress_id)
        if job is None or job.survey_id != survey_id:
            raise ApiError(404, "Export not found.", "ESSG_2")
        return job

    def _r_export_progress(self, h, query, survey_id, progress_id):
        self._survey(survey_id)
        job = self._job(survey_id, progress_id)
        fault = self.faults.take("export_progress", {"failed_export", "stuck_export"})
        if fault:
            job.fail = job.fail or fault.kind == "failed_export"
            job.stuck = job.stuck or fault.kind == "stuck_export"
        return job.progress()

    def _r_export_file(self, h, query, survey_id, file_id):
        self._survey(survey_id)
        job = next((j for j in self.jobs.values() if j.file_id == file_id and j.survey_id == survey_id), None)
        if job is None or job.path is None or job.fail:
            raise ApiError(404, "File not found.", "ESSG_2")
        truncate = self.faults.take("export_file", {"truncate"})
        if job.request.compress:
            ctype = "application/zip"
            disposition = f"attachment; filename={urllib.parse.quote_plus(job.survey_name)}.zip"
        else:
            ctype = {"json": "application/json", "ndjson": "application/x-ndjson", "csv": "text/csv",
                     "tsv": "text/tab-separated-values"}[job.request.format]
            disposition = f"attachment; filename={urllib.parse.quote_plus(job.member_name)}"
        self._log(h, 200)
        h.send_response(200)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Disposition", disposition)
        h.send_header("Content-Length", str(job.size))
        h.end_headers()
        limit = job.size // 2 if truncate else job.size
        sent = 0
        with open(job.path, "rb") as f:
            while sent < limit:
                chunk = f.read(min(65536, limit - sent))
                if not chunk:
                    break
                h.wfile.write(chunk)
                sent += len(chunk)
        if truncate:
            h.wfile.flush()
            h.close_connection = True
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return None

    # --- control API (/_sandbox/...) -------------------------------------------------------

    def _control(self, h, method: str, path: str, query: dict) -> None:
        parts = path.split("/")[2:]
        try:
            body = json.loads(h.read_body() or b"{}") if method in ("POST", "DELETE") else {}
            result = self._control_dispatch(method, parts, body)
            status = 200
        except (KeyError, StopIteration, ValueError, TypeError) as err:
            result, status = {"error": f"{type(err).__name__}: {err}"}, 400
        h.record = RequestRecord(method, path, "control", None, "none")
        self._send_json(h, status, {"result": result})

    def _control_dispatch(self, method: str, parts: list[str], body: dict):
        acct = self.account
        match (method, parts):
            case ("GET", ["state"]):
                return {"base_url": self.base_url, "surveys": list(acct.surveys), "users": [u.id for u in acct.users]}
            case ("GET", ["requests"]):
                return [r.__dict__ for r in self.requests]
            case ("POST", ["faults"]):
                params = {k: v for k, v in body.items() if k not in ("route", "kind", "times")}
                self.faults.add(body["route"], body["kind"], body.get("times"), **params)
                return {"faults": len(self.faults.faults)}
            case ("DELETE", ["faults"]):
                self.faults.clear()
                return {"faults": 0}
            case ("POST", ["wrong-datacenter"]):
                self.set_wrong_datacenter(body.get("host"))
                return {"host": self.wrong_datacenter}
            case ("POST", ["surveys"]):
                return {"surveyId": acct.add_survey(int(body.get("responses", 0)), body.get("name"))}
            case ("GET", ["surveys", sid, "response-ids"]):
                return acct.response_ids(sid)
            case ("POST", ["surveys", sid, "responses"]):
                return {"responseIds": acct.add_responses(sid, int(body.get("count", 1)))}
            case ("POST", ["surveys", sid, "responses", "edit"]):
                acct.edit_responses(sid, body["responseIds"])
                return {"edited": len(body["responseIds"])}
            case ("POST", ["surveys", sid, "responses", "delete"]):
                acct.delete_responses(sid, body["responseIds"])
                return {"deleted": len(body["responseIds"])}
            case ("POST", ["surveys", sid, "questions"]):
                return {"questionId": acct.add_question(sid)}
            case ("POST", ["surveys", sid, "recode"]):
                acct.set_recode(sid, body["questionId"], body["optionId"], body["recode"])
                return {"ok": True}
            case ("GET", ["surveys", sid, "ground-truth"]):
                return acct.ground_truth(sid)
            case ("GET", ["ground-truth", "users"]):
                return acct.ground_truth_users()
            case ("GET", ["ground-truth", "surveys"]):
                return acct.ground_truth_surveys()
        raise KeyError(f"no control route {method} /_sandbox/{'/'.join(parts)}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sandbox: SandboxServer
    record: RequestRecord

    body: bytes | None = None

    def read_body(self) -> bytes:
        """The request body, read once (always drained so keep-alive connections stay in sync)."""
        if self.body is None:
            length = self.headers.get("Content-Length")
            self.body = self.rfile.read(int(length)) if length else b""
        return self.body

    def do_GET(self) -> None:
        self.sandbox.handle(self, "GET")

    def do_POST(self) -> None:
        self.sandbox.handle(self, "POST")

    def do_DELETE(self) -> None:
        self.sandbox.handle(self, "DELETE")

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - silence stderr; see server.requests
        pass

