"""Single-use, expiring, hashed tokens for email verification and password reset.

The token itself (32 random bytes, URL-safe) goes only into the email; the database keeps
its SHA-256. Consuming is one conditional ``UPDATE … WHERE used_at IS NULL AND expires_at
> now``, so a token works once even under concurrent use. Issuing a new token of a purpose
spends the user's older ones, so only the latest link works; a credential change (password
changed or reset, account disabled) spends every outstanding reset token
(:meth:`OneTimeTokenStore.spend_all`), so a link mailed before it cannot undo it.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from typing import Literal

from sqlalchemy import and_, insert, select, update

from rainmaker.capabilities.database import SqlDatabase
from rainmaker.patterns.auth_jwt.errors import InvalidOneTimeTokenError
from rainmaker.patterns.auth_jwt.refresh import token_hash
from rainmaker.patterns.auth_jwt.tables import one_time_tokens
from rainmaker.patterns.auth_jwt.users import utcnow

Purpose = Literal["verify", "reset"]
MAX_LENGTH = 512


class OneTimeTokenStore:
    """Rows of ``auth_one_time_tokens``."""

    def __init__(self, db: SqlDatabase, *, pattern_id: str) -> None:
        self.db = db
        self.pattern_id = pattern_id

    async def issue(self, user_id: str, purpose: Purpose, ttl: timedelta) -> str:
        """A new token for ``user_id``; earlier unused tokens of ``purpose`` stop working."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        async with self.db.transaction() as session:
            await session.execute(
                update(one_time_tokens)
                .where(
                    and_(
                        one_time_tokens.c.user_id == user_id,
                        one_time_tokens.c.purpose == purpose,
                        one_time_tokens.c.used_at.is_(None),
                    )
                )
                .values(used_at=now)
            )
            await session.execute(
                insert(one_time_tokens).values(
                    id=str(uuid.uuid4()),
                    user_id=user_id,
                    purpose=purpose,
                    token_hash=token_hash(token),
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
        return token

    async def spend_all(self, user_id: str, purposes: tuple[Purpose, ...]) -> int:
        """Spend every unused token of ``purposes`` of one user; how many there were."""
        async with self.db.session() as session:
            result = await session.execute(
                update(one_time_tokens)
                .where(
                    and_(
                        one_time_tokens.c.user_id == user_id,
                        one_time_tokens.c.purpose.in_(purposes),
                        one_time_tokens.c.used_at.is_(None),
                    )
                )
                .values(used_at=utcnow())
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def consume(self, token: str, purpose: Purpose) -> str:
        """Spend ``token``; the user id it was issued for, or :class:`InvalidOneTimeTokenError`."""
        what = "verification" if purpose == "verify" else "password-reset"
        invalid = InvalidOneTimeTokenError(
            f"this {what} token is unknown, expired or already used; ask for a new one",
            pattern_id=self.pattern_id,
        )
        if not isinstance(token, str) or not token or len(token) > MAX_LENGTH:
            raise invalid
        digest = token_hash(token)
        now = utcnow()
        async with self.db.transaction() as session:
            row = (
                await session.execute(
                    select(one_time_tokens.c.id, one_time_tokens.c.user_id).where(
                        and_(
                            one_time_tokens.c.token_hash == digest,
                            one_time_tokens.c.purpose == purpose,
                        )
                    )
                )
            ).first()
            if row is None:
                raise invalid
            result = await session.execute(
                update(one_time_tokens)
                .where(
                    and_(
                        one_time_tokens.c.id == row.id,
                        one_time_tokens.c.used_at.is_(None),
                        one_time_tokens.c.expires_at > now,
                    )
                )
                .values(used_at=now)
            )
            if not getattr(result, "rowcount", 0):
                raise invalid
        return str(row.user_id)
