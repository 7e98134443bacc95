"""Rows of ``auth_two_factor`` and ``auth_recovery_codes``.

Single use is enforced by the database, so it holds across processes: a TOTP time step is
accepted by one conditional ``UPDATE … WHERE last_timestep < :step`` (a second request
with the same code, even a concurrent one, updates nothing), and a recovery code is spent
by ``UPDATE … WHERE used_at IS NULL``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import and_, delete, func, insert, or_, select, update

from rainmaker.capabilities.database import SqlDatabase
from rainmaker.patterns.auth_jwt.tables import recovery_codes, two_factor
from rainmaker.patterns.auth_jwt.users import utcnow

Spent = Literal["spent", "used", "unknown"]


@dataclass(frozen=True)
class TwoFactorRow:
    """One user's second factor: the encrypted secret, whether confirmed, the last step."""

    user_id: str
    secret_encrypted: str
    confirmed_at: datetime | None
    last_timestep: int | None

    @property
    def confirmed(self) -> bool:
        """Whether a first code confirmed the enrolment (only then does login ask)."""
        return self.confirmed_at is not None


class TwoFactorStore:
    """SQL access for the second factor of ``auth-jwt``."""

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db

    async def get(self, user_id: str) -> TwoFactorRow | None:
        """The user's second factor, confirmed or pending, if any."""
        async with self.db.session() as session:
            row = (
                await session.execute(select(two_factor).where(two_factor.c.user_id == user_id))
            ).first()
        if row is None:
            return None
        return TwoFactorRow(
            str(row.user_id), str(row.secret_encrypted), row.confirmed_at, row.last_timestep
        )

    async def begin(self, user_id: str, secret_encrypted: str) -> None:
        """Store a pending (unconfirmed) secret, replacing an earlier pending one."""
        now = utcnow()
        async with self.db.transaction() as session:
            await session.execute(
                delete(two_factor).where(
                    and_(two_factor.c.user_id == user_id, two_factor.c.confirmed_at.is_(None))
                )
            )
            await session.execute(
                insert(two_factor).values(
                    user_id=user_id,
                    secret_encrypted=secret_encrypted,
                    confirmed_at=None,
                    last_timestep=None,
                    created_at=now,
                    updated_at=now,
                )
            )

    async def accept_step(self, user_id: str, step: int, *, confirm: bool = False) -> bool:
        """Record ``step`` as used; ``False`` when it (or a later one) was used already."""
        now = utcnow()
        values: dict[str, object] = {"last_timestep": step, "updated_at": now}
        if confirm:
            values["confirmed_at"] = now
        async with self.db.session() as session:
            result = await session.execute(
                update(two_factor)
                .where(
                    and_(
                        two_factor.c.user_id == user_id,
                        or_(
                            two_factor.c.last_timestep.is_(None), two_factor.c.last_timestep < step
                        ),
                    )
                )
                .values(**values)
            )
        return bool(getattr(result, "rowcount", 0))

    async def remove(self, user_id: str) -> None:
        """Forget the user's second factor and recovery codes."""
        async with self.db.transaction() as session:
            await session.execute(delete(two_factor).where(two_factor.c.user_id == user_id))
            await session.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))

    async def replace_codes(self, user_id: str, hashes: Sequence[str]) -> None:
        """The user's recovery codes become exactly ``hashes`` (older ones stop working)."""
        now = utcnow()
        async with self.db.transaction() as session:
            await session.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user_id))
            await session.execute(
                insert(recovery_codes),
                [
                    {
                        "id": str(uuid.uuid4()),
                        "user_id": user_id,
                        "code_hash": digest,
                        "created_at": now,
                        "used_at": None,
                    }
                    for digest in hashes
                ],
            )

    async def spend_code(self, user_id: str, hashes: Sequence[str]) -> Spent:
        """Spend the recovery code stored as one of ``hashes``: ``"spent"`` now,
        ``"used"`` if it was spent before, ``"unknown"`` if the user has no such code."""
        match = and_(recovery_codes.c.user_id == user_id, recovery_codes.c.code_hash.in_(hashes))
        async with self.db.session() as session:
            result = await session.execute(
                update(recovery_codes)
                .where(and_(match, recovery_codes.c.used_at.is_(None)))
                .values(used_at=utcnow())
            )
            if getattr(result, "rowcount", 0):
                return "spent"
            known = (await session.execute(select(recovery_codes.c.id).where(match))).first()
        return "used" if known is not None else "unknown"

    async def codes_left(self, user_id: str) -> int:
        """How many unspent recovery codes the user has."""
        async with self.db.session() as session:
            count = await session.scalar(
                select(func.count()).where(
                    and_(recovery_codes.c.user_id == user_id, recovery_codes.c.used_at.is_(None))
                )
            )
        return int(count or 0)
