"""The baseline of the demo benchmark: a hand-written FastAPI app importing the libraries the
demo SaaS uses (FastAPI, SQLAlchemy + aiosqlite, PyJWT, argon2, Jinja2, taskiq, structlog,
multipart), opening its SQLite database at start and answering ``GET /health/ready``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import argon2  # noqa: F401
import jinja2  # noqa: F401
import jwt  # noqa: F401
import multipart  # noqa: F401
import structlog  # noqa: F401
import taskiq  # noqa: F401
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

engine = create_async_engine(f"sqlite+aiosqlite:///{os.environ.get('BENCH_DB', 'bench.db')}")


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    yield
    await engine.dispose()


app = FastAPI(lifespan=lifespan)


@app.get("/health/ready")
async def ready() -> dict[str, str]:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return {"status": "up"}
