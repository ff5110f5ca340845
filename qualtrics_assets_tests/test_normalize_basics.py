"""Survey-id check, HTML -> text, Qualtrics dates -> naive UTC, and the erd-typed frame builder."""

from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from qualtrics_assets.erd import ANSWERS, RESPONSES, USERS
from qualtrics_assets.normalize.frames import table_frame
from qualtrics_assets.qualtrics import validate_survey_id
from qualtrics_assets.normalize.text import html_to_text
from qualtrics_assets.normalize.timestamps import parse_timestamp, to_utc_series

LOADED = datetime(2025, 1, 2, 3, 4, 5)


@pytest.mark.parametrize("survey_id", ["SV_3gbwq8aJgqPwQDP", "SV_1", "SV_abcXYZ09"])
def test_valid_survey_ids_pass_through(survey_id):
    assert validate_survey_id(survey_id) == survey_id


@pytest.mark.parametrize(
    "bad", ["xyz", "", "SV_", "sv_abc", "SV_abc def", "SV_abc/../x", "SV_abc\n", " SV_abc", "UR_abc", None, 12]
)
def test_invalid_survey_ids_raise_a_clear_error(bad):
    with pytest.raises(ValueError, match="is not a Qualtrics survey id .expected SV_ followed by letters and digits."):
        validate_survey_id(bad)


def test_invalid_survey_id_message_names_the_value():
    with pytest.raises(ValueError) as error:
        validate_survey_id("xyz")
    assert str(error.value).startswith("'xyz' is not a Qualtrics survey id (expected SV_ followed by letters and digits)")


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<em>Extremely</em> dissatisfied", "Extremely dissatisfied"),
        ('<a href="https://x.test/?a=1&amp;b=2">Somewhat satisfied</a>', "Somewhat satisfied"),
        ("Rate:<div><br></div><div><b>Overall quality</b><br></div>", "Rate: Overall quality"),
        ("line one<br>line two<br/>line three", "line one line two line three"),
        ("<p>one</p><p>two</p>", "one two"),
        ("<ul><li>a</li><li>b</li></ul>", "a b"),
        ("Tom &amp; Jerry&nbsp;&nbsp;&lt;3 &#233;t&eacute;", "Tom & Jerry <3 été"),
        ("  lots \n\t of   space  ", "lots of space"),
        ("un<strong>bold</strong>ed", "unbolded"),
        ("<25% or >75%", "<25% or >75%"),
        ('Yes \n<video class="q"><source src="x.mp4" /><embed src="x.mp4" /></video>\n', "Yes"),
        ("Ünïcödé — 日本語 ✓", "Ünïcödé — 日本語 ✓"),
        ("", ""),
    ],
)
def test_html_to_text(html, text):
    assert html_to_text(html) == text


def test_html_to_text_keeps_none():
    assert html_to_text(None) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2021-03-25T17:16:56Z", datetime(2021, 3, 25, 17, 16, 56)),
        ("2021-03-25T17:21:25.942Z", datetime(2021, 3, 25, 17, 21, 25, 942000)),
        ("2022-06-02T18:40:53-06:00", datetime(2022, 6, 3, 0, 40, 53)),
        ("2015-01-01T00:00:00+02:00", datetime(2014, 12, 31, 22, 0, 0)),
        ("2020-12-08 14:05:59", datetime(2020, 12, 8, 14, 5, 59)),
        ("0000-00-00 00:00:00", None),
        ("", None),
        (None, None),
        (datetime(2020, 1, 1, 12, tzinfo=timezone(timedelta(hours=2))), datetime(2020, 1, 1, 10)),
    ],
)
def test_parse_timestamp(value, expected):
    assert parse_timestamp(value) == expected


def test_parse_timestamp_rejects_garbage():
    with pytest.raises(ValueError):
        parse_timestamp("yesterday")


def test_to_utc_series_matches_the_scalar_parser_on_every_spelling():
    values = [
        "2021-03-25T17:16:56Z",
        "2021-03-25T17:21:25.942Z",
        "2022-06-02T18:40:53-06:00",
        "2020-12-08 14:05:59",
        "0000-00-00 00:00:00",
        "",
        None,
    ]
    series = to_utc_series(values)
    assert series.dtype == "datetime64[ns]"
    expected = [
        pd.Timestamp("2021-03-25 17:16:56"),
        pd.Timestamp("2021-03-25 17:21:25.942"),
        pd.Timestamp("2022-06-03 00:40:53"),
        pd.Timestamp("2020-12-08 14:05:59"),
    ]
    assert list(series[:4]) == expected
    assert series[4:].isna().all()


def test_table_frame_has_erd_columns_in_order_and_types():
    frame = table_frame(
        ANSWERS,
        {"response_id": ["R_1", "R_2"], "field": ["QID1", "QID2"], "answer_index": [0, 1], "value_number": [1.5, None]},
        {"survey_id": "SV_x"},
        LOADED,
    )
    assert list(frame.columns) == ANSWERS.column_names
    assert frame["survey_id"].tolist() == ["SV_x", "SV_x"]
    assert frame["answer_index"].dtype == "int64"
    assert frame["value_number"].dtype == "float64"
    assert frame["value_number"].isna().tolist() == [False, True]
    assert frame["option_id"].isna().all()
    assert frame["_loaded_at"].dtype == "datetime64[ns]"
    assert (frame["_loaded_at"] == pd.Timestamp(LOADED)).all()


def test_table_frame_empty_still_typed():
    frame = table_frame(RESPONSES, {}, {"survey_id": "SV_x"}, LOADED)
    assert len(frame) == 0
    assert list(frame.columns) == RESPONSES.column_names
    assert frame["status"].dtype == "Int64"
    assert frame["finished"].dtype == "boolean"
    assert frame["start_date"].dtype == "datetime64[ns]"


def test_table_frame_rejects_unknown_columns():
    with pytest.raises(KeyError, match="no column"):
        table_frame(USERS, {"nickname": ["x"]}, {}, LOADED)


def test_loaded_at_with_offset_is_stored_as_naive_utc():
    aware = datetime(2025, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    frame = table_frame(USERS, {"user_id": ["UR_1"]}, {}, aware)
    assert frame["_loaded_at"].tolist() == [pd.Timestamp(LOADED)]
