"""Single-use, short-lived secrets kept by digest: started flows, front-end codes, link tickets.

A grant is spent by deleting its row; only the request whose delete removed the row gets
its data, so two requests racing with one secret cannot both succeed.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from rainmaker import utcnow
from rainmaker.capabilities.database import SqlDatabase
from rainmaker.patterns.oauth_login.tables import grants


def digest(secret: str) -> str:
    """The stored form of a secret: random, so a fast hash is the right one."""
    return hashlib.sha256(secret.encode()).hexdigest()


class GrantStore:
    """Issue and spend grants of one kind at a time (``flow``, ``exchange``, ``link``)."""

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db

    async def issue(self, kind: str, data: dict[str, Any], *, ttl: float) -> str:
        """A new secret for ``data``, valid ``ttl`` seconds; expired grants are swept."""
        secret = secrets.token_urlsafe(32)
        now = utcnow()
        async with self.db.transaction() as session:
            # Sweeping here keeps the table small without a periodic job.
            await session.execute(sa.delete(grants).where(grants.c.expires_at <= now))
            await session.execute(
                sa.insert(grants).values(
                    digest=digest(secret),
                    kind=kind,
                    data=data,
                    expires_at=now + timedelta(seconds=ttl),
                )
            )
        return secret

    async def spend(self, kind: str, secret: str | None) -> dict[str, Any] | None:
        """The data of a live grant of ``kind``, spent now; ``None`` if unknown or used."""
        if not secret or len(secret) > 200:
            return None
        key = digest(secret)
        async with self.db.transaction() as session:
            row = (
                await session.execute(
                    sa.select(grants.c.kind, grants.c.data, grants.c.expires_at).where(
                        grants.c.digest == key
                    )
                )
            ).first()
            if row is None:
                return None
            removed = await session.execute(sa.delete(grants).where(grants.c.digest == key))
        if getattr(removed, "rowcount", 0) != 1 or row.kind != kind or row.expires_at <= utcnow():
            return None
        data: dict[str, Any] = dict(row.data)
        return data
