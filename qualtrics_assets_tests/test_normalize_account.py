"""users and surveys frames: recorded GET /surveys + GET /surveys/{id}, synthetic GET /users."""

import json
from datetime import datetime
from pathlib import Path

import pandas as pd

from qualtrics_assets.erd import SURVEYS, USERS
from qualtrics_assets.normalize.surveys import surveys_frame
from qualtrics_assets.normalize.users import users_frame

RECORDED = Path(__file__).parent / "fixtures" / "recorded"
LOADED = datetime(2025, 1, 2, 3, 4, 5)


def _result(name):
    return json.loads((RECORDED / name).read_text(encoding="utf-8"))["result"]


def test_users_frame_maps_every_field_and_tolerates_missing_keys():
    elements = [
        {
            "id": "UR_1",
            "divisionId": "DV_9",
            "username": "ana@example.org#brand",
            "firstName": "Ána",
            "lastName": "Ñúñez",
            "userType": "UT_BRANDADMIN",
            "email": "ana@example.org",
            "accountStatus": "active",
        },
        {"id": "UR_2", "username": "bo", "accountStatus": "disabled"},
    ]
    frame = users_frame(iter(elements), LOADED)
    assert list(frame.columns) == USERS.column_names
    assert frame.iloc[0][:-1].tolist() == [
        "UR_1", "ana@example.org#brand", "Ána", "Ñúñez", "ana@example.org", "UT_BRANDADMIN", "DV_9", "active"
    ]
    assert frame.iloc[1]["user_id"] == "UR_2"
    assert frame.iloc[1][["first_name", "last_name", "email", "user_type", "division_id"]].isna().all()
    assert (frame["_loaded_at"] == pd.Timestamp(LOADED)).all()


def test_users_frame_empty():
    frame = users_frame([], LOADED)
    assert list(frame.columns) == USERS.column_names
    assert frame.empty


def test_surveys_frame_merges_list_and_recorded_legacy_detail():
    listed = _result("normalize_rq_surveys_list.json")["elements"]
    detail = _result("normalize_rq_legacy_survey_SV_3gbwq8aJgqPwQDP.json")
    frame = surveys_frame(listed, {detail["id"]: detail}, LOADED)

    assert list(frame.columns) == SURVEYS.column_names
    assert frame["survey_id"].tolist() == [e["id"] for e in listed]
    beskar = frame.set_index("survey_id").loc["SV_3gbwq8aJgqPwQDP"]
    assert beskar["survey_name"] == "Beskar Armor"
    assert beskar["owner_id"] == "UR_8wfG5qsMxuh0Jrn"
    assert beskar["organization_id"] == "conjoint"
    assert beskar["is_active"] == True  # noqa: E712 (pandas boolean scalar)
    assert beskar["creation_date"] == pd.Timestamp("2020-02-20 00:35:40")
    # the detail's lastModifiedDate (2024) wins over the list's stale lastModified (2020)
    assert beskar["last_modified"] == pd.Timestamp("2024-06-10 23:20:09")
    assert pd.isna(beskar["expiration_start"]) and pd.isna(beskar["expiration_end"])
    assert (beskar["response_count_auditable"], beskar["response_count_generated"], beskar["response_count_deleted"]) == (
        27, 17, 0
    )
    salami = frame.set_index("survey_id").loc["SV_56icaa9YAafpAqx"]
    assert salami["last_modified"] == pd.Timestamp("2020-02-11 04:05:01")
    assert pd.isna(salami["organization_id"]) and pd.isna(salami["response_count_auditable"])
    assert frame["creation_date"].dtype == "datetime64[ns]"
    assert frame["is_active"].dtype == "boolean"
    assert frame["response_count_deleted"].dtype == "Int64"


def test_surveys_frame_without_creation_date_and_with_expiration():
    listed = [{"id": "SV_old", "name": "2018 survey", "ownerId": "UR_1", "lastModified": "2018-01-01T00:00:00Z", "isActive": False}]
    detail = {
        "id": "SV_old",
        "organizationId": "noleadtrialau1",
        "lastModifiedDate": "2018-02-01T10:00:00Z",
        "expiration": {"startDate": "2018-01-05T00:00:00Z", "endDate": "2018-03-01T12:30:00-05:00"},
        "responseCounts": {"auditable": "3", "generated": 0, "deleted": 1},
    }
    frame = surveys_frame(listed, {"SV_old": detail}, LOADED)
    row = frame.iloc[0]
    assert pd.isna(row["creation_date"])
    assert row["is_active"] == False  # noqa: E712
    assert row["expiration_start"] == pd.Timestamp("2018-01-05")
    assert row["expiration_end"] == pd.Timestamp("2018-03-01 17:30:00")
    assert row["response_count_auditable"] == 3
    assert row["response_count_deleted"] == 1


def test_surveys_frame_empty_list():
    frame = surveys_frame([], {}, LOADED)
    assert list(frame.columns) == SURVEYS.column_names
    assert frame.empty
