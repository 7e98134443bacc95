"""A real OpenID Connect provider for tests: ``oidc-provider-mock`` on 127.0.0.1.

It is the library's own Flask app (discovery, authorization form, token endpoint with PKCE,
JWKS), served by werkzeug on a free port. Three test controls are added beside it, because
the library has no switch for them:

- ``rotate_keys()`` replaces the provider's signing key *inside the provider* (its JWKS
  then publishes only the new key, as after a real rotation);
- ``tamper(...)`` makes the token endpoint hand out ID tokens with changed claims (a wrong
  ``aud``, a past ``exp``) re-signed with the provider's own key, or signed by a key it
  does not publish — the misbehaving or hijacked provider a client must refuse;
- ``jwks_fetches`` counts JWKS reads, to show the client refetches only on an unknown kid.
"""

from __future__ import annotations

import json
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import authlib.deprecate
import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

with warnings.catch_warnings():
    # The library itself still imports authlib.jose and Authlib's httpx client, both
    # deprecated in Authlib 1.9; this filter goes in front of Authlib's own.
    warnings.simplefilter("ignore", authlib.deprecate.AuthlibDeprecationWarning)
    import flask
    import oidc_provider_mock
    from authlib import jose as authlib_jose


class OidcProvider:
    """A running provider and its controls."""

    def __init__(self, **options: Any) -> None:
        self.app = oidc_provider_mock.app(**options)
        self.jwks_fetches = 0
        self.overrides: dict[str, Any] | None = None
        self.foreign_key: RSAKey | None = None
        self.foreign_kid: str | None = None
        self._rotate = False
        self._install_controls()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,))

    def _install_controls(self) -> None:
        app = self.app

        @app.before_request
        def count_and_rotate() -> None:
            storage = flask.g.oidc_provider_mock_storage
            if self._rotate:
                storage.jwk = authlib_jose.RSAKey.generate_key(is_private=True)
                self._rotate = False
            if flask.request.path == "/jwks":
                self.jwks_fetches += 1

        @app.after_request
        def tamper(answer: flask.Response) -> flask.Response:
            if flask.request.path != "/oauth2/token" or answer.status_code != 200:
                return answer
            if self.overrides is None and self.foreign_key is None:
                return answer
            body = json.loads(answer.get_data())
            own = RSAKey.import_key(flask.g.oidc_provider_mock_storage.jwk.as_dict(is_private=True))
            claims = jwt.decode(body["id_token"], own).claims
            claims.update(self.overrides or {})
            key = self.foreign_key or own
            kid = self.foreign_kid if self.foreign_key is not None else own.kid
            body["id_token"] = jwt.encode({"alg": "RS256", "kid": kid}, claims, key)
            answer.set_data(json.dumps(body))
            return answer

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self._thread.join(5)
        self.server.server_close()

    # -- controls -----------------------------------------------------------------------------

    def rotate_keys(self) -> None:
        """From the next request on, the provider signs with (and publishes) a new key."""
        self._rotate = True
        httpx.get(f"{self.url}/")  # any request applies it

    def tamper(self, **claims: Any) -> None:
        """Hand out ID tokens with these claims changed, re-signed with the provider's key."""
        self.overrides = claims

    def sign_with_foreign_key(self, kid: str | None = None) -> None:
        """Hand out ID tokens signed by a key the provider does not publish."""
        self.foreign_key = RSAKey.generate_key(2048)
        self.foreign_kid = kid or "not-published"

    def own_kid(self) -> str:
        """The kid of the key the provider signs with now."""
        keys = httpx.get(f"{self.url}/jwks").json()["keys"]
        self.jwks_fetches -= 1  # not the client's fetch
        return str(keys[0]["kid"])

    def set_user(self, sub: str, **claims: Any) -> None:
        """The claims the provider gives for ``sub`` (``email``, ``email_verified``…)."""
        answer = httpx.put(f"{self.url}/users/{sub}", json=claims)
        answer.raise_for_status()


@contextmanager
def running_provider(**options: Any) -> Iterator[OidcProvider]:
    """A started provider, stopped at the end."""
    provider = OidcProvider(**options)
    provider.start()
    try:
        yield provider
    finally:
        provider.stop()


def expired_claims() -> dict[str, int]:
    """``iat`` and ``exp`` an hour in the past (well beyond any leeway)."""
    now = int(time.time())
    return {"iat": now - 7200, "exp": now - 3600}
