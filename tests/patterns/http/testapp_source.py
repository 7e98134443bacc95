"""Source of the local patterns the HTTP tests compose (written into each test's app folder)."""

SOURCE = '''
import asyncio
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPBearer, APIKeyHeader
from pydantic import BaseModel, Field

import rainmaker

EVENTS = []


class ItemSettings(rainmaker.Settings):
    fail_start: bool = Field(False, description="Raise in start().")
    down: bool = Field(False, description="Report down in health().")
    middleware_before: list[str] = Field(default_factory=list, description="before")
    middleware_after: list[str] = Field(default_factory=list, description="after")
    middleware_name: str = Field("", description="Name of a middleware to contribute.")
    api_token: str = Field(
        "",
        description="A secret (scrubbed from every log line): marked, as a plain str must be.",
        json_schema_extra={"secret": True},
    )


class Item(BaseModel):
    name: str = Field(min_length=1)
    price: float = Field(gt=0)


class Tagger:
    """Pure-ASGI middleware appending its name to the x-layers response header."""

    def __init__(self, app, *, label):
        self.app = app
        self.label = label

    async def __call__(self, scope, receive, send):
        async def tag(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers.append((b"x-layer", self.label.encode()))
                message["headers"] = headers
            await send(message)
        await self.app(scope, receive, tag)


class Broken:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope.get("path") == "/api/middleware-bug":
            raise RuntimeError("middleware internals 0xdeadbeef")
        await self.app(scope, receive, send)


@asynccontextmanager
async def router_lifespan(app):
    EVENTS.append("lifespan-start")
    yield {"greeting": "hello from lifespan"}
    EVENTS.append("lifespan-stop")


class ItemsModule(rainmaker.Module[ItemSettings]):
    async def start(self):
        if self.settings.fail_start:
            raise ConnectionError("cannot reach the item store at 10.0.0.7")
        EVENTS.append(f"start {self.ctx.instance}")

    async def stop(self):
        EVENTS.append(f"stop {self.ctx.instance}")

    async def health(self):
        if self.settings.down:
            return rainmaker.Health.down(reason="store unreachable")
        return rainmaker.Health.up(items=3)

    def middleware(self):
        if not self.settings.middleware_name:
            return [rainmaker.Middleware("broken", Broken)] if self.ctx.instance == "items" else []
        return [
            rainmaker.Middleware(
                self.settings.middleware_name,
                Tagger,
                options={"label": self.settings.middleware_name},
                before=self.settings.middleware_before,
                after=self.settings.middleware_after,
            )
        ]

    def router(self):
        router = APIRouter(
            lifespan=router_lifespan,
            on_startup=[lambda: EVENTS.append("router-startup")],
            on_shutdown=[lambda: EVENTS.append("router-shutdown")],
        )

        @router.get("/items/{item_id}")
        async def get_item(item_id: int, request: Request):
            return {"id": item_id, "request_id": request.state.request_id}

        @router.post("/items", status_code=201)
        async def create_item(item: Item):
            return item

        @router.post("/echo")
        async def echo(request: Request):
            body = await request.body()
            return {"size": len(body)}

        @router.get("/slow")
        async def slow(seconds: float = 1.0):
            await asyncio.sleep(seconds)
            return {"slept": seconds}

        @router.get("/boom")
        async def boom():
            raise RuntimeError("database password is hunter2")

        @router.get("/middleware-bug")
        async def middleware_bug():
            return {}

        @router.get("/missing/{name}")
        async def missing(name: str):
            raise rainmaker.NotFoundError(f"no item named {name}", pattern_id="items")

        @router.get("/limited")
        async def limited():
            raise rainmaker.RateLimitedError("too many attempts", retry_after=2.2)

        @router.get("/expired")
        async def expired():
            raise rainmaker.UnauthorizedError(
                "the token has expired",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )

        @router.get("/unavailable")
        async def unavailable():
            raise rainmaker.UnavailableError("postgres at 10.0.0.5:5432 refused")

        @router.get("/unavailable-public")
        async def unavailable_public():
            raise rainmaker.UnavailableError(
                "exports need a storage pattern", hint="compose storage-local", public=True
            )

        @router.get("/conflict")
        async def conflict():
            raise rainmaker.ConflictError("the name is taken", hint="pick another name")

        @router.get("/pair/{key}")
        async def read_pair(key: str):
            return {"key": key}

        @router.put("/pair/{key}")
        async def write_pair(key: str):
            return {"key": key}

        @router.get("/state")
        async def state(request: Request):
            return {"greeting": request.state.greeting}

        @router.get("/logs")
        async def logs():
            self.ctx.log.info("items.listed", count=3)
            return {}

        @router.get("/private", dependencies=[Depends(HTTPBearer())])
        async def private():
            return {}

        @router.get("/maybe")
        async def maybe(key=Depends(APIKeyHeader(name="X-Key", auto_error=False))):
            return {"key": key}

        return router


pattern = rainmaker.Pattern(
    id="items", version="1.0.0", name="Items", settings=ItemSettings, factory=ItemsModule,
    mount="/api",
)
'''
