"""GET /users elements -> rows of `users`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pandas as pd

from qualtrics_assets.erd import USERS
from qualtrics_assets.normalize.frames import table_frame

# erd column <- key of a /users element (tap-qualtrics users.json field names).
_FIELDS = {
    "user_id": "id",
    "username": "username",
    "first_name": "firstName",
    "last_name": "lastName",
    "email": "email",
    "user_type": "userType",
    "division_id": "divisionId",
    "account_status": "accountStatus",
}


def users_frame(elements: Iterable[dict], loaded_at: datetime) -> pd.DataFrame:
    """One row per user; keys a brand does not send (divisionId, …) become nulls."""
    elements = list(elements)
    columns = {col: [e.get(key) for e in elements] for col, key in _FIELDS.items()}
    return table_frame(USERS, columns, {}, loaded_at)
