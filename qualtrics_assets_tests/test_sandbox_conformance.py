"""Emulated payloads have the envelope, keys and value types of the recorded real ones."""

import csv
import io
import json
import urllib.parse
import zipfile
from pathlib import Path

import pytest
import requests

from qualtrics_assets_tests.sandbox import Sandbox
from qualtrics_assets_tests.sandbox.testkit import shape_diff

REC = Path(__file__).parent / "fixtures" / "recorded"


def recorded(name: str):
    return json.loads((REC / name).read_text())


@pytest.fixture(scope="module")
def sb():
    with Sandbox(seed=11, surveys=5, responses=20, export_polls=2) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def headers(sb):
    return {"X-API-TOKEN": sb.api_token}


def get(sb, headers, path):
    r = requests.get(sb.base_url + path, headers=headers, timeout=10)
    return r.status_code, r.json()


def test_surveys_list_matches_recording(sb, headers):
    status, body = get(sb, headers, "/API/v3/surveys")
    assert status == 200
    assert shape_diff(recorded("sandbox_surveys_list.json"), body) == []
    assert body["meta"]["httpStatus"] == "200 - OK"


def test_legacy_get_survey_matches_recording(sb, headers):
    status, body = get(sb, headers, f"/API/v3/surveys/{sb.survey_ids[0]}/")
    assert status == 200
    # the recorded survey has no matrix: subQuestions (as in ropensci column_map.yml) is the tolerated extra
    diffs = shape_diff(recorded("sandbox_survey_legacy.json"), body, tolerate=frozenset({"subQuestions", "subQuestion"}))
    assert diffs == []
    assert set(body["result"]["responseCounts"]) == {"auditable", "generated", "deleted"}


def test_survey_definition_matches_recording(sb, headers):
    status, body = get(sb, headers, f"/API/v3/survey-definitions/{sb.survey_ids[0]}/")
    assert status == 200
    real = recorded("sandbox_survey_definition.json")
    # Keys our richer survey has and the recorded one happens not to (matrix, SBS, loop & merge, …)
    tolerate = frozenset({"Looping", "LoopingOptions", "TextEntry", "ExclusiveAnswer", "Answers", "AnswerOrder",
                          "AdditionalQuestions", "CustomStyles"})  # CustomStyles: theme CSS, we send {}
    diffs = shape_diff(real, body, tolerate=tolerate)
    assert diffs == []
    # every recorded result key is emitted (SurveyFlow included, compared below by structure)
    assert set(real["result"]) <= set(body["result"])
    flow = body["result"]["SurveyFlow"]
    assert flow["Type"] == "Root" and flow["FlowID"] == "FL_1" and isinstance(flow["Flow"], list)
    nested = [e for g in flow["Flow"] for e in g.get("Flow", [])]
    assert any(e["Type"] == "EmbeddedData" and e["EmbeddedData"] for e in nested)


def test_questions_recorded_keys_present_for_same_type(sb, headers):
    """Our MC/SAVR question carries every key of the recorded MC/SAVR question QID16."""
    _, body = get(sb, headers, f"/API/v3/survey-definitions/{sb.survey_ids[0]}/questions")
    real_q = recorded("sandbox_survey_definition.json")["result"]["Questions"]["QID16"]
    ours = [q for q in body["result"]["elements"] if q["Selector"] == "SAVR"]
    assert ours
    tolerate = frozenset({"RecodeValues", "DisplayLogic", "LabelPosition", "TextEntry"})
    for q in ours:
        assert shape_diff(real_q, q, tolerate=tolerate) == []
    assert "nextPage" not in body["result"]


def test_export_flow_matches_recording(sb, headers):
    api = f"{sb.base_url}/API/v3/surveys/{sb.survey_ids[0]}/export-responses"
    start = requests.post(api, json={"format": "csv"}, headers=headers, timeout=10)
    assert start.status_code == 200
    assert shape_diff(recorded("sandbox_export_start.json"), start.json()) == []
    pid = start.json()["result"]["progressId"]
    assert pid.startswith("ES_")
    first = requests.get(f"{api}/{pid}", headers=headers, timeout=10).json()
    assert shape_diff(recorded("sandbox_export_progress_inprogress.json"), first) == []
    for _ in range(20):
        last = requests.get(f"{api}/{pid}", headers=headers, timeout=10).json()
        if last["result"]["status"] == "complete":
            break
    assert shape_diff(recorded("sandbox_export_progress_complete.json"), last) == []
    file_id = last["result"]["fileId"]
    assert file_id.endswith("-def") and file_id != pid
    resp = requests.get(f"{api}/{file_id}/file", headers=headers, timeout=10)
    assert resp.headers["Content-Type"] == "application/zip"
    name = sb.account.survey(sb.survey_ids[0]).name
    assert resp.headers["Content-Disposition"] == f"attachment; filename={urllib.parse.quote_plus(name)}.zip"
    ours = zipfile.ZipFile(io.BytesIO(resp.content))
    real = zipfile.ZipFile(REC / "sandbox_export_file_beskar_armor.zip")
    assert len(real.namelist()) == len(ours.namelist()) == 1
    assert real.namelist()[0] == "Beskar Armor.csv" and ours.namelist()[0] == f"{name}.csv"
    real_rows = real.read(real.namelist()[0]).decode("utf-8-sig").splitlines()
    our_rows = ours.read(ours.namelist()[0]).decode("utf-8").splitlines()
    assert real_rows[0].split(",")[:9] == our_rows[0].split(",")[:9]  # StartDate … ResponseId
    real_ids = next(csv.reader(real_rows[2:3]))
    our_ids = next(csv.reader(our_rows[2:3]))
    assert json.loads(real_ids[0])["ImportId"] == json.loads(our_ids[0])["ImportId"] == "startDate"


def test_error_envelopes_match_recordings(sb, headers):
    status, body = get(sb, headers, "/API/v3/surveys/SV_doesnotexist0")
    assert status == 404
    assert body == {"meta": {"httpStatus": "404 - Not Found", "error": {"errorMessage": "Survey not found.",
                                                                          "errorCode": "GSI_2"},
                             "requestId": body["meta"]["requestId"]}}
    assert shape_diff(recorded("sandbox_error_404_survey.json"), body, tolerate=frozenset({"requestId"})) == []
    token = sb.server.issue_token(scopes=("read:users",))
    status, body = get(sb, {"Authorization": f"Bearer {token}"}, f"/API/v3/surveys/{sb.survey_ids[0]}")
    assert status == 403
    assert shape_diff(recorded("sandbox_error_403_proxied.json"), body, tolerate=frozenset({"notice"})) == []


def test_proxied_page_matches_recording():
    real = recorded("sandbox_proxied_page_meta.json")
    with Sandbox(seed=3, surveys=3, responses=1, page_size=2) as sb:
        sb.set_wrong_datacenter("az1.qualtrics.com")
        body = requests.get(f"{sb.base_url}/API/v3/surveys", headers={"X-API-TOKEN": sb.api_token}, timeout=10).json()
    assert body["meta"]["notice"] == real["notice"]
    ours = urllib.parse.urlsplit(body["result"]["nextPage"])
    theirs = urllib.parse.urlsplit(real["nextPage"])
    assert ours.netloc == theirs.netloc == "az1.qualtrics.com" and ours.scheme == "https"
    q_ours, q_real = urllib.parse.parse_qs(ours.query), urllib.parse.parse_qs(theirs.query)
    assert q_ours["proxyDepth"] == q_real["proxyDepth"] and q_ours["proxyInfo"] == q_real["proxyInfo"]
    assert "proxyInfo=%7B%22proxyDepth%22%3A1%7D" in ours.query
