"""The key ring: every configured key by ``kid``, one of them active, each pinned to its algorithm.

A token names its key in the header (``kid``); the ring picks that key and verifies with
*that key's* algorithm only. The ``alg`` in the header is never trusted to choose how to
verify, which closes ``alg: none`` and the HS256-with-an-RSA-public-key confusion. Keys are
rotated without logging anyone out: add the new key, make it active, and remove the old
one once the longest-lived token it signed (``refresh_ttl``) has expired.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jwt.algorithms import get_default_algorithms

from rainmaker.patterns.auth_jwt.settings import HMAC_ALGORITHMS, AuthSettings, SigningKey


@dataclass(frozen=True)
class Key:
    """One ready-to-use key: what signs (``None`` for verify-only keys) and what verifies."""

    kid: str
    algorithm: str
    signing: Any
    verifying: Any
    public_jwk: Mapping[str, Any] | None

    @property
    def symmetric(self) -> bool:
        """Whether this is an HMAC key (never published in the JWKS)."""
        return self.algorithm in HMAC_ALGORITHMS


def load_key(config: SigningKey) -> Key:
    """Parse a configured key once (PEM parsing is not free; tokens are verified often)."""
    algorithm = get_default_algorithms()[config.algorithm]
    if config.algorithm in HMAC_ALGORITHMS:
        assert config.secret is not None
        secret = algorithm.prepare_key(config.secret.get_secret_value())
        return Key(config.kid, config.algorithm, secret, secret, None)
    signing = None
    if config.private_key is not None:
        signing = algorithm.prepare_key(config.private_key.get_secret_value())
        verifying = signing.public_key()
    else:
        assert config.public_key is not None
        verifying = algorithm.prepare_key(config.public_key)
    jwk = dict(algorithm.to_jwk(verifying, as_dict=True))
    jwk.update({"kid": config.kid, "alg": config.algorithm, "use": "sig"})
    return Key(config.kid, config.algorithm, signing, verifying, jwk)


class KeyRing:
    """Every key by ``kid``; :attr:`active` signs new tokens."""

    def __init__(self, keys: Mapping[str, Key], active: str) -> None:
        self._keys = dict(keys)
        self.active = self._keys[active]

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> KeyRing:
        """The ring the (already validated) settings describe."""
        signing = settings.signing_key()
        assert signing is not None
        return cls({key.kid: load_key(key) for key in settings.key_ring()}, signing.kid)

    def get(self, kid: str) -> Key | None:
        """The key named ``kid``, if the ring has it."""
        return self._keys.get(kid)

    @property
    def kids(self) -> list[str]:
        """Every key id, for messages."""
        return list(self._keys)

    @property
    def asymmetric(self) -> bool:
        """Whether any key is public-key based (then the JWKS route is served)."""
        return any(not key.symmetric for key in self._keys.values())

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """The public keys as a JSON Web Key Set (HMAC secrets are never in it)."""
        return {
            "keys": [
                dict(key.public_jwk) for key in self._keys.values() if key.public_jwk is not None
            ]
        }
