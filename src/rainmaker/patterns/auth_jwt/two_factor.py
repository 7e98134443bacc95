"""Two-factor authentication for ``auth-jwt``: TOTP (RFC 6238, ``pyotp``) and recovery codes.

The flow:

1. ``enrol`` stores a new secret, encrypted and *pending*, and answers it with its
   ``otpauth://`` URI for an authenticator app. Login does not ask for a code yet.
2. ``confirm`` checks a first code from the app: the factor becomes active and ten
   single-use recovery codes are answered, once.
3. A password login of a user with an active factor answers a :class:`Challenge`
   (``two_factor_required``) instead of tokens: a ``2fa`` token living
   ``challenge_ttl`` that :meth:`TwoFactor.complete` (``POST /login/2fa``) trades, with a
   TOTP code or a recovery code, for the token pair. A user holding one of
   ``required_roles`` without an active factor gets a ``two_factor_enrolment_required``
   challenge instead, which opens only the enrolment routes; confirming through it
   completes the login. A sign-in through another first factor (``Auth.sign_in``, e.g.
   ``oauth-login``) answers the same challenges.
4. ``disable`` needs the password and a code.

Every code attempt, right or wrong, counts under ``rate_limits.two_factor_per_account``
before it is checked. A TOTP code is accepted once: its time step is recorded
(``accept_step``), and a code of that step or an earlier one is refused as reused. Access
tokens from a completed second factor carry the first factor then ``otp``: ``["pwd",
"otp"]`` after a password, ``["oidc", "otp"]`` after ``oauth-login``; the challenge token
carries the first factor (``amr``) to the completion.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pyotp

from rainmaker import UnavailableError
from rainmaker.capabilities.auth import SignInChallenge, TokenPair
from rainmaker.patterns.auth_jwt.errors import (
    InvalidCredentialsError,
    InvalidTokenError,
    InvalidTwoFactorCodeError,
    TwoFactorAlreadyEnabledError,
    TwoFactorCodeReusedError,
    TwoFactorNotEnrolledError,
    TwoFactorRequiredError,
)
from rainmaker.patterns.auth_jwt.passwords import normalise_password
from rainmaker.patterns.auth_jwt.secret_box import SecretBox
from rainmaker.patterns.auth_jwt.settings import AuthSettings, TwoFactorSettings
from rainmaker.patterns.auth_jwt.two_factor_store import TwoFactorRow, TwoFactorStore
from rainmaker.patterns.auth_jwt.users import UserRecord

if TYPE_CHECKING:
    from rainmaker.patterns.auth_jwt.service import JwtAuth

RECOVERY_CODES = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud, typed
RECOVERY_LENGTH = 16  # 16 characters of 31: about 79 random bits
PASSWORD_AMR = ("pwd",)
Step = Literal["verify", "enrol"]


# The challenge a login answers is the capability's: oauth-login's sign-ins answer it too.
Challenge = SignInChallenge


@dataclass(frozen=True)
class Enrolment:
    """A pending factor: the secret (base32) and its ``otpauth://`` provisioning URI."""

    secret: str
    otpauth_uri: str

    def as_dict(self) -> dict[str, Any]:
        """The JSON body of ``POST /2fa/enrol``."""
        return {"secret": self.secret, "otpauth_uri": self.otpauth_uri, "confirmed": False}


def recovery_code() -> str:
    """A fresh recovery code, shown grouped (``abcd-efgh-jkmn-pqrs``)."""
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, RECOVERY_LENGTH, 4))


def normalise_recovery_code(code: str) -> str:
    """The code as stored: lower case, without the dashes and spaces people type."""
    return "".join(ch for ch in code.lower() if ch not in "- ")


def key_materials(settings: AuthSettings) -> list[str]:
    """The configured encryption keys, or the ``secret`` shorthand when none are given."""
    keys = [key.get_secret_value() for key in settings.two_factor.encryption_keys]
    if not keys and settings.secret is not None:
        keys = [settings.secret.get_secret_value()]
    return keys


class TwoFactor:
    """The second factor of one ``auth-jwt`` instance (see the module docstring)."""

    def __init__(self, auth: JwtAuth, *, issuer: str) -> None:
        self.auth = auth
        self.settings: TwoFactorSettings = auth.settings.two_factor
        self.issuer = self.settings.issuer or issuer
        self.box = SecretBox(key_materials(auth.settings))
        self.store = TwoFactorStore(auth.db)
        self.pattern_id = auth.pattern_id

    # -- login -----------------------------------------------------------------------------

    def requires_enrolment(self, record: UserRecord) -> bool:
        """Whether a role of the user makes a second factor mandatory."""
        return not set(record.roles).isdisjoint(self.settings.required_roles)

    async def challenge(
        self, record: UserRecord, *, first: Sequence[str] = PASSWORD_AMR
    ) -> Challenge | None:
        """The challenge a sign-in of ``record`` answers after the first factor ``first``
        (its ``amr``), or ``None`` for tokens."""
        row = await self.store.get(record.id)
        if row is not None and row.confirmed:
            return self._challenge(record, "verify", first)
        if self.requires_enrolment(record):
            return self._challenge(record, "enrol", first)
        return None

    def _challenge(self, record: UserRecord, step: Step, first: Sequence[str]) -> Challenge:
        ttl = int(self.settings.challenge_ttl.total_seconds())
        issued = self.auth.codec.issue(
            "2fa",
            record.id,
            ttl,
            claims={"step": step, "tv": record.token_version, "amr": list(first)},
        )
        return Challenge(step, issued.token, ttl)

    async def challenged_user(self, token: str, step: Step) -> UserRecord:
        """The enabled user a valid, unspent challenge token of ``step`` names."""
        record, _ = await self.open_challenge(token, step)
        return record

    async def open_challenge(self, token: str, step: Step) -> tuple[UserRecord, dict[str, Any]]:
        """The user and claims of a valid, unspent challenge token of ``step``."""
        claims = self.auth.codec.decode(token, "2fa")
        if claims.get("step") != step:
            raise InvalidTokenError(
                "this challenge token is for the other two-factor step", pattern_id=self.pattern_id
            )
        jti = claims["jti"]
        if self.auth.revocations.denied(jti) or (
            self.auth.cache is not None and await self.auth._shared_denial(jti)
        ):
            raise InvalidTokenError(
                "this challenge was completed already; log in again", pattern_id=self.pattern_id
            )
        record = await self.auth.users.by_id(claims["sub"])
        if record is None:
            raise InvalidTokenError("the account no longer exists", pattern_id=self.pattern_id)
        if record.disabled:
            raise self.auth._disabled()
        if claims.get("tv", 0) != record.token_version:
            raise InvalidTokenError(
                "the password changed since this challenge; log in again",
                pattern_id=self.pattern_id,
            )
        return record, claims

    async def spend_challenge(self, claims: dict[str, Any]) -> None:
        """Refuse this challenge token from now on (as a logout refuses an access token:
        in this process, and in every process sharing ``Cache`` when one runs)."""
        auth = self.auth
        jti, expires = str(claims["jti"]), int(claims["exp"])
        auth.revocations.deny(jti, expires)
        if auth.cache is not None:
            ttl = max(1, expires - int(time.time()) + int(auth.codec.leeway))
            try:
                await auth.cache.set(f"deny:{jti}", 1, ttl=ttl)
            except UnavailableError as error:
                auth.log.warning("auth.challenge_spend_not_shared", error=error.message)

    async def complete(
        self, token: str, *, code: str | None, recovery_code: str | None
    ) -> TokenPair:
        """``POST /login/2fa``: a challenge token and a code → the session's token pair.
        The challenge works for one completed login (a wrong code does not spend it)."""
        record, claims = await self.open_challenge(token, "verify")
        await self.verify(record.id, code=code, recovery_code=recovery_code)
        await self.spend_challenge(claims)
        self.auth.log.info(
            "auth.login", user_id=record.id, second_factor="totp" if code else "recovery_code"
        )
        return await self.auth._new_session(record, amr=completed_amr(claims))

    # -- codes -----------------------------------------------------------------------------

    async def _count(self, user_id: str) -> None:
        limits = self.auth.settings.rate_limits
        await self.auth.limiter.hit(
            "2fa-acct", user_id, limits.two_factor_per_account, what="two-factor codes"
        )

    async def verify(self, user_id: str, *, code: str | None, recovery_code: str | None) -> None:
        """Accept one TOTP code or one recovery code of an active factor, once."""
        await self._count(user_id)
        row = await self.store.get(user_id)
        if row is None or not row.confirmed:
            raise TwoFactorNotEnrolledError(
                "two-factor authentication is not enabled for this account",
                pattern_id=self.pattern_id,
            )
        if recovery_code is not None:
            spent = await self.store.spend_code(
                user_id, self.box.code_hashes(normalise_recovery_code(recovery_code))
            )
            if spent == "used":
                raise TwoFactorCodeReusedError(
                    "this recovery code was used already; each works once",
                    pattern_id=self.pattern_id,
                )
            if spent == "unknown":
                raise self._wrong()
            self.auth.log.info(
                "auth.recovery_code_used",
                user_id=user_id,
                left=await self.store.codes_left(user_id),
            )
            return
        if code is None:
            raise self._wrong()
        await self._accept_totp(row, code)

    async def _accept_totp(self, row: TwoFactorRow, code: str, *, confirm: bool = False) -> None:
        secret = self.box.decrypt(row.secret_encrypted)
        if secret is None:
            # The key that encrypted it was removed from encryption_keys: an operator error.
            self.auth.log.error("auth.two_factor_secret_unreadable", user_id=row.user_id)
            raise self._wrong()
        step = self._matching_step(secret, code)
        if step is None:
            raise self._wrong()
        if not await self.store.accept_step(row.user_id, step, confirm=confirm):
            raise TwoFactorCodeReusedError(
                "this code was used already; wait for the next one in your authenticator app",
                pattern_id=self.pattern_id,
            )

    def _matching_step(self, secret: str, code: str) -> int | None:
        """The time step ``code`` belongs to, within ``valid_window`` steps of now."""
        code = code.replace(" ", "")
        totp = pyotp.TOTP(secret)
        if len(code) != totp.digits or not code.isdigit():
            return None
        now = int(time.time() // totp.interval)
        window = self.settings.valid_window
        found: int | None = None
        for step in range(now - window, now + window + 1):
            # Every step is compared (no early exit), in constant time each.
            if hmac.compare_digest(totp.generate_otp(step), code):
                found = step
        return found

    def _wrong(self) -> InvalidTwoFactorCodeError:
        return InvalidTwoFactorCodeError(
            "the two-factor code is wrong or expired", pattern_id=self.pattern_id
        )

    # -- enrolment -------------------------------------------------------------------------

    async def enrol(self, record: UserRecord) -> Enrolment:
        """Start (or restart) enrolment: a new pending secret; refused while one is active."""
        row = await self.store.get(record.id)
        if row is not None and row.confirmed:
            raise TwoFactorAlreadyEnabledError(
                "two-factor authentication is already enabled; disable it to enrol again",
                pattern_id=self.pattern_id,
            )
        secret = pyotp.random_base32()
        await self.store.begin(record.id, self.box.encrypt(secret))
        uri = pyotp.TOTP(secret).provisioning_uri(name=record.email, issuer_name=self.issuer)
        self.auth.log.info("auth.two_factor_enrolment_started", user_id=record.id)
        return Enrolment(secret, uri)

    async def confirm(self, record: UserRecord, code: str) -> list[str]:
        """Activate the pending factor with a first code; the ten recovery codes, once."""
        await self._count(record.id)
        row = await self.store.get(record.id)
        if row is None:
            raise TwoFactorNotEnrolledError(
                "start enrolment first (POST /2fa/enrol)", pattern_id=self.pattern_id
            )
        if row.confirmed:
            raise TwoFactorAlreadyEnabledError(
                "two-factor authentication is already enabled", pattern_id=self.pattern_id
            )
        await self._accept_totp(row, code, confirm=True)
        codes = await self.new_recovery_codes(record.id)
        self.auth.log.info("auth.two_factor_enabled", user_id=record.id)
        return codes

    async def new_recovery_codes(self, user_id: str) -> list[str]:
        """Ten fresh recovery codes replacing the user's earlier ones."""
        codes = [recovery_code() for _ in range(RECOVERY_CODES)]
        await self.store.replace_codes(
            user_id, [self.box.code_hash(normalise_recovery_code(c)) for c in codes]
        )
        return codes

    async def disable(
        self,
        record: UserRecord,
        password: str,
        *,
        code: str | None,
        recovery_code: str | None,
    ) -> None:
        """Turn the factor off: needs the password and a code; refused for required roles."""
        if self.requires_enrolment(record):
            raise TwoFactorRequiredError(
                "a role of this account requires two-factor authentication",
                pattern_id=self.pattern_id,
            )
        auth = self.auth
        auth.policy.check_length(password)
        limits = auth.settings.rate_limits
        await auth.limiter.hit(
            "password-acct", record.id, limits.password_change_per_account, what="password checks"
        )
        if not await auth.hasher.verify(record.password_hash, normalise_password(password)):
            raise InvalidCredentialsError("the password is wrong", pattern_id=self.pattern_id)
        await self.verify(record.id, code=code, recovery_code=recovery_code)
        await self.store.remove(record.id)
        auth.log.info("auth.two_factor_disabled", user_id=record.id)

    async def status(self, user_id: str) -> dict[str, Any]:
        """``GET /2fa``: whether the factor is active or pending, and codes left."""
        row = await self.store.get(user_id)
        return {
            "enabled": row is not None and row.confirmed,
            "pending": row is not None and not row.confirmed,
            "recovery_codes_left": await self.store.codes_left(user_id) if row else 0,
        }


def completed_amr(challenge: dict[str, Any]) -> Sequence[str]:
    """The ``amr`` of a session whose challenge a second factor completed: the challenge's
    first factor, then ``otp`` (a challenge without one came from a password login)."""
    return (*(amr_of(challenge) or PASSWORD_AMR), "otp")


def amr_of(claims: dict[str, Any]) -> Sequence[str]:
    """The ``amr`` a refresh token carries on to the next access token."""
    amr = claims.get("amr")
    return tuple(str(m) for m in amr) if isinstance(amr, list) else ()
