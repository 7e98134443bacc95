"""``auth-jwt`` passes the ``Auth`` contract suite, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rainmaker.capabilities.auth import Authenticator, Identity, TokenPair
from rainmaker.patterns.auth_jwt.service import JwtAuth
from rainmaker.testing.contracts.auth import AuthContract, AuthUnderTest
from tests.patterns.auth_jwt.conftest import auth_settings


async def refresh(auth: Authenticator, token: str) -> TokenPair:
    """auth-jwt spends a refresh token with ``JwtAuth.refresh`` (``POST /auth/refresh``)."""
    assert isinstance(auth, JwtAuth)
    return await auth.refresh(token)


async def logout(auth: Authenticator, identity: Identity) -> None:
    """auth-jwt ends a session with ``JwtAuth.logout`` (``POST /auth/logout``)."""
    assert isinstance(auth, JwtAuth)
    await auth.logout(identity)


class TestAuthContract(AuthContract):
    """``database`` (conftest) runs every test on SQLite and on PostgreSQL."""

    @pytest.fixture
    def auth_under_test(self, database: dict[str, Any], tmp_path: Path) -> AuthUnderTest:
        settings = auth_settings()
        settings.pop("use")
        return AuthUnderTest(
            use="auth-jwt",
            settings=settings,
            root=tmp_path,
            providers={"Database": database},
            refresh=refresh,
            logout=logout,
        )
