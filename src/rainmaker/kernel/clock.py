"""Time as patterns store and configure it: the naive-UTC clock and durations in seconds.

Patterns may not import one another, so what several of them need lives here and is
exported through :mod:`rainmaker` (``from rainmaker import Seconds, utcnow``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import Field

Seconds = Annotated[float, Field(gt=0)]
"""A settings field holding a positive number of seconds (``timeout: Seconds = 5.0``)."""


def utcnow() -> datetime:
    """Now, as naive UTC: what the patterns' time columns store, so that every database
    (SQLite has no time zones) stores and compares it the same way."""
    return datetime.now(UTC).replace(tzinfo=None)
