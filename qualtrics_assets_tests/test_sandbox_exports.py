"""Response exports, control operations, ground truth consistency, determinism and memory."""

import csv
import io
import json
import zipfile
from datetime import datetime, timedelta

import psutil
import pytest
import requests

from qualtrics_assets_tests.sandbox import Sandbox
from qualtrics_assets_tests.sandbox.generator import iso_ms
from qualtrics_assets_tests.sandbox.testkit import export_records, run_export

META_KEYS = {"startDate", "endDate", "status", "ipAddress", "progress", "duration", "finished", "recordedDate",
             "_recordId", "locationLatitude", "locationLongitude", "distributionChannel", "userLanguage",
             "recipientLastName", "recipientFirstName", "recipientEmail", "externalDataReference", "_lastModifiedDate"}


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=7, surveys=5, responses=60, export_polls=1) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def h(sb):
    return {"X-API-TOKEN": sb.api_token}


def test_default_account_covers_every_type_and_an_empty_survey(sb):
    sizes = [sb.account.response_counts(s)["auditable"] for s in sb.survey_ids]
    assert 0 in sizes
    names = [sb.account.survey(s).name for s in sb.survey_ids]
    assert any(n.isdigit() for n in names) and any("/" in n and ":" in n for n in names)
    assert any(not n.isascii() for n in names)
    gt = sb.account.ground_truth(sb.survey_ids[0])
    kinds = {(q["question_type"], q["selector"]) for q in gt["questions"]}
    assert kinds >= {("MC", "SAVR"), ("MC", "MAVR"), ("Matrix", "Likert"), ("TE", "SL"), ("TE", "ML"), ("TE", "FORM"),
                     ("Slider", "HSLIDER"), ("MC", "NPS"), ("RO", "DND"), ("SBS", "SBSMatrix"), ("DB", "TB")}
    assert any(q["is_in_trash"] for q in gt["questions"]) and any(q["has_display_logic"] for q in gt["questions"])
    assert any(q["loop_block"] for q in gt["questions"]) and any(q["parent_question_id"] for q in gt["questions"])
    assert any(o["allows_text_entry"] for o in gt["question_options"])
    assert any(o["is_exclusive"] for o in gt["question_options"])
    assert any(o["recode_value"] != o["option_id"] for o in gt["question_options"])


def test_empty_survey_exports_nothing(sb, h):
    empty = next(s for s in sb.survey_ids if sb.account.response_counts(s)["auditable"] == 0)
    assert export_records(sb.base_url, empty, {"format": "json"}, h) == []
    assert export_records(sb.base_url, empty, {"format": "ndjson", "compress": False}, h) == []


def _flatten(records):
    """(responseId, field, index) -> value for every answer key of JSON export records."""
    out = {}
    for rec in records:
        for k, v in rec["values"].items():
            if k in META_KEYS or k.split("_")[0] in ("panel", "wave") or k == "Customer ID":
                continue
            for i, x in enumerate(v if isinstance(v, list) else [v]):
                out[(rec["responseId"], k, i)] = str(x)
    return out


def test_ground_truth_matches_json_export(sb, h):
    sid = sb.survey_ids[0]
    gt = sb.account.ground_truth(sid)
    records = export_records(sb.base_url, sid, {"format": "json"}, h)
    assert [r["responseId"] for r in records] == [r["response_id"] for r in gt["responses"]]
    assert _flatten(records) == {(a["response_id"], a["field"], a["answer_index"]): a["value_code"] for a in gt["answers"]}
    emb = {(r["responseId"], k) for r in records for k in r["values"] if k in ("panel", "wave", "Customer ID")}
    assert emb == {(e["response_id"], e["key"]) for e in gt["embedded_data"]}
    first, row = records[0], gt["responses"][0]
    assert first["values"]["recordedDate"] == iso_ms(row["recorded_date"])
    assert first["labels"]["status"] == row["status_label"] and bool(first["values"]["finished"]) == row["finished"]
    # types per qualtrics-api.md §8d
    multi = [v for r in records for k, v in r["values"].items() if isinstance(v, list)]
    assert multi and all(isinstance(x, str) for v in multi for x in v)
    assert all(r["values"]["finished"] in (0, 1) for r in records)
    assert all(len(r["values"]["recordedDate"]) == 24 and len(r["values"]["startDate"]) == 20 for r in records)
    assert any("ipAddress" not in r["values"] for r in records) and any("ipAddress" in r["values"] for r in records)
    assert any(k.startswith("2_QID") for r in records for k in r["values"])
    assert any("#" in k for r in records for k in r["values"])


def test_ground_truth_text_rule_consistent_with_html(sb):
    """Each *_text is the HTML with tags stripped, entities unescaped, breaks as spaces, whitespace collapsed."""
    from qualtrics_assets.normalize.text import html_to_text

    gt = sb.account.ground_truth(sb.survey_ids[2])
    pairs = [(q["question_text_html"], q["question_text"]) for q in gt["questions"]]
    pairs += [(o["option_text_html"], o["option_text"]) for o in gt["question_options"]]
    pairs += [(s["sub_question_text_html"], s["sub_question_text"]) for s in gt["sub_questions"]]
    assert any("<br>" in h or "<div>" in h for h, _ in pairs) and any("&amp;" in h for h, _ in pairs)
    assert [html_to_text(h) for h, _ in pairs] == [t for _, t in pairs]


def test_ndjson_and_csv_agree_with_json(sb, h):
    sid = sb.survey_ids[3]
    js = export_records(sb.base_url, sid, {"format": "json"}, h)
    nd = export_records(sb.base_url, sid, {"format": "ndjson"}, h)
    assert js == nd
    data, _ = run_export(sb.base_url, sid, {"format": "csv", "useLabels": True}, h)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        (member,) = zf.namelist()
        assert member == sb.account.survey(sid).name + ".csv"
        rows = list(csv.reader(io.StringIO(zf.read(member).decode("utf-8"))))
    assert rows[0][:3] == ["StartDate", "EndDate", "Status"] and rows[1][2] == "Response Type"
    assert json.loads(rows[2][0]) == {"ImportId": "startDate", "timeZone": "Z"}
    assert len(rows) == 3 + len(js)
    assert [r[rows[0].index("ResponseId")] for r in rows[3:]] == [r["responseId"] for r in js]
    assert {r[rows[0].index("Finished")] for r in rows[3:]} <= {"True", "False"}


def test_date_window_limit_and_field_filters(sb, h):
    sid = sb.survey_ids[0]
    gt = sb.account.ground_truth(sid)["responses"]
    lo, hi = gt[10]["recorded_date"], gt[20]["recorded_date"]
    body = {"format": "json", "startDate": iso_ms(lo), "endDate": iso_ms(hi).replace("Z", "+00:00")}
    got = [r["responseId"] for r in export_records(sb.base_url, sid, body, h)]
    assert got == [r["response_id"] for r in gt if lo <= r["recorded_date"] < hi]
    assert got[0] == gt[10]["response_id"] and gt[20]["response_id"] not in got
    limited = export_records(sb.base_url, sid, {"format": "json", "limit": 7}, h)
    assert [r["responseId"] for r in limited] == [r["response_id"] for r in gt[:7]]
    only = export_records(sb.base_url, sid, {"format": "json", "questionIds": ["QID2"], "embeddedDataIds": [],
                                             "surveyMetadataIds": ["recordedDate"]}, h)
    keys = {k for r in only for k in r["values"]}
    assert keys <= {"recordedDate", "QID2", "QID2_5_TEXT"} and "QID2" in keys


@pytest.mark.parametrize("body,needle", [
    ({"format": "json", "useLabels": True}, "useLabels"),
    ({"format": "ndjson", "timeZone": "UTC"}, "timeZone"),
    ({"format": "parquet"}, "format"),
    ({}, "format"),
    ({"format": "json", "limit": 0}, "limit"),
    ({"format": "json", "startDate": "yesterday"}, "startDate"),
    ({"format": "json", "questionIds": ["QID999"]}, "QID999"),
    ({"format": "json", "bogus": 1}, "bogus"),
    ({"format": "json", "continuationToken": "nope"}, "continuationToken"),
    ({"format": "json", "continuationToken": "x", "allowContinuation": True}, "not both"),
])
def test_export_400s(sb, h, body, needle):
    r = requests.post(f"{sb.base_url}/API/v3/surveys/{sb.survey_ids[0]}/export-responses", json=body, headers=h,
                      timeout=10)
    assert r.status_code == 400 and r.json()["meta"]["httpStatus"] == "400 - Bad Request"
    assert needle in r.json()["meta"]["error"]["errorMessage"]


def test_malformed_body_is_400(sb, h):
    r = requests.post(f"{sb.base_url}/API/v3/surveys/{sb.survey_ids[0]}/export-responses", data=b"{not json",
                      headers=h | {"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 400


def test_in_progress_export(sb, h):
    sid = sb.survey_ids[0]
    records = export_records(sb.base_url, sid, {"format": "json", "exportResponsesInProgress": True}, h)
    assert records and all(r["responseId"].startswith("FS_") for r in records)
    assert all("recordedDate" not in r["values"] and r["values"]["finished"] == 0 for r in records)
    assert not {r["responseId"] for r in records} & {r["response_id"] for r in sb.account.ground_truth(sid)["responses"]}


def test_control_changes_continuation_and_last_modified():
    with Sandbox(seed=21, survey_sizes=[30], export_polls=1) as sb:
        h = {"X-API-TOKEN": sb.api_token}
        sid = sb.survey_ids[0]
        data, first = run_export(sb.base_url, sid, {"format": "json", "allowContinuation": True}, h)
        token = first["continuationToken"]
        ids = sb.account.response_ids(sid)
        added = sb.account.add_responses(sid, 3)
        sb.account.edit_responses(sid, ids[:2])
        sb.account.delete_responses(sid, ids[5:9])
        data, second = run_export(sb.base_url, sid, {"format": "json", "continuationToken": token}, h)
        got = [r["responseId"] for r in json.loads(zipfile.ZipFile(io.BytesIO(data)).read(
            zipfile.ZipFile(io.BytesIO(data)).namelist()[0]))["responses"]]
        assert sorted(got) == sorted(added + ids[:2])
        assert second["continuationToken"] != token
        full = export_records(sb.base_url, sid, {"format": "json"}, h)
        assert {r["responseId"] for r in full} == set(ids) - set(ids[5:9]) | set(added)
        meta = requests.get(f"{sb.base_url}/API/v3/surveys/{sid}", headers=h, timeout=10).json()["result"]
        assert meta["responseCounts"] == {"auditable": 29, "generated": 0, "deleted": 4}
        by_mod = export_records(sb.base_url, sid, {"format": "json", "sortByLastModifiedDate": True}, h)
        mods = [r["values"]["_lastModifiedDate"] for r in by_mod]
        assert mods == sorted(mods) and {r["responseId"] for r in by_mod[-5:]} == set(added + ids[:2])
        gt = {r["response_id"]: r for r in sb.account.ground_truth(sid)["responses"]}
        assert all(r["values"]["_lastModifiedDate"] == iso_ms(gt[r["responseId"]]["last_modified_date"]) for r in by_mod)
        window = export_records(sb.base_url, sid, {"format": "json", "sortByLastModifiedDate": True,
                                                   "startDate": mods[-5]}, h)
        assert {r["responseId"] for r in window} == set(added + ids[:2])


def test_continuation_token_expires():
    with Sandbox(seed=22, survey_sizes=[3], export_polls=1, continuation_ttl=0.0) as sb:
        h = {"X-API-TOKEN": sb.api_token}
        sid = sb.survey_ids[0]
        _, result = run_export(sb.base_url, sid, {"format": "json", "allowContinuation": True}, h)
        r = requests.post(f"{sb.base_url}/API/v3/surveys/{sid}/export-responses",
                          json={"format": "json", "continuationToken": result["continuationToken"]}, headers=h, timeout=10)
        assert r.status_code == 400 and "expired" in r.json()["meta"]["error"]["errorMessage"]


def test_definition_changes_bump_last_modified():
    with Sandbox(seed=23, survey_sizes=[5], export_polls=1) as sb:
        h = {"X-API-TOKEN": sb.api_token}
        sid = sb.survey_ids[0]
        before = requests.get(f"{sb.base_url}/API/v3/survey-definitions/{sid}", headers=h, timeout=10).json()["result"]
        qid = sb.account.add_question(sid)
        sb.account.set_recode(sid, "QID2", "1", "77")
        after = requests.get(f"{sb.base_url}/API/v3/survey-definitions/{sid}", headers=h, timeout=10).json()["result"]
        assert after["LastModified"] > before["LastModified"] and qid in after["Questions"]
        assert after["Questions"]["QID2"]["RecodeValues"]["1"] == "77"
        listed = requests.get(f"{sb.base_url}/API/v3/surveys", headers=h, timeout=10).json()["result"]["elements"][0]
        legacy = requests.get(f"{sb.base_url}/API/v3/surveys/{sid}", headers=h, timeout=10).json()["result"]
        assert listed["lastModified"] == legacy["lastModifiedDate"] == after["LastModified"]
        new = sb.account.add_responses(sid, 4)
        records = export_records(sb.base_url, sid, {"format": "json"}, h)
        assert not any(qid in r["values"] for r in records if r["responseId"] not in new)
        assert any(qid in r["values"] for r in records if r["responseId"] in new)
        opts = [o for o in sb.account.ground_truth(sid)["question_options"] if o["question_id"] == "QID2"]
        assert {o["option_id"]: o["recode_value"] for o in opts}["1"] == "77"


def test_determinism_for_a_seed():
    def snapshot(seed):
        with Sandbox(seed=seed, surveys=2, responses=15, export_polls=1) as sb:
            h = {"X-API-TOKEN": sb.api_token}
            surveys = requests.get(f"{sb.base_url}/API/v3/surveys", headers=h, timeout=10).json()["result"]
            d = requests.get(f"{sb.base_url}/API/v3/survey-definitions/{sb.survey_ids[0]}", headers=h, timeout=10)
            return surveys, d.json()["result"], export_records(sb.base_url, sb.survey_ids[0], {"format": "json"}, h)
    assert snapshot(31) == snapshot(31)
    assert snapshot(31)[2] != snapshot(32)[2]


def test_streamed_export_keeps_memory_bounded():
    """50k responses exported and downloaded: the server process grows by far less than the file."""
    proc = psutil.Process()
    with Sandbox(seed=4, survey_sizes=[50_000], export_polls=1) as sb:
        h = {"X-API-TOKEN": sb.api_token}
        base = proc.memory_info().rss
        api = f"{sb.base_url}/API/v3/surveys/{sb.survey_ids[0]}/export-responses"
        pid = requests.post(api, json={"format": "ndjson", "compress": False}, headers=h, timeout=10).json()["result"]["progressId"]
        deadline = datetime.now() + timedelta(seconds=120)
        while (res := requests.get(f"{api}/{pid}", headers=h, timeout=10).json()["result"])["status"] != "complete":
            assert datetime.now() < deadline
        size = lines = 0
        with requests.get(f"{api}/{res['fileId']}/file", headers=h, stream=True, timeout=60) as r:
            for chunk in r.iter_content(1 << 16):
                size += len(chunk)
                lines += chunk.count(b"\n")
        growth = proc.memory_info().rss - base
    assert lines == 50_000 and size > 50 * 2**20
    assert growth < 40 * 2**20, f"server grew {growth / 2**20:.0f} MiB for a {size / 2**20:.0f} MiB export"
