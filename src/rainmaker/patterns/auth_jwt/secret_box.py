"""Secrets at rest for two-factor authentication: encrypted TOTP secrets, keyed code HMACs.

A TOTP secret must be *read back* to check a code, so it cannot be hashed: it is encrypted
with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) under keys derived by HKDF
from ``two_factor.encryption_keys`` (or from ``secret`` when none are given). A
``MultiFernet`` encrypts with the first key and decrypts with any, so keys rotate without
a migration. A database dump alone therefore reveals no secret.

Recovery codes only need to be *recognised*, so they are stored as HMAC-SHA256 under a
second key derived from the same material. Why HMAC and not argon2: the codes carry 80
random bits, far beyond any offline guessing, so a slow hash buys nothing and would cost
up to ten argon2 verifications per attempt; the key means a dump without the settings
cannot even test a guess; and a keyed hash is a direct, indexed lookup. Every configured
key's HMAC is tried, so a rotated key keeps old codes working.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ENCRYPTION_INFO = b"rainmaker auth-jwt two-factor secret encryption"
RECOVERY_INFO = b"rainmaker auth-jwt two-factor recovery code hmac"


def derive(material: str, info: bytes) -> bytes:
    """32 bytes for one purpose (``info``) from configured key material."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        material.encode()
    )


class SecretBox:
    """Encrypts TOTP secrets and computes recovery-code HMACs under the configured keys."""

    def __init__(self, materials: Sequence[str]) -> None:
        if not materials:
            raise ValueError("a SecretBox needs at least one key")
        self._fernet = MultiFernet(
            [Fernet(base64.urlsafe_b64encode(derive(m, ENCRYPTION_INFO))) for m in materials]
        )
        self._hmac_keys = [derive(m, RECOVERY_INFO) for m in materials]

    def encrypt(self, secret: str) -> str:
        """The Fernet token of ``secret`` under the first key."""
        return self._fernet.encrypt(secret.encode()).decode("ascii")

    def decrypt(self, token: str) -> str | None:
        """The secret, or ``None`` when no configured key opens it (a removed key)."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            return None

    def code_hash(self, code: str) -> str:
        """The HMAC a new recovery code is stored as (first key)."""
        return hmac.new(self._hmac_keys[0], code.encode(), hashlib.sha256).hexdigest()

    def code_hashes(self, code: str) -> list[str]:
        """Every HMAC ``code`` may be stored as (one per configured key)."""
        return [hmac.new(k, code.encode(), hashlib.sha256).hexdigest() for k in self._hmac_keys]
