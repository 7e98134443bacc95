"""A local pattern whose module-level routes use ``rainmaker.http.rate_limit``."""

from typing import Annotated, Any

from fastapi import APIRouter
from starlette.requests import HTTPConnection

import rainmaker
from rainmaker.capabilities.rate_limits import RateLimitDecision
from rainmaker.http import CurrentUser, rate_limit

router = APIRouter()


def by_tenant(connection: HTTPConnection) -> str | None:
    """A custom key: the ``tenant`` query parameter (the policy's own key without it)."""
    return connection.query_params.get("tenant")


@router.get("/ping", dependencies=[rate_limit("ping")])
async def ping() -> dict[str, bool]:
    return {"ok": True}


@router.get("/mine")
async def mine(
    user: CurrentUser, decision: Annotated[RateLimitDecision, rate_limit("per-user")]
) -> dict[str, Any]:
    return {"user": user.id, "remaining": decision.remaining}


@router.get("/tenant", dependencies=[rate_limit("tenant", key=by_tenant)])
async def tenant() -> dict[str, bool]:
    return {"ok": True}


@router.get("/open")
async def open_route() -> dict[str, bool]:
    return {"ok": True}


class LimitedSettings(rainmaker.Settings):
    """Nothing to set."""


class LimitedModule(rainmaker.Module[LimitedSettings]):
    """Contributes the router; nothing to start."""

    def router(self) -> APIRouter:
        return router


pattern = rainmaker.Pattern(
    id="limited",
    version="0.1.0",
    name="Limited routes",
    settings=LimitedSettings,
    factory=LimitedModule,
    mount="/l",
)
