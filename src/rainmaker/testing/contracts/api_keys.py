"""The ``ApiKeys`` contract: behaviour every
:class:`~rainmaker.capabilities.api_keys.ApiKeyStore` provider must show. ``api-keys`` runs
it on SQLite, PostgreSQL and MySQL/MariaDB; so can yours.

How to run it against your own provider: subclass :class:`ApiKeyStoreContract` in a test
module and define one fixture, ``api_key_store``, returning a started store that declares
the scopes ``projects:read`` and ``projects:write`` (besides ``api-keys:manage``)::

    class TestMyKeys(ApiKeyStoreContract):
        @pytest.fixture
        async def api_key_store(self, pattern_loader) -> ApiKeyStore:
            loaded = pattern_loader(my_pattern, {"scopes": {"projects:read": "…",
                                                            "projects:write": "…"}})
            await loaded.start()
            return loaded.provided["ApiKeys"]

Owners are fresh random ids in every test, so a shared database needs no cleaning. No
test waits for a clock: expiry is reached by rotating with no overlap.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from rainmaker import utcnow
from rainmaker.capabilities.api_keys import (
    MANAGE_SCOPE,
    ApiKeyExpiredError,
    ApiKeyNotFoundError,
    ApiKeyRevokedError,
    ApiKeyStore,
    InvalidApiKeyError,
    InvalidExpiryError,
    UnknownScopeError,
)

__all__ = ["ApiKeyStoreContract"]

SCOPES = ("projects:read", "projects:write")


def owner() -> str:
    return f"owner-{uuid.uuid4().hex[:12]}"


@pytest.mark.asyncio
class ApiKeyStoreContract:
    """The behaviour; a subclass provides the ``api_key_store`` fixture."""

    async def test_is_a_store_knowing_its_scopes(self, api_key_store: ApiKeyStore) -> None:
        assert isinstance(api_key_store, ApiKeyStore)
        assert {*SCOPES, MANAGE_SCOPE} <= api_key_store.known_scopes

    async def test_a_new_key_is_shown_once_and_verifies(self, api_key_store: ApiKeyStore) -> None:
        ada = owner()
        issued = await api_key_store.create(ada, "ci", ["projects:write"])
        assert issued.secret.startswith(issued.key.prefix)
        assert len(issued.secret) >= len(issued.key.prefix) + 24  # a real secret follows
        assert issued.as_dict()["key"] == issued.secret
        listed = await api_key_store.list_for(ada)
        assert [k.id for k in listed] == [issued.key.id]
        assert issued.secret not in str(listed[0].as_dict())  # never shown again
        verified = await api_key_store.verify(issued.secret, client="203.0.113.9")
        assert (verified.id, verified.owner_id, verified.scopes) == (
            issued.key.id,
            ada,
            ("projects:write",),
        )
        again = (await api_key_store.list_for(ada))[0]
        assert again.last_used_at is not None and again.last_used_from == "203.0.113.9"

    async def test_keys_are_distinct_and_unguessable_variants_fail(
        self, api_key_store: ApiKeyStore
    ) -> None:
        ada = owner()
        first = await api_key_store.create(ada, "one")
        second = await api_key_store.create(ada, "two")
        assert first.secret != second.secret and first.key.prefix != second.key.prefix
        forged = first.secret[:-4] + ("aaaa" if not first.secret.endswith("aaaa") else "bbbb")
        for bad in (forged, first.key.prefix, "rk_live_nothing", "", first.secret + "x"):
            with pytest.raises(InvalidApiKeyError):
                await api_key_store.verify(bad)
        # A mix of one key's public part and another's secret is no key either.
        mixed = first.key.prefix + second.secret[len(second.key.prefix) :]
        with pytest.raises(InvalidApiKeyError):
            await api_key_store.verify(mixed)

    async def test_an_unknown_scope_is_refused(self, api_key_store: ApiKeyStore) -> None:
        with pytest.raises(UnknownScopeError, match="billing:write"):
            await api_key_store.create(owner(), "ci", ["projects:read", "billing:write"])

    async def test_an_expiry_in_the_past_is_refused(self, api_key_store: ApiKeyStore) -> None:
        with pytest.raises(InvalidExpiryError):
            await api_key_store.create(owner(), "ci", expires_at=utcnow() - timedelta(days=1))

    async def test_a_future_expiry_is_kept(self, api_key_store: ApiKeyStore) -> None:
        end = (utcnow() + timedelta(days=30)).replace(microsecond=0)
        issued = await api_key_store.create(owner(), "ci", expires_at=end)
        assert (await api_key_store.verify(issued.secret)).expires_at == end

    async def test_times_read_back_as_aware_utc(self, api_key_store: ApiKeyStore) -> None:
        # SQLite has no time zones: a store that handed back what it read would give naive
        # times there and aware ones on PostgreSQL. Every read must say it is UTC.
        ada = owner()
        paris = timezone(timedelta(hours=2))
        end = datetime.now(paris).replace(microsecond=0) + timedelta(days=3)
        issued = await api_key_store.create(ada, "ci", expires_at=end)
        used = await api_key_store.verify(issued.secret, client="203.0.113.9")
        (listed,) = await api_key_store.list_for(ada)
        revoked = await api_key_store.revoke(ada, issued.key.id)
        times = [used.created_at, used.expires_at, listed.created_at, listed.last_used_at]
        times.append(revoked.revoked_at)
        for moment in times:
            assert moment is not None and moment.tzinfo is UTC, moment
        assert listed.expires_at == end  # the same instant, whatever the offset given

    async def test_owners_see_and_revoke_only_their_keys(self, api_key_store: ApiKeyStore) -> None:
        ada, bob = owner(), owner()
        issued = await api_key_store.create(ada, "ci")
        assert await api_key_store.list_for(bob) == []
        with pytest.raises(ApiKeyNotFoundError):
            await api_key_store.revoke(bob, issued.key.id)
        with pytest.raises(ApiKeyNotFoundError):
            await api_key_store.rotate(bob, issued.key.id, overlap=0)
        await api_key_store.verify(issued.secret)  # still fine

    async def test_a_revoked_key_is_refused_at_once(self, api_key_store: ApiKeyStore) -> None:
        ada = owner()
        issued = await api_key_store.create(ada, "ci")
        revoked = await api_key_store.revoke(ada, issued.key.id)
        assert revoked.revoked_at is not None
        with pytest.raises(ApiKeyRevokedError):
            await api_key_store.verify(issued.secret)
        again = await api_key_store.revoke(ada, issued.key.id)  # idempotent
        assert again.revoked_at == revoked.revoked_at
        with pytest.raises(ApiKeyRevokedError):
            await api_key_store.rotate(ada, issued.key.id, overlap=0)

    async def test_rotation_with_overlap_keeps_both_working(
        self, api_key_store: ApiKeyStore
    ) -> None:
        ada = owner()
        old = await api_key_store.create(ada, "deploy", ["projects:read"])
        new = await api_key_store.rotate(ada, old.key.id, overlap=3600)
        assert new.key.rotated_from == old.key.id
        assert (new.key.name, new.key.scopes) == ("deploy", ("projects:read",))
        assert (await api_key_store.verify(old.secret)).id == old.key.id  # overlap
        assert (await api_key_store.verify(new.secret)).id == new.key.id
        listed = {k.id: k for k in await api_key_store.list_for(ada)}
        ends = listed[old.key.id].expires_at
        assert ends is not None and ends <= utcnow() + timedelta(seconds=3601)

    async def test_rotation_without_overlap_expires_the_old_key(
        self, api_key_store: ApiKeyStore
    ) -> None:
        ada = owner()
        old = await api_key_store.create(ada, "deploy")
        new = await api_key_store.rotate(ada, old.key.id, overlap=0)
        with pytest.raises(ApiKeyExpiredError):
            await api_key_store.verify(old.secret)
        await api_key_store.verify(new.secret)
        with pytest.raises(ApiKeyExpiredError):
            await api_key_store.rotate(ada, old.key.id, overlap=0)
