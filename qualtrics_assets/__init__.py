"""Land Qualtrics users, surveys, questions and responses in DuckDB as a documented ERD."""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .resource import QualtricsResource

__all__ = ["QualtricsResource"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import qualtrics_assets.qualtrics` (the Dagster-free client) does not import Dagster.
    if name == "QualtricsResource":
        from .resource import QualtricsResource

        return QualtricsResource
    raise AttributeError(f"module 'qualtrics_assets' has no attribute {name!r}")
