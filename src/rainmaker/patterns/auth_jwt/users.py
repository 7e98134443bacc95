"""The user repository: accounts in ``auth_users``, read and written through ``db.session()``.

Every method goes through the database's task-bound unit of work, so a call made inside
``async with db.transaction():`` joins that transaction (another pattern can create a user
and its own row atomically). Inserting uses a savepoint, so a duplicate email leaves the
caller's transaction usable.
"""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import insert, select, update

from rainmaker import InvalidInputError
from rainmaker.capabilities.auth import User
from rainmaker.capabilities.database import SqlDatabase
from rainmaker.capabilities.mailer import parse_address
from rainmaker.patterns.auth_jwt.errors import EmailTakenError, InvalidEmailError
from rainmaker.patterns.auth_jwt.tables import users

MAX_EMAIL_LENGTH = 254


def utcnow() -> datetime:
    """Now as naive UTC, the form every ``auth_*`` time column stores."""
    return datetime.now(UTC).replace(tzinfo=None)


def normalise_email(email: str, *, pattern_id: str) -> str:
    """The canonical form an account is stored and looked up under (NFKC, case-folded).

    Raises :class:`InvalidEmailError` when ``email`` cannot be a mailbox address.
    """
    if not isinstance(email, str) or len(email) > MAX_EMAIL_LENGTH * 2:
        raise InvalidEmailError("the email address is not valid", pattern_id=pattern_id)
    canonical = unicodedata.normalize("NFKC", email).strip().casefold()
    if "<" in canonical or len(canonical) > MAX_EMAIL_LENGTH:
        raise InvalidEmailError(
            "the email address must be a bare address like user@example.com",
            pattern_id=pattern_id,
        )
    try:
        address = parse_address(canonical, "email address")
    except InvalidInputError as error:
        raise InvalidEmailError(error.message, pattern_id=pattern_id) from None
    return str(address.addr_spec)


@dataclass(frozen=True)
class UserRecord:
    """One ``auth_users`` row, password hash included (never leaves this pattern)."""

    id: str
    email: str
    password_hash: str
    roles: tuple[str, ...]
    scopes: tuple[str, ...]
    verified: bool
    disabled: bool
    token_version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def new(
        cls,
        email: str,
        password_hash: str,
        *,
        roles: tuple[str, ...],
        scopes: tuple[str, ...],
        verified: bool,
    ) -> UserRecord:
        """A record for a user about to be inserted."""
        now = utcnow()
        return cls(
            id=str(uuid.uuid4()),
            email=email,
            password_hash=password_hash,
            roles=roles,
            scopes=scopes,
            verified=verified,
            disabled=False,
            token_version=0,
            created_at=now,
            updated_at=now,
        )

    @classmethod
    def from_row(cls, row: Any) -> UserRecord:
        return cls(
            id=row.id,
            email=row.email,
            password_hash=row.password_hash,
            roles=tuple(row.roles or ()),
            scopes=tuple(row.scopes or ()),
            verified=bool(row.verified),
            disabled=bool(row.disabled),
            token_version=int(row.token_version or 0),
            created_at=row.created_at,
            updated_at=row.updated_at,
        )

    def to_user(self) -> User:
        """The public view: no password hash, times as aware UTC."""
        return User(
            id=self.id,
            email=self.email,
            roles=self.roles,
            scopes=self.scopes,
            verified=self.verified,
            disabled=self.disabled,
            created_at=self.created_at.replace(tzinfo=UTC),
            updated_at=self.updated_at.replace(tzinfo=UTC),
        )

    def with_(self, **changes: Any) -> UserRecord:
        return replace(self, **changes)


class UserRepository:
    """Reads and writes ``auth_users``."""

    def __init__(self, db: SqlDatabase, *, pattern_id: str) -> None:
        self.db = db
        self.pattern_id = pattern_id

    async def insert(self, record: UserRecord) -> None:
        """Insert ``record``; :class:`EmailTakenError` when its email has an account."""
        values = {
            "id": record.id,
            "email": record.email,
            "password_hash": record.password_hash,
            "roles": list(record.roles),
            "scopes": list(record.scopes),
            "verified": record.verified,
            "disabled": record.disabled,
            "token_version": record.token_version,
            "created_at": record.created_at,
            "updated_at": record.updated_at,
        }
        try:
            # A savepoint inside the caller's transaction (or a unit of its own): a
            # duplicate rolls back only this insert.
            async with self.db.transaction() as session:
                await session.execute(insert(users).values(**values))
        except sa_exc.IntegrityError as error:
            raise EmailTakenError(
                "an account with this email address already exists; log in or reset the password",
                pattern_id=self.pattern_id,
                cause=error,
            ) from None

    async def by_id(self, user_id: str) -> UserRecord | None:
        """The user with ``user_id``, if any."""
        async with self.db.session() as session:
            row = (await session.execute(select(users).where(users.c.id == user_id))).first()
        return UserRecord.from_row(row) if row is not None else None

    async def by_email(self, email: str) -> UserRecord | None:
        """The user with the (already normalised) ``email``, if any."""
        async with self.db.session() as session:
            row = (await session.execute(select(users).where(users.c.email == email))).first()
        return UserRecord.from_row(row) if row is not None else None

    async def update(self, user_id: str, *, bump_version: bool = False, **values: Any) -> bool:
        """Set ``values`` (and ``updated_at``) on one user; whether it exists.

        ``bump_version`` increments ``token_version`` in the same statement, which makes
        every access token issued so far invalid for ``current_user``.
        """
        values.setdefault("updated_at", utcnow())
        if bump_version:
            values["token_version"] = users.c.token_version + 1
        async with self.db.session() as session:
            result = await session.execute(
                update(users).where(users.c.id == user_id).values(**values)
            )
        return bool(getattr(result, "rowcount", 0))

    async def disabled_ids(self) -> set[str]:
        """Ids of every disabled user (loaded at start for the token-only guard)."""
        async with self.db.session() as session:
            rows = await session.execute(select(users.c.id).where(users.c.disabled.is_(True)))
        return {row.id for row in rows}
