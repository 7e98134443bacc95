"""Linked provider accounts: which ``Auth`` user a (provider, subject) pair signs in as."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from rainmaker import utcnow
from rainmaker.capabilities.database import SqlDatabase
from rainmaker.patterns.oauth_login.errors import (
    IdentityNotFoundError,
    IdentityTakenError,
    LastSignInMethodError,
)
from rainmaker.patterns.oauth_login.tables import identities

PATTERN_ID = "oauth-login"


@dataclass(frozen=True)
class LinkedIdentity:
    """One provider account linked to a user."""

    id: str
    user_id: str
    provider: str
    subject: str
    email: str | None
    email_verified: bool
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``GET /auth/identities`` lists)."""
        return {
            "id": self.id,
            "provider": self.provider,
            "subject": self.subject,
            "email": self.email,
            "email_verified": self.email_verified,
            "created_at": self.created_at.replace(tzinfo=UTC).isoformat(),
        }


class IdentityStore:
    """The ``oauth_identities`` table."""

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db

    async def find(self, provider: str, subject: str) -> LinkedIdentity | None:
        """The identity of this provider account, if linked."""
        async with self.db.session() as session:
            row = (
                await session.execute(
                    sa.select(identities).where(
                        identities.c.provider == provider, identities.c.subject == subject
                    )
                )
            ).first()
        return _identity(row._mapping) if row is not None else None

    async def link(
        self, user_id: str, provider: str, subject: str, email: str | None, verified: bool
    ) -> LinkedIdentity:
        """Link a provider account to ``user_id`` (joins the caller's transaction)."""
        identity = LinkedIdentity(
            id=str(uuid.uuid4()),
            user_id=user_id,
            provider=provider,
            subject=subject,
            email=email,
            email_verified=verified,
            created_at=utcnow(),
        )
        try:
            async with self.db.transaction() as session:
                # The dataclass's fields are the table's columns, one for one.
                await session.execute(sa.insert(identities).values(**asdict(identity)))
        except IntegrityError as error:  # a concurrent sign-in linked it first
            raise IdentityTakenError(
                f"this {provider} account is already linked to an account",
                pattern_id=PATTERN_ID,
                cause=error,
            ) from error
        return identity

    async def list_for(self, user_id: str) -> list[LinkedIdentity]:
        """The user's linked identities, oldest first."""
        async with self.db.session() as session:
            rows = await session.execute(
                sa.select(identities)
                .where(identities.c.user_id == user_id)
                .order_by(identities.c.created_at, identities.c.id)
            )
            return [_identity(row._mapping) for row in rows]

    async def unlink(self, user_id: str, identity_id: str, *, keep_one: bool) -> None:
        """Remove one of the user's identities; with ``keep_one``, never the last one.

        The user's identity rows are locked first, so two unlinks at once cannot each
        leave the other as the last and both succeed.
        """
        async with self.db.transaction() as session:
            mine = set(
                (
                    await session.execute(
                        sa.select(identities.c.id)
                        .where(identities.c.user_id == user_id)
                        .with_for_update()
                    )
                ).scalars()
            )
            if identity_id not in mine:
                raise IdentityNotFoundError(
                    f"you have no linked identity {identity_id!r}", pattern_id=PATTERN_ID
                )
            if keep_one and len(mine) == 1:
                raise LastSignInMethodError(
                    "this is the only way to sign in to the account: set a password (reset "
                    "it by email) or link another provider first",
                    pattern_id=PATTERN_ID,
                )
            await session.execute(sa.delete(identities).where(identities.c.id == identity_id))


def _identity(row: Any) -> LinkedIdentity:
    return LinkedIdentity(
        id=row["id"],
        user_id=row["user_id"],
        provider=row["provider"],
        subject=row["subject"],
        email=row["email"],
        email_verified=bool(row["email_verified"]),
        created_at=row["created_at"],
    )
