"""The baseline: the same two routes hand-written with FastAPI, SQLAlchemy, PyJWT and redis-py.

What a good engineer writes for ``GET /projects`` and ``POST /projects`` without Rainmaker:
one async engine and session factory (aiosqlite with WAL and ``synchronous=NORMAL``, like
the composed app's SQLite, or asyncpg with a pool of 10 + 10), one redis-py client, a
``Depends`` verifying the bearer JWT with PyJWT as auth-jwt does (kid, HS256, issuer,
audience, leeway, required claims, token type; the token carries the same claims), the
caller's plan read from Redis (set on a miss), and the job pushed to a Redis list after
the commit.
Configured by the environment (see ``run.py``)::

    BENCH_APP_DB_URL    sqlite+aiosqlite:///var/hand.db | postgresql+asyncpg://…
    BENCH_APP_REDIS     redis://127.0.0.1:6379/5
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import jwt
import redis.asyncio as redis
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Column, DateTime, MetaData, String, Table, event, insert, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

SECRET = "bench-only-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
DB_URL = os.environ.get("BENCH_APP_DB_URL", "sqlite+aiosqlite:///var/hand.db")
REDIS_URL = os.environ.get("BENCH_APP_REDIS", "redis://127.0.0.1:6379/5")
KEYS = {"default": SECRET}
ISSUER = "rainmaker"
AUDIENCE = "rainmaker-api"
REQUIRED = ["iss", "aud", "sub", "iat", "nbf", "exp", "jti", "typ"]
JOBS_KEY = "handbench:jobs"
FREE_PLAN = {"name": "free", "limit": 1000}

metadata = MetaData()
projects = Table(
    "hand_projects",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("owner_id", String(64), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

if DB_URL.startswith("sqlite"):
    engine = create_async_engine(DB_URL)

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()
else:
    engine = create_async_engine(DB_URL, pool_size=10, max_overflow=10)
Session = async_sessionmaker(engine, expire_on_commit=False)
cache = redis.Redis.from_url(REDIS_URL)


def mint_token(user_id: str, ttl: int = 3600) -> str:
    """An access token this app accepts (the harness's login), with the claims auth-jwt's
    carry, so both sides decode and check a token of the same size."""
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": user_id,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": str(uuid.uuid4()),
        "typ": "access",
        "roles": [],
        "scopes": [],
        "sid": str(uuid.uuid4()),
        "tv": 0,
        "amr": ["pwd"],
    }
    return jwt.encode(claims, SECRET, algorithm="HS256", headers={"kid": "default"})


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield
    await cache.aclose()
    await engine.dispose()


app = FastAPI(lifespan=lifespan)
bearer = HTTPBearer()


async def current_user_id(
    credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
) -> str:
    # The checks auth-jwt makes (as in bench/auth/handwritten.py): the key named by kid,
    # HS256 pinned, issuer, audience, leeway, every registered claim, the token type.
    token = credentials.credentials
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = KEYS.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise HTTPException(401, "unknown key")
        claims = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=30,
            options={"require": REQUIRED},
        )
    except jwt.InvalidTokenError:
        raise HTTPException(401, "invalid token") from None
    if claims.get("typ") != "access":
        raise HTTPException(401, "not an access token")
    return str(claims["sub"])


UserId = Annotated[str, Depends(current_user_id)]


class NewProject(BaseModel):
    """``POST /projects``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)


@app.get("/projects")
async def list_projects(user_id: UserId) -> dict[str, Any]:
    key = f"plan:{user_id}"
    cached = await cache.get(key)
    if cached is None:
        plan = FREE_PLAN
        await cache.set(key, json.dumps(plan), ex=300)
    else:
        plan = json.loads(cached)
    async with Session() as session:
        rows = await session.execute(
            select(projects)
            .where(projects.c.owner_id == user_id)
            .order_by(projects.c.created_at.desc())
            .limit(10)
        )
        found = [{"id": r.id, "name": r.name, "created_at": r.created_at.isoformat()} for r in rows]
    return {"plan": plan["name"], "limit": plan["limit"], "projects": found}


@app.post("/projects", status_code=201)
async def create_project(body: NewProject, user_id: UserId) -> dict[str, Any]:
    project_id = uuid.uuid4().hex
    created = datetime.now(UTC)
    async with Session() as session, session.begin():
        await session.execute(
            insert(projects).values(
                id=project_id, owner_id=user_id, name=body.name, created_at=created
            )
        )
    job = {"id": uuid.uuid4().hex, "name": "project_created", "args": [project_id]}
    await cache.lpush(JOBS_KEY, json.dumps(job))  # after the commit
    return {"id": project_id, "name": body.name, "created_at": created.isoformat()}
