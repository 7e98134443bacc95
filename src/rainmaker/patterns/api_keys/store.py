"""``SqlApiKeyStore``: the ``ApiKeys`` provider, keys in the app's database.

A key is ``<prefix><lookup>_<secret>``: ``lookup`` (12 hex characters) finds the row
through the unique ``prefix`` column, then the SHA-256 of the whole key is compared in
constant time, so a wrong secret and an unknown key cost the same and say the same. The
last use is written at most once per ``touch_interval`` per key (a busy key would
otherwise cost a write per request).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from rainmaker import ConflictError, InvalidInputError, utcnow
from rainmaker.capabilities.api_keys import (
    ApiKey,
    ApiKeyExpiredError,
    ApiKeyNotFoundError,
    ApiKeyRevokedError,
    InvalidApiKeyError,
    InvalidExpiryError,
    IssuedKey,
    UnknownScopeError,
)
from rainmaker.capabilities.database import SqlDatabase
from rainmaker.patterns.api_keys.settings import ApiKeySettings
from rainmaker.patterns.api_keys.tables import keys

PATTERN_ID = "api-keys"
LOOKUP_LENGTH = 12  # hex characters: 48 bits, unique by the column's constraint
SECRET_BYTES = 24  # 192 bits of secret, 32 URL-safe characters


def digest(secret: str) -> str:
    """The stored form of a key: keys are random, so a fast hash is the right one."""
    return hashlib.sha256(secret.encode()).hexdigest()


class SqlApiKeyStore:
    """The :class:`~rainmaker.capabilities.api_keys.ApiKeyStore` of ``api-keys``."""

    def __init__(self, db: SqlDatabase, settings: ApiKeySettings) -> None:
        self.db = db
        self.settings = settings
        self.prefix = settings.prefix
        self._known = settings.known_scopes()
        self._touch = timedelta(seconds=settings.touch_interval)

    @property
    def known_scopes(self) -> frozenset[str]:
        return self._known

    # -- issuing ------------------------------------------------------------------------------

    def _check_scopes(self, scopes: Sequence[str]) -> tuple[str, ...]:
        unknown = sorted(set(scopes) - self._known)
        if unknown:
            raise UnknownScopeError(
                f"unknown scope {', '.join(map(repr, unknown))}; keys may hold "
                f"{', '.join(map(repr, sorted(self._known)))}",
                pattern_id=PATTERN_ID,
            )
        return tuple(dict.fromkeys(scopes))  # de-duplicated, order kept

    def _check_expiry(self, expires_at: datetime | None, now: datetime) -> datetime | None:
        if expires_at is not None:  # naive is taken as UTC, aware is converted to UTC
            expires_at = (
                expires_at.replace(tzinfo=UTC)
                if expires_at.tzinfo is None
                else expires_at.astimezone(UTC)
            )
        longest = self.settings.max_lifetime_days
        if expires_at is None:
            if longest is not None:
                raise InvalidExpiryError(
                    f"keys must expire within {longest} days: give expires_at",
                    pattern_id=PATTERN_ID,
                )
            return None
        if expires_at <= now:
            raise InvalidExpiryError("expires_at is in the past", pattern_id=PATTERN_ID)
        if longest is not None and expires_at > now + timedelta(days=longest):
            raise InvalidExpiryError(
                f"keys expire within {longest} days at most", pattern_id=PATTERN_ID
            )
        return expires_at

    def _new_secret(self) -> tuple[str, str]:
        lookup = secrets.token_hex(LOOKUP_LENGTH // 2)
        public = f"{self.prefix}{lookup}"
        return public, f"{public}_{secrets.token_urlsafe(SECRET_BYTES)}"

    async def create(
        self,
        owner_id: str,
        name: str,
        scopes: Sequence[str] = (),
        *,
        expires_at: datetime | None = None,
    ) -> IssuedKey:
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidInputError("a key's name has 1 to 100 characters", pattern_id=PATTERN_ID)
        checked = self._check_scopes(scopes)
        now = utcnow()
        expiry = self._check_expiry(expires_at, now)
        async with self.db.transaction() as session:
            live = await session.scalar(
                sa.select(sa.func.count())
                .select_from(keys)
                .where(keys.c.owner_id == owner_id, keys.c.revoked_at.is_(None))
            )
            if int(live or 0) >= self.settings.max_keys:
                raise ConflictError(
                    f"an owner holds at most {self.settings.max_keys} live keys: revoke one",
                    pattern_id=PATTERN_ID,
                )
            return await self._insert(session, owner_id, name, checked, expiry, now, None)

    async def _insert(
        self,
        session: Any,
        owner_id: str,
        name: str,
        scopes: tuple[str, ...],
        expires_at: datetime | None,
        now: datetime,
        rotated_from: str | None,
    ) -> IssuedKey:
        public, secret = self._new_secret()
        key = ApiKey(
            id=str(uuid.uuid4()),
            owner_id=owner_id,
            name=name,
            prefix=public,
            scopes=scopes,
            created_at=now,
            expires_at=expires_at,
            last_used_at=None,
            last_used_from=None,
            revoked_at=None,
            rotated_from=rotated_from,
        )
        await session.execute(
            sa.insert(keys).values(
                id=key.id,
                owner_id=owner_id,
                name=name,
                prefix=public,
                secret_hash=digest(secret),
                scopes=list(scopes),
                created_at=now,
                expires_at=expires_at,
                rotated_from=rotated_from,
            )
        )
        return IssuedKey(key, secret)

    # -- reading and changing -----------------------------------------------------------------

    async def list_for(self, owner_id: str) -> list[ApiKey]:
        async with self.db.session() as session:
            rows = await session.execute(
                sa.select(keys)
                .where(keys.c.owner_id == owner_id)
                .order_by(keys.c.created_at.desc(), keys.c.id)
            )
            return [_key(row._mapping) for row in rows]

    async def _owned(self, session: Any, owner_id: str, key_id: str) -> Any:
        row = (
            await session.execute(
                sa.select(keys)
                .where(keys.c.id == key_id, keys.c.owner_id == owner_id)
                .with_for_update()
            )
        ).first()
        if row is None:
            raise ApiKeyNotFoundError(f"you have no API key {key_id}", pattern_id=PATTERN_ID)
        return row._mapping

    async def revoke(self, owner_id: str, key_id: str) -> ApiKey:
        async with self.db.transaction() as session:
            row = dict(await self._owned(session, owner_id, key_id))
            if row["revoked_at"] is None:
                row["revoked_at"] = utcnow()
                await session.execute(
                    sa.update(keys).where(keys.c.id == key_id).values(revoked_at=row["revoked_at"])
                )
        return _key(row)

    async def rotate(self, owner_id: str, key_id: str, *, overlap: float) -> IssuedKey:
        if not 0 <= overlap <= 30 * 86_400:
            raise InvalidInputError(
                "overlap is 0 to 2592000 seconds (30 days)", pattern_id=PATTERN_ID
            )
        now = utcnow()
        async with self.db.transaction() as session:
            old = await self._owned(session, owner_id, key_id)
            if old["revoked_at"] is not None:
                raise ApiKeyRevokedError("a revoked key cannot be rotated", pattern_id=PATTERN_ID)
            if old["expires_at"] is not None and old["expires_at"] <= now:
                raise ApiKeyExpiredError("an expired key cannot be rotated", pattern_id=PATTERN_ID)
            # The old key's end: the overlap, never later than it would have ended anyway.
            end = now + timedelta(seconds=overlap)
            if old["expires_at"] is not None:
                end = min(end, old["expires_at"])
            await session.execute(sa.update(keys).where(keys.c.id == key_id).values(expires_at=end))
            return await self._insert(
                session,
                owner_id,
                old["name"],
                tuple(old["scopes"]),
                old["expires_at"],
                now,
                key_id,
            )

    # -- verifying ----------------------------------------------------------------------------

    async def verify(self, secret: str, *, client: str | None = None) -> ApiKey:
        end = len(self.prefix) + LOOKUP_LENGTH
        public = secret[:end]
        if not secret.startswith(self.prefix) or secret[end : end + 1] != "_":
            raise InvalidApiKeyError(
                f"not an API key: keys look like {self.prefix}<id>_<secret>",
                pattern_id=PATTERN_ID,
            )
        # One block for the read and the (rare) write of the last use: it joins the
        # caller's unit of work (ApiKeyCredentials reads the owner in the same one), and a
        # unit costs more than the indexed read itself (pool checkout, commit, reset).
        async with self.db.session() as session:
            row = (await session.execute(_BY_PREFIX, {"prefix": public})).first()
            # Compared even when no row matched, so both answers take the same time.
            stored = row._mapping["secret_hash"] if row is not None else "0" * 64
            if not hmac.compare_digest(stored, digest(secret)) or row is None:
                raise InvalidApiKeyError("unknown API key", pattern_id=PATTERN_ID)
            key = _key(row._mapping)
            now = utcnow()
            if key.revoked_at is not None:
                raise ApiKeyRevokedError(
                    f"API key {key.prefix}… was revoked", pattern_id=PATTERN_ID
                )
            if key.expires_at is not None and key.expires_at <= now:
                raise ApiKeyExpiredError(
                    f"API key {key.prefix}… has expired", pattern_id=PATTERN_ID
                )
            if key.last_used_at is None or now - key.last_used_at >= self._touch:
                await session.execute(
                    sa.update(keys)
                    .where(keys.c.id == key.id)
                    .values(last_used_at=now, last_used_from=(client or None) and client[:45])
                )
                key = _replace_use(key, now, client)
        return key


# Built once: verify runs on every request a key authenticates.
_BY_PREFIX = sa.select(keys).where(keys.c.prefix == sa.bindparam("prefix"))


def _replace_use(key: ApiKey, now: datetime, client: str | None) -> ApiKey:
    from dataclasses import replace

    return replace(key, last_used_at=now, last_used_from=client[:45] if client else None)


def _key(row: Any) -> ApiKey:
    return ApiKey(
        id=row["id"],
        owner_id=row["owner_id"],
        name=row["name"],
        prefix=row["prefix"],
        scopes=tuple(row["scopes"] or ()),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        last_used_at=row["last_used_at"],
        last_used_from=row["last_used_from"],
        revoked_at=row["revoked_at"],
        rotated_from=row["rotated_from"],
    )
