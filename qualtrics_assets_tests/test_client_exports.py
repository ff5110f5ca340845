"""Response exports over real HTTP: records, formats, windows, continuation, failures, temp files."""

from __future__ import annotations

import os
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from qualtrics_assets.qualtrics import (
    ConfigError,
    ExportDownloadError,
    ExportError,
    ExportFailedError,
    ExportTimeoutError,
    date_windows,
    format_export_date,
)
from qualtrics_assets_tests.sandbox import Sandbox
from qualtrics_assets_tests.test_client import FAST, _fresh_tokens, make_client, route_log, statuses  # noqa: F401


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=13, surveys=3, responses=60) as sandbox:  # sizes 60, 0, 22
        yield sandbox


@pytest.fixture(autouse=True)
def _clear(sb):
    sb.faults.clear()
    yield
    sb.faults.clear()


def recorded_dates(sb, sid):
    snap = sb.account.snapshot(sid)
    return [(snap.response(i).response_id, snap.recorded(i).replace(tzinfo=timezone.utc)) for i in snap.indices()]


def test_export_records_match_ground_truth(sb):
    sid = sb.survey_ids[0]
    client = make_client(sb)
    with client.export_responses(sid) as export:
        records = list(export.records())
        assert export.progress_id.startswith("ES_") and export.file_id.endswith("-def")
        assert export.file_size > 0 and export.continuation_token is None
        tmpdir = export.tmpdir
        assert os.listdir(tmpdir)
        again = [r["responseId"] for r in export.records()]  # re-iterable from the temp file
    assert [r["responseId"] for r in records] == sb.account.response_ids(sid) == again
    assert all({"responseId", "values", "labels"} <= set(r) for r in records)
    assert not os.path.exists(tmpdir)  # removed on exit
    with pytest.raises(ExportError, match="not open"):
        next(export.records())


def test_empty_survey_exports_zero_records(sb):
    client = make_client(sb)
    with client.export_responses(sb.survey_ids[1]) as export:
        assert list(export.records()) == []


@pytest.mark.parametrize(("fmt", "compress"), [("json", True), ("ndjson", False), ("json", False)])
def test_other_formats_give_the_same_records(sb, fmt, compress):
    sid = sb.survey_ids[2]
    client = make_client(sb)
    with client.export_responses(sid) as reference:
        expected = list(reference.records())
    with client.export_responses(sid, format=fmt, compress=compress) as export:
        assert list(export.records()) == expected


def test_csv_export_is_downloaded_as_a_file(sb):
    client = make_client(sb)
    with client.export_responses(sb.survey_ids[2], format="csv") as export:
        [(name, fh)] = list(export.open_files())
        assert name.endswith(".csv")
    with client.export_responses(sb.survey_ids[2], format="csv") as export:
        with pytest.raises(ConfigError):
            list(export.records())


def test_csv_only_options_rejected_before_any_request(sb):
    client = make_client(sb)
    before = len(sb.requests)
    with pytest.raises(ConfigError, match="useLabels"):
        client.export_responses(sb.survey_ids[0], options={"useLabels": True})
    with pytest.raises(ConfigError, match="before"):
        client.export_responses(sb.survey_ids[0], start_date="2024-02-01T00:00:00Z", end_date="2024-01-01T00:00:00Z")
    assert len(sb.requests) == before


def test_date_window_start_inclusive_end_exclusive(sb):
    sid = sb.survey_ids[0]
    dates = recorded_dates(sb, sid)
    lo, hi = dates[10][1], dates[30][1]
    expected = [rid for rid, d in dates if lo <= d < hi]
    client = make_client(sb)
    with client.export_responses(sid, start_date=lo, end_date=hi) as export:
        ids = [r["responseId"] for r in export.records()]
    assert ids == expected and ids[0] == dates[10][0] and dates[30][0] not in ids


def test_windowed_iteration_covers_everything_once(sb):
    sid = sb.survey_ids[0]
    dates = recorded_dates(sb, sid)
    start = dates[0][1].replace(microsecond=0)
    end = dates[-1][1] + timedelta(seconds=1)
    step = (end - start) / 4 + timedelta(seconds=1)
    client = make_client(sb)
    ids = [r["responseId"] for r in client.iter_responses(sid, start, end, window=step)]
    assert ids == [rid for rid, _ in dates]
    assert client.stats.exports == len(date_windows(start, end, step)) == 4


def test_continuation_token_returns_only_new_responses():
    with Sandbox(seed=17, surveys=1, responses=12) as sb:
        sid = sb.survey_ids[0]
        client = make_client(sb)
        with client.export_responses(sid, allow_continuation=True) as first:
            assert len(list(first.records())) == 12
            token = first.continuation_token
        assert token
        added = sb.account.add_responses(sid, 3)
        with client.export_responses(sid, continuation_token=token, allow_continuation=True) as second:
            ids = [r["responseId"] for r in second.records()]
            assert second.continuation_token and second.continuation_token != token
        assert ids == added


def test_in_progress_and_last_modified_options(sb):
    sid = sb.survey_ids[0]
    client = make_client(sb)
    with client.export_responses(sid, in_progress=True) as export:
        records = list(export.records())
    assert records and all(r["responseId"].startswith("FS_") for r in records)
    with client.export_responses(sid, sort_by_last_modified=True) as export:
        records = list(export.records())
    assert records and all("_lastModifiedDate" in r["values"] for r in records)


def test_failed_export_names_survey_and_request_id(sb):
    sid = sb.survey_ids[0]
    client = make_client(sb, export_restarts=1)
    start = len(sb.requests)
    sb.faults.add("export_start", "failed_export")
    with pytest.raises(ExportFailedError) as info:
        with client.export_responses(sid):
            pass
    err = info.value
    assert err.survey_id == sid and err.request_id and err.progress_id.startswith("ES_")
    assert sid in str(err) and err.request_id in str(err) and "failed" in str(err)
    assert len(route_log(sb, "export_start", start)) == 2  # started afresh once, then gave up
    assert not route_log(sb, "export_file", start)


def test_failed_once_is_restarted(sb):
    sid = sb.survey_ids[2]
    client = make_client(sb, export_restarts=1)
    sb.faults.add("export_start", "failed_export", times=1)
    with client.export_responses(sid) as export:
        assert [r["responseId"] for r in export.records()] == sb.account.response_ids(sid)
    assert client.stats.exports == 2


def test_stuck_export_times_out(sb):
    sid = sb.survey_ids[0]
    client = make_client(sb, export_timeout_s=0.3, poll_initial_s=0.02, poll_max_s=0.05)
    start = len(sb.requests)
    sb.faults.add("export_start", "stuck_export", times=1)
    with pytest.raises(ExportTimeoutError) as info:
        with client.export_responses(sid):
            pass
    err = info.value
    assert err.survey_id == sid and err.progress_id.startswith("ES_") and "inProgress" in str(err)
    polls = len(route_log(sb, "export_progress", start))
    assert 3 <= polls <= 16 and err.polls == polls  # backoff between polls, not a busy loop


def test_truncated_download_is_fetched_again(sb):
    sid = sb.survey_ids[0]
    client = make_client(sb)
    start = len(sb.requests)
    sb.faults.add("export_file", "truncate", times=2)
    with client.export_responses(sid) as export:
        ids = [r["responseId"] for r in export.records()]
    assert ids == sb.account.response_ids(sid)
    assert statuses(sb, "export_file", start) == Counter({200: 3})


def test_always_truncated_download_fails_clearly_and_cleans_up(sb, tmp_path):
    sid = sb.survey_ids[0]
    client = make_client(sb, download_attempts=3, temp_dir=str(tmp_path))
    sb.faults.add("export_file", "truncate")
    with pytest.raises(ExportDownloadError) as info:
        with client.export_responses(sid):
            pass
    err = info.value
    assert err.survey_id == sid and "incomplete" in str(err) and "3 download attempts" in str(err)
    assert list(tmp_path.iterdir()) == []  # temp dir removed on error


def test_temp_files_removed_when_the_consumer_fails(sb, tmp_path):
    client = make_client(sb, temp_dir=str(tmp_path))
    with pytest.raises(RuntimeError):
        with client.export_responses(sb.survey_ids[0]) as export:
            for _ in export.records():
                raise RuntimeError("consumer broke")
    assert list(tmp_path.iterdir()) == []


def test_export_dates_are_formatted_as_utc():
    assert format_export_date(datetime(2024, 1, 31)) == "2024-01-31T00:00:00Z"
    assert format_export_date(datetime(2024, 1, 31, 1, 2, 3, 456789, tzinfo=timezone.utc)) == "2024-01-31T01:02:03.456Z"
    cet = timezone(timedelta(hours=1))
    assert format_export_date(datetime(2024, 1, 31, 1, 0, tzinfo=cet)) == "2024-01-31T00:00:00Z"
    assert format_export_date("2024-01-31T00:00:00-07:00") == "2024-01-31T00:00:00-07:00"
    with pytest.raises(ConfigError):
        format_export_date("last tuesday")


def test_json_array_scanner_survives_any_chunk_boundary():
    import io
    import json

    from qualtrics_assets.qualtrics.exports import _iter_json_responses

    docs = [{"responseId": f"R_{i}", "values": {"QID1_TEXT": "a, ] } \\\" [ {" * i, "n": [i, {"x": None}]}}
            for i in range(7)]
    raw = json.dumps({"responses": docs}, indent=1).encode()
    for chunk in (1, 3, 7, 64, 1 << 20):
        got = list(_iter_json_responses(io.BufferedReader(io.BytesIO(raw)), "SV_x", "m", chunk_chars=chunk))
        assert got == docs
    with pytest.raises(ExportDownloadError):
        list(_iter_json_responses(io.BufferedReader(io.BytesIO(raw[:-40])), "SV_x", "m", chunk_chars=16))


# ############################################################################################
# exports refused for size are split into date windows
# (the sandbox has no "too large" fault, so a small loopback server plays Qualtrics here)
# ############################################################################################


class _TooLargeServer:
    """Refuses exports whose window is wider than `max_span` (or open) with Qualtrics' 400 envelope."""

    def __init__(self, dates: list[datetime], max_span: timedelta) -> None:
        import io
        import json
        import threading
        import zipfile
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.dates, self.max_span, self.starts = dates, max_span, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _send(self, status, body, ctype="application/json"):
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # noqa: N802
                path = self.path.split("?")[0]
                meta = {"httpStatus": "200 - OK", "requestId": "rq"}
                if path.endswith("/file"):
                    lo, hi = outer.windows[path.split("/")[-2]]
                    lines = "".join(json.dumps({"responseId": f"R_{i}", "values": {"recordedDate": d.isoformat()}})
                                    + "\n" for i, d in enumerate(outer.dates) if lo <= d < hi)
                    buf = io.BytesIO()
                    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                        zf.writestr("Big Survey.json", lines)
                    return self._send(200, buf.getvalue(), "application/zip")
                if "/export-responses/" in path:
                    pid = path.split("/")[-1]
                    return self._send(200, {"result": {"status": "complete", "percentComplete": 100.0,
                                                       "fileId": f"{pid[3:]}-def"}, "meta": meta})
                return self._send(200, {"result": {"id": "SV_big1", "creationDate": "2024-01-01T00:00:00Z"},
                                        "meta": meta})

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                lo = body.get("startDate")
                hi = body.get("endDate")
                outer.starts.append((lo, hi))
                lo_d = datetime.fromisoformat(lo.replace("Z", "+00:00")) if lo else None
                hi_d = datetime.fromisoformat(hi.replace("Z", "+00:00")) if hi else None
                if lo_d is None or hi_d is None or hi_d - lo_d > outer.max_span:
                    return self._send(400, {"meta": {"httpStatus": "400 - Bad Request", "requestId": "rq", "error": {
                        "errorMessage": "Export too large: the file would exceed the maximum size of 1.8 GB.",
                        "errorCode": "ESSG_9"}}})
                pid = f"ES_{len(outer.starts)}"
                outer.windows[f"{len(outer.starts)}-def"] = (lo_d, hi_d)
                return self._send(200, {"result": {"progressId": pid, "percentComplete": 0.0,
                                                   "status": "inProgress"}, "meta": {"requestId": "rq"}})

            def log_message(self, *args):
                pass

        self.windows: dict[str, tuple[datetime, datetime]] = {}
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_export_too_large_is_split_into_date_windows():
    from qualtrics_assets.qualtrics import QualtricsClient

    base = datetime(2024, 1, 1, tzinfo=timezone.utc)
    dates = [base + timedelta(hours=7 * i, seconds=i) for i in range(100)]  # about 29 days
    server = _TooLargeServer(dates, max_span=timedelta(days=5))
    try:
        client = QualtricsClient(server.base_url, api_token="t" * 40, **FAST, min_export_window_s=3600)
        end = base + timedelta(days=40)
        with client.export_responses("SV_big1", start_date=base, end_date=end) as export:
            ids = [r["responseId"] for r in export.records()]
            assert export.split and len(export.parts) >= 8
            assert export.continuation_token is None
        assert ids == [f"R_{i}" for i in range(100)]  # every response once, in date order
        accepted = [w for w in server.starts if w in {(format_export_date(lo), format_export_date(hi))
                                                      for lo, hi in server.windows.values()}]
        assert len(accepted) == len(export.parts)
        # an open-ended export is bounded by the survey's creation date and now
        server.max_span = timedelta(days=400)
        with client.export_responses("SV_big1") as export:
            assert [r["responseId"] for r in export.records()] == ids
    finally:
        server.close()
