"""An included router's routes rebuilt as the app router's own answer exactly as FastAPI's
inclusion does, or the inclusion is kept (route_copies)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Response, WebSocket
from fastapi.responses import JSONResponse, PlainTextResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel

from rainmaker.patterns.http.route_copies import flatten_included


class Item(BaseModel):
    id: int
    name: str


class VendorJSON(JSONResponse):
    """The router's default response class: JSON under a media type of its own."""

    media_type = "application/vnd.test+json"


class TaggedRoute(APIRoute):
    """A custom route class whose handler marks its responses."""

    def get_route_handler(self) -> Callable[..., Any]:
        handler = super().get_route_handler()

        async def tagged(request: Any) -> Response:
            response: Response = await handler(request)
            response.headers["x-tagged"] = "1"
            return response

        return tagged


def _shared(x_token: str = Header("none")) -> str:
    return x_token


def _router() -> APIRouter:
    router = APIRouter(
        prefix="/r",
        tags=["own"],
        dependencies=[Depends(_shared)],
        default_response_class=VendorJSON,
        route_class=TaggedRoute,
        responses={418: {"description": "teapot"}},
    )

    @router.get("/text", response_class=PlainTextResponse)
    async def text() -> str:
        return "plain"

    @router.get("/items/{item_id}", response_model=Item, response_class=JSONResponse)
    async def item(item_id: int, token: str = Depends(_shared)) -> Any:
        return {"id": item_id, "name": token, "dropped": True}

    @router.post("/items", status_code=201, response_model=Item)
    async def create(body: Item) -> Item:
        return body

    nested = APIRouter(prefix="/nested")

    @nested.get("/leaf", deprecated=True)
    async def leaf() -> dict[str, bool]:
        return {"leaf": True}

    router.include_router(nested)
    return router


def _app(flatten: bool) -> FastAPI:
    app = FastAPI()
    before = len(app.router.routes)
    app.include_router(_router(), prefix="/v1", tags=["instance"])
    if flatten:
        assert flatten_included(app, app.router.routes[before].original_router, before)  # type: ignore[attr-defined]
    return app


REQUESTS = [
    ("GET", "/v1/r/text", {}),
    ("GET", "/v1/r/items/3", {"x-token": "abc"}),
    ("GET", "/v1/r/items/x", {}),
    ("POST", "/v1/r/items", {"json": {"id": 1, "name": "n"}}),
    ("POST", "/v1/r/items", {"json": {"id": "no"}}),
    ("DELETE", "/v1/r/items", {}),
    ("GET", "/v1/r/nested/leaf", {}),
    ("GET", "/v1/r/text/", {}),
    ("GET", "/v1/nothing", {}),
]


async def _answers(app: FastAPI) -> list[tuple[int, str, bytes, str | None, str | None]]:
    answers = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for method, path, options in REQUESTS:
            headers = {k: v for k, v in options.items() if k != "json"}
            response = await client.request(method, path, headers=headers, json=options.get("json"))
            answers.append(
                (
                    response.status_code,
                    response.headers.get("content-type", ""),
                    response.content,
                    response.headers.get("x-tagged"),
                    response.headers.get("allow") or response.headers.get("location"),
                )
            )
    return answers


async def test_same_answers_and_openapi_as_the_inclusion() -> None:
    included, flattened = _app(flatten=False), _app(flatten=True)
    # Each route keeps its class (the nested router's are plain APIRoutes).
    kinds = [type(route) for route in flattened.router.routes[-4:]]
    assert kinds == [TaggedRoute, TaggedRoute, TaggedRoute, APIRoute]
    assert await _answers(flattened) == await _answers(included)
    assert flattened.openapi() == included.openapi()
    assert flattened.url_path_for("item", item_id="7") == included.url_path_for("item", item_id="7")


@pytest.mark.parametrize("shape", ["websocket", "form limits", "body limit"])
def test_kept_included_when_a_copy_could_not_carry_it(shape: str) -> None:
    router = APIRouter()

    @router.get("/a")
    async def a() -> dict[str, int]:
        return {}

    if shape == "websocket":

        @router.websocket("/ws")
        async def ws(websocket: WebSocket) -> None:
            await websocket.close()

    elif shape == "form limits":
        router.form_limits = {"max_fields": 3}  # type: ignore[assignment]
    else:
        router.max_body_size = 10
    app = FastAPI()
    before = len(app.router.routes)
    app.include_router(router)
    included = app.router.routes[before]
    assert not flatten_included(app, router, before)
    assert app.router.routes[before] is included
