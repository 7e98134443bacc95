"""``auth-jwt``: users, argon2id passwords, JWT access tokens and rotating refresh tokens.

Importing this package is light (no PyJWT, argon2 or FastAPI); the module loads them when
the pattern is built. See :mod:`rainmaker.capabilities.auth` for what other patterns use.
"""
