"""``UtcDateTime``: a SQLAlchemy column type that reads back timezone-aware UTC everywhere.

``DateTime(timezone=True)`` keeps the offset on PostgreSQL but not on SQLite, which has no
time zones: a value written aware comes back naive, so one pattern answered ``+00:00`` on
create and nothing on read. This type stores UTC in a plain ``DateTime`` column (the
layout the built-in patterns' tables already have, so no migration), converts an aware
value to UTC on the way in, takes a naive one as UTC, and gives back an aware UTC
``datetime`` on every database (as :func:`rainmaker.utcnow` returns).

Importing this module imports SQLAlchemy (a pattern's tables module needs it anyway).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class UtcDateTime(TypeDecorator[datetime]):
    """A UTC timestamp column: aware UTC out on SQLite, PostgreSQL and MySQL alike."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        # MySQL's DATETIME drops fractions unless told to keep them; the others keep µs.
        if dialect.name in ("mysql", "mariadb"):
            from sqlalchemy.dialects.mysql import DATETIME

            return dialect.type_descriptor(DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UtcDateTime takes a datetime, not {type(value).__name__}")
        moment: datetime = value.astimezone(UTC) if value.tzinfo is not None else value
        return moment.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # a raw SQLite read through a text() query
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


__all__ = ["UtcDateTime"]
