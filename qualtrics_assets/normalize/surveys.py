"""GET /surveys list elements + GET /surveys/{id} results -> rows of `surveys`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import pandas as pd

from qualtrics_assets.erd import LOADED_AT, SURVEYS
from qualtrics_assets.normalize.frames import table_frame


def _survey_row(element: dict, detail: dict) -> dict:
    """Merge one survey's two payloads; the detail (fetched per survey) wins where it has a value.

    The list says `lastModified`, the detail `lastModifiedDate`; older lists lack `creationDate`.
    """

    def pick(detail_key: str, list_key: str | None = None) -> object:
        value = detail.get(detail_key)
        return element.get(list_key or detail_key) if value is None else value

    expiration = detail.get("expiration") or {}
    counts = detail.get("responseCounts") or {}
    return {
        "survey_id": element["id"],
        "survey_name": pick("name"),
        "owner_id": pick("ownerId"),
        "organization_id": detail.get("organizationId"),
        "is_active": pick("isActive"),
        "creation_date": pick("creationDate"),
        "last_modified": pick("lastModifiedDate", "lastModified"),
        "expiration_start": expiration.get("startDate"),
        "expiration_end": expiration.get("endDate"),
        "response_count_auditable": counts.get("auditable"),
        "response_count_generated": counts.get("generated"),
        "response_count_deleted": counts.get("deleted"),
    }


def surveys_frame(
    list_elements: Iterable[dict],
    details_by_id: Mapping[str, dict],
    loaded_at: datetime,
) -> pd.DataFrame:
    """One row per listed survey; a survey without a detail payload keeps its list fields only."""
    rows = [_survey_row(e, details_by_id.get(e["id"]) or {}) for e in list_elements]
    columns = {name: [row[name] for row in rows] for name in SURVEYS.column_names if name != LOADED_AT}
    return table_frame(SURVEYS, columns, {}, loaded_at)
