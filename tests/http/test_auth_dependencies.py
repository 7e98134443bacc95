"""``CurrentUser``, ``OptionalUser``, ``Identity``, ``require_roles`` and ``require_scopes``,
served by ``auth-jwt`` in a real composed app (SQLite, migrations at start).

Every refusal is problem+json: 401 without or with a bad token, 403 without the role or
scope; ``rainmaker routes`` marks the routes as authenticated.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from rainmaker.capabilities.auth import Auth
from tests.http.conftest import AUTH, PASSWORD, Serve

APP = (
    AUTH
    + """
[patterns.db]
use = "database-sqlite"
path = "notes.db"

[patterns.notes]
use = "notes"
"""
)


async def _token(app: Any, client: httpx.AsyncClient, email: str, **grants: Any) -> str:
    auth = app.services.require(Auth)
    await auth.create_user(email, PASSWORD, verified=True, **grants)
    answer = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def _problem(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    assert body["status"] == status
    return body


@pytest.fixture
async def app_and_client(serve: Serve) -> tuple[Any, httpx.AsyncClient]:
    return await serve(APP)


async def test_current_user_and_identity(app_and_client: tuple[Any, httpx.AsyncClient]) -> None:
    app, client = app_and_client
    token = await _token(app, client, "ada@example.com", role="member")
    bearer = {"authorization": f"Bearer {token}"}

    me = await client.get("/notes/me", headers=bearer)
    assert me.json() == {"email": "ada@example.com"}
    claims = (await client.get("/notes/token", headers=bearer)).json()
    assert claims["roles"] == ["member"] and claims["user_id"]

    missing = _problem(await client.get("/notes/me"), 401)
    assert "Authorization: Bearer" in missing["detail"]
    assert (await client.get("/notes/me")).headers["www-authenticate"] == "Bearer"
    _problem(await client.get("/notes/me", headers={"authorization": "Bearer nope"}), 401)
    _problem(await client.get("/notes/me", headers={"authorization": "Basic abc"}), 401)


async def test_optional_user(app_and_client: tuple[Any, httpx.AsyncClient]) -> None:
    app, client = app_and_client
    anonymous = await client.get("/notes/maybe")
    assert anonymous.status_code == 200 and anonymous.json() == {"email": None}
    token = await _token(app, client, "grace@example.com")
    signed_in = await client.get("/notes/maybe", headers={"authorization": f"Bearer {token}"})
    assert signed_in.json() == {"email": "grace@example.com"}
    # A client that sends credentials meant to authenticate: a bad token is refused.
    _problem(await client.get("/notes/maybe", headers={"authorization": "Bearer nope"}), 401)


async def test_roles_and_scopes(app_and_client: tuple[Any, httpx.AsyncClient]) -> None:
    app, client = app_and_client
    member = await _token(app, client, "m@example.com", role="member")
    admin = await _token(
        app, client, "a@example.com", role=["admin"], scopes=["reports:read", "x:y"]
    )
    as_member = {"authorization": f"Bearer {member}"}
    as_admin = {"authorization": f"Bearer {admin}"}

    refused = _problem(await client.get("/notes/admin", headers=as_member), 403)
    assert "'admin'" in refused["detail"]
    _problem(await client.get("/notes/admin"), 401)
    assert (await client.get("/notes/admin", headers=as_admin)).json() == {"admin": True}

    no_scope = _problem(await client.get("/notes/reports", headers=as_member), 403)
    assert "'reports:read'" in no_scope["detail"]
    reports = await client.get("/notes/reports", headers=as_admin)
    assert reports.json() == {"scopes": ["reports:read", "x:y"]}


async def test_body_model_with_current_user_in_a_future_annotations_module(
    app_and_client: tuple[Any, httpx.AsyncClient],
) -> None:
    app, client = app_and_client
    token = await _token(app, client, "body@example.com")
    bearer = {"authorization": f"Bearer {token}"}
    created = await client.post("/notes/notes", json={"title": "hello"}, headers=bearer)
    assert created.status_code == 201, created.text
    assert created.json() == {"title": "hello", "owner": "body@example.com", "label": "notes"}
    invalid = _problem(await client.post("/notes/notes", json={"title": ""}, headers=bearer), 422)
    assert "body" in str(invalid) and "query" not in str(invalid)


async def test_routes_table_marks_the_auth_dependencies(
    app_and_client: tuple[Any, httpx.AsyncClient],
) -> None:
    app, _ = app_and_client
    auth = {row.path: row.auth for row in app.http_module().routes()}
    assert auth["/notes/me"] == "yes"
    assert auth["/notes/token"] == "yes"
    assert auth["/notes/admin"] == "yes"
    assert auth["/notes/reports"] == "yes"
    assert auth["/notes/maybe"] == "optional"
    assert auth["/notes/where"] == "no"
