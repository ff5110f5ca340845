"""Operator settings read from the environment when the code location loads (all optional)."""

import os
from dataclasses import dataclass
from datetime import timedelta


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number; unset it to use the default {default:g}") from None
    if value <= 0:
        raise ValueError(f"{name}={raw!r} must be positive; unset it to use the default {default:g}")
    return value


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = (os.environ.get(name) or default).strip().lower()
    if raw not in choices:
        raise ValueError(f"{name}={raw!r} must be one of {', '.join(choices)}")
    return raw


@dataclass(frozen=True)
class Settings:
    account_freshness: timedelta
    survey_freshness: timedelta
    sensor_interval_seconds: int
    survey_refresh_every: timedelta
    sensor_max_count_reads: int
    fallback_overlap: timedelta
    reconcile_every: timedelta
    deleted_responses: str
    account_cron: str
    duckdb_memory_limit: str

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            account_freshness=timedelta(hours=_number("QUALTRICS_ACCOUNT_FRESHNESS_HOURS", 24)),
            survey_freshness=timedelta(hours=_number("QUALTRICS_SURVEY_FRESHNESS_HOURS", 6)),
            sensor_interval_seconds=int(_number("QUALTRICS_SENSOR_INTERVAL_SECONDS", 300)),
            survey_refresh_every=timedelta(minutes=_number("QUALTRICS_SURVEY_REFRESH_MINUTES", 180)),
            sensor_max_count_reads=int(_number("QUALTRICS_SENSOR_MAX_COUNT_READS", 50)),
            fallback_overlap=timedelta(minutes=_number("QUALTRICS_FALLBACK_OVERLAP_MINUTES", 60)),
            reconcile_every=timedelta(days=_number("QUALTRICS_RECONCILE_DAYS", 7)),
            deleted_responses=_choice("QUALTRICS_DELETED_RESPONSES", "delete", ("delete", "mark")),
            account_cron=(os.environ.get("QUALTRICS_ACCOUNT_CRON") or "0 */6 * * *").strip(),
            duckdb_memory_limit=(os.environ.get("QUALTRICS_DUCKDB_MEMORY_LIMIT") or "256MB").strip(),
        )


SETTINGS = Settings.from_env()
