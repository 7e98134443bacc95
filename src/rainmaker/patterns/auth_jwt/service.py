"""The ``Auth`` service of ``auth-jwt``: what other patterns and the HTTP routes call.

It ties the parts together: the user repository, the password hasher and policy, the
token codec and key ring, refresh-token rotation, one-time email tokens, attempt limits
and account emails. Each public method is one account operation; the HTTP routes are thin
wrappers around them.

Revocation, in two strengths:

- :meth:`verify_token` (the ``identity`` guard and role/scope guards) checks the token and
  what *this process* knows: users disabled here or at start, access tokens logged out
  here. Other processes learn of a disable within ``access_ttl`` at the latest.
- :meth:`user_for_token` (the ``current_user`` guard) also reads the user row, so a
  disabled account, a deleted one, or a token issued before a password change is refused
  at once everywhere; logged-out tokens are shared through ``Cache`` when one runs.

Addresses: an account keeps its address as typed (:func:`~.users.mailbox_address`) and is
found, kept unique and attempt-limited under one key, :func:`~.users.canonical_email`.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC
from typing import Any

from rainmaker import NotFoundError, RateLimitedError, UnavailableError
from rainmaker.capabilities.auth import Identity, TokenPair, User, UserCreatedHook
from rainmaker.capabilities.cache import CacheBackend
from rainmaker.capabilities.database import SqlDatabase
from rainmaker.capabilities.jobs import JobQueue
from rainmaker.http import AuthGuards
from rainmaker.patterns.auth_jwt.emails import AccountMailer, EmailJob
from rainmaker.patterns.auth_jwt.errors import (
    AccountDisabledError,
    EmailNotVerifiedError,
    EmailTakenError,
    InvalidCredentialsError,
    InvalidTokenError,
    PasswordRejectedError,
    RegistrationClosedError,
)
from rainmaker.patterns.auth_jwt.one_time_tokens import OneTimeTokenStore
from rainmaker.patterns.auth_jwt.passwords import (
    PasswordHasher,
    PasswordPolicyChecker,
    normalise_password,
)
from rainmaker.patterns.auth_jwt.rate_limit import AttemptCounter
from rainmaker.patterns.auth_jwt.refresh import Family, RefreshTokenStore, Spent
from rainmaker.patterns.auth_jwt.settings import AuthSettings
from rainmaker.patterns.auth_jwt.tokens import TokenCodec
from rainmaker.patterns.auth_jwt.two_factor import PASSWORD_AMR, Challenge, TwoFactor, amr_of
from rainmaker.patterns.auth_jwt.users import (
    UserRecord,
    UserRepository,
    canonical_email,
    mailbox_address,
    utcnow,
)

MAX_LOCAL_DENIALS = 100_000
# The stored hash of an account created without a password (a marker, not a password).
UNUSABLE_PASSWORD_PREFIX = "!"  # noqa: S105


class LocalRevocations:
    """What this process knows is revoked: disabled users and logged-out access tokens."""

    def __init__(self) -> None:
        self.disabled: set[str] = set()
        self._denied: dict[str, int] = {}

    def deny(self, jti: str, expires_at: int) -> None:
        """Refuse the access token ``jti`` until it expires anyway."""
        self._denied[jti] = expires_at
        if len(self._denied) > MAX_LOCAL_DENIALS:
            now = int(time.time())
            self._denied = {k: exp for k, exp in self._denied.items() if exp > now}

    def denied(self, jti: str) -> bool:
        return jti in self._denied


class JwtAuth:
    """The :class:`~rainmaker.capabilities.auth.Authenticator` of ``auth-jwt``."""

    def __init__(
        self,
        settings: AuthSettings,
        *,
        db: SqlDatabase,
        codec: TokenCodec,
        hasher: PasswordHasher,
        policy: PasswordPolicyChecker,
        limiter: AttemptCounter,
        mail: AccountMailer,
        cache: CacheBackend | None,
        pattern_id: str,
        log: Any,
        uniform_register: bool = False,
    ) -> None:
        self.settings = settings
        self.db = db
        self.codec = codec
        self.hasher = hasher
        self.policy = policy
        self.limiter = limiter
        self.mail = mail
        self.cache = cache
        self.pattern_id = pattern_id
        self.log = log
        self.uniform_register = uniform_register
        self.users = UserRepository(db, pattern_id=pattern_id)
        self.refresh_tokens = RefreshTokenStore(
            db, pattern_id=pattern_id, idle_timeout=settings.refresh_idle_timeout
        )
        self.one_time = OneTimeTokenStore(db, pattern_id=pattern_id)
        self.revocations = LocalRevocations()
        self.guards = AuthGuards(lambda: self)
        self._tasks: set[asyncio.Task[None]] = set()
        self._user_created_hooks: list[UserCreatedHook] = []
        self._access_ttl = settings.access_ttl.total_seconds()
        self._limits = settings.rate_limits
        # Set by the module when a Jobs capability is composed: account emails then go
        # through a registered job, enqueued in the caller's transaction (durable).
        self.jobs: JobQueue | None = None
        self.email_job: str | None = None
        # Set by the module when two_factor.enabled: password logins may then answer a
        # second-factor challenge instead of tokens.
        self.two_factor: TwoFactor | None = None

    def use_jobs(self, jobs: JobQueue, job_name: str) -> None:
        """Send account emails through ``jobs`` (job ``job_name`` runs :meth:`run_email_job`)."""
        self.jobs = jobs
        self.email_job = job_name

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Load disabled users and prepare the dummy hash."""
        self.revocations.disabled = await self.users.disabled_ids()
        await self.hasher.start()

    async def stop(self, timeout: float = 10.0) -> None:
        """Wait (bounded) for emails still being sent."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in self._tasks:
            task.cancel()

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("auth.background_failed", error=repr(task.exception()))

    def _after_commit(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Start ``work`` in the background once the caller's transaction commits."""
        if self.db.in_transaction:
            self.db.on_commit(lambda: self._background(work()))
        else:
            self._background(work())

    async def drain(self) -> None:
        """Wait until background work (emails) has finished; for tests and shutdown."""
        while self._tasks:
            await asyncio.gather(*set(self._tasks), return_exceptions=True)

    # -- guards ----------------------------------------------------------------------------

    @property
    def identity(self) -> Callable[..., Awaitable[Identity]]:
        """Guard: the verified access token's identity (no database read)."""
        return self.guards.identity

    @property
    def current_user(self) -> Callable[..., Awaitable[User]]:
        """Guard: the token's user, read from the database."""
        return self.guards.current_user

    def require_role(self, *roles: str) -> Callable[..., Awaitable[Identity]]:
        """Guard: an identity with at least one of ``roles``."""
        return self.guards.require_role(*roles)

    def require_scope(self, *scopes: str) -> Callable[..., Awaitable[Identity]]:
        """Guard: an identity with every one of ``scopes``."""
        return self.guards.require_scope(*scopes)

    # -- accounts --------------------------------------------------------------------------

    async def create_user(
        self,
        email: str,
        password: str | None,
        *,
        role: str | Sequence[str] | None = None,
        scopes: Sequence[str] | None = None,
        verified: bool = False,
    ) -> User:
        """Create an account; joins the caller's ``db.transaction()`` when one is open.

        The password is checked against the policy and hashed *before* the database is
        touched, so no connection is held while argon2 runs. ``password=None`` stores an
        unusable hash (an account signed in only through another method, e.g. OAuth).
        """
        record = await self._new_record(
            email, password, role=role, scopes=scopes, verified=verified
        )
        return await self._store(record)

    async def _new_record(
        self,
        email: str,
        password: str | None,
        *,
        role: str | Sequence[str] | None = None,
        scopes: Sequence[str] | None = None,
        verified: bool = False,
    ) -> UserRecord:
        """A checked, hashed account not yet stored (no connection is held while hashing)."""
        address = mailbox_address(email, pattern_id=self.pattern_id)
        checked = None if password is None else self.policy.check(password, email=address)
        if role is None:
            roles = tuple(self.settings.default_roles)
        else:
            roles = (role,) if isinstance(role, str) else tuple(role)
        chosen_scopes = tuple(self.settings.default_scopes if scopes is None else scopes)
        if await self.users.by_email(address.casefold()) is not None:
            # The insert would fail anyway; failing first spares the hash.
            raise EmailTakenError(
                "an account with this email address already exists; log in or reset the password",
                pattern_id=self.pattern_id,
            )
        if checked is None:
            # No argon2 string starts with "!": verify() never matches it (Django's idea).
            password_hash = UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(24)
        else:
            password_hash = await self.hasher.hash(checked)
        return UserRecord.new(
            address, password_hash, roles=roles, scopes=chosen_scopes, verified=verified
        )

    async def _store(self, record: UserRecord) -> User:
        """Insert a prepared account (with the user-created hooks) and return it."""
        user = record.to_user()
        if not self._user_created_hooks:
            await self.users.insert(record)
        else:
            await self._insert_with_hooks(record, user)
        self.log.info("auth.user_created", user_id=record.id)
        return user

    def on_user_created(self, hook: UserCreatedHook) -> Callable[[], None]:
        """Run ``hook(user)`` in the transaction of every new user (see ``Authenticator``)."""
        self._user_created_hooks.append(hook)

        def remove() -> None:
            if hook in self._user_created_hooks:
                self._user_created_hooks.remove(hook)

        return remove

    async def _insert_with_hooks(self, record: UserRecord, user: User) -> None:
        """Insert the user and run the hooks in one transaction; undo hooks on failure."""
        compensations: list[Callable[[], Awaitable[None]]] = []
        try:
            # A savepoint when the caller has a transaction open, our own unit otherwise, so
            # a failing hook never leaves the user row behind.
            async with self.db.transaction():
                await self.users.insert(record)
                for hook in list(self._user_created_hooks):
                    compensation = await hook(user)
                    if compensation is not None:
                        compensations.append(compensation)
        except BaseException:
            for compensation in reversed(compensations):
                try:
                    await compensation()
                except Exception as error:
                    self.log.error(
                        "auth.user_created_compensation_failed",
                        user_id=record.id,
                        error=repr(error),
                    )
            raise

    async def register(self, email: str, password: str, *, client: str) -> User | None:
        """Self-registration (``POST /register``): limits, default roles, verification mail.

        With :attr:`uniform_register` a taken address is not an error: its owner is
        emailed that someone tried to register it, and ``None`` comes back, so the route
        answers exactly as for a new account. Everything that differs before that point
        depends on the request alone (an invalid address, a refused password), and the
        taken path hashes the password too, so neither answer nor time tells them apart.
        """
        if not self.settings.allow_registration:
            raise RegistrationClosedError(
                "self-registration is turned off for this app", pattern_id=self.pattern_id
            )
        await self.limiter.hit(
            "register-addr", client, self._limits.register_per_address, what="registrations"
        )
        if not self.uniform_register:
            record = await self._new_record(email, password)
            # One unit: with Jobs, the verification job commits with the account or not at all.
            async with self.db.transaction():
                user = await self._store(record)
                await self.request_verification(user.id)
            return user
        address = mailbox_address(email, pattern_id=self.pattern_id)
        checked = self.policy.check(password, email=address)
        existing = await self.users.by_email(address.casefold())
        if existing is None:
            try:
                record = await self._new_record(email, password)
                async with self.db.transaction():
                    user = await self._store(record)
                    await self.request_verification(user.id)
            except EmailTakenError:
                pass  # registered a moment ago by a concurrent request: the taken path
            else:
                return user
        else:
            await self.hasher.hash(checked)  # the cost of a new account, so time tells nothing
        canonical = address.casefold()
        if self.jobs is not None:
            await self._enqueue_email("exists", canonical)
        else:
            self._after_commit(lambda: self._send_account_exists(canonical))
        return None

    async def _send_account_exists(self, canonical: str, *, raise_errors: bool = False) -> None:
        """Tell the owner someone tried to register their address (a few times an hour)."""
        record = await self.users.by_email(canonical)
        if record is None:
            return
        try:
            # The reset limit bounds these mails too, so the form cannot mail-bomb an owner.
            await self.limiter.hit(
                "exists-acct", canonical, self._limits.reset_per_account, what="notices"
            )
        except RateLimitedError:
            self.log.info("auth.account_exists_notice_limited", user_id=record.id)
            return
        await self.mail.send("exists", record.email, raise_errors=raise_errors)

    async def has_password(self, user_id: str) -> bool:
        """Whether this account has a usable password (``False`` for an unknown id)."""
        record = await self.users.by_id(user_id)
        return record is not None and not record.password_hash.startswith(
            UNUSABLE_PASSWORD_PREFIX
        )

    async def get_user(self, user_id: str) -> User | None:
        """The account with ``user_id``, if any."""
        record = await self.users.by_id(user_id)
        return record.to_user() if record is not None else None

    async def get_user_by_email(self, email: str) -> User | None:
        """The account with this email (compared canonically), if any."""
        record = await self.users.by_email(self._account_key(email))
        return record.to_user() if record is not None else None

    async def disable_user(self, user_id: str) -> None:
        """Disable the account, end its sessions and refuse its access tokens from now on."""
        if not await self.users.update(user_id, disabled=True, bump_version=True):
            raise NotFoundError(f"no user with id {user_id!r}", pattern_id=self.pattern_id)
        await self.refresh_tokens.revoke_user(user_id)
        # A reset link mailed before the disable must not work after a later enable.
        await self.one_time.spend_all(user_id, ("reset",))
        self.revocations.disabled.add(user_id)
        self.log.info("auth.user_disabled", user_id=user_id)

    async def enable_user(self, user_id: str) -> None:
        """Allow the account again (sessions ended by the disable stay ended)."""
        if not await self.users.update(user_id, disabled=False):
            raise NotFoundError(f"no user with id {user_id!r}", pattern_id=self.pattern_id)
        self.revocations.disabled.discard(user_id)
        self.log.info("auth.user_enabled", user_id=user_id)

    # -- credentials -----------------------------------------------------------------------

    async def authenticate(self, email: str, password: str) -> User:
        """The account these credentials open (see :meth:`_check_credentials`)."""
        return (await self._check_credentials(email, password)).to_user()

    async def _check_credentials(self, email: str, password: str) -> UserRecord:
        """The account these credentials open.

        Unknown emails cost one dummy verification, so they take as long as wrong
        passwords and both answer :class:`InvalidCredentialsError`. Disabled and (when
        required) unverified accounts are reported only after a correct password. A hash
        made with older argon2 parameters is replaced.
        """
        self.policy.check_length(password)
        record = await self.users.by_email(self._account_key(email))
        candidate = self._normalised(password)
        if record is None or record.password_hash.startswith(UNUSABLE_PASSWORD_PREFIX):
            # An account without a password costs as long as an unknown address.
            await self.hasher.verify_dummy(candidate)
            raise self._bad_credentials()
        if not await self.hasher.verify(record.password_hash, candidate):
            raise self._bad_credentials()
        if record.disabled:
            raise self._disabled()
        if self.settings.require_verified_email and not record.verified:
            # Say what the email carries: a link only when verify_url is set, else a code.
            how = (
                "follow the link we emailed you"
                if self.settings.verify_url
                else "send the confirmation code we emailed you to the verify route"
            )
            raise EmailNotVerifiedError(
                f"confirm your email address first ({how})",
                pattern_id=self.pattern_id,
                hint="no email? ask for a new one with the verify/resend route",
            )
        if self.hasher.needs_rehash(record.password_hash):
            await self._rehash(record, candidate)
        return record

    async def _rehash(self, record: UserRecord, password: str) -> None:
        await self.users.update(record.id, password_hash=await self.hasher.hash(password))
        self.log.info("auth.password_rehashed", user_id=record.id)

    def _account_key(self, email: str) -> str:
        """The canonical identity of an address: the lookup key, and every per-account
        limiter's subject, so no spelling of an address gets a counter of its own."""
        return canonical_email(email, pattern_id=self.pattern_id)

    @staticmethod
    def _normalised(password: str) -> str:
        return normalise_password(password)

    def _bad_credentials(self) -> InvalidCredentialsError:
        return InvalidCredentialsError(
            "the email address or the password is wrong", pattern_id=self.pattern_id
        )

    async def login(self, email: str, password: str, *, client: str) -> TokenPair | Challenge:
        """``POST /login``: attempt limits, then :meth:`authenticate`, then a new session,
        or the second-factor :class:`~.two_factor.Challenge` the account needs first."""
        self.policy.check_length(password)
        await self.limiter.hit(
            "login-addr", client, self._limits.login_per_address, what="login attempts"
        )
        # An address that cannot be one is a 422 here, counted per client address above.
        await self.limiter.hit(
            "login-acct",
            self._account_key(email),
            self._limits.login_per_account,
            what="login attempts",
        )
        record = await self._check_credentials(email, password)
        return await self._after_first_factor(record, PASSWORD_AMR)

    async def sign_in(self, user: User, *, method: str) -> TokenPair | Challenge:
        """Finish a sign-in whose first factor ``method`` (an ``amr`` value such as
        ``"oidc"``) another pattern checked: the same policy as :meth:`login` after the
        password (see ``Authenticator.sign_in``)."""
        record = await self.users.by_id(user.id)
        if record is None:
            raise NotFoundError(f"no user with id {user.id!r}", pattern_id=self.pattern_id)
        if record.disabled:
            raise self._disabled()
        return await self._after_first_factor(record, (method,))

    async def _after_first_factor(
        self, record: UserRecord, first: Sequence[str]
    ) -> TokenPair | Challenge:
        """The sign-in policy once a first factor is proven, for every way in: the
        second-factor challenge the account needs, or a new session recording ``first``."""
        if self.two_factor is not None:
            challenge = await self.two_factor.challenge(record, first=first)
            if challenge is not None:
                self.log.info(
                    "auth.login_challenged",
                    user_id=record.id,
                    step=challenge.step,
                    amr=list(first),
                )
                return challenge
        pair = await self._new_session(record, amr=first)
        self.log.info("auth.login", user_id=record.id, amr=list(first))
        return pair

    # -- tokens ----------------------------------------------------------------------------

    async def issue_tokens(self, user: User) -> TokenPair:
        """A new session (refresh family) and its first token pair for an enabled user,
        with no sign-in policy: no second factor asked, an empty ``amr`` (see
        ``Authenticator.issue_tokens``; a sign-in calls :meth:`sign_in`)."""
        record = await self.users.by_id(user.id)
        if record is None:
            raise NotFoundError(f"no user with id {user.id!r}", pattern_id=self.pattern_id)
        if record.disabled:
            raise self._disabled()
        return await self._new_session(record)

    def _disabled(self) -> AccountDisabledError:
        return AccountDisabledError(
            "this account is disabled; contact the administrator", pattern_id=self.pattern_id
        )

    async def _new_session(self, user: UserRecord, *, amr: Sequence[str] = ()) -> TokenPair:
        """A new refresh family, ending ``refresh_ttl`` from now, and its first pair;
        ``amr`` names how the user proved who they are (carried by every refresh)."""
        async with self.db.transaction():
            family = await self.refresh_tokens.start_family(user.id, self.settings.refresh_ttl)
            return await self._pair(user, family, amr=amr)

    async def _pair(
        self, user: UserRecord, family: Family, *, amr: Sequence[str] = ()
    ) -> TokenPair:
        """An access token and the next refresh token of ``family``.

        The refresh token lives until the family ends (or sooner, the idle timeout), never
        a fresh ``refresh_ttl``: rotation must not extend a session.
        """
        access = self.codec.access_token(
            user.id,
            self._access_ttl,
            roles=user.roles,
            scopes=user.scopes,
            session_id=family.id,
            version=user.token_version,
            amr=amr,
        )
        expires = self.refresh_tokens.token_expiry(family, utcnow())
        now = int(time.time())
        # Whole seconds, as exp is: every token of a family carries the family's end.
        lifetime = max(1, int(expires.replace(tzinfo=UTC).timestamp()) - now)
        refresh = self.codec.issue(
            "refresh", user.id, lifetime, claims={"fam": family.id, "amr": list(amr)}, now=now
        )
        await self.refresh_tokens.add(
            jti=refresh.jti,
            family_id=family.id,
            user_id=user.id,
            token=refresh.token,
            expires_at=expires,
        )
        return TokenPair(
            access_token=access.token,
            refresh_token=refresh.token,
            expires_in=int(self._access_ttl),
            refresh_expires_in=lifetime,
        )

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Spend a refresh token and hand out the next pair of the same session.

        A spent token presented again revokes its whole session
        (:class:`~rainmaker.patterns.auth_jwt.errors.TokenReusedError`), the tokens a
        concurrent rotation issued included: spending, the user check and the next token
        happen in one transaction holding the family's lock (see
        :mod:`~rainmaker.patterns.auth_jwt.refresh`). Call it outside any transaction of
        yours (the route does): a revocation must commit although the call raises.
        """
        claims = self.codec.decode(refresh_token, "refresh")
        refusal: Exception | None = None
        async with self.db.transaction():
            spent = await self.refresh_tokens.spend(
                refresh_token, jti=claims["jti"], user_id=claims["sub"]
            )
            if isinstance(spent, Spent):
                record = await self.users.by_id(spent.user_id)
                if record is not None and not record.disabled:
                    return await self._pair(record, spent.family, amr=amr_of(claims))
                await self.refresh_tokens.revoke_family(spent.family.id)
                refusal = (
                    self._disabled()
                    if record is not None
                    else InvalidTokenError(
                        "the account no longer exists", pattern_id=self.pattern_id
                    )
                )
            else:
                refusal = spent
        # Raised once the block has committed, so a revocation it made stands.
        raise refusal

    async def verify_token(self, token: str) -> Identity:
        """The identity of a valid access token (see the module docstring on revocation)."""
        return self._identity(self.codec.decode(token, "access"))

    def _identity(self, claims: dict[str, Any]) -> Identity:
        user_id: str = claims["sub"]
        jti: str = claims["jti"]
        if self.revocations.denied(jti):
            raise InvalidTokenError(
                "the token was revoked (logged out); log in again", pattern_id=self.pattern_id
            )
        if user_id in self.revocations.disabled:
            raise self._disabled()
        roles = claims.get("roles") or ()
        scopes = claims.get("scopes") or ()
        session = claims.get("sid")
        amr = claims.get("amr") or ()
        return Identity(
            user_id=user_id,
            roles=frozenset(str(r) for r in roles) if isinstance(roles, list) else frozenset(),
            scopes=frozenset(str(s) for s in scopes) if isinstance(scopes, list) else frozenset(),
            token_id=jti,
            session_id=session if isinstance(session, str) else None,
            issued_at=int(claims["iat"]),
            expires_at=int(claims["exp"]),
            amr=frozenset(str(m) for m in amr) if isinstance(amr, list) else frozenset(),
        )

    async def user_for_token(self, token: str) -> User:
        """The token's account, read from the database and checked (see module docstring)."""
        claims = self.codec.decode(token, "access")
        identity = self._identity(claims)
        version = claims.get("tv", 0)
        if self.cache is not None and await self._shared_denial(identity.token_id):
            raise InvalidTokenError(
                "the token was revoked (logged out); log in again", pattern_id=self.pattern_id
            )
        record = await self.users.by_id(identity.user_id)
        if record is None:
            raise InvalidTokenError("the account no longer exists", pattern_id=self.pattern_id)
        if record.disabled:
            self.revocations.disabled.add(record.id)
            raise self._disabled()
        if version != record.token_version:
            raise InvalidTokenError(
                "the token was issued before the password was changed; log in again",
                pattern_id=self.pattern_id,
            )
        return record.to_user()

    async def _shared_denial(self, jti: str) -> bool:
        assert self.cache is not None
        try:
            return bool(await self.cache.get(f"deny:{jti}"))
        except UnavailableError:
            return False  # the cache is best effort; the local list still applies

    async def logout(self, identity: Identity) -> None:
        """End the token's session and refuse the access token itself from now on."""
        if identity.session_id is not None:
            await self.refresh_tokens.revoke_family(identity.session_id)
        self.revocations.deny(identity.token_id, identity.expires_at)
        if self.cache is not None:
            ttl = max(1, identity.expires_at - int(time.time()) + int(self.codec.leeway))
            try:
                await self.cache.set(f"deny:{identity.token_id}", 1, ttl=ttl)
            except UnavailableError as error:
                self.log.warning("auth.logout_not_shared", error=error.message)
        self.log.info("auth.logout", user_id=identity.user_id)

    # -- passwords -------------------------------------------------------------------------

    async def change_password(
        self, user_id: str, current_password: str, new_password: str
    ) -> TokenPair:
        """Change a password knowing the current one; every session ends, a new one starts.

        Guesses of the current password are attempt-limited per account (counted before
        any hashing), so a stolen access token cannot brute-force it.
        """
        self.policy.check_length(current_password)
        self.policy.check_length(new_password)
        await self.limiter.hit(
            "password-acct",
            user_id,
            self._limits.password_change_per_account,
            what="password changes",
        )
        record = await self.users.by_id(user_id)
        if record is None:
            raise InvalidTokenError("the account no longer exists", pattern_id=self.pattern_id)
        if not await self.hasher.verify(record.password_hash, self._normalised(current_password)):
            raise InvalidCredentialsError(
                "the current password is wrong", pattern_id=self.pattern_id
            )
        checked = self.policy.check(new_password, email=record.email)
        if checked == self._normalised(current_password):
            raise PasswordRejectedError(
                "the new password is the same as the current one", pattern_id=self.pattern_id
            )
        await self._set_password(record, checked)
        self.log.info("auth.password_changed", user_id=user_id)
        fresh = await self.users.by_id(user_id)
        assert fresh is not None
        # The password was proven, not a second factor: the new session says only "pwd".
        return await self._new_session(fresh, amr=PASSWORD_AMR)

    async def _set_password(self, record: UserRecord, password: str, **extra: Any) -> None:
        """A credential change: new hash, older tokens refused, sessions and pending reset
        links spent, in one transaction (hashed before it, so no connection waits)."""
        password_hash = await self.hasher.hash(password)
        async with self.db.transaction():
            await self.users.update(
                record.id,
                password_hash=password_hash,
                bump_version=True,
                **extra,
            )
            await self.refresh_tokens.revoke_user(record.id)
            await self.one_time.spend_all(record.id, ("reset",))

    async def request_password_reset(self, email: str, *, client: str) -> None:
        """Start a reset: the same answer, and nearly the same time, for any email.

        The lookup, token and email happen in the background, after the answer.
        """
        await self.limiter.hit(
            "reset-addr", client, self._limits.reset_per_address, what="password-reset requests"
        )
        canonical = self._account_key(email)
        await self.limiter.hit(
            "reset-acct", canonical, self._limits.reset_per_account, what="password-reset requests"
        )
        if self.jobs is not None:
            # Enqueued for any address alike, so the answer's time still tells nothing.
            await self._enqueue_email("reset", canonical)
        else:
            self._background(self._send_reset(canonical))

    async def _send_reset(self, canonical: str, *, raise_errors: bool = False) -> None:
        record = await self.users.by_email(canonical)
        if record is None or record.disabled:
            return
        token = await self.one_time.issue(record.id, "reset", self.settings.reset_token_ttl)
        await self.mail.send("reset", record.email, token, raise_errors=raise_errors)

    async def confirm_password_reset(self, token: str, new_password: str, *, client: str) -> None:
        """Finish a reset with the emailed token: new password, every session ended."""
        await self.limiter.hit(
            "reset-addr", client, self._limits.reset_per_address, what="password-reset attempts"
        )
        self.policy.check_length(new_password)
        user_id = await self.one_time.consume(token, "reset")
        record = await self.users.by_id(user_id)
        if record is None or record.disabled:
            raise InvalidTokenError(
                "this password-reset token is no longer valid", pattern_id=self.pattern_id
            )
        checked = self.policy.check(new_password, email=record.email)
        # The reset email reached its owner: the address is proven as well.
        await self._set_password(record, checked, verified=True)
        self.log.info("auth.password_reset", user_id=user_id)

    # -- email verification ----------------------------------------------------------------

    async def request_verification(self, user_id: str) -> None:
        """Email a verification token to the user (after the current transaction commits).

        With Jobs the email is a job enqueued in the caller's transaction: a crash after
        the commit delays it, never drops it. Without, it is sent by an in-process task
        after the commit (best effort: the start log says so).
        """
        if self.jobs is not None:
            await self._enqueue_email("verify", user_id, key=f"verify:{user_id}")
            return
        self._after_commit(lambda: self._send_verification(user_id))

    async def _send_verification(self, user_id: str, *, raise_errors: bool = False) -> None:
        record = await self.users.by_id(user_id)
        if record is None or record.verified or record.disabled:
            return
        token = await self.one_time.issue(user_id, "verify", self.settings.verify_token_ttl)
        await self.mail.send("verify", record.email, token, raise_errors=raise_errors)

    async def resend_verification(self, email: str, *, client: str) -> None:
        """``POST /verify/resend``: email a new verification token, the same answer (and
        nearly the same time) whether or not the address has an unverified account."""
        await self.limiter.hit(
            "resend-addr", client, self._limits.register_per_address, what="verification resends"
        )
        canonical = self._account_key(email)
        await self.limiter.hit(
            "resend-acct", canonical, self._limits.reset_per_account, what="verification resends"
        )
        if self.jobs is not None:
            await self._enqueue_email("verify-address", canonical)
        else:
            self._background(self._send_verification_to(canonical))

    async def _send_verification_to(self, canonical: str, *, raise_errors: bool = False) -> None:
        record = await self.users.by_email(canonical)
        if record is not None:
            await self._send_verification(record.id, raise_errors=raise_errors)

    async def _enqueue_email(self, kind: EmailJob, subject: str, *, key: str | None = None) -> None:
        assert self.jobs is not None and self.email_job is not None
        await self.jobs.enqueue(
            self.email_job,
            kind,
            subject,
            idempotency_key=f"{self.pattern_id}:{key}" if key else None,
        )

    async def run_email_job(self, kind: str, subject: str) -> None:
        """The job behind every account email; raises when the mail could not be sent, so
        the jobs worker retries it (a retry issues a fresh token)."""
        if kind == "verify":
            await self._send_verification(subject, raise_errors=True)
        elif kind == "verify-address":
            await self._send_verification_to(subject, raise_errors=True)
        elif kind == "reset":
            await self._send_reset(subject, raise_errors=True)
        elif kind == "exists":
            await self._send_account_exists(subject, raise_errors=True)
        else:
            # A job from a newer release read by an older worker: keep it for a retry.
            raise ValueError(f"unknown account email {kind!r}")

    async def verify_email(self, token: str, *, client: str) -> User:
        """Spend a verification token and mark its user's address verified."""
        await self.limiter.hit(
            "verify-addr", client, self._limits.register_per_address, what="verification attempts"
        )
        user_id = await self.one_time.consume(token, "verify")
        await self.users.update(user_id, verified=True)
        record = await self.users.by_id(user_id)
        if record is None:
            raise InvalidTokenError("the account no longer exists", pattern_id=self.pattern_id)
        return record.to_user()
