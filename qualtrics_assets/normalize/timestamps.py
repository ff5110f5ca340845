"""Qualtrics' several date spellings -> naive UTC timestamps (the warehouse convention)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone

import pandas as pd

# QSF / SurveyEntry dates use MySQL's zero date for "unset".
_ZERO_DATE_PREFIX = "0000-00-00"


def _clean(value: object) -> object:
    """None for the spellings of "no date"; anything else unchanged."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value or value.startswith(_ZERO_DATE_PREFIX):
            return None
    return value


def parse_timestamp(value: object) -> datetime | None:
    """One date -> naive UTC datetime. Strings without an offset are taken as UTC.

    Accepts ISO-8601 with or without milliseconds, `Z` or `±hh:mm`, and "YYYY-MM-DD HH:MM:SS";
    None, "" and the "0000-00-00 00:00:00" sentinel give None. Garbage raises ValueError.
    """
    value = _clean(value)
    if value is None:
        return None
    if isinstance(value, str):
        text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
        parsed = datetime.fromisoformat(text)
    elif isinstance(value, datetime):
        parsed = value
    else:
        raise ValueError(f"{value!r} is not a date")
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def to_utc_series(values: Iterable[object]) -> pd.Series:
    """Many dates at once -> datetime64[ns]; vectorised for the usual all-`Z` export columns.

    Mixed spellings go through `parse_timestamp` one by one: pandas' ISO8601 parser applies one
    value's offset to the naive values that follow it.
    """
    cleaned = [_clean(v) for v in values]
    if all(type(v) is str and v.endswith("Z") for v in cleaned if v is not None):
        parsed = pd.to_datetime(pd.Series(cleaned, dtype=object), utc=True, format="ISO8601")
        return parsed.dt.tz_convert(None).astype("datetime64[ns]")
    return pd.Series([parse_timestamp(v) for v in cleaned], dtype="datetime64[ns]")
