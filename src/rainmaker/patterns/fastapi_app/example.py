"""A small FastAPI app to try ``fastapi-app`` with, and the pattern's declared example.

``app = "rainmaker.patterns.fastapi_app.example:app"`` imports from any app folder, which is
why the pattern's first example names it: ``rainmaker pattern test fastapi-app`` composes
that example in an empty folder, where an app of your own would not import. It has what
the pattern keeps working in a real app: a lifespan that sets ``app.state``, and a route
reading it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    app.state.started = True
    yield
    app.state.started = False


app = FastAPI(title="fastapi-app example", lifespan=lifespan, docs_url=None, openapi_url=None)


@app.get("/hello")
async def hello(request: Request) -> dict[str, object]:
    """Answers once the app's lifespan has run."""
    return {"hello": "from a mounted FastAPI app", "started": request.app.state.started}
