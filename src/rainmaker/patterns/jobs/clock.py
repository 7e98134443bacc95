"""Time as the jobs tables hold it: aware UTC (``UtcDateTime`` columns), on every database.

The clock itself is :func:`rainmaker.utcnow`, shared by every pattern.
"""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(moment: datetime) -> datetime:
    """``moment`` as aware UTC (aware values are converted, naive ones taken as UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
