"""Settings of the ``auth-jwt`` pattern.

Validated before anything starts: a short HS256 secret, a PEM that does not parse or does
not match its algorithm, two keys with one ``kid`` or an ``active_key`` that cannot sign are
all reported by ``rainmaker check``. Importing this module imports neither PyJWT nor argon2;
``cryptography`` is imported only while a PEM key is being validated.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from rainmaker import Settings

Algorithm = Literal["HS256", "HS384", "HS512", "RS256", "ES256", "EdDSA"]
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
MIN_HMAC_SECRET = 32
DEFAULT_KID = "default"
_KID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_ROLE = re.compile(r"^[A-Za-z0-9:._-]{1,64}$")


class SigningKey(Settings):
    """One key of the key ring, named by its ``kid``.

    HMAC keys (``HS256``…) take ``secret``. Asymmetric keys (``RS256``, ``ES256``,
    ``EdDSA``) take a PEM ``private_key`` (signs and verifies) or only a PEM ``public_key``
    (verifies tokens signed elsewhere or by a retired key). Each key verifies only tokens
    of its own algorithm, whatever the token's header claims.
    """

    kid: str = Field(
        description="Key id written in the token header; letters, digits, '.', '_', '-' "
        "(e.g. '2026-11').",
        examples=["2026-11"],
    )
    algorithm: Algorithm = Field(
        "HS256", description="The only algorithm this key signs and accepts."
    )
    secret: SecretStr | None = Field(
        None,
        description="HMAC secret (HS256/384/512 only): at least 32 random characters.",
        json_schema_extra={"min_entropy_bits": 128},  # outside development (secret_strength)
    )
    private_key: SecretStr | None = Field(
        None,
        description="PEM private key (RS256: RSA >= 2048 bits, ES256: P-256, EdDSA: Ed25519).",
    )
    public_key: str | None = Field(
        None,
        description="PEM public key: for a verify-only key; derived from private_key when "
        "that is given.",
    )

    @field_validator("kid")
    @classmethod
    def _valid_kid(cls, value: str) -> str:
        if not _KID.match(value):
            raise ValueError("a kid is 1-64 letters, digits, '.', '_' or '-'")
        return value

    @model_validator(mode="after")
    def _material_matches_algorithm(self) -> SigningKey:
        if self.algorithm in HMAC_ALGORITHMS:
            if self.secret is None:
                raise ValueError(f"key {self.kid!r} ({self.algorithm}) needs a secret")
            if len(self.secret.get_secret_value()) < MIN_HMAC_SECRET:
                raise ValueError(
                    f"the secret of key {self.kid!r} is shorter than {MIN_HMAC_SECRET} "
                    'characters; generate one with `python -c "import secrets; '
                    'print(secrets.token_urlsafe(48))"`'
                )
            if self.private_key is not None or self.public_key is not None:
                raise ValueError(
                    f"key {self.kid!r} is {self.algorithm} (HMAC): give only a secret, no PEM keys"
                )
            return self
        if self.secret is not None:
            raise ValueError(
                f"key {self.kid!r} is {self.algorithm}: give a PEM private_key or public_key, "
                "not a secret"
            )
        if self.private_key is None and self.public_key is None:
            raise ValueError(
                f"key {self.kid!r} ({self.algorithm}) needs a private_key or public_key"
            )
        check_pem(self)
        return self

    @property
    def can_sign(self) -> bool:
        """Whether this key holds what signing needs (a secret or a private key)."""
        return self.secret is not None or self.private_key is not None


def check_pem(key: SigningKey) -> None:
    """``ValueError`` unless the PEM material parses and fits ``key.algorithm``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    expected = {"RS256": rsa, "ES256": ec, "EdDSA": ed25519}[key.algorithm]
    loaded: list[object] = []
    try:
        if key.private_key is not None:
            private = serialization.load_pem_private_key(
                key.private_key.get_secret_value().encode(), password=None
            )
            loaded += [private, private.public_key()]
        if key.public_key is not None:
            loaded.append(serialization.load_pem_public_key(key.public_key.encode()))
    except (ValueError, TypeError) as error:
        raise ValueError(f"key {key.kid!r}: the PEM does not parse ({error})") from None
    kinds = {
        rsa: (rsa.RSAPrivateKey, rsa.RSAPublicKey),
        ec: (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey),
        ed25519: (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey),
    }[expected]
    for item in loaded:
        if not isinstance(item, kinds):
            raise ValueError(
                f"key {key.kid!r}: the PEM holds a {type(item).__name__.lstrip('_')}, "
                f"which cannot be used for {key.algorithm}"
            )
        if isinstance(item, rsa.RSAPublicKey) and item.key_size < 2048:
            raise ValueError(f"key {key.kid!r}: RSA keys need at least 2048 bits")
        if isinstance(item, ec.EllipticCurvePublicKey) and item.curve.name != "secp256r1":
            raise ValueError(f"key {key.kid!r}: ES256 needs a P-256 (secp256r1) key")
    if key.private_key is not None and key.public_key is not None:
        public_pem = loaded[1].public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        given = loaded[2].public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if public_pem != given:
            raise ValueError(f"key {key.kid!r}: public_key is not the pair of private_key")


class PasswordPolicy(Settings):
    """What a new password must satisfy (checked before it is hashed)."""


    min_length: int = Field(10, ge=1, le=1024, description="Fewest characters a password may have.")
    max_length: int = Field(
        256,
        ge=8,
        le=4096,
        description="Most characters a password may have; longer ones are refused before "
        "hashing (hash-flooding guard).",
    )
    reject_common: bool = Field(
        True, description="Refuse passwords on the shipped common-password list."
    )
    common_passwords_file: str | None = Field(
        None,
        description="Extra file of refused passwords, one per line (relative to the app "
        "folder), added to the shipped list.",
    )
    reject_email: bool = Field(
        True, description="Refuse a password that contains the account's email local part."
    )

    @model_validator(mode="after")
    def _bounds(self) -> PasswordPolicy:
        if self.min_length > self.max_length:
            raise ValueError("password min_length is larger than max_length")
        return self


class HashingSettings(Settings):
    """argon2id parameters; changing them rehashes each password at its next login."""


    time_cost: int = Field(3, ge=1, le=50, description="argon2 iterations.")
    memory_cost: int = Field(
        65536, ge=8, le=4_194_304, description="argon2 memory in KiB (65536 = 64 MiB)."
    )
    parallelism: int = Field(4, ge=1, le=64, description="argon2 lanes.")
    threads: int = Field(
        4,
        ge=1,
        le=256,
        description="Hashes computed at once in worker threads; more logins wait their turn "
        "without blocking the event loop.",
    )


class RateLimit(Settings):
    """``attempts`` allowed per fixed ``window`` of seconds."""


    attempts: int = Field(ge=1, description="Attempts allowed in one window.")
    window: float = Field(gt=0, le=86400 * 7, description="Window length in seconds.")


class RateLimits(Settings):
    """Brute-force limits, counted in ``Cache`` when one runs (else in this process).

    Every route that checks a secret is limited: login (per account and per address),
    the current password at ``POST /password`` (per account), reset confirmations (per
    address) and verification tokens (per address). Per-account counters key on the
    canonical address the account lookup uses, so no spelling of it has a fresh counter.
    """


    enabled: bool = Field(True, description="Turn every limit below on or off.")
    ipv6_prefix: int = Field(
        64,
        ge=1,
        le=128,
        description="Prefix length of the IPv6 network the per-address limits count as "
        "one client: 64 (a client picks any address of its /64 freely), 48 or 56 for a "
        "whole site, 128 for single addresses. IPv4 addresses count one each.",
    )
    login_per_account: RateLimit = Field(
        RateLimit(attempts=10, window=900),
        description="Login attempts per email address.",
    )
    login_per_address: RateLimit = Field(
        RateLimit(attempts=100, window=900),
        description="Login attempts per client IP address.",
    )
    reset_per_account: RateLimit = Field(
        RateLimit(attempts=3, window=3600),
        description="Password-reset requests per email address.",
    )
    reset_per_address: RateLimit = Field(
        RateLimit(attempts=20, window=3600),
        description="Password-reset requests and confirmations per client IP address.",
    )
    password_change_per_account: RateLimit = Field(
        RateLimit(attempts=5, window=900),
        description="Password changes (guesses of the current password) per account: a "
        "stolen access token must not become a brute force of the password.",
    )
    register_per_address: RateLimit = Field(
        RateLimit(attempts=20, window=3600),
        description="Registrations and verifications per client IP address.",
    )
    two_factor_per_account: RateLimit = Field(
        RateLimit(attempts=5, window=300),
        description="Second-factor codes (TOTP or recovery) tried per account, right or "
        "wrong, at login, enrolment confirmation and disable: a 6-digit code must not be "
        "guessable by volume.",
    )


class TwoFactorSettings(Settings):
    """TOTP second factor (RFC 6238): enrolment, login challenge, recovery codes."""

    enabled: bool = Field(
        False,
        description="Serve the /2fa routes and ask enrolled users for a code at login.",
    )
    encryption_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Keys (32+ random characters each) that encrypt TOTP secrets at rest "
        "and key the recovery-code HMAC: the first encrypts, all decrypt, so rotate by "
        "putting a new key first and keeping the old one until no secret uses it. "
        "Empty: derived from `secret` (then changing `secret` needs its old value here).",
    )
    issuer: str | None = Field(
        None,
        description="Issuer name shown by authenticator apps (the otpauth:// URI); "
        "default: the app's name.",
    )
    challenge_ttl: timedelta = Field(
        timedelta(minutes=5),
        description="Lifetime of the challenge token a password login answers with, "
        "spent at POST /login/2fa.",
    )
    valid_window: int = Field(
        1,
        ge=0,
        le=3,
        description="30-second steps accepted either side of now (clock drift); each "
        "step's code works once.",
    )
    required_roles: list[str] = Field(
        default_factory=list,
        description="Users holding any of these roles must use 2FA: without it a login "
        "answers two_factor_enrolment_required and they cannot disable it.",
    )

    @field_validator("encryption_keys")
    @classmethod
    def _long_keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        for key in value:
            if len(key.get_secret_value()) < MIN_HMAC_SECRET:
                raise ValueError(
                    f"every two_factor encryption key needs {MIN_HMAC_SECRET}+ characters"
                )
        return value

    @field_validator("required_roles")
    @classmethod
    def _role_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _ROLE.match(name):
                raise ValueError(f"{name!r}: roles are 1-64 of A-Z a-z 0-9 : . _ -")
        return value


class AuthSettings(Settings):
    """``auth-jwt``: accounts, argon2id passwords, JWT access and rotating refresh tokens."""

    secret: SecretStr | None = Field(
        None,
        description="Shorthand for one HS256 key with kid 'default': at least 32 random "
        "characters. Use keys instead to rotate.",
        json_schema_extra={"min_entropy_bits": 128},  # outside development (secret_strength)
    )
    keys: list[SigningKey] = Field(
        default_factory=list,
        description="The key ring: every key verifies its own tokens, active_key signs new "
        "ones (rotate by adding a key, activating it, and removing the old one after "
        "refresh_ttl).",
    )
    active_key: str | None = Field(
        None, description="kid of the key that signs new tokens; default: the first that can."
    )
    issuer: str = Field(
        "rainmaker", min_length=1, description="The iss claim written and required."
    )
    audience: str = Field(
        "rainmaker-api", min_length=1, description="The aud claim written and required."
    )
    access_ttl: timedelta = Field(
        timedelta(minutes=15),
        description="Lifetime of access tokens (seconds or ISO 8601 like 'PT15M').",
    )
    refresh_ttl: timedelta = Field(
        timedelta(days=30),
        description="Lifetime of a session (refresh token family) from its login: rotating "
        "never extends it.",
    )
    refresh_idle_timeout: timedelta | None = Field(
        None,
        description="A session whose refresh token goes unused this long ends (e.g. "
        "'P7D'); none: only refresh_ttl ends it.",
    )
    leeway: timedelta = Field(
        timedelta(seconds=30),
        description="Clock skew tolerated on exp, nbf and iat between servers.",
    )
    default_roles: list[str] = Field(
        default_factory=lambda: ["user"], description="Roles a newly registered user gets."
    )
    default_scopes: list[str] = Field(
        default_factory=list, description="Scopes a newly registered user gets."
    )
    allow_registration: bool = Field(
        True, description="Serve POST /register (users can always be created from Python)."
    )
    uniform_register_answer: bool | None = Field(
        None,
        description="POST /register answers 202 with one body whether or not the address "
        "has an account (its owner gets an 'account exists' email instead of a second "
        "account), so registration tells no one which addresses are registered. Default: "
        "on in the production profile, off in others (there a taken address is a 409).",
    )
    require_verified_email: bool = Field(
        False, description="Refuse login until the email address is verified."
    )
    verify_token_ttl: timedelta = Field(
        timedelta(days=2), description="Lifetime of an email-verification token."
    )
    reset_token_ttl: timedelta = Field(
        timedelta(hours=1), description="Lifetime of a password-reset token."
    )
    verify_url: str | None = Field(
        None,
        description="Link put in verification emails, with '{token}' where the token goes "
        "(e.g. 'https://app.example/verify?token={token}'); without it the email shows the "
        "token.",
    )
    reset_url: str | None = Field(
        None,
        description="Link put in password-reset emails, with '{token}' where the token goes.",
    )
    password: PasswordPolicy = Field(default_factory=PasswordPolicy, description="Password policy.")
    hashing: HashingSettings = Field(
        default_factory=HashingSettings, description="argon2id cost parameters."
    )
    rate_limits: RateLimits = Field(
        default_factory=RateLimits, description="Brute-force limits on login and reset."
    )
    two_factor: TwoFactorSettings = Field(
        default_factory=TwoFactorSettings, description="TOTP two-factor authentication."
    )

    @field_validator("secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_HMAC_SECRET:
            raise ValueError(
                f"the secret is shorter than {MIN_HMAC_SECRET} characters; generate one with "
                '`python -c "import secrets; print(secrets.token_urlsafe(48))"`'
            )
        return value

    @field_validator("default_roles", "default_scopes")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _ROLE.match(name):
                raise ValueError(f"{name!r}: roles and scopes are 1-64 of A-Z a-z 0-9 : . _ -")
        return value

    @field_validator("verify_url", "reset_url")
    @classmethod
    def _has_token(cls, value: str | None) -> str | None:
        if value is not None and "{token}" not in value:
            raise ValueError("the link needs '{token}' where the token goes")
        return value

    @model_validator(mode="after")
    def _key_ring(self) -> AuthSettings:
        ring = self.key_ring()
        if not ring:
            raise ValueError(
                "no signing key: set secret (32+ random characters) or add keys "
                '(e.g. secret = "${JWT_SECRET}")'
            )
        if self.secret is not None and self.keys:
            raise ValueError("give either secret or keys, not both")
        kids = [key.kid for key in ring]
        duplicates = sorted({kid for kid in kids if kids.count(kid) > 1})
        if duplicates:
            raise ValueError(f"several keys have the kid {', '.join(duplicates)}")
        active = self.signing_key()
        if active is None:
            raise ValueError(
                f"active_key {self.active_key!r} is not a key that can sign "
                f"(signing keys: {', '.join(k.kid for k in ring if k.can_sign) or 'none'})"
            )
        for name in ("access_ttl", "refresh_ttl", "verify_token_ttl", "reset_token_ttl"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be positive")
        if self.leeway < timedelta(0):
            raise ValueError("leeway must not be negative")
        two_factor = self.two_factor
        if two_factor.enabled and not two_factor.encryption_keys and self.secret is None:
            raise ValueError(
                "two_factor.enabled needs two_factor.encryption_keys (32+ random "
                "characters) when keys are given instead of secret"
            )
        if two_factor.required_roles and not two_factor.enabled:
            raise ValueError("two_factor.required_roles needs two_factor.enabled = true")
        if two_factor.challenge_ttl <= timedelta(0):
            raise ValueError("two_factor.challenge_ttl must be positive")
        idle = self.refresh_idle_timeout
        if idle is not None and idle <= timedelta(0):
            raise ValueError("refresh_idle_timeout must be positive (or left out)")
        if idle is not None and idle > self.refresh_ttl:
            raise ValueError(
                f"refresh_idle_timeout ({idle}) is longer than refresh_ttl ({self.refresh_ttl}), "
                "which ends every session first; shorten it or leave it out"
            )
        return self

    def key_ring(self) -> list[SigningKey]:
        """Every configured key (the ``secret`` shorthand becomes kid ``default``)."""
        if self.secret is not None:
            return [SigningKey(kid=DEFAULT_KID, algorithm="HS256", secret=self.secret)]
        return list(self.keys)

    def signing_key(self) -> SigningKey | None:
        """The key that signs new tokens."""
        for key in self.key_ring():
            if key.can_sign and (self.active_key is None or key.kid == self.active_key):
                return key
        return None
