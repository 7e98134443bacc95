"""Attacks on sessions (refresh-token families), on SQLite and on PostgreSQL.

- reuse detection racing a rotation: the reused token's whole family must end, including
  the token the winning rotation issued at the same moment (issue 19, finding 1);
- a family lives ``refresh_ttl`` from its login however often it rotates, and ends sooner
  when left unused for ``refresh_idle_timeout`` (issue 19, finding 8).

The family lock is ``SELECT … FOR UPDATE`` on PostgreSQL and MySQL/MariaDB and SQLite's
serialised writes, so this module runs on MySQL/MariaDB as well.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import jwt
import pytest

from rainmaker.capabilities.auth import TokenPair
from rainmaker.patterns.auth_jwt.errors import InvalidTokenError, TokenReusedError
from rainmaker.patterns.auth_jwt.users import UserRecord
from tests.patterns.auth_jwt.conftest import AuthApp, MakeApp, assert_problem
from tests.patterns.auth_jwt.test_attacks import session
from tests.patterns.database.conftest import pg_url
from tests.patterns.database.mysql_databases import shared_mysql_database  # noqa: F401


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ]
)
def database(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The conftest backends plus MySQL/MariaDB (migrations run at start)."""
    if request.param == "sqlite":
        return {"use": "database-sqlite", "path": "auth.db"}
    if request.param == "postgres":
        name = request.getfixturevalue("pg_database")
        return {"use": "database-postgres", "url": pg_url(name), "auto_migrate": True}
    url = request.getfixturevalue("shared_mysql_database")
    return {"use": "database-mysql", "url": url, "auto_migrate": True}


ROUNDS = 10


def expiry(token: str) -> int:
    """The ``exp`` claim of a token (its signature is not the point here)."""
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return int(claims["exp"])


def winner_and_losers(
    results: Sequence[TokenPair | BaseException],
) -> tuple[TokenPair, list[BaseException]]:
    wins = [r for r in results if isinstance(r, TokenPair)]
    losses = [r for r in results if isinstance(r, BaseException)]
    assert len(wins) == 1, results
    return wins[0], losses


async def test_reuse_racing_a_rotation_revokes_the_rotated_token(auth_app: AuthApp) -> None:
    """Two refreshes with one token, ten rounds over HTTP: the winner's new token is dead."""
    client = auth_app.client
    survivors = 0
    for _ in range(ROUNDS):
        _, tokens = await session(auth_app)
        answers = await asyncio.gather(
            *(
                client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
                for _ in range(2)
            )
        )
        assert sorted(a.status_code for a in answers) == [200, 401], [a.text for a in answers]
        [won] = [a.json() for a in answers if a.status_code == 200]
        [lost] = [a for a in answers if a.status_code == 401]
        assert_problem(lost, 401, "refresh_token_reused")
        after = await client.post("/auth/refresh", json={"refresh_token": won["refresh_token"]})
        survivors += after.status_code == 200
    assert survivors == 0, f"the winner's new refresh token survived in {survivors}/{ROUNDS}"


async def test_reuse_while_the_winner_is_still_issuing(
    auth_app: AuthApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loser's reuse detection lands between the winner's spend and its new token."""
    auth = auth_app.auth
    _, tokens = await session(auth_app)
    real = auth.users.by_id

    async def slow_by_id(user_id: str) -> UserRecord | None:
        # The winner reads the user between spending the old token and storing the new
        # one: the slowest point for reuse detection to race.
        await asyncio.sleep(0.05)
        return await real(user_id)

    monkeypatch.setattr(auth.users, "by_id", slow_by_id)
    results = await asyncio.gather(
        auth.refresh(tokens["refresh_token"]),
        auth.refresh(tokens["refresh_token"]),
        return_exceptions=True,
    )
    monkeypatch.undo()
    won, lost = winner_and_losers(results)
    assert [type(error) for error in lost] == [TokenReusedError]
    with pytest.raises(InvalidTokenError):
        await auth.refresh(won.refresh_token)


async def test_a_reused_token_also_ends_tokens_rotated_after_the_reuse(auth_app: AuthApp) -> None:
    """Once a family is revoked for reuse, no later rotation of it can succeed."""
    auth = auth_app.auth
    _, tokens = await session(auth_app)
    second = await auth.refresh(tokens["refresh_token"])
    with pytest.raises(TokenReusedError):
        await auth.refresh(tokens["refresh_token"])
    with pytest.raises(InvalidTokenError):
        await auth.refresh(second.refresh_token)


# -- absolute and idle lifetime of a family ---------------------------------------------------


async def test_rotation_keeps_the_family_expiry(auth_app: AuthApp) -> None:
    """A rotated refresh token expires when its family does, not refresh_ttl after now."""
    _, tokens = await session(auth_app)
    first = expiry(tokens["refresh_token"])
    await asyncio.sleep(1.1)  # exp is in whole seconds
    rotated = await auth_app.auth.refresh(tokens["refresh_token"])
    assert expiry(rotated.refresh_token) == first
    assert rotated.refresh_expires_in <= tokens["refresh_expires_in"] - 1


async def test_a_family_ends_refresh_ttl_after_its_login(make_app: MakeApp) -> None:
    app = await make_app(refresh_ttl=2)
    _, tokens = await session(app)
    started = time.monotonic()
    await asyncio.sleep(1.2)
    rotated = await app.auth.refresh(tokens["refresh_token"])  # within the lifetime
    await asyncio.sleep(max(0.0, 2.2 - (time.monotonic() - started)))
    answer = await app.client.post("/auth/refresh", json={"refresh_token": rotated.refresh_token})
    assert "expired" in assert_problem(answer, 401, "invalid_token")["detail"]


async def test_an_idle_family_ends_after_the_idle_timeout(make_app: MakeApp) -> None:
    app = await make_app(refresh_idle_timeout=1)
    _, tokens = await session(app)
    kept = await app.auth.refresh(tokens["refresh_token"])  # in use: still alive
    assert expiry(kept.refresh_token) <= int(time.time()) + 2
    await asyncio.sleep(1.3)
    answer = await app.client.post("/auth/refresh", json={"refresh_token": kept.refresh_token})
    body = assert_problem(answer, 401, "invalid_token")
    assert "expired" in body["detail"] or "unused" in body["detail"]


def test_the_idle_timeout_must_be_positive_and_within_the_lifetime() -> None:
    from pydantic import ValidationError

    from rainmaker.patterns.auth_jwt.settings import AuthSettings
    from tests.patterns.auth_jwt.conftest import SECRET

    for value, words in ((0, "positive"), (-5, "positive"), (86400 * 60, "refresh_ttl")):
        with pytest.raises(ValidationError, match=words):
            AuthSettings(secret=SECRET, refresh_idle_timeout=value)
    assert AuthSettings(secret=SECRET).refresh_idle_timeout is None
