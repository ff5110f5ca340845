"""Survey ids are partition keys and URL path segments, so they are checked before use."""

from __future__ import annotations

import re

_SURVEY_ID = re.compile(r"SV_[A-Za-z0-9]+")


def validate_survey_id(value: object) -> str:
    """Return `value` unchanged if it is a Qualtrics survey id, else raise ValueError.

    A bad id must fail loudly here rather than become a bogus partition or request path.
    """
    if isinstance(value, str) and _SURVEY_ID.fullmatch(value):
        return value
    raise ValueError(
        f"{value!r} is not a Qualtrics survey id (expected SV_ followed by letters and digits)"
    )
