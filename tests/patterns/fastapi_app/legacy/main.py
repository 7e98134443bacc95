"""The fixture app: its own lifespan, middleware and exception handler, and one route that
has been migrated to ``Inject`` already.

The lifespan writes ``startup`` and ``shutdown`` markers into the folder named by
``$LEGACY_MARKERS`` (when set), so a test can see it ran in a server process.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from rainmaker import ConflictError
from rainmaker.capabilities import Cache, CacheBackend
from rainmaker.http import Inject


class TeapotError(Exception):
    """The service's own error, answered by its own handler."""


def _mark(event: str) -> None:
    folder = os.environ.get("LEGACY_MARKERS")
    if folder:
        Path(folder, event).write_text(event, encoding="utf-8")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, str]]:
    app.state.greeting = "hello from legacy"
    _mark("startup")
    yield {"flavour": "lifespan state"}
    _mark("shutdown")


app = FastAPI(title="Legacy", lifespan=lifespan)


@app.middleware("http")
async def add_legacy_header(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    response.headers["X-Legacy"] = "yes"
    return response


@app.exception_handler(TeapotError)
async def teapot(request: Request, exc: TeapotError) -> JSONResponse:
    return JSONResponse({"error": "teapot", "why": str(exc)}, status_code=418)


@app.get("/hello")
async def hello(request: Request) -> dict[str, str]:
    return {"greeting": request.app.state.greeting, "flavour": request.state.flavour}


@app.get("/teapot")
async def brew() -> None:
    raise TeapotError("short and stout")


@app.get("/items/{item_id}")
async def item(item_id: int) -> dict[str, int]:
    if item_id != 1:
        raise HTTPException(404, detail="no such item")
    return {"id": item_id}


@app.get("/visits")
async def visits(cache: Annotated[CacheBackend, Inject(Cache)]) -> dict[str, int]:
    """Migrated already: the cache comes from the composition."""
    count = int(await cache.get("visits") or 0) + 1
    await cache.set("visits", count)
    return {"visits": count}


@app.post("/visits/reset")
async def reset_visits(cache: Annotated[CacheBackend, Inject(Cache)]) -> None:
    """Migrated too: a Rainmaker error, which the app has no handler of its own for."""
    raise ConflictError("visits are counted by the cache now; nothing to reset")


second = FastAPI(title="Another service")
"""A second app, for the tests of two apps on one prefix."""


@second.get("/other")
async def other() -> dict[str, str]:
    return {"other": "service"}


router = APIRouter()
"""A router-only service: included like any pattern's router."""


@router.get("/ping")
async def ping() -> dict[str, str]:
    return {"pong": "legacy router"}


NOT_AN_APP: dict[str, list[str]] = {"routes": []}
