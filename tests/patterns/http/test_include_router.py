"""Pattern routers are mounted with FastAPI's public ``include_router`` (issue 16).

The ``plain`` pattern below returns the kind of router framework-fastapi used to copy
route by route into the app router (only ``APIRoute``s, no startup handlers): everything
observable about it must be what ``include_router`` gives, including through nested
routers and websockets, which were never copied: its prefix, the route table's owner and
authentication columns, OpenAPI tags and operation ids, the owner named by problem+json
answers, and the route template observability labels its metrics with.
"""

from __future__ import annotations

import io
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

import rainmaker
from rainmaker.cli.run import http_module
from rainmaker.testing.contracts.http import websocket_exchange

SOURCE = """
from fastapi import APIRouter, Depends, WebSocket
from fastapi.security import HTTPBearer

import rainmaker


class PlainSettings(rainmaker.Settings):
    nested: bool = True


class PlainModule(rainmaker.Module[PlainSettings]):
    def router(self):
        router = APIRouter(tags=["things"])

        @router.get("/things/{thing_id}")
        async def get_thing(thing_id: int):
            return {"id": thing_id}

        @router.get("/secret", dependencies=[Depends(HTTPBearer())])
        async def secret():
            return {}

        nested = APIRouter(prefix="/nested")

        @nested.get("/leaf")
        async def leaf():
            return {"leaf": True}

        @nested.websocket("/ws")
        async def ws(websocket: WebSocket):
            await websocket.accept()
            await websocket.send_text("hi")
            await websocket.close()

        if self.settings.nested:
            router.include_router(nested)
        return router


pattern = rainmaker.Pattern(
    id="plain", version="1.0.0", name="Plain", settings=PlainSettings,
    factory=PlainModule, mount="/v1",
)
"""


def _write_app(folder: Path, extra: str = "") -> Path:
    module = f"plain_{uuid.uuid4().hex[:12]}"
    (folder / f"{module}.py").write_text(SOURCE)
    (folder / "rainmaker.toml").write_text(
        f'[app]\nname = "plaintest"\nlocal_patterns = ["{module}:pattern"]\n\n'
        '[patterns.http]\nuse = "framework-fastapi"\n\n'
        f'[patterns.plain]\nuse = "plain"\n{extra}\n'
    )
    return folder


def _load(folder: Path) -> rainmaker.Application:
    # load() configures logging to the stream sys.stderr is at that moment.
    real_stderr, sys.stderr = sys.stderr, io.StringIO()
    try:
        return rainmaker.load(folder)
    finally:
        sys.stderr = real_stderr


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    started: list[tuple[rainmaker.Application, httpx.AsyncClient]] = []

    async def start(extra: str = "") -> httpx.AsyncClient:
        app = _load(_write_app(tmp_path, extra))
        await app.start()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        client.app = app  # type: ignore[attr-defined]
        started.append((app, client))
        return client

    yield start
    for app, client in reversed(started):
        await client.aclose()
        await app.stop()
    for name in [m for m in sys.modules if m.startswith("plain_")]:
        del sys.modules[name]


def test_route_table_owner_prefix_and_auth(tmp_path: Path) -> None:
    module = http_module(_load(_write_app(tmp_path)))
    rows = {(row.path, row.methods): row for row in module.routes()}
    for key in [
        ("/v1/things/{thing_id}", ("GET",)),
        ("/v1/secret", ("GET",)),
        ("/v1/nested/leaf", ("GET",)),
        ("/v1/nested/ws", ("WS",)),
    ]:
        assert key in rows, sorted(rows)
        assert (rows[key].instance, rows[key].pattern) == ("plain", "plain")
    assert rows[("/v1/secret", ("GET",))].auth == "yes"
    assert rows[("/v1/things/{thing_id}", ("GET",))].auth == "no"
    assert rows[("/health/live", ("GET",))].instance == "http"


def test_routers_are_included_through_the_public_api(tmp_path: Path) -> None:
    composed = http_module(_load(_write_app(tmp_path, 'mount = "/v2"'))).compose()
    fastapi = composed.fastapi
    assert isinstance(fastapi, FastAPI)
    # A router with a websocket stays FastAPI's inclusion: its routes are the router's own.
    own = {id(route) for route in fastapi.router.routes}
    plain = {route for route, name in composed.owners.items() if name == "plain"}
    assert plain and not own & plain
    assert fastapi.url_path_for("get_thing", thing_id="3") == "/v2/things/3"


def test_plain_routers_become_routes_of_the_app_router(tmp_path: Path) -> None:
    """A router of APIRoutes only (nested ones included) is matched once per request: its
    routes, as FastAPI resolved them, are the app router's own (route_copies)."""
    source = SOURCE.replace("@nested.websocket", "@nested.get").replace(
        "async def ws(websocket: WebSocket):\n"
        "            await websocket.accept()\n"
        '            await websocket.send_text("hi")\n'
        "            await websocket.close()",
        "async def ws():\n            return {}",
    )
    folder = _write_app(tmp_path, 'mount = "/v2"')
    module = next(folder.glob("plain_*.py"))
    module.write_text(source)
    composed = http_module(_load(folder)).compose()
    app_routes = composed.fastapi.router.routes
    paths = [getattr(route, "path", None) for route in app_routes]
    for path in ("/v2/things/{thing_id}", "/v2/secret", "/v2/nested/leaf", "/v2/nested/ws"):
        assert path in paths
    # Every owned route is one of the app router's own (nothing is left included).
    assert {id(route) for route in app_routes} >= set(composed.owners)
    assert all(context.original_route in app_routes for context in iter_route_contexts(app_routes))
    assert composed.fastapi.url_path_for("get_thing", thing_id="3") == "/v2/things/3"


# A router made only of its own APIRoutes (the shape that used to be copied) and one
# including another router.
SHAPES = pytest.mark.parametrize("plain", ["nested = false", "nested = true"])


@SHAPES
async def test_openapi_tags_and_operation_ids(serve: Any, plain: str) -> None:
    client = await serve(plain)
    spec = (await client.get("/openapi.json")).json()
    get = spec["paths"]["/v1/things/{thing_id}"]["get"]
    assert get["tags"] == ["plain"]  # one tag: the instance's, not the router's too
    assert get["operationId"] == "plain_get_thing"
    assert "security" in spec["paths"]["/v1/secret"]["get"]
    assert {tag["name"] for tag in spec["tags"]} == {"http", "plain"}
    if plain == "nested = true":
        assert spec["paths"]["/v1/nested/leaf"]["get"]["tags"] == ["plain"]
    else:
        assert "/v1/nested/leaf" not in spec["paths"]


async def test_requests_websocket_and_problem_owner(serve: Any) -> None:
    client = await serve()
    assert (await client.get("/v1/things/4")).json() == {"id": 4}
    assert (await client.get("/v1/nested/leaf")).json() == {"leaf": True}
    invalid = await client.get("/v1/things/not-a-number")
    assert invalid.status_code == 422
    assert invalid.json()["pattern"] == "plain"
    assert (await client.get("/v1/nope")).json()["pattern"] == "http"


async def test_websocket_in_a_nested_router(serve: Any) -> None:
    client = await serve()
    sent = await websocket_exchange(client.app, "/v1/nested/ws", "hello")
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert sent[1]["text"] == "hi"


@SHAPES
async def test_observability_labels_carry_the_mount_prefix(serve: Any, plain: str) -> None:
    client = await serve(f'{plain}\n\n[patterns.obs]\nuse = "observability"\n')
    assert (await client.get("/v1/things/4")).status_code == 200
    assert (await client.get("/v1/secret")).status_code == 401
    exposition = (await client.get("/metrics")).text
    assert 'route="/v1/things/{thing_id}",status="200"' in exposition
    assert 'route="/v1/secret",status="401"' in exposition
    assert 'route="/things/{thing_id}"' not in exposition
