"""Declaration of the ``auth-jwt`` pattern (light: importing it never imports PyJWT,
argon2 or FastAPI)."""

from __future__ import annotations

from pathlib import Path

from rainmaker import DocsSection, Pattern
from rainmaker.capabilities.auth import Auth
from rainmaker.capabilities.cache import Cache
from rainmaker.capabilities.database import Database
from rainmaker.capabilities.jobs import Jobs
from rainmaker.capabilities.mailer import Mailer
from rainmaker.capabilities.rate_limits import RateLimits
from rainmaker.patterns.auth_jwt.settings import AuthSettings

MOUNT = "/auth"
MIGRATIONS = "rainmaker.patterns.auth_jwt.migrations"
TABLE_PREFIX = "auth_"

TWO_FACTOR_GUIDE = DocsSection(
    "Two-factor authentication",
    (Path(__file__).parent / "two-factor.md").read_text(encoding="utf-8"),
)

auth_jwt: Pattern[AuthSettings] = Pattern(
    id="auth-jwt",
    version="1.0.0",
    name="JWT authentication",
    description="Users in auth_* tables, argon2id passwords, short-lived JWT access tokens, "
    "rotating refresh tokens with reuse detection, key rotation (kid), JWKS, roles and "
    "scopes, email verification, password reset, TOTP two-factor authentication with "
    "recovery codes, and brute-force limits (through rate-limit when composed).",
    settings=AuthSettings,
    factory="rainmaker.patterns.auth_jwt.module:AuthModule",
    provides=[Auth],
    requires=[
        Database,
        Mailer.optional(),
        Cache.optional(),
        Jobs.optional(),
        RateLimits.optional(),
    ],
    mount=MOUNT,
    migrations=MIGRATIONS,
    table_prefix=TABLE_PREFIX,
    docs=[TWO_FACTOR_GUIDE],
    examples=[
        {"secret": "${JWT_SECRET:-change-me-to-at-least-32-random-characters}"},
        {
            "keys": [
                {
                    "kid": "2026-11",
                    "algorithm": "HS256",
                    "secret": "${JWT_SECRET_2026_11:-change-me-to-at-least-32-random-characters}",
                },
                {
                    "kid": "2026-05",
                    "algorithm": "EdDSA",
                    "public_key": "-----BEGIN PUBLIC KEY-----\n"
                    "MCowBQYDK2VwAyEAwBnhacAWwoWbCC2PtD47vtRsi5aQBIPzrpLhZKAa0/c=\n"
                    "-----END PUBLIC KEY-----\n",
                },
            ],
            "active_key": "2026-11",
            "issuer": "https://api.acme.example",
            "audience": "acme-api",
            "access_ttl": 600,
            "require_verified_email": True,
            "verify_url": "https://app.acme.example/verify?token={token}",
            "reset_url": "https://app.acme.example/reset?token={token}",
            "password": {"min_length": 12},
            "rate_limits": {"login_per_account": {"attempts": 5, "window": 900}},
            "two_factor": {
                "enabled": True,
                "encryption_keys": [
                    "${AUTH_2FA_KEY:-change-me-to-at-least-32-random-characters}"
                ],
                "required_roles": ["admin"],
            },
        },
    ],
)
