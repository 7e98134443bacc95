"""Fixtures for ``oauth-login``: a real OIDC provider, and apps composed with it."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from rainmaker.capabilities.auth import Auth, Authenticator
from rainmaker.kernel.application import Application
from rainmaker.patterns.oauth_login.pattern import oauth_login
from rainmaker.testing.harness import BASE_URL, build_app, http_client
from tests.patterns.auth_jwt.conftest import auth_settings, pg_database  # noqa: F401
from tests.patterns.database.conftest import pg_url
from tests.patterns.database.mysql_databases import shared_mysql_database  # noqa: F401
from tests.patterns.oauth_login.oidc_server import OidcProvider, running_provider

CLIENT_ID = "rainmaker-tests"
FRONT_END = "http://front.example.com"


@pytest.fixture
def provider() -> Iterator[OidcProvider]:
    """A fresh provider per test (its users, codes and keys are its own)."""
    with running_provider(require_nonce=True) as running:
        yield running


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (a provider that is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ]
)
def database(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The ``db`` instance's settings on each backend (migrations run at start)."""
    if request.param == "sqlite":
        return {"use": "database-sqlite", "path": "oauth.db"}
    if request.param == "postgres":
        name = request.getfixturevalue("pg_database")
        return {"use": "database-postgres", "url": pg_url(name), "auto_migrate": True}
    url = request.getfixturevalue("shared_mysql_database")
    return {"use": "database-mysql", "url": url, "auto_migrate": True}


@dataclass
class SsoApp:
    """A started app with ``auth-jwt`` and ``oauth-login``, and a browser-like client."""

    app: Application
    client: httpx.AsyncClient
    provider: OidcProvider | None

    @property
    def auth(self) -> Authenticator:
        return self.app.services.require(Auth)

    async def authorize(self, provider: str = "corp", **params: str) -> httpx.Response:
        return await self.client.get(f"/auth/oauth/{provider}/authorize", params=params)

    async def consent(self, location: str, sub: str) -> str:
        """The user approves at the provider: the callback URL (path and query) it sends."""
        async with httpx.AsyncClient() as browser:
            answer = await browser.post(location, data={"sub": sub})
        assert answer.status_code == 302, answer.text
        back = urlsplit(answer.headers["location"])
        assert f"{back.scheme}://{back.netloc}" == BASE_URL
        return f"{back.path}?{back.query}"

    async def sign_in(self, sub: str, *, provider: str = "corp", **params: str) -> httpx.Response:
        """The whole browser round trip; the callback's answer."""
        started = await self.authorize(provider, **params)
        assert started.status_code == 302, started.text
        return await self.client.get(await self.consent(started.headers["location"], sub))

    async def bearer(
        self, email: str, password: str | None = "correct horse battery"
    ) -> dict[str, str]:
        user = await self.auth.create_user(email, password, verified=True)
        pair = await self.auth.issue_tokens(user)
        return {"Authorization": f"Bearer {pair.access_token}"}


MakeApp = Callable[..., Awaitable[SsoApp]]


def sso_settings(issuer: str, **overrides: Any) -> dict[str, Any]:
    """oauth-login settings with one provider, ``corp``, at ``issuer``."""
    return {
        "use": "oauth-login",
        "public_url": BASE_URL,
        "allowed_origins": [FRONT_END],
        "secure_cookie": False,  # the test client speaks plain http
        "clients": {"corp": {"issuer": issuer, "client_id": CLIENT_ID, "client_secret": "s3"}},
        **overrides,
    }


@pytest.fixture
async def make_app(
    database: dict[str, Any], tmp_path: Path, provider: OidcProvider
) -> AsyncIterator[MakeApp]:
    """``await make_app(sso={...overrides}, extra={...instances}, local=[patterns])``."""
    started: list[SsoApp] = []

    async def make(
        *,
        sso: Mapping[str, Any] | None = None,
        extra: Mapping[str, Mapping[str, Any]] | None = None,
        local: list[Any] | None = None,
    ) -> SsoApp:
        folder = tmp_path / uuid.uuid4().hex[:8]
        folder.mkdir(parents=True)
        patterns: dict[str, Mapping[str, Any]] = {
            "db": database,
            "auth": auth_settings(),
            "http": {"use": "framework-fastapi", "access_log": False},
            "sso": sso_settings(provider.url, **(sso or {})),
            **(extra or {}),
        }
        app = build_app(
            patterns, root=folder, name="sso", extra_patterns=[oauth_login, *(local or [])]
        )
        await app.start()
        running = SsoApp(app, http_client(app), provider)
        started.append(running)
        return running

    yield make
    for running in reversed(started):
        await running.client.aclose()
        await running.app.stop()
