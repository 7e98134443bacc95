"""Refresh tokens: stored hashed, rotated on every use, a reused one revokes its family.

A login starts a *family* (a session), a row of ``auth_refresh_families`` holding its
absolute end (``refresh_ttl`` after the login, however often it rotates), its last use
(for ``refresh_idle_timeout``) and its revocation. Each refresh spends the presented token
(marks it used) and issues the next one in the same family, all in one transaction that
first locks the family row (``SELECT … FOR UPDATE`` on PostgreSQL and MySQL/MariaDB;
SQLite's writing transactions are serialised by ``BEGIN IMMEDIATE``). So a rotation and
a reuse detection of one family never interleave: whichever comes second sees what the
first committed. A token presented again after it was spent means it was stolen (or the
client is broken): the family is revoked, and since every rotation checks the family row
under its lock, the token the winning rotation issued a moment earlier dies with it.
Only the SHA-256 of a token is stored; a database leak hands out no usable token.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, insert, select, update

from rainmaker.capabilities.database import SqlDatabase
from rainmaker.patterns.auth_jwt.errors import InvalidTokenError, TokenReusedError
from rainmaker.patterns.auth_jwt.tables import refresh_families, refresh_tokens
from rainmaker.patterns.auth_jwt.users import utcnow


def token_hash(token: str) -> str:
    """SHA-256 hex of a token: enough for tokens with 128+ bits of entropy (no salt needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Family:
    """One session: its id, user, absolute end and last use (aware UTC)."""

    id: str
    user_id: str
    expires_at: datetime
    last_used_at: datetime


@dataclass(frozen=True)
class Spent:
    """A refresh token that was just spent, and its (locked) family."""

    user_id: str
    family: Family


class RefreshTokenStore:
    """Rows of ``auth_refresh_families`` and ``auth_refresh_tokens``.

    ``idle_timeout`` (or ``None``): a family unused that long is over.
    """

    def __init__(
        self, db: SqlDatabase, *, pattern_id: str, idle_timeout: timedelta | None = None
    ) -> None:
        self.db = db
        self.pattern_id = pattern_id
        self.idle_timeout = idle_timeout

    @staticmethod
    def new_family_id() -> str:
        return str(uuid.uuid4())

    async def start_family(self, user_id: str, lifetime: timedelta) -> Family:
        """Store a new session ending ``lifetime`` from now, whatever its rotations."""
        now = utcnow()
        family = Family(
            id=self.new_family_id(), user_id=user_id, expires_at=now + lifetime, last_used_at=now
        )
        async with self.db.session() as session:
            await session.execute(
                insert(refresh_families).values(
                    id=family.id,
                    user_id=user_id,
                    created_at=now,
                    expires_at=family.expires_at,
                    last_used_at=now,
                )
            )
        return family

    def token_expiry(self, family: Family, now: datetime) -> datetime:
        """When a token issued now in ``family`` expires: the family's end, or sooner idle."""
        if self.idle_timeout is None:
            return family.expires_at
        return min(family.expires_at, now + self.idle_timeout)

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

    async def spend(self, token: str, *, jti: str, user_id: str) -> Spent | InvalidTokenError:
        """Mark the token used under its family's lock; the refusal when it may not be.

        Call it inside ``db.transaction()`` and issue the next token in the same block, so
        the family stays locked until the new token is committed. Refusals are *returned*,
        not raised: a reused token revokes its family here, and that revocation must
        commit with the caller's block even though the request fails.
        """
        now = utcnow()
        row = await self._token_row(token_hash(token))
        if row is None or row.id != jti or row.user_id != user_id:
            return InvalidTokenError(
                "the refresh token is not known (it was never issued here or its session "
                "was deleted)",
                pattern_id=self.pattern_id,
            )
        family = await self._lock_family(row.family_id)
        if family is None or family.revoked_at is not None or row.revoked_at is not None:
            return self._ended()
        if family.expires_at <= now or row.expires_at <= now:
            return InvalidTokenError(
                "the refresh token has expired; log in again", pattern_id=self.pattern_id
            )
        if self.idle_timeout is not None and family.last_used_at + self.idle_timeout <= now:
            return InvalidTokenError(
                "the session has expired: it was unused for longer than the idle timeout; "
                "log in again",
                pattern_id=self.pattern_id,
            )
        async with self.db.session() as session:
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
            if won:
                await session.execute(
                    update(refresh_families)
                    .where(refresh_families.c.id == family.id)
                    .values(last_used_at=now)
                )
        if not won:
            # Spent before: treat it as stolen and end the whole session, the token a
            # concurrent rotation just issued included (it committed before our lock).
            await self.revoke_family(family.id)
            return TokenReusedError(
                "this refresh token was already used; as a precaution every token of its "
                "session is now revoked. Log in again",
                pattern_id=self.pattern_id,
            )
        return Spent(
            user_id=row.user_id,
            family=Family(
                id=family.id, user_id=family.user_id, expires_at=family.expires_at, last_used_at=now
            ),
        )

    def _ended(self) -> InvalidTokenError:
        return InvalidTokenError(
            "the refresh token's session has ended (logged out, password changed or "
            "revoked); log in again",
            pattern_id=self.pattern_id,
        )

    async def _token_row(self, digest: str) -> Any:
        async with self.db.session() as session:
            return (
                await session.execute(
                    select(refresh_tokens).where(refresh_tokens.c.token_hash == digest)
                )
            ).first()

    async def _lock_family(self, family_id: str) -> Any:
        """The family row, locked until the current transaction ends."""
        async with self.db.session() as session:
            return (
                await session.execute(
                    select(refresh_families)
                    .where(refresh_families.c.id == family_id)
                    .with_for_update()
                )
            ).first()

    async def revoke_family(self, family_id: str) -> int:
        """Revoke one session and every token of it; how many tokens were still live."""
        now = utcnow()
        async with self.db.transaction() as session:
            # Family row first, tokens second: the order rotation locks them in.
            await session.execute(
                update(refresh_families)
                .where(
                    and_(
                        refresh_families.c.id == family_id,
                        refresh_families.c.revoked_at.is_(None),
                    )
                )
                .values(revoked_at=now)
            )
            result = await session.execute(
                update(refresh_tokens)
                .where(
                    and_(
                        refresh_tokens.c.family_id == family_id,
                        refresh_tokens.c.revoked_at.is_(None),
                    )
                )
                .values(revoked_at=now)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def revoke_user(self, user_id: str) -> int:
        """Revoke every session of one user (password change, reset, disable)."""
        now = utcnow()
        async with self.db.transaction() as session:
            await session.execute(
                update(refresh_families)
                .where(
                    and_(
                        refresh_families.c.user_id == user_id,
                        refresh_families.c.revoked_at.is_(None),
                    )
                )
                .values(revoked_at=now)
            )
            result = await session.execute(
                update(refresh_tokens)
                .where(
                    and_(
                        refresh_tokens.c.user_id == user_id,
                        refresh_tokens.c.revoked_at.is_(None),
                    )
                )
                .values(revoked_at=now)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def family_live(self, family_id: str) -> bool:
        """Whether the session is still on: not revoked, not past its end."""
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(refresh_families.c.id).where(
                        and_(
                            refresh_families.c.id == family_id,
                            refresh_families.c.revoked_at.is_(None),
                            refresh_families.c.expires_at > utcnow(),
                        )
                    )
                )
            ).first()
        return row is not None

    async def purge(self, older_than: timedelta) -> int:
        """Delete tokens and sessions that ended more than ``older_than`` ago; how many tokens."""
        cutoff = utcnow() - older_than
        async with self.db.transaction() as session:
            result = await session.execute(
                delete(refresh_tokens).where(refresh_tokens.c.expires_at < cutoff)
            )
            await session.execute(
                delete(refresh_families).where(refresh_families.c.expires_at < cutoff)
            )
        return int(getattr(result, "rowcount", 0) or 0)
