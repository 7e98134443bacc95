"""Refresh tokens: stored hashed, rotated on every use, a reused one revokes its family.

A login starts a *family* (a session). Each refresh spends the presented token (marks it
used) and issues the next one in the same family. Spending is one conditional
``UPDATE … WHERE used_at IS NULL AND revoked_at IS NULL``, so two concurrent refreshes
with the same token cannot both win, on SQLite or PostgreSQL. A token that is presented
again after it was spent means it was stolen (or the client is broken): the whole family
is revoked, so neither the thief nor the victim can go on using it. Only the SHA-256 of a
token is stored; a database leak hands out no usable token.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, insert, select, update

from rainmaker.capabilities.database import SqlDatabase
from rainmaker.patterns.auth_jwt.errors import InvalidTokenError, TokenReusedError
from rainmaker.patterns.auth_jwt.tables import refresh_tokens
from rainmaker.patterns.auth_jwt.users import utcnow


def token_hash(token: str) -> str:
    """SHA-256 hex of a token: enough for tokens with 128+ bits of entropy (no salt needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Spent:
    """A refresh token that was just spent: its user and family."""

    user_id: str
    family_id: str


class RefreshTokenStore:
    """Rows of ``auth_refresh_tokens``."""

    def __init__(self, db: SqlDatabase, *, pattern_id: str) -> None:
        self.db = db
        self.pattern_id = pattern_id

    @staticmethod
    def new_family() -> str:
        return str(uuid.uuid4())

    async def add(
        self, *, jti: str, family_id: str, user_id: str, token: str, expires_at: datetime
    ) -> None:
        """Store a newly issued refresh token (its hash only)."""
        async with self.db.session() as session:
            await session.execute(
                insert(refresh_tokens).values(
                    id=jti,
                    family_id=family_id,
                    user_id=user_id,
                    token_hash=token_hash(token),
                    created_at=utcnow(),
                    expires_at=expires_at,
                )
            )

    async def spend(self, token: str, *, jti: str, user_id: str) -> Spent:
        """Mark the token used; revoke its family (and raise) when it was used before."""
        now = utcnow()
        digest = token_hash(token)
        async with self.db.transaction() as session:
            row = (
                await session.execute(
                    select(refresh_tokens).where(refresh_tokens.c.token_hash == digest)
                )
            ).first()
            if row is None or row.id != jti or row.user_id != user_id:
                raise InvalidTokenError(
                    "the refresh token is not known (it was never issued here or its session "
                    "was deleted)",
                    pattern_id=self.pattern_id,
                )
            if row.revoked_at is not None:
                raise InvalidTokenError(
                    "the refresh token's session has ended (logged out, password changed or "
                    "revoked); log in again",
                    pattern_id=self.pattern_id,
                )
            if row.expires_at <= now:
                raise InvalidTokenError(
                    "the refresh token has expired; log in again", pattern_id=self.pattern_id
                )
            result = await session.execute(
                update(refresh_tokens)
                .where(
                    and_(
                        refresh_tokens.c.id == row.id,
                        refresh_tokens.c.used_at.is_(None),
                        refresh_tokens.c.revoked_at.is_(None),
                    )
                )
                .values(used_at=now)
            )
            won = bool(getattr(result, "rowcount", 0))
        if not won:
            # Spent before: treat it as stolen. Revoked in a unit of work of its own, so
            # the revocation stands even though this request fails.
            await self.revoke_family(row.family_id)
            raise TokenReusedError(
                "this refresh token was already used; as a precaution every token of its "
                "session is now revoked. Log in again",
                pattern_id=self.pattern_id,
            )
        return Spent(user_id=row.user_id, family_id=row.family_id)

    async def revoke_family(self, family_id: str) -> int:
        """Revoke every token of one session; how many were still live."""
        async with self.db.session() as session:
            result = await session.execute(
                update(refresh_tokens)
                .where(
                    and_(
                        refresh_tokens.c.family_id == family_id,
                        refresh_tokens.c.revoked_at.is_(None),
                    )
                )
                .values(revoked_at=utcnow())
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def revoke_user(self, user_id: str) -> int:
        """Revoke every session of one user (password change, reset, disable)."""
        async with self.db.session() as session:
            result = await session.execute(
                update(refresh_tokens)
                .where(
                    and_(
                        refresh_tokens.c.user_id == user_id,
                        refresh_tokens.c.revoked_at.is_(None),
                    )
                )
                .values(revoked_at=utcnow())
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def family_live(self, family_id: str) -> bool:
        """Whether the session still has a token that is not revoked."""
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(refresh_tokens.c.id)
                    .where(
                        and_(
                            refresh_tokens.c.family_id == family_id,
                            refresh_tokens.c.revoked_at.is_(None),
                        )
                    )
                    .limit(1)
                )
            ).first()
        return row is not None

    async def purge(self, older_than: timedelta) -> int:
        """Delete tokens that expired more than ``older_than`` ago; how many."""
        from sqlalchemy import delete

        async with self.db.session() as session:
            result = await session.execute(
                delete(refresh_tokens).where(refresh_tokens.c.expires_at < utcnow() - older_than)
            )
        return int(getattr(result, "rowcount", 0) or 0)
