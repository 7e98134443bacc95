"""Time as the jobs tables store it: naive UTC, compared the same way by every database.

The clock itself is :func:`rainmaker.utcnow`, shared by every pattern.
"""

from __future__ import annotations

from datetime import UTC, datetime


def naive_utc(moment: datetime) -> datetime:
    """``moment`` as naive UTC (aware values are converted, naive ones taken as UTC)."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
