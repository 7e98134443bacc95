"""Time as patterns store and configure it: the UTC clock and durations in seconds.

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
    """Now, as timezone-aware UTC: what the patterns' ``UtcDateTime`` columns read back on
    every database (SQLite included), so a stored time and now compare without a
    naive/aware mix-up, and every time a pattern hands out says it is UTC."""
    return datetime.now(UTC)
