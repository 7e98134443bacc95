"""The ``Auth`` contract: behaviour every
:class:`~rainmaker.capabilities.auth.Authenticator` provider must show.
``auth-jwt`` runs it on SQLite and on PostgreSQL; so can yours (an OAuth pattern, say).

Subclass :class:`AuthContract` in a test module and define one fixture,
``auth_under_test``, returning an :class:`AuthUnderTest`::

    from rainmaker.testing.contracts.auth import AuthContract, AuthUnderTest

    class TestMyAuth(AuthContract):
        @pytest.fixture
        def auth_under_test(self, tmp_path):
            return AuthUnderTest(
                use="my-auth",
                settings={"secret": "…"},
                root=tmp_path,
                refresh=lambda auth, token: auth.refresh(token),  # what your provider calls it
                logout=lambda auth, identity: auth.logout(identity),
            )

The suite composes the provider as instance ``auth``, ``framework-fastapi`` as ``http``, a
contract pattern as ``contract`` (``auth-contract``, defined here: it requires ``Auth``
and ``Database`` and mounts routes guarded through
:func:`~rainmaker.capabilities.auth.auth_guards`, the way any pattern protects its routes)
and ``providers``: capability name -> instance table for what else the provider needs
(``Database`` defaults to SQLite in ``root``). It checks what the
:class:`~rainmaker.capabilities.auth.Authenticator` protocol documents:

- accounts: ``create_user`` (provider defaults or the given roles and scopes), lookup by id
  and by email, emails canonicalised (case, Unicode NFKC) so variants are one account, a
  taken email refused as :class:`~rainmaker.kernel.errors.ConflictError` (409), a refused
  password or address as :class:`~rainmaker.kernel.errors.InvalidInputError` (422);
- credentials: ``authenticate`` returns the account; a wrong password and an unknown email
  are the same :class:`~rainmaker.kernel.errors.UnauthorizedError` (401), so answers never
  tell whether an address has an account;
- sign-in (Auth 1.2): ``sign_in(user, method=...)`` for an account without a second factor
  answers a :class:`~rainmaker.capabilities.auth.TokenPair` whose identity's ``amr`` holds
  the method, and refuses a disabled account;
- tokens: ``issue_tokens`` starts a new session, ``verify_token`` gives its
  :class:`~rainmaker.capabilities.auth.Identity` (roles and scopes of the account),
  ``user_for_token`` the current account; forged, malformed and refresh tokens are refused
  with ``UnauthorizedError``;
- disabling refuses logins and tokens at once and ends sessions; enabling allows logins
  again while old sessions stay ended (refusals are 401 or 403);
- ``on_user_created`` hooks run in the creation's transaction, abort it by raising, have
  their compensations run newest first, and can be removed; ``create_user`` joins the
  caller's ``db.transaction()``;
- the guards over HTTP: missing credentials, bad tokens (401), roles (any of) and scopes
  (all of) (403 ``insufficient_permission``), answered as problem+json; guarded routes are
  marked as authenticated in the OpenAPI document.

Spending a refresh token and ending a session are what makes ``TokenPair.refresh_token``
and ``Identity.session_id`` useful, but the protocol leaves their names to the provider:
pass ``refresh`` (spend a refresh token for the next pair) and ``logout`` (end the
identity's session) to run the session tests — rotation, a reused refresh token refused
and its whole session revoked, one winner when a token is spent twice at once, logout, and
disabling ending sessions. Without them those tests are skipped.

Every test uses fresh email addresses, so one shared database serves them all.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the annotations of the
# contract routes at runtime, and they refer to guards local to ``router()``.

import asyncio
import time
import unicodedata
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
import pytest_asyncio
from fastapi import APIRouter, Depends
from sqlalchemy import Column, MetaData, String, Table, func, insert, select

from rainmaker.capabilities.auth import (
    Auth,
    Authenticator,
    Identity,
    InsufficientPermissionError,
    MissingCredentialsError,
    TokenPair,
    User,
    auth_guards,
    token_claims,
)
from rainmaker.capabilities.database import Database, SqlDatabase
from rainmaker.kernel.application import Application
from rainmaker.kernel.errors import (
    ConflictError,
    InvalidInputError,
    PatternError,
    UnauthorizedError,
)
from rainmaker.kernel.module import Module
from rainmaker.kernel.pattern import Pattern, Settings
from rainmaker.testing.harness import BASE_URL, HTTP_PATTERN, build_app

__all__ = [
    "PASSWORD",
    "AuthContract",
    "AuthUnderTest",
    "LogoutOperation",
    "RefreshOperation",
    "auth_contract_pattern",
]

PASSWORD = "correct horse battery staple"
OTHER_PASSWORD = "a different but long passphrase"
PROBLEM_JSON = "application/problem+json"
ADMIN_ROLES = ("contract-admin", "contract-owner")  # the admin route wants either
REPORT_SCOPES = ("reports:read", "reports:write")  # the reports route wants both
REFUSED = (401, 403)  # a refused account or token: unauthenticated or forbidden

RefreshOperation = Callable[[Authenticator, str], Awaitable[TokenPair]]
"""Spend a refresh token: ``await refresh(auth, refresh_token)`` -> the next pair."""

LogoutOperation = Callable[[Authenticator, Identity], Awaitable[None]]
"""End a session: ``await logout(auth, identity)``."""

Refresh = Callable[[str], Awaitable[TokenPair]]
"""The ``refresh`` fixture: the provider's operation bound to the running provider."""

Logout = Callable[[Identity], Awaitable[None]]
"""The ``logout`` fixture: the provider's operation bound to the running provider."""


@dataclass(frozen=True)
class AuthUnderTest:
    """How to compose the provider, and its session operations (see the module docstring)."""

    use: str
    settings: Mapping[str, Any]
    root: Path
    providers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    refresh: RefreshOperation | None = None
    logout: LogoutOperation | None = None


# -- the contract pattern: a pattern that guards its routes with Auth -------------------------

metadata = MetaData()
profiles_table = Table(
    "contract_auth_profiles",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("note", String(100), nullable=False),
)


class AuthContractSettings(Settings):
    """The contract pattern has no settings."""


class AuthContractModule(Module[AuthContractSettings]):
    """Routes behind each kind of guard, built before ``Auth`` has started."""

    def router(self) -> Any:
        guards = auth_guards(self.ctx.services)
        router = APIRouter()

        @router.get("/me")
        async def me(user: Annotated[User, Depends(guards.current_user)]) -> dict[str, Any]:
            return user.as_dict()

        @router.get("/identity")
        async def identity(
            who: Annotated[Identity, Depends(guards.identity)],
        ) -> Mapping[str, Any]:
            return token_claims(who)

        @router.get("/admin", dependencies=[Depends(guards.require_role(*ADMIN_ROLES))])
        async def admin() -> dict[str, bool]:
            return {"admin": True}

        @router.get("/reports", dependencies=[Depends(guards.require_scope(*REPORT_SCOPES))])
        async def reports() -> dict[str, bool]:
            return {"reports": True}

        return router


def _build(settings: AuthContractSettings, ctx: Any) -> AuthContractModule:
    return AuthContractModule(settings, ctx)


auth_contract_pattern: Pattern[AuthContractSettings] = Pattern(
    id="auth-contract",
    version="1.0.0",
    name="Auth contract routes",
    settings=AuthContractSettings,
    factory=_build,
    requires=[Auth, Database],
    mount="/contract",
)


# -- helpers ----------------------------------------------------------------------------------


class Boom(Exception):
    """Raised by tests to abort a creation or roll a transaction back."""


def new_email(local: str = "contract") -> str:
    """An address no other test uses."""
    return f"{local}-{uuid.uuid4().hex[:12]}@example.com"


def canonical(email: str) -> str:
    """The form every variant of ``email`` must map to (NFKC, case-folded)."""
    return unicodedata.normalize("NFKC", email).strip().casefold()


def fullwidth(text: str) -> str:
    """``text`` in fullwidth forms (U+FF21 for ``A``), which NFKC folds back to ASCII."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def tampered(token: str) -> str:
    """``token`` with one character in its middle changed."""
    middle = len(token) // 2
    replacement = "A" if token[middle] != "A" else "B"
    return token[:middle] + replacement + token[middle + 1 :]


def assert_problem(response: httpx.Response, status: int | tuple[int, ...]) -> dict[str, Any]:
    """``response`` is problem+json with ``status`` (or one of them); its body."""
    allowed = (status,) if isinstance(status, int) else status
    assert response.status_code in allowed, response.text
    assert response.headers["content-type"].split(";")[0].strip() == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code
    return body


def assert_refused(error: PatternError) -> None:
    """A refused account or token: a pattern error answered 401 or 403."""
    assert error.status in REFUSED, f"{type(error).__name__} answers {error.status}"


# -- the suite --------------------------------------------------------------------------------


@pytest.mark.asyncio
class AuthContract:
    """Every ``Auth`` provider passes these tests (subclass and define ``auth_under_test``)."""

    @pytest.fixture
    def auth_under_test(self) -> AuthUnderTest:
        raise NotImplementedError("define the auth_under_test fixture in your subclass")

    def compose(self, under_test: AuthUnderTest) -> Application:
        """The provider as ``auth`` with HTTP, the contract pattern and its providers."""
        patterns: dict[str, Mapping[str, Any]] = {
            "auth": {"use": under_test.use, **under_test.settings},
            "http": {"use": HTTP_PATTERN, "access_log": False},
            "contract": {"use": auth_contract_pattern.id},
        }
        providers = dict(under_test.providers)
        providers.setdefault("Database", {"use": "database-sqlite", "path": "contract-auth.db"})
        for capability, table in providers.items():
            patterns[capability.lower()] = table
        return build_app(
            patterns,
            root=under_test.root,
            name="contract",
            extra_patterns=[auth_contract_pattern],
        )

    @pytest_asyncio.fixture
    async def app(self, auth_under_test: AuthUnderTest) -> AsyncIterator[Application]:
        """The started app, with the contract's table created empty."""
        app = self.compose(auth_under_test)
        async with app.running():
            engine = app.services.require(Database).engine
            async with engine.begin() as connection:
                await connection.run_sync(metadata.drop_all)
                await connection.run_sync(metadata.create_all)
            try:
                yield app
            finally:
                async with engine.begin() as connection:
                    await connection.run_sync(metadata.drop_all)

    @pytest.fixture
    def auth(self, app: Application) -> Authenticator:
        return app.services.require(Auth)

    @pytest.fixture
    def db(self, app: Application) -> SqlDatabase:
        return app.services.require(Database)

    @pytest_asyncio.fixture
    async def client(self, app: Application) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield client

    @pytest.fixture
    def refresh(self, auth_under_test: AuthUnderTest, auth: Authenticator) -> Refresh:
        """``await refresh(token)``; skips the test when the provider gave no operation."""
        operation = auth_under_test.refresh
        if operation is None:
            pytest.skip("the provider under test gave no refresh operation")

        async def spend(token: str) -> TokenPair:
            return await operation(auth, token)

        return spend

    @pytest.fixture
    def logout(self, auth_under_test: AuthUnderTest, auth: Authenticator) -> Logout:
        """``await logout(identity)``; skips the test when the provider gave no operation."""
        operation = auth_under_test.logout
        if operation is None:
            pytest.skip("the provider under test gave no logout operation")

        async def end(identity: Identity) -> None:
            await operation(auth, identity)

        return end

    async def profiles(self, db: SqlDatabase) -> dict[str, str]:
        """What hooks wrote to the contract table: user id -> note."""
        async with db.session() as session:
            rows = await session.execute(select(profiles_table.c.user_id, profiles_table.c.note))
            return {row.user_id: row.note for row in rows}

    # -- the service --------------------------------------------------------------------------

    async def test_provider_registers_an_authenticator_with_guards(
        self, auth: Authenticator
    ) -> None:
        assert isinstance(auth, Authenticator)
        for guard in (
            auth.identity,
            auth.current_user,
            auth.require_role("contract-admin"),
            auth.require_scope("reports:read"),
        ):
            assert callable(guard)

    # -- accounts -----------------------------------------------------------------------------

    async def test_create_user_returns_the_account(self, auth: Authenticator) -> None:
        email = new_email()
        user = await auth.create_user(email, PASSWORD)
        assert isinstance(user, User)
        assert isinstance(user.id, str) and user.id
        assert user.email == email
        assert not user.verified and not user.disabled
        assert all(isinstance(role, str) for role in user.roles)
        assert all(isinstance(scope, str) for scope in user.scopes)
        assert user.created_at <= user.updated_at
        shown = user.as_dict()
        assert set(shown) == {
            "id",
            "email",
            "roles",
            "scopes",
            "verified",
            "disabled",
            "created_at",
            "updated_at",
        }
        assert PASSWORD not in repr(user) and PASSWORD not in str(shown)

    async def test_create_user_takes_roles_scopes_and_verified(self, auth: Authenticator) -> None:
        one = await auth.create_user(new_email(), PASSWORD, role="contract-admin")
        assert one.roles == ("contract-admin",)
        many = await auth.create_user(
            new_email(),
            PASSWORD,
            role=list(ADMIN_ROLES),
            scopes=list(REPORT_SCOPES),
            verified=True,
        )
        assert set(many.roles) == set(ADMIN_ROLES)
        assert set(many.scopes) == set(REPORT_SCOPES)
        assert many.verified
        none = await auth.create_user(new_email(), PASSWORD, role=[], scopes=[])
        assert none.roles == () and none.scopes == ()

    async def test_users_are_found_by_id_and_by_email(self, auth: Authenticator) -> None:
        user = await auth.create_user(new_email(), PASSWORD)
        assert await auth.get_user(user.id) == user
        assert await auth.get_user_by_email(user.email) == user
        assert await auth.get_user(str(uuid.uuid4())) is None
        assert await auth.get_user_by_email(new_email()) is None

    async def test_email_variants_are_one_account(self, auth: Authenticator) -> None:
        token = uuid.uuid4().hex[:12]
        # Upper case, surrounding space and fullwidth letters (NFKC folds them to ASCII).
        written = f"  {fullwidth('Case')}.Contract-{token}@Example.COM "
        plain = f"case.contract-{token}@example.com"
        assert canonical(written) == plain
        user = await auth.create_user(written, PASSWORD)
        assert canonical(user.email) == plain
        for variant in (plain, plain.upper(), f"{fullwidth('case')}.contract-{token}@EXAMPLE.com"):
            found = await auth.get_user_by_email(variant)
            assert found is not None and found.id == user.id, variant
            assert (await auth.authenticate(variant, PASSWORD)).id == user.id
            with pytest.raises(ConflictError):
                await auth.create_user(variant, PASSWORD)

    async def test_a_taken_email_is_a_conflict(self, auth: Authenticator) -> None:
        email = new_email()
        first = await auth.create_user(email, PASSWORD)
        with pytest.raises(ConflictError) as caught:
            await auth.create_user(email, OTHER_PASSWORD, role="contract-admin")
        assert caught.value.status == 409
        # The first account is untouched: same roles, same password.
        assert await auth.get_user_by_email(email) == first
        assert (await auth.authenticate(email, PASSWORD)).id == first.id

    async def test_a_refused_password_is_invalid_input(self, auth: Authenticator) -> None:
        email = new_email()
        for password in ("", "a"):
            with pytest.raises(InvalidInputError) as caught:
                await auth.create_user(email, password)
            assert caught.value.status == 422
        assert await auth.get_user_by_email(email) is None

    async def test_an_impossible_address_is_invalid_input(self, auth: Authenticator) -> None:
        for address in ("not-an-address", "", "two@@example.com"):
            with pytest.raises(InvalidInputError):
                await auth.create_user(address, PASSWORD)

    # -- credentials --------------------------------------------------------------------------

    async def test_authenticate_returns_the_account(self, auth: Authenticator) -> None:
        user = await auth.create_user(new_email(), PASSWORD, role="contract-admin")
        found = await auth.authenticate(user.email, PASSWORD)
        assert found.id == user.id and found.email == user.email
        assert found.roles == user.roles

    async def test_wrong_credentials_are_unauthorized_and_alike(self, auth: Authenticator) -> None:
        user = await auth.create_user(new_email(), PASSWORD)
        with pytest.raises(UnauthorizedError) as wrong_password:
            await auth.authenticate(user.email, OTHER_PASSWORD)
        with pytest.raises(UnauthorizedError) as unknown_email:
            await auth.authenticate(new_email(), PASSWORD)
        assert wrong_password.value.status == 401
        # One answer for both, or the error would tell who has an account.
        assert wrong_password.value.code == unknown_email.value.code
        assert wrong_password.value.message == unknown_email.value.message
        assert (await auth.authenticate(user.email, PASSWORD)).id == user.id

    async def test_a_disabled_account_cannot_authenticate(self, auth: Authenticator) -> None:
        user = await auth.create_user(new_email(), PASSWORD)
        await auth.disable_user(user.id)
        stored = await auth.get_user(user.id)
        assert stored is not None and stored.disabled
        with pytest.raises(PatternError) as caught:
            await auth.authenticate(user.email, PASSWORD)
        assert_refused(caught.value)
        await auth.enable_user(user.id)
        stored = await auth.get_user(user.id)
        assert stored is not None and not stored.disabled
        assert (await auth.authenticate(user.email, PASSWORD)).id == user.id

    async def test_an_account_without_a_password(self, auth: Authenticator) -> None:
        # Auth 1.1: create_user(password=None), for sign-in through another method.
        user = await auth.create_user(new_email(), None, verified=True)
        assert user.verified and not await auth.has_password(user.id)
        assert await auth.has_password((await auth.create_user(new_email(), PASSWORD)).id)
        assert not await auth.has_password("no-such-user")
        with pytest.raises(UnauthorizedError) as no_password:
            await auth.authenticate(user.email, PASSWORD)
        with pytest.raises(UnauthorizedError) as unknown_email:
            await auth.authenticate(new_email(), PASSWORD)
        assert no_password.value.code == unknown_email.value.code
        assert (await auth.issue_tokens(user)).access_token

    # -- tokens -------------------------------------------------------------------------------

    async def test_issue_tokens_hands_out_a_pair(self, auth: Authenticator) -> None:
        user = await auth.create_user(new_email(), PASSWORD)
        pair = await auth.issue_tokens(user)
        assert isinstance(pair, TokenPair)
        assert pair.token_type.lower() == "bearer"
        assert pair.access_token and pair.refresh_token
        assert pair.access_token != pair.refresh_token
        assert 0 < pair.expires_in <= pair.refresh_expires_in
        assert set(pair.as_dict()) == {
            "access_token",
            "token_type",
            "expires_in",
            "refresh_token",
            "refresh_expires_in",
        }

    async def test_sign_in_records_the_first_factor(self, auth: Authenticator) -> None:
        user = await auth.create_user(new_email(), None)
        answer = await auth.sign_in(user, method="oidc")
        assert isinstance(answer, TokenPair)  # the provider's default policy asks no more
        assert "oidc" in (await auth.verify_token(answer.access_token)).amr
        await auth.disable_user(user.id)
        with pytest.raises(PatternError) as caught:
            await auth.sign_in(user, method="oidc")
        assert_refused(caught.value)

    async def test_verify_token_gives_the_identity(self, auth: Authenticator) -> None:
        user = await auth.create_user(
            new_email(), PASSWORD, role=list(ADMIN_ROLES), scopes=list(REPORT_SCOPES)
        )
        before = int(time.time())
        pair = await auth.issue_tokens(user)
        identity = await auth.verify_token(pair.access_token)
        assert isinstance(identity, Identity)
        assert identity.user_id == user.id
        assert identity.roles == frozenset(ADMIN_ROLES)
        assert identity.scopes == frozenset(REPORT_SCOPES)
        assert identity.has_role("contract-owner", "someone-else")
        assert identity.has_scopes(*REPORT_SCOPES) and not identity.has_scopes("reports:delete")
        assert identity.token_id and identity.session_id
        # Clocks are compared in whole seconds; a little slack covers a slow machine.
        assert before - 5 <= identity.issued_at <= int(time.time()) + 5
        assert abs(identity.expires_at - identity.issued_at - pair.expires_in) <= 5

    async def test_each_issue_starts_a_new_session(self, auth: Authenticator) -> None:
        user = await auth.create_user(new_email(), PASSWORD)
        first = await auth.verify_token((await auth.issue_tokens(user)).access_token)
        second = await auth.verify_token((await auth.issue_tokens(user)).access_token)
        assert first.user_id == second.user_id == user.id
        assert first.token_id != second.token_id
        assert first.session_id != second.session_id

    async def test_bad_tokens_are_unauthorized(self, auth: Authenticator) -> None:
        user = await auth.create_user(new_email(), PASSWORD)
        pair = await auth.issue_tokens(user)
        for token in (
            "",
            "not-a-token",
            tampered(pair.access_token),
            pair.access_token + "x",
            pair.refresh_token,  # a refresh token is not an access token
        ):
            with pytest.raises(UnauthorizedError):
                await auth.verify_token(token)
            with pytest.raises(UnauthorizedError):
                await auth.user_for_token(token)

    async def test_user_for_token_reads_the_current_account(self, auth: Authenticator) -> None:
        user = await auth.create_user(new_email(), PASSWORD, scopes=["reports:read"])
        pair = await auth.issue_tokens(user)
        assert await auth.user_for_token(pair.access_token) == await auth.get_user(user.id)

    async def test_disabling_refuses_tokens_at_once(self, auth: Authenticator) -> None:
        user = await auth.create_user(new_email(), PASSWORD)
        pair = await auth.issue_tokens(user)
        await auth.disable_user(user.id)
        with pytest.raises(PatternError) as for_user:
            await auth.user_for_token(pair.access_token)
        assert_refused(for_user.value)
        with pytest.raises(PatternError) as verified:  # known to this process
            await auth.verify_token(pair.access_token)
        assert_refused(verified.value)
        with pytest.raises(PatternError) as issued:
            await auth.issue_tokens(user)
        assert_refused(issued.value)

    async def test_enabling_does_not_revive_old_tokens(self, auth: Authenticator) -> None:
        user = await auth.create_user(new_email(), PASSWORD)
        old = await auth.issue_tokens(user)
        await auth.disable_user(user.id)
        await auth.enable_user(user.id)
        with pytest.raises(PatternError) as caught:
            await auth.user_for_token(old.access_token)
        assert_refused(caught.value)
        fresh = await auth.issue_tokens(await auth.authenticate(user.email, PASSWORD))
        assert (await auth.user_for_token(fresh.access_token)).id == user.id

    # -- user creation hooks and transactions -------------------------------------------------

    async def test_a_hook_runs_in_the_creation_transaction(
        self, auth: Authenticator, db: SqlDatabase
    ) -> None:
        seen: list[tuple[str, bool]] = []

        async def write_profile(user: User) -> None:
            seen.append((user.id, db.in_transaction))
            async with db.session() as session:
                await session.execute(insert(profiles_table).values(user_id=user.id, note="hi"))
            return None

        remove = auth.on_user_created(write_profile)
        try:
            user = await auth.create_user(new_email(), PASSWORD)
        finally:
            remove()
        assert seen == [(user.id, True)]
        assert (await self.profiles(db)) == {user.id: "hi"}
        other = await auth.create_user(new_email(), PASSWORD)  # the hook is gone
        assert [user_id for user_id, _ in seen] == [user.id]
        assert other.id not in await self.profiles(db)

    async def test_a_raising_hook_aborts_the_creation(
        self, auth: Authenticator, db: SqlDatabase
    ) -> None:
        email = new_email()
        undone: list[str] = []

        async def write_profile(user: User) -> Callable[[], Awaitable[None]]:
            async with db.session() as session:
                await session.execute(insert(profiles_table).values(user_id=user.id, note="x"))

            async def compensate() -> None:
                undone.append(user.id)

            return compensate

        async def refuse(user: User) -> None:
            raise Boom("the payment provider said no")

        removers = [auth.on_user_created(write_profile), auth.on_user_created(refuse)]
        try:
            with pytest.raises(Boom):
                await auth.create_user(email, PASSWORD)
        finally:
            for remove in removers:
                remove()
        assert await auth.get_user_by_email(email) is None
        assert await self.profiles(db) == {}  # the hook's write rolled back with the user
        assert len(undone) == 1  # work outside the database was compensated, once
        with pytest.raises(UnauthorizedError):
            await auth.authenticate(email, PASSWORD)
        await auth.create_user(email, PASSWORD)  # no half-made account holds the address

    async def test_compensations_run_newest_first(self, auth: Authenticator) -> None:
        order: list[str] = []

        def compensating(name: str) -> Callable[[User], Awaitable[Callable[[], Awaitable[None]]]]:
            async def hook(user: User) -> Callable[[], Awaitable[None]]:
                async def compensate() -> None:
                    order.append(name)

                return compensate

            return hook

        async def refuse(user: User) -> None:
            raise Boom

        removers = [
            auth.on_user_created(compensating("first")),
            auth.on_user_created(compensating("second")),
            auth.on_user_created(refuse),
        ]
        try:
            with pytest.raises(Boom):
                await auth.create_user(new_email(), PASSWORD)
        finally:
            for remove in removers:
                remove()
        assert order == ["second", "first"]

    async def test_create_user_joins_the_callers_transaction(
        self, auth: Authenticator, db: SqlDatabase
    ) -> None:
        kept, dropped = new_email(), new_email()
        async with db.transaction():
            user = await auth.create_user(kept, PASSWORD)
            async with db.session() as session:
                await session.execute(insert(profiles_table).values(user_id=user.id, note="k"))
        assert await auth.get_user_by_email(kept) is not None
        with pytest.raises(Boom):
            async with db.transaction():
                await auth.create_user(dropped, PASSWORD)
                raise Boom
        assert await auth.get_user_by_email(dropped) is None
        async with db.session() as session:
            assert await session.scalar(select(func.count()).select_from(profiles_table)) == 1

    # -- guards over HTTP ---------------------------------------------------------------------

    async def test_guards_refuse_missing_credentials(self, client: httpx.AsyncClient) -> None:
        for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}):
            for path in ("/contract/me", "/contract/identity", "/contract/admin"):
                answer = await client.get(path, headers=headers)
                body = assert_problem(answer, 401)
                assert body["code"] == MissingCredentialsError.code, (path, headers)
                assert answer.headers["www-authenticate"].startswith("Bearer")

    async def test_guards_refuse_bad_tokens(
        self, auth: Authenticator, client: httpx.AsyncClient
    ) -> None:
        pair = await auth.issue_tokens(await auth.create_user(new_email(), PASSWORD))
        for token in ("not-a-token", tampered(pair.access_token), pair.refresh_token):
            for path in ("/contract/me", "/contract/identity", "/contract/reports"):
                assert_problem(await client.get(path, headers=bearer(token)), 401)

    async def test_identity_and_current_user_guards(
        self, auth: Authenticator, client: httpx.AsyncClient
    ) -> None:
        user = await auth.create_user(new_email(), PASSWORD, role="contract-owner")
        pair = await auth.issue_tokens(user)
        identity = await client.get("/contract/identity", headers=bearer(pair.access_token))
        assert identity.status_code == 200, identity.text
        assert identity.json()["sub"] == user.id
        assert identity.json()["roles"] == ["contract-owner"]
        me = await client.get("/contract/me", headers=bearer(pair.access_token))
        assert me.status_code == 200, me.text
        assert me.json() == user.as_dict()

    async def test_role_guard_wants_any_of_its_roles(
        self, auth: Authenticator, client: httpx.AsyncClient
    ) -> None:
        plain = await auth.issue_tokens(await auth.create_user(new_email(), PASSWORD, role=[]))
        refused = await client.get("/contract/admin", headers=bearer(plain.access_token))
        assert assert_problem(refused, 403)["code"] == InsufficientPermissionError.code
        for role in ADMIN_ROLES:
            user = await auth.create_user(new_email(), PASSWORD, role=role)
            pair = await auth.issue_tokens(user)
            allowed = await client.get("/contract/admin", headers=bearer(pair.access_token))
            assert allowed.status_code == 200, allowed.text

    async def test_scope_guard_wants_all_of_its_scopes(
        self, auth: Authenticator, client: httpx.AsyncClient
    ) -> None:
        some = await auth.create_user(new_email(), PASSWORD, scopes=["reports:read"])
        partial = await auth.issue_tokens(some)
        refused = await client.get("/contract/reports", headers=bearer(partial.access_token))
        body = assert_problem(refused, 403)
        assert body["code"] == InsufficientPermissionError.code
        assert "reports:write" in body["detail"]  # it says what is missing
        full = await auth.create_user(new_email(), PASSWORD, scopes=list(REPORT_SCOPES))
        pair = await auth.issue_tokens(full)
        allowed = await client.get("/contract/reports", headers=bearer(pair.access_token))
        assert allowed.status_code == 200, allowed.text

    async def test_current_user_guard_refuses_a_disabled_account(
        self, auth: Authenticator, client: httpx.AsyncClient
    ) -> None:
        user = await auth.create_user(new_email(), PASSWORD)
        pair = await auth.issue_tokens(user)
        assert (await client.get("/contract/me", headers=bearer(pair.access_token))).is_success
        await auth.disable_user(user.id)
        assert_problem(await client.get("/contract/me", headers=bearer(pair.access_token)), REFUSED)

    async def test_guarded_routes_are_authenticated_in_openapi(
        self, client: httpx.AsyncClient
    ) -> None:
        document = (await client.get("/openapi.json")).json()
        schemes = document["components"]["securitySchemes"]
        bearer_schemes = {
            name
            for name, scheme in schemes.items()
            if scheme.get("type") == "http" and scheme.get("scheme", "").lower() == "bearer"
        }
        assert bearer_schemes, schemes
        for path in ("/contract/me", "/contract/identity", "/contract/admin", "/contract/reports"):
            security = document["paths"][path]["get"].get("security", [])
            assert any(set(entry) & bearer_schemes for entry in security), (path, security)

    # -- sessions (needs the provider's refresh and logout operations) ------------------------

    async def test_refresh_rotates_within_the_session(
        self, auth: Authenticator, refresh: Refresh
    ) -> None:
        user = await auth.create_user(new_email(), PASSWORD, role="contract-admin")
        first = await auth.issue_tokens(user)
        session = (await auth.verify_token(first.access_token)).session_id
        second = await refresh(first.refresh_token)
        assert isinstance(second, TokenPair)
        assert second.refresh_token != first.refresh_token
        assert second.access_token != first.access_token
        identity = await auth.verify_token(second.access_token)
        assert identity.user_id == user.id and identity.session_id == session
        assert identity.roles == frozenset({"contract-admin"})
        third = await refresh(second.refresh_token)  # the successor spends normally
        assert (await auth.verify_token(third.access_token)).session_id == session

    async def test_a_reused_refresh_token_revokes_its_session(
        self, auth: Authenticator, refresh: Refresh
    ) -> None:
        user = await auth.create_user(new_email(), PASSWORD)
        first = await auth.issue_tokens(user)
        other_session = await auth.issue_tokens(user)
        second = await refresh(first.refresh_token)
        with pytest.raises(UnauthorizedError):
            await refresh(first.refresh_token)  # spent: a thief or a replay
        # Which of the two holders is the thief is unknown, so the whole session ends.
        with pytest.raises(UnauthorizedError):
            await refresh(second.refresh_token)
        # Other sessions of the same account are not affected.
        kept = await refresh(other_session.refresh_token)
        assert (await auth.verify_token(kept.access_token)).user_id == user.id

    async def test_a_refresh_token_spent_twice_at_once_has_one_winner(
        self, auth: Authenticator, refresh: Refresh
    ) -> None:
        pair = await auth.issue_tokens(await auth.create_user(new_email(), PASSWORD))
        outcomes = await asyncio.gather(
            refresh(pair.refresh_token), refresh(pair.refresh_token), return_exceptions=True
        )
        winners = [o for o in outcomes if isinstance(o, TokenPair)]
        losers = [o for o in outcomes if not isinstance(o, TokenPair)]
        assert len(winners) == 1, outcomes
        assert all(isinstance(o, UnauthorizedError) for o in losers), outcomes

    async def test_refresh_refuses_what_is_not_a_refresh_token(
        self, auth: Authenticator, refresh: Refresh
    ) -> None:
        pair = await auth.issue_tokens(await auth.create_user(new_email(), PASSWORD))
        for token in ("not-a-token", pair.access_token, tampered(pair.refresh_token)):
            with pytest.raises(UnauthorizedError):
                await refresh(token)
        good = await refresh(pair.refresh_token)  # the real one is still good
        assert isinstance(good, TokenPair)

    async def test_logout_ends_the_session(
        self, auth: Authenticator, refresh: Refresh, logout: Logout, client: httpx.AsyncClient
    ) -> None:
        user = await auth.create_user(new_email(), PASSWORD)
        ending, staying = await auth.issue_tokens(user), await auth.issue_tokens(user)
        await logout(await auth.verify_token(ending.access_token))
        with pytest.raises(UnauthorizedError):
            await auth.verify_token(ending.access_token)
        with pytest.raises(UnauthorizedError):
            await auth.user_for_token(ending.access_token)
        with pytest.raises(UnauthorizedError):
            await refresh(ending.refresh_token)
        assert_problem(
            await client.get("/contract/identity", headers=bearer(ending.access_token)), 401
        )
        assert (await auth.user_for_token(staying.access_token)).id == user.id
        assert isinstance(await refresh(staying.refresh_token), TokenPair)

    async def test_disabling_ends_every_session(
        self, auth: Authenticator, refresh: Refresh
    ) -> None:
        user = await auth.create_user(new_email(), PASSWORD)
        pairs = [await auth.issue_tokens(user), await auth.issue_tokens(user)]
        await auth.disable_user(user.id)
        for pair in pairs:
            with pytest.raises(PatternError) as caught:
                await refresh(pair.refresh_token)
            assert_refused(caught.value)
        await auth.enable_user(user.id)
        for pair in pairs:  # enabling does not bring the old sessions back
            with pytest.raises(PatternError) as caught:
                await refresh(pair.refresh_token)
            assert_refused(caught.value)
        fresh = await refresh((await auth.issue_tokens(user)).refresh_token)
        assert (await auth.user_for_token(fresh.access_token)).id == user.id
