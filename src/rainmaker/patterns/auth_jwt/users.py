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
from rainmaker import utcnow as utcnow  # re-exported: the token stores import it here
from rainmaker.capabilities.auth import User
from rainmaker.capabilities.database import SqlDatabase
from rainmaker.capabilities.mailer import parse_address
from rainmaker.patterns.auth_jwt.errors import EmailTakenError, InvalidEmailError
from rainmaker.patterns.auth_jwt.tables import users

MAX_EMAIL_LENGTH = 254


def mailbox_address(email: str, *, pattern_id: str) -> str:
    """The address as typed, checked: the form an account stores and mails to.

    Surrounding whitespace goes and Unicode compatibility forms become their plain letters
    (NFKC: fullwidth ``U+FF21`` is ``A``); case stays as typed. Case folding never happens
    here, because it can turn one mailbox into another (``straße`` -> ``strasse``); it is
    only the lookup key (:func:`canonical_email`). Mailbox names must be ASCII (the mailer
    sends without SMTPUTF8), so ``straße@…`` is refused with the reason, never rewritten;
    so is a domain that IDNA 2003 would map to another name (``straße.de`` ->
    ``strasse.de``). Raises :class:`InvalidEmailError`.
    """
    if not isinstance(email, str) or len(email) > MAX_EMAIL_LENGTH * 2:
        raise InvalidEmailError("the email address is not valid", pattern_id=pattern_id)
    typed = unicodedata.normalize("NFKC", email).strip()
    if "<" in typed or len(typed) > MAX_EMAIL_LENGTH:
        raise InvalidEmailError(
            "the email address must be a bare address like user@example.com",
            pattern_id=pattern_id,
        )
    try:
        address = parse_address(typed, "email address")
    except InvalidInputError as error:
        raise InvalidEmailError(error.message, pattern_id=pattern_id) from None
    domain = typed.rpartition("@")[2]
    if not domain.isascii() and address.domain.encode().decode("idna") != domain.lower():
        raise InvalidEmailError(
            f"invalid email address {typed!r}: its domain {domain!r} would be sent as "
            f"{address.domain!r}, which is another domain; write it in its xn-- form",
            pattern_id=pattern_id,
        )
    return str(address.addr_spec)


def canonical_email(email: str, *, pattern_id: str) -> str:
    """The key an account is looked up, kept unique and attempt-limited under.

    The case-folded :func:`mailbox_address`, so every spelling of one address (case,
    fullwidth letters, surrounding space) is one account and one limiter counter. Never
    stored as the address itself nor mailed to.
    """
    return mailbox_address(email, pattern_id=pattern_id).casefold()


@dataclass(frozen=True)
class UserRecord:
    """One ``auth_users`` row, password hash included (never leaves this pattern)."""

    id: str
    email: str
    email_canonical: str
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
        """A record for a user about to be inserted (``email`` as :func:`mailbox_address`)."""
        now = utcnow()
        return cls(
            id=str(uuid.uuid4()),
            email=email,
            email_canonical=email.casefold(),
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
            email_canonical=row.email_canonical,
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
            "email_canonical": record.email_canonical,
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

    async def by_email(self, canonical: str) -> UserRecord | None:
        """The user whose :func:`canonical_email` is ``canonical``, if any."""
        async with self.db.session() as session:
            row = (
                await session.execute(select(users).where(users.c.email_canonical == canonical))
            ).first()
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
