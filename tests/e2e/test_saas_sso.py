"""The demo SaaS signs a user in with an OpenID Connect provider, end to end: real
``rainmaker run`` and ``rainmaker worker`` processes of the ``sso`` profile, a real local
provider (``oidc-provider-mock`` on 127.0.0.1), and a browser played by httpx.

The new user is made through ``Auth``, so the demo's signup saga runs as for a password
signup: a personal organization, and the welcome email sent by the worker.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.conftest import saas_processes
from tests.patterns.oauth_login.oidc_server import OidcProvider, running_provider

# The provider (oidc-provider-mock) calls a deprecated Authlib server API on its own
# threads; that is its code, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")

WAIT = 20.0


@pytest.fixture
def provider() -> Iterator[OidcProvider]:
    with running_provider(require_nonce=True) as running:
        yield running


def test_sign_in_with_the_local_provider(tmp_path: Path, provider: OidcProvider) -> None:
    from rainmaker.patterns.email.outbox import read_outbox

    email = f"sso-{secrets.token_hex(4)}@example.com"
    provider.set_user("sso-user", email=email, email_verified=True, name="SSO User")
    outbox = tmp_path / "outbox"
    env = {
        "SAAS_DB_PATH": str(tmp_path / "saas.db"),
        "SAAS_OUTBOX": str(outbox),
        "SAAS_STORAGE_ROOT": str(tmp_path / "storage"),
        "SSO_ISSUER": provider.url,
        # The provider authenticates confidential clients only; the secret comes from the
        # environment, as in production.
        "SSO_CLIENT_SECRET": secrets.token_urlsafe(16),
    }
    with saas_processes("sso", env, tmp_path / "logs") as processes:
        try:
            with httpx.Client(base_url=processes.base_url, timeout=10) as browser:
                listed = browser.get("/auth/oauth/providers").json()["providers"]
                assert listed == [{"name": "corp", "label": "Corp SSO"}]
                started = browser.get("/auth/oauth/corp/authorize")
                assert started.status_code == 302, started.text
                assert started.headers["location"].startswith(provider.url)
                # At the provider, the user approves; it redirects back to the callback.
                approved = httpx.post(started.headers["location"], data={"sub": "sso-user"})
                assert approved.status_code == 302, approved.text
                back = urlsplit(approved.headers["location"])
                assert back.path == "/auth/oauth/corp/callback"
                answer = browser.get(f"{back.path}?{back.query}")
                assert answer.status_code == 200, answer.text
                pair = answer.json()
                auth = {"Authorization": f"Bearer {pair['access_token']}"}

                me = browser.get("/auth/me", headers=auth).json()
                assert me["email"] == email and me["verified"] is True
                identities = browser.get("/auth/identities", headers=auth).json()["identities"]
                assert [(i["provider"], i["subject"]) for i in identities] == [("corp", "sso-user")]
                # The signup saga ran: a personal organization, and the welcome email.
                orgs = browser.get("/orgs", headers=auth).json()["organizations"]
                assert [o["role"] for o in orgs] == ["owner"]
                deadline = time.monotonic() + WAIT
                while not any(
                    "Welcome" in str(m.message["Subject"]) and email in m.recipients
                    for m in (read_outbox(outbox) if outbox.exists() else [])
                ):
                    if time.monotonic() > deadline:
                        pytest.fail("timed out waiting for the welcome email")
                    time.sleep(0.1)
                # The refresh token works like any other (same token pair as /auth/login).
                refreshed = browser.post(
                    "/auth/refresh", json={"refresh_token": pair["refresh_token"]}
                )
                assert refreshed.status_code == 200, refreshed.text
                # A replayed callback is refused with a problem, not a traceback.
                replay = browser.get(f"{back.path}?{back.query}")
                assert replay.status_code == 400
                assert replay.json()["code"] == "oauth_state_invalid"
        except BaseException:
            print(processes.log_tail())
            raise
